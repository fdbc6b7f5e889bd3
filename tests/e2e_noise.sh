# e2e_noise.sh — num_rank's storage-noise rule on bfloat16 checkpoints: a
# full-rank run stored as bfloat16 keeps its rank (numpy's matrix_rank rule
# gave 0 from 128 rows), and a spectra file gives the same num_rank and
# cond_rank as the checkpoints (it carries each matrix's noise bound).
# Sourced by tests/e2e.sh (helpers: e2e_lib.sh).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

rw-fixture runs -o "$TMP/bf" --steps 200 --every 100 --cycle 200 --layers 1 \
    --safetensors --dtype bfloat16 >/dev/null 2>&1
expect_exit 0 "rw-rank on bfloat16 checkpoints" \
    rw-rank --heads 12 --kv-heads 4 --lora-scale 2 --component all "$TMP/bf/full-rank" "$TMP/bf/relora"
cp "$TMP/out" "$TMP/rank.tsv"
# (stored and adapted matrices; a fresh adapter, B = 0, is the zero matrix,
# and a product's first-order bound can exceed its sigma_1 where it cancels)
check "bf16: no weight, base or full matrix has num_rank 0 (the old rule's answer from 128 rows)" \
    [ -z "$(awk -F'\t' 'NR>1 && $13=="0" && ($6=="weight" || $6=="base" || $6=="full")' "$TMP/rank.tsv")" ]
# a rectangular Gaussian weight is well conditioned: full rank
check "bf16: every rectangular full-rank weight (256 x 96, 384 x 96, ...) has num_rank = k" \
    [ -z "$(awk -F'\t' 'NR>1 && $1=="full-rank" && $6=="weight" && $7!=$8 {k=($7<$8?$7:$8); if ($13+0!=k) print}' "$TMP/rank.tsv")" ]
check "bf16: the 256 x 96 embedding has num_rank 96" \
    [ "$(awk -F'\t' '$1=="full-rank" && $3=="embedding_proj.weight" {print $13}' "$TMP/rank.tsv" | sort -u)" = 96 ]

expect_exit 0 "rw-spectra --updates on bfloat16 checkpoints" \
    rw-spectra --updates --component all --heads 12 --kv-heads 4 --lora-scale 2 \
        -o "$TMP/spectra.h5" "$TMP/bf/full-rank" "$TMP/bf/relora"
expect_exit 0 "rw-rank on the spectra file" rw-rank --component all "$TMP/spectra.h5"
check "rw-rank: the spectra file gives the checkpoints' num_rank and cond_rank" \
    cmp -s "$TMP/out" "$TMP/rank.tsv"
expect_exit 0 "rw-updates on bfloat16 checkpoints" \
    rw-updates --heads 12 --kv-heads 4 --lora-scale 2 --component all "$TMP/bf/full-rank" "$TMP/bf/relora"
cp "$TMP/out" "$TMP/upd.tsv"
expect_exit 0 "rw-updates on the spectra file" rw-updates --component all "$TMP/spectra.h5"
check "rw-updates: the spectra file gives the checkpoints' table (noise of W_t + W_ref)" \
    cmp -s "$TMP/out" "$TMP/upd.tsv"

# A version-2 spectra file (no noise_fro) is refused by the readers and
# rewritten by rw-spectra as its cache.
rw-fixture malformed -o "$TMP/mal" >/dev/null 2>&1
cp "$TMP/mal/spec-version2.h5" "$TMP/old.h5"
expect_error "rw-rank refuses a version-2 spectra file" \
    'spectra file version 2 \(no noise bound, which num_rank needs\): write it again with rw-spectra$' \
    rw-rank "$TMP/old.h5"
expect_exit 0 "rw-spectra rewrites a version-2 spectra file" \
    rw-spectra --heads 12 --kv-heads 4 --lora-scale 2 -o "$TMP/old.h5" "$TMP/bf/full-rank"
expect_exit 0 "rw-rank reads it then" rw-rank "$TMP/old.h5"
