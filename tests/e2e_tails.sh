# e2e_tails.sh — rw-tails: every matrix gets a row (fit_status where the fit
# is not meaningful), the same table from checkpoints and from a spectra
# file, updates, and on real runs (the Keras epochs, the GPT-2 adapters)
# alpha, D, xmin and num_pl_spikes against WeightWatcher's fit re-implemented
# here in awk: the plain O(n^2) scan over every candidate xmin of the
# eigenvalues > 1e-5 (docs/tails.md), from rw-spectra's long table.
# Sourced by tests/e2e.sh (helpers: e2e_lib.sh).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

expect_exit 0 "rw-tails --help" rw-tails --help
check "--help names fit_status" grep -q fit_status "$TMP/out"
expect_exit 2 "rw-tails without a run" rw-tails
expect_exit 2 "rw-tails --from sideways" rw-tails --from sideways "$TMP"

fixture "$TMP/runs" runs --layers 2 --steps 400 --every 100 --cycle 200
rw-tails "$TMP/runs/full-rank" "$TMP/runs/relora" >"$TMP/t.tsv"
rw-rank "$TMP/runs/full-rank" "$TMP/runs/relora" >"$TMP/r.tsv"
check "one row per matrix, as rw-rank" \
    test "$(col "$TMP/t.tsv" tensor | wc -l)" -eq "$(col "$TMP/r.tsv" tensor | wc -l)"
check "the key columns are rw-rank's" \
    cmp -s <(cut -f1-9 "$TMP/t.tsv") <(cut -f1-9 "$TMP/r.tsv")
check "fixture matrices fit" test "$(col "$TMP/t.tsv" fit_status | sort -u)" = ok
rw-spectra --updates -o "$TMP/s.h5" "$TMP/runs/full-rank" "$TMP/runs/relora" 2>/dev/null
rw-tails "$TMP/s.h5" >"$TMP/ts.tsv"
check "spectra file and checkpoints give the same table" cmp -s "$TMP/t.tsv" "$TMP/ts.tsv"
rw-tails --updates "$TMP/runs/full-rank" "$TMP/runs/relora" >"$TMP/u.tsv"
rw-updates "$TMP/runs/full-rank" "$TMP/runs/relora" >"$TMP/ru.tsv"
check "--updates: one row per update, as rw-updates" \
    cmp -s <(cut -f1-9 "$TMP/u.tsv") <(cut -f1-9 "$TMP/ru.tsv")
rw-tails --updates "$TMP/s.h5" >"$TMP/us.tsv"
check "--updates from the spectra file" cmp -s "$TMP/u.tsv" "$TMP/us.tsv"
check "updates start at the second step" test "$(col "$TMP/u.tsv" step | sort -n | head -1)" = 100

# WeightWatcher's fit of every weight spectrum of a long spectra table:
# key \t alpha \t D \t xmin \t num_pl_spikes (awk's doubles, %.17g).
ww_fit() {
    awk -F'\t' '
    function fit(key,   i, j, k, t, n, s, a, d, v, bd, ba, bi) {
        n = 0
        for (i = cnt; i >= 1; i--) if (ev[i] > 1e-5) x[n++] = ev[i]   # ascending
        if (n < 2) return
        bd = 1e300
        for (i = 0; i < n - 1; i++) {
            s = 0
            for (j = i; j < n; j++) s += log(x[j])
            a = 1 + (n - i) / (s - (n - i) * log(x[i]))
            d = 1
            if (a > 1) {
                d = 0
                for (j = i; j < n; j++) {
                    v = 1 - exp((1 - a) * log(x[j] / x[i])) - (j - i) / (n - i)
                    if (v < 0) v = -v
                    if (v > d) d = v
                }
            }
            if (d < bd) { bd = d; ba = a; bi = i }
        }
        printf "%s\t%.17g\t%.17g\t%.17g\t%d\n", key, ba, bd, x[bi], n - bi
    }
    NR == 1 { next }
    $7 != "weight" { next }
    { k = $1 "\t" $2 "\t" $3 "\t" $6
      if (k != cur) { if (cnt) fit(cur); cur = k; cnt = 0 }
      ev[++cnt] = $9 * $9 }
    END { if (cnt) fit(cur) }' "$1"
}

# close_rel over two columns of joined rows: prints the rows that differ.
compare_fit() {
    local tails=$1 ref=$2 what=$3
    awk -F'\t' 'NR == FNR { r[$1 "\t" $2 "\t" $3 "\t" $4] = $0; next }
        FNR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        { k = $1 "\t" $2 "\t" $3 "\t" $6
          if ($c["fit_status"] != "ok") next
          if (!(k in r)) { print "missing " k; next }
          split(r[k], f, "\t"); n++
          if (abs($c["alpha"] - f[5]) > 1e-6 * f[5] || abs($c["D"] - f[6]) > 1e-6 * f[6] ||
              abs($c["xmin"] - f[7]) > 1e-15 * f[7] || $c["num_pl_spikes"] != f[8])
              print "differs " k ": " $c["alpha"] " " $c["D"] " " $c["xmin"] " " $c["num_pl_spikes"] " vs " f[5] " " f[6] " " f[7] " " f[8] }
        END { if (n == 0) print "no row compared" }
        function abs(v) { return v < 0 ? -v : v }' "$ref" "$tails" >"$TMP/$what.diff"
    check "$what: alpha, D (1e-6), xmin, num_pl_spikes as WeightWatcher's fit" test ! -s "$TMP/$what.diff"
    [ -s "$TMP/$what.diff" ] && head -3 "$TMP/$what.diff" >&2
}

rw-spectra -o "$TMP/fx_long.tsv" "$TMP/runs/full-rank" "$TMP/runs/relora" 2>/dev/null
ww_fit "$TMP/fx_long.tsv" >"$TMP/fx_ref.tsv"
compare_fit "$TMP/t.tsv" "$TMP/fx_ref.tsv" fixture

# real_fit NAME RUN: the spectra file of RUN, its long table, rw-tails on the
# file ($TMP/NAME.tsv) and the comparison with ww_fit.
real_fit() {
    rw-spectra -o "$TMP/$1.h5" "$2" 2>/dev/null
    rw-spectra -o "$TMP/$1_long.tsv" "$TMP/$1.h5"
    rw-tails "$TMP/$1.h5" >"$TMP/$1.tsv"
    ww_fit "$TMP/$1_long.tsv" >"$TMP/$1_ref.tsv"
    compare_fit "$TMP/$1.tsv" "$TMP/$1_ref.tsv" "$1"
}

if [ -z "$REALDATA" ]; then
    skip "../shared/realdata absent: the Keras and GPT-2 checks"
else
    real_fit keras "$REALDATA/keras-mlp-epochs"
    # the 30 x 1 output layer: WeightWatcher skips it; here it has a row
    check "keras: the 30x1 kernel's row says few_evals" \
        test "$(awk -F'\t' '$7 == 30 && $8 == 1 {print $10}' "$TMP/keras.tsv" | sort -u)" = few_evals
    check "keras: few_evals rows have nan alpha" \
        test "$(awk -F'\t' '$10 == "few_evals" {print $12}' "$TMP/keras.tsv" | sort -u)" = nan
    real_fit gpt2 "$REALDATA/gpt2-lora-steps"
    check "gpt2: s·B·A has rank 8: 8 eigenvalues fitted" \
        test "$(col "$TMP/gpt2.tsv" num_evals | sort -u)" = 8
fi

# ---- rw-plot esd: the histogram, the power law and the MP bulk behind the
# figure, checked against counts and closed forms computed here.
# A hand-made long spectra table: one module (a hostile name), three layers,
# two steps; layer 1's sigma_i = 3 i^-0.6, i = 1..40 (lambda = 9 i^-1.2).
MOD='m'"'"'x"$(touch MX)`touch MY`'
{
    printf 'run\tstep\ttensor\tlayer\tmodule\tcomponent\tkind\ti\tsigma\n'
    for step in 5 7; do
        for layer in 0 1 2; do
            awk -v s=$step -v l=$layer -v m="$MOD" 'BEGIN {
                for (i = 1; i <= 40; i++)
                    printf "hand\t%d\tlayers.%d.w\t%d\t%s\tweight\tweight\t%d\t%.17g\n",
                        s, l, l, m, i, 3 * exp(-0.6 * log(i)) * (1 + l + s / 100) }'
        done
    done
} >"$TMP/hand.tsv"
( cd "$TMP" && rw-plot esd -o "$TMP/esd.png" "$TMP/hand.tsv" )
check "esd: a PNG" sh -c "head -c 8 '$TMP/esd.png' | od -An -tx1 | grep -q '89 50 4e 47'"
check "esd: no payload ran" test ! -e "$TMP/MX" -a ! -e "$TMP/MY" -a ! -e MX -a ! -e MY
check "esd: default: the middle layer (1) at the last step (7)" \
    grep -q "step 7, layer 1: 40 eigenvalues > 1e-5 of 40, 13 bins" "$TMP/esd.dat"
# The counts: 13 bins of equal width in log10 lambda over [min, max].
awk 'BEGIN { for (i = 1; i <= 40; i++) { x = 3 * exp(-0.6 * log(i)) * 2.07; l[i] = x * x }
    lo = log(l[40]) / log(10); hi = log(l[1]) / log(10); h = (hi - lo) / 13
    for (i = 1; i <= 40; i++) { b = int((log(l[i]) / log(10) - lo) / h); if (b > 12) b = 12; c[b]++ }
    for (b = 0; b < 13; b++) if (c[b])
        printf "%.6g\t%.6g\t%d\t%.6g\n", exp((lo + b * h) * log(10)), exp((lo + (b + 1) * h) * log(10)),
            c[b], c[b] / (40 * (exp((lo + (b + 1) * h) * log(10)) - exp((lo + b * h) * log(10)))) }' \
    >"$TMP/esd_ref.tsv"
awk '/^# index 0:/ { on = 1; next } on && /^$/ { exit } on && !/^#/ {
    printf "%.6g\t%.6g\t%d\t%.6g\n", $2, $3, $4, $5 }' "$TMP/esd.dat" >"$TMP/esd_hist.tsv"
check "esd: the histogram's bins, counts and densities" cmp -s "$TMP/esd_ref.tsv" "$TMP/esd_hist.tsv"
check "esd: the counts add up to 40" \
    test "$(awk '{ s += $3 } END { print s }' "$TMP/esd_hist.tsv")" = 40
# The power law at xmin and xmax: (n_pl / M) (alpha - 1) / xmin (lambda / xmin)^-alpha,
# alpha, xmin and n_pl from WeightWatcher's fit re-implemented above.
awk -F'\t' 'NR == 1 || ($2 == 7 && $4 == 1)' "$TMP/hand.tsv" >"$TMP/hand1.tsv"
read -r _ _ _ _ A _ XMIN NPL < <(ww_fit "$TMP/hand1.tsv")
XMAX=$(awk 'BEGIN { x = 3 * 2.07; printf "%.17g", x * x }')
read -r Y1 Y2 < <(awk -v a="$A" -v x0="$XMIN" -v x1="$XMAX" -v n="$NPL" \
    'BEGIN { y = n / 40 * (a - 1) / x0; printf "%.17g %.17g\n", y, y * exp(-a * log(x1 / x0)) }')
awk '/^# index 1: pl/ { on = 1; next } on && /^$/ { exit } on && !/^#/ { print $1, $2 }' \
    "$TMP/esd.dat" >"$TMP/esd_pl.txt"
check "esd: the power law starts at xmin" close_rel "$(awk 'NR == 1 { print $1 }' "$TMP/esd_pl.txt")" "$XMIN" 1e-15
check "esd: ... and ends at xmax" close_rel "$(awk 'NR == 2 { print $1 }' "$TMP/esd_pl.txt")" "$XMAX" 1e-12
check "esd: the power law's density at xmin" close_rel "$(awk 'NR == 1 { print $2 }' "$TMP/esd_pl.txt")" "$Y1" 1e-6
check "esd: ... and at xmax" close_rel "$(awk 'NR == 2 { print $2 }' "$TMP/esd_pl.txt")" "$Y2" 1e-6
check "esd: a long table has no shape: no MP bulk" test "$(grep -c '^# index' "$TMP/esd.dat")" = 2
rw-plot esd --layer 0 --step 5 --step 7 -o "$TMP/esd2.png" "$TMP/hand.tsv"
check "esd: --layer 0, --step 5 --step 7: two panels of layer 0" \
    test "$(grep -c 'layer 0: 40 eigenvalues' "$TMP/esd2.dat")" = 2
expect_error "esd: a step with no spectra" "no spectra at step 6" \
    rw-plot esd --step 6 -o "$TMP/esd3.png" "$TMP/hand.tsv"
expect_exit 2 "esd: --layer is for esd" rw-plot spectrum --layer 1 -o "$TMP/x.png" "$TMP/hand.tsv"
# From a spectra file (shapes known): the MP bulk's density integrates to 1
# over the bulk (trapezoids between its points, which stop short of the edges).
rw-plot esd --modules 'swiglu.w_2*' -o "$TMP/esd4.png" "$TMP/s.h5"
check "esd (spectra file): a PNG" test -s "$TMP/esd4.png"
awk '/^# index [0-9]+: mp/ { on = 1; n++; next } /^$/ { on = 0 }
    on && !/^#/ { if (have[n]) s[n] += ($1 - px) * ($2 + py) / 2; px = $1; py = $2; have[n] = 1 }
    END { for (i = 1; i <= n; i++) print s[i] }' "$TMP/esd4.dat" >"$TMP/esd_mp.txt"
check "esd: MP bulks drawn for both runs" test "$(wc -l <"$TMP/esd_mp.txt")" = 2
check "esd: each MP density integrates to 1 (within 2%)" \
    awk '$1 < 0.98 || $1 > 1.02 { exit 1 }' "$TMP/esd_mp.txt"

# ---- rand_distance (--rand-distance): through the pipeline on W = [[1, 2], [3, 4]]
# (a safetensors file written here). Seed 0 shuffles its entries to
# [[3, 2], [1, 4]] (test_tails.c checks the shuffle against its definition);
# the 2 x 2 singular values in closed form, sigma^2 = (F +- sqrt(F^2 - 4 det^2)) / 2,
# F = 30 for both, det -2 and 10; the JS distance of the two eigenvalue vectors.
hdr='{"layers.0.w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}'
{ printf "\\x$(printf %02x ${#hdr})\\x00\\x00\\x00\\x00\\x00\\x00\\x00"; printf '%s' "$hdr"
  printf '\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40'; } >"$TMP/w22.safetensors"
rw-tails --rand-distance "$TMP/w22.safetensors" >"$TMP/rd.tsv"
JS=$(awk 'BEGIN { F = 30; d1 = -2; d2 = 10
    l1 = (F + sqrt(F * F - 4 * d1 * d1)) / 2; l2 = F - l1
    r1 = (F + sqrt(F * F - 4 * d2 * d2)) / 2; r2 = F - r1
    p[1] = l1 / F; p[2] = l2 / F; q[1] = r1 / F; q[2] = r2 / F
    for (i = 1; i <= 2; i++) { m = (p[i] + q[i]) / 2; s += (p[i] * log(p[i] / m) + q[i] * log(q[i] / m)) / 2 }
    printf "%.17g", sqrt(s) }')
check "rand_distance of [[1,2],[3,4]]: the closed form ($JS)" close_rel "$(col "$TMP/rd.tsv" rand_distance)" "$JS" 1e-12
check "the 2x2's fit is few_evals, its rand_distance given all the same" \
    test "$(col "$TMP/rd.tsv" fit_status)" = few_evals
rw-tails "$TMP/w22.safetensors" >"$TMP/rd0.tsv"
check "without --rand-distance: nan" test "$(col "$TMP/rd0.tsv" rand_distance)" = nan
rw-tails --rand-distance -j 1 "$TMP/runs/full-rank" >"$TMP/rd1.tsv"
rw-tails --rand-distance -j 3 "$TMP/runs/full-rank" >"$TMP/rd3.tsv"
check "rand_distance: the same bytes whatever -j" cmp -s "$TMP/rd1.tsv" "$TMP/rd3.tsv"
check "rand_distance of the fixture: every value in (0, sqrt(ln 2)]" \
    awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        !($c["rand_distance"] > 0 && $c["rand_distance"] <= 0.8326) { exit 1 }' "$TMP/rd1.tsv"
check "rand_distance leaves the other columns as they were" \
    cmp -s <(cut -f1-29 "$TMP/rd1.tsv") <(rw-tails "$TMP/runs/full-rank" | cut -f1-29)
expect_exit 0 "rand_distance from a spectra file: nan, with a warning" \
    rw-tails --rand-distance "$TMP/s.h5"
check "... the warning" grep -q "rand_distance, which needs the matrix entries, is nan" "$TMP/err"
check "... and the column is nan" test "$(col "$TMP/out" rand_distance | sort -u)" = nan
