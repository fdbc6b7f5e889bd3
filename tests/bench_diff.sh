#!/usr/bin/env bash
# bench_diff.sh — how long rw-diff takes on a pair of 10^6-row rank tables
# (rw-rank's columns; 2 runs x 500 steps x 100 layers x 10 modules), the
# current one with 10 per values moved by 2%. Run by `make bench`; prints the
# wall time of three runs. Not a test: nothing here fails on time.
set -euo pipefail
cd "$(dirname "$0")/.."
RW_BIN=${RW_BIN:-build/bin}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

echo "bench_diff: writing two 10^6-row tables to $T ..."
awk 'BEGIN {
    OFS = "\t"; srand(1)
    print "run","step","tensor","layer","module","component","rows","cols","dtype",
          "erank","per","stable_rank","num_rank","entropy"
    for (r = 0; r < 2; r++) for (s = 0; s < 500; s++) for (l = 0; l < 100; l++)
        for (m = 0; m < 10; m++) {
            e = rand() * 96
            printf "%s\t%d\tlayers.%d.mod%d.weight\t%d\tmod%d.weight\t%s\t96\t384\tfloat32\t%.17g\t%.17g\t%.17g\t96\t%.17g\n",
                (r ? "relora" : "full"), s * 100, l, m, l, m, (r ? "full" : "weight"),
                e, e / 96, rand() * 10, rand()
        }
}' >"$T/base.tsv"
awk -F'\t' 'BEGIN { OFS = "\t" } NR % 100000 == 7 { $11 = sprintf("%.17g", $11 * 1.02) } { print }' \
    "$T/base.tsv" >"$T/cur.tsv"
echo "bench_diff: $(($(wc -l <"$T/base.tsv") - 1)) rows, $(du -m "$T/base.tsv" | cut -f1) MB each"

for i in 1 2 3; do
    start=$(date +%s.%N)
    rc=0
    "$RW_BIN/rw-diff" --tol per=0.01 "$T/base.tsv" "$T/cur.tsv" >"$T/report" || rc=$?
    end=$(date +%s.%N)
    if [ "$rc" -ne 1 ] || ! grep -q "10 beyond tolerance" "$T/report"; then
        echo "bench_diff: unexpected result (exit $rc):" >&2
        head -5 "$T/report" >&2
        exit 1
    fi
    echo "bench_diff: rw-diff --tol per=0.01 (10^6 rows, 10 differences): $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') s"
done
