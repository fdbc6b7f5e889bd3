#!/usr/bin/env bash
# bench_sim.sh — `make bench`: rw-sim against the reference code of the
# comparative metrics (CKA and PWCCA as pico-analyze computes them: the CKA
# authors' feature-space form and the SVCCA authors' cca_core/pwcca, with
# epsilon 1e-6), re-implemented below in numpy from their published code and
# run in float64, on the same activations: every step of two 12-layer
# pico-style runs against the run's last step. Reports the times (best of 3,
# in the same run) and how closely the numbers agree.
# Then the gradient metrics (rw-metrics --data gradients, plain and OV)
# against pico-analyze's per, condition_number, gini and hoyer and its
# compute_ov_gradients, re-implemented the same way, in float64.
# The reference needs /usr/bin/python3 with numpy and torch (Debian's
# python3-numpy, python3-torch, to read the .pt files); without them only
# rw-sim's times are printed.
set -u
cd "$(dirname "$0")/.."
BIN=${RW_BIN:-build/bin}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }
min_of() { awk -v a="$1" -v b="${2:-1e9}" 'BEGIN{print (a<b)?a:b}'; }

"$BIN/rw-fixture" runs -o "$TMP/fx" --layout pico --layers 12 --steps 1000 --every 100 \
    --cycle 500 >/dev/null || exit 1
runs=("$TMP/fx/runs/full-rank" "$TMP/fx/runs/relora")

cat >"$TMP/ref.py" <<'PY'
# CKA and PWCCA the way the reference code computes them, in float64.
import glob, os, sys, time
import numpy as np, torch

def cka(x, y):
    x = x - x.mean(0, keepdims=True); y = y - y.mean(0, keepdims=True)
    return np.linalg.norm(x.T @ y) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))

def sqrtm_psd(a):
    w, v = np.linalg.eigh(a)
    return np.dot(v, np.dot(np.diag(np.sqrt(w)), v.T))

def pwcca(acts1, acts2, eps=1e-6):
    nx = acts1.shape[0]
    cov = np.cov(acts1, acts2)
    sxx, sxy, syy = cov[:nx, :nx], cov[:nx, nx:], cov[nx:, nx:]
    xmax, ymax = np.max(np.abs(sxx)), np.max(np.abs(syy))
    sxx = sxx / xmax; syy = syy / ymax; sxy = sxy / np.sqrt(xmax * ymax)
    xi = np.abs(np.diagonal(sxx)) >= eps; yi = np.abs(np.diagonal(syy)) >= eps
    sxx = sxx[xi][:, xi] + eps * np.eye(xi.sum()); syy = syy[yi][:, yi] + eps * np.eye(yi.sum())
    sxy = sxy[xi][:, yi]
    ix = sqrtm_psd(np.linalg.pinv(sxx)); iy = sqrtm_psd(np.linalg.pinv(syy))
    u, s, v = np.linalg.svd(np.dot(ix, np.dot(sxy, iy)))
    m1 = acts1.mean(1, keepdims=True)
    d = np.dot(u.T, acts1[xi] - m1[xi]) + m1[xi]  # the X side: both keep every feature here
    p, _ = np.linalg.qr(d.T)
    w = np.sum(np.abs(np.dot(p.T, acts1[xi].T)), axis=1)
    return np.sum(w / w.sum() * np.abs(s))

t0 = time.perf_counter()
out = []
for run in sys.argv[1:]:
    steps = sorted(glob.glob(os.path.join(run, "checkpoints", "step_*")),
                   key=lambda p: int(p.rsplit("_", 1)[1]))
    load = lambda p: torch.load(os.path.join(p, "learning_dynamics", "train_activations.pt"))
    tgt = load(steps[-1])
    for p in steps:
        for name, a in load(p).items():
            x, y = a.double().numpy(), tgt[name].double().numpy()
            out.append((os.path.basename(run), p.rsplit("_", 1)[1], name, cka(x, y), pwcca(x.T, y.T)))
sys.stderr.write(f"{time.perf_counter() - t0:.3f} {len(out)}\n")
for r in out:
    print("\t".join(map(str, r[:3])) + "\t%.17g\t%.17g" % r[3:])
PY
have_ref=0
/usr/bin/python3 -c 'import numpy, torch' 2>/dev/null && have_ref=1

best1="" best2="" bestr="" bestrw=""
for rep in 1 2 3; do
    t0=$(now)
    "$BIN/rw-sim" -j 1 -o "$TMP/sim1.tsv" "${runs[@]}" || exit 1
    best1=$(min_of "$(secs "$t0" "$(now)")" "$best1")
    t0=$(now)
    "$BIN/rw-sim" -j 2 -o "$TMP/sim2.tsv" "${runs[@]}" || exit 1
    best2=$(min_of "$(secs "$t0" "$(now)")" "$best2")
    if [ "$have_ref" = 1 ]; then
        t0=$(now)
        /usr/bin/python3 "$TMP/ref.py" "${runs[@]}" >"$TMP/ref.tsv" 2>"$TMP/ref.time" || exit 1
        bestrw=$(min_of "$(secs "$t0" "$(now)")" "$bestrw")
        read -r t _ <"$TMP/ref.time"
        bestr=$(min_of "$t" "$bestr")
    fi
done
pairs=$(($(wc -l <"$TMP/sim1.tsv") - 1))
cmp -s "$TMP/sim1.tsv" "$TMP/sim2.tsv" || echo "bench_sim: -j 1 and -j 2 tables differ" >&2
echo "rw-sim: CKA and PWCCA of every step against the last, 2 pico-style runs, $pairs step/module pairs"
printf '  %-44s %8s s\n' "rw-sim -j 1" "$best1" "rw-sim -j 2" "$best2"
if [ "$have_ref" = 1 ]; then
    printf '  %-44s %8s s\n' "numpy reference (loop: torch.load + metrics)" "$bestr" \
        "numpy reference (whole process)" "$bestrw"
    awk -v a="$bestr" -v b="$best1" -v c="$best2" \
        'BEGIN{printf "  rw-sim is %.1fx (-j 1) and %.1fx (-j 2) as fast as the reference loop\n", a/b, a/c}'
    # agreement, per pair: |rw - ref| / |ref|
    awk -F'\t' 'NR == FNR { c[$1 " " $2 " " $3] = $4; p[$1 " " $2 " " $3] = $5; next }
        FNR > 1 { k = $1 " " $2 " " $4; dc = $9 - c[k]; dc = dc < 0 ? -dc : dc
                  dp = ($10 - p[k]) / p[k]; dp = dp < 0 ? -dp : dp
                  n++; if (dc > mc) mc = dc; if (dp <= 1e-6) { w++; if (dp > mp) mp = dp } }
        END { printf "  agreement with the reference: CKA within %.2g on all %d pairs; PWCCA within 1e-6 on %d (largest %.2g)\n", mc, n, w, mp
              if (w < n) printf "  (the other %d: see docs/similarity.md, \"When PWCCA is not determined\")\n", n - w }' \
        "$TMP/ref.tsv" "$TMP/sim1.tsv"
else
    echo "  numpy reference: skipped (/usr/bin/python3 lacks numpy or torch: python3-numpy, python3-torch)"
fi

# ------------------------------------------------ gradient metrics
[ "$have_ref" = 1 ] || exit 0
cat >"$TMP/grad.py" <<'PY'
# pico-analyze's per, condition_number, gini, hoyer (src/metrics) and its
# OV-circuit gradient (src/components/ov_circuit.py compute_ov_gradients),
# in float64, against rw-metrics' tables.
import csv, glob, json, math, os, struct, sys
import numpy as np, torch

def st_load(path):  # safetensors: 8-byte header length, JSON header, raw data
    b = open(path, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
    return {k: torch.from_numpy(np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                                              dtype="<f4").reshape(v["shape"]).copy())
            for k, v in h.items() if k != "__metadata__"}

def per(m):
    s = torch.linalg.svdvals(m); s = s / s.sum()
    return torch.exp(-torch.sum(s * torch.log(s))).item() / len(s)
def cond(m):
    s = torch.linalg.svdvals(m); return (s.max() / s.min()).item()
def gini(m):
    x = torch.sort(m.flatten().abs())[0]; n = x.shape[0]
    return (((2 * torch.arange(1, n + 1, dtype=x.dtype) - n - 1) * x).sum() / (n * x.sum())).item()
def hoyer(m):
    n = m.numel(); return (math.sqrt(n) - torch.norm(m, p=1).item() / torch.norm(m, p=2).item()) / (math.sqrt(n) - 1)

plain, ov, heads, kv_heads = sys.argv[1:5]
rows = {}
for t in (plain, ov):
    for r in csv.DictReader(open(t), delimiter="\t"):
        rows[(r["run"], r["step"], r["tensor"])] = r
worst, n = {}, 0
def check(key, m, metrics):
    global n
    r = rows[key]; n += 1
    for name, f in metrics:
        ref = f(m); d = abs(float(r[name]) - ref) / abs(ref)
        worst[name] = max(worst.get(name, 0), d)
H, G = int(heads), int(kv_heads)
for run in sys.argv[5:]:
    label = os.path.basename(run)
    for p in glob.glob(os.path.join(run, "checkpoints", "step_*")):
        step = p.rsplit("_", 1)[1]
        g = {k: v.double() for k, v in torch.load(os.path.join(p, "learning_dynamics", "train_gradients.pt")).items()}
        for name, m in g.items():
            check((label, step, name), m, [("per", per), ("cond", cond), ("gini", gini), ("hoyer", hoyer)])
            worst["max_abs"] = max(worst.get("max_abs", 0), abs(float(rows[(label, step, name)]["max_abs"]) - m.abs().max().item()))
        w = {k: v.double() for k, v in st_load(os.path.join(p, "model.safetensors")).items()}
        for layer in sorted({k.split(".")[1] for k in g}):
            pre = f"layers.{layer}.attention."
            vg, og = g[pre + "v_proj"], g[pre + "o_proj"]
            vw = next(v for k, v in w.items() if k.endswith(pre + "v_proj.weight"))
            ow = next(v for k, v in w.items() if k.endswith(pre + "o_proj.weight"))
            d = ow.shape[1] // H
            m = torch.cat([ow[:, h * d:(h + 1) * d] @ vg[(h // (H // G)) * d:(h // (H // G) + 1) * d]
                           + og[:, h * d:(h + 1) * d] @ vw[(h // (H // G)) * d:(h // (H // G) + 1) * d]
                           for h in range(H)], dim=1)
            check((label, step, pre + "ov"), m, [("per", per), ("cond", cond)])
print("  gradient metrics against pico-analyze's definitions (float64), %d matrices:" % n)
print("   " + "; ".join("%s %.2g" % (k, v) for k, v in worst.items()) + " (largest relative difference; max_abs absolute)")
PY
"$BIN/rw-metrics" --data gradients -o "$TMP/grad.tsv" "${runs[0]}" || exit 1
"$BIN/rw-metrics" --data gradients --component ov -o "$TMP/grad_ov.tsv" "${runs[0]}" || exit 1
/usr/bin/python3 "$TMP/grad.py" "$TMP/grad.tsv" "$TMP/grad_ov.tsv" 12 4 "${runs[0]}" || exit 1
