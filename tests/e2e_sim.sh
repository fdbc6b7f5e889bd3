# e2e_sim.sh — rw-sim on pico-train run folders (rw-fixture --layout pico
# writes learning_dynamics/train_activations.pt: Z W^T of each recorded
# module, Z fixed): the table's rows and columns, CKA and PWCCA of a step
# against itself, --target, --between, --metrics, and the errors.
# Sourced by tests/e2e.sh (helpers: e2e_lib.sh).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

S="$TMP/sim"
mkdir -p "$S"
rw-fixture runs -o "$S/p" --layout pico --layers 2 --steps 300 --every 100 --cycle 200 \
    >/dev/null 2>&1 || bad "rw-fixture --layout pico"
R="$S/p/runs"

expect_exit 0 "rw-sim of two pico-train runs" rw-sim -o "$S/sim.tsv" "$R/full-rank" "$R/relora"
check "columns" [ "$(head -1 "$S/sim.tsv")" = "$(printf 'run\tstep\ttarget_step\ttensor\tlayer\tmodule\tdata\tsplit\tcka\tpwcca')" ]
check "one row per run, step and module: 2 x 4 x 6" [ "$(($(wc -l <"$S/sim.tsv") - 1))" -eq 48 ]
check "the target is each run's last step (300)" [ "$(col "$S/sim.tsv" target_step | sort -u)" = 300 ]
check "data and split say what was compared" [ "$(cut -f7,8 "$S/sim.tsv" | tail -n +2 | sort -u)" = "$(printf 'activations\ttrain')" ]
# (1 to round-off: ||X'X||^2 / (||X'X|| ||X'X||) in floating point)
near1() { awk -v c="$1" -F'\t' 'NR > 1 && ($c - 1 > 1e-12 || 1 - $c > 1e-12) {f = 1} END {exit f}'; }
check "the last step against itself: CKA 1" near1 9 < <(awk -F'\t' 'NR == 1 || $2 == 300' "$S/sim.tsv")
# PWCCA of X against itself is 1 up to epsilon's regularisation (1e-6 on the
# scaled covariances): within 1e-3 here
check "the last step against itself: PWCCA within 1e-3 of 1" \
    [ -z "$(awk -F'\t' '$2 == 300 && ($10 < 0.999 || $10 > 1 + 1e-12)' "$S/sim.tsv")" ]
# (the fixture's ReLoRA activations are those of its merged base, which
# changes at merges only: steps 200 and 300 have the same)
check "full-rank's earlier steps: CKA in (0, 1)" \
    [ -z "$(awk -F'\t' '$1 == "full-rank" && $2 < 300 && !($9 > 0 && $9 < 1 - 1e-6)' "$S/sim.tsv")" ]
check "full-rank: CKA grows towards the target (step 0 < 100 < 200 for every module)" \
    [ -z "$(awk -F'\t' '$1 == "full-rank" {v[$4, $2] = $9} END {for (k in v) {split(k, a, SUBSEP); if (a[2] == 0 && !(v[a[1], 0] < v[a[1], 100] && v[a[1], 100] < v[a[1], 200])) print a[1]}}' "$S/sim.tsv")" ]
check "layer and module from the name" grep -qP '^relora\t0\t300\tlayers\.1\.swiglu\.w_2\t1\tswiglu\.w_2\t' "$S/sim.tsv"

expect_exit 0 "rw-sim -j 1" rw-sim -j 1 -o "$S/sim1.tsv" "$R/full-rank" "$R/relora"
check "-j 1 and the default (one per core) give the same bytes" cmp -s "$S/sim.tsv" "$S/sim1.tsv"
expect_exit 0 "--target first --metrics cka" rw-sim --target first --metrics cka -o "$S/first.tsv" "$R/full-rank"
check "--target first: the target is step 0" [ "$(col "$S/first.tsv" target_step | sort -u)" = 0 ]
check "--target first: step 0 against itself is 1" near1 9 < <(awk -F'\t' 'NR == 1 || $2 == 0' "$S/first.tsv")
check "--metrics cka: the pwcca column is empty" [ -z "$(col "$S/first.tsv" pwcca | sort -u)" ]
expect_exit 0 "--target 100" rw-sim --target 100 --metrics pwcca -o "$S/t100.tsv" "$R/relora"
check "--target 100" [ "$(col "$S/t100.tsv" target_step | sort -u)" = 100 ]
check "--metrics pwcca: the cka column is empty" [ -z "$(col "$S/t100.tsv" cka | sort -u)" ]
expect_exit 0 "--include" rw-sim --include '*.v_proj' -o "$S/v.tsv" "$R/full-rank"
check "--include: v_proj only (2 layers x 4 steps)" \
    [ "$(col "$S/v.tsv" module | sort | uniq -c | tr -s ' ')" = " 8 attention.v_proj" ]

expect_exit 0 "--between" rw-sim --between -o "$S/btw.tsv" "$R/full-rank" "$R/relora"
check "--between: columns with target_run" \
    [ "$(head -1 "$S/btw.tsv" | cut -f1-5)" = "$(printf 'run\tstep\ttarget_step\ttarget_run\ttensor')" ]
check "--between: relora against full-rank" \
    [ "$(tail -n +2 "$S/btw.tsv" | cut -f1,4 | sort -u)" = "$(printf 'relora\tfull-rank')" ]
check "--between: at each shared step (4 x 6 rows)" [ "$(($(wc -l <"$S/btw.tsv") - 1))" -eq 24 ]
check "--between: both runs start from the same weights: CKA 1 at step 0" \
    near1 10 < <(awk -F'\t' 'NR == 1 || $2 == 0' "$S/btw.tsv")
expect_exit 0 "--between a run and itself" rw-sim --between -o "$S/self.tsv" "a=$R/relora" "b=$R/relora"
check "--between a run and itself: CKA 1 everywhere" near1 10 < "$S/self.tsv"

# Errors: one line, exit codes of DESIGN.md.
expect_exit 2 "--between with one run" rw-sim --between "$R/relora"
check "--between with one run: says so" grep -q 'rw-sim: --between compares two runs; 1 given' "$TMP/err"
expect_exit 2 "--target of a step the run lacks" rw-sim --target 150 "$R/relora"
check "--target 150: names the run" grep -q 'rw-sim: --target 150: run relora has no such step' "$TMP/err"
expect_exit 2 "--target nonsense" rw-sim --target soon "$R/relora"
expect_exit 2 "--metrics nonsense" rw-sim --metrics cka,svcca "$R/relora"
expect_exit 2 "--data gradients" rw-sim --data gradients "$R/relora"
expect_error "--include that selects nothing" 'no activation matrices to compare \(after --include/--exclude\)' \
    rw-sim --include 'nothing*' "$R/relora"
mkdir -p "$S/bare/step_100"
cp "$R/relora/checkpoints/step_100/model.safetensors" "$S/bare/step_100/"
expect_error "a step folder without activations" 'step_100: no learning_dynamics/train_activations\.pt' \
    rw-sim "$S/bare"

# Figures of the table: rw-plot reads it (no component column: every row
# its matrix's one), titles say what the values are of.
if command -v gnuplot >/dev/null 2>&1; then
    expect_exit 0 "rw-plot trajectory --metric cka" \
        rw-plot trajectory --metric cka --script-only -o "$S/cka.png" "$S/sim.tsv"
    check "the title names the data: activations (train)" \
        grep -q "linear CKA with the target step of the activations (train)" "$S/cka.gp"
    check "one panel per module: o_proj, v_proj, w_2" \
        [ "$(grep -c "^# index .*: module" "$S/cka.dat")" -ge 3 ]
    expect_exit 0 "bootstrap bands and layer groups" rw-plot trajectory --metric pwcca \
        --ci bootstrap --layer-groups halves --script-only -o "$S/pw.png" "$S/sim.tsv"
    expect_exit 2 "--component on a table without one" \
        rw-plot trajectory --metric cka --component full --script-only -o "$S/x.png" "$S/sim.tsv"
else
    skip "rw-sim figures: gnuplot not installed"
fi

# analyze.sh on pico-train runs with learning dynamics: the gradients'
# metrics and the activations' similarity, their figures, the report's
# section saying how the bands were made; none of it without them.
if command -v gnuplot >/dev/null 2>&1; then
    ./analyze.sh -o "$S/an" "$R/full-rank" "$R/relora" >"$S/an.log" 2>&1
    check "analyze.sh on pico-train runs: exit 0" test $? -eq 0
    check "tables/gradients.tsv: gradients of both runs" \
        [ "$(col "$S/an/tables/gradients.tsv" run | sort -u | tr '\n' ' ')" = "full-rank relora " ]
    check "tables/similarity.tsv is rw-sim's table" cmp -s "$S/an/tables/similarity.tsv" "$S/sim.tsv"
    for f in grads_per grads_cond cka pwcca; do
        check "figure $f.png drawn and in the report" grep -q "](figures/$f.png)" "$S/an/report.md"
    done
    check "the report says how the bands were made" \
        grep -q 'bootstrap 95% interval' "$S/an/report.md"
    ./analyze.sh -o "$S/an2" "$S/p/runs/full-rank/checkpoints/step_300/model.safetensors" >"$S/an2.log" 2>&1
    check "a model file alone: no learning-dynamics section" \
        [ "$(grep -c 'Learning dynamics' "$S/an2/report.md")" = 0 ]
else
    skip "analyze.sh learning dynamics: gnuplot not installed"
fi

# Hostile input: a truncated activations file, a label holding a newline and
# quotes, a full disk: one line, exit 1, no output; the label escaped.
cp -r "$R/relora" "$S/trunc"
f="$S/trunc/checkpoints/step_100/learning_dynamics/train_activations.pt"
head -c 3000 "$f" >"$S/t.pt" && mv "$S/t.pt" "$f"
expect_error "a truncated activations file" 'step_100/learning_dynamics/train_activations\.pt: not a readable zip archive' \
    rw-sim -o "$S/trunc.tsv" "$S/trunc"
check "no output after the failure" [ ! -e "$S/trunc.tsv" ]
expect_exit 0 "a label with a newline and quotes" rw-sim --label $'na\nme"q\'x' --metrics cka "$R/relora"
check "the label escaped on one line" grep -q "^na\\\\nme\"q'x	0	300	" "$TMP/out"
if [ -w /dev/full ]; then
    expect_error "a full disk" 'rw-sim: /dev/full: write failed' rw-sim -o /dev/full "$R/relora"
fi
