# e2e_prefix.sh — the same model saved with and without a wrapper prefix
# (pico_decoder., as pico-train's checkpoints have it) gives the same rows;
# rw-ls says what was stripped; --keep-prefix keeps the stored names; globs
# written for the stored names still select; a spectra file written under
# the other naming is recomputed, saying why.
# Sourced by tests/e2e.sh (helpers: e2e_lib.sh).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

P="$TMP/p"
mkdir -p "$P"
for v in plain wrapped; do
    pre=()
    [ "$v" = wrapped ] && pre=(--prefix pico_decoder.)
    rw-fixture runs -o "$P/$v" --layers 2 --steps 200 --every 100 --cycle 200 --safetensors \
        "${pre[@]}" >/dev/null 2>&1 || bad "rw-fixture $v"
done

expect_exit 0 "rw-ls of the wrapped run" rw-ls "$P/wrapped/full-rank"
check "rw-ls: the prefix column says pico_decoder. on every row" \
    [ "$(col "$TMP/out" prefix | sort -u)" = pico_decoder. ]
check "rw-ls: no tensor name keeps it" [ -z "$(col "$TMP/out" tensor | grep pico_decoder)" ]
expect_exit 0 "rw-ls of the plain run" rw-ls "$P/plain/full-rank"
check "rw-ls: nothing stripped from the plain run" [ -z "$(col "$TMP/out" prefix | sort -u)" ]

# The same rows, byte for byte, from both saves (runs named alike).
for v in plain wrapped; do
    expect_exit 0 "rw-rank of the $v runs" rw-rank --heads 12 --kv-heads 4 --component all \
        -o "$TMP/rank-$v.tsv" "full-rank=$P/$v/full-rank" "relora=$P/$v/relora"
done
check "the wrapped and the plain save give identical rank tables" \
    cmp -s "$TMP/rank-plain.tsv" "$TMP/rank-wrapped.tsv"
check "... with the embeddings (no layer) among the rows" \
    grep -qP '^full-rank\t0\tembedding_proj\.weight\t-1\tembedding_proj\.weight\t' "$TMP/rank-wrapped.tsv"

expect_exit 0 "rw-rank --keep-prefix" rw-rank --keep-prefix -o "$TMP/rank-kept.tsv" "$P/wrapped/full-rank"
check "--keep-prefix: every tensor keeps pico_decoder." \
    [ -z "$(col "$TMP/rank-kept.tsv" tensor | grep -v '^pico_decoder\.')" ]
check "--keep-prefix: the embedding's module is its whole stored name" \
    grep -qP '\tpico_decoder\.embedding_proj\.weight\t-1\tpico_decoder\.embedding_proj\.weight\t' "$TMP/rank-kept.tsv"

# A glob written for the stored names selects as it did.
expect_exit 0 "--include with the stored name" \
    rw-rank --include 'pico_decoder.layers.0.*' -o "$TMP/sel.tsv" "$P/wrapped/full-rank"
check "--include 'pico_decoder.layers.0.*' selects layer 0 only" \
    [ "$(col "$TMP/sel.tsv" layer | sort -u)" = 0 ]
check "... all of it: 7 matrices x 3 steps" [ "$(($(wc -l <"$TMP/sel.tsv") - 1))" -eq 21 ]
expect_exit 0 "--include with the shown name" \
    rw-rank --include 'layers.0.*' -o "$TMP/sel2.tsv" "$P/wrapped/full-rank"
check "the shown and the stored glob select the same rows" cmp -s "$TMP/sel.tsv" "$TMP/sel2.tsv"

# Spectra cache: written with the stored names, then asked for the
# stripped ones: recomputed, and rw-spectra says which option changed.
expect_exit 0 "rw-spectra --keep-prefix" rw-spectra --keep-prefix -o "$TMP/sp.h5" "$P/wrapped/full-rank"
expect_exit 0 "rw-spectra again, names stripped" rw-spectra -o "$TMP/sp.h5" "$P/wrapped/full-rank"
check "rw-spectra says the naming changed" grep -q 'names as-stored -> prefix-stripped' "$TMP/err"
expect_exit 0 "rw-spectra --fast" rw-spectra --fast -o "$TMP/sp.h5" "$P/wrapped/full-rank"
check "rw-spectra names the last option too (fast 0 -> 1)" grep -q '(fast 0 -> 1)' "$TMP/err"
expect_exit 0 "rw-spectra --include" rw-spectra --fast --include 'layers.0.*' -o "$TMP/sp.h5" "$P/wrapped/full-rank"
expect_exit 0 "rw-spectra without it" rw-spectra --fast -o "$TMP/sp.h5" "$P/wrapped/full-rank"
check "rw-spectra names an option no longer given (include layers.0.* -> none)" \
    grep -qF '(include layers.0.* -> none)' "$TMP/err"
expect_exit 0 "rw-rank of the spectra file" rw-rank -o "$TMP/rank-sp.tsv" "$TMP/sp.h5"
check "the recomputed spectra file has the stripped names" \
    [ -z "$(col "$TMP/rank-sp.tsv" tensor | grep pico_decoder)" ]
