#!/usr/bin/env bash
# bench_ww.sh — `make bench`: rw-tails against WeightWatcher's OWN code
# (CalculatedContent/WeightWatcher 0.7.5.x, run as is from its source), on
# the same matrices: a pico-style fixture pair (`rw-fixture runs`), the Keras
# runs and the GPT-2 adapters of ../shared/realdata. Per data set: layers
# compared, the largest relative difference of alpha, D, xmin, alpha_weighted,
# mp_softrank and stable_rank (rw-rank's column), count mismatches (xmin's
# eigenvalue index via num_pl_spikes, num_spikes), the layers WeightWatcher
# skips and what rw-tails says for them; then the time of the power-law fit
# per layer: WeightWatcher's WWFit (WW_powerlaw.pl_fit, its default
# pl_package='ww', xmax=None) on the same eigenvalues against rw-tails on a
# spectra file (whole program, MP fit and I/O included, divided by the
# layers), best of 3, in the same run.
#
# WeightWatcher is run by `analyze(mp_fit=True)` (other options at their
# defaults: randomize=False, fix_fingers=False, pl_package='ww', xmax=None,
# min_evals=10, max_evals=15000, max_N=50000) on a dict of float64 numpy
# matrices (its PYSTATEDICT framework, which keeps the arrays as given:
# a torch module would be read back through float32). The matrices are the
# ones rw-tails analyses: the stored 2-D tensors (Keras kernels as stored,
# (in, out); a Conv1D kernel k x in x out as (k*in) x out, as rw-tails
# reads it), W + s*B*A for the fixture's ReLoRA layers and s*B*A for the
# adapter-only GPT-2 checkpoints (s = lora_alpha / r), in float64.
#
# Needs: WW_SRC (a WeightWatcher checkout: WW_SRC/weightwatcher/*.py) and
# POWERLAW_SRC (a directory holding powerlaw.py or powerlaw/ of the powerlaw
# package 1.5, which 0.7.5.x imports), or both importable by /usr/bin/python3;
# /usr/bin/python3 with numpy, scipy, pandas, sklearn, matplotlib, tqdm,
# h5py. weightwatcher.py imports `safetensors` at the top and never uses it
# on this path: it is stubbed (an empty module) when not installed.
# Without them it prints one line saying why and exits 0.
# RW_WW_DATA=fixture,keras,gpt2 chooses the data sets (default: all).
# WeightWatcher's MP fit costs 0.5-3 s per layer, so by default it runs
# (analyze(mp_fit=True)) on the first and last checkpoint of each run and
# the others get analyze(mp_fit=False); RW_WW_MP=all runs it everywhere
# (about 30 min on 2 cores). Default run: about 6 min.
set -u
cd "$(dirname "$0")/.."
BIN=${RW_BIN:-build/bin}
PY=/usr/bin/python3
REAL=${RW_REALDATA:-../shared/realdata}
[ -d "$REAL" ] || REAL=/work/shared/realdata
DATA=${RW_WW_DATA:-fixture,keras,gpt2}

skip() { echo "bench_ww: skipped: $*"; exit 0; }
[ -x "$PY" ] || skip "no /usr/bin/python3"
PYPATH=""
[ -n "${WW_SRC-}" ] && PYPATH="$WW_SRC"
[ -n "${POWERLAW_SRC-}" ] && PYPATH="$PYPATH${PYPATH:+:}$POWERLAW_SRC"
missing=$(PYTHONPATH="$PYPATH" "$PY" - <<'PY' 2>/dev/null
import importlib, importlib.util as u, sys, types, logging
logging.disable(logging.CRITICAL)
need = ["numpy", "scipy", "pandas", "sklearn", "matplotlib", "tqdm", "h5py", "powerlaw", "weightwatcher"]
miss = [m for m in need if u.find_spec(m) is None]
if not miss:
    if u.find_spec("safetensors") is None:
        s = types.ModuleType("safetensors"); s.safe_open = None; sys.modules["safetensors"] = s
    try:
        importlib.import_module("weightwatcher")
    except Exception as e:
        miss = ["weightwatcher (import failed: %s: %s)" % (type(e).__name__, e)]
print(" ".join(miss))
PY
) || skip "/usr/bin/python3 failed to run"
[ -z "$missing" ] || skip "/usr/bin/python3 cannot import: $missing (set WW_SRC=WeightWatcher checkout, POWERLAW_SRC=dir of powerlaw.py 1.5; Debian: python3-sklearn python3-pandas python3-matplotlib python3-tqdm python3-h5py)"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.4f", b-a}'; }
min_of() { awk -v a="$1" -v b="${2:-1e9}" 'BEGIN{print (a<b)?a:b}'; }

cat >"$TMP/ref.py" <<'PY'
# WeightWatcher's own analyze() on the matrices rw-tails analyses, compared
# row by row with rw-tails' and rw-rank's tables; WWFit timed per layer.
import sys, os, re, json, glob, time, types, logging, warnings
import numpy as np
warnings.simplefilter("ignore")
try:
    import safetensors  # noqa: F401
except ImportError:  # imported by weightwatcher.py, unused on this path
    st = types.ModuleType("safetensors"); st.safe_open = None
    sys.modules["safetensors"] = st
import weightwatcher as wwpkg
from weightwatcher import WeightWatcher
from weightwatcher import WW_powerlaw
from weightwatcher.constants import EVALS_THRESH
for name in ("weightwatcher", "WeightWatcher"):
    logging.getLogger(name).setLevel(logging.ERROR)
logging.getLogger().setLevel(logging.ERROR)
import h5py

# The eigenvalues WeightWatcher hands to its fit, recorded on the way (an
# observer around weightwatcher.weightwatcher.pl_fit; the call is unchanged),
# so that the timing below fits exactly those.
import weightwatcher.weightwatcher as wwmod
fit_seen = []
_pl_fit = wwmod.pl_fit
def _observed_pl_fit(data=None, **kw):
    fit_seen.append(np.array(data, copy=True))
    return _pl_fit(data=data, **kw)
wwmod.pl_fit = _observed_pl_fit

def h5_mats(path):
    """name -> (array as stored, float64); attrs of the root."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(n, o):
            if isinstance(o, h5py.Dataset) and o.ndim >= 2 and o.dtype.kind == "f":
                out[n.replace("/", ".")] = np.asarray(o[()], dtype=np.float64)
        f.visititems(visit)
        attrs = dict(f.attrs)
    return out, attrs

def st_mats(path):
    dt = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "BF16": None}
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        hdr = json.loads(f.read(n))
        raw = f.read()
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__": continue
        a, b = v["data_offsets"]
        if v["dtype"] == "BF16":
            x = np.frombuffer(raw[a:b], "<u2").astype(np.uint32) << 16
            x = x.view(np.float32)
        else:
            x = np.frombuffer(raw[a:b], dt[v["dtype"]])
        out[k] = x.reshape(v["shape"]).astype(np.float64)
    return out

PAIRS = [(".A_lora.weight", ".B_lora.weight"), (".lora_A.weight", ".lora_B.weight"),
         (".lora_A.default.weight", ".lora_B.default.weight")]

def matrices(mats, scale):
    """rw-tails' default components: plain tensors as stored (k-D: rows =
    product of all but the last dim), W + s B A where adapted, s B A where
    only adapters are stored. -> {(tensor, component): matrix}"""
    res, used = {}, set()
    for k in sorted(mats):
        for a, b in PAIRS:
            if k.endswith(a):
                base = k[: -len(a)] + ".weight"; kb = k[: -len(a)] + b
                if kb not in mats: continue
                A, B = mats[k], mats[kb]
                lora = scale * (B @ A)
                used |= {k, kb}
                if base in mats:
                    res[(base, "full")] = mats[base] + lora; used.add(base)
                else:
                    res[(base, "lora")] = lora
    for k, v in mats.items():
        if k not in used and v.ndim >= 2:
            res[(k, "weight")] = v.reshape(-1, v.shape[-1])
    return res

def step_of(path, attrs):
    if "step" in attrs: return int(attrs["step"])
    m = re.search(r"(?:step_|checkpoint-)0*(\d+)", path)
    if m: return int(m.group(1))
    m = re.findall(r"\d+", os.path.splitext(os.path.basename(path))[0])
    return int(m[-1]) if m else 0

def checkpoints(path):
    """[(step, loader)] of one run, in file order; loader() -> {(tensor, comp): matrix}."""
    if os.path.isfile(path):
        return [(0, lambda: matrices(h5_mats(path)[0], 1.0))]
    ads = sorted(glob.glob(os.path.join(path, "checkpoint-*", "adapter_model.safetensors")))
    if ads:
        def load_ad(p):
            cfg = json.load(open(os.path.join(os.path.dirname(p), "adapter_config.json")))
            return matrices(st_mats(p), cfg["lora_alpha"] / cfg["r"])
        return sorted(((step_of(p, {}), (lambda p=p: load_ad(p))) for p in ads), key=lambda x: x[0])
    def load_h5(p):
        mats, attrs = h5_mats(p)
        s = float(attrs["lora_alpha"]) / float(attrs["lora_r"]) if "lora_alpha" in attrs else 1.0
        return matrices(mats, s)
    out = []
    for p in glob.glob(os.path.join(path, "*.h5")) + glob.glob(os.path.join(path, "*.hdf5")):
        with h5py.File(p, "r") as f:
            st = step_of(p, dict(f.attrs))
        out.append((st, lambda p=p: load_h5(p)))
    return sorted(out, key=lambda x: x[0])

def read_tsv(path):
    with open(path) as f:
        head = f.readline().rstrip("\n").split("\t")
        return [dict(zip(head, l.rstrip("\n").split("\t"))) for l in f]

def strip_match(rows, run, step, name, comp):
    for r in rows.get((run, step, comp), []):
        if name == r["tensor"] or name.endswith("." + r["tensor"]):
            return r
    return None

def rel(a, b):
    if a == b: return 0.0
    return abs(a - b) / abs(b) if b != 0 else float("inf")

def main():
    dataset, tails_tsv, rank_tsv = sys.argv[1:4]
    runs = [a.split("=", 1) for a in sys.argv[4:]]
    tails, ranks = {}, {}
    for r in read_tsv(tails_tsv):
        tails.setdefault((r["run"], int(r["step"]), r["component"]), []).append(r)
    for r in read_tsv(rank_tsv):
        ranks.setdefault((r["run"], int(r["step"]), r["component"]), []).append(r)
    cols = ["alpha", "D", "xmin", "alpha_weighted", "mp_softrank", "stable_rank"]
    worst = {c: (0.0, "") for c in cols}
    n = 0; cnt_bad = []; skipped = []; unmatched = []; fit_evals = []
    t_analyze = 0.0
    mp_all = os.environ.get("RW_WW_MP", "ends") == "all"
    n_mp = 0; n_an = 0
    for label, path in runs:
        cks = checkpoints(path)
        for j, (step, load) in enumerate(cks):
            mats = load()
            keys = sorted(mats)
            model = {"m%d.weight" % i: mats[k] for i, k in enumerate(keys)}
            mp = mp_all or j == 0 or j == len(cks) - 1
            t0 = time.perf_counter()
            fit_seen.clear()
            det = WeightWatcher().analyze(model=model, mp_fit=mp)
            fit_evals.extend(fit_seen)
            if mp:
                t_analyze += time.perf_counter() - t0; n_an += len(det)
            byname = {row["name"]: row for _, row in det.iterrows()} if len(det) else {}
            for i, (name, comp) in enumerate(keys):
                rw = strip_match(tails, label, step, name, comp)
                rk = strip_match(ranks, label, step, name, comp)
                where = "%s step %d %s (%s)" % (label, step, name, comp)
                if rw is None or rk is None:
                    unmatched.append(where); continue
                w = byname.get("m%d" % i)
                if w is None:
                    m_, n_ = mats[(name, comp)].shape
                    why = "min(m,n) < min_evals 10" if min(m_, n_) < 10 else "its size limits"
                    skipped.append("%s %s (%s) %dx%d: WW skips it (%s); rw-tails: fit_status %s"
                                   % (label, name, comp, m_, n_, why, rw["fit_status"]))
                    continue
                n += 1; n_mp += mp
                rwv = {c: float(rw[c]) for c in cols if c in rw}
                rwv["stable_rank"] = float(rk["stable_rank"])
                for c in cols:
                    if c == "mp_softrank" and not mp: continue
                    d = rel(rwv[c], float(w[c]))
                    d = float("inf") if np.isnan(d) else d
                    if d > worst[c][0]:
                        worst[c] = (d, where)
                for c in ("num_pl_spikes", "num_spikes") if mp else ("num_pl_spikes",):
                    if int(float(rw[c])) != int(w[c]):
                        cnt_bad.append("%s: %s rw-tails %s, WW %d" % (where, c, rw[c], int(w[c])))
    # WWFit timing on the eigenvalues WW fits (lambda > EVALS_THRESH), best of 3
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        fits = [WW_powerlaw.pl_fit(data=e) for e in fit_evals]
        best = min(best, time.perf_counter() - t0)
    # the same eigenvalues and WWFit's alpha, D for the C timing of rw_plfit_compute
    with open(os.environ["RW_WW_EVALS"], "wb") as f:
        for e, fit in zip(fit_evals, fits):
            np.array([len(e), fit.alpha, fit.D], "<f8").tofile(f)
            np.sort(np.asarray(e, "<f8")).tofile(f)
    sizes = [len(e) for e in fit_evals]
    print("DATASET\t%s" % dataset)
    print("N\t%d\t%d" % (n, n_mp))
    for c in cols:
        print("WORST\t%s\t%.3g\t%s" % (c, worst[c][0], worst[c][1]))
    print("COUNTBAD\t%d" % len(cnt_bad))
    for l in cnt_bad[:10]: print("COUNT\t" + l)
    print("SKIPPED\t%d" % len(skipped))
    from collections import Counter
    for l, k in sorted(Counter(skipped).items()): print("SKIP\t%s (%d checkpoints)" % (l, k))
    print("UNMATCHED\t%d" % len(unmatched))
    for l in unmatched[:5]: print("UNM\t" + l)
    print("WWFIT\t%d\t%.6f\t%d\t%d" % (len(fit_evals), best, int(np.median(sizes)) if sizes else 0,
                                      max(sizes) if sizes else 0))
    print("ANALYZE\t%.6f" % (t_analyze / max(n_an, 1)))

main()
PY

# rw-tails' fit alone (rw_plfit_compute of analyzers/core/tails.h) on the
# eigenvalues WeightWatcher fitted, best of 3; built from the library when
# it links (else only the whole-program time is shown).
cat >"$TMP/plfit_time.c" <<'C'
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "analyzers/core/tails.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(int argc, char **argv) {
    FILE *f = argc > 1 ? fopen(argv[1], "rb") : NULL;
    if (!f) return 1;
    size_t cap = 0, nl = 0, tot = 0; double *all = NULL; size_t *off = NULL, *len = NULL; double *ref = NULL;
    double h[3];
    while (fread(h, sizeof h, 1, f) == 1) {
        size_t n = (size_t)h[0];
        if (nl % 64 == 0) { off = realloc(off, (nl + 64) * sizeof *off); len = realloc(len, (nl + 64) * sizeof *len);
                            ref = realloc(ref, 2 * (nl + 64) * sizeof *ref); }
        if (tot + n > cap) { cap = 2 * (tot + n); all = realloc(all, cap * sizeof *all); }
        if (!off || !len || !ref || !all || fread(all + tot, sizeof *all, n, f) != n) return 1;
        off[nl] = tot; len[nl] = n; ref[2 * nl] = h[1]; ref[2 * nl + 1] = h[2]; tot += n; nl++;
    }
    size_t mx = 0; for (size_t i = 0; i < nl; i++) if (len[i] > mx) mx = len[i];
    /* tails.h: 3 n + 1 doubles of scratch; room to spare if that grows */
    double *work = malloc((8 * mx + 64) * sizeof *work), best = 1e30, da = 0, dd = 0; size_t bad = 0;
    if (!work) return 1;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (size_t i = 0; i < nl; i++) {
            rw_plfit r;
            if (!rw_plfit_compute(all + off[i], len[i], work, &r)) { if (rep == 0) bad++; continue; }
            if (rep == 0) {
                double a = fabs(r.alpha - ref[2 * i]) / fabs(ref[2 * i]), d = fabs(r.D - ref[2 * i + 1]) / fabs(ref[2 * i + 1]);
                if (a > da) da = a; if (d > dd) dd = d;
            }
        }
        double t = now() - t0; if (t < best) best = t;
    }
    printf("%zu %.9f %.3g %.3g %zu\n", nl, best, da, dd, bad);
    return 0;
}
C
have_c=0
LIBDIR=$(dirname "$BIN")
${CC:-cc} -O2 -I. -o "$TMP/plfit_time" "$TMP/plfit_time.c" "$LIBDIR/librankwatch.a" -lm -pthread \
    2>"$TMP/cc.err" && have_c=1

# data sets: NAME|RUN SPEC...
sets=()
if [[ ",$DATA," == *,fixture,* ]]; then
    "$BIN/rw-fixture" runs -o "$TMP/fx" >/dev/null || exit 1
    sets+=("fixture|full-rank=$TMP/fx/full-rank relora=$TMP/fx/relora")
fi
if [[ ",$DATA," == *,keras,* ]] && [ -d "$REAL/keras-mlp-epochs" ]; then
    spec="keras-mlp-epochs=$REAL/keras-mlp-epochs"
    for f in "$REAL"/keras-models/*.h5; do spec+=" $(basename "$f" .h5)=$f"; done
    sets+=("keras|$spec")
fi
if [[ ",$DATA," == *,gpt2,* ]] && [ -d "$REAL/gpt2-lora-steps" ]; then
    sets+=("gpt2-lora|gpt2-lora-steps=$REAL/gpt2-lora-steps")
fi
[ -d "$REAL" ] || echo "bench_ww: no realdata folder ($REAL): fixture only"

wwver=$(PYTHONPATH="$PYPATH" "$PY" -c 'import sys,types
try: import safetensors
except ImportError: s = types.ModuleType("safetensors"); s.safe_open = None; sys.modules["safetensors"] = s
import weightwatcher as w; print(w.__version__)' 2>/dev/null)
echo "rw-tails against WeightWatcher ${wwver:-?}'s own analyze(mp_fit=True) on the same matrices (float64)"
timing=()
for s in "${sets[@]}"; do
    name=${s%%|*}; read -r -a runs <<<"${s#*|}"
    "$BIN/rw-tails" -o "$TMP/tails.tsv" "${runs[@]}" 2>"$TMP/err" || { cat "$TMP/err"; exit 1; }
    "$BIN/rw-rank" -o "$TMP/rank.tsv" "${runs[@]}" 2>"$TMP/err" || { cat "$TMP/err"; exit 1; }
    "$BIN/rw-spectra" -o "$TMP/sp.h5" "${runs[@]}" 2>"$TMP/err" || { cat "$TMP/err"; exit 1; }
    RW_WW_EVALS="$TMP/evals.bin" PYTHONPATH="$PYPATH" "$PY" "$TMP/ref.py" "$name" "$TMP/tails.tsv" "$TMP/rank.tsv" "${runs[@]}" \
        >"$TMP/ref.out" 2>"$TMP/ref.err" || { tail -5 "$TMP/ref.err"; exit 1; }
    best=""
    for rep in 1 2 3; do
        t0=$(now); "$BIN/rw-tails" -j 1 -o "$TMP/t2.tsv" "$TMP/sp.h5" || exit 1
        best=$(min_of "$(secs "$t0" "$(now)")" "$best")
    done
    rows=$(($(wc -l <"$TMP/t2.tsv") - 1))
    awk -F'\t' -v name="$name" '
        $1 == "N" { printf "%s: %d layers compared (mp_softrank, num_spikes: %d of them)\n", name, $2, $3 }
        $1 == "WORST" { printf "  max rel. diff %-15s %-9s %s\n", $2, $3, ($3 > 0 ? "(" $4 ")" : "") }
        $1 == "COUNTBAD" { printf "  num_pl_spikes/num_spikes mismatches: %d\n", $2 }
        $1 == "COUNT" || $1 == "SKIP" || $1 == "UNM" { print "    " $2 }
        $1 == "SKIPPED" { printf "  layers WW skips: %d\n", $2 }
        $1 == "UNMATCHED" && $2 > 0 { printf "  matrices not found in rw-tails table: %d\n", $2 }' "$TMP/ref.out"
    read -r _ nfit wwbest med mx < <(grep '^WWFIT' "$TMP/ref.out")
    read -r _ tana < <(grep '^ANALYZE' "$TMP/ref.out")
    cfit="-"
    if [ "$have_c" = 1 ] && read -r cn ct cda cdd cbad < <("$TMP/plfit_time" "$TMP/evals.bin"); then
        cfit=$(awk -v t="$ct" -v n="$cn" 'BEGIN{printf "%.4f", 1000*t/n}')
        echo "  rw_plfit_compute on WW's fitted eigenvalues: alpha within $cda, D within $cdd of WWFit's ($cbad not fitted)"
    fi
    timing+=("$(awk -v n="$name" -v nf="$nfit" -v w="$wwbest" -v r="$best" -v rows="$rows" -v med="$med" \
        -v mx="$mx" -v ta="$tana" -v cf="$cfit" 'BEGIN{printf "  %-10s %6d %5d/%-5d %10.4f %10s %9s %12.3f %10.1f", n, nf, med, mx,
        1000*w/nf, cf, (cf == "-" ? "-" : sprintf("%.0fx", 1000*w/nf/cf)), 1000*r/rows, 1000*ta}')")
done
echo "fit time per layer, ms, best of 3, same run, same eigenvalues (lambda > 1e-5):"
printf '  %-10s %6s %11s %10s %10s %9s %12s %10s\n' "data" "layers" "evals med/max" "WWFit" "rw_plfit" "speedup" "rw-tails/row" "WW analyze"
printf '%s\n' "${timing[@]}"
echo "  WWFit: WW_powerlaw.pl_fit (numpy); rw_plfit: rw-tails' fit (rw_plfit_compute, C, -O2);"
echo "  rw-tails/row: the whole program (-j 1) on a spectra file / its rows (MP fit, all columns, I/O);"
echo "  WW analyze: WeightWatcher's analyze(mp_fit=True) per layer (SVD, fits, MP fit), measured once"
[ "$have_c" = 1 ] || echo "  (rw_plfit column: the timing program did not build: $(head -1 "$TMP/cc.err"))"
