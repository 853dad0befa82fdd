// tests/app/test_cli_hygiene.cpp — the command line as a user meets it (issue 16, items 4–6), all
// through the real binary: one --threads rule everywhere, thread-creation failure as one line,
// readable range errors, --version, -n 0, --gqa-groups that must divide the heads, no .tmp left by a
// failed convert, generate --record into a file that is not a database, info on a preset .json,
// config numbers nlohmann cannot hold, a quiet chat start-up, and the chat's private line history.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/weights/gguf_writer.h"
#include "support/data_paths.h"
#include "support/pty_session.h"
#include "support/temp_cleanup.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

const test::TempCleanup kTempCleanup;

test::RunResult run(const std::vector<std::string>& args, const test::EnvOverrides& env = {}, double timeout_s = 120) {
  std::vector<std::string> argv;
  argv.reserve(args.size() + 1);
  argv.push_back(test::mlascope_binary().string());
  for (const std::string& a : args) argv.push_back(a);
  return test::run_command(argv, env, timeout_s);
}

// A refused command: exit status non-zero, stderr names `must_contain`, nothing like CLI11's DBL_MAX
// dump or an internal error, and no "terminate called".
void expect_refused(const test::RunResult& r, const std::string& must_contain) {
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(must_contain), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("179769313486"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << r.err;
}

// An error of ours: exit 1, exactly one line "mlascope: [where] ...".
void expect_one_error_line(const test::RunResult& r, const std::string& must_contain) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("mlascope: [", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(must_contain), std::string::npos) << r.err;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string demo() { return test::asset_path("models/mla-moe-demo").string(); }

}  // namespace

TEST(CliHygiene, ThreadsHaveOneRuleOnEveryCommand) {
  // Before: chat, the workbench and `sessions verify` took any int (-5 included), bench refused 0,
  // the others accepted 100000.
  const std::vector<std::vector<std::string>> commands = {
      {"generate", "--prompt-ids", "1"}, {"chat"}, {"eval", "--prompt-ids", "1", "--dump", "/nonexistent/x.safetensors"},
      {"bench", "--model", demo()},      {"perplexity", "--file", "/nonexistent"}, {"serve"},
      {},                                {"sessions", "verify", "1"}};
  for (const auto& cmd : commands) {
    for (const char* bad : {"-1", "1025", "2.5", "many"}) {
      std::vector<std::string> args = cmd;
      args.push_back(std::string("--threads=") + bad);
      const test::RunResult r = run(args);
      expect_refused(r, "--threads");
      const std::string name = cmd.empty() ? "(root)" : cmd[0];
      if (std::string(bad) == "-1" || std::string(bad) == "1025") {
        EXPECT_NE(r.err.find("must be 0 (all cores) or 1..1024, not " + std::string(bad)), std::string::npos) << name << ": " << r.err;
      }
    }
  }
  // 0 = all cores is accepted everywhere, bench included (it runs).
  const test::RunResult b = run({"bench", "--model", demo(), "--threads", "0", "--prompt-len", "4", "--gen", "2", "--reps", "1",
                                 "--no-bandwidth", "--json"});
  EXPECT_EQ(b.exit_code, 0) << b.err;
  if (b.exit_code == 0) {
    EXPECT_GE(nlohmann::json::parse(b.out)["threads"].get<int>(), 1) << b.out;
  }
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MLASCOPE_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MLASCOPE_TEST_ASAN 1
#endif

TEST(CliHygiene, ThreadsTheSystemRefusesAreOneLine) {
#ifdef MLASCOPE_TEST_ASAN
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of shadow address space: it cannot start under ulimit -v";
#endif
  // 1024 threads of 8 MiB stacks do not fit in 3 GiB of address space. Before: "internal error:
  // Resource temporarily unavailable" (exit 3), or "terminate called" from a worker thread.
  const std::string cmd = "ulimit -v 3145728; exec " + test::mlascope_binary().string() + " generate --model " + demo() +
                          " --prompt-ids 1,2 -n 1 --device cpu --threads 1024 --mmap -q";
  const test::RunResult r = test::run_command({"/bin/sh", "-c", cmd}, {}, 120);
  expect_one_error_line(r, "[cpu] threads: could start only ");
  EXPECT_NE(r.err.find("of 1024 threads"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("use a smaller --threads"), std::string::npos) << r.err;
}

TEST(CliHygiene, RangeErrorsAreReadable) {
  // Before: "--temperature: Value -1 not in range 0.000000 to 1797693134862315708145274237317043567980...".
  expect_refused(run({"generate", "--prompt-ids", "1", "--temperature", "-1"}), "--temperature: must be 0 or more, not -1");
  expect_refused(run({"generate", "--prompt-ids", "1", "--top-p", "1.5"}), "--top-p: must be in 0..1, not 1.5");
  expect_refused(run({"generate", "--prompt-ids", "1", "--repeat-penalty", "0"}), "--repeat-penalty: must be more than 0, not 0");
  expect_refused(run({"chat", "--max-tokens", "0"}), "--max-tokens: must be more than 0, not 0");
  expect_refused(run({"kv", "--preset", "deepseek-v3", "--context", "-4"}), "--context: must be more than 0, not -4");
}

TEST(CliHygiene, GenerateRefusesZeroTokens) {
  // Before: -n 0 loaded the model and printed an empty line.
  expect_refused(run({"generate", "--prompt-ids", "1", "-n", "0"}), "must be more than 0, not 0");
}

TEST(CliHygiene, VersionNamesTheProjectVersion) {
  const test::RunResult r = run({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind(std::string("mlascope ") + MLASCOPE_VERSION, 0), 0u) << r.out;
}

TEST(CliHygiene, GqaGroupsMustDivideTheHeads) {
  // Before: GQA-3 of 128 heads was printed as if it were a configuration a model could have.
  const test::RunResult r = run({"kv", "--preset", "deepseek-v3", "--gqa-groups", "3", "--json"});
  expect_one_error_line(r, "--gqa-groups 3: must divide num_attention_heads (128)");
  const test::RunResult ok = run({"kv", "--preset", "deepseek-v3", "--gqa-groups", "16", "--json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(nlohmann::json::parse(ok.out)["gqa_groups"], 16);
  // The default (8) becomes the largest divisor of a head count it does not divide (the demo's 4 heads).
  const test::RunResult d = run({"kv", "--config", demo(), "--json"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_EQ(nlohmann::json::parse(d.out)["gqa_groups"], 4);
}

TEST(CliHygiene, FailedConvertLeavesNoTmp) {
  // Before: `--to` an existing folder wrote all of OUT.tmp, failed to rename it, and left it there.
  const fs::path dir = test::temp_dir("convert-dir");
  const fs::path out = dir / "out.gguf";
  fs::create_directories(out);
  const test::RunResult r = run({"convert", "--model", demo(), "--to", out.string(), "--type", "f16", "--quiet"});
  expect_one_error_line(r, "is a directory");
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_NE(e.path().extension(), ".tmp") << e.path();

  // The writer itself: a tensor that cannot be produced midway leaves neither the file nor its .tmp.
  GgufWriter w;
  w.set_string("general.architecture", "deepseek2");
  const float one[1] = {1.0f};
  w.add_tensor("a.weight", DType::F32, {1}, one);
  w.add_tensor("b.weight", DType::F32, {1}, [](uint8_t*) { fail("test", "b.weight", "cannot be produced"); });
  const fs::path file = dir / "partial.gguf";
  EXPECT_THROW(w.write(file), Error);
  EXPECT_FALSE(fs::exists(file));
  EXPECT_FALSE(fs::exists(dir / "partial.gguf.tmp"));
}

TEST(CliHygiene, GenerateRecordIntoAFileThatIsNotADatabaseIsOneLine) {
  // Before: a warning, then the generation ran and the command exited 0 with nothing recorded.
  const fs::path dir = test::temp_dir("record-notdb");
  const fs::path notdb = dir / "notes.txt";
  std::ofstream(notdb) << "these are my notes, not a database\n";
  const test::RunResult r = run({"generate", "--model", demo(), "--prompt-ids", "1,2", "-n", "2", "--device", "cpu",
                                 "--threads", "2", "--record", "--session-db", notdb.string()});
  expect_one_error_line(r, notdb.string());
  EXPECT_EQ(read_all(notdb), "these are my notes, not a database\n");
}

TEST(CliHygiene, InfoOnAPresetJsonNamesThatFile) {
  // Before: "[config] .../assets/presets/config.json: cannot open" — a file the user never named.
  const std::string preset = test::asset_path("presets/DeepSeek-V3.json").string();
  const test::RunResult r = run({"info", "--model", preset});
  expect_one_error_line(r, "[model] " + preset + ": is a JSON file, not a model");
  EXPECT_EQ(r.err.find("presets/config.json"), std::string::npos) << r.err;
}

TEST(CliHygiene, ConfigNumbersBeyondDoubleAreOneLine) {
  // nlohmann turns 1e999 into an out_of_range error; it must reach the user as the config's error.
  const fs::path dir = test::temp_dir("cfg-1e999");
  std::string text = read_all(test::asset_path("models/mla-moe-demo/config.json"));
  const size_t at = text.find("\"rms_norm_eps\"");
  ASSERT_NE(at, std::string::npos);
  const size_t colon = text.find(':', at), end = text.find_first_of(",}", colon);
  text = text.substr(0, colon + 1) + " 1e999" + text.substr(end);
  std::ofstream(dir / "config.json") << text;
  fs::copy_file(test::asset_path("models/mla-moe-demo/model.safetensors"), dir / "model.safetensors");
  expect_one_error_line(run({"info", "--model", dir.string()}), (dir / "config.json").string());
  expect_one_error_line(run({"kv", "--config", (dir / "config.json").string()}), (dir / "config.json").string());
}

// The chat in a real terminal: a quiet start-up (one load bar, then the banner; -v shows the
// engine's log lines) and the line history: beside --session-db, mode 0600, none with --no-history
// or --no-record. Before: "[engine] [info]" lines preceded the banner, and the history went to
// ~/.local/share/mlascope/chat_history (mode 0644) whatever --session-db said.
TEST(CliHygiene, ChatStartsQuietlyAndKeepsItsHistoryPrivateBesideTheDatabase) {
  const fs::path home = test::temp_dir("chat-history");
  const test::EnvOverrides env = {{"HOME", home.string()}, {"XDG_DATA_HOME", (home / "data").string()}, {"TERM", "xterm"},
                                  {"NO_COLOR", "1"}, {"MLASCOPE_MODEL", "\x01unset"}, {"MLASCOPE_SESSION_DB", "\x01unset"}};
  auto session = [&](const fs::path& db, const std::vector<std::string>& extra, const std::string& line) {
    std::vector<std::string> argv = {test::mlascope_binary().string(), "chat", "--session-db", db.string(), "--device", "cpu",
                                     "--threads", "2"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    test::PtySession s(argv, env);
    EXPECT_TRUE(s.wait_for("> ", 120)) << s.text_since(0);
    const std::string start = s.text_since(0);
    size_t m = s.mark();
    s.send_line(line);
    EXPECT_TRUE(s.wait_for("MQA", 30, m)) << s.text_since(m);
    s.ctrl_d();
    EXPECT_EQ(s.wait_exit(30), 0) << s.text_since(0);
    return start;
  };
  const fs::path a = home / "a" / "sessions.db";
  const std::string quiet = session(a, {}, "/kv private line");
  const std::string banner_at = "mlascope chat";
  ASSERT_NE(quiet.find(banner_at), std::string::npos) << quiet;
  const std::string before_banner = quiet.substr(0, quiet.find(banner_at));
  EXPECT_EQ(before_banner.find("[info]"), std::string::npos) << before_banner;
  EXPECT_EQ(before_banner.find("[engine]"), std::string::npos) << before_banner;

  const fs::path hist = home / "a" / "chat_history";
  ASSERT_TRUE(fs::exists(hist));
  struct stat st {};
  ASSERT_EQ(::stat(hist.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // libedit's format: one line each, spaces written as \040.
  EXPECT_NE(read_all(hist).find("private"), std::string::npos);
  EXPECT_FALSE(fs::exists(home / "data" / "mlascope" / "chat_history"));

  const std::string verbose = session(home / "v" / "sessions.db", {"-v", "--no-history"}, "/kv");
  EXPECT_NE(verbose.find("[info]"), std::string::npos) << verbose;
  EXPECT_FALSE(fs::exists(home / "v" / "chat_history"));
  session(home / "n" / "sessions.db", {"--no-record"}, "/kv");
  EXPECT_FALSE(fs::exists(home / "n" / "chat_history"));

  // chat --help says where the history goes and how to turn it off.
  const test::RunResult help = run({"chat", "--help"});
  EXPECT_NE(help.out.find("chat_history"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--no-history"), std::string::npos) << help.out;
}

TEST(CliHygiene, BundledSessionsVerifyAgainstTheDemoModel) {
  // Both bundled chats (assets/sessions/README.md), greedy and sampled, re-run token for token.
  // Before: the sampled one was recorded without its answers' samplers, and verify re-ran it greedy.
  const fs::path dir = test::temp_dir("bundled-verify");
  const fs::path db = dir / "demo-sessions.db";
  fs::copy_file(test::asset_path("sessions/demo-sessions.db"), db);
  const test::RunResult list = run({"sessions", "list", "--json", "--session-db", db.string()});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const nlohmann::json all = nlohmann::json::parse(list.out);
  ASSERT_EQ(all.size(), 2u) << list.out;
  for (const auto& s : all) {
    const test::RunResult r = run({"sessions", "verify", std::to_string(s["id"].get<int64_t>()), "--session-db", db.string(),
                                   "--model", demo(), "--threads", "2"},
                                  {}, 300);
    EXPECT_EQ(r.exit_code, 0) << s["title"] << ": " << r.out << r.err;
    EXPECT_NE(r.out.find("match the re-run"), std::string::npos) << s["title"] << ": " << r.out;
  }
}

TEST(CliHygiene, JsonOutputNamingAPathThatIsNotUtf8IsValidJson) {
  // A model folder whose name is not UTF-8 (bytes a file system allows). Before: kv --json and
  // bench --json left as "internal error: [json.exception.type_error.316] invalid UTF-8 byte" (exit 3).
  const fs::path dir = test::temp_dir("json-utf8") / "demo\xff";
  fs::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(test::asset_path(std::string("models/mla-moe-demo/") + f), dir / f);
  const std::vector<std::vector<std::string>> commands = {
      {"kv", "--json", "--config", (dir / "config.json").string()},
      {"info", "--json", "--model", dir.string(), "-q"},
      {"bench", "--json", "--model", dir.string(), "--prompt-len", "2", "--gen", "1", "--reps", "1", "--no-warmup",
       "--no-bandwidth", "--threads", "2", "-q"}};
  for (const auto& cmd : commands) {
    const test::RunResult r = run(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd[0] << ": " << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << cmd[0] << ": " << r.err;
    if (r.exit_code != 0) continue;
    const nlohmann::json j = nlohmann::json::parse(r.out);  // valid JSON, U+FFFD for the bad byte
    EXPECT_NE(j.dump().find("demo\xef\xbf\xbd"), std::string::npos) << cmd[0] << ": " << r.out;
  }
}

// --no-mmap reads even a small file into memory, where Q8_0 (like Q4_K and Q5_0) takes the CPU
// kernels' layout (the debug log says so); --mmap keeps the file's pages; both at once are refused.
// Both ways the same greedy ids: the same integers summed in another order (the tiny model's logits
// are far from ties; test_gguf_golden holds the reordered model to the fp32 reference).
TEST(CliHygiene, NoMmapHoldsBlockTypesInTheCpuLayouts) {
  const fs::path dir = test::temp_dir("no-mmap");
  const fs::path gguf = dir / "q8.gguf";
  ASSERT_EQ(run({"convert", "--model", test::data_path("golden/v3-tiny").string(), "--to", gguf.string(), "--type", "q8_0", "--quiet"}).exit_code, 0);
  const std::vector<std::string> gen = {"generate", "--model", gguf.string(), "--prompt-ids", "1,2,3", "-n", "6", "--temperature", "0",
                                        "--device", "cpu", "-v"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = gen;
    a.insert(a.end(), extra.begin(), extra.end());
    return run(a);
  };
  const test::RunResult resident = with({"--no-mmap"}), mapped = with({"--mmap"});
  ASSERT_EQ(resident.exit_code, 0) << resident.err;
  ASSERT_EQ(mapped.exit_code, 0) << mapped.err;
  EXPECT_NE(resident.err.find("reordered for the CPU kernels"), std::string::npos) << resident.err;
  EXPECT_EQ(mapped.err.find("reordered for the CPU kernels"), std::string::npos) << mapped.err;
  EXPECT_FALSE(resident.out.empty());
  EXPECT_EQ(resident.out, mapped.out);
  expect_refused(with({"--no-mmap", "--mmap"}), "--no-mmap");
  fs::remove_all(dir);
}
