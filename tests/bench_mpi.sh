#!/usr/bin/env bash
# bench_mpi.sh — rw-spectra-mpi's scaling (run by `make bench`; docs/mpi.md
# holds a measured table): one synthetic run of 4096-wide checkpoints
# (tests/bench_wide.c: each a 4096 x 4096 and an 11008 x 4096 float32
# matrix), decomposed by `rw-spectra -j 1`, then by `mpirun -n P
# rw-spectra-mpi -j 1` for each P, ranks oversubscribed beyond the cores
# and not bound to a core each (mpirun binds 1-2 ranks to one core apiece
# by default, where a rank's reading thread and its worker would share it;
# rw-spectra is not bound either):
# wall time, speed-up, each rank's peak RSS and CPU seconds (/usr/bin/time),
# and whether the file has the bytes of -j 1. Skipped, saying so, without mpirun or the
# program.
#   RW_BENCH_MPI_CKPTS=3      checkpoints (2 matrices each)
#   RW_BENCH_MPI_RANKS="1 2 3 4"
set -euo pipefail
BIN=${RW_BIN:-build/bin}
WIDE=${RW_BENCH_WIDE:-build/tests/bench_wide}
N=${RW_BENCH_MPI_CKPTS:-3}
RANKS=${RW_BENCH_MPI_RANKS:-"1 2 3 4"}
if ! command -v mpirun >/dev/null 2>&1 || [ ! -x "$BIN/rw-spectra-mpi" ] || [ ! -x /usr/bin/time ]; then
    echo "bench_mpi: skipped (needs mpirun, $BIN/rw-spectra-mpi: make MPI=1, and /usr/bin/time)"
    exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rw-bench-mpi.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
"$WIDE" "$TMP/wide" "$N"
now() { date +%s.%N; }
echo "bench_mpi: $N checkpoints x (4096x4096 + 11008x4096) float32, $(nproc) cores, -j 1 per rank"
t0=$(now)
/usr/bin/time -f "%M %U %S" -o "$TMP/rss.ref" "$BIN/rw-spectra" -j 1 -o "$TMP/ref.h5" "$TMP/wide"
t1=$(now)
ref=$(echo "$t1 - $t0" | bc -l)
# "MiB/cpu-s" of a /usr/bin/time line "%M %U %S"
usage_of() { awk '{printf "%d/%.0f", $1 / 1024, $2 + $3}' "$1"; }
printf '%-30s %7s %8s  %s\n' "run" "wall s" "speed-up" "per rank: peak RSS MiB/CPU s; bytes"
printf '%-30s %7.1f %8s  %s\n' "rw-spectra -j 1" "$ref" "1.00" "$(usage_of "$TMP/rss.ref")"
for p in $RANKS; do
    rm -f "$TMP"/rss.m.*
    t0=$(now)
    mpirun -q -n "$p" --oversubscribe --bind-to none sh -c \
        'exec /usr/bin/time -f "%M %U %S" -o "$0.${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}" "$@"' \
        "$TMP/rss.m" "$BIN/rw-spectra-mpi" -j 1 -o "$TMP/m$p.h5" "$TMP/wide"
    t1=$(now)
    wall=$(echo "$t1 - $t0" | bc -l)
    rss=""
    for r in $(seq 0 $((p - 1))); do
        tail -1 "$TMP/rss.m.$r" >"$TMP/rss.last"
        rss+="${rss:+ }$(usage_of "$TMP/rss.last")"
    done
    same=$(cmp -s "$TMP/ref.h5" "$TMP/m$p.h5" && echo same || echo DIFFERENT)
    over=""
    [ "$p" -gt "$(nproc)" ] && over=" (oversubscribed)"
    printf '%-30s %7.1f %8.2f  %s; %s\n' "mpirun -n $p$over" "$wall" \
        "$(echo "$ref / $wall" | bc -l)" "$rss" "$same"
    [ "$same" = same ] || exit 1
done
