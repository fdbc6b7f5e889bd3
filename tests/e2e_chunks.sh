# e2e_chunks.sh — compressed HDF5 checkpoints (chunked, with deflate,
# shuffle, fletcher32: h5py's compression="gzip"), whose chunks the reading
# thread reads raw and the workers inflate (io/packed.c). The same runs stored
# contiguously and compressed — h5py's chunks, edge chunks (96 = 40 + 40 + 16),
# shuffle on and off, fletcher32, bfloat16 — give byte for byte the same
# singular values (every one of every spectrum, weights and updates, as
# rw-spectra's long table) and metric tables, at -j 1 and -j 2; so do the
# layouts of `rw-fixture chunks` (fixtures/chunks.h: float16, float64, chunks
# stored with their filters skipped). A broken chunk is one line naming the
# file, the tensor and the chunk, exit 1, and no output.
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

opts=(--layers 2 --steps 400 --every 100 --cycle 200)
fixture "$TMP/plain" runs "${opts[@]}"
fixture "$TMP/gz" runs "${opts[@]}" --gzip 4
fixture "$TMP/edge" runs "${opts[@]}" --gzip 1 --chunk 40 --shuffle
fixture "$TMP/fl" runs "${opts[@]}" --gzip 6 --chunk 50 --shuffle --fletcher32
fixture "$TMP/bf" runs "${opts[@]}" --dtype bfloat16
fixture "$TMP/bfz" runs "${opts[@]}" --dtype bfloat16 --gzip 4 --shuffle --chunk 64

# tables LAYOUT J: the long table of every singular value (weights, updates,
# updates since the first step, every component) and rw-metrics' table of
# the two runs of LAYOUT at -j J, as $TMP/LAYOUT.J.{sp,m}.tsv
tables() {
    local r=(fr="$TMP/$1/full-rank" rl="$TMP/$1/relora")
    rw-spectra -j "$2" --updates --from-first --component all -o "$TMP/$1.$2.sp.tsv" "${r[@]}" \
        2>/dev/null
    rw-metrics -j "$2" --component all -o "$TMP/$1.$2.m.tsv" "${r[@]}" 2>/dev/null
}
tables plain 1
tables bf 1
check "the contiguous run's spectra table has every value" \
    test "$(wc -l <"$TMP/plain.1.sp.tsv")" -gt 10000
for j in 1 2; do
    for l in gz edge fl bfz; do
        ref=plain; [ "$l" = bfz ] && ref=bf
        tables "$l" "$j"
        check "$l -j $j: every singular value as stored contiguously, byte for byte" \
            cmp -s "$TMP/$ref.1.sp.tsv" "$TMP/$l.$j.sp.tsv"
        check "$l -j $j: rw-metrics' table as stored contiguously, byte for byte" \
            cmp -s "$TMP/$ref.1.m.tsv" "$TMP/$l.$j.m.tsv"
    done
done
# the spectra file (HDF5) too: written from the compressed runs, read back
rw-spectra -j 2 --updates -o "$TMP/edge.h5" fr="$TMP/edge/full-rank" rl="$TMP/edge/relora" 2>/dev/null
rw-spectra -j 1 --updates -o "$TMP/plain.h5" fr="$TMP/plain/full-rank" rl="$TMP/plain/relora" 2>/dev/null
rw-spectra -o "$TMP/edge.h5.tsv" "$TMP/edge.h5"
rw-spectra -o "$TMP/plain.h5.tsv" "$TMP/plain.h5"
check "a spectra file of the compressed runs holds the contiguous runs' values" \
    cmp -s "$TMP/plain.h5.tsv" "$TMP/edge.h5.tsv"

# The corpus of chunk layouts, each against its contiguous twin.
fixture "$TMP/c" chunks
C=$TMP/c
for j in 1 2; do
    for l in plain plain-f16 plain-f64; do rw-metrics -j "$j" -o "$TMP/c.$l.$j.tsv" x="$C/$l"; done
    for l in ok-whole ok-h5py ok-edge ok-shuffle ok-fletcher ok-fletcher-only ok-shuffle-only \
             ok-skipped ok-f16 ok-f64; do
        twin=plain
        case $l in ok-f16) twin=plain-f16 ;; ok-f64) twin=plain-f64 ;; esac
        rw-metrics -j "$j" -o "$TMP/c.$l.$j.tsv" x="$C/$l"
        check "chunks $l -j $j: the table of its contiguous twin" \
            cmp -s "$TMP/c.$twin.1.tsv" "$TMP/c.$l.$j.tsv"
    done
done
check "float16 and float32 twins differ (the check above can fail)" \
    bash -c "! cmp -s '$TMP/c.plain.1.tsv' '$TMP/c.plain-f16.1.tsv'"

# Broken chunks: layers.0.mlp.weight's chunk 7 of 35; no output left.
mlp='/step_000000\.h5: layers\.0\.mlp\.weight: chunk'
for j in 1 2; do
    for case in "bad-flipped|7 of 35 \(394 bytes at byte [0-9]+\): corrupt deflate stream" \
                "bad-truncated|7 of 35 .*: its deflate stream is cut short" \
                "bad-short|7 of 35 .*: it inflates to 396 bytes, not the 400 of its chunk" \
                "bad-long|7 of 35 .*: it inflates to more than the 400 bytes of its chunk" \
                "bad-fletcher|7 of 35 .*: its fletcher32 checksum does not match" \
                "bad-missing|6 of 35 was never written"; do
        l=${case%%|*}
        mkdir -p "$TMP/o.$l.$j"
        expect_error "chunks $l -j $j (rw-metrics): one line naming file, tensor and chunk" \
            "^rw-metrics: .*/$l$mlp ${case#*|}" rw-metrics -j "$j" -o "$TMP/o.$l.$j/m.tsv" "$C/$l"
        expect_error "chunks $l -j $j (rw-spectra)" "^rw-spectra: .*/$l$mlp" \
            rw-spectra -j "$j" --updates -o "$TMP/o.$l.$j/sp.h5" "$C/$l" "$C/plain"
        check "chunks $l -j $j: no output file left" test -z "$(ls -A "$TMP/o.$l.$j")"
    done
done
