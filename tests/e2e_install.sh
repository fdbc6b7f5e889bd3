# e2e_install.sh — `make install` with PREFIX and DESTDIR puts the rw-
# programs and analyze.sh (as rankwatch-analyze) into DESTDIR/PREFIX/bin, and
# the installed rankwatch-analyze works from there alone: with PATH the
# install folder and the system's, run outside the source tree, it generates
# the fixture runs with the installed rw-fixture and analyses them, never
# calling make.
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

# The programs this test runs with, not another build: a sanitizer build's
# make check installs build-san's.
san=()
case "$RW_BIN" in */build-san/bin) san=(SAN=1) ;; esac
dest="$TMP/dest"
expect_exit 0 "make install DESTDIR PREFIX" make -s "${san[@]}" install DESTDIR="$dest" PREFIX=/opt/rw
ib="$dest/opt/rw/bin"
for p in rw-spectra rw-rank rw-cond rw-updates rw-compare rw-plot rw-ls rw-fixture rw-metrics rw-diff rw-tails; do
    check "installed: $p" test -x "$ib/$p"
done
check "installed: rankwatch-analyze" test -x "$ib/rankwatch-analyze"
check "nothing installed outside DESTDIR/PREFIX/bin" test "$(cd "$dest" && find . -type f | grep -vc '^\./opt/rw/bin/')" -eq 0

# A make that says it was called: the installed script must not need it.
mkdir -p "$TMP/fakebin" "$TMP/elsewhere"
printf '#!/bin/sh\ntouch "%s"\nexit 1\n' "$TMP/make-called" >"$TMP/fakebin/make"
chmod +x "$TMP/fakebin/make"
inst() { (cd "$TMP/elsewhere" && env -i HOME="$TMP" PATH="$ib:$TMP/fakebin:/usr/bin:/bin" "$@"); }

expect_exit 0 "installed rankwatch-analyze --version" inst rankwatch-analyze --version
check "--version names it and rankwatch's version" \
    grep -qE '^rankwatch-analyze \(rankwatch\) [0-9]+\.[0-9]+' "$TMP/out"
expect_exit 0 "installed rankwatch-analyze --help" inst rankwatch-analyze --help
check "--help says how it is installed" grep -q "make install" "$TMP/out"

inst rankwatch-analyze -o out >"$TMP/log" 2>&1
check "installed rankwatch-analyze on the fixture runs exits 0" test $? -eq 0
o="$TMP/elsewhere/out"
check "it generated the fixture runs with the installed rw-fixture" \
    test -f "$o/fixture-runs/relora/step_002000.h5"
check "it wrote the report" test -s "$o/report.md" -a -s "$o/report.html"
check "its report names the installed script" grep -q 'by `rankwatch-analyze`' "$o/report.md"
check "it drew the nine figures" test "$(grep -c '^!\[' "$o/report.md")" -eq 9
check "its messages name rankwatch-analyze" grep -q '^rankwatch-analyze: done in' "$TMP/log"
check "it did not build (no make called)" test ! -e "$TMP/make-called"
check "it did not build (no building message)" test -z "$(grep -i building "$TMP/log")"
check "its figures' scripts name the installed rw-plot's tables" \
    grep -q "from 'tables/rank.tsv'" "$o/figures/weights_per.gp"

# A copy of rankwatch-analyze without the programs beside it: one line, exit 2.
cp "$ib/rankwatch-analyze" "$TMP/alone"
expect_exit 2 "rankwatch-analyze without the rw- programs" bash "$TMP/alone" --version
check "it says what is missing" grep -q "neither rankwatch's sources nor the rw- programs are beside it" "$TMP/err"
