# e2e_updates.sh — rw-updates and adapters end to end: updates of a matrix
# whose every step adds a known spectrum, against values computed here from
# the chosen singular values; the ReLoRA fixture's rank-r updates; the
# spectra file round trip for updates.
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

fixture "$TMP/fx" known
# expected: kind step sigma_max nuc fro erank per num_rank rel_update
awk -F'\t' -v OFMT=%.17g -v CONVFMT=%.17g 'NR>1 { key=$1 "\t" $2; if (!(key in k)) order[++n]=key
        k[key]++; s[key, $6]=$7; rf[key]=$8 }
    END { for (j=1;j<=n;j++) { key=order[j]; kk=k[key]; sum=0; sum2=0; nr=0
            for (i=1;i<=kk;i++) { sum+=s[key,i]; sum2+=s[key,i]^2; if (s[key,i]>0) nr++ }
            h=0; for (i=1;i<=kk;i++) { p=s[key,i]/sum; if (p>0) h-=p*log(p) }
            print key "\t" s[key,1] "\t" sum "\t" sqrt(sum2) "\t" exp(h) "\t" exp(h)/kk "\t" nr "\t" sqrt(sum2)/rf[key] } }' \
    "$TMP/fx/known_updates.tsv" >"$TMP/expected.tsv"
check "expected update spectra listed" test "$(wc -l <"$TMP/expected.tsv")" -eq 4

rw-updates --include '*drift*' "$TMP/fx/known" >"$TMP/upd.tsv"
rw-updates --include '*drift*' --from first "$TMP/fx/known" >"$TMP/upd_first.tsv"
check "rw-updates header ends with rel_update" test "$(head -1 "$TMP/upd.tsv" | awk -F'\t' '{print $NF}')" = rel_update
while IFS=$'\t' read -r kind step smax nuc fro er per nr rel; do
    t="$TMP/upd.tsv"; [ "$kind" = update_first ] && t="$TMP/upd_first.tsv"
    row=$(awk -F'\t' -v s="$step" '$2==s' "$t")
    [ -n "$row" ] || { bad "$kind step $step: no row"; continue; }
    for pair in "10 $smax" "20 $nuc" "19 $fro" "15 $er" "16 $per" "13 $nr" "21 $rel"; do
        set -- $pair
        v=$(echo "$row" | cut -f"$1")
        if close_rel "$v" "$2" 1e-9; then ok; else bad "$kind step $step: column $1 is $v, expected $2"; fi
    done
done <"$TMP/expected.tsv"
check "updates start at the second step" test "$(col "$TMP/upd.tsv" step | tr '\n' ' ')" = "1 2 "

# The fixture run pair: ReLoRA's updates have rank r = 8, full-rank's are full rank.
rw-fixture runs -o "$TMP/runs" --layers 2 --steps 1000 --every 100 --cycle 500 >/dev/null 2>&1
rw-updates "$TMP/runs/full-rank" "$TMP/runs/relora" --include '*swiglu.w_2*' >"$TMP/pair.tsv"
check "ReLoRA updates (full component) have num_rank 8" \
    test "$(awk -F'\t' '$1=="relora" && $6=="full" {print $13}' "$TMP/pair.tsv" | sort -u)" = 8
check "full-rank updates have num_rank = min(rows, cols) = 96" \
    test "$(awk -F'\t' '$1=="full-rank" {print $13}' "$TMP/pair.tsv" | sort -u)" = 96
rw-rank "$TMP/runs/relora" --component lora --include '*swiglu.w_2*' >"$TMP/lora.tsv"
check "lora is zero right after each merge (step 0, 500, 1000): per nan" \
    test "$(awk -F'\t' 'NR>1 && $2 % 500 == 0 {print $11}' "$TMP/lora.tsv" | sort -u)" = nan
check "lora between merges has num_rank 8 and per <= 8/96" \
    test -z "$(awk -F'\t' 'NR>1 && $2 % 500 != 0 && ($13 != 8 || $11 > 8/96)' "$TMP/lora.tsv")"
rw-rank "$TMP/runs/relora" --component base,full,lora --include 'layers.0.swiglu.w_2.weight' >"$TMP/comps.tsv"
check "three components of an adapted matrix" test "$(col "$TMP/comps.tsv" component | sort -u | tr '\n' ' ')" = "base full lora "
check "A_lora/B_lora are not reported on their own" test -z "$(grep -E '_lora' "$TMP/comps.tsv")"

# OV needs heads: from attributes here; refused without them.
rw-rank "$TMP/runs/relora" --component ov --include 'layers.1.*' >"$TMP/ov.tsv"
check "ov rows: layers.1.attention.ov, 8 x 96" \
    test "$(awk -F'\t' 'NR>1 {print $3, $7, $8}' "$TMP/ov.tsv" | sort -u)" = "layers.1.attention.ov 8 96"
fixture "$TMP/edge" edge
expect_error "ov without heads" "no-heads.h5: the OV circuit needs --heads and --kv-heads" \
    rw-rank --component ov "$TMP/edge/attention-no-heads.h5"
expect_exit 0 "ov with --heads and --kv-heads" rw-rank --component ov --heads 4 --kv-heads 2 "$TMP/edge/attention-no-heads.h5"
check "ov with flags: 2 x 8" test "$(awk -F'\t' 'NR>1 {print $7, $8}' "$TMP/out")" = "2 8"

# Spectra file: updates stored once, read back identically.
rw-spectra --updates --from-first -o "$TMP/sp.h5" "$TMP/runs/full-rank" "$TMP/runs/relora" 2>/dev/null
rw-updates "$TMP/runs/full-rank" "$TMP/runs/relora" >"$TMP/u1.tsv"
rw-updates "$TMP/sp.h5" >"$TMP/u2.tsv"
check "rw-updates from the spectra file equals from the runs" cmp -s "$TMP/u1.tsv" "$TMP/u2.tsv"
rw-updates --from first "$TMP/runs/full-rank" "$TMP/runs/relora" >"$TMP/f1.tsv"
rw-updates --from first "$TMP/sp.h5" >"$TMP/f2.tsv"
check "rw-updates --from first from the spectra file equals from the runs" cmp -s "$TMP/f1.tsv" "$TMP/f2.tsv"
rw-spectra -o "$TMP/sp_w.h5" "$TMP/runs/relora" 2>/dev/null
expect_error "updates asked of a weights-only spectra file" "no update spectra" rw-updates "$TMP/sp_w.h5"
expect_error "one checkpoint has no update" "one checkpoint" rw-updates "$TMP/runs/relora/step_000100.h5"

# One ReLoRA run saved two ways — HDF5 (flat names, lora_r/lora_alpha
# attributes, gzip-compressed chunked datasets) and safetensors (names
# prefixed pico_decoder., step in the metadata, no LoRA settings) — gives the
# same table for every component, weights and updates.
rw-fixture runs --gzip 4 --layers 2 --steps 600 --cycle 300 -o "$TMP/h5" >/dev/null 2>&1
rw-fixture runs --safetensors --prefix pico_decoder. --layers 2 --steps 600 --cycle 300 -o "$TMP/st" >/dev/null 2>&1
rw-metrics --component all "$TMP/h5/relora" >"$TMP/h5.tsv"
rw-metrics --component all --lora-scale 4 --heads 12 --kv-heads 4 "$TMP/st/relora" >"$TMP/st.tsv"
check "HDF5 and safetensors give the same metrics (all components)" \
    cmp -s "$TMP/h5.tsv" <(sed 's/pico_decoder\.//g' "$TMP/st.tsv")
rw-updates --component all "$TMP/h5/full-rank" "$TMP/h5/relora" >"$TMP/h5u.tsv"
rw-updates --component all --lora-scale 4 --heads 12 --kv-heads 4 "$TMP/st/full-rank" "$TMP/st/relora" >"$TMP/stu.tsv"
check "HDF5 and safetensors give the same updates" \
    cmp -s "$TMP/h5u.tsv" <(sed 's/pico_decoder\.//g' "$TMP/stu.tsv")
check "the safetensors run has 7 steps" test "$(col "$TMP/st.tsv" step | sort -un | wc -l)" -eq 7
rw-rank "$TMP/st/relora/step_000100.safetensors" >/dev/null 2>"$TMP/err"
check "no LoRA scale in a safetensors run: a warning says s = 1" grep -q "using s = 1" "$TMP/err"

# Updates start at the second checkpoint for every component: lora's (s·B·A,
# its cycle's) too, so a ReLoRA run's default update curve is full at every
# step. --from first of lora is s·B·A(step) - s·B·A(first): at step 0 B = 0,
# so it is s·B·A itself (the same spectrum as the weights table's lora row)
# and its rel_update, against a zero matrix, is inf.
rw-updates --component all --include 'layers.0.swiglu.w_2*' "$TMP/runs/relora" >"$TMP/lall.tsv"
check "updates: no row at the first step, of any component" \
    test "$(awk -F'\t' 'NR>1 && $2 == 0' "$TMP/lall.tsv" | wc -l)" -eq 0
rw-updates --include 'layers.0.swiglu.w_2*' "$TMP/runs/relora" >"$TMP/ldef.tsv"
check "updates: the default component is full at every step" \
    test "$(col "$TMP/ldef.tsv" component | sort -u)" = full
rw-updates --from first --component lora --include 'layers.0.swiglu.w_2*' "$TMP/runs/relora" >"$TMP/lff.tsv"
check "--from first: lora rows from the second step on" \
    test "$(col "$TMP/lff.tsv" step | tr '\n' ' ')" = "100 200 300 400 500 600 700 800 900 1000 "
rw-rank --component lora --include 'layers.0.swiglu.w_2*' "$TMP/runs/relora" >"$TMP/lw.tsv"
paste <(awk -F'\t' 'NR>1 && $2 > 0 {print $2 "\t" $11 "\t" $13}' "$TMP/lw.tsv") \
      <(awk -F'\t' 'NR>1 {print $2 "\t" $16 "\t" $13 "\t" $21}' "$TMP/lff.tsv") >"$TMP/lj.tsv"
check "--from first: lora since step 0 (B = 0 there) is s·B·A itself: same steps, num_rank and per" \
    test -z "$(awk -F'\t' '$1 != $4 || $3 != $6 || ($2 == "nan") != ($5 == "nan") ||
        ($2 != "nan" && ($2 - $5 > 1e-9 * $2 || $5 - $2 > 1e-9 * $2))' "$TMP/lj.tsv")"
check "--from first: lora's rel_update against the zero s·B·A of step 0 is inf (nan where both are 0)" \
    test "$(awk -F'\t' '{print ($3 == 0 ? "z" : "n") $7}' "$TMP/lj.tsv" | sort -u | tr '\n' ' ')" = "ninf znan "
(cd "$TMP/runs/relora" && rw-rank . --include '*w_2*') >"$TMP/dot.tsv"
check "a run given as . is labelled by its directory" test "$(col "$TMP/dot.tsv" run | sort -u)" = relora
rw-rank --component all "$TMP/edge/attention-no-heads.h5" >"$TMP/all.tsv"
check "--component all without heads: everything but ov, no error" test "$(col "$TMP/all.tsv" component | sort -u)" = weight
