# e2e_keras.sh — Keras HDF5 files as a user lists and analyses them: the
# files of `rw-fixture keras` (fixtures/keras.h) — Keras 3 layers with their
# positions and modules, optimizer state listed as such and analysed only
# when --include names it (Keras 2 and 3), conv kernels as (k...·in, out) —
# and the Conv1D model in ../shared/realdata/keras-models (skipped when
# absent). Sourced by tests/e2e.sh (helpers: e2e_lib.sh).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

K="$TMP/keras"
expect_exit 0 "rw-fixture keras" rw-fixture keras -o "$K"

# row TABLE TENSOR COLUMN: the COLUMN of TENSOR's row.
row() { awk -F'\t' -v t="$2" -v n="$3" 'NR==1{for(i=1;i<=NF;i++) c[$i]=i; next}
                                        $c["tensor"]==t{print $c[n]; exit}' "$1"; }

expect_exit 0 "rw-ls of a Keras 3 weights file" rw-ls "$K/keras3.weights.h5"
cp "$TMP/out" "$K/ls3.tsv"
check "Keras 3: dense_1's kernel is layer 3, module dense_1.kernel" \
    [ "$(row "$K/ls3.tsv" layers.dense_1.vars.0 layer)-$(row "$K/ls3.tsv" layers.dense_1.vars.0 module)" = "3-dense_1.kernel" ]
check "Keras 3: dense_10 after dense_2 (natural order)" \
    [ "$(row "$K/ls3.tsv" layers.dense_2.vars.0 layer)-$(row "$K/ls3.tsv" layers.dense_10.vars.0 layer)" = "4-5" ]
check "Keras 3: the bias is its layer's, module dense.bias" \
    [ "$(row "$K/ls3.tsv" layers.dense.vars.1 layer)-$(row "$K/ls3.tsv" layers.dense.vars.1 module)" = "2-dense.bias" ]
check "Keras 3: a nested model's layer" \
    [ "$(row "$K/ls3.tsv" layers.sequential.layers.dense.vars.0 module)" = "sequential.dense.kernel" ]
check "Keras 3: conv kernel 3x3x2x4 as 18x4" \
    [ "$(row "$K/ls3.tsv" layers.conv2d.vars.0 rows)x$(row "$K/ls3.tsv" layers.conv2d.vars.0 cols)" = "18x4" ]
check "Keras 3: optimizer/vars listed as optimizer, no layer" \
    [ "$(row "$K/ls3.tsv" optimizer.vars.3 use)$(row "$K/ls3.tsv" optimizer.vars.3 layer)" = "optimizer-1" ]

expect_exit 0 "rw-rank on a Keras 3 weights file" rw-rank "$K/keras3.weights.h5"
cp "$TMP/out" "$K/rank3.tsv"
check "Keras 3: 8 matrices analysed, none of the optimizer's" \
    [ "$(tail -n +2 "$K/rank3.tsv" | wc -l)-$(grep -c optimizer "$K/rank3.tsv")" = "8-0" ]
check "Keras 3: layers 1..7 in the table" \
    [ "$(col "$K/rank3.tsv" layer | sort -un | tr '\n' ' ')" = "1 2 3 4 5 6 7 " ]
expect_exit 0 "rw-rank --include 'optimizer.*' on a Keras 3 file" \
    rw-rank --include 'optimizer.*' "$K/keras3.weights.h5"
check "--include selects the Keras 3 optimizer's moments" \
    [ "$(col "$TMP/out" tensor | tr '\n' ' ')" = "optimizer.vars.2 optimizer.vars.3 " ]

expect_exit 0 "rw-ls of a Keras 2 model file" rw-ls "$K/keras2_model.h5"
check "Keras 2: optimizer_weights listed as optimizer" \
    [ "$(grep -cP '^[^\t]*\t[^\t]*\t[^\t]*\toptimizer_weights\..*\toptimizer\t\t\t$' "$TMP/out")" = 2 ]
expect_exit 0 "rw-rank on a Keras 2 model file" rw-rank "$K/keras2_model.h5"
check "Keras 2: only the kernel analysed, as (k*in, out) = 15x4" \
    [ "$(tail -n +2 "$TMP/out" | cut -f3,7,8 | tr '\t' ' ')" = "model_weights.conv1d.conv1d.kernel:0 15 4" ]
expect_exit 0 "rw-ls of a file without a Keras mark" rw-ls "$K/plain.h5"
check "no Keras mark: conv kernel 5x3x4 as PyTorch's 5x12" \
    [ "$(row "$TMP/out" conv.kernel rows)x$(row "$TMP/out" conv.kernel cols)" = "5x12" ]

if [ -n "$REALDATA" ] && [ -f "$REALDATA/keras-models/KERAS_conv1d_weights.h5" ]; then
    expect_exit 0 "rw-ls of the real Conv1D model" rw-ls "$REALDATA/keras-models/KERAS_conv1d_weights.h5"
    check "real Conv1D: kernel 40x7x32 as 280x32 (k*in, out)" \
        [ "$(row "$TMP/out" conv1_relu.conv1_relu.kernel:0 rows)x$(row "$TMP/out" conv1_relu.conv1_relu.kernel:0 cols)" = "280x32" ]
    expect_exit 0 "rw-rank of the real Conv1D model" rw-rank "$REALDATA/keras-models/KERAS_conv1d_weights.h5"
    check "real Conv1D: five kernels analysed" [ "$(tail -n +2 "$TMP/out" | wc -l)" = 5 ]
else
    skip "real Keras Conv1D model: ../shared/realdata/keras-models is absent"
fi
