// tests/app/test_cmd_convert.cpp — `mlascope convert` run as a real process on the golden tiny
// checkpoints: the metadata llama.cpp needs in each --kv-b mode (read back with the GGUF parser), the
// mixed preset's types, and the group-limited-routing notice on convert and on loading the file.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/weights/gguf_file.h"
#include "support/data_paths.h"
#include "support/pty_session.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

test::RunResult convert(const fs::path& model, const fs::path& out, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {test::mlascope_binary().string(), "convert", "--model", model.string(), "--to",
                                   out.string(), "--quiet"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return test::run_command(argv);
}

int64_t int_key(const GgufFile& f, const std::string& k) { return f.get_int(k, 0, 1 << 30); }

}  // namespace

TEST(CmdConvert, NullQLoraRankIsWrittenAsZero) {
  const fs::path dir = test::temp_dir("convert");
  const test::RunResult r = convert(test::data_path("golden/v2-lite-tiny"), dir / "m.gguf");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const GgufFile f = GgufFile::open(dir / "m.gguf");
  ASSERT_TRUE(f.find("deepseek2.attention.q_lora_rank")) << "llama.cpp refuses a file without the key";
  EXPECT_EQ(int_key(f, "deepseek2.attention.q_lora_rank"), 0);
  EXPECT_TRUE(f.find_tensor("blk.0.attn_q.weight"));
  EXPECT_FALSE(f.find_tensor("blk.0.attn_q_a.weight"));
  fs::remove_all(dir);
}

// v2-lite-tiny: qk_nope 16, qk_rope 8, v_head 16, kv_lora_rank 32 (tests/data/golden/v2-lite-tiny/config.json).
TEST(CmdConvert, KvBModesWriteTheMetadataLlamaCppExpects) {
  const fs::path dir = test::temp_dir("convert");
  ASSERT_EQ(convert(test::data_path("golden/v2-lite-tiny"), dir / "split.gguf", {"--kv-b", "split"}).exit_code, 0);
  ASSERT_EQ(convert(test::data_path("golden/v2-lite-tiny"), dir / "whole.gguf", {"--kv-b", "whole"}).exit_code, 0);
  const GgufFile split = GgufFile::open(dir / "split.gguf");
  // split: the absorbed (MQA) view in key/value_length, per-head sizes in the *_mla keys
  EXPECT_EQ(int_key(split, "deepseek2.attention.key_length"), 32 + 8);
  EXPECT_EQ(int_key(split, "deepseek2.attention.value_length"), 32);
  EXPECT_EQ(int_key(split, "deepseek2.attention.key_length_mla"), 16 + 8);
  EXPECT_EQ(int_key(split, "deepseek2.attention.value_length_mla"), 16);
  EXPECT_TRUE(split.find_tensor("blk.0.attn_k_b.weight"));
  EXPECT_FALSE(split.find_tensor("blk.0.attn_kv_b.weight"));
  const GgufFile whole = GgufFile::open(dir / "whole.gguf");
  // whole: no *_mla keys (their presence makes llama.cpp require attn_k_b / attn_v_b), per-head sizes
  EXPECT_FALSE(whole.find("deepseek2.attention.key_length_mla"));
  EXPECT_FALSE(whole.find("deepseek2.attention.value_length_mla"));
  EXPECT_EQ(int_key(whole, "deepseek2.attention.key_length"), 16 + 8);
  EXPECT_EQ(int_key(whole, "deepseek2.attention.value_length"), 16);
  EXPECT_TRUE(whole.find_tensor("blk.0.attn_kv_b.weight"));
  EXPECT_FALSE(whole.find_tensor("blk.0.attn_k_b.weight"));
  // and mlascope reads both back (generate one token from each)
  for (const char* f : {"split.gguf", "whole.gguf"}) {
    const test::RunResult g = test::run_command({test::mlascope_binary().string(), "info", "--model", (dir / f).string()});
    EXPECT_EQ(g.exit_code, 0) << f << ": " << g.err;
  }
  fs::remove_all(dir);
}

TEST(CmdConvert, GroupLimitedRoutingNoticeOnConvertAndOnLoad) {
  const fs::path dir = test::temp_dir("convert");
  const test::RunResult r = convert(test::data_path("golden/v2-grouped-yarn"), dir / "g.gguf");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("group-limited routing (n_group 4, topk_group 2)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("llama.cpp ranks them by the sum of each group's top-2 scores"), std::string::npos) << r.err;
  const test::RunResult info = test::run_command({test::mlascope_binary().string(), "info", "--model", (dir / "g.gguf").string()});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.err.find("group-limited routing (n_group 4, topk_group 2)"), std::string::npos) << info.err;
  // V3 (noaux_tc, group scores by top-2 sum in both engines) and greedy V2: no notice
  for (const char* m : {"golden/v3-tiny", "golden/v2-lite-tiny"}) {
    const test::RunResult q = convert(test::data_path(m), dir / "q.gguf");
    ASSERT_EQ(q.exit_code, 0) << q.err;
    EXPECT_EQ(q.err.find("group-limited"), std::string::npos) << m << ": " << q.err;
    const test::RunResult qi = test::run_command({test::mlascope_binary().string(), "info", "--model", (dir / "q.gguf").string()});
    EXPECT_EQ(qi.err.find("group-limited"), std::string::npos) << m << ": " << qi.err;
  }
  fs::remove_all(dir);
}
