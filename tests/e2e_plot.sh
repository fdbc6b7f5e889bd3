# e2e_plot.sh — rw-plot end to end: usage errors (exit 2), bad input and a
# missing or failing gnuplot (exit 1, one line, no file left behind), and
# figures in every format whose scripts redraw them byte for byte.
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

P="$TMP/plot"
mkdir -p "$P"
have_gp=0
command -v gnuplot >/dev/null 2>&1 && have_gp=1

# A per-layer table: two runs, two modules, three layers, five steps.
tab="$P/per.tsv"
awk 'BEGIN{OFS="\t"
  print "run","step","tensor","layer","module","component","rows","cols","dtype","per","cond"
  split("full-rank relora", runs, " ")
  split("swiglu.w_2.weight attention.v_proj.weight", mods, " ")
  for (r = 1; r <= 2; r++) for (s = 0; s < 5; s++) for (m = 1; m <= 2; m++) for (l = 0; l < 3; l++)
    print runs[r], s * 1000, "layers." l "." mods[m], l, mods[m], (r == 1 ? "weight" : "full"),
          96, 384, "float32", 0.9 - 0.05 * s * r - 0.01 * l, 10 ^ (1 + s * r * 0.7 + 0.1 * l)
}' > "$tab"

# ---- usage: exit 2
expect_exit 0 "--help" rw-plot --help
check "--help prints the usage" grep -q "^Usage: rw-plot trajectory" "$TMP/out"
expect_exit 0 "subcommand --help" rw-plot heatmap --help
expect_exit 0 "--version" rw-plot --version
expect_exit 2 "no subcommand" rw-plot
expect_exit 2 "unknown subcommand" rw-plot scatter -o "$P/x.png" "$tab"
expect_exit 2 "no -o" rw-plot trajectory "$tab"
expect_exit 2 "no table" rw-plot trajectory -o "$P/x.png"
expect_exit 2 "--format bmp" rw-plot trajectory --format bmp -o "$P/x.png" "$tab"
expect_exit 2 "name and --format disagree" rw-plot trajectory --format pdf -o "$P/x.png" "$tab"
expect_exit 2 "unknown extension" rw-plot trajectory -o "$P/x.jpg" "$tab"
expect_exit 2 "--size malformed" rw-plot trajectory --size 800 -o "$P/x.png" "$tab"
expect_exit 2 "--steps on a trajectory" rw-plot trajectory --steps 0 -o "$P/x.png" "$tab"
expect_exit 2 "--label is not for rw-plot" rw-plot trajectory --label a -o "$P/x.png" "$tab"
check "usage errors wrote nothing" test -z "$(ls -A "$P" | grep -v '^per.tsv$')"

# ---- bad data: exit 1, one line "rw-plot: FILE: ...", nothing written
head -1 "$tab" > "$P/empty.tsv"
expect_error "empty table" '^rw-plot: .*/empty.tsv: table has no rows$' \
    rw-plot trajectory -o "$P/x.png" "$P/empty.tsv"
: > "$P/zero.tsv"
expect_error "zero-byte table" '^rw-plot: .*/zero.tsv: ' rw-plot trajectory -o "$P/x.png" "$P/zero.tsv"
expect_error "no such table" '^rw-plot: .*/none.tsv: ' rw-plot trajectory -o "$P/x.png" "$P/none.tsv"
expect_error "metric not in the table" "^rw-plot: .*/per.tsv: no column 'erank' \(its metrics: per cond\)$" \
    rw-plot trajectory --metric erank -o "$P/x.png" "$tab"
awk 'BEGIN{FS=OFS="\t"} NR>1{$10="nan"} {print}' "$tab" > "$P/nan.tsv"
expect_error "metric all nan" '^rw-plot: .*/nan.tsv: per is nan or inf in all 60 selected rows; nothing to plot$' \
    rw-plot trajectory -o "$P/x.png" "$P/nan.tsv"
expect_error "heatmap of an all-nan metric" 'nothing to plot$' rw-plot heatmap -o "$P/x.png" "$P/nan.tsv"
expect_error "no module matches" "no module matches 'mlp\*' \(modules: attention.v_proj.weight, swiglu.w_2.weight\)$" \
    rw-plot trajectory --modules 'mlp*' -o "$P/x.png" "$tab"
expect_error "no run matches" "no run matches 'pico' \(runs: full-rank, relora\)$" \
    rw-plot trajectory --runs pico -o "$P/x.png" "$tab"
expect_error "spectrum of a metric table" "no column 'i'" rw-plot spectrum -o "$P/x.png" "$tab"
check "bad data wrote nothing" test -z "$(ls -A "$P" | grep -v '\.tsv$')"

# ---- gnuplot missing or failing: exit 1, one line, nothing written
expect_error "gnuplot not in PATH" '^rw-plot: .*/x.png: gnuplot not found in PATH \(install gnuplot-nox' \
    env PATH=/nonexistent "$RW_BIN/rw-plot" trajectory -o "$P/x.png" "$tab"
expect_error "RW_GNUPLOT not executable" "^rw-plot: .*/x.png: gnuplot '/nonexistent/gp' is not an executable file$" \
    env RW_GNUPLOT=/nonexistent/gp rw-plot trajectory -o "$P/x.png" "$tab"
printf '#!/bin/sh\necho "plot foo" >&2\necho "     ^" >&2\necho "\\"x.gp\\" line 3: undefined variable: foo" >&2\nexit 1\n' > "$P/bad-gnuplot"
chmod +x "$P/bad-gnuplot"
expect_error "gnuplot fails" '^rw-plot: .*/x.png: gnuplot failed \(exit 1\): "x.gp" line 3: undefined variable: foo$' \
    rw-plot trajectory --gnuplot "$P/bad-gnuplot" -o "$P/x.png" "$tab"
check "a failed gnuplot left nothing" test -z "$(ls -A "$P" | grep -v -e '\.tsv$' -e '^bad-gnuplot$')"
mkdir -p "$P/ro" && chmod 555 "$P/ro"
if [ "$(id -u)" -ne 0 ]; then
    expect_error "unwritable directory" "^rw-plot: .*/ro/x.png: cannot create files in" \
        rw-plot trajectory --script-only -o "$P/ro/x.png" "$tab"
fi
chmod 755 "$P/ro"

# ---- --script-only needs no gnuplot
expect_error "output directory missing" '^rw-plot: .*/s/fig.png: cannot create files in .*/s: No such file or directory$' \
    rw-plot trajectory --script-only -o "$P/s/fig.png" "$tab"
mkdir -p "$P/s"
expect_exit 0 "--script-only without gnuplot" \
    env PATH=/nonexistent "$RW_BIN/rw-plot" trajectory --script-only -o "$P/s/fig.png" "$tab"
check "--script-only: script and data, no figure" \
    test -f "$P/s/fig.gp" -a -f "$P/s/fig.dat" -a ! -e "$P/s/fig.png"

# ---- figures
if [ "$have_gp" -eq 0 ]; then
    skip "gnuplot not installed: figure checks skipped"
else
    for fmt in png pdf svg; do
        d="$P/f-$fmt"
        mkdir -p "$d"
        expect_exit 0 "trajectory $fmt" rw-plot trajectory -o "$d/t.$fmt" "$tab"
        check "trajectory $fmt: silent" test ! -s "$TMP/err"
        expect_exit 0 "heatmap $fmt" rw-plot heatmap --metric cond -o "$d/h.$fmt" "$tab"
        check "heatmap $fmt: silent" test ! -s "$TMP/err"
        check "heatmap $fmt: cells" test -f "$d/h.cells-1-1.png" -a -f "$d/h.cells-2-2.png"
        check "no staging directory left" test -z "$(ls -A "$d" | grep '^\.')"
    done
    check "PNG signature" cmp -s -n 8 "$P/f-png/t.png" <(printf '\211PNG\r\n\032\n')
    check "PDF header" grep -q '^%PDF' "$P/f-pdf/t.pdf"
    check "SVG root" grep -q '<svg' "$P/f-svg/t.svg"
    check "cond heatmap uses a log colour scale" grep -q 'set logscale cb' "$P/f-png/h.gp"
    # the script beside a figure redraws it, byte for byte
    cp "$P/f-png/t.png" "$P/t-first.png"
    (cd "$P/f-png" && gnuplot t.gp) >"$TMP/out" 2>"$TMP/err"
    check "t.gp runs silently" test ! -s "$TMP/err"
    check "t.gp redraws the same PNG" cmp -s "$P/t-first.png" "$P/f-png/t.png"
    # --format with a name that says nothing; --size; the paper's modules
    expect_exit 0 "--format png -o name" rw-plot trajectory --format png --size 700x500 -o "$P/plain" "$tab"
    check "--format png wrote a PNG" cmp -s -n 8 "$P/plain" <(printf '\211PNG\r\n\032\n')
    expect_exit 0 "--modules paper" rw-plot trajectory --modules paper --metric cond -o "$P/paper.png" "$tab"
    check "--modules paper warns about the missing OV rows" grep -q "attention.ov" "$TMP/err"
    # the pipeline on real checkpoints: a Keras MLP's 100 epochs
    if [ -n "$REALDATA" ] && [ -d "$REALDATA/keras-mlp-epochs" ]; then
        expect_exit 0 "rw-metrics on keras-mlp-epochs" rw-metrics -o "$P/keras.tsv" "$REALDATA/keras-mlp-epochs"
        expect_exit 0 "trajectory of real checkpoints" rw-plot trajectory --metric cond -o "$P/keras.png" "$P/keras.tsv"
        check "real trajectory: silent" test ! -s "$TMP/err"
        # its three Dense kernels are single matrices (layer -1): no layer axis
        expect_error "heatmap of real single-matrix modules" "every module selected is a single matrix" \
            rw-plot heatmap -o "$P/keras-h.pdf" "$P/keras.tsv"
    else
        skip "../shared/realdata absent: real-checkpoint figures skipped"
    fi
fi
