// tests/app/test_cmd_perplexity.cpp — `mlascope perplexity` as a real process on the demo model and
// tests/data/text/english.txt: the JSON figures hang together (PPL = exp(mean NLL), the scored count
// is chunks x (ctx/2 - 1)), --save-logits then --kl-base on the same model gives KL 0 and 100 % top-1,
// --ctx beyond max_position_embeddings and lying inputs are one-line errors.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/data_paths.h"
#include "support/pty_session.h"
#include "support/temp_cleanup.h"

using namespace mlascope;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const test::TempCleanup kTempCleanup;

test::RunResult perplexity(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {test::mlascope_binary().string(), "perplexity", "--threads", "2"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return test::run_command(argv);
}

std::string text() { return test::data_path("text/english.txt").string(); }

}  // namespace

TEST(CmdPerplexity, JsonFiguresAndSelfComparison) {
  const fs::path dir = test::temp_dir("ppl-cmd");
  const std::string base = (dir / "base.kld").string();
  const test::RunResult r =
      perplexity({"--file", text(), "--ctx", "64", "--chunks", "3", "--save-logits", base, "--kv-type", "f32", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["n_ctx"], 64);
  EXPECT_EQ(j["n_chunk"], 3);
  EXPECT_EQ(j["scored_tokens"], 3 * (64 - 1 - 32));
  EXPECT_EQ(j["kv_dtype"], "f32");
  EXPECT_NE(j["scored"].get<std::string>().find("second half of each chunk"), std::string::npos);
  const double ppl = j["ppl"];
  EXPECT_NEAR(ppl, std::exp(j["nll_mean"].get<double>()), 1e-6 * ppl);
  // A model trained on English prose: far better than uniform over its 4096 tokens.
  EXPECT_GT(ppl, 1.0);
  EXPECT_LT(ppl, 400.0);
  EXPECT_EQ(j["chunk_ppl"].size(), 3u);
  EXPECT_TRUE(fs::exists(base));

  // Against its own logits: the same tokens (from the file), no divergence.
  const test::RunResult k = perplexity({"--file", text(), "--kl-base", base, "--kv-type", "f32", "--json"});
  ASSERT_EQ(k.exit_code, 0) << k.err;
  const json kj = json::parse(k.out);
  EXPECT_EQ(kj["n_ctx"], 64);
  EXPECT_EQ(kj["kl"]["tokens"], "the text tokenizes to the base file's ids");
  EXPECT_EQ(kj["kl"]["positions"], 3 * 31);
  EXPECT_DOUBLE_EQ(kj["kl"]["top1_agreement"].get<double>(), 1.0);
  EXPECT_LT(kj["kl"]["kld_mean"].get<double>(), 1e-6);
  EXPECT_LT(kj["kl"]["dlogprob_abs_max"].get<double>(), 3e-4);
  EXPECT_NEAR(kj["ppl"].get<double>(), ppl, 1e-9 * ppl);

  // The text view says what was scored and names the cache dtype (bf16 by default).
  const test::RunResult t = perplexity({"--kl-base", base});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("scored: second half of each chunk"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("KV cache bf16"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("top-1 agreement"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("PPL = "), std::string::npos) << t.out;
  fs::remove_all(dir);
}

TEST(CmdPerplexity, ErrorsAreOneLine) {
  // One line, the last on stderr (the loader's model summary may precede it).
  auto one_line = [](const test::RunResult& r, const std::string& what) {
    EXPECT_EQ(r.exit_code, 1);
    const size_t at = r.err.find("mlascope: [");
    ASSERT_NE(at, std::string::npos) << r.err;
    EXPECT_NE(r.err.find(what, at), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n', at), r.err.size() - 1) << r.err;
  };
  // the demo model's max_position_embeddings is 1024
  one_line(perplexity({"--file", text(), "--ctx", "2048"}), "max_position_embeddings 1024");
  const fs::path dir = test::temp_dir("ppl-cmd-bad");
  std::ofstream(dir / "short.txt", std::ios::binary) << "Only a few words here.";
  one_line(perplexity({"--file", (dir / "short.txt").string(), "--ctx", "64"}), "fewer than one chunk");
  one_line(perplexity({}), "--file");
  std::ofstream(dir / "junk.kld", std::ios::binary) << "not logits at all, just text";
  one_line(perplexity({"--kl-base", (dir / "junk.kld").string()}), "not a logits file");
  fs::remove_all(dir);
}
