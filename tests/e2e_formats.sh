# e2e_formats.sh — what researchers save, read as they save it: the fixture
# runs written by rw-fixture in every layout (HDF5; torch.save state dicts;
# checkpoint dicts with the step and LoRA scale inside; HF checkpoint-N
# folders with pytorch_model.bin beside the trainer's state; pico-train run
# folders) give the same numbers to 1e-12, OV circuits with heads from
# config.json; pico-train's gradients through --data gradients; the latest
# link, run names, step-like names; and the PyTorch files PyTorch itself
# wrote in ../shared/realdata/torch-files (skipped when absent).
# Sourced by tests/e2e.sh (helpers: e2e_lib.sh).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

F="$TMP/formats"
mkdir -p "$F"
for l in h5 pt pt-dict hf-bin pico; do
    expect_exit 0 "rw-fixture runs --layout $l" \
        rw-fixture runs --layout "$l" -o "$F/$l" --steps 300 --every 100 --cycle 200 --layers 2
done

# The reference: HDF5, whose attributes carry the heads and the LoRA scale.
expect_exit 0 "rw-rank on the HDF5 runs" rw-rank --component all "$F/h5/full-rank" "$F/h5/relora"
cp "$TMP/out" "$F/h5.tsv"
check "HDF5 runs: OV circuits present" grep -qP '\tattention\.ov\tov\t' "$F/h5.tsv"

# Each layout: the same rows and values (s = 32/8 = 4 given as a flag where
# the layout cannot carry it: PyTorch state dicts, HF bins, pico-train).
same_as_h5() {  # same_as_h5 NAME rw-rank-args...
    local name=$1; shift
    expect_exit 0 "rw-rank on the $name runs" rw-rank --component all "$@"
    cp "$TMP/out" "$F/$name.tsv"
    expect_exit 0 "$name: the numbers of the HDF5 runs to 1e-12" \
        rw-diff --rtol 1e-12 --atol 0 "$F/h5.tsv" "$F/$name.tsv"
}
same_as_h5 pt --lora-scale 4 "$F/pt/full-rank" "$F/pt/relora"
same_as_h5 pt-dict "$F/pt-dict/full-rank" "$F/pt-dict/relora"
same_as_h5 hf-bin --lora-scale 4 "$F/hf-bin/full-rank" "$F/hf-bin/relora"
same_as_h5 pico --lora-scale 4 "$F/pico/runs/full-rank" "$F/pico/runs/relora/checkpoints"
check "pt: OV circuits with heads from config.json" grep -qP '\tattention\.ov\tov\t' "$F/pt.tsv"
check "pico: OV circuits with heads from config.json" grep -qP '\tattention\.wo_wv\two_wv\t' "$F/pico.tsv"
check "pt-dict: the LoRA scale from the checkpoint dict (lora rows as in HDF5)" \
    grep -qP '^relora\t100\t.*\tlora\t' "$F/pt-dict.tsv"

# Run names and steps from the folders: runs/<run> and runs/<run>/checkpoints
# are the run <run>; latest (a link to the last step) is skipped.
check "pico: runs named by their run folder" \
    [ "$(col "$F/pico.tsv" run | sort -u | tr '\n' ' ')" = "full-rank relora " ]
check "pico: steps 0..300 from step_N folders, latest not counted twice" \
    [ "$(col "$F/pico.tsv" step | sort -un | tr '\n' ' ')" = "0 100 200 300 " ]
expect_exit 0 "rw-ls of latest/model.safetensors alone" \
    rw-ls "$F/pico/runs/full-rank/checkpoints/latest/model.safetensors"
check "latest/model.safetensors is the step it links to (300), run full-rank" \
    [ "$(col "$TMP/out" step | sort -u)-$(col "$TMP/out" run | sort -u)" = "300-full-rank" ]
expect_exit 0 "rw-ls of an HF run folder" rw-ls "$F/hf-bin/relora"
check "HF: the trainer's optimizer.pt and training_args.bin are not checkpoints" \
    sh -c "! grep -qE 'optimizer\.pt|training_args\.bin' '$TMP/out'"
check "HF: steps from checkpoint-N" \
    [ "$(col "$TMP/out" step | sort -un | tr '\n' ' ')" = "0 100 200 300 " ]

# pico-train's gradients: -0.5 x the weights, so their scale-free metrics
# are the weights' (names without ".weight", as pico-train writes them).
expect_exit 0 "rw-metrics --data gradients on a pico-train run" \
    rw-metrics --data gradients "$F/pico/runs/full-rank"
cp "$TMP/out" "$F/grad.tsv"
check "gradients: 3 matrices per layer and step (v_proj, o_proj, w_2)" \
    [ "$(($(wc -l <"$F/grad.tsv") - 1))" -eq $((3 * 2 * 4)) ]
expect_exit 0 "rw-metrics on the same weights" \
    rw-metrics --include '*v_proj*' --include '*o_proj*' --include '*w_2*' "$F/pico/runs/full-rank"
cp "$TMP/out" "$F/gw.tsv"
sed -i 's/\.weight\t/\t/g' "$F/gw.tsv"
expect_exit 0 "gradients' per, erank and stable_rank are the weights' (1e-12)" \
    rw-diff --rtol 1e-12 --atol 0 --metrics per,erank,stable_rank,entropy "$F/gw.tsv" "$F/grad.tsv"
expect_error "--data gradients on a folder without learning dynamics" \
    'rw-rank: .*learning_dynamics/train_gradients\.pt' rw-rank --data gradients "$F/hf-bin/relora"
expect_exit 2 "--data: an unknown value is a usage error" \
    rw-rank --data grads "$F/pico/runs/full-rank"
check "--data: the message names the value" grep -q "'grads' is not weights or gradients" "$TMP/err"

# Steps only from step-like names: two step-less files in one folder are an
# error that names one and says how to go on.
mkdir -p "$F/nosteps"
cp "$F/pt/full-rank/step_000000.pt" "$F/nosteps/KERAS_3layer_weights.pt"
cp "$F/pt/full-rank/step_000100.pt" "$F/nosteps/gpt2-base.pt"
expect_error "two step-less files in one run" \
    'rw-ls: .*(KERAS_3layer_weights|gpt2-base)\.pt: no step .*NAME=PATH' rw-ls "$F/nosteps"
expect_exit 0 "one step-less file alone is step 0" rw-ls "$F/nosteps/gpt2-base.pt"
check "a step-less file alone: step 0" [ "$(col "$TMP/out" step | sort -u)" = 0 ]

# Files PyTorch wrote itself.
T=../shared/realdata/torch-files
if [ -d "$T" ]; then
    expect_exit 0 "rw-rank on torch.save state dict, legacy, HF bin and checkpoint dict" \
        rw-rank "s=$T/state_dict_step_000100.pt" "l=$T/legacy_step_000100.pt" \
        "h=$T/checkpoint-100/pytorch_model.bin" "c=$T/checkpoint_dict_000100.pt"
    cp "$TMP/out" "$F/torch.tsv"
    for r in l h c; do
        awk -F'\t' -v r=$r 'NR==1||$1==r' "$F/torch.tsv" | sed "s/^$r\t/s\t/" >"$F/torch_$r.tsv"
        awk -F'\t' 'NR==1||$1=="s"' "$F/torch.tsv" >"$F/torch_s.tsv"
        expect_exit 0 "torch files: run $r has the numbers of the state dict" \
            rw-diff --rtol 0 --atol 0 "$F/torch_s.tsv" "$F/torch_$r.tsv"
    done
    check "torch files: the checkpoint dict's step entry (100)" \
        [ "$(awk -F'\t' '$1=="c"{print $2}' "$F/torch.tsv" | sort -u)" = 100 ]
    expect_exit 0 "rw-ls on PEFT's adapter_model.bin" rw-ls "$T/checkpoint-100/adapter_model.bin"
    check "PEFT bin: the adapter factors listed" grep -q 'q_proj.lora_A.weight' "$TMP/out"
    expect_exit 0 "rw-ls on the checkpoint dict" rw-ls "$T/checkpoint_dict_000100.pt"
    check "checkpoint dict: the optimizer's moments listed as optimizer state" \
        grep -qP '\toptimizer\.state\.0\.exp_avg\t.*\toptimizer$' "$TMP/out"
    expect_exit 0 "rw-rank on the checkpoint dict" rw-rank "$T/checkpoint_dict_000100.pt"
    check "checkpoint dict: optimizer state not analysed by default" \
        sh -c "! grep -q optimizer '$TMP/out'"
    expect_exit 0 "rw-rank --include optimizer.*" rw-rank --include 'optimizer.*' "$T/checkpoint_dict_000100.pt"
    check "--include selects the optimizer state" grep -q 'optimizer\.state\.0\.exp_avg' "$TMP/out"
else
    skip "no $T: the files PyTorch wrote are not checked"
fi
