// tests/app/test_cmd_bench.cpp — `mlascope bench` run as a real process on the demo model: the JSON
// line carries what was asked (threads, lengths, capture) and measured values, tracing while timing
// works, and bad requests fail in one line. Figures are never asserted on: speed lives in bench/.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/data_paths.h"
#include "support/pty_session.h"
#include "support/temp_cleanup.h"

using namespace mlascope;
using nlohmann::json;

namespace {
const test::TempCleanup kTempCleanup;

test::RunResult run_bench(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {test::mlascope_binary().string(), "bench", "--model",
                                   test::asset_path("models/mla-moe-demo").string(), "--threads", "1",
                                   "--no-bandwidth", "--reps", "1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return test::run_command(argv);
}
}  // namespace

TEST(CmdBench, JsonReportsTheRequestAndMeasuredRates) {
  for (const char* capture : {"off", "routing", "everything"}) {
    const test::RunResult r = run_bench({"--prompt-len", "8", "--gen", "4", "--json", "--capture", capture});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    EXPECT_EQ(j["capture"], capture);
    EXPECT_EQ(j["threads"], 1);
    EXPECT_EQ(j["prompt_len"], 8);
    EXPECT_EQ(j["gen"], 4);
    EXPECT_GT(j["prefill_tokens_per_s"].get<double>(), 0.0);
    EXPECT_GT(j["decode_tokens_per_s"].get<double>(), 0.0);
    EXPECT_GT(j["decode_bytes_per_token"].get<double>(), 0.0);
    EXPECT_GT(j["peak_rss_bytes"].get<double>(), 0.0);
  }
}

TEST(CmdBench, PromptBeyondTheContextIsOneLineError) {
  const test::RunResult r = run_bench({"--prompt-len", "100000", "--gen", "1"});
  EXPECT_EQ(r.exit_code, 1);
  // The load's info log may come first; the error is one line naming the model and the field.
  const size_t at = r.err.find("mlascope: [bench] ");
  ASSERT_NE(at, std::string::npos) << r.err;
  const std::string line = r.err.substr(at, r.err.find('\n', at) - at);
  EXPECT_NE(line.find("mla-moe-demo"), std::string::npos) << line;
  EXPECT_NE(line.find("max_position_embeddings"), std::string::npos) << line;
  EXPECT_EQ(r.err.find("mlascope: ", at + 1), std::string::npos) << r.err;
}

TEST(CmdBench, UnknownCaptureIsRejected) {
  const test::RunResult r = run_bench({"--capture", "sometimes"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--capture"), std::string::npos) << r.err;
}
