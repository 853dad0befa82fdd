#!/usr/bin/env bash
# bench/compare_llamacpp_quality.sh — mlascope vs llama.cpp on the same GGUF files and the same text:
#   1. perplexity, each engine tokenizing the text itself (llama-perplexity's method in both: BOS
#      per chunk, second half of each chunk scored) — target: within 0.5 %;
#   2. teacher-forced log-probs token for token: llama-perplexity saves its log-probs
#      (--kl-divergence-base), `mlascope perplexity --kl-base` scores the same token ids and compares
#      position by position — targets: top-1 agreement >= 95 %, mean |delta log-prob| <= 0.05.
# The presets are made by llama.cpp's own quantizer from an F16 GGUF of the model (`mlascope convert`).
#   3. where the two disagree, which is nearer the file's own weights: llama-quantize writes the preset
#      back as F32 (its own dequantization: both engines agree on that file to KL 0.000000), and each
#      engine's KL divergence from that exact model is printed (EXACT=0 skips this).
#
# usage: bench/compare_llamacpp_quality.sh [PRESET...]     (default: F16 Q8_0 Q4_K_M)
#   env: LLAMA_BIN=/work/llama/src/build/bin  MLASCOPE=build/app/mlascope  MODEL=assets/models/mla-moe-demo
#        TEXT=tests/data/text/english.txt  CTX=256  THREADS=2  KV_TYPE=f16 (mlascope's cache; llama.cpp's is f16)
#        MLASCOPE_ARGS="--no-mmap" (extra `mlascope perplexity` options: this one reads the small presets into
#        memory, where Q4_K / Q5_0 / Q8_0 / Q6_K take the CPU kernels' layouts, as a large model's do)
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

printf '%-8s %12s %12s %8s   %9s %10s %12s %10s %12s %12s\n' preset "PPL llama" "PPL mlascope" "diff" "top-1" "mean|dlp|" "KL(llama||m)" "PPL same-ids" \
  "KL llama>dq" "KL ours>dq" >&2
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
  # Each engine against the exact model: the preset's weights dequantized by llama.cpp, in F32.
  exact_llama="" exact_ours="{}"
  if [ "${EXACT:-1}" = 1 ] && [ "$p" != F16 ]; then
    dq="$work/$name-$p.dq-f32.gguf" dq_base="$work/$name-$p.dq.kld"
    [ -s "$dq" ] || "$llama_bin/llama-quantize" --allow-requantize --pure "$gguf" "$dq" F32 "$threads" > "$work/$p.dq.log" 2>&1
    "$llama_bin/llama-perplexity" -m "$dq" -f "$text" -c "$ctx" -b "$ctx" -t "$threads" --kl-divergence-base "$dq_base" > "$work/$p.dq.llama.log" 2>&1
    # (tried up to three times: llama.cpp's logger sometimes loses the lines of its summary at exit)
    for _ in 1 2 3; do
      exact_llama=$("$llama_bin/llama-perplexity" -m "$gguf" -f "$text" -c "$ctx" -b "$ctx" -t "$threads" --kl-divergence-base "$dq_base" \
        --kl-divergence 2>&1 | (grep -o 'Mean    KLD: *[0-9.]*' || true) | head -1 | awk '{print $3}')
      [ -n "$exact_llama" ] && break
    done
    exact_ours=$("$mlascope" perplexity --model "$gguf" --kl-base "$dq_base" --threads "$threads" --kv-type "$kv_type" --json ${MLASCOPE_ARGS:-} 2>>"$work/$p.mlascope.err" || echo "{}")
  fi
  python3 - "$p" "$llama_ppl" "$own" "$cmp" "$exact_llama" "$exact_ours" <<'PY'
import json, sys
p, printed, own, cmp = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
exact_llama = float(sys.argv[5]) if sys.argv[5] else None
exact_ours = json.loads(sys.argv[6]).get("kl", {}).get("kld_mean")
fmt = lambda v: f"{v:12.6f}" if v is not None else f"{'-':>12s}"
kl = cmp["kl"]
llama_ppl = float(printed) if printed else kl["ppl_base"]
source = "printed" if printed else "from its saved log-probs"
diff = own["ppl"] / llama_ppl - 1
print(f"{p:8s} {llama_ppl:12.4f} {own['ppl']:12.4f} {100*diff:+7.2f}%   {100*kl['top1_agreement']:8.2f}% "
      f"{kl['dlogprob_abs_mean']:10.5f} {kl['kld_mean']:12.6f} {cmp['ppl']:10.4f} {fmt(exact_llama)} {fmt(exact_ours)}", file=sys.stderr)
print(json.dumps({"preset": p, "ppl_llama": llama_ppl, "ppl_llama_source": source, "ppl_mlascope": own["ppl"], "ppl_rel_diff": diff,
                  "ppl_mlascope_on_llama_ids": cmp["ppl"], "n_ctx": own["n_ctx"], "n_chunk": own["n_chunk"],
                  "tokens_note": kl.get("tokens", ""), "positions": kl["positions"],
                  "top1_agreement": kl["top1_agreement"], "dlogprob_abs_mean": kl["dlogprob_abs_mean"],
                  "dlogprob_abs_p99": kl["dlogprob_abs_p99"], "kld_mean": kl["kld_mean"], "kld_p99": kl["kld_p99"],
                  "kv_dtype": own["kv_dtype"], "kld_llama_vs_dequantized": exact_llama, "kld_mlascope_vs_dequantized": exact_ours,
                  "ok": abs(diff) <= 0.005 and kl["top1_agreement"] >= 0.95 and kl["dlogprob_abs_mean"] <= 0.05}))
PY
done
