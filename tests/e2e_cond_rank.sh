# e2e_cond_rank.sh — rw-compare on rank-deficient modules: where a module's
# cond and cond_rank disagree for some matrix (num_rank < k), its cond is
# compared as cond_rank, its rows say so, once, and so do stderr and the md
# and tex notes; modules of full rank keep cond; --keep-cond turns it off.
# Values by hand. Sourced by tests/e2e.sh (helpers: e2e_lib.sh).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

# Runs a and b, steps 0 and 100, two layers of modules full.weight (cond =
# cond_rank everywhere) and low.weight (rank-deficient in run b at step 100,
# layer 1: cond inf, cond_rank 8; elsewhere equal).
#   full.weight cond: a: 2, 4 (mean 3) at both steps; b: 6, 10 (mean 8)
#   low.weight  cond_rank: a: 3, 5 (mean 4); b step 0: 3, 5; b step 100: 4, 8 (mean 6)
#               cond: the same but b step 100 layer 1: inf
{
    printf 'run\tstep\ttensor\tlayer\tmodule\tcomponent\trows\tcols\tdtype\tsigma_max\tsigma_min\tcond\tcond_rank\n'
    for run in a b; do
        for step in 0 100; do
            for l in 0 1; do
                case $run in a) f=$((2 + 2 * l)) ;; b) f=$((6 + 4 * l)) ;; esac
                printf '%s\t%s\tlayers.%s.full.weight\t%s\tfull.weight\tweight\t4\t4\tfloat32\t1\t1\t%s\t%s\n' \
                    $run $step $l $l $f $f
                c=$((3 + 2 * l)) r=$c
                if [ $run/$step = b/100 ]; then
                    r=$((4 + 4 * l)); c=$r; [ $l = 1 ] && c=inf
                fi
                printf '%s\t%s\tlayers.%s.low.weight\t%s\tlow.weight\tweight\t4\t4\tfloat32\t1\t0\t%s\t%s\n' \
                    $run $step $l $l $c $r
            done
        done
    done
} >"$TMP/cond.tsv"

expect_exit 0 "rw-compare --metrics cond" rw-compare --metrics cond -o "$TMP/c.tsv" "$TMP/cond.tsv"
row_of() { awk -F'\t' -v m="$2" -v k="$3" -v s="$4" -v r="$5" -v c="$6" \
    'NR==1 {for (i=1;i<=NF;i++) n[$i]=i; next}
     $1==m && $2==k && $3==s && $4==r {print $n[c]}' "$1"; }
check "full.weight keeps cond: run b at step 100, mean of 6 and 10 = 8" \
    [ "$(row_of "$TMP/c.tsv" full.weight cond 100 b mean)" = 8 ]
check "low.weight: no cond rows (rank-deficient in one matrix)" \
    [ -z "$(awk -F'\t' '$1=="low.weight" && $2=="cond"' "$TMP/c.tsv")" ]
check "low.weight: cond_rank rows instead, run b at step 100: mean of 4 and 8 = 6" \
    [ "$(row_of "$TMP/c.tsv" low.weight cond_rank 100 b mean)" = 6 ]
check "low.weight: cond_rank at every step and run (a and b at 0 and 100)" \
    [ "$(awk -F'\t' '$1=="low.weight" && $2=="cond_rank"' "$TMP/c.tsv" | wc -l)" -eq 4 ]
check "low.weight: diff of b to a at step 100 is 6 - 4 = 2" \
    [ "$(row_of "$TMP/c.tsv" low.weight cond_rank 100 b diff)" = 2 ]
check "stderr names the module and the option to keep cond" \
    grep -qF 'rw-compare: cond_rank in place of cond for 1 rank-deficient module (num_rank < k; --keep-cond keeps cond): low.weight' "$TMP/err"
check "full.weight gets no cond_rank rows (not asked for)" \
    [ -z "$(awk -F'\t' '$1=="full.weight" && $2=="cond_rank"' "$TMP/c.tsv")" ]

expect_exit 0 "rw-compare --metrics cond,cond_rank" rw-compare --metrics cond,cond_rank -o "$TMP/cc.tsv" "$TMP/cond.tsv"
check "both asked: full.weight has cond and cond_rank (2 x 4 rows)" \
    [ "$(awk -F'\t' '$1=="full.weight"' "$TMP/cc.tsv" | wc -l)" -eq 8 ]
check "both asked: low.weight has cond_rank once (4 rows), no cond" \
    [ "$(awk -F'\t' '$1=="low.weight"' "$TMP/cc.tsv" | cut -f2 | sort | uniq -c | tr -s ' ')" = " 4 cond_rank" ]

expect_exit 0 "rw-compare --keep-cond" rw-compare --keep-cond --metrics cond -o "$TMP/k.tsv" "$TMP/cond.tsv"
check "--keep-cond: low.weight's cond of run b at step 100 is inf" \
    [ "$(row_of "$TMP/k.tsv" low.weight cond 100 b mean)" = inf ]
check "--keep-cond: nothing on stderr" [ ! -s "$TMP/err" ]

# The summary and the reading formats carry the note.
expect_exit 0 "rw-compare --summary --format md" rw-compare --summary --metrics cond --format md "$TMP/cond.tsv"
check "summary md: low.weight's row says cond_rank, final 6 against 4" \
    grep -qF '| low.weight | cond_rank | b | a | 100 | 6 | 4 | +2 | +50% |' "$TMP/out"
check "summary md: the note under the table names the module" \
    grep -qF 'stands for cond where the matrices are rank-deficient (num_rank < k, so σ₁/σₖ is round-off): `low.weight`.' "$TMP/out"
expect_exit 0 "rw-compare --format tex" rw-compare --metrics cond --format tex "$TMP/cond.tsv"
check "tex: the note is a comment line naming the module" grep -qx '% low.weight.' "$TMP/out"
check "tex: every line before the tabular is a comment" \
    [ -z "$(sed '/^\\begin{tabular}/,$d' "$TMP/out" | grep -v '^%')" ]

# Tables without cond_rank: cond as it is, nothing said.
cut -f1-12 "$TMP/cond.tsv" >"$TMP/nocr.tsv"
expect_exit 0 "rw-compare on a table without cond_rank" rw-compare --metrics cond -o "$TMP/n.tsv" "$TMP/nocr.tsv"
check "without cond_rank: low.weight keeps cond (inf at b, step 100)" \
    [ "$(row_of "$TMP/n.tsv" low.weight cond 100 b mean)" = inf ]
