# e2e_plot_agg.sh — what rw-plot's figures draw, decoded from the data and
# script beside them: geometric means over layers of scale-type metrics and
# their intervals (hand-worked), intervals clipped to a metric's range,
# cond_rank in place of cond for rank-deficient modules, whole-number layer
# tics, single-matrix modules left out of heatmaps, and "epoch" axes
# (rw-ls --checkpoints says which steps are epochs).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

P="$TMP/agg"
mkdir -p "$P"

# One run, step 0: module w has three layers, cond 10, 100, 1e6 (one
# outlier) and per 0.98, 0.99, 1.0; module r's matrices are rank-deficient
# (cond != cond_rank) in one layer.
tab="$P/t.tsv"
printf 'run\tstep\ttensor\tlayer\tmodule\tcomponent\tper\tcond\tcond_rank\n' > "$tab"
printf 'a\t0\tlayers.0.w\t0\tw\tweight\t0.98\t10\t10\n' >> "$tab"
printf 'a\t0\tlayers.1.w\t1\tw\tweight\t0.99\t100\t100\n' >> "$tab"
printf 'a\t0\tlayers.2.w\t2\tw\tweight\t1.0\t1e6\t1e6\n' >> "$tab"
printf 'a\t0\tlayers.0.r\t0\tr\tweight\t0.5\t1e17\t40\n' >> "$tab"
printf 'a\t0\tlayers.1.r\t1\tr\tweight\t0.5\t90\t90\n' >> "$tab"
printf 'a\t0\tlayers.2.r\t2\tr\tweight\t0.5\t60\t60\n' >> "$tab"
printf 'a\t0\temb\t-1\temb\tweight\t0.7\t5\t5\n' >> "$tab"

# dat FILE MODULE COLUMN: the value in COLUMN (2 mean, 3 ci95_lo, 4 ci95_hi)
# of MODULE's first point.
dat() { awk -v m="module '$2'" -v c="$3" 'index($0, m) {f=1; next} f && !/^#/ && NF {print $c; exit}' "$1"; }

expect_exit 0 "cond trajectory" rw-plot trajectory --script-only --metric cond --modules w,r -o "$P/c.png" "$tab"
# w: ln values L, 2L, 6L (L = ln 10): geometric mean 10^3, interval
# 10^(3 ± t(0.975, 2)·√(7/3)), t = 4.302652729749464
lo=$(awk 'BEGIN{printf "%.17g", exp(log(10)*(3 - 4.302652729749464*sqrt(7/3)))}')
hi=$(awk 'BEGIN{printf "%.17g", exp(log(10)*(3 + 4.302652729749464*sqrt(7/3)))}')
check "geometric mean of cond 10, 100, 1e6 is 1000" close_rel "$(dat "$P/c.dat" w 2)" 1000 1e-12
check "its interval: exp of the t-interval of ln values (lo)" close_rel "$(dat "$P/c.dat" w 3)" "$lo" 1e-9
check "its interval: exp of the t-interval of ln values (hi)" close_rel "$(dat "$P/c.dat" w 4)" "$hi" 1e-9
check "the data file says the mean is geometric" grep -q '^# mean: geometric mean over layers' "$P/c.dat"
check "the title says geometric mean" grep -q 'geometric mean over layers with 95% CI' "$P/c.gp"
# r: cond_rank 40, 90, 60 in place of cond: geometric mean (40·90·60)^(1/3) = 60
check "rank-deficient module r: cond_rank's geometric mean" close_rel "$(dat "$P/c.dat" r 2)" 60 1e-12
check "r's data block says cond_rank" grep -q "module 'r', run 'a', metric 'cond_rank'" "$P/c.dat"
check "w's data block is plain cond" grep -q "module 'w', run 'a'\$" "$P/c.dat"
check "r's panel title says cond_rank" grep -q "r — cond_rank: rank-deficient" "$P/c.gp"
check "a note says why" grep -q "cond_rank in place of cond in 1 of 2 panels" "$P/c.gp"
check "no band cut at the foot of a log axis" test "$(grep -c "foot of" "$P/c.gp")" = 0

expect_exit 0 "--mean arithmetic" rw-plot trajectory --script-only --metric cond --modules w \
    --mean arithmetic -o "$P/a.png" "$tab"
check "arithmetic mean of 10, 100, 1e6 is 333370" close_rel "$(dat "$P/a.dat" w 2)" 333370 1e-12
check "arithmetic: no geometric note" test "$(grep -c geometric "$P/a.dat")" = 0
expect_exit 2 "--mean other" rw-plot trajectory --mean median -o "$P/x.png" "$tab"
expect_exit 2 "--mean of a heatmap" rw-plot heatmap --mean geometric -o "$P/x.png" "$tab"

# per 0.98, 0.99, 1.0: mean 0.99, sd 0.01, interval 0.99 ± t·0.01/√3;
# the upper end (1.0148) is clipped to 1
expect_exit 0 "per trajectory" rw-plot trajectory --script-only --modules w -o "$P/p.png" "$tab"
check "per: arithmetic mean" close_rel "$(dat "$P/p.dat" w 2)" 0.99 1e-12
check "per: lower end of the interval" close_rel "$(dat "$P/p.dat" w 3)" \
    "$(awk 'BEGIN{printf "%.17g", 0.99 - 4.302652729749464*0.01/sqrt(3)}')" 1e-9
check "per: upper end clipped to 1" test "$(dat "$P/p.dat" w 4)" = 1
check "per: the note says the interval is clipped" grep -q "95% CI clipped to per''s range \[0, 1\] (at 1 points)" "$P/p.gp"

# per-layer: three layers, colour bar tics at whole numbers
expect_exit 0 "per-layer" rw-plot trajectory --script-only --per-layer --modules w -o "$P/l.png" "$tab"
check "layer colour bar: tics 0, 1, ..." grep -q "^set cbtics 0, 1\$" "$P/l.gp"

# heatmap: emb (layer -1) is left out, with a note
expect_exit 0 "heatmap with a single-matrix module" rw-plot heatmap --script-only -o "$P/h.png" "$tab"
check "heatmap: silent" test ! -s "$TMP/err"
check "heatmap notes emb" grep -q "Left out: 1 modules of a single matrix (layer −1: emb)" "$P/h.gp"
check "heatmap: two panels" test "$(grep -c '^# ---- module' "$P/h.gp")" = 2
check "heatmap: training step" grep -q "set xlabel 'training step'" "$P/h.gp"
expect_error "heatmap of single-matrix modules only" "every module selected is a single matrix \(layer -1: emb\)" \
    rw-plot heatmap --script-only --modules emb -o "$P/x.png" "$tab"
expect_exit 0 "heatmap of cond" rw-plot heatmap --script-only --metric cond -o "$P/hc.png" "$tab"
check "heatmap: r's panel says cond_rank" grep -q "a — r · cond_rank: rank-deficient" "$P/hc.gp"

# epochs
expect_exit 0 "--epochs trajectory" rw-plot trajectory --script-only --epochs -o "$P/e.png" "$tab"
check "trajectory: epoch axis" grep -q "set xlabel 'epoch'" "$P/e.gp"
check "trajectory: no training step" test "$(grep -c "training step" "$P/e.gp")" = 0
expect_exit 0 "--epochs heatmap" rw-plot heatmap --script-only --epochs -o "$P/he.png" "$tab"
check "heatmap: epoch axis" grep -q "set xlabel 'epoch'" "$P/he.gp"

# rw-ls --checkpoints, column unit: Keras files numbered as ModelCheckpoint numbers them, and
# epoch_N names, are epochs; step_N names and plain HDF5 files are steps
K="$P/keras-run"
fixture "$P/kf" keras
mkdir -p "$K" "$P/named"
cp "$P/kf/keras2_weights.h5" "$K/weights.01.hdf5"
cp "$P/kf/keras2_weights.h5" "$K/weights.02.hdf5"
cp "$P/kf/plain.h5" "$P/named/epoch_3.h5"
cp "$P/kf/plain.h5" "$P/named/model_4.h5"
expect_exit 0 "rw-ls --checkpoints" rw-ls --checkpoints "$K" "$P/named"
check "--checkpoints: the unit column third" test "$(head -1 "$TMP/out" | cut -f1-4)" = "$(printf 'run\tstep\tunit\tfile')"
check "Keras weights.01.hdf5: epoch 1" grep -q "^keras-run	1	epoch	.*weights.01.hdf5	" "$TMP/out"
check "epoch_3.h5: epoch" grep -q "^named	3	epoch	" "$TMP/out"
check "model_4.h5 (not Keras): step" grep -q "^named	4	step	" "$TMP/out"
expect_exit 0 "a spectra file" rw-spectra -o "$P/s.h5" "$K"
expect_exit 2 "rw-ls --checkpoints of a spectra file" rw-ls --checkpoints "$P/s.h5"
expect_exit 0 "--epochs spectrum" rw-plot spectrum --script-only --epochs -o "$P/se.png" "$P/s.h5"
check "spectrum: the legend names epochs" grep -q "title 'epoch 1'" "$P/se.gp"
check "spectrum: no step in the legend" test "$(grep -c "title 'step " "$P/se.gp")" = 0
