# e2e_analyze_swap.sh — analyze.sh keeps one analysis per OUT folder: a run
# replaces OUT as a whole; a failed or interrupted run (SIGTERM) leaves the
# previous OUT byte-identical, or no OUT where there was none, and no
# temporary folder; the next run removes the temporary folders of runs that
# died (kill -9); OUT values whose replacement would delete more than an
# analysis are refused.
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

export RW_NO_INSTALL=1
rw-fixture runs -o "$TMP/runs" --layers 2 --steps 200 --every 100 --cycle 100 >/dev/null 2>&1
good=("$TMP/runs/full-rank" "$TMP/runs/relora")
mkdir "$TMP/broken"
cp -p "$TMP/runs/relora/"*.h5 "$TMP/broken/"
head -c 100 "$TMP/runs/relora/step_000100.h5" >"$TMP/broken/step_000100.h5"
out="$TMP/work/out"

# The files of a folder with their checksums, and its empty folders.
listing() { (cd "$1" && find . -type f -exec sha256sum {} + | sort -k2 && find . -type d | sort); }
# The temporary folders of analyze.sh beside OUT.
temps() { compgen -G "$TMP/work/.out.new.*"; compgen -G "$TMP/work/.out.old.*"; true; }
dead_pid() { sh -c 'exit 0' & local p=$!; wait "$p"; echo "$p"; }

# A failing run where there was no OUT leaves none.
mkdir -p "$TMP/work"
expect_exit 1 "analyze.sh on a broken checkpoint fails" timeout 120 ./analyze.sh "$TMP/broken" -o "$out"
check "a failed first run leaves no OUT" test ! -e "$out"
check "a failed first run says no OUT was written (not that one was left as it was)" \
    grep -qx "analyze.sh: failed; no $out written" "$TMP/err"
check "a failed first run leaves no temporary folder" test -z "$(temps)"

# A previous analysis (another run's report, a stray table) and the
# temporary folders of two runs killed with -9, one mid-swap.
mkdir -p "$out/tables" "$out/figures"
printf '# rankwatch report\n\n- [`tables/old.tsv`](tables/old.tsv)\n' >"$out/report.md"
printf 'run\tstep\n' >"$out/tables/old.tsv"
printf 'not a png' >"$out/figures/old.png"
d1=$(dead_pid) d2=$(dead_pid)
mkdir -p "$TMP/work/.out.new.$d1/tables" "$TMP/work/.out.old.$d2"
touch "$TMP/work/.out.new.$d1/tables/rank.tsv" "$TMP/work/.out.old.$d2/report.md"
listing "$out" >"$TMP/before"

# (b) A failing run leaves the previous OUT as it was, and no temporary folder.
expect_exit 1 "analyze.sh on a broken checkpoint fails" timeout 120 ./analyze.sh "${good[0]}" "$TMP/broken" -o "$out"
check "the failure names the checkpoint" grep -q "broken/step_000100.h5" "$TMP/err"
check "the failure says the previous OUT is left as it was" \
    grep -qx "analyze.sh: failed; $out left as it was" "$TMP/err"
check "a failed run leaves the previous OUT byte-identical" cmp -s "$TMP/before" <(listing "$out")
# (d) Those of dead runs are gone too, removed by that run.
check "the stale .out.new.<dead pid> and .out.old.<dead pid> are removed" test -z "$(temps)"

# A run killed with -9 between its two renames left only .out.old.<pid>:
# that is OUT, and the next run puts it back.
mv "$out" "$TMP/work/.out.old.$d1"
expect_exit 1 "analyze.sh on a broken checkpoint fails" timeout 120 ./analyze.sh "$TMP/broken" -o "$out"
check "OUT, left aside by a run killed mid-swap, is put back" cmp -s "$TMP/before" <(listing "$out")
check "and no temporary folder is left" test -z "$(temps)"

# (c) SIGTERM once the run's temporary folder exists: exit 143, the previous
# OUT intact, no temporary folder, no program of the run still running.
timeout 120 ./analyze.sh "${good[@]}" -o "$out" >"$TMP/out" 2>"$TMP/err" &
tpid=$!
new=""
for _ in $(seq 600); do
    new=$(compgen -G "$TMP/work/.out.new.*") && break
    sleep 0.05
done
if [ -n "$new" ]; then
    sleep 0.3   # most likely inside rw-spectra
    kill -TERM "${new##*.}"
    wait "$tpid"
    rc=$?
    check "SIGTERM: analyze.sh exits 143 (got $rc)" test "$rc" -eq 143
    check "SIGTERM: says it stopped" grep -q "stopped by SIGTERM" "$TMP/err"
    check "SIGTERM: the previous OUT is byte-identical" cmp -s "$TMP/before" <(listing "$out")
    check "SIGTERM: no temporary folder is left" test -z "$(temps)"
    if command -v pgrep >/dev/null; then
        check "SIGTERM: no program of the run is left running" test -z "$(pgrep -f -- "$new")"
    else
        skip "pgrep missing: not checking for programs left running"
    fi
else
    wait "$tpid"
    bad "SIGTERM: no temporary folder .out.new.<pid> appeared"
fi

# (a) A complete run replaces OUT as a whole (the stray files are made again
# in case a step above went wrong).
mkdir -p "$out/tables" "$out/figures"
printf 'run\tstep\n' >"$out/tables/old.tsv"
printf 'not a png' >"$out/figures/old.png"
# It runs with the pid of a stale .out.new.<pid> (an earlier process that had
# the same pid), which it must treat as stale, not as its own.
timeout 120 bash -c 'mkdir -p "$1/.out.new.$$/tables"; shift; exec ./analyze.sh "$@"' \
    _ "$TMP/work" "${good[@]}" -o "$out" >"$TMP/log1" 2>&1
check "analyze.sh over a previous OUT exits 0" test $? -eq 0
check "it removed the stale folder of its own pid" grep -q "removing .*/\.out\.new\.[0-9]*, left by" "$TMP/log1"
check "a stray table of the previous analysis is gone" test ! -e "$out/tables/old.tsv"
check "a stray figure of the previous analysis is gone" test ! -e "$out/figures/old.png"
check "the report is the new one" grep -q '| relora | 3 | 0 to 200 |' "$out/report.md"
missing=0
for link in $(grep -oE '\]\([^)]+\)' "$out/report.md" | sed 's/^](//; s/)$//'); do
    [ -e "$out/$link" ] || { missing=$((missing + 1)); bad "report.md links to missing $link"; }
done
check "every link of report.md resolves" test "$missing" -eq 0
check "no temporary folder after a complete run" test -z "$(temps)"
check "the figures' scripts name OUT's files relative to OUT" \
    grep -q '^# rw-plot trajectory .* from '"'"'tables/rank.tsv'"'"'$' "$out/figures/weights_per.gp"
# (That the spectra cache survives the swap, e2e_analyze.sh checks: its
# second run decomposes nothing.)

# OUT values whose replacement would delete more than an analysis: one line,
# exit 2, before anything is built. A missing run as well, so that a check
# that let one through would fail in rw-spectra rather than replace anything.
refused() {  # refused DESCRIPTION OUT RUN...
    local d=$1 o=$2
    shift 2
    expect_exit 2 "$d" timeout 60 ./analyze.sh "$@" "$TMP/nope" -o "$o"
    check "$d: one line on stderr" test "$(wc -l <"$TMP/err")" -eq 1
    check "$d: says why" grep -q "^analyze.sh: -o .*OUT is replaced as a whole" "$TMP/err"
}
refused "-o / is refused" /
refused "-o . (the current directory) is refused" .
refused "-o .. (a parent of the current directory) is refused" ..
refused "-o a parent of a run is refused" "$TMP/runs" "${good[0]}"
refused "-o a folder holding NAME=RUN's run is refused" "$TMP" "x=${good[1]}"
refused "-o a regular file is refused" "$out/report.md"
mkdir -p "$TMP/docs" && echo "keep me" >"$TMP/docs/notes.txt"
refused "-o a folder of other files is refused" "$TMP/docs"
mkdir -p "$TMP/mnt"
if mount -t tmpfs -o size=1m tmpfs "$TMP/mnt" 2>/dev/null; then
    refused "-o a mount point is refused" "$TMP/mnt"
    umount "$TMP/mnt"
else
    skip "cannot mount a tmpfs here: not checking that a mount point is refused"
fi
check "the refused folders are untouched" grep -q "keep me" "$TMP/docs/notes.txt"
check "the runs are untouched" test -f "${good[0]}/step_000200.h5"
unset RW_NO_INSTALL
