#!/usr/bin/env bash
# analyze.sh — the one-command pipeline: checkpoints in; tables, figures and a
# report out. Installed (make install) it is rankwatch-analyze, beside the
# rw- programs.
#
#   ./analyze.sh [RUN ...] [-o OUT] [-j N] [--heads H --kv-heads G] [--lora-scale S]
#                [--base CKPT] [--fast] [--include GLOB] [--exclude GLOB]
#                [--label NAME] [--key PATH] [--data D] [--split S]
#   ./analyze.sh --version
#   rankwatch-analyze [RUN ...] [OPTION ...]    (the same, installed)
#
# With no RUN it generates the fixture runs (full-rank vs ReLoRA) and
# analyses those. A RUN is anything the rw- programs take: a directory of
# checkpoints, a checkpoint file, FILE,FILE,..., @LIST, NAME=PATH.
# --heads/--kv-heads (for the OV circuit), --lora-scale and --fast go to the
# analyzers, for checkpoints whose attributes do not carry them; so does
# --base CKPT, the frozen base model of adapter-only (PEFT) checkpoints.
# --include/--exclude (tensors by name), --label (names the next run),
# --key (the state dict of PyTorch checkpoint dicts) and --data/--split
# (pico-train gradients) mean what they mean for the rw- programs.
# --component is refused: the tables hold every component; the summaries
# and figures show weight, full (W + s·B·A) and the OV circuit.
# In the source tree it installs missing Debian packages (scripts/deps.sh)
# and builds first; installed, it runs the rw- programs beside it.
#
# A single checkpoint, or runs of one checkpoint each, have no update
# between checkpoints: the report is of the weights only and says so (a run
# of one checkpoint among longer ones is left out of the updates only).
#
# OUT/ (default out/) holds one analysis, replaced as a whole: the new one is
# built in .OUT.new.<pid> beside it and renamed into place when complete; a
# failed or interrupted run leaves the old OUT/ as it was.
#   report.md, report.html   what was analysed, the assumptions (heads and
#                            their source, or the OV circuit left out; the
#                            LoRA scale; components; dtypes; the rank rule),
#                            the headline comparison, every figure with a
#                            caption, links to the tables
#   spectra.h5               every singular value, weights and updates; kept as
#                            a cache: a second run decomposes only new or
#                            changed checkpoints
#   tables/                  rank.tsv cond.tsv updates.tsv (per layer),
#                            compare.tsv compare_updates.tsv (mean and 95% CI
#                            over layers), summary*.md, checkpoints.tsv (each
#                            checkpoint's heads and LoRA scale: rw-ls
#                            --checkpoints); for pico-train runs with
#                            learning dynamics, gradients.tsv (rw-metrics
#                            --data gradients) and similarity.tsv (rw-sim)
#   figures/                 PNG figures, each with its gnuplot script
set -euo pipefail
# rankwatch's programs run BLAS on one thread (their parallelism is across
# matrices), but OpenBLAS starts a pool thread in every process, which
# spins for about 0.1 s on another core: one thread from the start saves
# that in each of the programs below (7.7 -> 6.7 s of CPU on the fixture
# runs, the same outputs). A value the caller set is kept.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

# Where it runs from: rankwatch's source tree (analyze.sh, the programs
# built into bin/), or an installation (rankwatch-analyze in a folder of
# the rw- programs, with no sources).
here=$(dirname -- "$(realpath -- "$0")")
me=$(basename -- "$0")
if [ -f "$here/Makefile" ] && [ -f "$here/io/rw.h" ]; then
    installed=""
elif [ -x "$here/rw-spectra" ]; then
    installed=yes
else
    echo "$me: neither rankwatch's sources nor the rw- programs are beside it in $here" >&2
    exit 2
fi
out=out
jobs=""
runs=()
base_ckpt=""
# The comment at the top, up to set -e.
usage() { awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; }
pass=()
while [ $# -gt 0 ]; do
    case "$1" in
    -o|--output) [ $# -ge 2 ] || { echo "$me: $1 needs a directory" >&2; exit 2; }
        out=$2; shift 2 ;;
    -j|--jobs) [ $# -ge 2 ] || { echo "$me: $1 needs a number" >&2; exit 2; }
        jobs=$2; shift 2 ;;
    --heads|--kv-heads|--lora-scale|--base|--include|--exclude|--label|--key|--data|--split)
        [ $# -ge 2 ] || { echo "$me: $1 needs a value" >&2; exit 2; }
        [ "$1" = --base ] && base_ckpt=$2
        pass+=("$1" "$2"); shift 2 ;;
    --fast) pass+=("$1"); shift ;;
    --component|--component=*)
        # (Not passed through: rw-compare and rw-plot --component full would
        # keep only the adapted runs' rows, so a full-rank run would drop
        # out of every comparison.)
        echo "$me: $1: the tables hold every component already (the summaries and figures show weight for plain matrices, full = W + s·B·A for adapted ones, and the OV circuit); draw another with rw-plot --component C OUT/tables/rank.tsv" >&2
        exit 2 ;;
    -h|--help) usage; exit 0 ;;
    --version)
        if [ -n "$installed" ]; then
            v=$("$here/rw-rank" --version | sed -n 's/^rw-rank (rankwatch) //p')
        else
            v=$(sed -n 's/^#define RW_VERSION "\(.*\)"$/\1/p' "$here/io/rw.h")
        fi
        echo "$me (rankwatch) ${v:-unknown}"; exit 0 ;;
    -*) echo "$me: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) runs+=("$1"); shift ;;
    esac
done

say() { echo "$me: $*" >&2; }
refuse() { echo "$me: -o $out: $*; OUT is replaced as a whole, give another folder" >&2; exit 2; }
t_start=$(date +%s.%N)
elapsed() { awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

# ---------------------------------------------------------------- OUT
# OUT is replaced as a whole at the end, so everything in it goes: refuse
# the values where that would delete more than an old analysis.

# The paths a RUN argument reads (io/run.h, analyzers/cli.c): the argument,
# or NAME=PATH's PATH, FILE,FILE's files, @LIST's list file and its lines.
run_paths() {
    local a=$1 name line
    if [ -e "$a" ]; then printf '%s\n' "$a"; return; fi
    name=${a%%=*}
    if [ "$name" != "$a" ] && [ -n "$name" ] && [[ $name != */* ]]; then a=${a#*=}; fi
    case "$a" in
    @*) printf '%s\n' "${a#@}"
        if [ -f "${a#@}" ]; then
            while IFS= read -r line || [ -n "$line" ]; do
                line=${line%$'\r'}
                [ -n "$line" ] && [ "${line:0:1}" != "#" ] && printf '%s\n' "$line"
            done <"${a#@}"
        fi ;;
    *,*) tr ',' '\n' <<<"$a" ;;
    *) printf '%s\n' "$a" ;;
    esac
}
# within DIR PATH: PATH is DIR or inside it (both absolute, resolved).
within() { [ "$1" = / ] || case "$2/" in "$1"/*) true ;; *) false ;; esac; }

[ -n "$out" ] || refuse "is empty"
if [ -e "$out" ] && [ ! -d "$out" ]; then refuse "is not a directory"; fi
# A symbolic link to a directory: replace the directory, keep the link.
out_abs=$(realpath -m -- "$out")
[ "$out_abs" != / ] || refuse "is the root directory"
within "$out_abs" "$(pwd -P)" && refuse "is the current directory or one of its parents"
within "$out_abs" "$here" && refuse "holds rankwatch itself ($here)"
for r in "${runs[@]}"; do
    while IFS= read -r p; do
        [ -n "$p" ] && [ -e "$p" ] || continue
        within "$out_abs" "$(realpath -- "$p")" && refuse "holds the run $r"
    done < <(run_paths "$r")
done
if [ -n "$base_ckpt" ] && [ -e "$base_ckpt" ]; then
    within "$out_abs" "$(realpath -- "$base_ckpt")" && refuse "holds the --base $base_ckpt"
fi
# A mount point (a container's volume, say) cannot be renamed: say so now
# rather than after the whole analysis.
if [ -d "$out_abs" ] && command -v mountpoint >/dev/null && mountpoint -q -- "$out_abs"; then
    refuse "is a mount point, which cannot be renamed; give a folder inside it"
fi
# A folder that holds anything and none of an analysis's files is not ours.
if [ -d "$out_abs" ] && [ -n "$(ls -A -- "$out_abs")" ]; then
    looks=""
    for f in report.md spectra.h5 tables figures fixture-runs; do
        [ -e "$out_abs/$f" ] && looks=yes
    done
    [ -n "$looks" ] || refuse "holds files but no analysis (no report.md, spectra.h5, tables/ or figures/)"
fi
parent=$(dirname -- "$out_abs")
base=$(basename -- "$out_abs")

if [ -n "$installed" ]; then
    bin=$here
else
    bash "$here/scripts/deps.sh"
    [ -x "$here/bin/rw-spectra" ] || say "building rankwatch (first run; about a minute)..."
    make -s -C "$here" all >&2
    bin="$here/bin"
fi
mkdir -p -- "$parent"

# Temporary folders of earlier runs that died without cleaning up (kill -9,
# a crash, a power cut): .OUT.new.<pid> (a half-built analysis) goes;
# .OUT.old.<pid> (the previous OUT, renamed aside while being replaced) goes
# too, unless OUT itself is missing, then it is OUT and is put back.
alive() { kill -0 "$1" 2>/dev/null || [ -d "/proc/$1" ]; }
for d in "$parent/.$base.new."* "$parent/.$base.old."*; do
    [ -d "$d" ] || continue
    pid=${d##*.}
    case $pid in '' | *[!0-9]*) continue ;; esac
    # (A folder of this pid is from an earlier process that had it: stale.)
    [ "$pid" != $$ ] && alive "$pid" && continue
    if [[ $d == "$parent/.$base.old."* ]] && [ ! -e "$out_abs" ]; then
        say "restoring $out, left aside by an interrupted run (pid $pid)"
        mv -T -- "$d" "$out_abs"
    else
        say "removing $d, left by an interrupted run (pid $pid)"
        rm -rf -- "$d"
    fi
done

# From here on the new analysis is built in $new. Whatever stops this run
# before the swap (a failing step, SIGINT, SIGTERM, SIGHUP) removes it and
# leaves OUT as it was; a signal stops the running step first.
new="$parent/.$base.new.$$"
had_out=""
[ -e "$out_abs" ] && had_out=yes
aside=""
child=""
cleanup() {
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
        child=""
    fi
    # Stopped between the two renames of the swap: put the old OUT back.
    if [ -n "$aside" ] && [ -d "$aside" ]; then
        if [ -e "$out_abs" ]; then rm -rf -- "$aside"; else mv -T -- "$aside" "$out_abs"; fi
    fi
    [ -n "$new" ] && rm -rf -- "$new"
    new="" aside=""
}
# What a failure or a signal leaves: the previous OUT, or no OUT at all.
left() { if [ -n "$had_out" ]; then echo "$out left as it was"; else echo "no $out written"; fi; }
on_exit() {
    local rc=$?
    cleanup
    if [ "$rc" -ne 0 ]; then
        say "failed; $(left)"
        [ "$rc" -eq 2 ] || rc=1    # 2: an rw- program's usage error, e.g. a bad --heads
    fi
    exit "$rc"
}
on_signal() {  # on_signal NAME STATUS
    trap '' INT TERM HUP
    trap - EXIT
    cleanup
    say "stopped by SIG$1; $(left)"
    # Die of the signal itself, so that a calling shell stops too; exit
    # with 128+N where the signal was ignored when this script started.
    trap - "$1"
    kill -s "$1" $$
    exit "$2"
}
trap on_exit EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM
trap 'on_signal HUP 129' HUP
# run CMD...: runs CMD in the background and waits for it, so that a signal
# is handled at once (a foreground command would delay the trap until it
# ends) and the trap can stop CMD.
run() {
    "$@" &
    child=$!
    local rc=0
    wait "$child" || rc=$?
    child=""
    return "$rc"
}
mkdir -- "$new"
mkdir -- "$new/tables" "$new/figures"

# The caches of the old OUT: its spectra file, and the fixture runs it
# generated. Hard links where the file system allows: rw-spectra replaces
# spectra.h5 by renaming a new file over it, never writing into it, and
# nothing writes into the fixture runs, so the old OUT stays unchanged.
if [ -f "$out_abs/spectra.h5" ]; then
    ln -- "$out_abs/spectra.h5" "$new/spectra.h5" 2>/dev/null ||
        cp -p -- "$out_abs/spectra.h5" "$new/spectra.h5"
fi
j=()
[ -n "$jobs" ] && j=(-j "$jobs")
shown=("${runs[@]}")
spectra_cwd=.
if [ ${#runs[@]} -eq 0 ]; then
    fx="$out_abs/fixture-runs"
    if [ -f "$fx/relora/step_002000.h5" ]; then
        cp -al -- "$fx" "$new/fixture-runs" 2>/dev/null || {
            rm -rf -- "$new/fixture-runs"; cp -a -- "$fx" "$new/fixture-runs"; }
    else
        say "no runs given: generating the fixture runs (full-rank vs ReLoRA) in $out/fixture-runs"
        run "$bin/rw-fixture" runs -o "$new/fixture-runs"
    fi
    # Named relative to OUT, so that the spectra cache (keyed on the path)
    # still matches once the folder has been renamed.
    spectra_cwd=$new
    runs=(fixture-runs/full-rank fixture-runs/relora)
    shown=("$out/fixture-runs/full-rank" "$out/fixture-runs/relora")
fi

# 1. Every singular value once (weights and updates, every component).
say "[1/4] spectra of ${#runs[@]} run$([ ${#runs[@]} -eq 1 ] || echo s) -> $out/spectra.h5"
run env -C "$spectra_cwd" "$bin/rw-spectra" "${j[@]}" "${pass[@]}" --updates --component all \
    -o "$new/spectra.h5" "${runs[@]}"

# What each checkpoint was analysed with (the attention heads of the OV
# circuit, the LoRA scale, and where they came from), for the report's
# assumptions: rw-ls reads the checkpoints' directories only, no values.
run env -C "$spectra_cwd" "$bin/rw-ls" --checkpoints "${pass[@]}" -o "$new/tables/checkpoints.tsv" \
    "${runs[@]}"
# Steps that are epochs (Keras's ModelCheckpoint files, epoch_N names: the
# unit column): the figures' axes say "epoch".
epochs=()
if awk -F'\t' 'NR>1 {n++; if ($3 != "epoch") f=1} END {exit !(n && !f)}' \
       "$new/tables/checkpoints.tsv"; then
    epochs=(--epochs)
fi

# Learning dynamics: when every run is a pico-train run whose step folders
# hold learning_dynamics/train_{gradients,activations}.pt, the metrics of
# the gradients (the paper's per-grads, cn-grads) and the similarity of each
# step's activations to its run's last step (CKA, PWCCA). Either is skipped,
# with the reason, when it cannot be computed; the rest of the analysis
# does not depend on them.
has_ld() {  # has_ld KIND: every run holds learning_dynamics/train_KIND.pt
    local r p found
    for r in "${runs[@]}"; do
        found=""
        while IFS= read -r p; do
            case "$p" in /*) ;; *) p="$spectra_cwd/$p" ;; esac
            [ -d "$p" ] || continue
            [ -n "$(find "$p" -maxdepth 5 -path "*learning_dynamics/train_$1.pt" -print -quit 2>/dev/null)" ] && found=1
        done < <(run_paths "$r")
        [ -n "$found" ] || return 1
    done
}
ld_note=""
ldpass=()   # the options rw-metrics and rw-sim take (no --data, --split)
for ((i = 0; i < ${#pass[@]}; i++)); do
    case "${pass[i]}" in
    --data|--split|--base|--lora-scale) i=$((i + 1)) ;;
    --fast) ldpass+=("${pass[i]}") ;;
    *) ldpass+=("${pass[i]}" "${pass[i + 1]}"); i=$((i + 1)) ;;
    esac
done
if has_ld gradients; then
    if ! run env -C "$spectra_cwd" "$bin/rw-metrics" "${j[@]}" "${ldpass[@]}" --progress none \
            --data gradients -o "$new/tables/gradients.tsv" "${runs[@]}" 2>"$new/.ld.err"; then
        say "gradients skipped: $(head -1 "$new/.ld.err")"
        ld_note="$ld_note The gradients were not analysed: $(head -1 "$new/.ld.err")."
        rm -f -- "$new/tables/gradients.tsv"
    fi
fi
if has_ld activations; then
    simpass=()
    for ((i = 0; i < ${#ldpass[@]}; i++)); do
        case "${ldpass[i]}" in
        --include|--exclude|--label|--key) simpass+=("${ldpass[i]}" "${ldpass[i + 1]}"); i=$((i + 1)) ;;
        --fast) ;; *) i=$((i + 1)) ;;
        esac
    done
    if ! run env -C "$spectra_cwd" "$bin/rw-sim" "${simpass[@]}" -o "$new/tables/similarity.tsv" \
            "${runs[@]}" 2>"$new/.ld.err"; then
        say "activation similarity skipped: $(head -1 "$new/.ld.err")"
        ld_note="$ld_note The activations were not compared: $(head -1 "$new/.ld.err")."
        rm -f -- "$new/tables/similarity.tsv"
    fi
fi
rm -f -- "$new/.ld.err"

# From here on only OUT's own files are read: work inside it, so that the
# paths recorded in the scripts and tables are relative to OUT.
cd -- "$new"

# 2. Tables, from the spectra file: no SVD from here on.
say "[2/4] tables -> $out/tables/"
T=tables
run "$bin/rw-rank" --component all -o "$T/rank.tsv" spectra.h5
run "$bin/rw-cond" --component all -o "$T/cond.tsv" spectra.h5
nruns=$(awk -F'\t' 'NR>1 {print $1}' "$T/rank.tsv" | sort -u | wc -l)
# The runs with updates between checkpoints: those of two or more
# checkpoints (and update spectra). A run of one checkpoint has none — not
# even when adapted: the s·B·A rw-spectra records as its adapters' update
# is a component of its weights — and when no run has any, the report is of
# the weights only.
run "$bin/rw-ls" -o "$T/.entries.tsv" spectra.h5
upd_runs=$(awk -F'\t' 'NR > 1 { if (!($1 in seen)) { seen[$1] = 1; o[++n] = $1 }
        if (!(($1, $2) in st)) { st[$1, $2] = 1; steps[$1]++ }
        if (index($11, "spectrum of the update (") == 1) upd[$1] = 1 }
    END { for (i = 1; i <= n; i++) if (upd[o[i]] && steps[o[i]] >= 2) print o[i] }' \
    "$T/.entries.tsv")
rm -f -- "$T/.entries.tsv"
# (runs with one checkpoint and no update: named in the report)
no_upd=$(U=$upd_runs awk -F'\t' 'BEGIN {n = split(ENVIRON["U"], a, "\n"); for (i = 1; i <= n; i++) has[a[i]] = 1}
    NR>1 && !($1 in has) && !(($1, $2) in s) {s[$1, $2] = 1; if (!($1 in c)) o[++k] = $1; c[$1]++}
    END {for (i = 1; i <= k; i++) if (c[o[i]] == 1) print o[i]}' "$T/rank.tsv")
nupd=0
if [ -n "$upd_runs" ]; then
    nupd=$(printf '%s\n' "$upd_runs" | wc -l)
    run "$bin/rw-updates" --component all -o "$T/updates.tsv" spectra.h5
fi
run "$bin/rw-compare" --metrics per,cond,cond_rank -o "$T/compare.tsv" "$T/rank.tsv" "$T/cond.tsv"
[ "$nupd" -ge 1 ] && run "$bin/rw-compare" --metrics per,cond,cond_rank,rel_update \
    -o "$T/compare_updates.tsv" "$T/updates.tsv"
# (The OV circuit, where there is one, is a module of these tables and
# summaries like any other: no tables of its own.)
if [ "$nruns" -ge 2 ]; then
    run "$bin/rw-compare" --summary --metrics per,cond --format md -o "$T/summary.md" "$T/rank.tsv" "$T/cond.tsv"
fi
if [ "$nupd" -ge 2 ]; then
    run "$bin/rw-compare" --summary --metrics per,cond_rank --format md -o "$T/summary_updates.md" "$T/updates.tsv"
fi

# 3. Figures. The paper's four modules when the runs have them, else all.
say "[3/4] figures -> $out/figures/"
F=figures
mods=()
if awk -F'\t' 'NR>1 && $5=="swiglu.w_2.weight" {f=1} END {exit !f}' "$T/rank.tsv"; then
    mods=(--modules paper)
fi
figs=()   # "file|caption"
layered=$(awk -F'\t' 'NR>1 && $4>=0 {print "yes"; exit}' "$T/rank.tsv")
plot() {  # plot FILE CAPTION rw-plot-args...
    local f=$1 cap=$2; shift 2
    # No update spectra (every run one checkpoint): no update figures.
    case "$f" in updates_* | spectrum_updates*) [ "$nupd" -ge 1 ] || return 0 ;; esac
    # No module in layers (each Dense layer of a Keras model is a module of
    # one matrix, layer -1): a heatmap has no layer axis; the trajectories
    # draw them.
    case "$f" in heatmap_*) [ -n "$layered" ] || return 0 ;; esac
    if run "$bin/rw-plot" "$@" "${epochs[@]}" -o "$F/$f" 2>"$F/.err"; then
        figs+=("$f|$cap")
    else
        say "figure $f not drawn: $(head -1 "$F/.err")"
    fi
    rm -f "$F/.err"
}
over="mean over layers, 95% CI"
gover="geometric mean over layers, 95% CI on the logarithms"   # cond, cond_rank (rw-plot --mean)
if ! awk -F'\t' 'NR>1 && $4>=0 {n[$1 FS $2 FS $5]++; if (n[$1 FS $2 FS $5]>1) {f=1; exit}} END {exit !f}' "$T/rank.tsv"; then
    over="one matrix per module"
    gover=$over
fi
# What the default rows are of: weights (plain or full = W + s·B·A), or, for
# checkpoints that hold only adapters (PEFT), lora = s·B·A (io/spectrum.h).
of=$(awk -F'\t' 'NR>1 { k=$1 FS $2 FS $3
        if ($6=="full") f[k]=1; else if ($6=="lora") l[k]=1; else if ($6=="weight") w=1 }
    END { for (k in l) if (!(k in f)) lo=1; for (k in f) w=1; print (w ? "w" : "") (lo ? "l" : "") }' "$T/rank.tsv")
weights="the weights" updates="the updates ΔW between checkpoints" wnote="" unote=""
case $of in
l)  weights="the LoRA updates s·B·A" updates="the LoRA updates s·B·A"
    wnote=" The checkpoints hold the adapters only: s·B·A is the update they add to the base weights."
    unote=" An adapter's update is s·B·A itself, that of its cycle: the matrices of the weights figures, from the second checkpoint on." ;;
wl) wnote=" For checkpoints that hold the adapters only: s·B·A, the update they add to the base weights."
    unote=" For checkpoints that hold the adapters only: s·B·A itself." ;;
esac
plot weights_per.png "Proportional effective rank of $weights ($over).$wnote" \
    trajectory "${mods[@]}" --metric per "$T/rank.tsv"
# Low-rank inputs only (adapter-only checkpoints): cond is infinite everywhere.
if awk -F'\t' -v c="$(head -1 "$T/cond.tsv" | tr '\t' '\n' | grep -n '^cond$' | cut -d: -f1)" \
       'NR>1 && $c != "inf" && $c != "nan" {f=1; exit} END {exit !f}' "$T/cond.tsv"; then
    deficient=""   # rw-plot draws cond_rank for a module with a rank-deficient matrix
    awk -F'\t' 'NR==1 {for (i = 1; i <= NF; i++) c[$i] = i; next}
        ($6=="weight" || $6=="full" || $6=="ov") && $c["cond"] != $c["cond_rank"] {f=1; exit}
        END {exit !f}' "$T/cond.tsv" &&
        deficient="; σ₁/σ_r (cond_rank) in the panels marked rank-deficient, where σ₁/σₖ is round-off"
    plot weights_cond.png "Condition number σ₁/σₖ of $weights ($gover$deficient).$wnote" \
        trajectory "${mods[@]}" --metric cond "$T/cond.tsv"
else
    plot weights_cond.png "Conditioning σ₁/σ_r on the non-zero subspace (cond_rank) of $weights: every matrix here is low-rank, so σ₁/σₖ is infinite ($gover).$wnote" \
        trajectory "${mods[@]}" --metric cond_rank "$T/cond.tsv"
fi
plot updates_per.png "Proportional effective rank of $updates ($over).$unote" \
    trajectory "${mods[@]}" --metric per "$T/updates.tsv"
plot updates_cond.png "Conditioning of $updates on their non-zero subspace, σ₁/σ_r (cond_rank; plain σ₁/σₖ is infinite for low-rank updates) ($gover).$unote" \
    trajectory "${mods[@]}" --metric cond_rank "$T/updates.tsv"
plot heatmap_per.png "PER of $weights by layer and step, per module and run.$wnote" \
    heatmap "${mods[@]}" --metric per "$T/rank.tsv"
plot spectrum_weights.png "Normalised singular values σᵢ/σ₁ of $weights at up to five steps (each panel has its own y range).$wnote" \
    spectrum "${mods[@]}" spectra.h5
plot spectrum_updates.png "Normalised singular values of $updates at up to five steps (the first checkpoint has none; each panel has its own y range). A low-rank update's spectrum falls to round-off after its rank: to about 1e-16 where the base weights did not change, to the order of the stored precision (1e-7 for float32) across a merge. Its rank is at most r for LoRA's s·B·A and for ReLoRA between checkpoints of one cycle, up to 2r between checkpoints that straddle a merge (the end of one cycle and the start of the next), more across several merges.$unote" \
    spectrum --updates "${mods[@]}" spectra.h5
# Runs compared: WeightWatcher's alpha (rw-tails), and one module's ESD with
# its fits (SwiGLU W2 of the paper's modules, else the middle module by name).
if [ "$nruns" -ge 2 ] && run "$bin/rw-tails" -o "$T/tails.tsv" spectra.h5; then
    plot weights_alpha.png "WeightWatcher's power-law exponent alpha of the ESD of $weights ($over).$wnote" \
        trajectory "${mods[@]}" --metric alpha "$T/tails.tsv"
    esdmod=$(awk -F'\t' 'NR>1 && ($6=="weight" || $6=="full") && !($5 in s) {s[$5]; print $5}' "$T/tails.tsv" | sort)
    esdmod=$(printf '%s\n' "$esdmod" | grep -qxF swiglu.w_2.weight && echo swiglu.w_2.weight ||
        printf '%s\n' "$esdmod" | awk '{m[NR] = $0} END {print m[int((NR + 1) / 2)]}')
    plot esd_weights.png "ESD of one matrix of $weights (the middle layer of its module) at each run's last checkpoint: the histogram of its eigenvalues λ = σ², WeightWatcher's power-law fit from xmin and the Marchenko–Pastur bulk.$wnote" \
        esd --modules "$(printf '%s' "$esdmod" | sed 's/[][*?\\]/\\&/g')" spectra.h5
fi

# Learning dynamics (pico-train): the paper's figures, bands bootstrapped
# over layers (seaborn's 95% interval) for the first and last half of the
# layers apart.
boot="mean over layers with a bootstrap 95% interval (1000 resamples, seed 0), first and last half of the layers apart"
if [ -f "$T/gradients.tsv" ]; then
    plot grads_per.png "Proportional effective rank of the gradients ($boot)." \
        trajectory --metric per --ci bootstrap --layer-groups halves "$T/gradients.tsv"
    plot grads_cond.png "Condition number σ₁/σₖ of the gradients (geometric $boot; cond_rank in panels marked rank-deficient)." \
        trajectory --metric cond --ci bootstrap --layer-groups halves "$T/gradients.tsv"
fi
if [ -f "$T/similarity.tsv" ]; then
    plot cka.png "Linear CKA of each step's activations with its run's last step ($boot)." \
        trajectory --metric cka --ci bootstrap --layer-groups halves "$T/similarity.tsv"
    plot pwcca.png "PWCCA of each step's activations with its run's last step ($boot)." \
        trajectory --metric pwcca --ci bootstrap --layer-groups halves "$T/similarity.tsv"
fi

# 4. The report.
say "[4/4] report -> $out/report.md, $out/report.html"

# The report's assumptions, one item each: the attention heads of each run
# and their source (tables/checkpoints.tsv, rw-ls --checkpoints), the LoRA
# scale of runs with adapters, the components, the stored dtypes and the
# rank rule (tables/rank.tsv). Values that differ between a run's
# checkpoints are listed with their counts.
assumptions() {
    awk -F'\t' '
        function add(kind, r, v) { if (!((kind, r, v) in c)) k[kind, r, ++nk[kind, r]] = v; c[kind, r, v]++ }
        function said(kind, r,   i, s) {
            if (nk[kind, r] == 1) return k[kind, r, 1]
            for (i = 1; i <= nk[kind, r]; i++)
                s = s (i > 1 ? "; " : "") k[kind, r, i] " at " c[kind, r, k[kind, r, i]] " checkpoints"
            return s }
        NR > 1 {
            r = $1; if (!(r in seen)) { seen[r] = 1; order[++n] = r }
            if ($7 != "") {
                att++
                if ($7 == "unknown")
                    add("h", r, "unknown (no n_heads attribute, no config.json, no --heads): the OV circuit is left out (give --heads and --kv-heads)")
                else
                    add("h", r, $5 " heads (" $7 "), " $6 " kv heads (" ($8 == "= heads" ? "as many as heads: none given" : $8) ")")
            }
            if ($10 != "") {
                lora++
                add("s", r, $10 == "default" ? "s = 1 assumed (no --lora-scale, lora_alpha and lora_r, or adapter_config.json)" \
                                            : "s = " $9 " (" $10 ")")
            } }
        END {
            for (i = 1; i <= n; i++) {
                r = order[i]
                if (!att) break
                printf "- Attention heads of `%s`, for the OV circuit (`attention.ov`, `attention.wo_wv`): %s.\n", r,
                    nk["h", r] ? said("h", r) : "none (no layer has a v_proj and an o_proj)"
            }
            if (!att) print "- OV circuit: none, as no layer has both a v_proj and an o_proj (a fused projection such as GPT-2\047s c_attn is not split), so no attention heads are needed."
            for (i = 1; i <= n && lora; i++)
                if (nk["s", order[i]])
                    printf "- LoRA scale of `%s`: %s.\n", order[i], said("s", order[i])
        }' tables/checkpoints.tsv
    awk -F'\t' '
        BEGIN { u["bfloat16"] = "2^-8"; u["float16"] = "2^-11"; u["float32"] = "2^-24"; u["float64"] = "2^-53"
                split("weight base lora full ov wo_wv", names, " ")
                d["weight"] = "plain matrices"; d["base"] = "W, the frozen base of an adapter"
                d["lora"] = "s·B·A"; d["full"] = "W + s·B·A"
                d["ov"] = "the OV circuit as pico-analyze forms it"; d["wo_wv"] = "W_O·W_V" }
        NR > 1 { comp[$6] = 1; if (!($9 in dt)) { dt[$9] = 1; dts[++nd] = $9 } }
        END {
            for (i = 1; i <= 6; i++) {
                c = names[i]
                if (!(c in comp)) continue
                s = s (s ? ", " : "") "`" c "` (" d[c] ")"
                if (c != "base" && (c != "lora" || !("full" in comp))) v = v (v ? ", " : "") "`" c "`"
            }
            print "- Components in the tables: " s "; the summaries and figures show " v "."
            s = ""
            for (i = 1; i <= nd; i++) s = s (i > 1 ? ", " : "") dts[i] (dts[i] in u ? " (u = " u[dts[i]] ")" : "")
            print "- Stored dtypes: " s "."
        }' tables/rank.tsv
    echo "- Rank rule: \`num_rank\` counts the singular values above what rounding the stored values can explain, tol = max(u·N, σ₁·max(m, n)·eps(float64)), where u·N bounds the Frobenius norm of the rounding error, u the unit round-off of the stored dtype (rankwatch's README.md, *The rank rule (storage noise)*)."
}
R=report.md
{
    echo "# rankwatch report"
    echo
    echo "Generated $(date -u '+%Y-%m-%d %H:%M UTC') by \`$me\` ($("$bin/rw-rank" --version))."
    echo
    echo "## What was analysed"
    echo
    echo "| run | checkpoints | $([ ${#epochs[@]} -gt 0 ] && echo epochs || echo steps) | matrices per checkpoint | stored dtype |"
    echo "| --- | ---: | --- | ---: | --- |"
    awk -F'\t' 'NR>1 && ($6=="weight" || $6=="full" || ($6=="lora")) {
            key=$1; if (!(key in n)) { order[++k]=key; lo[key]=$2; hi[key]=$2 }
            if (!((key, $2) in seen)) { seen[key, $2]=1; n[key]++ }
            if ($2+0 < lo[key]+0) lo[key]=$2; if ($2+0 > hi[key]+0) hi[key]=$2
            if (!((key, $2, $3) in t)) { t[key, $2, $3]=1; m[key, $2]++ }
            dt[key, $9]=1 }
        END { for (i=1;i<=k;i++) { r=order[i]; d=""
                for (x in dt) { split(x, p, SUBSEP); if (p[1]==r) d = d (d ? ", " : "") p[2] }
                printf "| %s | %d | %s | %d | %s |\n", r, n[r], lo[r] == hi[r] ? lo[r] : lo[r] " to " hi[r], m[r, lo[r]], d } }' \
        "$T/rank.tsv"
    echo
    echo "Inputs: $(printf '`%s` ' "${shown[@]}")"
    echo
    # (runs named in code spans, joined by commas)
    n_no=$(printf '%s\n' "$no_upd" | grep -c . || true)
    names=$(printf '%s\n' "$no_upd" | awk 'NF {printf "%s`%s`", (n++ ? ", " : ""), $0}')
    if [ "$nupd" -eq 0 ] && [ "$n_no" -eq "$nruns" ]; then
        echo "No updates: $([ "$nruns" -eq 1 ] && echo "the run has" || echo "each run has") one checkpoint, so there is no update between checkpoints; this report is of the weights only."
        echo
    elif [ "$n_no" -gt 0 ]; then
        echo "$names $([ "$n_no" -eq 1 ] && echo "has" || echo "each have") one checkpoint, so no update between checkpoints: the update tables and figures show the other runs."
        echo
    fi
    echo "## Assumptions"
    echo
    assumptions
    echo
    if [ "$nruns" -ge 2 ]; then
        echo "## Headline comparison"
        echo
        echo "Final-step values of each run against the reference run, per module"
        echo "(mean over layers); *gap* = run − reference, *area* = mean |gap| over the"
        echo "shared steps, *apart from* = first step from which the gap stays beyond 5%"
        echo "of the reference."
        echo
        echo "### Weights"
        echo
        cat "$T/summary.md"
        echo
        if [ -f "$T/summary_updates.md" ]; then
            echo "### Updates between checkpoints"
            echo
            cat "$T/summary_updates.md"
            echo
        fi
    fi
    if [ -f "$T/gradients.tsv" ] || [ -f "$T/similarity.tsv" ] || [ -n "$ld_note" ]; then
        echo "## Learning dynamics"
        echo
        echo "From pico-train's \`learning_dynamics/\` files:"
        [ -f "$T/gradients.tsv" ] && echo "the metrics of the gradients on a fixed batch (\`rw-metrics --data gradients\`),"
        [ -f "$T/similarity.tsv" ] && echo "the linear CKA and PWCCA of each step's activations with the run's last step (\`rw-sim\`),"
        echo "drawn as in the paper: the mean over layers with a bootstrap 95% interval"
        echo "(layers resampled with replacement, 1000 times, seed 0: seaborn's \`errorbar=(\"ci\", 95)\`),"
        echo "for the first and the last half of the layers apart.$ld_note"
        echo
    fi
    echo "## Figures"
    echo
    [ -f "$T/tails.tsv" ] && echo "*alpha* is WeightWatcher's power-law exponent of a matrix's ESD (the eigenvalues λ = σ² of WᵀW): fitted to the tail of its largest eigenvalues, smaller for a heavier tail; WeightWatcher reads 2 to 6 as well trained and below 2 as over-fitted (definitions and sources: rankwatch's \`docs/tails.md\`; every matrix's fit in \`tables/tails.tsv\`)." && echo
    for f in "${figs[@]}"; do
        echo "![${f#*|}](figures/${f%%|*})"
        echo
        echo "*${f#*|}*"
        echo
    done
    echo "Each figure's gnuplot script and data are beside it in \`figures/\`:"
    echo "\`cd figures && gnuplot NAME.gp\` redraws it."
    echo
    echo "## Tables"
    echo
    for t in rank cond updates tails compare compare_updates checkpoints gradients similarity; do
        [ -f "$T/$t.tsv" ] && echo "- [\`tables/$t.tsv\`](tables/$t.tsv)"
    done
    for t in summary summary_updates; do
        [ -f "$T/$t.md" ] && echo "- [\`tables/$t.md\`](tables/$t.md)"
    done
    echo "- [\`spectra.h5\`](spectra.h5): every singular value (\`rw-rank spectra.h5\` reads it)"
} >"$R.tmp"
mv "$R.tmp" "$R"

# report.html: the same, figures inline, no JavaScript.
H=report.html
awk -v title="rankwatch report" '
    function esc(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s); return s }
    function inline(s,   out, pre, code) {
        s = esc(s)
        while (match(s, /`[^`]*`/)) {
            out = out substr(s, 1, RSTART - 1) "<code>" substr(s, RSTART + 1, RLENGTH - 2) "</code>"
            s = substr(s, RSTART + RLENGTH)
        }
        s = out s
        while (match(s, /\[<code>[^<]*<\/code>\]\([^)]*\)/)) {
            pre = substr(s, RSTART, RLENGTH); split(pre, q, /\]\(/)
            code = substr(q[1], 2); sub(/\)$/, "", q[2])
            s = substr(s, 1, RSTART - 1) "<a href=\"" q[2] "\">" code "</a>" substr(s, RSTART + RLENGTH)
        }
        while (match(s, /\*[^*]+\*/)) s = substr(s, 1, RSTART - 1) "<em>" substr(s, RSTART + 1, RLENGTH - 2) "</em>" substr(s, RSTART + RLENGTH)
        return s
    }
    BEGIN { print "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" title "</title>"
            print "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}"
            print "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}td,th{border:1px solid #ccc;padding:3px 8px}"
            print "td.n{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%;border:1px solid #eee}"
            print "figure{margin:1.5em 0}figcaption{color:#444;font-style:italic}code{background:#f4f4f4;padding:0 3px}</style></head><body>" }
    function flush() { if (para != "") { print "<p>" para "</p>"; para = "" }
                       if (inlist) { print "</ul>"; inlist = 0 } }
    /^\| *---/ { next }
    /^\|/ { flush(); if (!intable) { print "<table>"; intable = 1; hdr = 1 }
            n = split($0, c, /\|/); printf "<tr>"
            for (i = 2; i < n; i++) { v = c[i]; gsub(/^ +| +$/, "", v)
                tag = hdr ? "th" : "td"; cls = (!hdr && v ~ /^[-+0-9.e%]+$/) ? " class=\"n\"" : ""
                printf "<%s%s>%s</%s>", tag, cls, inline(v), tag }
            print "</tr>"; hdr = 0; next }
    intable { print "</table>"; intable = 0 }
    /^!\[/ { flush(); match($0, /\]\(.*\)/); src = substr($0, RSTART + 2, RLENGTH - 3)
             alt = substr($0, 3, RSTART - 3)
             print "<figure><img src=\"" src "\" alt=\"" esc(alt) "\"><figcaption>" esc(alt) "</figcaption></figure>"
             skipcap = 1; next }
    skipcap && /^\*.*\*$/ { skipcap = 0; next }
    /^### / { flush(); print "<h3>" inline(substr($0, 5)) "</h3>"; next }
    /^## / { flush(); print "<h2>" inline(substr($0, 4)) "</h2>"; next }
    /^# / { flush(); print "<h1>" inline(substr($0, 3)) "</h1>"; next }
    /^- / { if (para != "") { print "<p>" para "</p>"; para = "" }
            if (!inlist) { print "<ul>"; inlist = 1 }
            print "<li>" inline(substr($0, 3)) "</li>"; next }
    /^$/ { flush(); next }
    { para = para (para == "" ? "" : " ") inline($0) }
    END { flush(); if (intable) print "</table>"; print "</body></html>" }' "$R" >"$H.tmp"
mv "$H.tmp" "$H"

# 5. The swap: the old OUT aside, the new one into place, the old one gone.
# A signal between the two renames is handled after the rename it
# interrupts (mv runs in the foreground); cleanup then puts the old OUT back.
if [ -e "$out_abs" ]; then
    aside="$parent/.$base.old.$$"
    mv -T -- "$out_abs" "$aside"
fi
mv -T -- "$new" "$out_abs"
new=""
if [ -n "$aside" ]; then
    rm -rf -- "$aside" || say "could not remove the previous analysis, $aside"
    aside=""
fi

say "done in $(elapsed) s: $out/report.md (and report.html), ${#figs[@]} figures in $out/figures"
