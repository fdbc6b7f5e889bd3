#!/usr/bin/env bash
# analyze.sh — the one-command pipeline: checkpoints in, tables (and, as the
# programs for them land, figures and a report) out.
#
#   ./analyze.sh [RUN ...] [-o OUT] [-j N]
#
# With no RUN, it generates the fixture runs (full-rank vs ReLoRA-style) and
# analyses those. It installs missing Debian packages (scripts/deps.sh) and
# builds what is missing first.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=out
jobs=""
runs=()
usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
}
while [ $# -gt 0 ]; do
    case "$1" in
    -o|--output) [ $# -ge 2 ] || { echo "analyze.sh: $1 needs a directory" >&2; exit 2; }
        out=$2; shift 2 ;;
    -j|--jobs) [ $# -ge 2 ] || { echo "analyze.sh: $1 needs a number" >&2; exit 2; }
        jobs=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "analyze.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) runs+=("$1"); shift ;;
    esac
done

say() { echo "analyze.sh: $*" >&2; }

bash "$here/scripts/deps.sh"
make -s -C "$here" all >&2
bin="$here/bin"
mkdir -p "$out"

if [ ${#runs[@]} -eq 0 ]; then
    fx="$out/fixture-runs"
    if [ ! -f "$fx/relora/step_002000.h5" ]; then
        say "no runs given: generating the fixture runs (full-rank vs ReLoRA) in $fx"
        rm -rf "$fx"
        "$bin/rw-fixture" runs -o "$fx"
    fi
    runs=("$fx/full-rank" "$fx/relora")
fi

t0=$(date +%s.%N)
say "spectra of ${#runs[@]} runs -> $out/spectra.h5"
"$bin/rw-spectra" ${jobs:+-j "$jobs"} -o "$out/spectra.h5" "${runs[@]}"
"$bin/rw-rank" -o "$out/rank.tsv" "$out/spectra.h5"
"$bin/rw-cond" -o "$out/cond.tsv" "$out/spectra.h5"
t1=$(date +%s.%N)
say "wrote $out/rank.tsv and $out/cond.tsv ($(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s)"
