// app/cmd_convert.cpp — `mlascope convert --model PATH --to OUT.gguf [--type T]`: an HF folder (or a
// GGUF file, to change its type) written as a deepseek2 GGUF that mlascope and llama.cpp both load.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "engine/config.h"
#include "engine/error.h"
#include "engine/weights/gguf.h"
#include "engine/weights/gguf_export.h"
#include "engine/weights/gguf_file.h"
#include "engine/weights/weight_store.h"
#include "term_progress.h"

namespace mlascope::app {

namespace fs = std::filesystem;

namespace {

struct ConvertArgs {
  fs::path model;
  fs::path out;
  std::string type = "f16";
  std::string kv_b = "split";
  bool quiet = false;
};

const std::vector<std::string> kTypes = {"f32",  "f16",  "bf16", "q8_0", "q4_0",   "q4_1",  "q5_0",
                                         "q5_1", "q4_k", "q5_k", "q6_k", "q4_k_m", "q5_k_m"};

// The matrices' type and, for the _m presets, llama.cpp's mixed precision (see GgufMix).
std::pair<DType, GgufMix> parse_type(const std::string& t) {
  if (t == "f32") return {DType::F32, GgufMix::Pure};
  if (t == "f16") return {DType::F16, GgufMix::Pure};
  if (t == "bf16") return {DType::BF16, GgufMix::Pure};
  if (t == "q8_0") return {DType::Q8_0, GgufMix::Pure};
  if (t == "q4_0") return {DType::Q4_0, GgufMix::Pure};
  if (t == "q4_1") return {DType::Q4_1, GgufMix::Pure};
  if (t == "q5_0") return {DType::Q5_0, GgufMix::Pure};
  if (t == "q5_1") return {DType::Q5_1, GgufMix::Pure};
  if (t == "q4_k") return {DType::Q4_K, GgufMix::Pure};
  if (t == "q5_k") return {DType::Q5_K, GgufMix::Pure};
  if (t == "q6_k") return {DType::Q6_K, GgufMix::Pure};
  if (t == "q4_k_m") return {DType::Q4_K, GgufMix::KM};
  if (t == "q5_k_m") return {DType::Q5_K, GgufMix::KM};
  std::string all;
  for (const std::string& k : kTypes) all += (all.empty() ? "" : ", ") + k;
  fail("convert", "--type " + t, "unknown type (" + all + ")");
}

void run_convert(const ConvertArgs& a) {
  std::error_code ec;
  if (!fs::exists(a.model, ec)) fail("convert", a.model.string(), "no such file or folder");
  if (fs::exists(a.out, ec) && fs::equivalent(a.model, a.out, ec))
    fail("convert", a.out.string(), "is the input model; choose another output path");
  if (fs::is_directory(a.out, ec)) fail("convert", "--to " + a.out.string(), "is a directory; give the output .gguf file name");
  const bool from_gguf = fs::is_regular_file(a.model, ec) && a.model.extension() == ".gguf";
  if (!from_gguf && !fs::is_directory(a.model, ec))
    fail("convert", a.model.string(), "is neither a .gguf file nor a model folder (config.json + safetensors)");
  const auto t0 = std::chrono::steady_clock::now();

  ModelConfig config;
  GgufTokenizer tokenizer;
  bool have_tokenizer = false;
  if (from_gguf) {
    const GgufFile f = GgufFile::open(a.model);
    config = config_from_gguf(f);
    if ((have_tokenizer = gguf_has_tokenizer(f))) tokenizer = tokenizer_from_gguf(f);
  } else {
    config = ModelConfig::from_file(a.model / "config.json");
    if ((have_tokenizer = fs::exists(a.model / "tokenizer.json", ec))) tokenizer = gguf_tokenizer_from_hf(a.model, config);
  }
  const WeightStore store = WeightStore::open(a.model);

  GgufExportOptions o;
  std::tie(o.type, o.mix) = parse_type(a.type);
  o.name = (from_gguf ? a.model.stem() : a.model.filename()).string();
  if (o.name.empty()) o.name = a.model.parent_path().filename().string();
  o.tokenizer = have_tokenizer ? &tokenizer : nullptr;
  o.whole_kv_b = a.kv_b != "split";
  o.split_kv_b = a.kv_b != "whole";
  // Notices for a user who will compare this file with llama.cpp (shown even with --quiet: they
  // explain results, not progress).
  if (const std::string n = llama_cpp_routing_notice(config); !n.empty()) std::fprintf(stderr, "note: %s\n", n.c_str());
  if (o.whole_kv_b && o.split_kv_b)
    std::fprintf(stderr, "note: --kv-b both writes attn_kv_b and attn_k_b/attn_v_b; llama.cpp refuses such a file "
                         "(wrong number of tensors), mlascope reads it\n");
  std::unique_ptr<ProgressBar> bar;
  if (!a.quiet) {
    bar = std::make_unique<ProgressBar>("converting", stderr);
    o.progress = [&bar](uint64_t done, uint64_t total) { bar->update(done, total); };
  }
  if (a.out.has_parent_path()) fs::create_directories(a.out.parent_path(), ec);
  export_gguf(store, config, a.out, o);
  if (bar) bar->finish();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!a.quiet)
    std::printf("wrote %s: %s, %s, %s tokenizer, %.1fs (from %s)\n", a.out.string().c_str(), a.type.c_str(),
                format_bytes(static_cast<double>(fs::file_size(a.out, ec))).c_str(), have_tokenizer ? "with" : "no",
                s, format_bytes(static_cast<double>(store.total_bytes())).c_str());
}

}  // namespace

void register_convert(CLI::App& root, CommandContext& ctx) {
  auto a = std::make_shared<ConvertArgs>();
  CLI::App* cmd = root.add_subcommand("convert", "Write a model (HF folder or .gguf) as a GGUF file that mlascope and llama.cpp load");
  cmd->add_option("--model", a->model, "HF folder (config.json + safetensors) or a .gguf file")->required();
  cmd->add_option("--to", a->out, "output .gguf path")->required();
  cmd->add_option("--type", a->type,
                  "weight type of the matrices (norms and the router stay F32); q4_k_m / q5_k_m: llama.cpp's mixed "
                  "presets (output and some ffn_down in Q6_K)")
      ->check(CLI::IsMember(kTypes));
  cmd->add_option("--kv-b", a->kv_b,
                  "kv_b_proj as llama.cpp's split attn_k_b/attn_v_b (default), whole attn_kv_b, or both")
      ->check(CLI::IsMember({"split", "whole", "both"}));
  cmd->add_flag("--quiet", a->quiet, "no progress bar or summary");
  cmd->callback([a, &ctx] {
    run_convert(*a);
    ctx.exit_code = 0;
  });
}

}  // namespace mlascope::app
