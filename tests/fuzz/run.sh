#!/usr/bin/env bash
# run.sh SECONDS TARGET... — fuzzes each target (safetensors hdf5 table
# spectra) for SECONDS, one after the other, with the harnesses `make fuzz`
# built into build-fuzz/fuzz/, and prints one result line per target, in a
# Markdown table to paste into a report. `make fuzz-run FUZZ_SECONDS=600
# TARGET=hdf5` calls it.
#
# Each run starts from the committed seeds and crash reproducers
# (tests/fuzz/corpus/<target>/, tests/fuzz/crashes/<target>/, only read)
# plus what earlier runs found (build-fuzz/corpus/<target>/, where new
# inputs go). A crash input is written to build-fuzz/artifacts/<target>/;
# the full log is build-fuzz/logs/<target>.log. Limits: 2 GiB of RSS and
# per allocation, 25 s per input. Exit status 1 when any target failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${1:?usage: run.sh SECONDS TARGET...}
shift
[ $# -gt 0 ] || set -- safetensors hdf5 table spectra
F=build-fuzz
status=0
rows=()
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
    echo "run.sh: fuzzing $t for ${secs}s (log: $log)" >&2
    "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=25 \
        -print_final_stats=1 -artifact_prefix="$F/artifacts/$t/" "${dict[@]}" \
        "$F/corpus/$t" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    corpus=$(find "$F/corpus/$t" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        result="no crash"
    else
        status=1
        what=$(grep -m1 -oE 'ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer|libFuzzer): [^(]*|runtime error: .*|ALARM: .*' "$log")
        art=$(grep -m1 -o "Test unit written to .*" "$log" | sed 's/Test unit written to //')
        result="FAILED (exit $rc): ${what:-see log} ${art:+-> $art}"
    fi
    rows+=("| $t | ${secs} | ${execs:-?} | ${speed:-?} | ${cov:-?} | $corpus | $result |")
done
echo "| target | seconds | executions | exec/s | coverage (edges) | corpus found | result |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit $status
