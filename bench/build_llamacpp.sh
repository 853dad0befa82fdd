#!/usr/bin/env bash
# bench/build_llamacpp.sh — builds the llama.cpp that npm's node-llama-cpp bundles (the peer every
# comparison in bench/ and the llama-server integration test run against; never a mock of it).
# The npm package carries llama.cpp's source as a git bundle (llama/gitRelease.bundle); this clones
# it and builds the CPU tools: llama-bench, llama-quantize, llama-perplexity, llama-server,
# llama-cli, llama-tokenize.
# usage: bench/build_llamacpp.sh [OUT_DIR]       (default ./llama.cpp-peer; binaries in OUT_DIR/build/bin)
#   env: NODE_LLAMA_CPP_VERSION=3.22.1 (the npm version to fetch when NODE_LLAMA_CPP_TGZ is not given)
#        NODE_LLAMA_CPP_TGZ=path/to/node-llama-cpp-X.tgz (an `npm pack` tarball already on disk)
#        JOBS=N
# Then, e.g.: MLASCOPE_LLAMA_SERVER=OUT_DIR/build/bin/llama-server ctest -R LlamaServer
set -euo pipefail
out=$(realpath -m "${1:-llama.cpp-peer}")
version=${NODE_LLAMA_CPP_VERSION:-3.22.1}
jobs=${JOBS:-$(nproc)}
mkdir -p "$out"
cd "$out"
tgz=${NODE_LLAMA_CPP_TGZ:-}
if [ -z "$tgz" ]; then
  command -v npm >/dev/null || { echo "build_llamacpp: npm is needed to fetch node-llama-cpp@$version" >&2; exit 1; }
  tgz=$(npm pack "node-llama-cpp@$version" --silent | tail -1)
fi
rm -rf package && tar xzf "$tgz" package/llama/gitRelease.bundle package/llama/binariesGithubRelease.json
echo "build_llamacpp: node-llama-cpp $(basename "$tgz") bundles llama.cpp release $(python3 -c 'import json;print(json.load(open("package/llama/binariesGithubRelease.json"))["release"])' 2>/dev/null || echo '?')"
rm -rf src && git -c advice.detachedHead=false clone -q package/llama/gitRelease.bundle src
git -C src log -1 --format='build_llamacpp: commit %H (%cd)'
cmake -S src -B src/build -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF >/dev/null
cmake --build src/build -j "$jobs" --target llama-bench llama-quantize llama-perplexity llama-server llama-cli llama-tokenize
mkdir -p build && rm -rf build/bin && ln -s ../src/build/bin build/bin
echo "build_llamacpp: binaries in $out/build/bin"
