#!/usr/bin/env bash
# bench_pico.sh — `make bench`, end to end: every rank and condition metric of
# two pico-tiny-shaped runs (12 layers, d_model 96, 21 checkpoints each,
# float32; full-rank and ReLoRA), by rankwatch and by a numpy script that
# computes the same metrics with numpy.linalg.svd(compute_uv=False) per
# matrix (at numpy's default threading), in the same run; then analyze.sh
# twice on them (the second decomposes nothing) and peak memory.
# numpy and h5py are optional (Debian's python3-numpy, python3-h5py).
set -u
cd "$(dirname "$0")/.."
BIN=${RW_BIN:-build/bin}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. tests/benchlib.sh

"$BIN/rw-fixture" runs -o "$TMP/runs" --layers 12 --steps 2000 --every 100 --cycle 500
runs=("$TMP/runs/full-rank" "$TMP/runs/relora")
n=$(ls "$TMP"/runs/*/step_*.h5 | wc -l)
echo "pico-tiny-shaped runs: 2 x $((n / 2)) checkpoints, 12 layers x 7 linear maps + 2 embeddings, float32"

# Three ways, interleaved, best of 3 each (the machine's speed drifts):
#   rw-metrics -j 2 on the runs: every rank and condition metric (and the
#     rest of them) in one command, the direct counterpart of the script;
#   rw-spectra -j 2, then rw-rank and rw-cond on its spectra file: the
#     cached workflow, three programs and a spectra file in between;
#   tests/bench_metrics.py (when /usr/bin/python3 has numpy and h5py).
have_np=0
/usr/bin/python3 -c 'import numpy, h5py' 2>/dev/null && have_np=1
best_m="" best_p="" best_np="" best_npw="" np_rows=""
for rep in 1 2 3; do
    t0=$(now)
    "$BIN/rw-metrics" -j 2 -o "$TMP/metrics.tsv" "${runs[@]}"
    best_m=$(min_of "$(secs "$t0" "$(now)")" "$best_m")
    t0=$(now)
    "$BIN/rw-spectra" -j 2 -o "$TMP/sp.h5" --recompute "${runs[@]}"
    "$BIN/rw-rank" -o "$TMP/rank.tsv" "$TMP/sp.h5"
    "$BIN/rw-cond" -o "$TMP/cond.tsv" "$TMP/sp.h5"
    best_p=$(min_of "$(secs "$t0" "$(now)")" "$best_p")
    [ "$have_np" = 1 ] && numpy_best best_npw best_np np_rows "${runs[@]}"
done
rows=$(($(wc -l <"$TMP/metrics.tsv") - 1))
echo "rankwatch, rw-metrics -j 2 (every metric, one command): ${best_m} s for $rows matrices"
echo "rankwatch, rw-spectra -j 2 + rw-rank + rw-cond (cached workflow): ${best_p} s"
if [ "$have_np" = 1 ]; then
    echo "numpy script (h5py + svd(compute_uv=False) per matrix): ${best_np} s for $np_rows matrices"
    echo "  (its loop, as timed inside it; the whole command, interpreter start and imports included: ${best_npw} s)"
    echo "(best of 3 each, interleaved)"
    awk -v a="$best_np" -v b="$best_m" -v c="$best_p" 'BEGIN{
        printf "rw-metrics takes %.3f of numpy'"'"'s time: %.1fx faster (target: at most 0.2)\n", b/a, a/b;
        printf "the cached workflow takes %.3f of it: %.1fx faster\n", c/a, a/c }'
    awk -v a="$best_npw" -v b="$best_m" 'BEGIN{
        printf "against the whole numpy command: rw-metrics takes %.3f of its time (%.1fx)\n", b/a, a/b }'
else
    echo "numpy: /usr/bin/python3 lacks numpy or h5py; comparison skipped"
fi
t0=$(now); "$BIN/rw-metrics" -j 1 -o "$TMP/m1.tsv" "${runs[@]}"; t_j1=$(secs "$t0" "$(now)")
echo "rw-metrics -j 1: ${t_j1} s"

# analyze.sh twice: the second run does no SVD.
export RW_NO_INSTALL=1
t0=$(now); ./analyze.sh "${runs[@]}" -o "$TMP/out" >/dev/null 2>"$TMP/log1"; t_cold=$(secs "$t0" "$(now)")
t0=$(now); ./analyze.sh "${runs[@]}" -o "$TMP/out" >/dev/null 2>"$TMP/log2"; t_warm=$(secs "$t0" "$(now)")
echo "analyze.sh on them: cold ${t_cold} s, warm ${t_warm} s; second run: $(grep -o '[0-9]* checkpoints: [0-9]* decomposed, [0-9]* reused' "$TMP/log2" || echo 'no reuse line')"

# Peak memory: rw-spectra on the runs at -j 1 and -j 2 (largest matrix 384x96 doubles = 288 KiB).
for j in 1 2; do
    /usr/bin/time -f "%M" -o "$TMP/rss" "$BIN/rw-spectra" -j "$j" --updates --component all --recompute \
        -o "$TMP/sp2.h5" "${runs[@]}"
    echo "peak RSS of rw-spectra --updates --component all -j $j: $(( $(cat "$TMP/rss") / 1024 )) MiB (bound: 64 MiB + 3 x $j x 0.28 MiB)"
done
