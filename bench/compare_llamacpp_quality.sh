#!/usr/bin/env bash
# bench/compare_llamacpp_quality.sh — mlascope vs llama.cpp on the same GGUF files and the same text:
#   1. perplexity, each engine tokenizing the text itself (llama-perplexity's method in both: BOS
#      per chunk, second half of each chunk scored) — target: within 0.5 %;
#   2. teacher-forced log-probs token for token: llama-perplexity saves its log-probs
#      (--kl-divergence-base), `mlascope perplexity --kl-base` scores the same token ids and compares
#      position by position — targets: top-1 agreement >= 95 %, mean |delta log-prob| <= 0.05.
# The presets are made by llama.cpp's own quantizer from an F16 GGUF of the model (`mlascope convert`).
#
# usage: bench/compare_llamacpp_quality.sh [PRESET...]     (default: F16 Q8_0 Q4_K_M)
#   env: LLAMA_BIN=/work/llama/src/build/bin  MLASCOPE=build/app/mlascope  MODEL=assets/models/mla-moe-demo
#        TEXT=tests/data/text/english.txt  CTX=256  THREADS=2  KV_TYPE=f16 (mlascope's cache; llama.cpp's is f16)
#        MLASCOPE_ARGS="--no-mmap" (extra `mlascope perplexity` options: this one reads the small presets into
#        memory, where Q4_K / Q5_0 / Q8_0 take the CPU kernels' layouts, as a large model's do)
#        WORK=/tmp/mlascope-quality (the GGUF files and logits are kept there between runs)
# Prints one line per preset and a JSON line per preset (for the record) on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
llama_bin=${LLAMA_BIN:-/work/llama/src/build/bin}
mlascope=${MLASCOPE:-$here/build/app/mlascope}
model=${MODEL:-$here/assets/models/mla-moe-demo}
text=${TEXT:-$here/tests/data/text/english.txt}
ctx=${CTX:-256}
threads=${THREADS:-2}
kv_type=${KV_TYPE:-f16}
work=${WORK:-/tmp/mlascope-quality}
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(F16 Q8_0 Q4_K_M)
mkdir -p "$work"
name=$(basename "$model")

f16="$work/$name-F16.gguf"
[ -s "$f16" ] || "$mlascope" convert --model "$model" --to "$f16" --type f16 >&2

printf '%-8s %12s %12s %8s   %9s %10s %12s %10s\n' preset "PPL llama" "PPL mlascope" "diff" "top-1" "mean|dlp|" "KL(llama||m)" "PPL same-ids" >&2
for p in "${presets[@]}"; do
  gguf="$work/$name-$p.gguf"
  if [ "$p" != F16 ] && [ ! -s "$gguf" ]; then
    "$llama_bin/llama-quantize" "$f16" "$gguf" "$p" "$threads" > "$work/$p.quantize.log" 2>&1 ||
      { echo "$p: llama-quantize failed (see $work/$p.quantize.log)" >&2; continue; }
  fi
  [ "$p" = F16 ] && gguf=$f16
  base="$work/$name-$p.llama.kld"
  # llama.cpp: its perplexity, and its log-probs for every scored position.
  "$llama_bin/llama-perplexity" -m "$gguf" -f "$text" -c "$ctx" -b "$ctx" -t "$threads" --kl-divergence-base "$base" \
    > "$work/$p.llama.log" 2>&1 || { echo "$p: llama-perplexity failed (see $work/$p.llama.log)" >&2; continue; }
  # llama.cpp's logger sometimes loses its last lines at exit; then its PPL is taken from the
  # log-probs it saved (the NLL of each next token, quantized to 16 bits: ~1e-5 relative).
  llama_ppl=$( (grep -o 'Final estimate: PPL = [0-9.]*' "$work/$p.llama.log" || true) | awk '{print $5}')
  # mlascope on its own tokenization of the text, then on llama.cpp's ids against its log-probs.
  own=$("$mlascope" perplexity --model "$gguf" --file "$text" --ctx "$ctx" --threads "$threads" --kv-type "$kv_type" --json ${MLASCOPE_ARGS:-} 2>"$work/$p.mlascope.err") ||
    { echo "$p: mlascope failed: $(tail -1 "$work/$p.mlascope.err")" >&2; continue; }
  cmp=$("$mlascope" perplexity --model "$gguf" --kl-base "$base" --threads "$threads" --kv-type "$kv_type" --json ${MLASCOPE_ARGS:-} 2>>"$work/$p.mlascope.err") ||
    { echo "$p: mlascope --kl-base failed: $(tail -1 "$work/$p.mlascope.err")" >&2; continue; }
  python3 - "$p" "$llama_ppl" "$own" "$cmp" <<'PY'
import json, sys
p, printed, own, cmp = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
kl = cmp["kl"]
llama_ppl = float(printed) if printed else kl["ppl_base"]
source = "printed" if printed else "from its saved log-probs"
diff = own["ppl"] / llama_ppl - 1
print(f"{p:8s} {llama_ppl:12.4f} {own['ppl']:12.4f} {100*diff:+7.2f}%   {100*kl['top1_agreement']:8.2f}% "
      f"{kl['dlogprob_abs_mean']:10.5f} {kl['kld_mean']:12.6f} {cmp['ppl']:10.4f}", file=sys.stderr)
print(json.dumps({"preset": p, "ppl_llama": llama_ppl, "ppl_llama_source": source, "ppl_mlascope": own["ppl"], "ppl_rel_diff": diff,
                  "ppl_mlascope_on_llama_ids": cmp["ppl"], "n_ctx": own["n_ctx"], "n_chunk": own["n_chunk"],
                  "tokens_note": kl.get("tokens", ""), "positions": kl["positions"],
                  "top1_agreement": kl["top1_agreement"], "dlogprob_abs_mean": kl["dlogprob_abs_mean"],
                  "dlogprob_abs_p99": kl["dlogprob_abs_p99"], "kld_mean": kl["kld_mean"], "kld_p99": kl["kld_p99"],
                  "kv_dtype": own["kv_dtype"],
                  "ok": abs(diff) <= 0.005 and kl["top1_agreement"] >= 0.95 and kl["dlogprob_abs_mean"] <= 0.05}))
PY
done
