#!/usr/bin/env bash
# bench_gzip.sh — `make bench`, compressed checkpoints: two pico-tiny-shaped
# runs (12 layers, d_model 96, 21 float32 checkpoints each, full-rank and
# ReLoRA) written as h5py writes compression="gzip" (deflate level 4, h5py's
# chunk shapes, no shuffle), whose chunks rankwatch's workers inflate.
#   (a) rw-spectra and rw-metrics on the two gzip runs at -j 1 and -j 2
#       (target: -j 2 at least 1.7x faster);
#   (b) the full-rank run stored contiguously beside the ReLoRA run
#       gzip-chunked: rw-metrics -j 2 against a numpy script computing the
#       same metrics (h5py reading, numpy.linalg.svd(compute_uv=False) per
#       matrix, numpy's default threading; the entry metrics gini, hoyer and
#       max_abs too) in the same run (target: at most 1/6 of its time).
# Interleaved, best of 3 each (the machine may be shared: the load average is
# printed). numpy and h5py are optional (Debian's python3-numpy, python3-h5py).
set -u
cd "$(dirname "$0")/.."
BIN=${RW_BIN:-build/bin}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }
min_of() { awk -v a="$1" -v b="${2:-1e9}" 'BEGIN{print (a<b)?a:b}'; }
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

cat >"$TMP/numpy_metrics.py" <<'PY'
# The metrics rw-metrics computes, the way the Python tools do: h5py to read
# (it inflates gzip chunks on the calling thread), numpy.linalg.svd(
# compute_uv=False) per matrix at numpy's default threading, and the entry
# metrics (gini, hoyer, max_abs) of each matrix.
import glob, os, sys, time
import numpy as np, h5py

def metrics(w, eps):
    s = np.linalg.svd(w, compute_uv=False)
    m, n = w.shape; k = min(m, n)
    tol = s[0] * max(m, n) * eps
    r = int((s > tol).sum())
    p = s / s.sum(); p = p[p > 0]
    q = s**2 / (s**2).sum(); q = q[q > 0]
    er = np.exp(-(p * np.log(p)).sum())
    a = np.sort(np.abs(w).ravel()); N = a.size; l1 = a.sum()
    i = np.arange(1, N + 1)
    return dict(sigma_max=s[0], sigma_min=s[-1], cond=s[0] / s[-1], num_rank=r,
                cond_rank=s[0] / s[r - 1], erank=er, per=er / k,
                stable_rank=(s**2).sum() / s[0]**2, entropy=-(q * np.log(q)).sum() / np.log(k),
                fro=np.sqrt((s**2).sum()), nuc=s.sum(),
                gini=((2 * i - N - 1) * a).sum() / (N * l1),
                hoyer=(np.sqrt(N) - l1 / np.sqrt((a * a).sum())) / (np.sqrt(N) - 1),
                max_abs=a[-1])

rows = []
t0 = time.perf_counter()
for run in sys.argv[1:]:
    for path in sorted(glob.glob(os.path.join(run, "step_*.h5"))):
        with h5py.File(path, "r") as f:
            scale = f.attrs["lora_alpha"] / f.attrs["lora_r"] if "lora_r" in f.attrs else None
            for name, ds in f.items():
                if ds.ndim != 2 or ".A_lora." in name or ".B_lora." in name:
                    continue
                w = ds[...].astype(np.float64)
                base = name[: -len(".weight")]
                if scale is not None and base + ".A_lora.weight" in f:
                    w = w + scale * f[base + ".B_lora.weight"][...].astype(np.float64) @ \
                        f[base + ".A_lora.weight"][...].astype(np.float64)
                rows.append((run, path, name, metrics(w, np.finfo(np.float32).eps)))
print(f"{time.perf_counter() - t0:.3f} {len(rows)}")
PY
have_np=0
/usr/bin/python3 -c 'import numpy, h5py' 2>/dev/null && have_np=1

s1="" s2="" m1="" m2="" pm="" np_t="" np_w="" np_rows=""
for rep in 1 2 3; do
    best s1 "$BIN/rw-spectra" -j 1 --recompute -o "$TMP/s1.h5" "${gz[@]}"
    best s2 "$BIN/rw-spectra" -j 2 --recompute -o "$TMP/s2.h5" "${gz[@]}"
    best m1 "$BIN/rw-metrics" -j 1 -o "$TMP/m1.tsv" "${gz[@]}"
    best m2 "$BIN/rw-metrics" -j 2 -o "$TMP/m2.tsv" "${gz[@]}"
    best pm "$BIN/rw-metrics" -j 2 -o "$TMP/pm.tsv" "${pair[@]}"
    if [ "$have_np" = 1 ]; then
        t0=$(now)
        out=$(/usr/bin/python3 "$TMP/numpy_metrics.py" "${pair[@]}")
        np_w=$(min_of "$(secs "$t0" "$(now)")" "$np_w")
        np_t=$(min_of "${out% *}" "$np_t")
        np_rows=${out#* }
    fi
done
rows=$(($(wc -l <"$TMP/m2.tsv") - 1))
echo "(a) the two gzip runs, $rows matrices (best of 3, interleaved):"
awk -v a="$s1" -v b="$s2" 'BEGIN{printf "  rw-spectra -j 1 %.3f s, -j 2 %.3f s: %.2fx (target 1.7x: %s)\n", a, b, a/b, (a/b >= 1.7) ? "met" : "not met"}'
awk -v a="$m1" -v b="$m2" 'BEGIN{printf "  rw-metrics -j 1 %.3f s, -j 2 %.3f s: %.2fx (target 1.7x: %s)\n", a, b, a/b, (a/b >= 1.7) ? "met" : "not met"}'
cmp -s "$TMP/m1.tsv" "$TMP/m2.tsv" && echo "  -j 1 and -j 2 tables identical: yes" || echo "  -j 1 and -j 2 tables identical: NO"
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
