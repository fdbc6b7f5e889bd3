#!/usr/bin/env bash
# bench_gzip.sh — `make bench`, compressed checkpoints: two pico-tiny-shaped
# runs (12 layers, d_model 96, 21 float32 checkpoints each, full-rank and
# ReLoRA) written as h5py writes compression="gzip" (deflate level 4, h5py's
# chunk shapes, no shuffle), whose chunks rankwatch's workers inflate.
#   (a) rw-spectra and rw-metrics on the two gzip runs at -j 1 and -j 2
#       (target: -j 2 at least 1.7x faster);
#   (c) analyze.sh's spectra step on them (rw-spectra --updates --component
#       all: every component, the OV circuits and lora's factors too, and
#       every update) at -j 1 and -j 2;
#   (b) the full-rank run stored contiguously beside the ReLoRA run
#       gzip-chunked: rw-metrics -j 2 against a numpy script computing the
#       same metrics (h5py reading, numpy.linalg.svd(compute_uv=False) per
#       matrix, numpy's default threading; the entry metrics gini, hoyer and
#       max_abs too) in the same run (target: at most 1/6 of its time).
# Interleaved, best of 3 each (the machine may be shared: the load average is
# printed). numpy and h5py are optional (Debian's python3-numpy, python3-h5py).
set -u
cd "$(dirname "$0")/.."
. tests/benchlib.sh
BIN=${RW_BIN:-build/bin}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
best() { # best VAR COMMAND...: the best wall time of the command into VAR
    local v=$1 t0
    shift
    t0=$(now)
    "$@" >/dev/null 2>&1 || echo "bench_gzip: failed: $*" >&2
    printf -v "$v" '%s' "$(min_of "$(secs "$t0" "$(now)")" "${!v}")"
}

f=(--layers 12 --steps 2000 --every 100 --cycle 500)
"$BIN/rw-fixture" runs -o "$TMP/plain" "${f[@]}"
"$BIN/rw-fixture" runs -o "$TMP/gz" --gzip 4 "${f[@]}"
gz=("$TMP/gz/full-rank" "$TMP/gz/relora")
pair=("$TMP/plain/full-rank" "$TMP/gz/relora")
echo "compressed runs: 2 x 21 pico-tiny-shaped checkpoints (12 layers x 7 linear maps + 2 embeddings, ReLoRA adapters), float32, deflate level 4 in h5py's chunks: $(du -sh "$TMP/gz" | cut -f1) (contiguous: $(du -sh "$TMP/plain" | cut -f1))"
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (other work on the machine skews timings)"

have_np=0
/usr/bin/python3 -c 'import numpy, h5py' 2>/dev/null && have_np=1

s1="" s2="" m1="" m2="" a1="" a2="" pm="" np_t="" np_w="" np_rows=""
for rep in 1 2 3; do
    best s1 "$BIN/rw-spectra" -j 1 --recompute -o "$TMP/s1.h5" "${gz[@]}"
    best s2 "$BIN/rw-spectra" -j 2 --recompute -o "$TMP/s2.h5" "${gz[@]}"
    best m1 "$BIN/rw-metrics" -j 1 -o "$TMP/m1.tsv" "${gz[@]}"
    best m2 "$BIN/rw-metrics" -j 2 -o "$TMP/m2.tsv" "${gz[@]}"
    best a1 "$BIN/rw-spectra" -j 1 --recompute --updates --component all -o "$TMP/a1.h5" "${gz[@]}"
    best a2 "$BIN/rw-spectra" -j 2 --recompute --updates --component all -o "$TMP/a2.h5" "${gz[@]}"
    best pm "$BIN/rw-metrics" -j 2 -o "$TMP/pm.tsv" "${pair[@]}"
    [ "$have_np" = 1 ] && numpy_best np_w np_t np_rows --entries "${pair[@]}"
done
rows=$(($(wc -l <"$TMP/m2.tsv") - 1))
echo "(a) the two gzip runs, $rows matrices (best of 3, interleaved):"
awk -v a="$s1" -v b="$s2" 'BEGIN{printf "  rw-spectra -j 1 %.3f s, -j 2 %.3f s: %.2fx (target 1.7x: %s)\n", a, b, a/b, (a/b >= 1.7) ? "met" : "not met"}'
awk -v a="$m1" -v b="$m2" 'BEGIN{printf "  rw-metrics -j 1 %.3f s, -j 2 %.3f s: %.2fx (target 1.7x: %s)\n", a, b, a/b, (a/b >= 1.7) ? "met" : "not met"}'
cmp -s "$TMP/m1.tsv" "$TMP/m2.tsv" && echo "  -j 1 and -j 2 tables identical: yes" || echo "  -j 1 and -j 2 tables identical: NO"
echo "(c) analyze.sh's spectra step (rw-spectra --updates --component all) on the two gzip runs:"
awk -v a="$a1" -v b="$a2" 'BEGIN{printf "  -j 1 %.3f s, -j 2 %.3f s: %.2fx\n", a, b, a/b}'
cmp -s "$TMP/a1.h5" "$TMP/a2.h5" && echo "  -j 1 and -j 2 spectra files identical: yes" || echo "  -j 1 and -j 2 spectra files identical: NO"
echo "(b) full-rank contiguous + ReLoRA gzip-chunked:"
echo "  rw-metrics -j 2: ${pm} s for $(($(wc -l <"$TMP/pm.tsv") - 1)) matrices"
if [ "$have_np" = 1 ]; then
    echo "  numpy script (h5py + svd(compute_uv=False) + entry metrics per matrix): ${np_t} s for $np_rows matrices (the whole command, interpreter start included: ${np_w} s)"
    awk -v a="$np_t" -v b="$pm" -v w="$np_w" 'BEGIN{
        printf "  rw-metrics takes %.3f of numpy'"'"'s time: %.1fx faster (target: at most 1/6 = 0.167: %s); of the whole numpy command %.3f\n", b/a, a/b, (b/a <= 1/6) ? "met" : "not met", b/w }'
else
    echo "  numpy: /usr/bin/python3 lacks numpy or h5py (python3-numpy, python3-h5py); comparison skipped"
fi
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
