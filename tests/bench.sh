#!/usr/bin/env bash
# bench.sh — `make bench`: the singular-value benchmark (tests/bench_svd.c),
# then, when /usr/bin/python3 has numpy, numpy.linalg.svd(compute_uv=False)
# timed on the same matrices (written to a raw file) at numpy's default
# threading. Never part of `make check`; numpy is optional.
#   RW_BENCH          the bench program (make passes $(B)/tests/bench_svd)
#   RW_BENCH_ARGS     extra arguments for it (e.g. "--per-shape 8 --reps 5")
#   RW_BENCH_EXPLORE=1   also time the candidate methods per shape first
# Exit status: the bench program's (1 when a matrix breaks the contract).
set -u
cd "$(dirname "$0")/.."
BENCH=${RW_BENCH:-build/tests/bench_svd}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

read -r -a extra <<<"${RW_BENCH_ARGS:-}"
if [ "${RW_BENCH_EXPLORE:-0}" = 1 ]; then
    "$BENCH" --explore "${extra[@]}" || exit $?
    echo
fi

have_numpy=0
raw=()
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    have_numpy=1
    raw=(--raw "$TMP/mats.bin")
fi
"$BENCH" --summary "$TMP/summary" "${raw[@]}" "${extra[@]}"
status=$?
[ -s "$TMP/summary" ] || exit "$status"

if [ "$have_numpy" = 0 ]; then
    echo "numpy: /usr/bin/python3 has no numpy; comparison skipped"
    exit "$status"
fi
/usr/bin/python3 - "$TMP/mats.bin" "$TMP/summary" <<'EOF' || status=1
import os, sys, time
import numpy as np

raw, summary = sys.argv[1], sys.argv[2]
s = dict(line.strip().split("=", 1) for line in open(summary) if "=" in line)
rw1, rw2, reps = float(s["rw1"]), float(s["rw2"]), int(s["reps"])

# Per matrix: int64 rows, int64 cols, rows*cols float32, row-major.
data, mats, off = open(raw, "rb").read(), [], 0
while off < len(data):
    m, n = (int(v) for v in np.frombuffer(data, "<i8", 2, off))
    off += 16
    mats.append(np.frombuffer(data, "<f4", m * n, off).reshape(m, n))
    off += 4 * m * n
a64 = [a.astype(np.float64) for a in mats]

def mix(ms):
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        for a in ms:
            np.linalg.svd(a, compute_uv=False)
        best = min(best, time.perf_counter() - t)
    return best

t64, t32 = mix(a64), mix(mats)
worst = max(
    np.max(np.abs(np.linalg.svd(a32, compute_uv=False).astype(np.float64)
                  - np.linalg.svd(a, compute_uv=False)))
    / (2.0**-23 * np.linalg.norm(a))
    for a32, a in zip(mats, a64))
thr = os.environ.get("OPENBLAS_NUM_THREADS", f"unset: all {os.cpu_count()} CPUs")
print(f"numpy {np.__version__} svd(compute_uv=False), default threading (OpenBLAS threads {thr}):")
print(f"  float64 (dgesdd) {t64:.3f} s: rankwatch {t64 / rw1:.2f}x faster with 1 worker, "
      f"{t64 / rw2:.2f}x with 2")
print(f"  float32 arrays as loaded (sgesdd) {t32:.3f} s: rankwatch {t32 / rw1:.2f}x / "
      f"{t32 / rw2:.2f}x faster; sgesdd's worst err {worst:.2g} of the contract")
EOF
exit "$status"
