# e2e_crashes.sh — inputs that used to crash or hang the programs, and the
# scale limits: an empty run list, FIFOs where checkpoints are expected
# (each call under `timeout 10`, so that a hang fails instead of blocking),
# -j far beyond the work, and the spectra cache re-used on a larger run.
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

# ---------------------------------------------------------------- run lists

# A run list of only commas names nothing: a usage error (exit 2), its
# message on the first line, the usual hint to --help on the second.
for list in , ,,; do
    expect_exit 2 "rw-ls '$list'" rw-ls "$list"
    check "rw-ls '$list': the message names the list" \
        grep -qxF "rw-ls: run list '$list' names no checkpoint" "$TMP/err"
    check "rw-ls '$list': two lines, message and hint" test "$(wc -l <"$TMP/err")" -eq 2
done

# --------------------------------------------------------------------- FIFOs

rw-fixture runs -o "$TMP/fx" --layers 1 --steps 200 >/dev/null 2>&1
check "rw-fixture runs for the crash tests" test -f "$TMP/fx/relora/step_000200.h5"

mkfifo "$TMP/x.h5" "$TMP/y.safetensors"
expect_error "a FIFO x.h5 given directly" "^rw-ls: $TMP/x.h5: not a regular file\$" \
    timeout 10 rw-ls "$TMP/x.h5"
expect_error "a FIFO y.safetensors given directly" \
    "^rw-metrics: $TMP/y.safetensors: not a regular file\$" \
    timeout 10 rw-metrics "$TMP/y.safetensors"
expect_error "a FIFO in a run list" "^rw-rank: $TMP/x.h5: not a regular file\$" \
    timeout 10 rw-rank "$TMP/fx/full-rank/step_000000.h5,$TMP/x.h5"

# A FIFO with a checkpoint's name inside a run directory, and one named like
# a sharded model's index (read while the directory is listed).
cp -r "$TMP/fx/full-rank" "$TMP/fiforun"
mkfifo "$TMP/fiforun/step_000300.h5"
expect_error "a FIFO inside a run directory" \
    "^rw-metrics: $TMP/fiforun/step_000300.h5: not a regular file\$" \
    timeout 10 rw-metrics "$TMP/fiforun"
rm "$TMP/fiforun/step_000300.h5"
mkfifo "$TMP/fiforun/model.safetensors.index.json"
expect_error "a FIFO index.json inside a run directory" \
    "^rw-spectra: $TMP/fiforun/model.safetensors.index.json: not a regular file\$" \
    timeout 10 rw-spectra -o "$TMP/fifo.h5" "$TMP/fiforun"
check "no spectra file after the failure" test ! -e "$TMP/fifo.h5"

# PEFT's adapter_config.json is read beside an adapter checkpoint: a FIFO of
# that name counts as no config (the scale warning), and blocks nothing.
rw-fixture runs -o "$TMP/fxs" --safetensors --layers 1 --steps 100 >/dev/null 2>&1
mkdir "$TMP/cfgrun"
cp "$TMP/fxs/relora/step_000100.safetensors" "$TMP/cfgrun/"
mkfifo "$TMP/cfgrun/adapter_config.json"
expect_exit 0 "a FIFO adapter_config.json" timeout 10 rw-metrics "$TMP/cfgrun"
check "a FIFO adapter_config.json: no scale, s = 1" grep -q "using s = 1" "$TMP/err"

# ------------------------------------------------------------------- -j N

# Workers beyond what the work can use are not started: -j 100000 on one
# small run gives the table of -j 1, and quickly.
rw-metrics -j 1 "$TMP/fx/relora" >"$TMP/j1.tsv" 2>"$TMP/j1.err"
expect_exit 0 "rw-metrics -j 100000" timeout 20 rw-metrics -j 100000 "$TMP/fx/relora"
check "-j 100000 gives the table of -j 1" cmp -s "$TMP/j1.tsv" "$TMP/out"

# ------------------------------------------------------------ spectra cache

# The cache looks entries up by (run, step) and sources by key: a second run
# over two runs with updates from both references reuses every checkpoint
# and gives the same spectra; a new checkpoint is the only one decomposed.
cp -r "$TMP/fx/relora" "$TMP/growing"
rm "$TMP/growing/step_000200.h5"
sp() { rw-spectra --updates --from-first -o "$TMP/cache.h5" "$@"; }
sp "$TMP/fx/full-rank" "$TMP/growing" 2>"$TMP/c1.err"
rw-spectra -o "$TMP/long1.tsv" "$TMP/cache.h5"
sp "$TMP/fx/full-rank" "$TMP/growing" 2>"$TMP/c2.err"
check "re-run: every checkpoint reused" grep -q "5 checkpoints: 0 decomposed, 5 reused" "$TMP/c2.err"
rw-spectra -o "$TMP/long2.tsv" "$TMP/cache.h5"
check "re-run: the same spectra" cmp -s "$TMP/long1.tsv" "$TMP/long2.tsv"
cp "$TMP/fx/relora/step_000200.h5" "$TMP/growing/"
sp "$TMP/fx/full-rank" "$TMP/growing" 2>"$TMP/c3.err"
check "a new checkpoint: only it is decomposed" grep -q "6 checkpoints: 1 decomposed, 5 reused" "$TMP/c3.err"
rw-spectra -o "$TMP/long3.tsv" "$TMP/cache.h5"
rw-spectra --updates --from-first --recompute -o "$TMP/fresh.h5" "$TMP/fx/full-rank" "$TMP/growing" 2>/dev/null
rw-spectra -o "$TMP/long4.tsv" "$TMP/fresh.h5"
check "partly reused spectra equal recomputed ones" cmp -s "$TMP/long3.tsv" "$TMP/long4.tsv"

# A changed checkpoint (the first): the reused ones after it are copied in
# their turn, so the file has the bytes of one decomposed again, at any -j
# (they were copied while the changed one's spectra were still computing).
cp -r "$TMP/fx/relora" "$TMP/mid"
rw-spectra -j 1 --updates -o "$TMP/mid0.h5" "$TMP/mid"
touch "$TMP/mid/step_000000.h5"
for j in 1 2; do
    cp "$TMP/mid0.h5" "$TMP/mid$j.h5"
    rw-spectra -j $j --updates -o "$TMP/mid$j.h5" "$TMP/mid" 2>"$TMP/mid$j.err"
done
rw-spectra -j 1 --updates --recompute -o "$TMP/midr.h5" "$TMP/mid"
check "a changed first checkpoint: the last one reused" grep -q "decomposed, [1-9][0-9]* reused" "$TMP/mid1.err"
check "reused after a changed checkpoint: the bytes of a recomputed file (-j 1)" \
    cmp -s "$TMP/mid1.h5" "$TMP/midr.h5"
check "reused after a changed checkpoint: the bytes of a recomputed file (-j 2)" \
    cmp -s "$TMP/mid2.h5" "$TMP/midr.h5"
