# e2e_gradients.sh — pico-train's gradients (--data gradients) kept apart
# from weights: their tables carry data and split after dtype, their spectra
# file says so and is never reused as a cache of weights (nor of the other
# split); rw-compare, rw-diff and rw-plot refuse to put weights and
# gradients together. The OV circuits of gradients as pico-analyze forms
# them (the fixture's gradients are -0.5 x the weights, so the gradient of
# W_O W_V is -W_O W_V: the same singular values), and ov_base / ov_lora of
# ReLoRA checkpoints (with s: ov_lora scales as s^2).
# Sourced by tests/e2e.sh (helpers: e2e_lib.sh).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

G="$TMP/grad"
mkdir -p "$G"
fixture "$G/pico" runs --layout pico --steps 200 --every 100 --cycle 200 --layers 2
fixture "$G/h5" runs --steps 200 --every 100 --cycle 200 --layers 2
FR="$G/pico/runs/full-rank" RL="$G/pico/runs/relora"

# ------------------------------------------------------------ tables
expect_exit 0 "rw-rank --data gradients" rw-rank --data gradients "$FR"
cp "$TMP/out" "$G/g_full.tsv"
check "a table of gradients: data and split after dtype" \
    [ "$(head -1 "$G/g_full.tsv" | cut -f9-11)" = "dtype	data	split" ]
check "every row says gradients, train" \
    [ "$(tail -n +2 "$G/g_full.tsv" | cut -f10,11 | sort -u)" = "gradients	train" ]
expect_exit 0 "rw-rank of the weights" rw-rank "$FR"
cp "$TMP/out" "$G/w_full.tsv"
check "a table of weights: no data column" sh -c "! head -1 '$G/w_full.tsv' | grep -qw data"
expect_exit 0 "rw-rank --data gradients of the other run" rw-rank --data gradients "$RL"
cp "$TMP/out" "$G/g_relora.tsv"

# ------------------------------------------------------------ never mixed
expect_error "rw-compare: weights and gradients are not averaged together" \
    'rw-compare: .*g_full\.tsv holds gradients \(train\), .*w_full\.tsv weights' \
    rw-compare "$G/w_full.tsv" "$G/g_full.tsv"
expect_exit 0 "rw-compare: gradients of two runs" rw-compare "$G/g_full.tsv" "$G/g_relora.tsv"
check "rw-compare of gradients: both runs" \
    [ "$(col "$TMP/out" run | sort -u | tr '\n' ' ')" = "full-rank relora " ]
expect_error "rw-diff: weights against gradients is refused" \
    'rw-diff: .*w_full\.tsv holds weights, .*g_full\.tsv gradients \(train\)' \
    rw-diff "$G/w_full.tsv" "$G/g_full.tsv"
expect_exit 0 "rw-diff: gradients against themselves" rw-diff "$G/g_full.tsv" "$G/g_full.tsv"
expect_error "rw-plot: one kind of data a figure" 'a figure draws one kind of data' \
    rw-plot trajectory -o "$G/mix.png" "$G/w_full.tsv" "$G/g_relora.tsv"
# a table whose rows disagree (pasted together by hand)
{ cat "$G/g_full.tsv"; tail -n +2 "$G/g_relora.tsv" | sed 's/\ttrain\t/\tval\t/'; } >"$G/both.tsv"
expect_error "rw-compare: a table of train and val rows" \
    'both\.tsv: row [0-9]+ is of gradients \(val\), row 1 of gradients \(train\)' \
    rw-compare "$G/both.tsv"

# ------------------------------------------------------------ the spectra file
expect_exit 0 "rw-spectra --data gradients" \
    rw-spectra --data gradients -o "$G/s.h5" "$FR" "$RL"
expect_exit 0 "rw-rank of the spectra file of gradients" rw-rank "$G/s.h5"
{ head -1 "$G/g_full.tsv"; tail -n +2 "$G/g_full.tsv"; tail -n +2 "$G/g_relora.tsv"; } |
    { IFS= read -r h; printf '%s\n' "$h"; sort; } >"$G/g_both.tsv"
{ IFS= read -r h <"$TMP/out"; printf '%s\n' "$h"; tail -n +2 "$TMP/out" | sort; } >"$G/s_rank.tsv"
check "the spectra file gives the table of the checkpoints (data and split included)" \
    cmp -s "$G/g_both.tsv" "$G/s_rank.tsv"
expect_error "a spectra file of gradients is not weights" \
    'rw-rank: .*s\.h5: holds spectra of gradients, not of weights \(--data\)' \
    rw-rank --data weights "$G/s.h5"
expect_error "nor the other split" 'holds gradients of the train split, not val' \
    rw-rank --data gradients --split val "$G/s.h5"
expect_exit 0 "rw-spectra's long table of the file of gradients" rw-spectra -o "$G/gl.tsv" "$G/s.h5"
check "the long table of gradients: data and split after kind" \
    [ "$(head -1 "$G/gl.tsv" | cut -f7-9)" = "kind	data	split" ]
expect_exit 0 "rw-spectra's long table of weights" rw-spectra -o "$G/wl.tsv" "$FR"
expect_error "rw-plot spectrum: weights and gradients not in one figure" \
    'wl\.tsv holds weights, .*gl\.tsv gradients \(train\): a figure draws one kind of data' \
    rw-plot spectrum -o "$G/mix.png" "$G/gl.tsv" "$G/wl.tsv"
expect_exit 0 "rw-spectra of the weights into the same file" rw-spectra -o "$G/s.h5" "$FR" "$RL"
check "the cache of gradients is not reused for weights" \
    grep -q 'written with other options (data gradients -> none, split train -> none)' "$TMP/err"
expect_exit 0 "rw-rank of the file of weights" rw-rank "$G/s.h5"
check "... a table of weights again" sh -c "! head -1 '$TMP/out' | grep -qw data"

# ------------------------------------------------------------ OV of gradients
expect_exit 0 "rw-metrics --data gradients --component ov,wo_wv" \
    rw-metrics --data gradients --component ov,wo_wv "$FR"
cp "$TMP/out" "$G/g_ov.tsv"
check "gradients' ov: d x (heads d) = 96 x 1152 (pico-analyze's order)" \
    [ "$(awk -F'\t' '$6=="ov"{print $7"x"$8}' "$G/g_ov.tsv" | sort -u)" = "96x1152" ]
expect_exit 0 "rw-metrics --component wo_wv of the weights" rw-metrics --component wo_wv "$FR"
cp "$TMP/out" "$G/w_wo.tsv"
# G = -0.5 W for both: O G_V + G_O V = -O V, so the sigmas are the weights'
for m in sigma_max per erank stable_rank fro nuc; do
    a=$(col "$G/w_wo.tsv" "$m" | tr '\n' ' ')
    b=$(awk -F'\t' -v m="$m" 'NR==1{for(i=1;i<=NF;i++) if($i==m) c=i; next} $6=="wo_wv"{print $c}' \
        "$G/g_ov.tsv" | tr '\n' ' ')
    ok_all=1
    set -- $b
    for x in $a; do close_rel "$x" "$1" 1e-12 || ok_all=0; shift; done
    check "gradients' wo_wv = -(W_O W_V): $m to 1e-12" [ "$ok_all" = 1 -a -n "$a" ]
done
mkdir -p "$G/nomodel/step_100/learning_dynamics"
cp "$FR/checkpoints/step_100/learning_dynamics/train_gradients.pt" \
    "$G/nomodel/step_100/learning_dynamics/"
expect_error "the OV of gradients needs the step's model" \
    'formed with the weights of their step, and its folder has no model file' \
    rw-metrics --data gradients --component ov "$G/nomodel/step_100"

# ------------------------------------------------------------ ov_base, ov_lora
expect_exit 0 "rw-metrics --component ov,ov_base,ov_lora (s = 2)" \
    rw-metrics --lora-scale 2 --component ov,ov_base,ov_lora "$G/h5/relora"
cp "$TMP/out" "$G/lo2.tsv"
expect_exit 0 "... (s = 4)" rw-metrics --lora-scale 4 --component ov_base,ov_lora "$G/h5/relora"
cp "$TMP/out" "$G/lo4.tsv"
pick() { awk -F'\t' -v c="$2" -v m="$3" 'NR==1{for(i=1;i<=NF;i++) if($i==m) k=i; next}
         $6==c{print $2, $3, $k}' "$1"; }
check "ov_lora at step 0: the zero matrix (fresh adapters, B = 0)" \
    [ "$(pick "$G/lo2.tsv" ov_lora fro | awk '$1==0{print $3}' | sort -u)" = 0 ]
check "ov_base = ov at step 0" \
    [ "$(pick "$G/lo2.tsv" ov_base per | awk '$1==0')" = "$(pick "$G/lo2.tsv" ov per | awk '$1==0')" ]
check "ov_base does not depend on s" \
    [ "$(pick "$G/lo2.tsv" ov_base sigma_max)" = "$(pick "$G/lo4.tsv" ov_base sigma_max)" ]
ok_all=1 n=0
while read -r s2 s4; do
    n=$((n + 1))
    close_rel "$(awk -v a="$s2" 'BEGIN{printf "%.17g", 4*a}')" "$s4" 1e-12 || ok_all=0
done < <(paste <(pick "$G/lo2.tsv" ov_lora sigma_max | awk '$1>0{print $3}') \
               <(pick "$G/lo4.tsv" ov_lora sigma_max | awk '$1>0{print $3}'))
check "ov_lora's sigma_max scales as s^2 (s 2 -> 4: x4, $n rows)" [ "$ok_all" = 1 -a "$n" -gt 0 ]
check "ov_lora's per does not depend on s" \
    [ "$(pick "$G/lo2.tsv" ov_lora per)" = "$(pick "$G/lo4.tsv" ov_lora per)" ]
expect_error "no ov_base in a full-rank run" 'no matrix matches the selection' \
    rw-metrics --component ov_base "$G/h5/full-rank"
