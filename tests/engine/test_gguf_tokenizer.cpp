// tests/engine/test_gguf_tokenizer.cpp — a tokenizer carried in GGUF metadata (tokenizer.ggml.*)
// encodes exactly as the reference: the real DeepSeek-V3 vocabulary against the golden ids of the
// reference tokenizer, and the demo model's embedded tokenizer against its tokenizer.json.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/weights/gguf.h"
#include "engine/weights/gguf_export.h"
#include "engine/weights/gguf_file.h"
#include "engine/weights/gguf_writer.h"
#include "engine/weights/weight_store.h"
#include "support/data_paths.h"

using namespace mlascope;
namespace fs = std::filesystem;

TEST(GgufTokenizer, DeepSeekV3VocabularyMatchesReferenceIds) {
  const ModelConfig cfg = ModelConfig::from_file(test::data_path("golden/v3-tiny/config.json"));
  const GgufTokenizer t = gguf_tokenizer_from_hf(test::data_path("tokenizers/deepseek-v3"), cfg);
  const fs::path dir = test::temp_dir("gguf-tok");
  GgufWriter w;
  w.set_string("general.architecture", "deepseek2");
  w.set_string("tokenizer.ggml.model", t.model);
  w.set_string("tokenizer.ggml.pre", t.pre);
  w.set_strings("tokenizer.ggml.tokens", t.tokens);
  w.set_i32s("tokenizer.ggml.token_type", t.token_types);
  w.set_strings("tokenizer.ggml.merges", t.merges);
  w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(t.bos_id));
  w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(t.eos_id));
  w.set_bool("tokenizer.ggml.add_bos_token", t.add_bos);
  w.write(dir / "v3-tok.gguf");

  TokenizerParts parts;
  fill_tokenizer_parts(tokenizer_from_gguf(GgufFile::open(dir / "v3-tok.gguf")), &parts);
  const Tokenizer tok = Tokenizer::from_parts(parts, "v3-tok.gguf");
  EXPECT_EQ(tok.bos_id(), 0);  // <｜begin▁of▁sentence｜> in DeepSeek-V3
  EXPECT_EQ(tok.eos_id(), 1);

  std::ifstream f(test::data_path("golden/tokenizer/deepseek-v3-cases.json"));
  const nlohmann::json cases = nlohmann::json::parse(f)["cases"];
  ASSERT_GT(cases.size(), 100u);
  int same = 0;
  for (const auto& c : cases) {
    const auto want = c["ids"].get<std::vector<int32_t>>();
    const auto got = tok.encode(c["text"].get<std::string>());
    same += got == want;
    EXPECT_EQ(got, want) << c["text"].get<std::string>();
  }
  EXPECT_EQ(same, static_cast<int>(cases.size()));
  fs::remove_all(dir);
}

TEST(GgufTokenizer, DemoModelEmbeddedTokenizerEqualsTokenizerJson) {
  const fs::path demo = test::asset_path("models/mla-moe-demo");
  const ModelConfig cfg = ModelConfig::from_file(demo / "config.json");
  const fs::path dir = test::temp_dir("gguf-tok");
  const GgufTokenizer t = gguf_tokenizer_from_hf(demo, cfg);
  GgufExportOptions o;
  o.type = DType::Q8_0;
  o.tokenizer = &t;
  export_gguf(WeightStore::open(demo), cfg, dir / "demo.gguf", o);
  ModelLoadOptions lo;
  lo.check_memory = false;
  const auto model = Model::load(dir / "demo.gguf", lo);
  ASSERT_TRUE(model->embedded_tokenizer());
  const Tokenizer from_gguf = Tokenizer::from_parts(*model->embedded_tokenizer(), "demo.gguf");
  const Tokenizer reference = Tokenizer::from_dir(demo);
  for (const char* text : {"In the beginning God created the heaven and the earth.",
                           "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
                           "date,city,temp\n2024-01-03,Oslo,-4.5\n", "12345678 + 9 = 12345687", "日本語のテキスト 🙂 café",
                           "   leading spaces and\ttabs\r\n"}) {
    EXPECT_EQ(from_gguf.encode(text), reference.encode(text)) << text;
  }
  EXPECT_EQ(from_gguf.bos_id(), reference.bos_id());
  EXPECT_EQ(from_gguf.eos_id(), reference.eos_id());
  EXPECT_EQ(from_gguf.add_bos(), reference.add_bos());
  fs::remove_all(dir);
}

// A merge with a second space used to pass tokenizer_from_gguf and fail later in
// fill_tokenizer_parts with "[gguf] : ..." naming no file; now the reader refuses it naming the
// file and the key, like every other malformed merge.
TEST(GgufTokenizer, MergeWithTwoSpacesNamesFileAndKey) {
  const fs::path dir = test::temp_dir("gguf-tok-merge");
  GgufWriter w;
  w.set_string("general.architecture", "deepseek2");
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_strings("tokenizer.ggml.tokens", {"a", "b", "ab"});
  w.set_strings("tokenizer.ggml.merges", {"a b", "a b b"});
  w.write(dir / "bad-merges.gguf");
  try {
    (void)tokenizer_from_gguf(GgufFile::open(dir / "bad-merges.gguf"));
    ADD_FAILURE() << "a merge of three tokens was accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("bad-merges.gguf"), std::string::npos) << m;
    EXPECT_NE(m.find("tokenizer.ggml.merges"), std::string::npos) << m;
    EXPECT_NE(m.find("'a b b'"), std::string::npos) << m;
  }
  // The same file with well-formed merges loads (the refusal is about the entry, not the file).
  GgufWriter ok;
  ok.set_string("general.architecture", "deepseek2");
  ok.set_string("tokenizer.ggml.model", "gpt2");
  ok.set_strings("tokenizer.ggml.tokens", {"a", "b", "ab"});
  ok.set_strings("tokenizer.ggml.merges", {"a b"});
  ok.write(dir / "good-merges.gguf");
  EXPECT_EQ(tokenizer_from_gguf(GgufFile::open(dir / "good-merges.gguf")).merges.size(), 1u);
  fs::remove_all(dir);
}
