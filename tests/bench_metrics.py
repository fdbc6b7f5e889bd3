# bench_metrics.py RUN... — the numpy side of `make bench`'s end-to-end
# comparisons (tests/bench_pico.sh, tests/bench_gzip.sh): the metrics
# rw-metrics computes, the way the Python tools do: h5py to read (inflating
# compressed chunks on the calling thread), numpy.linalg.svd(compute_uv=False)
# per matrix at numpy's default threading, W + s B A for ReLoRA's adapted
# weights. With --entries first, also the entry metrics (gini, hoyer,
# max_abs). Prints the loop's time in seconds and the matrices done.
import glob, os, sys, time
import numpy as np, h5py

entries = len(sys.argv) > 1 and sys.argv[1] == "--entries"
runs = sys.argv[2:] if entries else sys.argv[1:]

def metrics(w, eps):
    s = np.linalg.svd(w, compute_uv=False)
    m, n = w.shape; k = min(m, n)
    tol = s[0] * max(m, n) * eps
    r = int((s > tol).sum())
    p = s / s.sum(); p = p[p > 0]
    q = s**2 / (s**2).sum(); q = q[q > 0]
    er = np.exp(-(p * np.log(p)).sum())
    out = dict(sigma_max=s[0], sigma_min=s[-1], cond=s[0] / s[-1], num_rank=r,
               cond_rank=s[0] / s[r - 1], erank=er, per=er / k,
               stable_rank=(s**2).sum() / s[0]**2, entropy=-(q * np.log(q)).sum() / np.log(k))
    if entries:
        a = np.sort(np.abs(w).ravel()); N = a.size; l1 = a.sum()
        i = np.arange(1, N + 1)
        out.update(fro=np.sqrt((s**2).sum()), nuc=s.sum(),
                   gini=((2 * i - N - 1) * a).sum() / (N * l1),
                   hoyer=(np.sqrt(N) - l1 / np.sqrt((a * a).sum())) / (np.sqrt(N) - 1),
                   max_abs=a[-1])
    return out

rows = []
t0 = time.perf_counter()
for run in runs:
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
