# e2e_progress.sh — --progress: lines for batch logs (a line at the end
# whose count is the matrices decomposed), none, and a bad value. The
# terminal line is drawn only on a terminal and is not checked here (no
# timing in tests); rw_fmt_duration, which writes its times, has a unit test.
# Sourced by tests/e2e.sh (helpers: e2e_lib.sh).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

G="$TMP/prog"
mkdir -p "$G"
rw-fixture runs -o "$G/r" --layers 1 --steps 200 --every 100 --cycle 200 >/dev/null 2>&1 || bad "rw-fixture"
expect_exit 0 "rw-rank --progress lines" rw-rank --progress lines -o "$G/rank.tsv" "$G/r/full-rank"
check "lines: the last line says done, with the matrices decomposed (one per row)" \
    grep -qx "rw-rank: progress: done, $(($(wc -l <"$G/rank.tsv") - 1)) matrices in .*/s)" "$TMP/err"
check "lines: every stderr line is a progress line" [ -z "$(grep -v '^rw-rank: progress: ' "$TMP/err")" ]
expect_exit 0 "rw-spectra --updates --progress lines" rw-spectra --updates --progress lines -o "$G/s.h5" "$G/r/full-rank"
check "rw-spectra: done counts weights and updates (3 steps x 9 + 2 x 9)" \
    grep -qx 'rw-spectra: progress: done, 45 matrices in .*/s)' "$TMP/err"
expect_exit 0 "rw-spectra again (all reused)" rw-spectra --updates --progress lines -o "$G/s.h5" "$G/r/full-rank"
check "reused checkpoints are not counted" grep -qx 'rw-spectra: progress: done, 0 matrices in .*' "$TMP/err"
expect_exit 0 "--progress none" rw-rank --progress none "$G/r/full-rank"
check "none: nothing on stderr" [ ! -s "$TMP/err" ]
expect_exit 2 "--progress soon" rw-rank --progress soon "$G/r/full-rank"
check "a bad value names the choices" grep -q "rw-rank: --progress: 'soon' is not auto, lines or none" "$TMP/err"
