#!/usr/bin/env bash
# run.sh SECONDS TARGET... — fuzzes each target (safetensors hdf5 table
# spectra pickle pytorch; all when none is named) for SECONDS, one after
# the other, with the harnesses `make fuzz` built into build-fuzz/fuzz/,
# and prints a Markdown table to paste into a report: executions, speed,
# coverage and failures per target, then one line per failure input with
# the kind of failure and the first frame of its stack that is neither a
# sanitizer nor libc (so rankwatch's own code and libhdf5 can be told
# apart).
# `make fuzz-run FUZZ_SECONDS=600 TARGET=hdf5` calls it.
#
# The HDF5 targets (hdf5, spectra) run libFuzzer in fork mode (one job): a
# failure is saved and the run goes on to the end, so one run reports every
# distinct failure it meets, not only the first, as it must where libhdf5
# has known crashes and hangs (docs/reliability.md). The others run in
# plain mode, which stops at the first failure but runs several times as
# many inputs a second (fork mode restarts its job every few seconds).
# Inputs come from the committed seeds and reproducers
# (tests/fuzz/corpus/<target>/, tests/fuzz/crashes/<target>/, only read)
# and what earlier runs found (build-fuzz/corpus/<target>/, where new inputs
# go). Failure inputs: build-fuzz/artifacts/<target>/ (crash-*, leak-*,
# oom-*, timeout-*); logs: build-fuzz/logs/. Limits: 2 GiB of RSS and per
# allocation, 10 s per input (the readers take milliseconds on these
# inputs). A failed allocation returns NULL, as it does outside the
# sanitizer (allocator_may_return_null), so that what a program would
# survive is not counted as a crash; leaks of libhdf5's own error paths are
# suppressed (tests/fuzz/lsan.supp, each entry documented in
# docs/reliability.md). Exit status 1 when any target had a failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${1:?usage: run.sh SECONDS TARGET...}
shift
[ $# -gt 0 ] || set -- safetensors hdf5 table spectra pickle pytorch
F=build-fuzz
export ASAN_OPTIONS=allocator_may_return_null=1:fast_unwind_on_malloc=0
# UBSan reports with their stack, so that the table names the frame.
export UBSAN_OPTIONS=print_stacktrace=1
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0
# The harnesses' scratch files (fuzz_util.c), removed at the end even when
# jobs crashed.
shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] || shm=${TMPDIR:-/tmp}
RW_FUZZ_DIR=$(mktemp -d "$shm/rw-fuzz-run-XXXXXX")
export RW_FUZZ_DIR
trap 'rm -rf "$RW_FUZZ_DIR"' EXIT
status=0
rows=() fails=()

# The first frame of a failure's stack outside the sanitizers and libc.
first_frame() {
    grep -E '^ +#[0-9]+ ' "$1" |
        grep -vE ' in (malloc|calloc|realloc|free|__interceptor_|__asan|__sanitizer|__ubsan|fuzzer::)|libc\.so|libc-start|/compiler-rt/' |
        head -1 | sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ //; s/ \(BuildId: [0-9a-f]+\)//'
}

for t in "$@"; do
    bin=$F/fuzz/fuzz_$t
    if [ ! -x "$bin" ]; then
        echo "run.sh: $bin missing (make fuzz)" >&2
        exit 2
    fi
    mkdir -p "$F/corpus/$t" "$F/artifacts/$t" "$F/logs"
    log=$F/logs/$t.log
    seeds=(tests/fuzz/corpus/"$t")
    [ -d tests/fuzz/crashes/"$t" ] && seeds+=(tests/fuzz/crashes/"$t")
    dict=()
    [ -f tests/fuzz/"$t".dict ] && dict=(-dict=tests/fuzz/"$t".dict)
    before=$(ls "$F/artifacts/$t" | sort)
    echo "run.sh: fuzzing $t for ${secs}s (log: $log)" >&2
    mode=()
    case $t in hdf5|spectra) mode=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1) ;; esac
    start=$(date +%s)
    "$bin" "${mode[@]}" -print_final_stats=1 \
        -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$F/artifacts/$t/" "${dict[@]}" \
        "$F/corpus/$t" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    cov=$(grep -oE ' cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
    if [ ${#mode[@]} -gt 0 ]; then
        # Fork mode's progress lines: "#N: cov: C ft: F corp: K exec/s E
        # oom/timeout/crash: O/T/X time: Ss job: J dft_time: 0".
        last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
        execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
        otc=$(sed -nE 's/.*oom\/timeout\/crash: ([0-9\/]+).*/\1/p' <<<"$last")
    else
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        otc="-"
    fi
    speed=$([ -n "$execs" ] && [ "$took" -gt 0 ] && echo $((execs / took)))
    corpus=$(find "$F/corpus/$t" -type f | wc -l)
    new=$(comm -13 <(echo "$before") <(ls "$F/artifacts/$t" | sort) | grep -v '^$')
    if [ -n "$new" ]; then
        result="$(wc -l <<<"$new") failure inputs"
        status=1
    elif [ "$rc" -ne 0 ]; then
        result="libFuzzer exit $rc (see $log)"
        status=1
    else
        result="no failure"
    fi
    rows+=("| $t | $took | ${execs:-?} | ${speed:-?} | ${cov:-?} | ${otc:-?} | $corpus | $result |")
    for a in $new; do
        # Replayed alone, for the stack (fork mode keeps only a summary).
        alog=$F/logs/$t-$a.log
        timeout 90 "$bin" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
            "$F/artifacts/$t/$a" >"$alog" 2>&1
        what=$(grep -m1 -oE 'ERROR: [A-Za-z]+: [a-z0-9 -]+|runtime error: .*' "$alog" |
               sed 's/^ERROR: //')
        ours=$(grep -E '^ +#[0-9]+ .* (/[^ ]*)?(io|analyzers|plots|fixtures)/[a-z_0-9]+\.c:' "$alog" |
               head -1 | sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ in //')
        fails+=("| $t | $a | ${what:-${a%%-*} (not reproduced alone)} | $(first_frame "$alog") | ${ours:--} |")
    done
done
echo "| target | seconds | executions | exec/s | coverage | oom/timeout/crash (fork mode) | corpus | result |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
if [ ${#fails[@]} -gt 0 ]; then
    echo
    echo "| target | input (build-fuzz/artifacts/<target>/) | failure | first frame | first rankwatch frame |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${fails[@]}"
fi
exit $status
