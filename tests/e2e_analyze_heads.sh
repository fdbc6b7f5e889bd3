# e2e_analyze_heads.sh — what the OV circuit and the LoRA scale were formed
# with, said: rw-spectra warns once a run when the heads are unknown and
# --component all leaves the OV circuit out; rw-ls --checkpoints gives each
# checkpoint's heads, kv heads and LoRA scale with their sources (attributes,
# config.json, the --base model's, --heads, '= heads', unknown; none
# without v_proj/o_proj);
# analyze.sh's report lists them under Assumptions, with the components,
# the stored dtypes and the rank rule, and shows the OV circuit once.
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

export RW_NO_INSTALL=1
fixture "$TMP/h5" runs --layers 2 --steps 200 --every 100 --cycle 100
fixture "$TMP/st" runs --layers 2 --steps 200 --every 100 --cycle 100 --layout safetensors
fixture "$TMP/hf" runs --layers 2 --steps 200 --every 100 --cycle 100 --layout hf-bin
fixture "$TMP/keras" keras

# rw-spectra: one warning a run, not one a checkpoint (3 checkpoints each).
expect_exit 0 "rw-spectra --component all without heads" \
    rw-spectra --updates --component all -o "$TMP/sp.h5" "$TMP/st/full-rank" "$TMP/st/relora"
check "one warning per run (2 runs of 3 checkpoints)" test "$(grep -c 'attention heads unknown' "$TMP/err")" -eq 2
check "the warning names the run and what is left out" grep -qx \
    "rw-spectra: warning: run full-rank: attention heads unknown (no n_heads attribute, no config.json, no --heads): the OV circuit is left out" \
    "$TMP/err"
check "no OV spectra written" test -z "$(rw-ls "$TMP/sp.h5" | awk -F'\t' '$11 ~ /\((ov|wo_wv)\)$/')"
expect_exit 0 "rw-spectra with --heads" \
    rw-spectra --component all --heads 12 --kv-heads 4 -o "$TMP/sp2.h5" "$TMP/st/full-rank"
check "with --heads: no warning about heads" test -z "$(grep 'heads unknown' "$TMP/err")"
expect_exit 0 "rw-rank --component all on HDF5 runs (heads in the attributes)" \
    rw-rank --component all "$TMP/h5/full-rank"
check "heads in the attributes: no warning" test -z "$(grep 'heads unknown' "$TMP/err")"
expect_exit 0 "rw-rank without --component all (no OV circuit asked for)" rw-rank "$TMP/st/full-rank"
check "no OV circuit asked for: no warning" test ! -s "$TMP/err"

# rw-ls --checkpoints: one row per checkpoint, the sources.
ckpts() {  # ckpts ARGS...: rw-ls --checkpoints, columns from heads on, unique
    rw-ls --checkpoints "$@" | awk -F'\t' 'NR > 1 {print $5 "|" $6 "|" $7 "|" $8 "|" $9 "|" $10}' | sort -u
}
check "rw-ls --checkpoints: the header" test "$(rw-ls --checkpoints "$TMP/h5/relora" | head -1)" = \
    "$(printf 'run\tstep\tunit\tfile\theads\tkv_heads\theads_from\tkv_heads_from\tlora_scale\tscale_from')"
check "rw-ls --checkpoints: one row per checkpoint" test "$(rw-ls --checkpoints "$TMP/h5/relora" | wc -l)" -eq 4
check "HDF5: heads and scale from the attributes" \
    test "$(ckpts "$TMP/h5/relora")" = "12|4|attributes|attributes|4|attributes"
check "HDF5 full-rank: no adapters, no scale" test "$(ckpts "$TMP/h5/full-rank")" = "12|4|attributes|attributes||"
check "hf-bin: heads from config.json" test "$(ckpts "$TMP/hf/full-rank")" = "12|4|config.json|config.json||"
check "safetensors: heads unknown, scale defaulted" test "$(ckpts "$TMP/st/relora")" = "||unknown|unknown|1|default"
check "--heads without --kv-heads: kv = heads" test "$(ckpts --heads 6 "$TMP/st/full-rank")" = "6|6|--heads|= heads||"
check "--heads and --kv-heads override the attributes" \
    test "$(ckpts --heads 6 --kv-heads 2 --lora-scale 0.5 "$TMP/h5/relora")" = "6|2|--heads|--kv-heads|0.5|--lora-scale"
check "no v_proj/o_proj (Keras): no heads" test "$(ckpts "$TMP/keras/keras2_weights.h5")" = "|||||"
# A PEFT adapter without config.json: the heads of its --base's config.json.
rw-fixture peft -o "$TMP/peft" "$TMP/h5/relora/step_000100.h5" >/dev/null 2>&1
printf '{"num_attention_heads": 12, "num_key_value_heads": 4}\n' >"$TMP/peft/base/config.json"
check "PEFT adapter: heads from the base's config.json" \
    test "$(ckpts --base "$TMP/peft/base/model.safetensors" "$TMP/peft/lora")" = \
    "12|4|base config.json|base config.json|4|adapter_config.json"
expect_exit 2 "rw-ls --checkpoints of a spectra file is a usage error" rw-ls --checkpoints "$TMP/sp.h5"
if [ -n "$REALDATA" ]; then
    check "PEFT GPT-2: the scale from adapter_config.json, no v_proj/o_proj" \
        test "$(ckpts "$REALDATA/gpt2-lora-steps/checkpoint-500")" = "||||4|adapter_config.json"
else
    skip "no ../shared/realdata: the PEFT run's scale source not checked"
fi

# analyze.sh: the assumptions.
rep="$TMP/rep-st/report.md"
./analyze.sh "$TMP/st/full-rank" "$TMP/st/relora" -o "$TMP/rep-st" >"$TMP/log" 2>&1
check "analyze.sh on runs without heads exits 0" test $? -eq 0
check "analyze.sh passes rw-spectra's warning on, once per run" test "$(grep -c 'heads unknown' "$TMP/log")" -eq 2
check "the report has an Assumptions section" grep -qx "## Assumptions" "$rep"
check "the report says the OV circuit is left out, and why" grep -qF -- \
    '- Attention heads of `relora`, for the OV circuit (`attention.ov`, `attention.wo_wv`): unknown (no n_heads attribute, no config.json, no --heads): the OV circuit is left out (give --heads and --kv-heads).' "$rep"
check "the report says s = 1 was assumed" grep -qF -- \
    '- LoRA scale of `relora`: s = 1 assumed (no --lora-scale, lora_alpha and lora_r, or adapter_config.json).' "$rep"
check "no LoRA scale for the run without adapters" test -z "$(grep 'LoRA scale of `full-rank`' "$rep")"
check "the components of the tables" grep -qF -- \
    '- Components in the tables: `weight` (plain matrices), `base` (W, the frozen base of an adapter), `lora` (s·B·A), `full` (W + s·B·A); the summaries and figures show `weight`, `full`.' "$rep"
check "the stored dtypes with their unit round-off" grep -qxF -- '- Stored dtypes: float32 (u = 2^-24).' "$rep"
check "the rank rule" grep -q '^- Rank rule: `num_rank` counts the singular values above what rounding' "$rep"
check "the checkpoints table is linked" grep -qF '[`tables/checkpoints.tsv`](tables/checkpoints.tsv)' "$rep"
check "tables/checkpoints.tsv: a row per checkpoint" test "$(wc -l <"$TMP/rep-st/tables/checkpoints.tsv")" -eq 7

rep="$TMP/rep-h5/report.md"
./analyze.sh "$TMP/h5/full-rank" "$TMP/h5/relora" -o "$TMP/rep-h5" >"$TMP/log" 2>&1
check "analyze.sh on HDF5 runs exits 0" test $? -eq 0
check "no warning about heads" test -z "$(grep 'heads unknown' "$TMP/log")"
check "heads from the attributes" grep -qF -- \
    '- Attention heads of `full-rank`, for the OV circuit (`attention.ov`, `attention.wo_wv`): 12 heads (attributes), 4 kv heads (attributes).' "$rep"
check "the scale from the attributes" grep -qxF -- '- LoRA scale of `relora`: s = 4 (attributes).' "$rep"
# The OV circuit once: a module of the weights' summary, no section of its own.
check "no OV circuit section" test -z "$(grep -i '^### OV' "$rep")"
check "attention.ov in the weights' summary once per metric" \
    test "$(sed -n '/^### Weights/,/^### Updates/p' "$rep" | grep -c '^| attention.ov | per |')" -eq 1
check "no OV tables of their own" test -z "$(compgen -G "$TMP/rep-h5/tables/*_ov*")"

./analyze.sh --heads 12 --kv-heads 4 "$TMP/st/full-rank" -o "$TMP/rep-flags" >"$TMP/log" 2>&1
check "analyze.sh --heads --kv-heads exits 0" test $? -eq 0
check "--heads: the report names the flags" grep -qF -- \
    ': 12 heads (--heads), 4 kv heads (--kv-heads).' "$TMP/rep-flags/report.md"
check "--heads: the OV circuit is in the tables" \
    test "$(col "$TMP/rep-flags/tables/rank.tsv" component | grep -c '^ov$')" -eq 6

./analyze.sh "$TMP/keras/keras2_weights.h5" -o "$TMP/rep-keras" >"$TMP/log" 2>&1
check "analyze.sh on a Keras file exits 0" test $? -eq 0
check "Keras: no attention, so no OV circuit, said once" grep -qxF -- \
    "- OV circuit: none, as no layer has both a v_proj and an o_proj (a fused projection such as GPT-2's c_attn is not split), so no attention heads are needed." "$TMP/rep-keras/report.md"
unset RW_NO_INSTALL
