#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz in build-fuzz/ (clang, ASan + UBSan, no GUI, no CUDA:
# only the engine, the sessions library and the app files the targets need), gathers a seed corpus
# per target in build-fuzz/corpus/ (kept between runs: it grows), runs each target for SECONDS
# (default 60) and prints its executions. Exits 1 on any finding (crash, sanitizer report, leak,
# timeout, out-of-memory); the input that caused it is in build-fuzz/findings/.
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]     e.g. bash scripts/fuzz.sh 300 fuzz_gguf
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
shift || true
B=build-fuzz

# The fuzzing toolchain (not needed to build or use mlascope, so not in scripts/deps.sh).
missing=()
for p in clang libclang-rt-14-dev; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "fuzz: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# -O1 with assertions on (no NDEBUG): the hot path's invariants are checked too.
cmake -S . -B "$B" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DMLASCOPE_FUZZ=ON -DMLASCOPE_GUI=OFF -DMLASCOPE_CUDA=OFF -DMLASCOPE_TESTS=OFF -DMLASCOPE_BENCH=OFF >/dev/null
t0=$(date +%s)
cmake --build "$B" -j "${JOBS:-$(nproc)}" --target fuzz_all
echo "fuzz: build took $(( $(date +%s) - t0 )) s"

# Seeds: checked-in files, the test data, and what fuzz_make_seeds writes with our own writers.
C=$B/corpus
mkdir -p "$C"/{config,script,chat_template,tokenizer_encode} "$B/findings"
for d in tests/fuzz/seeds/*/; do mkdir -p "$C/$(basename "$d")"; cp -n "$d"* "$C/$(basename "$d")/" 2>/dev/null || true; done
for f in tests/data/golden/*/config.json assets/models/*/config.json; do
  cp "$f" "$C/config/$(basename "$(dirname "$f")").json"
done
cp tests/scripts/*.script assets/sessions/*.script "$C/script/"
cp tests/data/tokenizers/deepseek-v3/tokenizer_config.json "$C/chat_template/deepseek-v3.json"
cp assets/models/mla-moe-demo/tokenizer_config.json "$C/chat_template/demo.json"
cp tests/data/text/english.txt "$C/tokenizer_encode/"
"$B/tests/fuzz/fuzz_make_seeds" "$C"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.cpp; do
    n=$(basename "$f" .cpp)
    [ "$n" = fuzz_util ] || [ "$n" = fuzz_make_seeds ] || targets+=("$n")
  done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=()
summary=()
for t in "${targets[@]}"; do
  corpus=$C/${t#fuzz_}
  mkdir -p "$corpus"
  log=$B/findings/$t.log
  set +e
  "$B/tests/fuzz/$t" "$corpus" -max_total_time="$SECONDS_PER_TARGET" -timeout=30 -rss_limit_mb=3072 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$B/findings/$t-" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  line="$t: ${execs:-?} executions in ${SECONDS_PER_TARGET} s, coverage ${cov:-?} edges, corpus $(ls "$corpus" | wc -l) files"
  if [ $rc -ne 0 ]; then
    line="$line — FINDING (exit $rc), see $log"
    failed+=("$t")
    grep -m1 -E "ERROR: |runtime error|fuzz: |deadly signal|Test unit written" "$log" || true
  fi
  echo "$line"
  summary+=("$line")
done
printf '%s\n' "${summary[@]}" >"$B/findings/summary.txt"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}"
  exit 1
fi
echo "fuzz: no findings"
