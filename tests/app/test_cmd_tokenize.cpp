// tests/app/test_cmd_tokenize.cpp — `mlascope tokenize` run as a real process: ids against the
// reference DeepSeek-V3 ids (golden cases) and the demo model's golden prompt; the input taken
// byte for byte; errors as one line with exit status 1.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/config.h"
#include "engine/weights/gguf.h"
#include "engine/weights/gguf_export.h"
#include "engine/weights/gguf_writer.h"
#include "support/data_paths.h"
#include "support/pty_session.h"

using namespace mlascope;
using nlohmann::json;

namespace {

test::RunResult tokenize(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {test::mlascope_binary().string(), "tokenize"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return test::run_command(argv);
}

json read_json(const std::filesystem::path& p) {
  std::ifstream f(p);
  return json::parse(f);
}

}  // namespace

TEST(CmdTokenize, FileIsTakenByteForByte) {
  // A golden case with trailing newline-free text plus leading spaces: nothing may be stripped.
  const json g = read_json(test::data_path("golden/tokenizer/deepseek-v3-cases.json"));
  int used = 0;
  const auto dir = test::temp_dir("tokenize");
  for (const json& c : g["cases"]) {
    const std::string text = c["text"];
    if (text.empty() || (text.front() != ' ' && text.back() != '\n' && text.back() != ' ')) continue;
    std::ofstream(dir / "in.txt", std::ios::binary) << text;
    const test::RunResult r =
        tokenize({"--tokenizer", test::data_path("tokenizers/deepseek-v3").string(), "--file", (dir / "in.txt").string(), "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json out = json::parse(r.out);
    EXPECT_EQ(out["ids"].get<std::vector<int32_t>>(), c["ids"].get<std::vector<int32_t>>()) << text;
    EXPECT_EQ(out["tokens"].size(), out["ids"].size());
    if (++used == 5) break;
  }
  EXPECT_GE(used, 3);
  std::filesystem::remove_all(dir);
}

TEST(CmdTokenize, DemoModelIsTheDefaultAndBosIsOptIn) {
  const test::RunResult r = tokenize({"--text", "And God said unto Moses, ", "--bos"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "0 1721 654 634 472 1669 14 223\n");  // golden prompt_ids[0..7]
  const test::RunResult j = tokenize({"--text", "And God", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const json out = json::parse(j.out);
  EXPECT_EQ(out["ids"], json::array({1721, 654}));
  EXPECT_EQ(out["tokens"], json::array({"And", " God"}));
}

TEST(CmdTokenize, ErrorsAreOneLine) {
  const test::RunResult a = tokenize({"--tokenizer", "/nonexistent/tok", "--text", "x"});
  EXPECT_EQ(a.exit_code, 1);
  EXPECT_NE(a.err.find("/nonexistent/tok"), std::string::npos) << a.err;
  EXPECT_EQ(a.err.find('\n'), a.err.size() - 1) << a.err;
  const test::RunResult b = tokenize({});
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_NE(b.err.find("--text"), std::string::npos) << b.err;
  const auto dir = test::temp_dir("tokenize-bad");
  std::ofstream(dir / "tokenizer.json") << "{\"model\": ";
  const test::RunResult c = tokenize({"--tokenizer", dir.string(), "--text", "x"});
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_NE(c.err.find("tokenizer.json: malformed JSON"), std::string::npos) << c.err;
  std::filesystem::remove_all(dir);
}

// --tokenizer FILE.gguf: the tokenizer a GGUF carries (tokenizer.ggml.*), here the demo model's
// written into a GGUF; the ids are the demo model's golden prompt ids.
TEST(CmdTokenize, GgufFileCarriesTheTokenizer) {
  const auto demo = test::asset_path("models/mla-moe-demo");
  const mlascope::ModelConfig cfg = mlascope::ModelConfig::from_file(demo / "config.json");
  const mlascope::GgufTokenizer t = mlascope::gguf_tokenizer_from_hf(demo, cfg);
  const auto dir = test::temp_dir("tokenize-gguf");
  mlascope::GgufWriter w;
  w.set_string("general.architecture", "deepseek2");
  w.set_string("tokenizer.ggml.model", t.model);
  w.set_string("tokenizer.ggml.pre", t.pre);
  w.set_strings("tokenizer.ggml.tokens", t.tokens);
  w.set_i32s("tokenizer.ggml.token_type", t.token_types);
  w.set_strings("tokenizer.ggml.merges", t.merges);
  w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(t.bos_id));
  w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(t.eos_id));
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.write(dir / "demo-tok.gguf");
  const test::RunResult r = tokenize({"--tokenizer", (dir / "demo-tok.gguf").string(), "--text", "And God said unto Moses, ", "--bos"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "0 1721 654 634 472 1669 14 223\n");  // golden prompt_ids[0..7]

  mlascope::GgufWriter bare;
  bare.set_string("general.architecture", "deepseek2");
  bare.write(dir / "bare.gguf");
  const test::RunResult e = tokenize({"--tokenizer", (dir / "bare.gguf").string(), "--text", "x"});
  EXPECT_EQ(e.exit_code, 1);
  EXPECT_NE(e.err.find("bare.gguf"), std::string::npos) << e.err;
  EXPECT_NE(e.err.find("tokenizer.ggml.tokens"), std::string::npos) << e.err;
  std::filesystem::remove_all(dir);
}
