#!/usr/bin/env bash
# bench/check_split_llamacpp.sh — split GGUF files made by llama.cpp's own llama-gguf-split load in
# mlascope from any part and compute exactly what the single file computes (same perplexity to the
# last digit on the same text), and llama.cpp loads the parts too.
# usage: bench/check_split_llamacpp.sh
#   env: LLAMA_SRC=/work/llama/src (llama-gguf-split is built there when missing)  MLASCOPE=build/app/mlascope
#        MODEL=assets/models/mla-moe-demo  TEXT=tests/data/text/english.txt  TENSORS=40 (per part)
#        WORK=/tmp/mlascope-split
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
llama_src=${LLAMA_SRC:-/work/llama/src}
mlascope=${MLASCOPE:-$here/build/app/mlascope}
model=${MODEL:-$here/assets/models/mla-moe-demo}
text=${TEXT:-$here/tests/data/text/english.txt}
per=${TENSORS:-40}
work=${WORK:-/tmp/mlascope-split}
split_bin=$llama_src/build/bin/llama-gguf-split
[ -x "$split_bin" ] || nice -n 10 cmake --build "$llama_src/build" --target llama-gguf-split -j2 >&2
mkdir -p "$work"
rm -f "$work"/demo-split-*.gguf
single="$work/demo-F16.gguf"
[ -s "$single" ] || "$mlascope" convert --model "$model" --to "$single" --type f16 >&2
"$split_bin" --split --split-max-tensors "$per" "$single" "$work/demo-split" > "$work/split.log" 2>&1
parts=("$work"/demo-split-*.gguf)
echo "llama-gguf-split made ${#parts[@]} parts of at most $per tensors" >&2
want=$("$mlascope" perplexity --model "$single" --file "$text" --ctx 128 --chunks 4 --kv-type f32 --json)
status=0
for p in "${parts[@]}"; do
  got=$("$mlascope" perplexity --model "$p" --file "$text" --ctx 128 --chunks 4 --kv-type f32 --json)
  python3 - "$(basename "$p")" "$want" "$got" <<'PY' || status=1
import json, sys
name, a, b = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
same = a["ppl"] == b["ppl"] and a["chunk_ppl"] == b["chunk_ppl"]
print(f"given {name}: PPL {b['ppl']:.6f} vs single file {a['ppl']:.6f}: {'identical' if same else 'DIFFERENT'}")
sys.exit(0 if same else 1)
PY
done
# llama.cpp itself on the parts (first part given), for the record.
"$llama_src/build/bin/llama-perplexity" -m "${parts[0]}" -f "$text" -c 128 --chunks 4 -t 2 2>&1 |
  grep -o 'Final estimate: PPL = [0-9.]*' | sed 's/^/llama.cpp on the parts: /'
"$mlascope" perplexity --model "${parts[0]}" --file "$text" --ctx 128 --chunks 4 --kv-type f16 |
  grep 'PPL =' | sed 's/^ */mlascope on the parts (f16 cache): /'
exit $status
