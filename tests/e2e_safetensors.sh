# e2e_safetensors.sh — rw-ls and rw-rank on safetensors files written here
# byte by byte (good, sharded, malformed), and on the real GPT-2 LoRA run when
# ../shared/realdata exists. Sourced by tests/e2e.sh (helpers: e2e_lib.sh).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

# st_file PATH HEADER [DATA]: a safetensors file: the 8-byte little-endian
# length of HEADER, HEADER, then DATA written through printf (\xHH escapes).
st_file() {
    local n i le=""
    n=$(printf '%s' "$2" | wc -c)
    for i in 0 1 2 3 4 5 6 7; do le+=$(printf '\\x%02x' $(((n >> (8 * i)) & 255))); done
    { printf "$le"; printf '%s' "$2"; [ -n "${3:-}" ] && printf "$3"; } >"$1"
}

# float32 3, 4, 0 and float16 1, -2, little-endian
F3='\x00\x00\x40\x40' F4='\x00\x00\x80\x40' F0='\x00\x00\x00\x00'
H1='\x00\x3c' HM2='\x00\xc0'

# A good file: W = [[3,0,0],[0,4,0]] (float32, singular values 4, 3), an
# f16 diag(1, -2) (singular values 2, 1), a bias, an int tensor, metadata.
good="$TMP/good.safetensors"
st_file "$good" '{"__metadata__":{"step":"1500","run":"strun"},"layers.0.attn.w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"layers.0.mlp.h":{"dtype":"F16","shape":[2,2],"data_offsets":[24,32]},"norm.bias":{"dtype":"F32","shape":[2],"data_offsets":[32,40]},"ids":{"dtype":"I32","shape":[1],"data_offsets":[40,44]}}' \
    "$F3$F0$F0$F0$F4$F0$H1\x00\x00\x00\x00$HM2$F3$F4\x07\x00\x00\x00"

expect_exit 0 "rw-ls on a safetensors file" rw-ls "$good"
cp "$TMP/out" "$TMP/ls.tsv"
check "rw-ls lists 4 tensors" [ "$(($(wc -l <"$TMP/ls.tsv") - 1))" -eq 4 ]
check "rw-ls: step from __metadata__" [ "$(col "$TMP/ls.tsv" step | sort -u)" = 1500 ]
check "rw-ls: run label from __metadata__" [ "$(col "$TMP/ls.tsv" run | sort -u)" = strun ]
check "rw-ls: f16 dtype and shape" grep -qP '\tlayers\.0\.mlp\.h\t0\tmlp\.h\t2x2\tfloat16\t2\t2\tmatrix\t\t\t$' "$TMP/ls.tsv"
check "rw-ls: int tensor listed, not analysed" grep -qP '\tids\t-1\tids\t1\tint\t\t\tinteger\t\t\t$' "$TMP/ls.tsv"

expect_exit 0 "rw-rank on a safetensors file" rw-rank -o "$TMP/rank.tsv" "$good"
check "rw-rank -o writes the table" [ -s "$TMP/rank.tsv" ]
check "rw-rank: two matrices" [ "$(($(wc -l <"$TMP/rank.tsv") - 1))" -eq 2 ]
sr=$(awk -F'\t' '$3=="layers.0.attn.w"{print $12}' "$TMP/rank.tsv")
check "rw-rank: stable_rank of diag(3,4) is 25/16 ($sr)" close_rel "$sr" 1.5625 1e-12
per=$(awk -F'\t' '$3=="layers.0.attn.w"{print $11}' "$TMP/rank.tsv")
want=$(awk 'BEGIN{p=4/7; q=3/7; printf "%.17g", exp(-(p*log(p)+q*log(q)))/2}')
check "rw-rank: per of diag(3,4) ($per vs $want)" close_rel "$per" "$want" 1e-12
sr=$(awk -F'\t' '$3=="layers.0.mlp.h"{print $12}' "$TMP/rank.tsv")
check "rw-rank: f16 diag(1,-2) decoded exactly, stable_rank 5/4 ($sr)" close_rel "$sr" 1.25 1e-15
check "rw-rank: dtype column says float16" grep -qP '\tlayers\.0\.mlp\.h\t.*\tfloat16\t' "$TMP/rank.tsv"

# A sharded model inside a run directory: one checkpoint, its shards none.
sh="$TMP/shardrun/checkpoint-200"
mkdir -p "$sh"
st_file "$sh/model-00001-of-00002.safetensors" '{"layers.0.attn.w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}' "$F3$F0$F0$F0$F4$F0"
st_file "$sh/model-00002-of-00002.safetensors" '{"layers.1.attn.w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}' "$F4$F0$F0$F0$F3$F0"
printf '{"metadata":{"total_size":48},"weight_map":{"layers.0.attn.w":"model-00001-of-00002.safetensors","layers.1.attn.w":"model-00002-of-00002.safetensors"}}' \
    >"$sh/model.safetensors.index.json"
expect_exit 0 "rw-ls on a run of a sharded model" rw-ls "$TMP/shardrun"
check "sharded: 2 tensors of one checkpoint at step 200" \
    [ "$(tail -n +2 "$TMP/out" | cut -f2,3 | sort -u | wc -l)" = 1 -a "$(tail -n +2 "$TMP/out" | wc -l)" = 2 ]
check "sharded: the checkpoint is the index" grep -q 'checkpoint-200/model.safetensors.index.json' "$TMP/out"
expect_exit 0 "rw-rank on a sharded model's index" rw-rank "$sh/model.safetensors.index.json"
check "sharded: both shards analysed" [ "$(tail -n +2 "$TMP/out" | wc -l)" = 2 ]
mv "$sh/model-00002-of-00002.safetensors" "$TMP/moved.safetensors"
expect_error "sharded: a missing shard" 'rw-ls: .*weight_map names shard .*model-00002-of-00002\.safetensors, which does not exist' \
    rw-ls "$TMP/shardrun"

# Malformed files: exit 1, one line on stderr naming file and problem, and
# with -o no output file (nor temporary) left behind.
bad="$TMP/bad"
mkdir -p "$bad"
head -c 60 "$good" >"$bad/truncated.safetensors"
st_file "$bad/datacut.safetensors" '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}' "$F3$F4$F3"
printf '\xe8\x03\x00\x00\x00\x00\x00\x00{}' >"$bad/hlen.safetensors"
printf '\x01\xe1\xf5\x05\x00\x00\x00\x00{}' >"$bad/huge.safetensors"
st_file "$bad/notjson.safetensors" '{"a": {"dtype": F32}}'
st_file "$bad/overlap.safetensors" '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}' "$F3$F4$F3"
st_file "$bad/range.safetensors" '{"a":{"dtype":"F32","shape":[2],"data_offsets":[100,108]}}' "$F3$F4"
zeros96=""
for i in $(seq 24); do zeros96+=$F0; done
st_file "$bad/size.safetensors" '{"layers.0.w":{"dtype":"F32","shape":[4,8],"data_offsets":[0,96]}}' "$zeros96"
st_file "$bad/shape.safetensors" '{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}' "$F0"
st_file "$bad/neg.safetensors" '{"w":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,4]}}' "$F0"
st_file "$bad/meta.safetensors" '{"__metadata__":{"step":1500}}'

for case in \
    "truncated|header length [0-9]+ runs past the end of the file \(60 bytes\)" \
    "datacut|file truncated: its header describes 16 bytes of tensor data, the file holds 12" \
    "hlen|header length 1000 runs past the end of the file" \
    "huge|header length 100000001 exceeds the 100 MB limit" \
    "notjson|header is not JSON \(error at byte" \
    "overlap|tensors a \[0, 8\] and b \[4, 12\] overlap" \
    "range|a: data_offsets \[100, 108\] run past the end of the data section \(8 bytes\)" \
    "size|layers\.0\.w: data_offsets \[0, 96\] hold 96 bytes, shape 4x8 float32 needs 128" \
    "shape|w: shape 4294967296x4294967296 has too many elements" \
    "neg|w: shape\[0\] is negative \(-1\)" \
    "meta|__metadata__\.step is 1500, not a string"; do
    name=${case%%|*} pat=${case#*|}
    f="$bad/$name.safetensors"
    expect_error "rw-ls refuses $name" "^rw-ls: $f: $pat" rw-ls "$f"
    mkdir -p "$TMP/o-$name"
    expect_error "rw-rank -o refuses $name" "^rw-rank: $f: $pat" rw-rank -o "$TMP/o-$name/r.tsv" "$f"
    check "rw-rank -o leaves nothing behind on $name" [ -z "$(ls -A "$TMP/o-$name")" ]
done

# The real PEFT LoRA run of GPT-2 (adapters only).
if [ -z "$REALDATA" ]; then
    skip "gpt2-lora-steps: ../shared/realdata is absent"
else
    run="$REALDATA/gpt2-lora-steps"
    expect_exit 0 "rw-ls on the GPT-2 LoRA run" rw-ls "$run"
    cp "$TMP/out" "$TMP/gpt2.tsv"
    check "gpt2: 15 steps 500..7500" [ "$(col "$TMP/gpt2.tsv" step | sort -un | tr '\n' ' ')" = \
        "500 1000 1500 2000 2500 3000 3500 4000 4500 5000 5500 6000 6500 7000 7500 " ]
    check "gpt2: 24 tensors per step" [ "$(($(wc -l <"$TMP/gpt2.tsv") - 1))" -eq 360 ]
    check "gpt2: lora_A 8x768 float32" [ "$(awk -F'\t' '$4 ~ /lora_A/ {print $7, $8}' "$TMP/gpt2.tsv" | sort -u)" = "8x768 float32" ]
    check "gpt2: lora_B 2304x8 float32" [ "$(awk -F'\t' '$4 ~ /lora_B/ {print $7, $8}' "$TMP/gpt2.tsv" | sort -u)" = "2304x8 float32" ]
    check "gpt2: run label is the directory" [ "$(col "$TMP/gpt2.tsv" run | sort -u)" = gpt2-lora-steps ]
    expect_exit 0 "rw-rank on the GPT-2 LoRA run" rw-rank -o "$TMP/gpt2-rank.tsv" "$run"
    # Adapter-only: one lora row (s B A, 2304x768) per adapted matrix and step.
    check "gpt2: rw-rank rows, 12 adapted matrices x 15 steps" [ "$(($(wc -l <"$TMP/gpt2-rank.tsv") - 1))" -eq 180 ]
    check "gpt2: reported as c_attn.weight, component lora, 2304x768" \
        [ "$(awk -F'\t' 'NR>1 {print $5, $6, $7, $8}' "$TMP/gpt2-rank.tsv" | sort -u)" = "attn.c_attn.weight lora 2304 768" ]
    check "gpt2: every lora update has num_rank 8" \
        [ "$(col "$TMP/gpt2-rank.tsv" num_rank | sort -u)" = 8 ]
    check "gpt2: per <= 8/768" [ -z "$(awk -F'\t' 'NR>1 && $11 > 8/768' "$TMP/gpt2-rank.tsv")" ]
    rw-cond "$run" --include '*.h.0.*' >"$TMP/gpt2-cond.tsv" 2>"$TMP/err"
    check "gpt2: the scale comes from adapter_config.json (no warning)" [ ! -s "$TMP/err" ]
    check "gpt2: lora cond is inf (rank 8 of 768), cond_rank finite" \
        [ "$(awk -F'\t' 'NR>1 {print $12, ($13 != "inf" && $13 != "nan")}' "$TMP/gpt2-cond.tsv" | sort -u)" = "inf 1" ]
    expect_exit 0 "rw-updates on the GPT-2 LoRA run" rw-updates -o "$TMP/gpt2-upd.tsv" "$run"
    check "gpt2: rw-updates rows are the lora updates" [ "$(($(wc -l <"$TMP/gpt2-upd.tsv") - 1))" -eq 180 ]
fi
