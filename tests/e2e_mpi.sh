# e2e_mpi.sh — rw-spectra-mpi (make MPI=1; `make check` builds it where
# mpicc is found) with mpirun on this machine, ranks oversubscribed: at 1, 2
# and 3 ranks the spectra file has the bytes of `rw-spectra -j 1` (weights,
# updates, updates since the first step, adapters); the cache (a changed
# first checkpoint: the rest reused); a corrupt tensor that only the rank
# given its job reads (one line from rank 0 naming the file, exit 1, no
# file, the old one kept); usage errors; warnings once. Skipped, saying so,
# without mpirun or the program.
# Sourced by tests/e2e.sh (helpers: e2e_lib.sh).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

if ! command -v mpirun >/dev/null 2>&1; then
    skip "rw-spectra-mpi: no mpirun (scripts/deps.sh --mpi installs Open MPI)"
    return 0
fi
if [ ! -x "$RW_BIN/rw-spectra-mpi" ]; then
    skip "rw-spectra-mpi: not built (make MPI=1, or make check where mpicc is found)"
    return 0
fi
# Open MPI refuses to start as root unless told; -q: no banner of its own
# when a rank exits non-zero (the program's one line is the message).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi() { local n=$1; shift; timeout 300 mpirun -q -n "$n" --oversubscribe "$RW_BIN/rw-spectra-mpi" "$@"; }

M="$TMP/mpi"
mkdir -p "$M"
rw-fixture runs -o "$M/fx" --layers 2 --steps 300 --cycle 200 >/dev/null 2>&1 || bad "rw-fixture runs"

# ------------------------------------------------- the bytes of -j 1
opts=(--updates --from-first --component all)
rw-spectra -j 1 "${opts[@]}" -o "$M/ref.h5" "$M/fx/full-rank" "$M/fx/relora" 2>/dev/null
for n in 1 2 3; do
    expect_exit 0 "mpirun -n $n" mpi "$n" -j 1 "${opts[@]}" -o "$M/n$n.h5" "$M/fx/full-rank" "$M/fx/relora"
    check "-n $n: the bytes of rw-spectra -j 1" cmp -s "$M/ref.h5" "$M/n$n.h5"
done
expect_exit 0 "mpirun -n 3 -j 2" mpi 3 -j 2 "${opts[@]}" -o "$M/j2.h5" "$M/fx/full-rank" "$M/fx/relora"
check "-n 3 -j 2: the same bytes" cmp -s "$M/ref.h5" "$M/j2.h5"
check "rw-rank reads it as rw-spectra's" cmp -s <(rw-rank "$M/ref.h5") <(rw-rank "$M/j2.h5")

# ---------------------------------------------------------------- cache
# The first checkpoint changed: it and the next one (its updates) are
# decomposed, the others copied from the old file in their turn.
cp -r "$M/fx/relora" "$M/run"
rw-spectra -j 1 --updates -o "$M/old.h5" "$M/run"
touch "$M/run/step_000000.h5"
cp "$M/old.h5" "$M/cache.h5"
expect_exit 0 "mpirun -n 3 with a cache" mpi 3 -j 1 --updates -o "$M/cache.h5" "$M/run"
check "the cache: 2 decomposed, the rest reused (said once)" \
    [ "$(grep -c 'rw-spectra-mpi: 4 checkpoints: 2 decomposed, 2 reused from' "$TMP/err")" = 1 ]
rw-spectra -j 1 --updates --recompute -o "$M/fresh.h5" "$M/run"
check "the cache: the bytes of a file decomposed again" cmp -s "$M/cache.h5" "$M/fresh.h5"
expect_exit 0 "mpirun -n 2, all reused" mpi 2 -j 1 --updates -o "$M/cache.h5" "$M/run"
check "all reused" grep -q "4 checkpoints: 0 decomposed, 4 reused" "$TMP/err"
check "all reused: the same bytes" cmp -s "$M/cache.h5" "$M/fresh.h5"

# ------------------------------------------------------- a failing rank
# Four runs of one gzip-chunked checkpoint each (rw-fixture chunks: h5py's
# layout and others), one with a corrupt deflate stream in one chunk of one
# tensor: every rank opens that checkpoint, the tensor is read by the rank
# given its job only.
rw-fixture chunks -o "$M/gz" >/dev/null 2>&1 || bad "rw-fixture chunks"
gz_runs=("$M/gz/ok-h5py" "$M/gz/ok-edge" "$M/gz/bad-flipped" "$M/gz/ok-shuffle")
rw-spectra -j 1 -o "$M/bad1.h5" "${gz_runs[@]}" 2>"$M/bad1.err"
check "the corrupt tensor fails rw-spectra" grep -q "bad-flipped/step_000000.h5: layers.0.mlp.weight: chunk .*: corrupt deflate stream" "$M/bad1.err"
for n in 2 3; do
    expect_error "-n $n: a corrupt tensor: one line, exit 1" \
        "^rw-spectra-mpi: .*/gz/bad-flipped/step_000000\.h5: layers\.0\.mlp\.weight: chunk .*: corrupt deflate stream" \
        mpi "$n" -j 1 -o "$M/bad$n.h5" "${gz_runs[@]}"
    check "-n $n: rw-spectra's message" [ "$(sed 's/^rw-spectra-mpi:/rw-spectra:/' "$TMP/err")" = "$(cat "$M/bad1.err")" ]
    check "-n $n: no output file" [ ! -e "$M/bad$n.h5" ]
done
cp "$M/ref.h5" "$M/kept.h5"
expect_exit 1 "a failure with an old file there" mpi 3 -j 1 -o "$M/kept.h5" "${gz_runs[@]}"
check "the old file is kept as it was" cmp -s "$M/kept.h5" "$M/ref.h5"
check "no temporary left beside it" [ "$(ls "$M" | grep -c '^\.kept\|kept.h5.')" = 0 ]

# ------------------------------------------------------- usage, warnings
expect_exit 2 "an unknown option" mpi 3 --bogus "$M/run"
check "the usage error once" [ "$(grep -c "unknown option '--bogus'" "$TMP/err")" = 1 ]
expect_exit 2 "-o TABLE" mpi 2 -o "$M/t.tsv" "$M/run"
check "-o TABLE: says to convert with rw-spectra" grep -q "rw-spectra -o TABLE SPECTRA.h5 converts it" "$TMP/err"
expect_exit 0 "--help" mpi 3 --help
check "--help once" [ "$(grep -c '^Usage: mpirun -n P rw-spectra-mpi' "$TMP/out")" = 1 ]
# safetensors adapters without a scale: every rank's walk warns, rank 0 says it once
rw-fixture runs -o "$M/st" --safetensors --layers 1 --steps 200 >/dev/null 2>&1
rw-spectra -j 1 -o "$M/st1.h5" "$M/st/relora" 2>/dev/null
expect_exit 0 "safetensors adapters, -n 3" mpi 3 -j 1 -o "$M/st3.h5" "$M/st/relora"
check "a warning of every rank's walk said once" [ "$(grep -c 'no LoRA scale' "$TMP/err")" = 1 ]
check "safetensors adapters: the bytes of -j 1" cmp -s "$M/st1.h5" "$M/st3.h5"
