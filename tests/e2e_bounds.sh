# e2e_bounds.sh — resource bounds and checked values (docs/reliability.md):
# a declared-but-never-written matrix is refused at once, a malformed step
# attribute is an error, the memory cap and its option and environment
# variable, and rw-plot refusing two values for one key as rw-compare does.
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

fixture "$TMP/edge" edge

# A 1.4 KB file declaring a 30000 x 30000 float32 matrix: refused before
# anything is allocated (it took 7 GB and a minute, and printed nan).
check "unwritten.h5 is a small file" test "$(stat -c %s "$TMP/edge/unwritten.h5")" -lt 4096
SECONDS=0
expect_error "never-written matrix" \
    "unwritten.h5: layers.0.mlp.weight: no values stored for its 30000x30000 float32 \(never written" \
    rw-metrics "$TMP/edge/unwritten.h5"
check "never-written matrix refused at once" test "$SECONDS" -le 2
expect_error "rw-ls lists no never-written matrix either" "unwritten.h5: layers.0.mlp.weight: no values stored" \
    rw-ls "$TMP/edge/unwritten.h5"

# A step attribute that is not an integer: an error, not the file name's digits.
expect_error "step attribute as a string" "step-string.h5: attribute step is a string, not an integer" \
    rw-rank "$TMP/edge/step-string.h5"

# The memory cap: 384 x 384 is 1.1 MiB as doubles.
expect_error "--max-matrix-mib 1" \
    "wide.h5: layers.0.mlp.weight: a 384x384 matrix takes 1.1 MiB as doubles, more than the cap of 1 MiB \(raise it with --max-matrix-mib N or RW_MAX_MATRIX_MIB\)" \
    rw-rank --max-matrix-mib 1 "$TMP/edge/wide.h5"
expect_error "RW_MAX_MATRIX_MIB=1" "more than the cap of 1 MiB" \
    env RW_MAX_MATRIX_MIB=1 rw-rank "$TMP/edge/wide.h5"
expect_exit 0 "--max-matrix-mib 2 overrides RW_MAX_MATRIX_MIB=1" \
    env RW_MAX_MATRIX_MIB=1 rw-rank --max-matrix-mib 2 "$TMP/edge/wide.h5"
check "under the cap: one row" test "$(tail -n +2 "$TMP/out" | wc -l)" -eq 1
expect_exit 2 "RW_MAX_MATRIX_MIB not a number: usage error" env RW_MAX_MATRIX_MIB=lots rw-rank "$TMP/edge/wide.h5"
expect_exit 2 "--max-matrix-mib 0: usage error" rw-rank --max-matrix-mib 0 "$TMP/edge/wide.h5"

# Two rows for one (run, step, tensor) with different values: rw-compare
# refused them and rw-plot drew one of them; now both refuse, one message.
rw-rank "$TMP/edge/nan.h5" >"$TMP/one.tsv" 2>/dev/null
awk -F'\t' 'BEGIN{OFS="\t"} NR==1 {for (i = 1; i <= NF; i++) if ($i == "per") c = i; print; next}
     {print; if (!done) {$c = "0.123"; print; done = 1}}' \
    "$TMP/one.tsv" >"$TMP/twice.tsv"
check "twice.tsv has one more row" test "$(wc -l <"$TMP/twice.tsv")" -eq "$(( $(wc -l <"$TMP/one.tsv") + 1 ))"
expect_error "rw-plot: a row given twice" "run edge, step 0, tensor layers.0.mlp.weight: per given twice \(.*twice.tsv row 1, .*twice.tsv row 2\)" \
    rw-plot trajectory --metric per -o "$TMP/twice.png" "$TMP/twice.tsv"
check "rw-plot: no figure for conflicting rows" test ! -e "$TMP/twice.png"
expect_error "rw-compare: the same message" "run edge, step 0, tensor layers.0.mlp.weight: per given twice" \
    rw-compare --metrics per "$TMP/twice.tsv"
