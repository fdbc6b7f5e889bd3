#!/usr/bin/env bash
# snapshot.sh — every output of the programs on a fixed set of inputs, for
# checking that a change of the code's structure changed no output byte.
#
#   scripts/snapshot.sh BIN OUT [SHARED]
#
# BIN is a folder of built programs (bin/ of this tree or of another one),
# OUT a new folder. SHARED (default ../shared beside this tree) provides
# realdata/; its runs are skipped, saying so, when it is absent.
# Compare two snapshots with `diff -r OLD NEW`. Only the lines of analyze.sh's
# report that give the date, the time taken and the version differ by design;
# they are removed here.
set -euo pipefail

[ $# -ge 2 ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
bin=$(cd "$1" && pwd -P)
out=$2
here=$(cd "$(dirname "$0")/.." && pwd -P)
shared=${3:-$here/../shared}
[ ! -e "$out" ] || { echo "snapshot.sh: $out exists" >&2; exit 2; }
final=$out
# Built in one fixed place, so that the paths written into the outputs are
# the same for every snapshot; checkpoints get a fixed mtime (the spectra
# file records it).
# One snapshot at a time on a machine (the place is shared).
out=${TMPDIR:-/tmp}/rw-snapshot.work
exec 9>"$out.lock"
flock 9
rm -rf "$out"
mkdir -p "$out"
export RW_GNUPLOT=${RW_GNUPLOT:-gnuplot}

step() { echo "snapshot: $*" >&2; }

# Fixture runs: the default pair, a safetensors variant, the known spectra.
"$bin/rw-fixture" runs -o "$out/fixtures" --steps 600 --every 100 --cycle 200 --layers 3
"$bin/rw-fixture" runs -o "$out/fixtures-st" --steps 300 --every 100 --cycle 200 \
    --layers 2 --safetensors --dtype bfloat16 --prefix pico_decoder.
"$bin/rw-fixture" known -o "$out/known"
find "$out" -type f -exec touch -d '2000-01-01 00:00:00 UTC' {} +

p="$out/programs"
mkdir -p "$p"
fx=("$out/fixtures/full-rank" "$out/fixtures/relora")
step "per-layer programs"
"$bin/rw-ls" "${fx[@]}" >"$p/ls.tsv"
"$bin/rw-rank" --component all "${fx[@]}" >"$p/rank.tsv"
"$bin/rw-cond" --component all --format csv "${fx[@]}" >"$p/cond.csv"
"$bin/rw-metrics" --component all "${fx[@]}" >"$p/metrics.tsv"
"$bin/rw-updates" --component all "${fx[@]}" >"$p/updates.tsv"
"$bin/rw-updates" --from first "${fx[@]}" >"$p/updates_first.tsv"
"$bin/rw-tails" --component all "${fx[@]}" >"$p/tails.tsv"
"$bin/rw-tails" --updates --component all "${fx[@]}" >"$p/tails_updates.tsv"
"$bin/rw-rank" --heads 12 --kv-heads 4 --lora-scale 2 \
    "$out/fixtures-st/full-rank" "$out/fixtures-st/relora" >"$p/rank_st.tsv"
"$bin/rw-rank" "$out/known/known" >"$p/rank_known.tsv"
(cd "$out" && "$bin/rw-spectra" --updates --component all -o "$p/spectra.h5" \
    fixtures/full-rank fixtures/relora)

step "comparisons"
"$bin/rw-compare" --metrics per,cond,cond_rank "$p/rank.tsv" "$p/cond.csv" >"$p/compare.tsv"
"$bin/rw-compare" --summary --format md --metrics per,cond "$p/rank.tsv" "$p/cond.csv" >"$p/summary.md"
"$bin/rw-compare" --format tex --metrics per "$p/rank.tsv" >"$p/compare.tex"
"$bin/rw-compare" --format md --component ov --metrics per "$p/rank.tsv" >"$p/compare_ov.md"
"$bin/rw-compare" --metrics per,rel_update "$p/updates.tsv" >"$p/compare_updates.tsv"
set +e
"$bin/rw-diff" "$p/rank.tsv" "$p/rank_st.tsv" >"$p/diff.txt" 2>&1; echo "exit $?" >>"$p/diff.txt"
"$bin/rw-diff" --format json "$p/rank.tsv" "$p/metrics.tsv" >"$p/diff.json" 2>&1; echo "exit $?" >>"$p/diff.json"
"$bin/rw-diff" --allow-missing --tol per=0.5 "$p/rank.tsv" "$p/rank.tsv" >"$p/diff_same.txt" 2>&1; echo "exit $?" >>"$p/diff_same.txt"
set -e

step "figure scripts"
f="$out/figures"
mkdir -p "$f"
"$bin/rw-plot" trajectory --script-only --metric per -o "$f/traj.png" "$p/rank.tsv"
"$bin/rw-plot" trajectory --script-only --per-layer --metric cond -o "$f/traj_layers.svg" "$p/cond.csv"
"$bin/rw-plot" heatmap --script-only --metric per -o "$f/heat.png" "$p/rank.tsv"
"$bin/rw-plot" spectrum --script-only -o "$f/spec.pdf" "$p/spectra.h5"
"$bin/rw-plot" esd --script-only -o "$f/esd.png" "$p/spectra.h5"
"$bin/rw-plot" trajectory --script-only --modules paper --metric per -o "$f/traj_upd.png" "$p/updates.tsv"

# analyze.sh of this build's tree on the default fixture runs and on the real runs.
tree=$(cd "$bin/.." && pwd -P)
an() {  # an NAME analyze.sh-args...
    local name=$1; shift
    step "analyze.sh $name"
    (cd "$out" && "$tree/analyze.sh" -o "an-$name" "$@" >/dev/null 2>"$out/an-$name.err") \
        || echo "exit $?" >>"$out/an-$name.err"
    if [ -f "$out/an-$name/report.md" ]; then
        for r in report.md report.html; do
            grep -v -e 'Generated ' -e 'seconds' -e '[0-9]\.[0-9] s\b' "$out/an-$name/$r" \
                >"$out/an-$name/$r.kept" || true
            rm -f "$out/an-$name/$r"
        done
    fi
    sed -i -e 's/[0-9.]* s$//' -e "s/in [0-9.]* s:/in s:/" "$out/an-$name.err"
}
an fixtures "$out/fixtures/full-rank" "$out/fixtures/relora"
if [ -d "$shared/realdata" ]; then
    an gpt2 "$shared/realdata/gpt2-lora-steps"
    an keras "$shared/realdata/keras-mlp-epochs"
else
    step "no $shared/realdata: its runs skipped"
fi
mkdir -p "$(dirname "$final")"
mv "$out" "$final"
step "done: $final"
