# e2e_compare.sh — rw-compare and rw-diff end to end: exit codes 0/1/2,
# one-line errors for malformed tables, the values reported, and the output
# formats. Sourced by tests/e2e.sh (helpers in e2e_lib.sh; scratch in $TMP).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

# A per-layer table with known values: runs full and relora, steps 0 and
# 100, modules attn.weight and mlp.weight, three layers each.
#   full   per:  step 0  .9 .8 .85 (mean .85)   step 100  .7 .6 .65 (mean .65)
#   relora per:  step 0  .9 .8 .85 (mean .85)   step 100  .5 .4 .45 (mean .45)
# cond is 10 * (layer + 1) for full and 20 * (layer + 1) for relora.
cmp_layer_table() {
    printf 'run\tstep\ttensor\tlayer\tmodule\tcomponent\trows\tcols\tdtype\tper\tcond\n'
    local run step l m comp per
    for run in full relora; do
        comp=weight; [ $run = relora ] && comp=full
        for step in 0 100; do
            for m in attn mlp; do
                for l in 0 1 2; do
                    case $run/$step/$l in
                        */0/0) per=0.9 ;; */0/1) per=0.8 ;; */0/2) per=0.85 ;;
                        full/100/0) per=0.7 ;; full/100/1) per=0.6 ;; full/100/2) per=0.65 ;;
                        relora/100/0) per=0.5 ;; relora/100/1) per=0.4 ;; relora/100/2) per=0.45 ;;
                    esac
                    local k=10; [ $run = relora ] && k=20
                    printf '%s\t%s\tlayers.%s.%s.weight\t%s\t%s.weight\t%s\t4\t8\tfloat32\t%s\t%s\n' \
                        $run $step $l $m $l $m $comp $per $((k * (l + 1)))
                done
            done
        done
    done
}

cmp_layer_table >"$TMP/rank.tsv"

# ------------------------------------------------------------------ rw-diff

expect_exit 0 "rw-diff: a table against itself" rw-diff "$TMP/rank.tsv" "$TMP/rank.tsv"
check "rw-diff: itself: says no differences" grep -q "no differences" "$TMP/out"

# One per value moved by 2%: .5 -> .51 (relora, step 100, layer 0 of attn).
awk -F'\t' 'BEGIN{OFS="\t"} $1=="relora" && $2==100 && $3=="layers.0.attn.weight" {$10="0.51"} {print}' \
    "$TMP/rank.tsv" >"$TMP/rank2.tsv"
expect_exit 1 "rw-diff: 2% off under per=0.01" rw-diff --tol per=0.01 "$TMP/rank.tsv" "$TMP/rank2.tsv"
check "rw-diff: reports the value" grep -q \
    "run=relora step=100 tensor=layers.0.attn.weight component=full: per: baseline 0.5, current 0.51" "$TMP/out"
check "rw-diff: counts the difference" grep -q "1 beyond tolerance" "$TMP/out"
expect_exit 0 "rw-diff: 2% off under per=0.05" rw-diff --tol per=0.05 "$TMP/rank.tsv" "$TMP/rank2.tsv"
expect_exit 0 "rw-diff: --rtol 0.05" rw-diff --rtol 0.05 "$TMP/rank.tsv" "$TMP/rank2.tsv"
expect_exit 0 "rw-diff: --metrics cond ignores per" rw-diff --metrics cond "$TMP/rank.tsv" "$TMP/rank2.tsv"
expect_exit 0 "rw-diff: --exclude the changed tensor" \
    rw-diff --exclude 'layers.0.attn*' "$TMP/rank.tsv" "$TMP/rank2.tsv"
expect_exit 1 "rw-diff: md report" rw-diff --format md --tol per=0.01 "$TMP/rank.tsv" "$TMP/rank2.tsv"
check "rw-diff: md has a table" grep -q '^| rank2.tsv | run=relora step=100 .* | per | 0.5 | 0.51 |' "$TMP/out"
expect_exit 1 "rw-diff: json report" rw-diff --format json --tol per=0.01 "$TMP/rank.tsv" "$TMP/rank2.tsv"
check "rw-diff: json says not equal" grep -q '"equal": false' "$TMP/out"
check "rw-diff: json has the values" grep -q '"baseline": "0.5", "current": "0.51"' "$TMP/out"

# -o: the report in the file, one line on stderr.
expect_exit 1 "rw-diff -o" rw-diff -o "$TMP/report.txt" --tol per=0.01 "$TMP/rank.tsv" "$TMP/rank2.tsv"
check "rw-diff -o: report written" grep -q "current 0.51" "$TMP/report.txt"
check "rw-diff -o: one stderr line" test "$(wc -l <"$TMP/err")" -eq 1

# A missing row, an extra row; --allow-missing.
grep -v 'layers.2.mlp.weight' "$TMP/rank.tsv" >"$TMP/fewer.tsv"
expect_exit 1 "rw-diff: rows missing" rw-diff "$TMP/rank.tsv" "$TMP/fewer.tsv"
check "rw-diff: rows missing reported" grep -q "4 only in the baseline" "$TMP/out"
expect_exit 1 "rw-diff: rows extra" rw-diff "$TMP/fewer.tsv" "$TMP/rank.tsv"
expect_exit 0 "rw-diff: --allow-missing" rw-diff --allow-missing "$TMP/rank.tsv" "$TMP/fewer.tsv"

# nan equals nan; nan against a number does not.
sed 's/\t0\.9\t10$/\tnan\t10/' "$TMP/rank.tsv" >"$TMP/nan1.tsv"
expect_exit 0 "rw-diff: nan equals nan" rw-diff "$TMP/nan1.tsv" "$TMP/nan1.tsv"
expect_exit 1 "rw-diff: nan against a number" rw-diff --rtol 1 "$TMP/rank.tsv" "$TMP/nan1.tsv"

# Malformed tables: one line on stderr, exit 1.
{ head -3 "$TMP/rank.tsv"; printf 'full\t0\tlayers.9.attn.weight\t9\tattn.weight\tweight\n'; } >"$TMP/ragged.tsv"
expect_error "rw-diff: ragged row" "ragged.tsv:4: 6 fields, header has 11" \
    rw-diff "$TMP/rank.tsv" "$TMP/ragged.tsv"
awk -F'\t' 'BEGIN{OFS="\t"} NR==5 {$10="abc"} {print}' "$TMP/rank.tsv" >"$TMP/text.tsv"
expect_error "rw-diff: a metric cell that is not a number" "text.tsv: row 4 .*: per 'abc' is not a number" \
    rw-diff "$TMP/rank.tsv" "$TMP/text.tsv"
cut -f1-5,7- "$TMP/rank.tsv" >"$TMP/nokey.tsv"
expect_error "rw-diff: no component column" "nokey.tsv: no column 'component'" \
    rw-diff "$TMP/nokey.tsv" "$TMP/nokey.tsv"
{ cat "$TMP/rank.tsv"; sed -n 2p "$TMP/rank.tsv"; } >"$TMP/dup.tsv"
expect_error "rw-diff: a key twice" "dup.tsv: rows 1 and 25 have the same key" \
    rw-diff "$TMP/dup.tsv" "$TMP/rank.tsv"
expect_error "rw-diff: no such file" "nonexistent.tsv: No such file" \
    rw-diff "$TMP/rank.tsv" "$TMP/nonexistent.tsv"

# Misuse: exit 2.
expect_exit 2 "rw-diff: unknown option" rw-diff --bogus "$TMP/rank.tsv" "$TMP/rank.tsv"
check "rw-diff: unknown option hint" grep -q "Try 'rw-diff --help'" "$TMP/err"
expect_exit 2 "rw-diff: one argument" rw-diff "$TMP/rank.tsv"
expect_exit 2 "rw-diff: --tol without a value" rw-diff --tol per "$TMP/rank.tsv" "$TMP/rank.tsv"
expect_exit 2 "rw-diff: negative --rtol" rw-diff --rtol -1 "$TMP/rank.tsv" "$TMP/rank.tsv"
expect_exit 2 "rw-diff: --format xml" rw-diff --format xml "$TMP/rank.tsv" "$TMP/rank.tsv"
expect_exit 2 "rw-diff: --metrics of no column" rw-diff --metrics pre "$TMP/rank.tsv" "$TMP/rank.tsv"
expect_exit 0 "rw-diff: --tol of an absent column is fine" rw-diff --tol sigma_min=inf "$TMP/rank.tsv" "$TMP/rank.tsv"
expect_exit 2 "rw-diff: a file against a directory" rw-diff "$TMP/rank.tsv" "$TMP"
expect_exit 0 "rw-diff --help" rw-diff --help
check "rw-diff --help: usage on stdout" grep -q "^Usage: rw-diff" "$TMP/out"

# Directories, matched by file name.
mkdir -p "$TMP/base/sub" "$TMP/cur/sub"
cp "$TMP/rank.tsv" "$TMP/base/rank.tsv"; cp "$TMP/rank.tsv" "$TMP/cur/rank.tsv"
cp "$TMP/rank.tsv" "$TMP/base/sub/cond.tsv"; cp "$TMP/rank.tsv" "$TMP/cur/sub/cond.tsv"
echo "figures are not tables" >"$TMP/cur/report.md"
printf 'run\tstep\tfile\ttensor\nx\t0\t/a/x.h5\tt\n' >"$TMP/base/ls.tsv"
printf 'run\tstep\tfile\ttensor\nx\t0\t/b/x.h5\tt\n' >"$TMP/cur/ls.tsv"
expect_exit 0 "rw-diff: equal directories" rw-diff "$TMP/base" "$TMP/cur"
check "rw-diff: directories: two tables" grep -q "tables: 2 compared" "$TMP/out"
check "rw-diff: directories: a listing skipped" grep -q "1 skipped, without key columns: ls.tsv" "$TMP/out"
rm "$TMP/cur/sub/cond.tsv"
expect_exit 1 "rw-diff: a table missing" rw-diff "$TMP/base" "$TMP/cur"
check "rw-diff: the missing table named" grep -q "sub/cond.tsv: table only in the baseline" "$TMP/out"
expect_exit 0 "rw-diff: a table missing, allowed" rw-diff --allow-missing "$TMP/base" "$TMP/cur"

# A mid-size pair (10^5 rows) completes; the timing is tests/bench_diff.sh's.
awk 'BEGIN{OFS="\t"; print "run","step","tensor","layer","module","component","per";
     for(s=0;s<1000;s++) for(l=0;l<100;l++) print "r", s, "layers." l ".w", l, "w", "weight", (s*100+l)/1e5}' \
    >"$TMP/mid.tsv"
awk -F'\t' 'BEGIN{OFS="\t"} NR==50000 {$7=$7*1.5} {print}' "$TMP/mid.tsv" >"$TMP/mid2.tsv"
expect_exit 1 "rw-diff: 10^5 rows, one difference" rw-diff "$TMP/mid.tsv" "$TMP/mid2.tsv"
check "rw-diff: 10^5 rows: counted" grep -q "100000 matched" "$TMP/out"

# --------------------------------------------------------------- rw-compare

expect_exit 0 "rw-compare: two runs" rw-compare "$TMP/rank.tsv"
cp "$TMP/out" "$TMP/cmp.tsv"
check "rw-compare: DESIGN.md's columns" test "$(head -1 "$TMP/cmp.tsv")" = \
    "$(printf 'module\tmetric\tstep\trun\tn\tmean\tsd\tci95_lo\tci95_hi\tdiff')"
# 2 modules x 2 metrics x 2 steps x 2 runs
check "rw-compare: 16 rows" test "$(($(wc -l <"$TMP/cmp.tsv") - 1))" -eq 16
row=$(awk -F'\t' '$1=="attn.weight" && $2=="per" && $3==100 && $4=="relora"' "$TMP/cmp.tsv")
check "rw-compare: relora's mean .45" close_rel "$(echo "$row" | cut -f6)" 0.45 1e-12
check "rw-compare: relora's diff -.2" close_rel "$(echo "$row" | cut -f10)" -0.2 1e-12
check "rw-compare: n 3" test "$(echo "$row" | cut -f5)" = 3
# sd .05, half-width t(.975, 2) * .05 / sqrt(3) = 4.30265272974946 * .05 / 1.7320508 = .124207
check "rw-compare: ci95_hi" close_rel "$(echo "$row" | cut -f9)" 0.574207 1e-5
ref=$(awk -F'\t' '$1=="attn.weight" && $2=="per" && $3==100 && $4=="full"' "$TMP/cmp.tsv")
check "rw-compare: reference's diff empty" test "$(echo "$ref" | cut -f10)" = ""
expect_exit 0 "rw-compare: byte-identical reruns" rw-compare "$TMP/rank.tsv"
check "rw-compare: byte-identical reruns" cmp -s "$TMP/out" "$TMP/cmp.tsv"

# Its tables go through rw-diff (keyed by module, metric, step, run).
expect_exit 0 "rw-diff: rw-compare table against itself" rw-diff "$TMP/cmp.tsv" "$TMP/cmp.tsv"
rw-compare "$TMP/rank2.tsv" >"$TMP/cmp2.tsv" 2>/dev/null
expect_exit 1 "rw-diff: rw-compare tables differ" rw-diff "$TMP/cmp.tsv" "$TMP/cmp2.tsv"
check "rw-diff: rw-compare key" grep -q "module=attn.weight metric=per step=100 run=relora" "$TMP/out"

expect_exit 0 "rw-compare --ref relora" rw-compare --ref relora --metrics per "$TMP/rank.tsv"
check "rw-compare --ref: full's diff +.2" close_rel \
    "$(awk -F'\t' '$1=="attn.weight" && $3==100 && $4=="full" {print $10}' "$TMP/out")" 0.2 1e-12

expect_exit 0 "rw-compare --format md" rw-compare --format md --metrics per "$TMP/rank.tsv"
check "rw-compare md: header" grep -q '^| module | metric | step | run | n | mean ± 95% CI | diff |$' "$TMP/out"
check "rw-compare md: a row" grep -q '^| attn.weight | per | 100 | relora | 3 | 0.45 ± 0.12 | -0.2 |$' "$TMP/out"
expect_exit 0 "rw-compare --format tex" rw-compare --format tex --metrics per "$TMP/rank.tsv"
cp "$TMP/out" "$TMP/cmp.tex"
check "rw-compare tex: booktabs rules" grep -q '^\\toprule$' "$TMP/cmp.tex"
check "rw-compare tex: mean ± half-width" grep -q '\$0.45 \\pm 0.12\$ & \$-0.2\$' "$TMP/cmp.tex"
expect_exit 0 "rw-compare --format json" rw-compare --format json "$TMP/rank.tsv"
check "rw-compare json: null diff for the reference" grep -q '"diff": null' "$TMP/out"

# The LaTeX compiles in a plain booktabs document, when LaTeX is installed.
if command -v pdflatex >/dev/null 2>&1 && kpsewhich booktabs.sty >/dev/null 2>&1; then
    rw-compare --summary --format tex "$TMP/rank.tsv" >"$TMP/sum.tex" 2>/dev/null
    printf '%s\n' '\documentclass{article}' '\usepackage{booktabs}' '\begin{document}' \
        '\input{cmp.tex}' '\bigskip' '\input{sum.tex}' '\end{document}' >"$TMP/doc.tex"
    check "rw-compare tex: compiles" sh -c "cd '$TMP' && pdflatex -interaction=nonstopmode -halt-on-error doc.tex >/dev/null 2>&1"
else
    skip "rw-compare tex: pdflatex or booktabs not installed"
fi

# --summary: final gap -.2, mean gap -.1, area .1, apart from step 100.
expect_exit 0 "rw-compare --summary" rw-compare --summary --metrics per "$TMP/rank.tsv"
check "rw-compare --summary: columns" test "$(head -1 "$TMP/out")" = \
    "$(printf 'module\tmetric\trun\tref\tsteps\tfirst_step\tlast_step\tfinal\tref_final\tgap\trel_gap\tmean_gap\tarea\tdiverge_step')"
srow=$(awk -F'\t' '$1=="attn.weight"' "$TMP/out")
check "rw-compare --summary: gap" close_rel "$(echo "$srow" | cut -f10)" -0.2 1e-12
check "rw-compare --summary: mean gap" close_rel "$(echo "$srow" | cut -f12)" -0.1 1e-12
check "rw-compare --summary: area" close_rel "$(echo "$srow" | cut -f13)" 0.1 1e-12
check "rw-compare --summary: apart from 100" test "$(echo "$srow" | cut -f14)" = 100
expect_exit 0 "rw-compare --summary --threshold 0.5" rw-compare --summary --threshold 0.5 --metrics per "$TMP/rank.tsv"
check "rw-compare --summary: never apart at 50%" test "$(awk -F'\t' '$1=="attn.weight" {print $14}' "$TMP/out")" = ""
# Runs without a shared step (relora's steps moved by 50): nan numbers, and
# the md summary says why rather than "never" apart.
awk -F'\t' 'BEGIN{OFS="\t"} NR>1 && $1=="relora" {$2+=50} {print}' "$TMP/rank.tsv" >"$TMP/apart.tsv"
expect_exit 0 "rw-compare --summary: no shared step" rw-compare --summary --metrics per --format md "$TMP/apart.tsv"
check "rw-compare --summary md: no shared step: says so, final step none" \
    grep -q '^| attn.weight | per | relora | full | none | nan | nan | nan | nan | nan | nan | no shared step |$' "$TMP/out"
check "rw-compare --summary md: no shared step: never 'never'" test -z "$(grep -- '| never |' "$TMP/out")"

# One table per run, both named "x": NAME=TABLE tells them apart.
awk -F'\t' 'BEGIN{OFS="\t"} NR==1 || $1=="full" {if (NR>1) $1="x"; print}' "$TMP/rank.tsv" >"$TMP/a.tsv"
awk -F'\t' 'BEGIN{OFS="\t"} NR==1 || $1=="relora" {if (NR>1) $1="x"; print}' "$TMP/rank.tsv" >"$TMP/b.tsv"
expect_exit 0 "rw-compare: NAME=TABLE" rw-compare full="$TMP/a.tsv" relora="$TMP/b.tsv"
check "rw-compare: NAME=TABLE gives the same table" cmp -s "$TMP/out" "$TMP/cmp.tsv"
expect_error "rw-compare: two tables of run x" "given twice" rw-compare "$TMP/a.tsv" "$TMP/b.tsv"

# Nearest alignment: relora checkpointed at 0 and 90 instead of 0 and 100.
sed 's/^relora\t100\t/relora\t90\t/' "$TMP/rank.tsv" >"$TMP/shifted.tsv"
expect_exit 0 "rw-compare: exact with shifted steps" rw-compare --metrics per "$TMP/shifted.tsv"
check "rw-compare: exact: relora at 90, diff nan" test \
    "$(awk -F'\t' '$1=="attn.weight" && $3==90 {print $4, $10}' "$TMP/out")" = "relora nan"
expect_exit 0 "rw-compare: nearest within 10" \
    rw-compare --align nearest --max-distance 10 --metrics per "$TMP/shifted.tsv"
check "rw-compare: nearest: reported at 100, diff -.2" close_rel \
    "$(awk -F'\t' '$1=="attn.weight" && $3==100 && $4=="relora" {print $10}' "$TMP/out")" -0.2 1e-12
expect_exit 0 "rw-compare: nearest within 5" \
    rw-compare --align nearest --max-distance 5 --metrics per "$TMP/shifted.tsv"
check "rw-compare: nearest within 5: no relora row at 100" test \
    "$(awk -F'\t' '$3==100 && $4=="relora"' "$TMP/out" | wc -l)" -eq 0

# Errors and misuse.
expect_error "rw-compare: ragged row" "ragged.tsv:4: 6 fields" rw-compare "$TMP/ragged.tsv"
expect_error "rw-compare: not a number" "per 'abc' is not a number" rw-compare "$TMP/text.tsv"
expect_error "rw-compare: no component column" "no column 'component'" rw-compare "$TMP/nokey.tsv"
rm -f "$TMP/never.tsv"
expect_exit 1 "rw-compare -o on bad data" rw-compare -o "$TMP/never.tsv" "$TMP/text.tsv"
check "rw-compare -o on bad data: no file left" test ! -e "$TMP/never.tsv"
expect_exit 2 "rw-compare: no table" rw-compare
expect_exit 2 "rw-compare: --ref of no run" rw-compare --ref nobody "$TMP/rank.tsv"
check "rw-compare: --ref lists the runs" grep -q "runs: full, relora" "$TMP/err"
expect_exit 2 "rw-compare: --metrics of no column" rw-compare --metrics erank "$TMP/rank.tsv"
expect_exit 2 "rw-compare: nearest without a distance" rw-compare --align nearest "$TMP/rank.tsv"
expect_exit 2 "rw-compare: --align sideways" rw-compare --align sideways "$TMP/rank.tsv"
expect_exit 2 "rw-compare: --threshold -1" rw-compare --summary --threshold -1 "$TMP/rank.tsv"
expect_exit 2 "rw-compare: --format xml" rw-compare --format xml "$TMP/rank.tsv"
expect_exit 0 "rw-compare --help" rw-compare --help
check "rw-compare --help: usage on stdout" grep -q "^Usage: rw-compare" "$TMP/out"

# A real run's table (Keras MLP, 100 epochs): rw-rank -> rw-compare -> rw-diff.
if [ -n "$REALDATA" ] && [ -d "$REALDATA/keras-mlp-epochs" ]; then
    rw-rank "$REALDATA/keras-mlp-epochs" >"$TMP/keras.tsv" 2>/dev/null
    expect_exit 0 "real: rw-compare of a Keras run" rw-compare "$TMP/keras.tsv"
    # 3 modules x 5 metrics x 100 epochs
    check "real: 1500 rows" test "$(($(wc -l <"$TMP/out") - 1))" -eq 1500
    expect_exit 0 "real: rw-diff of a Keras table with itself" rw-diff "$TMP/keras.tsv" "$TMP/keras.tsv"
else
    skip "real: ../shared/realdata not present"
fi

# rw-compare tables: a per-metric tolerance applies to that metric's rows.
rw-fixture runs -o "$TMP/tolruns" --layers 2 --steps 300 --cycle 100 >/dev/null 2>&1
rw-metrics "$TMP/tolruns/full-rank" "$TMP/tolruns/relora" >"$TMP/tol_m.tsv"
rw-compare --metrics per,cond "$TMP/tol_m.tsv" >"$TMP/tol_a.tsv"
awk -F'\t' 'BEGIN{OFS="\t"} NR>1 && $2=="cond" {$6=$6*1.5} {print}' "$TMP/tol_a.tsv" >"$TMP/tol_b.tsv"
expect_exit 1 "compare tables: a moved cond mean is a difference" rw-diff "$TMP/tol_a.tsv" "$TMP/tol_b.tsv"
expect_exit 0 "compare tables: --tol cond=inf skips the cond rows" rw-diff --tol cond=inf "$TMP/tol_a.tsv" "$TMP/tol_b.tsv"
expect_exit 1 "compare tables: --tol per=inf does not skip cond rows" rw-diff --tol per=inf "$TMP/tol_a.tsv" "$TMP/tol_b.tsv"
# Adapter-only runs compare and plot their lora component by default.
if [ -n "$REALDATA" ]; then
    rw-rank "$REALDATA/gpt2-lora-steps" >"$TMP/gpt2_rank.tsv"
    expect_exit 0 "rw-compare on an adapter-only run (lora by default)" rw-compare --metrics per "$TMP/gpt2_rank.tsv"
    check "adapter-only: one module, 15 steps" test "$(awk -F'\t' 'NR>1 {print $1, $3}' "$TMP/out" | sort -u | wc -l)" -eq 15
else
    skip "adapter-only compare: ../shared/realdata is absent"
fi
