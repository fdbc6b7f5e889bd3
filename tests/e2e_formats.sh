# e2e_formats.sh — what researchers save, read as they save it: the fixture
# runs written by rw-fixture in every layout (HDF5; torch.save state dicts;
# checkpoint dicts with the step and LoRA scale inside; HF checkpoint-N
# folders with pytorch_model.bin beside the trainer's state, also sharded as
# pytorch_model.bin.index.json and its shards; pico-train run folders) give
# the same numbers to 1e-12, OV circuits with heads from config.json;
# pico-train's gradients through --data gradients; the latest link, run
# names, step-like names; sharded models whose index and shards disagree;
# --key; rw-ls's use, lora_scale and scale_from columns; and the PyTorch
# files PyTorch itself wrote in ../shared/realdata/torch-files (skipped
# when absent).
# Sourced by tests/e2e.sh (helpers: e2e_lib.sh).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

F="$TMP/formats"
mkdir -p "$F"
for l in h5 pt pt-dict hf-bin hf-bin-sharded pico; do
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
same_as_h5 hf-bin-sharded --lora-scale 4 "$F/hf-bin-sharded/full-rank" "$F/hf-bin-sharded/relora"
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

# Sharded HF models: the index is the checkpoint, its shards are not.
expect_exit 0 "rw-ls of a sharded HF run folder" rw-ls "$F/hf-bin-sharded/relora"
check "sharded: one checkpoint per step, the index" \
    [ "$(col "$TMP/out" file | sort -u | sed 's|.*/||' | sort -u)" = "pytorch_model.bin.index.json" ]
check "sharded: steps from checkpoint-N" \
    [ "$(col "$TMP/out" step | sort -un | tr '\n' ' ')" = "0 100 200 300 " ]
check "sharded: as many tensors as the single file" \
    [ "$(wc -l <"$TMP/out")" -eq "$(rw-ls "$F/hf-bin/relora" | wc -l)" ]
B="$F/badshard"
cp -r "$F/hf-bin-sharded/relora/checkpoint-100" "$B"
sed -i 's/^\(\s*\)"embedding_proj\.weight":\(.*\),$/&\n\1"ghost.weight":\2,/' \
    "$B/pytorch_model.bin.index.json"
expect_error "sharded: a tensor the index names but its shard lacks" \
    "^rw-ls: $B/pytorch_model.bin.index.json: weight_map puts ghost\.weight in pytorch_model-0000[12]-of-00002\.bin, which does not hold it\$" \
    rw-ls "$B/pytorch_model.bin.index.json"
cp "$F/hf-bin-sharded/relora/checkpoint-100/pytorch_model.bin.index.json" "$B/"
grep -v '"layers.0.attention.q_proj.weight"' "$B/pytorch_model.bin.index.json" >"$B/x.json"
mv "$B/x.json" "$B/pytorch_model.bin.index.json"
expect_error "sharded: a tensor of a shard the index does not list" \
    "^rw-rank: $B/pytorch_model.bin.index.json: pytorch_model-00001-of-00002\.bin holds layers\.0\.attention\.q_proj\.weight, which weight_map does not list\$" \
    rw-rank "$B"
cp "$F/hf-bin-sharded/relora/checkpoint-100/pytorch_model.bin.index.json" "$B/"
rm "$B/pytorch_model-00002-of-00002.bin"
expect_error "sharded: a missing shard" \
    "^rw-ls: $B/pytorch_model.bin.index.json: weight_map names shard $B/pytorch_model-00002-of-00002\.bin, which does not exist\$" \
    rw-ls "$B"
cp "$F/hf-bin-sharded/relora/checkpoint-100/pytorch_model-00001-of-00002.bin" \
    "$B/pytorch_model-00002-of-00002.bin"
expect_error "sharded: a tensor in two shards" \
    "^rw-ls: $B/pytorch_model.bin.index.json: .* is in two shards, $B/pytorch_model-00001-of-00002\.bin and $B/pytorch_model-00002-of-00002\.bin\$" \
    rw-ls "$B"

# --key: the state dict of a checkpoint dict by its key path.
expect_exit 0 "rw-rank --key model on checkpoint dicts" \
    rw-rank --component all --key model "$F/pt-dict/full-rank" "$F/pt-dict/relora"
cp "$TMP/out" "$F/key.tsv"
expect_exit 0 "--key model: the automatic choice's numbers" \
    rw-diff --rtol 0 --atol 0 "$F/pt-dict.tsv" "$F/key.tsv"
expect_error "--key naming nothing" \
    "^rw-rank: .*/ckpt_000000\.pt: key 'ema\.model' \(--key\) names no entry of the saved object\$" \
    rw-rank --key ema.model "$F/pt-dict/relora"
expect_error "--key naming no dict of tensors" \
    "^rw-ls: .*/ckpt_000100\.pt: key 'step' \(--key\) names an integer, not a dict of tensors\$" \
    rw-ls --key step "$F/pt-dict/relora/ckpt_000100.pt"
expect_exit 2 "--key: an empty key is a usage error" rw-rank --key 'ema..model' "$F/pt-dict/relora"
check "--key: the message names the value" grep -q "'ema..model' is not a key path" "$TMP/err"
expect_exit 0 "--key is in the shared options' help" rw-metrics --help
check "--help tells --key" grep -q -- '--key PATH' "$TMP/out"

# rw-ls: how each tensor is used, and the adapter scale with its source.
ls_scale() {  # ls_scale DESCRIPTION WANT rw-ls-args...: WANT = "scale source" of the factors
    local d=$1 want=$2; shift 2
    expect_exit 0 "rw-ls $d" rw-ls "$@"
    check "rw-ls $d: adapter factors scaled '$want'" \
        [ "$(awk -F'\t' 'NR>1 && $11=="adapter factor" {print $12, $13}' "$TMP/out" | sort -u)" = "$want" ]
    check "rw-ls $d: every lora_A/B an adapter factor, nothing else" \
        [ "$(awk -F'\t' 'NR>1 && ($4 ~ /[AB]_lora/) != ($11=="adapter factor")' "$TMP/out" | wc -l)" -eq 0 ]
    check "rw-ls $d: no scale on other rows" \
        [ "$(awk -F'\t' 'NR>1 && $11!="adapter factor" && ($12!="" || $13!="")' "$TMP/out" | wc -l)" -eq 0 ]
}
ls_scale "of HDF5 attributes" "4 attributes" "$F/h5/relora"
ls_scale "of a checkpoint dict's entries" "4 metadata" "$F/pt-dict/relora"
ls_scale "with --lora-scale" "2.5 --lora-scale" --lora-scale 2.5 "$F/pt/relora"
ls_scale "of a bare state dict" "1 default" "$F/hf-bin-sharded/relora"
check "rw-ls: the header ends with use, lora_scale, scale_from, prefix" \
    [ "$(head -1 "$TMP/out" | cut -f11-)" = "use	lora_scale	scale_from	prefix" ]
expect_exit 0 "rw-ls of a full-rank run" rw-ls "$F/h5/full-rank"
check "rw-ls: no adapter factor in a full-rank run" sh -c "! grep -q 'adapter factor' '$TMP/out'"

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
# (rw-diff refuses weights against gradients: compared here on purpose,
# the data and split columns cut off)
check "gradients: data and split after dtype" \
    [ "$(head -1 "$F/grad.tsv" | cut -f10,11)" = "data	split" ]
cut -f1-9,12- "$F/grad.tsv" >"$F/grad_cut.tsv"
expect_exit 0 "gradients' per, erank and stable_rank are the weights' (1e-12)" \
    rw-diff --rtol 1e-12 --atol 0 --metrics per,erank,stable_rank,entropy "$F/gw.tsv" "$F/grad_cut.tsv"
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

# Two run folders of one name are two runs, named with their parents.
mkdir -p "$F/exp1" "$F/exp2" "$F/x/a" "$F/y/a"
cp -r "$F/pt/full-rank" "$F/exp1/ckpts"
cp -r "$F/pt/relora" "$F/exp2/ckpts"
expect_exit 0 "two folders named ckpts" rw-ls "$F/exp1/ckpts" "$F/exp2/ckpts"
check "they are the runs exp1/ckpts and exp2/ckpts" \
    [ "$(col "$TMP/out" run | sort -u | tr '\n' ' ')" = "exp1/ckpts exp2/ckpts " ]
cp -r "$F/pt/full-rank" "$F/x/a/ckpts"
cp -r "$F/pt/relora" "$F/y/a/ckpts"
expect_exit 2 "two folders a/ckpts: a usage error" rw-ls "$F/x/a/ckpts" "$F/y/a/ckpts"
check "it says to name them" grep -q "would both be named 'ckpts': name them (NAME=PATH" "$TMP/err"
expect_exit 0 "named with NAME=PATH, they are two runs" rw-ls "p=$F/x/a/ckpts" "q=$F/y/a/ckpts"

# rw-spectra says why a spectra file there is not reused.
expect_exit 0 "rw-spectra of the pt runs" rw-spectra --lora-scale 4 -o "$F/sp.h5" "$F/pt/full-rank"
expect_exit 0 "rw-spectra again with --updates" rw-spectra --lora-scale 4 --updates -o "$F/sp.h5" "$F/pt/full-rank"
check "it says which option changed" grep -q "sp.h5: written with other options (updates 0 -> 1): every checkpoint is decomposed again" "$TMP/err"

expect_exit 0 "rw-ls of a spectra file" rw-ls "$F/sp.h5"
check "a spectra file is listed as its spectra, not as HDF5 datasets" \
    sh -c "grep -q 'spectrum of the update (weight)' '$TMP/out' && ! grep -q 'index\.' '$TMP/out'"
expect_exit 2 "rw-ls of a spectra file with a run: a usage error" rw-ls "$F/sp.h5" "$F/pt/full-rank"

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
    check "PEFT bin: the scale from adapter_config.json" \
        [ "$(col "$TMP/out" scale_from | sort -u | grep .)" = adapter_config.json ]
    expect_exit 0 "rw-ls on the checkpoint dict" rw-ls "$T/checkpoint_dict_000100.pt"
    check "checkpoint dict: the optimizer's moments listed as optimizer state" \
        [ "$(awk -F'\t' '$4=="optimizer.state.0.exp_avg" {print $11}' "$TMP/out")" = optimizer ]
    expect_exit 0 "rw-rank on the checkpoint dict" rw-rank "$T/checkpoint_dict_000100.pt"
    check "checkpoint dict: optimizer state not analysed by default" \
        sh -c "! grep -q optimizer '$TMP/out'"
    expect_exit 0 "rw-rank --include optimizer.*" rw-rank --include 'optimizer.*' "$T/checkpoint_dict_000100.pt"
    check "--include selects the optimizer state" grep -q 'optimizer\.state\.0\.exp_avg' "$TMP/out"
else
    skip "no $T: the files PyTorch wrote are not checked"
fi
