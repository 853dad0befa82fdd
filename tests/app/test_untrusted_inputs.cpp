// tests/app/test_untrusted_inputs.cpp — the commands as real processes on crafted files (issue 16):
// a session with a lying attention row, token text that is not UTF-8, nested JSON in a stored
// field, a damaged database, a lying tokenizer_config.json and a tiny GGUF declaring a huge model.
// Each gave a crash, "internal error" (exit 3) or minutes of work before; now the command either
// works on what the file can back (with one warning line per skipped record) or exits 1 with one
// line naming the file.
#include <gtest/gtest.h>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "engine/config.h"
#include "engine/weights/gguf_writer.h"
#include "sessions/recorder.h"
#include "sessions/synthetic.h"
#include "support/data_paths.h"
#include "support/pty_session.h"
#include "support/temp_cleanup.h"

using namespace mlascope;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const test::TempCleanup kTempCleanup;

struct Db {
  fs::path path;
  int64_t id = -1;
};

Db record(const std::string& tag) {
  Db d;
  d.path = test::temp_dir(tag) / "sessions.db";
  SessionMeta meta;
  std::ifstream in(test::asset_path("models/mla-moe-demo/config.json"));
  meta.config_json.assign(std::istreambuf_iterator<char>(in), {});
  meta.config = ModelConfig::from_json_text(meta.config_json, "demo");
  meta.title = "crafted";
  CaptureSettings cap;
  cap.policy = meta.capture = CapturePolicy::Everything;
  auto rec = sessions::SessionRecorder::start(d.path, meta);
  d.id = rec->session_id();
  for (int p = 0; p < 10; ++p) rec->record(sessions::synthetic_step(meta.config, cap, 5, p, 4));
  rec->add_message(0, {"user", "prompt", 0, 4, ""});
  rec->add_message(1, {"assistant", "reply", 4, 10, ""});
  rec->flush();
  return d;
}

void sql(const Db& d, const std::string& statement, const std::vector<uint8_t>& blob = {}) {
  SQLite::Database db(d.path.string(), SQLite::OPEN_READWRITE);
  SQLite::Statement st(db, statement);
  if (statement.find('?') != std::string::npos) st.bind(1, blob.data(), static_cast<int>(blob.size()));
  st.exec();
}

test::RunResult run(std::vector<std::string> args) {
  args.insert(args.begin(), test::mlascope_binary().string());
  return test::run_command(args);
}

// stderr is exactly one "mlascope: ..." line: the error of a command that refused its input.
void expect_one_error_line(const test::RunResult& r, const std::string& must_contain) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("mlascope: [", 0), 0u) << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(must_contain), std::string::npos) << r.err;
}

}  // namespace

TEST(UntrustedInputs, InspectAttentionWithKeysPastThePositionWarnsInsteadOfReadingPastTheTokens) {
  // Before: n_keys 400000 at position 9 (keys far past the 10 tokens, one of them the most
  // attended) made `inspect attention` read token 390000 of 10: SIGSEGV.
  const Db d = record("nkeys");
  std::vector<uint8_t> probs(4 * 400000 * 2, 0);
  for (size_t h = 0; h < 4; ++h) probs[(h * 400000 + 390000) * 2 + 1] = 0x3c;  // f16 1.0
  sql(d, "UPDATE attention SET n_keys = 400000, probs = ?, nope = NULL, rope = NULL WHERE position = 9 AND layer = 0", probs);
  for (bool as_json : {false, true}) {
    std::vector<std::string> args = {"inspect", "attention", std::to_string(d.id), "--layer", "0", "--session-db", d.path.string()};
    if (as_json) args.push_back("--json");
    const test::RunResult r = run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("mlascope: warning: [sessions] " + d.path.string() + ": session " + std::to_string(d.id) +
                         ", position 9, attention layer 0: n_keys 400000 is outside 1..position + 1 (10); row skipped"),
              std::string::npos)
        << r.err;
    if (as_json) EXPECT_TRUE(json::parse(r.out)["top"].empty()) << r.out;
    else EXPECT_NE(r.out.find("not captured"), std::string::npos) << r.out;
  }
  // The other layers of that token are intact.
  const test::RunResult ok = run({"inspect", "attention", std::to_string(d.id), "--layer", "1", "--json", "--session-db", d.path.string()});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(json::parse(ok.out)["top"].size(), 8u);
}

TEST(UntrustedInputs, JsonOutputOfTextThatIsNotUtf8IsValidJson) {
  // Before: nlohmann type_error.316 escaped as "internal error" (exit 3).
  const Db d = record("utf8");
  sql(d, "UPDATE tokens SET text = CAST(X'41FF42C3' AS TEXT) WHERE position = 2");
  const test::RunResult r = run({"inspect", "routing", std::to_string(d.id), "--pos", "2", "--json", "--session-db", d.path.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["text"], "A\xef\xbf\xbd" "B\xef\xbf\xbd");  // U+FFFD for each bad byte
  const fs::path out = d.path.parent_path() / "export.json";
  const test::RunResult e = run({"sessions", "export", std::to_string(d.id), "--format", "json", "-o", out.string(), "--session-db", d.path.string()});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  std::ifstream f(out);
  EXPECT_EQ(json::parse(f)["tokens"][2]["text"], "A\xef\xbf\xbd" "B\xef\xbf\xbd");
}

TEST(UntrustedInputs, NestedSamplerJsonNoLongerOverflowsTheStackOfExport) {
  const Db d = record("deep");
  sql(d, "UPDATE sessions SET sampler_json = '" + std::string(200000, '[') + std::string(200000, ']') + "'");
  const fs::path out = d.path.parent_path() / "export.json";
  const test::RunResult e = run({"sessions", "export", std::to_string(d.id), "--format", "json", "-o", out.string(), "--session-db", d.path.string()});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.err.find("sampler_json nests deeper than 128 levels; dropped"), std::string::npos) << e.err;
  std::ifstream f(out);
  EXPECT_TRUE(json::parse(f)["session"]["sampler"].is_null());
}

TEST(UntrustedInputs, DamagedDatabaseInReplayAndInspectIsOneErrorLine) {
  // Before: replay of an id whose sessions table page is damaged left as "internal error".
  const Db d = record("malformed");
  int root = 0, page_size = 0;
  {
    SQLite::Database db(d.path.string(), SQLite::OPEN_READWRITE);
    db.exec("PRAGMA journal_mode = DELETE");
    root = db.execAndGet("SELECT rootpage FROM sqlite_master WHERE name = 'sessions'").getInt();
    page_size = db.execAndGet("PRAGMA page_size").getInt();
  }
  {
    std::fstream f(d.path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(root - 1) * page_size);
    const std::string junk(static_cast<size_t>(page_size), '\xa5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  for (const std::vector<std::string>& cmd : {std::vector<std::string>{"replay", std::to_string(d.id)},
                                              std::vector<std::string>{"inspect", "routing", std::to_string(d.id)},
                                              std::vector<std::string>{"inspect", "experts", "last"}}) {
    std::vector<std::string> args = cmd;
    args.push_back("--session-db");
    args.push_back(d.path.string());
    expect_one_error_line(run(args), "[sessions] " + d.path.string() + ": ");
  }
}

TEST(UntrustedInputs, LyingTokenizerConfigIsOneErrorLineNotAnInternalError) {
  const fs::path dir = test::temp_dir("tokcfg");
  fs::copy_file(test::asset_path("models/mla-moe-demo/tokenizer.json"), dir / "tokenizer.json");
  for (const char* cfg : {R"({"add_bos_token": 1e999})", R"({"chat_template": [{"name": [], "template": "x"}]})",
                          R"({"chat_template": [{"name": null, "template": "x"}]})"}) {
    std::ofstream(dir / "tokenizer_config.json", std::ios::trunc) << cfg;
    expect_one_error_line(run({"tokenize", "--tokenizer", dir.string(), "--text", "hi"}),
                          "[tokenizer] " + (dir / "tokenizer_config.json").string() + ": ");
  }
}

TEST(UntrustedInputs, TinyGgufDeclaringAHugeModelIsRefusedAtOnce) {
  // Before: `info` on this 680-byte file ran past 300 s and 5.9 GB (killed).
  GgufWriter w;
  w.set_string("general.architecture", "deepseek2");
  for (const auto& [k, v] : std::vector<std::pair<std::string, uint32_t>>{
           {"block_count", 1024}, {"embedding_length", 1}, {"feed_forward_length", 1}, {"attention.head_count", 1},
           {"attention.kv_lora_rank", 1}, {"rope.dimension_count", 0}, {"attention.key_length", 1},
           {"attention.value_length", 1}, {"expert_count", 65536}, {"expert_used_count", 1},
           {"expert_feed_forward_length", 1}, {"context_length", 16}})
    w.set_u32("deepseek2." + k, v);
  const float embd[2] = {1, 2};
  w.add_tensor("token_embd.weight", DType::F32, {2, 1}, embd);
  const fs::path p = test::temp_dir("tinygguf") / "tiny.gguf";
  w.write(p);
  const test::RunResult r = test::run_command({test::mlascope_binary().string(), "info", "--model", p.string()}, {}, 60);
  expect_one_error_line(r, "tensor 'blk.0.attn_norm.weight' (model.layers.0.input_layernorm.weight) is missing");
}

TEST(UntrustedInputs, FileBytesInErrorLinesAreEscaped) {
  // A GGUF whose architecture string carries a newline and an ANSI sequence.
  GgufWriter w;
  w.set_string("general.architecture", "llama\n\x1b[31mred");
  const fs::path p = test::temp_dir("escape") / "evil.gguf";
  w.write(p);
  const test::RunResult r = run({"info", "--model", p.string()});
  expect_one_error_line(r, "general.architecture 'llama\\n\\x1b[31mred' is not supported");
}
