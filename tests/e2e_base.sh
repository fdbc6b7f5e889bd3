# e2e_base.sh — a separate base model for adapter-only checkpoints: the
# fixture's ReLoRA checkpoints (frozen base + A_lora/B_lora in one file)
# split as PEFT saves them (rw-fixture peft: checkpoint-N/adapter_model.
# safetensors, the base in a file of its own) give, with --base, the numbers
# of the combined files to 1e-12 — weights, updates, updates since the first
# step, the spectra file; a base stored transposed likewise; a base beside
# each adapter (checkpoint-N/model.safetensors) follows ReLoRA's merges;
# rw-ls says where the base came from; errors name the files; and PyTorch's
# own checkpoint-100/ (adapter_model.bin beside pytorch_model.bin) in
# ../shared/realdata/torch-files (skipped when absent).
# Sourced by tests/e2e.sh (helpers: e2e_lib.sh).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

B="$TMP/base"
mkdir -p "$B"
# --cycle beyond --steps: no merge, so one base serves every step.
expect_exit 0 "rw-fixture runs (one ReLoRA cycle)" \
    rw-fixture runs -o "$B/fx" --steps 300 --every 100 --cycle 400 --layers 2
expect_exit 0 "rw-fixture peft: the adapters and the base apart" \
    rw-fixture peft -o "$B/split" "$B"/fx/relora/step_*.h5
check "peft: adapter-only files and one base file" \
    [ -f "$B/split/lora/checkpoint-300/adapter_model.safetensors" ] && [ -f "$B/split/base/model.safetensors" ]
expect_exit 0 "rw-ls of the adapter-only run" rw-ls "$B/split/lora"
check "the adapter-only files hold no base" \
    sh -c "! grep -qP '\\tlayers\\.0\\.attention\\.q_proj\\.weight\\t' '$TMP/out'"

# The same table, with the split run's PEFT names (base_model.model.) and
# label as the combined run's.
peft_names() { sed -e 's/base_model\.model\.//g' "$1" >"$2"; }
same_numbers() {  # same_numbers DESCRIPTION PROGRAM ARGS...: combined vs --base
    local d=$1; shift
    expect_exit 0 "$d: the combined run" "$@" "$B/fx/relora"
    cp "$TMP/out" "$B/combined.tsv"
    expect_exit 0 "$d: the adapters with --base" \
        "$@" --base "$B/split/base/model.safetensors" "relora=$B/split/lora"
    peft_names "$TMP/out" "$B/split.tsv"
    expect_exit 0 "$d: --base gives the combined numbers to 1e-12" \
        rw-diff --rtol 1e-12 --atol 0 "$B/combined.tsv" "$B/split.tsv"
}
same_numbers "weights" rw-metrics --component all
check "weights: base, full and lora of every adapted matrix, OV (ov_base, ov_lora too) from the base's config.json" \
    [ "$(col "$B/split.tsv" component | sort -u | tr '\n' ' ')" = "base full lora ov ov_base ov_lora weight wo_wv " ]
same_numbers "updates" rw-updates --component all
same_numbers "updates since the first step" rw-updates --from first --component all
# Since the first step, full is W + s·B·A(t) - (W + s·B·A(first)) and lora
# s·B·A(t) - s·B·A(first): one base at every step, so the same matrix; and
# without --base the adapters alone give that lora (not s·B·A itself).
awk -F'\t' 'NR>1 && ($6=="full" || $6=="lora") && $3 ~ /q_proj/ {print $2, $3, $6, $10, $13, $19}' \
    "$B/split.tsv" | sort >"$B/ff.txt"
check "--from first with --base: full and lora have the same sigma_max, num_rank, fro (W cancels)" \
    test -z "$(awk '{k=$1 " " $2; if (k in a) { split(a[k], p, " ")
        for (i=1;i<=3;i++) { x=p[i]; y=(i==1?$4:i==2?$5:$6); if (x - y > 1e-9*x || y - x > 1e-9*x) print k } }
        else a[k]=$4 " " $5 " " $6 }' "$B/ff.txt")"
check "--from first: full and lora rows of q_proj's 2 layers, from the second step on" \
    test "$(awk '{print $1}' "$B/ff.txt" | sort -un | tr '\n' ' ')$(wc -l <"$B/ff.txt")" = "100 200 300 12"
expect_exit 0 "--from first of the adapters alone" \
    rw-updates --from first --component lora "relora=$B/split/lora"
peft_names "$TMP/out" "$B/lff.tsv"
awk -F'\t' 'NR==1 || $6=="lora"' "$B/split.tsv" >"$B/lff_base.tsv"
expect_exit 0 "--from first: the adapters alone give --base's lora to 1e-12" \
    rw-diff --rtol 1e-12 --atol 0 "$B/lff_base.tsv" "$B/lff.tsv"
check "updates: base does not move (the base is the same at every step)" \
    [ "$(awk -F'\t' 'NR>1 && $6=="base" {print $10}' "$B/split.tsv" | sort -u)" = 0 ]

# Through the spectra file: the same updates.
expect_exit 0 "rw-spectra --updates with --base" \
    rw-spectra --updates --component all --base "$B/split/base/model.safetensors" \
    -o "$B/split.h5" "relora=$B/split/lora"
expect_exit 0 "rw-updates from that spectra file" rw-updates --component all "$B/split.h5"
peft_names "$TMP/out" "$B/split_spectra.tsv"
expect_exit 0 "rw-spectra: the combined updates to 1e-12" \
    rw-updates --component all "$B/fx/relora"
cp "$TMP/out" "$B/combined.tsv"
expect_exit 0 "rw-spectra with --base: the numbers of the combined run" \
    rw-diff --rtol 1e-12 --atol 0 "$B/combined.tsv" "$B/split_spectra.tsv"
expect_exit 0 "rw-spectra again: the cache is kept under the same --base" \
    rw-spectra --updates --component all --base "$B/split/base/model.safetensors" \
    -o "$B/split.h5" "relora=$B/split/lora"
check "rw-spectra again: every checkpoint reused" grep -q '0 decomposed, 4 reused' "$TMP/err"
cp "$B/split/base/model.safetensors" "$B/base-copy.safetensors"
expect_exit 0 "rw-spectra with another --base" \
    rw-spectra --updates --component all --base "$B/base-copy.safetensors" \
    -o "$B/split.h5" "relora=$B/split/lora"
check "rw-spectra with another --base: nothing reused" sh -c "! grep -q reused '$TMP/err'"

# A base stored in x out (GPT-2's Conv1D layers; fan_in_fan_out in
# adapter_config.json decides the square ones): the same full and lora.
expect_exit 0 "rw-fixture peft --transposed" \
    rw-fixture peft --transposed -o "$B/splitT" "$B"/fx/relora/step_*.h5
expect_exit 0 "transposed: the combined run" rw-metrics --component full,lora "$B/fx/relora"
cp "$TMP/out" "$B/combined.tsv"
expect_exit 0 "transposed: the adapters with --base" rw-metrics --component full,lora \
    --base "$B/splitT/base/model.safetensors" "relora=$B/splitT/lora"
peft_names "$TMP/out" "$B/splitT.tsv"
expect_exit 0 "transposed base: full and lora as the combined run's to 1e-12" \
    rw-diff --rtol 1e-12 --atol 0 "$B/combined.tsv" "$B/splitT.tsv"

# rw-ls: the base's tensors, with the file they come from.
expect_exit 0 "rw-ls --base" rw-ls --base "$B/split/base/model.safetensors" "$B/split/lora"
check "rw-ls --base: the base tensors used, from the base file" \
    [ "$(awk -F'\t' '$11=="base" {print $3}' "$TMP/out" | sort -u)" = "$B/split/base/model.safetensors" ]
check "rw-ls --base: one base row per adapted matrix and step (2 layers x 7, 4 steps)" \
    [ "$(awk -F'\t' '$11=="base"' "$TMP/out" | wc -l)" -eq 56 ]
check "rw-ls --base: the base of q_proj by its name in the base file" \
    grep -qP '^lora\t300\t.*/base/model\.safetensors\tlayers\.1\.attention\.q_proj\.weight\t1\t.*\tbase\t\t\t[^\t]*$' "$TMP/out"

# ReLoRA merges: one base cannot serve two cycles; a base beside each
# adapter (as HF folders hold it) can, and gives the combined numbers.
expect_exit 0 "rw-fixture runs (two ReLoRA cycles)" \
    rw-fixture runs -o "$B/fx2" --steps 300 --every 100 --cycle 200 --layers 2
expect_error "peft: one base for steps a merge separates" \
    'rw-fixture: .*step_000200\.h5: .*the base differs from the first step' \
    rw-fixture peft -o "$B/bad" "$B"/fx2/relora/step_*.h5
expect_exit 0 "rw-fixture peft --beside" \
    rw-fixture peft --beside -o "$B/splitB" "$B"/fx2/relora/step_*.h5
for p in rw-metrics rw-updates; do
    expect_exit 0 "beside, $p: the combined run" $p --component all "$B/fx2/relora"
    cp "$TMP/out" "$B/combined.tsv"
    expect_exit 0 "beside, $p: the adapters" $p --component all "relora=$B/splitB/lora"
    peft_names "$TMP/out" "$B/splitB.tsv"
    expect_exit 0 "beside, $p: the base beside each adapter gives the combined numbers" \
        rw-diff --rtol 1e-12 --atol 0 "$B/combined.tsv" "$B/splitB.tsv"
done
expect_exit 0 "rw-ls of adapters with their bases beside" rw-ls "$B/splitB/lora"
check "beside: one checkpoint per step, the model file is the base" \
    [ "$(awk -F'\t' 'NR>1 && $11!="base" {print $3}' "$TMP/out" | sed 's|.*/||' | sort -u)" = adapter_model.safetensors ]
check "beside: rw-ls names checkpoint-200/model.safetensors as the base at step 200" \
    grep -qP '^lora\t200\t.*/checkpoint-200/model\.safetensors\t.*\tbase\t\t\t[^\t]*$' "$TMP/out"

# Errors and warnings.
expect_error "--base that does not exist" "rw-rank: --base: .*/nothing\.safetensors" \
    rw-rank --base "$B/nothing.safetensors" "$B/split/lora"
expect_exit 0 "rw-fixture known (other tensor names)" rw-fixture known -o "$B/known"
expect_error "--base without the adapted modules: both files and the tensor named" \
    "rw-rank: .*checkpoint-0/adapter_model\.safetensors: layers\.0\.attention\.k_proj\.weight: the base .*/known/step_000000\.h5 has no weight" \
    rw-rank --base "$B/known/known/step_000000.h5" "$B/split/lora"
expect_exit 0 "--base on a run without adapters" \
    rw-rank --base "$B/split/base/model.safetensors" "$B/fx/full-rank"
check "--base on a run without adapters: a warning that it was not used" \
    grep -q 'warning: --base .*: run full-rank has no adapter without its base' "$TMP/err"

# PyTorch's own files: PEFT's adapter_model.bin beside pytorch_model.bin.
T=$REALDATA/torch-files
if [ -n "$REALDATA" ] && [ -d "$T/checkpoint-100" ]; then
    expect_exit 0 "torch checkpoint-100/: adapter and model file in one folder" \
        rw-rank --component all "$T/checkpoint-100"
    cp "$TMP/out" "$B/beside.tsv"
    check "torch checkpoint-100/: one checkpoint, base, full and lora of q_proj" \
        [ "$(col "$B/beside.tsv" component | sort | tr '\n' ' ')" = "base full lora " ]
    expect_exit 0 "torch: the same adapter with --base the state dict (the same weights)" \
        rw-rank --component all --base "$T/state_dict_step_000100.pt" \
        "checkpoint-100=$T/checkpoint-100/adapter_model.bin"
    cp "$TMP/out" "$B/given.tsv"
    expect_exit 0 "torch: --base gives the numbers of the base beside" \
        rw-diff --rtol 0 --atol 0 "$B/beside.tsv" "$B/given.tsv"
    expect_exit 0 "rw-ls of torch checkpoint-100/" rw-ls "$T/checkpoint-100"
    check "rw-ls: the base q_proj from pytorch_model.bin" \
        grep -qP '\t.*/checkpoint-100/pytorch_model\.bin\tlayers\.0\.attention\.q_proj\.weight\t.*\tbase\t\t\t[^\t]*$' "$TMP/out"
else
    skip "no $REALDATA/torch-files: PyTorch's checkpoint-100/ is not checked"
fi
