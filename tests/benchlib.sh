# benchlib.sh — helpers sourced by the end-to-end benchmarks of `make bench`
# (tests/bench_pico.sh, tests/bench_gzip.sh): wall-clock stamps, their
# difference, and the smaller of two times (the best so far: empty is none).
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }
min_of() { awk -v a="$1" -v b="${2:-1e9}" 'BEGIN{print (a<b)?a:b}'; }
# numpy_best WALL LOOP ROWS ARG...: runs tests/bench_metrics.py ARG... once,
# keeping in the variables WALL and LOOP the best whole-command and loop
# times so far, and in ROWS the matrices it did.
numpy_best() {
    local w=$1 l=$2 r=$3 t0 out
    shift 3
    t0=$(now)
    out=$(/usr/bin/python3 tests/bench_metrics.py "$@")
    printf -v "$w" '%s' "$(min_of "$(secs "$t0" "$(now)")" "${!w}")"
    printf -v "$l" '%s' "$(min_of "${out% *}" "${!l}")"
    printf -v "$r" '%s' "${out#* }"
}
