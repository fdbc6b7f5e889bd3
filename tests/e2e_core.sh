# e2e_core.sh — rw-ls, rw-rank, rw-cond, rw-metrics and rw-spectra end to end:
# metrics of matrices with chosen singular values against values computed
# here (awk, from the chosen values, not by the programs), table layout,
# spectra-file round trip, bad input, and real Keras checkpoints.
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

fixture "$TMP/fx" known
check "rw-fixture known writes its run" test -f "$TMP/fx/known/step_000002.h5"

rw-metrics "$TMP/fx/known" -o "$TMP/metrics.tsv"
check "rw-metrics on the known run exits 0" test -s "$TMP/metrics.tsv"

# Expected metrics from the chosen spectra (DESIGN.md's definitions).
awk -F'\t' -v OFMT=%.17g -v CONVFMT=%.17g 'NR>1 { key=$1 "\t" $2; if (!(key in k)) { order[++n]=key }
        k[key]++; s[key, $5]=$6; rows[key]=$3; cols[key]=$4 }
    END { for (j=1;j<=n;j++) { key=order[j]; kk=k[key]; sum=0; sum2=0
            for (i=1;i<=kk;i++) { sum+=s[key,i]; sum2+=s[key,i]^2 }
            smax=s[key,1]; smin=s[key,kk]; nr=0
            for (i=1;i<=kk;i++) if (s[key,i] > 0) nr++
            if (smax==0) { print key "\t" 0 "\t" 0 "\tnan\tnan\tnan\tnan\tnan\t" nr "\tnan\tnan"; continue }
            h=0; hq=0
            for (i=1;i<=kk;i++) { p=s[key,i]/sum; q=s[key,i]^2/sum2
                if (p>0) h-=p*log(p); if (q>0) hq-=q*log(q) }
            er=exp(h); ent=(kk>1)? hq/log(kk) : "nan"
            cond=(smin>0)? smax/smin : "inf"
            print key "\t" smax "\t" sum "\t" sqrt(sum2) "\t" er "\t" er/kk "\t" sum2/smax^2 "\t" ent "\t" nr "\t" cond "\t" smax/s[key,nr] } }' \
    "$TMP/fx/known_sigma.tsv" >"$TMP/expected.tsv"

# Compare: columns of expected are step tensor sigma_max nuc fro erank per
# stable_rank entropy num_rank cond cond_rank.
n_checked=0
while IFS=$'\t' read -r step tensor smax nuc fro er per sr ent nr cond condr; do
    row=$(awk -F'\t' -v s="$step" -v t="$tensor" '$2==s && $3==t' "$TMP/metrics.tsv")
    [ -n "$row" ] || { bad "no row for step $step $tensor"; continue; }
    [[ $row != *$'\n'* ]] || { bad "more than one row for step $step $tensor"; continue; }
    # The row's fields, f[N] as `cut -fN` numbers them (no fork per field).
    mapfile -t f <<<$'\n'"${row//$'\t'/$'\n'}"
    # metrics columns: 10 sigma_max 11 sigma_min 12 cond 13 num_rank 14 cond_rank
    # 15 erank 16 per 17 stable_rank 18 entropy 19 fro 20 nuc
    if [ "$smax" = 0 ]; then
        for c in 12 14 15 16 17 18; do
            [ "${f[c]-}" = nan ] || bad "$tensor step $step: column $c is ${f[c]-}, expected nan (zero matrix)"
        done
        [ "${f[13]-}" = 0 ] || bad "$tensor: num_rank of the zero matrix is ${f[13]-}"
        [ "${f[10]-}" = 0 ] || bad "$tensor: sigma_max of the zero matrix is ${f[10]-}"
        n_checked=$((n_checked + 1))
        continue
    fi
    for pair in "10 $smax" "20 $nuc" "19 $fro" "15 $er" "16 $per" "17 $sr" "13 $nr" "14 $condr"; do
        set -- $pair
        close_rel "${f[$1]-}" "$2" 1e-9 || bad "$tensor step $step: column $1 is ${f[$1]-}, expected $2"
    done
    if [ "$ent" = nan ]; then [ "${f[18]-}" = nan ] || bad "$tensor: entropy ${f[18]-}, expected nan (k = 1)"
    else close_tol "${f[18]-}" "$ent" 1e-9 1e-12 || bad "$tensor step $step: entropy ${f[18]-}, expected $ent"; fi
    # cond where the smallest chosen value is not zero (else round-off sets it)
    if [ "$cond" != inf ]; then
        close_rel "${f[12]-}" "$cond" 1e-6 || bad "$tensor step $step: cond ${f[12]-}, expected $cond"
    fi
    n_checked=$((n_checked + 1))
done <"$TMP/expected.tsv"
[ "$n_checked" -eq 30 ] && ok || bad "checked $n_checked matrices of the known run, expected 30"

# The table: exact header, sorted rows, 1-D and integer tensors skipped.
check "rw-metrics header" test "$(head -1 "$TMP/metrics.tsv")" = \
    "$(printf 'run\tstep\ttensor\tlayer\tmodule\tcomponent\trows\tcols\tdtype\tsigma_max\tsigma_min\tcond\tnum_rank\tcond_rank\terank\tper\tstable_rank\tentropy\tfro\tnuc\tgini\thoyer\tmax_abs')"
check "rows sorted by run, step, tensor" \
    cmp -s <(tail -n +2 "$TMP/metrics.tsv" | cut -f1-3) <(tail -n +2 "$TMP/metrics.tsv" | cut -f1-3 | sort -t$'\t' -k1,1 -k2,2n -k3,3)
check "no 1-D or integer rows" test -z "$(grep -E 'bias|index' "$TMP/metrics.tsv")"
check "conv kernel matricized 4x6" grep -qP '\tlayers.3.conv.weight\t3\tconv.weight\tweight\t4\t6\t' "$TMP/metrics.tsv"

# rw-rank and rw-cond, no flags: their own columns, same numbers.
rw-rank "$TMP/fx/known" >"$TMP/rank.tsv"
check "rw-rank columns" test "$(head -1 "$TMP/rank.tsv" | cut -f10-)" = "$(printf 'erank\tper\tstable_rank\tnum_rank\tentropy')"
check "rw-rank per equals rw-metrics per" cmp -s <(col "$TMP/rank.tsv" per) <(col "$TMP/metrics.tsv" per)
rw-cond "$TMP/fx/known" >"$TMP/cond.tsv"
check "rw-cond columns" test "$(head -1 "$TMP/cond.tsv" | cut -f10-)" = "$(printf 'sigma_max\tsigma_min\tcond\tcond_rank')"
check "rw-cond cond equals rw-metrics cond" cmp -s <(col "$TMP/cond.tsv" cond) <(col "$TMP/metrics.tsv" cond)

# Two runs of a program on the same input: byte-identical output.
rw-rank "$TMP/fx/known" >"$TMP/rank2.tsv"
check "deterministic output" cmp -s "$TMP/rank.tsv" "$TMP/rank2.tsv"

# Spectra file round trip: the same table from the file as from the run.
expect_exit 0 "rw-spectra writes a spectra file" rw-spectra "$TMP/fx/known" -o "$TMP/spectra.h5"
rw-rank "$TMP/spectra.h5" >"$TMP/rank_from_spectra.tsv"
check "rw-rank from the spectra file equals rw-rank from the run" cmp -s "$TMP/rank.tsv" "$TMP/rank_from_spectra.tsv"
rw-cond --include '*rank1*' "$TMP/spectra.h5" >"$TMP/cond_sel.tsv"
check "selection on a spectra file" test "$(tail -n +2 "$TMP/cond_sel.tsv" | wc -l)" -eq 6

# -o naming a stream writes to it in place (and leaves the device alone);
# a spectra file needs a real file; a directory is refused.
rw-rank -o /dev/stdout "$TMP/fx/known" >"$TMP/rank_stdout.tsv"
check "-o /dev/stdout writes the table to stdout" cmp -s "$TMP/rank.tsv" "$TMP/rank_stdout.tsv"
check "-o /dev/stdout leaves /dev/stdout a link" test -L /dev/stdout -o -c /dev/stdout
{ echo before; rw-rank -o /dev/stdout "$TMP/fx/known"; } >"$TMP/rank_after.tsv"
check "-o /dev/stdout keeps what the shell wrote before" test "$(head -1 "$TMP/rank_after.tsv")" = before
ln -s rank_target.tsv "$TMP/rank_link.tsv"
rw-rank -o "$TMP/rank_link.tsv" "$TMP/fx/known"
check "-o a symlink replaces its target and keeps the link" \
    sh -c "test -L '$TMP/rank_link.tsv' && cmp -s '$TMP/rank.tsv' '$TMP/rank_target.tsv'"
mkfifo "$TMP/fifo"
(cat "$TMP/fifo" >"$TMP/rank_fifo.tsv") &
rw-rank -o "$TMP/fifo" "$TMP/fx/known"
wait
check "-o FIFO writes through the FIFO" cmp -s "$TMP/rank.tsv" "$TMP/rank_fifo.tsv"
check "-o FIFO leaves the FIFO" test -p "$TMP/fifo"
mkfifo "$TMP/fifo.h5"
expect_error "spectra file to a stream" "fifo.h5: not a regular file" timeout 20 rw-spectra -o "$TMP/fifo.h5" "$TMP/fx/known"
expect_error "-o a directory" "is a directory" rw-rank -o "$TMP" "$TMP/fx/known"

# Formats carry the same columns.
rw-rank --format csv "$TMP/fx/known" >"$TMP/rank.csv"
check "csv has the same rows" test "$(wc -l <"$TMP/rank.csv")" -eq "$(wc -l <"$TMP/rank.tsv")"
rw-rank --format json --include 'zero.weight' "$TMP/fx/known" >"$TMP/rank.json"
check "json spells nan as a string" grep -q '"per": "nan"' "$TMP/rank.json"
rw-rank --format md --include '*identity*' "$TMP/fx/known" >"$TMP/rank.md"
check "markdown table" grep -q '^| run | step | tensor |' "$TMP/rank.md"

# Labels.
rw-rank mine="$TMP/fx/known" --include '*identity*' >"$TMP/lab.tsv"
check "NAME=RUN labels the run" test "$(col "$TMP/lab.tsv" run | sort -u)" = mine

# --help, --version, usage errors.
expect_exit 0 "--help exits 0" rw-rank --help
check "--help prints usage on stdout" grep -q '^Usage: rw-rank' "$TMP/out"
expect_exit 0 "--version exits 0" rw-cond --version
expect_exit 2 "unknown option exits 2" rw-rank --bogus "$TMP/fx/known"
expect_exit 2 "no run exits 2" rw-rank
expect_exit 2 "bad --format exits 2" rw-rank --format xml "$TMP/fx/known"

# Bad input: one line on stderr naming the file, exit 1, no output file.
mkdir -p "$TMP/bad/empty" "$TMP/bad/mixed" "$TMP/bad/oned"
printf 'not hdf5\n' >"$TMP/bad/junk.h5"
head -c 3000 "$TMP/fx/known/step_000001.h5" >"$TMP/bad/trunc.h5"
expect_error "missing file" "nope.h5: No such file" rw-rank "$TMP/bad/nope.h5" -o "$TMP/bad/o1.tsv"
check "no output after a missing file" test ! -e "$TMP/bad/o1.tsv"
expect_error "non-HDF5 file" "junk.h5: not an HDF5 file" rw-rank "$TMP/bad/junk.h5" -o "$TMP/bad/o2.tsv"
expect_error "truncated HDF5" "trunc.h5: " rw-cond "$TMP/bad/trunc.h5" -o "$TMP/bad/o3.tsv"
expect_error "empty directory" "empty: no checkpoints" rw-rank "$TMP/bad/empty" -o "$TMP/bad/o4.tsv"
# A spectra file in a run's folder (a cache kept beside the checkpoints,
# analyze.sh's OUT) is not a checkpoint: left out of the run, and a folder
# holding only one says to give it alone.
mkdir -p "$TMP/besides/run"
cp "$TMP/fx/known/"step_00000[01].h5 "$TMP/besides/run/"
rw-spectra -o "$TMP/besides/run/spectra.h5" "$TMP/besides/run" 2>/dev/null
expect_exit 0 "rw-spectra again, its spectra file inside the run's folder" \
    rw-spectra -o "$TMP/besides/run/spectra.h5" "$TMP/besides/run"
check "a spectra file inside the run's folder is not one of its checkpoints (both reused)" \
    grep -q "2 checkpoints: 0 decomposed, 2 reused" "$TMP/err"
expect_exit 0 "rw-rank of a folder holding a spectra file" rw-rank "$TMP/besides/run" -o "$TMP/besides/r.tsv"
check "the spectra file is not read as a checkpoint: steps 0 and 1 only" \
    test "$(col "$TMP/besides/r.tsv" step | sort -u | tr '\n' ' ')" = "0 1 "
mkdir -p "$TMP/besides/out"
mv "$TMP/besides/run/spectra.h5" "$TMP/besides/out/"
expect_error "a folder holding only a spectra file" \
    "out: no checkpoints in it or one level down, only the spectra file .*out/spectra.h5 \(give it alone" \
    rw-ls "$TMP/besides/out"
fixture "$TMP/edge" edge
expect_error "1-D-only checkpoint" "vectors-only.h5: no matrix to analyse" rw-rank "$TMP/edge/vectors-only.h5" -o "$TMP/bad/o5.tsv"
expect_error "shape changes across steps" "step_000100.h5: layers.0.mlp.weight: shape 6x8 differs from 4x8 at step 0" \
    rw-cond "$TMP/edge/mixed-shapes" -o "$TMP/bad/o6.tsv"
expect_error "selection matching nothing" "no matrix matches the selection" rw-rank --include 'nothing*' "$TMP/fx/known"
check "no output file or temporary left after failures" test -z "$(ls -A "$TMP/bad" | grep -vE '^(empty|mixed|oned|junk.h5|trunc.h5)$')"

# NaN/Inf in the weights: a warning naming file and tensor, nan metrics, exit 0.
expect_exit 0 "NaN weights are not fatal" rw-rank "$TMP/edge/nan.h5" -o "$TMP/nan.tsv"
check "NaN weights: warning names file and tensor" grep -q "nan.h5: layers.0.mlp.weight: non-finite value" "$TMP/err"
check "NaN weights: nan metrics" test "$(awk -F'\t' '$3=="layers.0.mlp.weight"{print $11}' "$TMP/nan.tsv")" = nan

# Real checkpoints written by Keras.
if [ -n "$REALDATA" ] && [ -d "$REALDATA/keras-mlp-epochs" ]; then
    expect_exit 0 "rw-ls reads a Keras epoch run" rw-ls "$REALDATA/keras-mlp-epochs"
    check "Keras run: 100 steps" test "$(col "$TMP/out" step | sort -un | wc -l)" -eq 100
    rw-rank "$REALDATA/keras-mlp-epochs" >"$TMP/keras.tsv" 2>"$TMP/err"
    check "Keras run: three kernels a step" test "$(tail -n +2 "$TMP/keras.tsv" | wc -l)" -eq 300
    check "Keras names kept as they are" grep -qP '\tdense_3.dense_3.kernel:0\t-1\tdense_3.dense_3.kernel:0\t' "$TMP/keras.tsv"
    for f in "$REALDATA"/keras-models/*.h5; do
        expect_exit 0 "rw-ls reads $(basename "$f")" rw-ls "$f"
        expect_exit 0 "rw-rank reads $(basename "$f")" rw-rank "$f"
    done
    rw-ls "$REALDATA/keras-models/KERAS_conv1d_weights.h5" >"$TMP/conv.tsv"
    check "Conv1D 3-D kernels are listed as matrices" \
        test -n "$(awk -F'\t' '$7 ~ /x.*x/ && $11=="matrix"' "$TMP/conv.tsv")"
else
    skip "real Keras checkpoints: ../shared/realdata is absent"
fi

# -j N: the same bytes whatever N is (tables and spectra files).
rw-fixture runs -o "$TMP/jruns" --layers 2 --steps 400 --cycle 200 >/dev/null 2>&1
rw-metrics -j 1 --component all "$TMP/jruns/full-rank" "$TMP/jruns/relora" >"$TMP/j1.tsv"
rw-metrics -j 2 --component all "$TMP/jruns/full-rank" "$TMP/jruns/relora" >"$TMP/j2.tsv"
rw-metrics -j 5 --component all "$TMP/jruns/full-rank" "$TMP/jruns/relora" >"$TMP/j5.tsv"
check "-j 1, -j 2 and -j 5 give byte-identical tables" sh -c "cmp -s '$TMP/j1.tsv' '$TMP/j2.tsv' && cmp -s '$TMP/j1.tsv' '$TMP/j5.tsv'"
rw-spectra -j 1 --updates -o "$TMP/s1.h5" "$TMP/jruns/relora" 2>/dev/null
rw-spectra -j 3 --updates -o "$TMP/s3.h5" "$TMP/jruns/relora" 2>/dev/null
check "-j 1 and -j 3 give byte-identical spectra files" cmp -s "$TMP/s1.h5" "$TMP/s3.h5"
expect_exit 2 "-j 0 is a usage error" rw-rank -j 0 "$TMP/jruns/relora"

# The spectra file as a cache: a second run decomposes nothing; a changed
# checkpoint is decomposed again, with the update that depends on it.
rw-spectra --updates -o "$TMP/cache.h5" "$TMP/jruns/full-rank" "$TMP/jruns/relora" 2>"$TMP/err1"
check "first run: no reuse line" test ! -s "$TMP/err1"
rw-updates "$TMP/cache.h5" >"$TMP/cache_u1.tsv"
rw-spectra --updates -o "$TMP/cache.h5" "$TMP/jruns/full-rank" "$TMP/jruns/relora" 2>"$TMP/err2"
check "second run: every checkpoint reused" grep -q "10 checkpoints: 0 decomposed, 10 reused" "$TMP/err2"
rw-updates "$TMP/cache.h5" >"$TMP/cache_u2.tsv"
check "reused spectra give the same table" cmp -s "$TMP/cache_u1.tsv" "$TMP/cache_u2.tsv"
touch "$TMP/jruns/relora/step_000200.h5"
rw-spectra --updates -o "$TMP/cache.h5" "$TMP/jruns/full-rank" "$TMP/jruns/relora" 2>"$TMP/err3"
check "a touched checkpoint and its successor are decomposed again" grep -q "10 checkpoints: 2 decomposed, 8 reused" "$TMP/err3"
rw-spectra -o "$TMP/cache.h5" "$TMP/jruns/full-rank" "$TMP/jruns/relora" 2>"$TMP/err4"
check "other options: no reuse, and it says why" \
    grep -q "cache.h5: written with other options (updates 1 -> 0): every checkpoint is decomposed again" "$TMP/err4"
check "other options: nothing reused" sh -c "! grep -q reused '$TMP/err4'"

# Spectra as data: the long table, from runs and from a spectra file.
rw-spectra -o "$TMP/long.tsv" "$TMP/fx/known"
check "long table header" test "$(head -1 "$TMP/long.tsv")" = "$(printf 'run\tstep\ttensor\tlayer\tmodule\tcomponent\tkind\ti\tsigma')"
n_sig=0
while IFS=$'\t' read -r step tensor rows cols i sigma; do
    got=$(awk -F'\t' -v s="$step" -v t="$tensor" -v i="$i" '$2==s && $3==t && $8==i {print $9}' "$TMP/long.tsv")
    if [ "$sigma" = 0 ]; then
        close_tol "$got" 0 0 1e-13 || bad "long table: $tensor step $step sigma_$i = $got, expected 0"
    else
        # relative 1e-12, or LAPACK's absolute accuracy (~1e-16 sigma_max) for tiny ones
        close_tol "$got" "$sigma" 1e-12 1e-14 || bad "long table: $tensor step $step sigma_$i = $got, expected $sigma"
    fi
    n_sig=$((n_sig + 1))
done < <(tail -n +2 "$TMP/fx/known_sigma.tsv")
check "every chosen singular value checked in the long table ($n_sig)" test "$n_sig" -eq "$(($(wc -l <"$TMP/long.tsv") - 1))"
rw-spectra -o "$TMP/long2.tsv" "$TMP/spectra.h5"
check "a spectra file converts to the same long table" cmp -s "$TMP/long.tsv" "$TMP/long2.tsv"
