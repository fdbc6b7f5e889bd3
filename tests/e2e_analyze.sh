# e2e_analyze.sh — analyze.sh end to end on small fixture runs: every file
# the report links to exists, the figures are PNGs, a second run reuses the
# spectra, bad input fails cleanly.
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

rw-fixture runs -o "$TMP/runs" --layers 3 --steps 600 --every 100 --cycle 300 >/dev/null 2>&1
export RW_NO_INSTALL=1
./analyze.sh "$TMP/runs/full-rank" "$TMP/runs/relora" -o "$TMP/rep" >"$TMP/log1" 2>&1
check "analyze.sh exits 0" test $? -eq 0
check "report.md and report.html written" test -s "$TMP/rep/report.md" -a -s "$TMP/rep/report.html"
missing=0
for link in $(grep -oE '\]\([^)]+\)' "$TMP/rep/report.md" | sed 's/^](//; s/)$//'); do
    [ -e "$TMP/rep/$link" ] || { missing=$((missing + 1)); bad "report.md links to missing $link"; }
done
check "every link of report.md resolves" test "$missing" -eq 0
check "nine figures in the report" test "$(grep -c '^!\[' "$TMP/rep/report.md")" -eq 9
for f in weights_per weights_cond updates_per updates_cond heatmap_per spectrum_weights spectrum_updates weights_alpha esd_weights; do
    check "figures/$f.png is a PNG" sh -c "head -c 8 '$TMP/rep/figures/$f.png' | od -An -c | grep -q 'P   N   G'"
    check "figures/$f.gp beside it" test -s "$TMP/rep/figures/$f.gp"
done
check "the HTML page shows the figures inline" test "$(grep -o '<img src="figures/[a-z_]*.png"' "$TMP/rep/report.html" | wc -l)" -eq 9
check "the report says what alpha is" grep -q "alpha\* is WeightWatcher's power-law exponent" "$TMP/rep/report.md"
check "the alpha figure is rw-tails' table drawn" \
    cmp -s "$TMP/rep/tables/tails.tsv" <(rw-tails "$TMP/rep/spectra.h5")
check "the ESD figure is of SwiGLU W2's middle layer (1) at the last step" \
    grep -q "^# index 0: hist of module 'swiglu.w_2.weight', run 'full-rank', step 600, layer 1:" "$TMP/rep/figures/esd_weights.dat"
check "the HTML page needs no JavaScript" test -z "$(grep -i '<script' "$TMP/rep/report.html")"
check "headline names both runs" grep -q '| relora | full-rank |' "$TMP/rep/report.md"
check "what was analysed: 7 checkpoints each" grep -q '| full-rank | 7 | 0 to 600 |' "$TMP/rep/report.md"
./analyze.sh "$TMP/runs/full-rank" "$TMP/runs/relora" -o "$TMP/rep" >"$TMP/log2" 2>&1
check "a second run decomposes nothing" grep -q "14 checkpoints: 0 decomposed, 14 reused" "$TMP/log2"
check "a second run gives the same tables" cmp -s "$TMP/rep/tables/rank.tsv" <(rw-rank --component all "$TMP/rep/spectra.h5")
expect_exit 1 "analyze.sh on a missing run fails" ./analyze.sh "$TMP/nope" -o "$TMP/rep2"
check "the failure names the run" grep -q "nope: No such file" "$TMP/err"
expect_exit 2 "analyze.sh with an unknown option" ./analyze.sh --bogus
expect_exit 2 "analyze.sh --component: a usage error" ./analyze.sh --component base -o "$TMP/rep3"
check "analyze.sh --component: says the tables hold every component, and how to draw one" \
    grep -q "^analyze.sh: --component: the tables hold every component already.*rw-plot --component C" "$TMP/err"
check "analyze.sh --component: nothing written" test ! -e "$TMP/rep3"
expect_exit 0 "analyze.sh --help" ./analyze.sh --help
expect_exit 0 "analyze.sh --version" ./analyze.sh --version
check "--version names rankwatch and its version" grep -qE '^analyze.sh \(rankwatch\) [0-9]+\.[0-9]+' "$TMP/out"
# Selection and run names go through to the programs.
expect_exit 0 "analyze.sh --include --label" ./analyze.sh --include 'layers.0.*' --label a --label b \
    "$TMP/runs/full-rank" "$TMP/runs/relora" -o "$TMP/rep3"
check "--include: only layer 0's tensors in the tables" \
    [ "$(col "$TMP/rep3/tables/rank.tsv" tensor | grep -vc '^layers\.0\.')" -eq 0 ]
check "--label: the runs are named a and b" \
    [ "$(col "$TMP/rep3/tables/rank.tsv" run | sort -u | tr '\n' ' ')" = "a b " ]
# Steps that are epochs (Keras ModelCheckpoint files): the report and the
# figures say "epoch".
if [ -n "$REALDATA" ] && [ -d "$REALDATA/keras-mlp-epochs" ]; then
    mkdir "$TMP/epochs"
    cp "$REALDATA"/keras-mlp-epochs/weights.0[1-3].hdf5 "$TMP/epochs/"
    expect_exit 0 "analyze.sh on Keras epochs" ./analyze.sh "$TMP/epochs" -o "$TMP/rep4"
    check "epochs: what was analysed says epochs, 1 to 3" \
        grep -q '^| run | checkpoints | epochs |.*$' "$TMP/rep4/report.md"
    check "epochs: the run's row" grep -q '^| epochs | 3 | 1 to 3 | 3 | float32 |$' "$TMP/rep4/report.md"
    check "epochs: the trajectory figures' x axis says epoch" \
        grep -q "set xlabel 'epoch'" "$TMP/rep4/figures/weights_per.gp"
    check "epochs: a Keras MLP (no layers: a module per Dense layer) has no heatmap, and no complaint" \
        test ! -e "$TMP/rep4/figures/heatmap_per.png" -a -z "$(grep 'not drawn' "$TMP/err")"
else
    skip "analyze.sh on Keras epochs: ../shared/realdata absent"
fi
unset RW_NO_INSTALL
