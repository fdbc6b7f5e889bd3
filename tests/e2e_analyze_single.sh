# e2e_analyze_single.sh — analyze.sh on runs of one checkpoint: a single
# checkpoint file gives a report of the weights only (no update tables,
# summaries or figures, one sentence saying why); runs of one checkpoint
# among runs of several leave only themselves out of the updates; a reused
# OUT holds exactly the new analysis (no stale table or figure, every link
# of the report resolves) and keeps its spectra cache; a failed run leaves
# no OUT, so no empty tables/ or figures/.
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

export RW_NO_INSTALL=1
fixture "$TMP/runs" runs --layers 2 --steps 300 --every 100 --cycle 100
mkdir -p "$TMP/one"
cp "$TMP/runs/full-rank/step_000300.h5" "$TMP/one/"

# links_ok OUT: every link of OUT/report.md names a file of OUT.
links_ok() {
    local link missing=0
    for link in $(grep -oE '\]\([^)]+\)' "$1/report.md" | sed 's/^](//; s/)$//'); do
        [ -e "$1/$link" ] || { missing=$((missing + 1)); bad "$1/report.md links to missing $link"; }
    done
    [ "$missing" -eq 0 ]
}
# The files of a folder, relative to it.
files() { (cd "$1" && find . -type f | sort); }

# A single checkpoint file: a report of the weights only.
./analyze.sh "$TMP/one/step_000300.h5" -o "$TMP/single" >"$TMP/log1" 2>&1
check "a single checkpoint: analyze.sh exits 0" test $? -eq 0
check "a single checkpoint: report.md written" test -s "$TMP/single/report.md"
check "a single checkpoint: no update table" \
    test ! -e "$TMP/single/tables/updates.tsv" -a ! -e "$TMP/single/tables/compare_updates.tsv"
check "a single checkpoint: no summary (one run)" test -z "$(compgen -G "$TMP/single/tables/summary*")"
check "a single checkpoint: no update figure" test -z "$(compgen -G "$TMP/single/figures/*update*")"
check "a single checkpoint: the four figures of the weights" \
    test "$(grep -c '^!\[' "$TMP/single/report.md")" -eq 4
check "a single checkpoint: the report says why there are no updates" \
    grep -qx "No updates: the run has one checkpoint, so there is no update between checkpoints; this report is of the weights only." \
    "$TMP/single/report.md"
check "a single checkpoint: the sentence is in report.html too" \
    grep -q "No updates: the run has one checkpoint" "$TMP/single/report.html"
check "a single checkpoint: one step in the table of what was analysed" \
    grep -q '^| full-rank | 1 | 300 | 16 | float32 |$' "$TMP/single/report.md"
check "a single checkpoint: every link of the report resolves" links_ok "$TMP/single"
check "a single checkpoint: no 'rw-spectra --updates' advice" test -z "$(grep -e '--updates' "$TMP/log1")"
expect_error "rw-updates of the single checkpoint's spectra file says why there are none" \
    "spectra.h5: no update spectra: each of its runs has one checkpoint, so there is no update between checkpoints$" \
    rw-updates "$TMP/single/spectra.h5"
expect_error "rw-updates with a selection that matches nothing says so" \
    "spectra.h5: no weight spectra matching the selection$" rw-rank --include 'nothing.*' "$TMP/single/spectra.h5"
check "a single checkpoint: the weights' table has its 16 matrices and 2 x 2 OV circuits" \
    test "$(col "$TMP/single/tables/rank.tsv" step | grep -c '^300$')" -eq 20

# A single checkpoint with adapters: its s·B·A is a component of its
# weights, not an update between checkpoints.
./analyze.sh "$TMP/runs/relora/step_000200.h5" -o "$TMP/single-lora" >"$TMP/log1b" 2>&1
check "a single ReLoRA checkpoint: analyze.sh exits 0" test $? -eq 0
check "a single ReLoRA checkpoint: no update table or figure" \
    test -z "$(compgen -G "$TMP/single-lora/tables/*update*")$(compgen -G "$TMP/single-lora/figures/*update*")"
check "a single ReLoRA checkpoint: the report says why" \
    grep -q "^No updates: the run has one checkpoint" "$TMP/single-lora/report.md"
check "a single ReLoRA checkpoint: its lora component is in the weights' table" \
    test "$(col "$TMP/single-lora/tables/rank.tsv" component | grep -c '^lora$')" -eq 14

# Two single checkpoints: each run has one.
./analyze.sh "a=$TMP/one/step_000300.h5" "b=$TMP/runs/full-rank/step_000100.h5" -o "$TMP/two" >"$TMP/log2" 2>&1
check "two single checkpoints: analyze.sh exits 0" test $? -eq 0
check "two single checkpoints: the report says each run has one checkpoint" \
    grep -q "^No updates: each run has one checkpoint" "$TMP/two/report.md"
check "two single checkpoints: a summary of the weights, none of updates" \
    test -s "$TMP/two/tables/summary.md" -a ! -e "$TMP/two/tables/summary_updates.md"
check "two single checkpoints: no updates section" test -z "$(grep '^### Updates' "$TMP/two/report.md")"

# A run of one checkpoint with a run of several: updates of the latter only.
# (Named: the fixture's checkpoints name their run full-rank.)
./analyze.sh "one=$TMP/one" "$TMP/runs/full-rank" -o "$TMP/mixed" >"$TMP/log3" 2>&1
check "one checkpoint and a run: analyze.sh exits 0" test $? -eq 0
check "one checkpoint and a run: the updates are full-rank's" \
    test "$(col "$TMP/mixed/tables/updates.tsv" run | sort -u)" = full-rank
check "one checkpoint and a run: 3 update steps of 20 matrices" \
    test "$(col "$TMP/mixed/tables/updates.tsv" step | wc -l)" -eq 60
check "one checkpoint and a run: the report names the run without updates" \
    grep -qx '`one` has one checkpoint, so no update between checkpoints: the update tables and figures show the other runs.' \
    "$TMP/mixed/report.md"
check "one checkpoint and a run: the update figures are drawn" \
    test -s "$TMP/mixed/figures/updates_per.png" -a -s "$TMP/mixed/figures/spectrum_updates.png"
check "one checkpoint and a run: no summary of updates (one run has them)" \
    test ! -e "$TMP/mixed/tables/summary_updates.md"
check "one checkpoint and a run: every link of the report resolves" links_ok "$TMP/mixed"

# A reused OUT: the fixture pair, then one of its runs, then a single
# checkpoint, into the same folder. Each time OUT holds exactly what an
# analysis into a new folder holds, and the spectra cache goes on.
out="$TMP/reused"
./analyze.sh "$TMP/runs/full-rank" "$TMP/runs/relora" -o "$out" >"$TMP/log4" 2>&1
check "reused OUT: the pair analysed" test $? -eq 0 -a -s "$out/tables/summary_updates.md"
./analyze.sh "$TMP/runs/full-rank" -o "$out" >"$TMP/log5" 2>&1
check "reused OUT: one run of the pair analysed" test $? -eq 0
check "reused OUT: the spectra cache is kept (nothing decomposed again)" \
    grep -q "4 checkpoints: 0 decomposed, 4 reused" "$TMP/log5"
check "reused OUT: the tables name only the new run" \
    test "$(col "$out/tables/rank.tsv" run | sort -u)" = full-rank
check "reused OUT: no summary of the previous pair" test -z "$(compgen -G "$out/tables/summary*")"
check "reused OUT: the spectra file holds only the new run" \
    test "$(rw-ls "$out/spectra.h5" | awk -F'\t' 'NR>1 {print $1}' | sort -u)" = full-rank
./analyze.sh "$TMP/runs/full-rank" -o "$TMP/fresh1" >/dev/null 2>&1
check "reused OUT: the same files as a new folder's" cmp -s <(files "$out") <(files "$TMP/fresh1")
check "reused OUT: every link of the report resolves" links_ok "$out"
./analyze.sh "$TMP/one/step_000300.h5" -o "$out" >"$TMP/log6" 2>&1
check "reused OUT: then a single checkpoint" test $? -eq 0
check "reused OUT: no stale update table or figure" \
    test -z "$(compgen -G "$out/tables/*update*")$(compgen -G "$out/figures/*update*")"
check "reused OUT: the same files as a single checkpoint's new folder" \
    cmp -s <(files "$out") <(files "$TMP/single")
check "reused OUT: every link of the single report resolves" links_ok "$out"
check "reused OUT: the report is the single checkpoint's" grep -q '^| full-rank | 1 | 300 |' "$out/report.md"

# A failed single-checkpoint run: no OUT, so no empty tables/ or figures/.
mkdir -p "$TMP/broken"
head -c 100 "$TMP/one/step_000300.h5" >"$TMP/broken/step_000300.h5"
expect_exit 1 "a broken single checkpoint fails" ./analyze.sh "$TMP/broken/step_000300.h5" -o "$TMP/failed"
check "the failure names the checkpoint" grep -q "broken/step_000300.h5" "$TMP/err"
check "a failed run leaves no OUT (no empty tables/ or figures/)" test ! -e "$TMP/failed"
check "a failed run leaves no temporary folder" test -z "$(compgen -G "$TMP/.failed.*")"
unset RW_NO_INSTALL
