#!/usr/bin/env bash
# make_corpus.sh — rebuilds the malformed-input corpus in this directory:
# inputs that rankwatch's programs must refuse (exit 1, one line on stderr
# naming the file and what is wrong) or handle (exit 0). EXPECT says, for
# each file, the command to run and what it must do; tests/e2e_malformed.sh
# runs them in `make check`. The files are committed: run this only to
# change the corpus, then check `git diff --stat` and update EXPECT.
#
#   tests/malformed/make_corpus.sh [BIN]    BIN: the programs (default: bin/)
#
# Made from printf, head -c, dd, sed and the outputs of rw-fixture and
# rw-rank; no Python. Names tell the format: st-* safetensors files, idx-*
# sharded-model indexes (beside ok-shard*.safetensors), h5-* HDF5
# checkpoints, spec-* spectra files, pt-* PyTorch files, tab-* tables,
# peft-*/ PEFT adapters with their adapter_config.json. ok-* files are
# well-formed helpers that other cases use; they have no EXPECT line of
# their own.
set -eu
trap 'echo "make_corpus.sh: failed at line $LINENO" >&2' ERR
here=$(cd "$(dirname "$0")" && pwd)
BIN=$(cd "${1:-$here/../../bin}" && pwd)
cd "$here"
find . -mindepth 1 -maxdepth 1 ! -name make_corpus.sh ! -name EXPECT -exec rm -rf {} +
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# ------------------------------------------------------------ safetensors

# st NAME HEADER [DATA]: NAME.safetensors, the 8-byte little-endian length
# of HEADER, HEADER, then DATA through printf (\xHH escapes).
st() {
    local n i le=""
    n=$(printf '%s' "$2" | wc -c)
    for i in 0 1 2 3 4 5 6 7; do le+=$(printf '\\x%02x' $(((n >> (8 * i)) & 255))); done
    { printf "$le"; printf '%s' "$2"; printf "${3:-}"; } >"$1.safetensors"
}
# float32 1, 0, 2, NaN, +Inf (little-endian); W22 is diag(1, 2) in float32.
F1='\x00\x00\x80\x3f' F0='\x00\x00\x00\x00' F2='\x00\x00\x00\x40'
FNAN='\x00\x00\xc0\x7f' FINF='\x00\x00\x80\x7f'
W22="$F1$F0$F0$F2"
w22='"dtype":"F32","shape":[2,2],"data_offsets":[0,16]'

: >st-empty.safetensors
printf 'abcdefg' >st-7-bytes.safetensors
st st-header-length-zero ''
printf '\xe8\x03\x00\x00\x00\x00\x00\x00{}' >st-header-past-end.safetensors
printf '\x01\xe1\xf5\x05\x00\x00\x00\x00{}' >st-header-over-limit.safetensors
st st-header-not-utf8 "{\"a$(printf '\xff\xfe')\":{$w22}}" "$W22"
printf '\x09\x00\x00\x00\x00\x00\x00\x00{"a":\x00 1}' >st-header-nul.safetensors
st st-not-json '{"a": {"dtype": F32}}'
st st-json-array '[{"dtype":"F32"}]'
st st-json-string '"layers.0.w"'
st st-trailing-text "{\"a\":{$w22}} x" "$W22"
st st-deep-nesting "{\"a\":$(printf '%.0s[' $(seq 2000))$(printf '%.0s]' $(seq 2000))}"
st st-entry-not-object '{"a":[2,2]}'
st st-dtype-missing '{"a":{"shape":[2,2],"data_offsets":[0,16]}}' "$W22"
st st-dtype-number '{"a":{"dtype":32,"shape":[2,2],"data_offsets":[0,16]}}' "$W22"
st st-dtype-unknown '{"a":{"dtype":"F12","shape":[2,2],"data_offsets":[0,16]}}' "$W22"
st st-shape-missing '{"a":{"dtype":"F32","data_offsets":[0,16]}}' "$W22"
st st-shape-not-array '{"a":{"dtype":"F32","shape":4,"data_offsets":[0,16]}}' "$W22"
st st-shape-negative '{"a":{"dtype":"F32","shape":[-2,-2],"data_offsets":[0,16]}}' "$W22"
st st-shape-fraction '{"a":{"dtype":"F32","shape":[2,2.5],"data_offsets":[0,16]}}' "$W22"
st st-shape-string '{"a":{"dtype":"F32","shape":["2",2],"data_offsets":[0,16]}}' "$W22"
st st-shape-overflow '{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}' "$W22"
st st-shape-dim-huge '{"a":{"dtype":"F32","shape":[1e300,1],"data_offsets":[0,16]}}' "$W22"
st st-shape-rank9 '{"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,2,2],"data_offsets":[0,16]}}' "$W22"
st st-shape-mismatch '{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}}' "$W22"
st st-offsets-missing '{"a":{"dtype":"F32","shape":[2,2]}}' "$W22"
st st-offsets-three '{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8,16]}}' "$W22"
st st-offsets-negative '{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[-16,0]}}' "$W22"
st st-offsets-string '{"a":{"dtype":"F32","shape":[2,2],"data_offsets":["0","16"]}}' "$W22"
st st-offsets-reversed '{"a":{"dtype":"F32","shape":[0],"data_offsets":[16,0]}}' "$W22"
st st-offsets-out-of-range '{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[16,32]}}' "$W22"
st st-offsets-overlap "{\"a\":{$w22},\"b\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}}" "$W22$W22"
st st-duplicate-name "{\"a\":{$w22},\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,32]}}" "$W22$W22"
st st-data-truncated "{\"a\":{$w22},\"b\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,32]}}" "$W22$F1"
st st-meta-number "{\"__metadata__\":{\"step\":1500},\"a\":{$w22}}" "$W22"
st st-meta-null "{\"__metadata__\":{\"run\":null},\"a\":{$w22}}" "$W22"
st st-meta-object "{\"__metadata__\":{\"run\":{\"name\":\"x\"}},\"a\":{$w22}}" "$W22"
st st-meta-not-object "{\"__metadata__\":[\"step\",\"1500\"],\"a\":{$w22}}" "$W22"
st st-step-not-integer "{\"__metadata__\":{\"step\":\"abc\"},\"a\":{$w22}}" "$W22"
st st-step-negative "{\"__metadata__\":{\"step\":\"-5\"},\"a\":{$w22}}" "$W22"
st st-step-fraction "{\"__metadata__\":{\"step\":\"1.5\"},\"a\":{$w22}}" "$W22"
st st-no-tensors '{}'
st st-int-only '{"a":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}' "$W22"
st st-nan-inf "{\"layers.0.w\":{$w22}}" "$F1$FNAN$FINF$F2"

# ------------------------------------------------ sharded-model indexes

# Two good shards: layers.0.w in the first, layers.1.w and layers.2.w in
# the second.
st ok-shard1 "{\"layers.0.w\":{$w22}}" "$W22"
st ok-shard2 "{\"layers.1.w\":{$w22},\"layers.2.w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,32]}}" "$W22$W22"
idx() { printf '%s' "$2" >"$1.safetensors.index.json"; }
S1='"ok-shard1.safetensors"' S2='"ok-shard2.safetensors"'
idx idx-empty ''
idx idx-not-json '{"weight_map": {"layers.0.w": '
idx idx-not-utf8 "{\"weight_map\":{\"layers.0.w\":\"ok-shard1$(printf '\xff').safetensors\"}}"
idx idx-array "[$S1]"
idx idx-no-weight-map '{"metadata":{"total_size":16}}'
idx idx-weight-map-array "{\"weight_map\":[$S1]}"
idx idx-weight-map-empty '{"weight_map":{}}'
idx idx-shard-number '{"weight_map":{"layers.0.w":1}}'
idx idx-missing-shard "{\"weight_map\":{\"layers.0.w\":$S1,\"layers.1.w\":\"model-00002-of-00002.safetensors\"}}"
idx idx-shard-dotdot '{"weight_map":{"layers.0.w":"../malformed/ok-shard1.safetensors"}}'
idx idx-shard-absolute '{"weight_map":{"layers.0.w":"/etc/passwd"}}'
idx idx-shard-is-index '{"weight_map":{"layers.0.w":"idx-shard-is-index.safetensors.index.json"}}'
idx idx-shard-malformed '{"weight_map":{"layers.0.w":"st-offsets-overlap.safetensors"}}'
idx idx-wrong-shard "{\"weight_map\":{\"layers.0.w\":$S2,\"layers.1.w\":$S2,\"layers.2.w\":$S2}}"
idx idx-tensor-unlisted "{\"weight_map\":{\"layers.1.w\":$S2}}"
idx idx-tensor-duplicate "{\"weight_map\":{\"layers.0.w\":$S1,\"layers.0.w\":$S1}}"

# ------------------------------------------------------------------ HDF5

"$BIN/rw-fixture" edge -o "$scratch/edge" >/dev/null
good="$scratch/edge/attention-no-heads.h5"   # 2 datasets, 2432 bytes
: >h5-empty.h5
head -c 7 "$good" >h5-7-bytes.h5
{ printf 'x'; tail -c +2 "$good"; } >h5-bad-signature.h5
printf 'step\tlayers.0.w\n0\t1\n' >h5-text.h5
for n in 8 512 1200 2000 2431; do head -c "$n" "$good" >"h5-truncated-$n.h5"; done
# 16 bytes of 0xff over the root group's symbol table, over the first
# dataset's object header, and over values of the first dataset (NaN).
for at in 700 800 2100; do
    cp "$good" "h5-corrupt-$at.h5"
    printf '\xff%.0s' $(seq 16) | dd of="h5-corrupt-$at.h5" bs=1 seek="$at" conv=notrunc 2>/dev/null
done
cp "$scratch/edge/nan.h5" h5-nan-inf.h5
# Well-formed HDF5 that h5write's checkpoints cannot express byte by byte:
# ranks 0, 3, 5, 9, integer and unknown float types, a 0x8 dataset, an
# unwritten 30000x30000 one, malformed step attributes, a duplicate step;
# and the spectra files (spec-*.h5); the PyTorch files (pt-*.pt, see
# fixtures/malformed.h), whose pickles are built opcode by opcode.
"$BIN/rw-fixture" malformed -o . >/dev/null
{ head -c 2000 spec-ok.h5; } >spec-truncated.h5
# Version-1 spectra files whose global heap crashed or hung libhdf5 (the
# fuzzing's inputs, tests/fuzz/libhdf5/): refused by their version now.
for f in spectra-hg-loop spectra-hg-read-overlap; do cp "../fuzz/libhdf5/$f.h5" "v1-$f.h5"; done

# ---------------------------------------------------------------- tables

# A good per-layer table: rank metrics of two layers at three steps.
"$BIN/rw-fixture" known -o "$scratch/known" >/dev/null
"$BIN/rw-rank" --include '*.rank1.weight' -o ok-table.tsv "$scratch/known/known"
hdr=$(head -n 1 ok-table.tsv)
row=$(sed -n 2p ok-table.tsv)
# col N VALUE: ok-table.tsv's rows with column N set to VALUE in row 2.
col() { awk -F'\t' -v OFS='\t' -v n="$1" -v v="$2" 'NR==2{$n=v} {print}' ok-table.tsv; }

: >tab-empty.tsv
printf '%s\n' "$hdr" >tab-header-only.tsv
cut -f1-4,6- ok-table.tsv >tab-no-module.tsv
cut -f1,3- ok-table.tsv >tab-no-step.tsv
cut -f1-9 ok-table.tsv >tab-no-metrics.tsv
{ head -n 3 ok-table.tsv; printf '%s\n' "$row" | cut -f1-5; } >tab-ragged.tsv
{ head -n 3 ok-table.tsv; printf '%s\tx\n' "$row"; } >tab-extra-field.tsv
col 11 abc >tab-metric-text.tsv
col 2 abc >tab-step-text.tsv
col 2 1e400 >tab-step-huge.tsv
{ printf '%s\n' "$hdr" | awk -F'\t' -v OFS='\t' '{$11="erank"; print}'; tail -n +2 ok-table.tsv; } >tab-duplicate-header.tsv
{ cat ok-table.tsv; printf '%s\n' "$row"; } >tab-duplicate-row.tsv
{ cat ok-table.tsv; printf '%s\n' "$row" | awk -F'\t' -v OFS='\t' '{$11=0.5; print}'; } >tab-conflicting-rows.tsv
col 3 "layers.0.$(printf 'x%.0s' $(seq 8000)).weight" >tab-huge-field.tsv
sed 's/$/\r/' ok-table.tsv >tab-crlf.tsv
col 5 "attention.rank1$(printf '\xff\xfe').weight" >tab-not-utf8.tsv
{ printf '%s\n' "$hdr"; printf '%s' "$row" | tr '\t' ','; printf '\n'; } >tab-wrong-separator.tsv
tr '\t' ',' <ok-table.tsv | sed '2s/^known,/"known,/' >tab-unterminated-quote.csv
# Long spectra tables (rw-plot spectrum): one column missing, i not a count.
printf 'run\tstep\ttensor\tlayer\tmodule\tcomponent\ti\tsigma\n' >ok-spectrum.tsv
printf 'r\t0\tlayers.0.w\t0\tw\tweight\t%s\t%s\n' 1 2 2 1 >>ok-spectrum.tsv
cut -f1-7 ok-spectrum.tsv >tab-spectrum-no-sigma.tsv
sed '2s/\t1\t2$/\tone\t2/' ok-spectrum.tsv >tab-spectrum-i-text.tsv
sed '3s/\t2\t1$/\t1\t1/' ok-spectrum.tsv >tab-spectrum-i-twice.tsv
sed '3s/\t1$/\t-1/' ok-spectrum.tsv >tab-spectrum-negative.tsv

# ---------------------------------------------------------- PEFT adapters

# An adapter-only checkpoint (A 1x2, B 2x1) and a broken adapter_config.json
# beside it in each peft-*/.
peft() {
    mkdir -p "$1"
    (cd "$1" && st ok-adapter_model '{"layers.0.q.lora_A.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"layers.0.q.lora_B.weight":{"dtype":"F32","shape":[2,1],"data_offsets":[8,16]}}' "$F1$F0$F1$F1")
    printf '%s' "$2" >"$1/adapter_config.json"
}
peft peft-not-json '{"r": 8, "lora_alpha": '
peft peft-array '[8, 16]'
peft peft-alpha-string '{"r": 8, "lora_alpha": "16"}'
peft peft-alpha-missing '{"r": 8, "peft_type": "LORA"}'
peft peft-r-zero '{"r": 0, "lora_alpha": 16}'
peft peft-r-negative '{"r": -8, "lora_alpha": 16}'
peft peft-r-string '{"r": "8", "lora_alpha": 16}'
