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
