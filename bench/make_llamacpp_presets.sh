#!/usr/bin/env bash
# bench/make_llamacpp_presets.sh — the common llama.cpp quantization presets of a model, made by
# llama.cpp's own quantizer, and a check that mlascope loads each and generates from it.
#   1. `mlascope convert --type f16` writes MODEL as an F16 GGUF (the quantizer's input);
#   2. `llama-quantize` makes every preset below from it (OUT_DIR/NAME-PRESET.gguf);
#   3. for each file: the tensor types it holds, and `mlascope generate` (greedy, 24 tokens) — the
#      text should read like the F16 file's; a file mlascope refuses prints its one-line error.
# usage: bench/make_llamacpp_presets.sh LLAMA_QUANTIZE MLASCOPE OUT_DIR [MODEL] [PROMPT]
#   MODEL: an HF folder or GGUF (default: the bundled demo model, assets/models/mla-moe-demo)
#   env PRESETS="Q4_K_M Q8_0" to make only some; KEEP_F16=1 keeps the F16 input
# Example (llama.cpp as built on the project machine):
#   bench/make_llamacpp_presets.sh /work/llama/src/build/bin/llama-quantize build/app/mlascope /tmp/presets
set -euo pipefail
quantize=$1 mlascope=$2 out=$3
here=$(cd "$(dirname "$0")/.." && pwd)
model=${4:-$here/assets/models/mla-moe-demo}
prompt=${5:-"Once upon a time"}
presets=${PRESETS:-"Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_0 Q4_1 Q4_K_S Q4_K_M Q5_0 Q5_1 Q5_K_S Q5_K_M Q6_K Q8_0 IQ4_NL IQ4_XS"}
name=$(basename "${model%.gguf}")
mkdir -p "$out"
f16=$out/$name-F16.gguf
"$mlascope" convert --model "$model" --to "$f16" --type f16 --quiet
echo "== F16 (mlascope convert)"
"$mlascope" generate --model "$f16" --prompt "$prompt" -n 24 --temperature 0 2>/dev/null
ok=0 total=0
for p in $presets; do
  q=$out/$name-$p.gguf
  total=$((total + 1))
  if ! "$quantize" "$f16" "$q" "$p" >"$q.log" 2>&1; then
    echo "== $p: llama-quantize failed (see $q.log)"
    continue
  fi
  # tensor types as llama-quantize reports them ("converting to q5_0 .. size = ..."), counted
  types=$(grep -o 'converting to [A-Za-z0-9_]*' "$q.log" | awk '{print toupper($3)}' | sort | uniq -c | awk '{printf "%s x%s ", $2, $1}')
  echo "== $p ($(du -h "$q" | cut -f1); quantized tensors: ${types:-none})"
  if text=$("$mlascope" generate --model "$q" --prompt "$prompt" -n 24 --temperature 0 2>"$q.err"); then
    ok=$((ok + 1))
    echo "$text"
  else
    echo "REFUSED: $(tail -1 "$q.err")"
  fi
done
echo "mlascope loaded and generated from $ok of $total presets"
[[ -n "${KEEP_F16:-}" ]] || rm -f "$f16"
