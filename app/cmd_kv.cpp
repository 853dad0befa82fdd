// app/cmd_kv.cpp — `mlascope kv`: KV-cache memory of any DeepSeek config (no weights needed) under
// MLA's latent cache and the schemes it replaces, per token and at a context length.
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli_checks.h"
#include "commands.h"
#include "engine/config.h"
#include "engine/error.h"
#include "engine/kv_memory.h"
#include "term_color.h"
#include "terminal_views.h"

namespace mlascope::app {

namespace fs = std::filesystem;

namespace {

struct KvArgs {
  fs::path config;
  std::string preset;
  int64_t context = 0;
  std::string dtype = "bf16";
  int gqa_groups = 8;
  bool gqa_groups_given = false;
  bool json = false;
};

// Presets are plain config.json files bundled in assets/presets/ (NAME.json or NAME/config.json).
fs::path preset_path(const std::string& name) {
  const fs::path dir = assets_dir() / "presets";
  for (const fs::path& p : {dir / (name + ".json"), dir / name / "config.json"}) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p;
  }
  // Names are matched without regard to case: `deepseek-v3` finds DeepSeek-V3.json.
  auto lower = [](std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  };
  std::string known;
  std::error_code ec;
  if (fs::is_directory(dir, ec))
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const fs::path& p = e.path();
      const bool file = p.extension() == ".json";
      if (!file && !fs::is_regular_file(p / "config.json", ec)) continue;
      if (lower(p.stem().string()) == lower(name)) return file ? p : p / "config.json";
      known += (known.empty() ? "" : ", ") + p.stem().string();
    }
  fail("kv", "--preset " + name,
       "no such preset in " + dir.string() + (known.empty() ? " (no presets bundled)" : " (available: " + known + ")"));
}

void run_kv(const KvArgs& a) {
  fs::path file = a.preset.empty() ? a.config : preset_path(a.preset);
  std::error_code ec;
  if (fs::is_directory(file, ec)) file /= "config.json";  // a model folder works too
  if (!fs::exists(file, ec)) fail("kv", file.string(), "no such file");
  const ModelConfig c = ModelConfig::from_file(file);
  if (a.gqa_groups_given && !gqa_groups_divide(c.num_attention_heads, a.gqa_groups))
    fail("kv", "--gqa-groups " + std::to_string(a.gqa_groups),
         "must divide num_attention_heads (" + std::to_string(c.num_attention_heads) + ") of " + file.string());
  const KvReport r = make_kv_report(c, a.preset.empty() ? file.string() : a.preset, a.dtype, a.context, a.gqa_groups);
  if (a.json) {
    std::printf("%s\n", dump_json(kv_json(r)).c_str());
  } else {
    std::fputs(render_kv_text(r, detect_color_mode(1)).c_str(), stdout);
  }
}

}  // namespace

void register_kv(CLI::App& root, CommandContext& ctx) {
  auto a = std::make_shared<KvArgs>();
  CLI::App* cmd = root.add_subcommand("kv", "KV-cache memory per token and at N tokens: MLA latent vs naive MLA, MHA, GQA, MQA");
  auto* cfg = cmd->add_option("--config", a->config, "config.json of any DeepSeek-V2/V3 model (or its folder)");
  auto* pre = cmd->add_option("--preset", a->preset, "a bundled config: deepseek-v2, deepseek-v2-lite, deepseek-v3");
  cfg->excludes(pre);
  cmd->add_option("--context", a->context, "tokens for the 'at N' column (default: max_position_embeddings)")
      ->check(positive());
  cmd->add_option("--dtype", a->dtype, "cache element type (f32/f16 as in --kv-type are accepted too)")
      ->check(CLI::IsMember({"bf16", "fp16", "fp32", "fp8", "f16", "f32"}));
  auto* groups = cmd->add_option("--gqa-groups", a->gqa_groups,
                                 "KV groups of the GQA row; must divide the head count (default: 8, or the largest "
                                 "divisor of the head count below it)")
                     ->check(positive());
  cmd->add_flag("--json", a->json, "machine-readable output (stable keys)");
  cmd->callback([a, groups, &ctx] {
    if (a->config.empty() && a->preset.empty()) fail("kv", "", "pass --config FILE or --preset NAME");
    a->gqa_groups_given = groups->count() > 0;
    run_kv(*a);
    ctx.exit_code = 0;
  });
}

}  // namespace mlascope::app
