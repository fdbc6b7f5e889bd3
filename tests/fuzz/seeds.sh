#!/usr/bin/env bash
# seeds.sh BUILD — regenerates the fuzz targets' seed corpus,
# tests/fuzz/corpus/<target>/, from what the programs of BUILD/bin and the
# seed generator BUILD/fuzz/seedgen write (`make fuzz-seeds` builds both):
#   safetensors  seedgen's files (stwrite: every dtype, LoRA, metadata,
#                listed-only dtypes, an index)
#   hdf5         seedgen's files (h5write, plus strings, links, compact,
#                unwritten chunked and big-endian datasets), the small
#                checkpoints of `rw-fixture edge`, and two of `rw-fixture
#                keras` (a Keras 2.13 layers/vars layout, a Keras 2 model
#                with optimizer_weights; its Keras 3 file is over 16 KiB)
#   spectra      seedgen's spectra files, each first read back by rw-rank
#   pytorch      seedgen's .pt files (ptwrite: dict, OrderedDict with
#                parameters, checkpoint dict, views, legacy layout)
#   pickle       their data.pkl streams
#   table        tables of rw-ls, rw-rank, rw-cond, rw-metrics, rw-updates,
#                rw-compare (TSV and CSV) on `rw-fixture edge` and `known`
#                checkpoints, and hand-written CSV/TSV edge cases
# Every seed stays under 16 KiB: an HDF5 file takes 2-4 KiB before any data
# and its variable-length strings a global heap of 4 KiB or more; rw-fixture
# runs' checkpoints (96x96 matrices) and rw-spectra's files (512 KiB) are
# too large to mutate fast.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${1:?usage: seeds.sh BUILD}
BIN=$B/bin
OUT=tests/fuzz/corpus
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

"$B/fuzz/seedgen" "$TMP/gen"
"$BIN/rw-fixture" edge -o "$TMP/edge" >/dev/null
"$BIN/rw-fixture" known -o "$TMP/known" >/dev/null
"$BIN/rw-fixture" keras -o "$TMP/keras" >/dev/null

# The generated spectra files must be what the programs read.
# The generated spectra files must be what the programs read (empty.h5
# has no entries, which rw-rank refuses as such).
"$BIN/rw-rank" "$TMP/gen/spectra/weights.h5" >/dev/null
"$BIN/rw-updates" "$TMP/gen/spectra/updates.h5" >/dev/null
if "$BIN/rw-rank" "$TMP/gen/spectra/empty.h5" 2>"$TMP/err" >/dev/null ||
   ! grep -q 'no weight spectra' "$TMP/err"; then
    echo "seeds.sh: empty.h5 is not read as an empty spectra file" >&2
    exit 1
fi

for t in safetensors hdf5 spectra table pytorch pickle; do
    rm -rf "${OUT:?}/$t"
    mkdir -p "$OUT/$t"
done
cp "$TMP"/gen/safetensors/* "$OUT/safetensors/"
cp "$TMP"/gen/hdf5/* "$OUT/hdf5/"
# The small checkpoints of rw-fixture edge, by name: its bounds files
# (unwritten.h5, step-string.h5, wide.h5, for tests/e2e_bounds.sh) are not
# seeds. wide.h5 is 290 KiB; the other two hold what seedgen's odd.h5
# (a never-written dataset) and the unit tests (step attributes of every
# type, tests/test_ckpt.c) already cover.
for f in attention-no-heads nan vectors-only; do cp "$TMP/edge/$f.h5" "$OUT/hdf5/"; done
for f in "$TMP"/edge/mixed-shapes/*.h5; do cp "$f" "$OUT/hdf5/mixed-shapes-$(basename "$f")"; done
cp "$TMP/keras/keras213.weights.h5" "$TMP/keras/keras2_model.h5" "$OUT/hdf5/"
cp "$TMP"/gen/spectra/* "$OUT/spectra/"
cp "$TMP"/gen/pytorch/* "$OUT/pytorch/"
cp "$TMP"/gen/pickle/* "$OUT/pickle/"

# Tables: the first rows of each program's output.
T=$OUT/table
edge=("$TMP/edge/mixed-shapes/step_000000.h5" "$TMP/edge/attention-no-heads.h5")
known="$TMP/known/known"
(cd "$TMP/edge" && "$OLDPWD/$BIN/rw-ls" mixed-shapes/step_000000.h5 attention-no-heads.h5) > "$T/ls.tsv"
"$BIN/rw-rank" "${edge[@]}" > "$T/rank.tsv"
"$BIN/rw-cond" --format csv "${edge[@]}" > "$T/cond.csv"
# (Through files: head closing a pipe early would fail the script.)
first() { "$@" > "$TMP/out"; head -n 6 "$TMP/out"; }
first "$BIN/rw-metrics" "$known" > "$T/metrics.tsv"
first "$BIN/rw-metrics" --format csv "$known" > "$T/metrics.csv"
first "$BIN/rw-updates" "$known" > "$T/updates.tsv"
"$BIN/rw-metrics" "a=$known" > "$TMP/a.tsv"
"$BIN/rw-metrics" "b=$known" > "$TMP/b.tsv"
first "$BIN/rw-compare" --metric per "$TMP/a.tsv" "$TMP/b.tsv" > "$T/compare.tsv"
head -n 8 "$TMP/known/known_sigma.tsv" > "$T/known_sigma.tsv"
printf 'run,step,tensor\n"a ""quoted"", run",1,"x,y"\n"multi\nline",2,z\n' > "$T/quotes.csv"
printf 'run\tstep\tper\r\nfull\t1\tnan\r\nfull\t2\tinf\r\nfull\t3\t-1e308\r\n' > "$T/crlf.tsv"
printf 'run\tstep\nfull\t1\textra\n' > "$T/ragged.tsv"
printf 'a\ta\n1\t2\n' > "$T/dup-header.tsv"
printf 'run\tstep\ttensor\tcomponent\nr\t0x10\tt\tw\nr\t1e999\tt\tw\nr\t-0\tt\tw\n' > "$T/numbers.tsv"

big=$(find "$OUT" -type f -size +16k)
if [ -n "$big" ]; then
    echo "seeds.sh: seeds over 16 KiB: $big" >&2
    exit 1
fi
for t in safetensors hdf5 spectra table pytorch pickle; do
    echo "seeds.sh: $t: $(ls "$OUT/$t" | wc -l) seeds, $(du -sk "$OUT/$t" | cut -f1) KiB"
done
