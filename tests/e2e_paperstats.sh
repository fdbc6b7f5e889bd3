# e2e_paperstats.sh — the paper's statistics and pico-analyze's entry metrics
# end to end: rw-compare and rw-plot --ci bootstrap (byte-identical output,
# the seed, the two programs agreeing), --layer-groups (means by hand), and
# rw-metrics' gini, hoyer and max_abs (bounds they must keep, nan with one
# warning from a spectra file). Sourced by tests/e2e.sh (helpers in
# e2e_lib.sh; scratch in $TMP).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

# A per-layer table: runs a and b, steps 0 and 10, module m.weight, five
# layers l; per at step 10 is 0.1 k (l + 1) + 0.001 l^3 (k = 1 for run a,
# 2 for b): a 0.1 0.201 0.308 0.427 0.564, b 0.2 0.401 0.608 0.827 1.064;
# at step 0, 0.5 everywhere. cond = 10 (l + 1)^1.5.
{
    printf 'run\tstep\ttensor\tlayer\tmodule\tcomponent\trows\tcols\tdtype\tper\tcond\n'
    for run in a b; do
        for step in 0 10; do
            for l in 0 1 2 3 4; do
                k=1; [ $run = b ] && k=2
                per=$(awk -v k=$k -v l=$l -v s=$step \
                    'BEGIN{printf "%.3f", s ? 0.1*k*(l+1) + 0.001*l*l*l : 0.5}')
                cond=$(awk -v l=$l 'BEGIN{printf "%.6f", 10 * (l + 1)^1.5}')
                printf '%s\t%s\tlayers.%s.m.weight\t%s\tm.weight\tweight\t4\t8\tfloat32\t%s\t%s\n' \
                    $run $step $l $l $per $cond
            done
        done
    done
} >"$TMP/ps.tsv"
ps=$TMP/ps.tsv
C=$RW_BIN/rw-compare

# --ci t is the default; bootstrap output is the same twice, another with --seed.
"$C" "$ps" >"$TMP/t1.tsv" && "$C" --ci t "$ps" >"$TMP/t2.tsv"
check "--ci t is the default" cmp -s "$TMP/t1.tsv" "$TMP/t2.tsv"
"$C" --ci bootstrap "$ps" >"$TMP/b1.tsv" && "$C" --ci bootstrap "$ps" >"$TMP/b2.tsv"
check "bootstrap output is byte-identical from run to run" cmp -s "$TMP/b1.tsv" "$TMP/b2.tsv"
"$C" --ci bootstrap --seed 0 "$ps" >"$TMP/b0.tsv"
check "--seed 0 is the default seed" cmp -s "$TMP/b1.tsv" "$TMP/b0.tsv"
"$C" --ci bootstrap --seed 5 "$ps" >"$TMP/b5.tsv"
check "another seed, other intervals" bash -c "! cmp -s '$TMP/b1.tsv' '$TMP/b5.tsv'"
# the columns stay DESIGN.md's; mean, sd, n are the t table's
check "bootstrap keeps the columns" cmp -s <(head -1 "$TMP/t1.tsv") <(head -1 "$TMP/b1.tsv")
check "bootstrap changes only ci95_lo, ci95_hi" cmp -s <(cut -f1-7,10 "$TMP/t1.tsv") \
    <(cut -f1-7,10 "$TMP/b1.tsv")
# run a, step 10, per: values 0.1..0.564, mean 0.32; every resample mean
# lies in [0.1, 0.564] and the interval holds the mean
row=$(awk -F'\t' '$2=="per" && $3==10 && $4=="a"' "$TMP/b1.tsv")
check "bootstrap interval inside the values' range, around the mean" awk -v r="$row" \
    'BEGIN{split(r,f,"\t"); exit !(f[6]==0.32 && f[8]>=0.1 && f[8]<0.32 && f[9]>0.32 && f[9]<=0.564)}'
# step 0: five equal values, no spread: the interval is the value
row=$(awk -F'\t' '$2=="per" && $3==0 && $4=="a"' "$TMP/b1.tsv")
check "equal values: a zero-width interval" awk -v r="$row" \
    'BEGIN{split(r,f,"\t"); exit !(f[8]==0.5 && f[9]==0.5)}'
expect_exit 2 "--seed without --ci bootstrap" "$C" --seed 3 "$ps"
expect_exit 2 "--ci of an unknown kind" "$C" --ci bca "$ps"
"$C" --ci bootstrap --format md "$ps" >"$TMP/b.md"
check "md: mean [lo, hi]" grep -q '| mean \[95% CI\] |' "$TMP/b.md"
check "md: how the interval was made" \
    grep -q 'percentile bootstrap of the mean over layers (1000 resamples' "$TMP/b.md"

# --layer-groups: halves of five layers are 0-2 and 3-4 (the first takes
# the extra one); means by hand: a step 10: (0.1 + 0.201 + 0.308)/3 = 0.203,
# b step 10: (0.827 + 1.064)/2 = 0.9455.
"$C" --metrics per --layer-groups halves "$ps" >"$TMP/g.tsv"
check "halves: the modules of the groups" cmp -s <(col "$TMP/g.tsv" module | sort -u) \
    <(printf 'm.weight [0-2]\nm.weight [3-4]\n')
m02=$(awk -F'\t' '$1=="m.weight [0-2]" && $3==10 && $4=="a" {print $6 " " $5}' "$TMP/g.tsv")
m34=$(awk -F'\t' '$1=="m.weight [3-4]" && $3==10 && $4=="b" {print $6 " " $5}' "$TMP/g.tsv")
check "halves: group means by hand" close_rel "${m02% *}" 0.203 1e-12
check "halves: n is the group's layers" test "${m02#* }" = 3
check "halves: second group by hand" close_rel "${m34% *}" 0.9455 1e-12
"$C" --metrics per --layer-groups 1-2,4 "$ps" >"$TMP/g2.tsv"
check "explicit groups; layers in none are left out" cmp -s \
    <(col "$TMP/g2.tsv" module | sort -u) <(printf 'm.weight [1-2]\nm.weight [4]\n')
expect_exit 2 "overlapping groups" "$C" --layer-groups 0-3,2-4 "$ps"
expect_exit 2 "a group list that is not one" "$C" --layer-groups first "$ps"

# rw-plot's band is rw-compare's interval: the same resamples for the same
# (module, run, step), the arithmetic mean here
R=$RW_BIN/rw-plot
"$R" trajectory --script-only --ci bootstrap --mean arithmetic --metric per \
    -o "$TMP/pb.png" "$ps" 2>/dev/null
lo_plot=$(awk -F'\t' '/^# index/{blk++} blk==1 && $1==10 {print $3}' "$TMP/pb.dat")
lo_cmp=$(awk -F'\t' '$2=="per" && $3==10 && $4=="a" {print $8}' "$TMP/b1.tsv")
check "rw-plot's bootstrap band is rw-compare's interval" close_rel "$lo_plot" "$lo_cmp" 1e-9
check "the figure's data says how the band was made" \
    grep -q 'percentile bootstrap of it (1000 resamples of the layers, seed 0)' "$TMP/pb.dat"
"$R" trajectory --script-only --layer-groups halves --metric per -o "$TMP/pg.png" "$ps" 2>/dev/null
check "rw-plot: a panel per layer group, in layer order" cmp -s \
    <(grep '^# ---- panel' "$TMP/pg.gp" | sed 's/.*: //') \
    <(printf "'m.weight [0-2]'\n'm.weight [3-4]'\n")
expect_exit 2 "--ci is for trajectories" "$R" heatmap --ci bootstrap -o "$TMP/h.png" "$ps"

# rw-metrics: gini and hoyer in [0, 1]; |w_ij| <= sigma_max and the largest
# |w| at least the root mean square ||W||_F / sqrt(m n)
fixture "$TMP/fx" runs --steps 200 --every 100 --cycle 200 --layers 2
"$RW_BIN/rw-metrics" --component all "$TMP/fx/relora" >"$TMP/m.tsv"
check "rw-metrics: gini, hoyer, max_abs after DESIGN.md's columns" test \
    "$(head -1 "$TMP/m.tsv" | cut -f10-)" = "$(printf 'sigma_max\tsigma_min\tcond\tnum_rank\tcond_rank\terank\tper\tstable_rank\tentropy\tfro\tnuc\tgini\thoyer\tmax_abs')"
check "entry metrics within their bounds" awk -F'\t' 'NR>1 && $19!=0 {
    if (!($21>=0 && $21<=1 && $22>=0 && $22<=1 && $23<=$10*(1+1e-12) &&
          $23>=$19/sqrt($7*$8)*(1-1e-12))) bad=1 } END{exit bad}' "$TMP/m.tsv"
# the zero matrices (the fresh adapters' s·B·A, B = 0): gini 0 and max_abs 0
# as pico-analyze has them, hoyer nan (pico-analyze divides by zero)
check "zero matrices: gini 0, hoyer nan, max_abs 0" awk -F'\t' 'NR>1 && $19==0 {
    n++; if (!($21==0 && $22=="nan" && $23==0)) bad=1 } END{exit bad || !n}' "$TMP/m.tsv"
"$RW_BIN/rw-spectra" -o "$TMP/s.h5" --component all "$TMP/fx/relora" 2>/dev/null
"$RW_BIN/rw-metrics" --component all "$TMP/s.h5" >"$TMP/ms.tsv" 2>"$TMP/ms.err"
check "from a spectra file: one warning" test "$(wc -l <"$TMP/ms.err")" = 1
check "from a spectra file: the warning says why" grep -q 'singular values only' "$TMP/ms.err"
check "from a spectra file: entry metrics nan" awk -F'\t' \
    'NR>1 && !($21=="nan" && $22=="nan" && $23=="nan") {bad=1} END{exit bad}' "$TMP/ms.tsv"
check "from a spectra file: the spectral columns as from the checkpoints" cmp -s \
    <(cut -f1-20 "$TMP/m.tsv") <(cut -f1-20 "$TMP/ms.tsv")
"$RW_BIN/rw-updates" "$TMP/fx/relora" >"$TMP/u.tsv"
check "rw-updates keeps its columns" test "$(head -1 "$TMP/u.tsv" | cut -f21-)" = rel_update
# --data gradients: the same columns of the gradients (pico-analyze's
# gradients data type), within the same bounds
fixture "$TMP/pico" runs --layout pico --steps 100 --every 100 --cycle 100 --layers 2
"$RW_BIN/rw-metrics" --data gradients "$TMP/pico/runs/relora" >"$TMP/mg.tsv"
# (a table of gradients has data and split after dtype: columns by name)
check "gradients: entry metrics within their bounds" awk -F'\t' '
    NR==1 {for (i = 1; i <= NF; i++) c[$i] = i; next}
    {n++; g = $c["gini"]; h = $c["hoyer"]; x = $c["max_abs"]; f = $c["fro"]
     if (!(g>=0 && g<=1 && h>=0 && h<=1 && x<=$c["sigma_max"]*(1+1e-12) &&
           x>=f/sqrt($c["rows"]*$c["cols"])*(1-1e-12) && f>0)) bad=1 }
    END{exit bad || !n}' "$TMP/mg.tsv"
