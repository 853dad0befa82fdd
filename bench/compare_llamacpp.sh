#!/usr/bin/env bash
# bench/compare_llamacpp.sh — mlascope vs llama.cpp on the same GGUF files and thread counts.
# Runs alternate (ours, theirs, ours, ...) so that drift on a shared machine hits both alike, and
# prints the median tokens/s of each and their ratio, for prefill (pp) and decode (tg).
# usage: bench/compare_llamacpp.sh LLAMA_BENCH MLASCOPE [ROUNDS] MODEL.gguf...
#   LLAMA_BENCH: a llama-bench binary (llama.cpp's tools/llama-bench; node-llama-cpp ships the
#   source as a git bundle: node_modules/node-llama-cpp/llama/gitRelease.bundle)
#   env: THREADS="1 2" PROMPT=64 GEN=32 LLAMA_ARGS="-lm none" (extra llama-bench options)
#        MLASCOPE_ARGS="--mmap" (extra `mlascope bench` options)
set -euo pipefail
llama_bench=$1 mlascope=$2 rounds=${3:-5}
shift 3
threads=${THREADS:-"1 2"} prompt=${PROMPT:-64} gen=${GEN:-32}
for model in "$@"; do
  for t in $threads; do
    ours_pp=() ours_tg=() theirs_pp=() theirs_tg=()
    for ((i = 0; i < rounds; ++i)); do
      j=$("$mlascope" bench --model "$model" --threads "$t" --prompt-len "$prompt" --gen "$gen" --reps 1 --json --no-bandwidth ${MLASCOPE_ARGS:-} 2>/dev/null | tail -1)
      ours_pp+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["prefill_tokens_per_s"])' "$j")")
      ours_tg+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["decode_tokens_per_s"])' "$j")")
      c=$("$llama_bench" -m "$model" -t "$t" -p "$prompt" -n "$gen" -r 1 -o jsonl ${LLAMA_ARGS:-} 2>/dev/null)
      theirs_pp+=("$(python3 -c 'import json,sys; print([json.loads(l)["avg_ts"] for l in sys.argv[1].splitlines() if json.loads(l)["n_prompt"] > 0][0])' "$c")")
      theirs_tg+=("$(python3 -c 'import json,sys; print([json.loads(l)["avg_ts"] for l in sys.argv[1].splitlines() if json.loads(l)["n_gen"] > 0][0])' "$c")")
    done
    python3 - "$model" "$t" "${ours_pp[*]}" "${theirs_pp[*]}" "${ours_tg[*]}" "${theirs_tg[*]}" <<'PY'
import statistics as st, sys, os
model, t, opp, tpp, otg, ttg = sys.argv[1:]
med = lambda s: st.median(float(v) for v in s.split())
for what, o, th in (("prefill", opp, tpp), ("decode", otg, ttg)):
    print(f"{os.path.basename(model):28s} threads {t}  {what:7s}  mlascope {med(o):8.1f} tok/s  llama.cpp {med(th):8.1f} tok/s  ratio {med(o)/med(th):.2f}x")
PY
  done
done
