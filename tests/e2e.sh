#!/usr/bin/env bash
# e2e.sh — end-to-end tests: runs tests/e2e_*.sh, each file in a bash of its
# own with the helpers of e2e_lib.sh and a scratch directory of its own ($TMP),
# up to JOBS files at a time, and prints one summary line last:
# "e2e: N passed, N failed, N skipped" (exit 1 when a check failed).
#
#   bash tests/e2e.sh [-j JOBS] [NAME]...
#
# NAME picks files: plot, e2e_plot or tests/e2e_plot.sh (all files when none
# is named). JOBS defaults to $E2E_JOBS, else the number of cores (nproc).
# With one job, or one file, a file's output comes as it runs; with more,
# each file's output comes whole when that file ends (files end in any order;
# the slowest are started first). A file run directly, `bash tests/e2e_plot.sh`,
# runs through here too. The programs are taken from $RW_BIN (build/bin by
# default): build them first (`make`, or `make e2e T=plot` which builds).
#
# The files share nothing but the fixtures of e2e_lib.sh's `fixture`: made
# once per run of this script, in $E2E_TOP/fixtures, and only read.
set -u
cd "$(dirname "$0")/.."
RW_BIN=${RW_BIN:-build/bin}
RW_BIN=$(cd "$RW_BIN" && pwd) || exit 2
export RW_BIN PATH="$RW_BIN:$PATH"
REALDATA=""
[ -d ../shared/realdata ] && REALDATA=$(cd ../shared/realdata && pwd)

# ---------------------------------------------------------------- one file
# e2e.sh --one FILE (internal): sources FILE in this shell, its scratch in
# $E2E_TOP/NAME, and writes "PASSED FAILED SKIPPED ENDED" to
# $E2E_TOP/NAME.result when it exits (ENDED 0: FILE stopped before its end;
# no result file: killed).
if [ "${1-}" = --one ]; then
    E2E_FILE=$(basename "$2" .sh)
    TMP="$E2E_TOP/$E2E_FILE"
    mkdir -p "$TMP"
    E2E_PASS=0 E2E_FAIL=0 E2E_SKIP=0 e2e_ended=0
    source tests/e2e_lib.sh
    trap 'echo "$E2E_PASS $E2E_FAIL $E2E_SKIP $e2e_ended" >"$E2E_TOP/$E2E_FILE.result"' EXIT
    SECONDS=0
    source "$2"
    e2e_ended=1
    echo "e2e: $E2E_FILE: $((E2E_PASS + E2E_FAIL)) checks, ${SECONDS} s"
    exit 0
fi

# ------------------------------------------------------------------ driver
usage() { echo "usage: bash tests/e2e.sh [-j JOBS] [NAME]...  (NAME: plot, e2e_plot or tests/e2e_plot.sh)" >&2; exit 2; }
jobs=${E2E_JOBS:-$(nproc 2>/dev/null || echo 1)}
names=()
while [ $# -gt 0 ]; do
    case $1 in
    -j) [ $# -ge 2 ] || usage; jobs=$2; shift 2 ;;
    -j*) jobs=${1#-j}; shift ;;
    -h | --help) usage ;;
    -*) usage ;;
    *) names+=("$1"); shift ;;
    esac
done
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "e2e.sh: JOBS must be a positive integer, not '$jobs'" >&2; exit 2; }

all=()
for f in tests/e2e_*.sh; do
    [ "$f" = tests/e2e_lib.sh ] || all+=("$f")
done
files=()
if [ ${#names[@]} -eq 0 ]; then
    # The slowest first, so that no long file starts last (the others follow
    # in name order; a name not here is merely started later).
    for slow in core malformed diskfull analyze analyze_swap updates; do
        [ -f "tests/e2e_$slow.sh" ] && files+=("tests/e2e_$slow.sh")
    done
    for f in "${all[@]}"; do
        [[ " ${files[*]} " == *" $f "* ]] || files+=("$f")
    done
else
    for n in "${names[@]}"; do
        n=${n##*/}; n=${n%.sh}; n=${n#e2e_}
        f="tests/e2e_$n.sh"
        [ "$n" != lib ] && [ -f "$f" ] || { echo "e2e.sh: no test file $f" >&2; usage; }
        [[ " ${files[*]} " == *" $f "* ]] || files+=("$f")
    done
fi
[ "$jobs" -le ${#files[@]} ] || jobs=${#files[@]}

E2E_TOP=$(mktemp -d "${TMPDIR:-/tmp}/rw-e2e.XXXXXX") || exit 1
mkdir -p "$E2E_TOP/fixtures"
export E2E_TOP REALDATA
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
    # A file stopped while it had a tmpfs mounted (e2e_diskfull.sh,
    # e2e_analyze_swap.sh): unmount it before removing the scratch.
    awk -v t="$E2E_TOP/" 'index($2, t) == 1 {print $2}' /proc/mounts 2>/dev/null |
        sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    chmod -R u+w "$E2E_TOP" 2>/dev/null
    rm -rf "$E2E_TOP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

live=0
[ "$jobs" -eq 1 ] && live=1
# start FILE: one file, in the background. Started under job control (set -m)
# so that it has a process group of its own, which cleanup can stop whole,
# and that its programs do not start with SIGINT ignored as background
# commands otherwise do; job control is off again at once, so that no
# foreground command takes the terminal.
start() {
    local name
    name=$(basename "$1" .sh)
    set -m
    if [ $live = 1 ]; then
        bash tests/e2e.sh --one "$1" </dev/null &
    else
        bash tests/e2e.sh --one "$1" </dev/null >"$E2E_TOP/$name.out" 2>"$E2E_TOP/$name.err" &
    fi
    set +m
    pids+=($!)
    job_file[$!]=$1
}
passed=0 failed=0 skipped=0
finish() {  # finish PID RC: adds up the file that job ran, prints its output
    local f=${job_file[$1]} name p=0 x=0 s=0 ended=0
    name=$(basename "$f" .sh)
    if [ $live = 0 ]; then
        cat "$E2E_TOP/$name.err" >&2
        cat "$E2E_TOP/$name.out"
    fi
    [ -f "$E2E_TOP/$name.result" ] && read -r p x s ended <"$E2E_TOP/$name.result"
    if [ "$ended" != 1 ]; then
        x=$((x + 1))
        echo "FAIL [$name]: $f stopped before its end (exit $2)" >&2
        echo "e2e: $name: stopped after $((p + x - 1)) checks"
    fi
    passed=$((passed + p)) failed=$((failed + x)) skipped=$((skipped + s))
}
declare -A job_file=()
# reap: waits until at least one file has ended, then adds up every file that
# has (wait -n says one ended, not which: those whose process is gone).
reap() {
    local p rc left=()
    wait -n 2>/dev/null
    for p in "${pids[@]}"; do
        if kill -0 "$p" 2>/dev/null; then left+=("$p"); continue; fi
        wait "$p" 2>/dev/null
        rc=$?
        finish "$p" "$rc"
    done
    pids=("${left[@]}")
}
for f in "${files[@]}"; do
    [ ${#pids[@]} -lt "$jobs" ] || reap
    start "$f"
done
while [ ${#pids[@]} -gt 0 ]; do reap; done
jobs >/dev/null 2>&1 # (no job notice after the summary)
echo "e2e: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
