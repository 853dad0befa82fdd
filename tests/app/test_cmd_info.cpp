// tests/app/test_cmd_info.cpp — `mlascope info` run as a real process: parameter counts against the
// demo model card, KV bytes against the card's cache table, errors as one line with exit code 1.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "support/data_paths.h"
#include "support/temp_cleanup.h"
#include "support/pty_session.h"

using namespace mlascope;
using nlohmann::json;

namespace {
const test::TempCleanup kTempCleanup;
}  // namespace

namespace {
test::RunResult run_info(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {test::mlascope_binary().string(), "info"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return test::run_command(argv, {{"MLASCOPE_MODEL", "\x01unset"}});
}
}  // namespace

TEST(CmdInfo, DemoModelJsonMatchesTheModelCard) {
  const test::RunResult r = run_info({"--model", test::asset_path("models/mla-moe-demo").string(), "--json", "--context", "1024"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["model"], "mla-moe-demo");
  EXPECT_EQ(j["architecture"], "DeepseekV3ForCausalLM");
  EXPECT_EQ(j["config"]["moe_layers"], 5);
  EXPECT_EQ(j["config"]["dense_layers"], 1);
  // MODEL_CARD.md: 11,743,424 total and 5,845,184 active, with the 16-value router bias of each of
  // the 5 MoE layers listed apart ("4,096 (+16 bias)"); we count the bias as parameters.
  EXPECT_EQ(j["params"]["total"], 11743424 + 5 * 16);
  EXPECT_EQ(j["params"]["active_per_token"], 5845184 + 5 * 16);
  // the card's cache table: 80 values/layer latent vs 320 for MHA; in BF16 over all 6 layers
  // 960 bytes/token and 960 KiB at 1024 tokens (the engine's default --kv-type bf16)
  EXPECT_EQ(j["kv_cache"]["dtype"], "bf16");
  EXPECT_EQ(j["kv_cache"]["schemes"]["mla_latent"]["values_per_token_layer"], 80);
  EXPECT_EQ(j["kv_cache"]["schemes"]["mha"]["values_per_token_layer"], 320);
  EXPECT_EQ(j["kv_cache"]["schemes"]["mla_latent"]["bytes_per_token"], 960);
  EXPECT_DOUBLE_EQ(j["kv_cache"]["schemes"]["mha"]["ratio_vs_latent"].get<double>(), 4.0);
  EXPECT_EQ(j["memory"]["context"], 1024);
  EXPECT_EQ(j["memory"]["kv_cache_bytes"], 960 * 1024);
  EXPECT_EQ(j["weights"]["dtypes"]["BF16"], 320);
  EXPECT_EQ(j["weights"]["dtypes"]["F32"], 5);
  EXPECT_TRUE(j["memory"]["fits"].get<bool>());
  EXPECT_EQ(r.err, "");  // the load summary is not repeated on stderr
}

TEST(CmdInfo, KvTypeF32DoublesTheCacheBytes) {
  const test::RunResult r = run_info({"--model", test::asset_path("models/mla-moe-demo").string(), "--json", "--context",
                                      "1024", "--kv-type", "f32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["kv_cache"]["dtype"], "f32");
  EXPECT_EQ(j["kv_cache"]["schemes"]["mla_latent"]["bytes_per_token"], 80 * 4 * 6);
  EXPECT_EQ(j["memory"]["kv_cache_bytes"], 80 * 4 * 6 * 1024);
  const test::RunResult t = run_info({"--model", test::asset_path("models/mla-moe-demo").string(), "--kv-type", "f32"});
  EXPECT_NE(t.out.find("[f32, 6 layers]"), std::string::npos) << t.out;
}

TEST(CmdInfo, DefaultModelAndText) {
  const test::RunResult r = run_info({});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("mla-moe-demo"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("11,743,504 total"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(4.0x)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[bf16, 6 layers]"), std::string::npos) << r.out;  // the default --kv-type, named
}

TEST(CmdInfo, YarnCaseShowsYarn) {
  const test::RunResult r = run_info({"--model", test::data_path("golden/v2-grouped-yarn").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("YaRN x4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("group_limited_greedy"), std::string::npos) << r.out;
}

TEST(CmdInfo, MissingTensorIsOneLineAndExitOne) {
  const auto dir = test::temp_dir("info-bad");
  std::filesystem::copy_file(test::data_path("golden/v3-tiny/config.json"), dir / "config.json");
  std::filesystem::copy_file(test::data_path("golden/v3-tiny/model.safetensors"), dir / "model.safetensors");
  std::filesystem::resize_file(dir / "model.safetensors", 20000);
  const test::RunResult r = run_info({"--model", dir.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_NE(r.err.find("[safetensors] "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("model.safetensors"), std::string::npos) << r.err;
}

TEST(CmdInfo, NoSuchFolder) {
  const test::RunResult r = run_info({"--model", "/nonexistent/model"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/model"), std::string::npos) << r.err;
}
