// tests/sessions/test_cmd_sessions.cpp — `mlascope sessions ...` as a user runs it: the real binary
// against a real database file recorded here.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sessions/recorder.h"
#include "sessions/synthetic.h"
#include "support/data_paths.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

struct CliRun {
  int code = -1;
  std::string out;  // stdout and stderr
};

// `env`: "NAME=value" assignments for the child's environment.
CliRun run_cli(const std::string& args, const std::string& env = "") {
  const std::string cmd = env + " " + test::mlascope_binary().string() + " " + args + " 2>&1";
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

int64_t record_demo(const fs::path& db, const std::string& title, int n_tokens) {
  SessionMeta m;
  std::ifstream in(test::asset_path("models/mla-moe-demo/config.json"));
  std::stringstream ss;
  ss << in.rdbuf();
  m.config_json = ss.str();
  m.config = ModelConfig::from_json_text(m.config_json, "demo");
  m.title = title;
  m.model_name = "mla-moe-demo";
  auto rec = sessions::SessionRecorder::start(db, m);
  rec->add_message(0, {"user", "hi there", 0, n_tokens});
  for (int p = 0; p < n_tokens; ++p) rec->record(sessions::synthetic_step(m.config, {}, 8, p));
  return rec->session_id();
}

}  // namespace

TEST(CmdSessions, ListShowExportDelete) {
  const fs::path dir = test::temp_dir("cmd-sessions");
  const fs::path db = dir / "s.db";
  const int64_t a = record_demo(db, "alpha chat", 12);
  const int64_t b = record_demo(db, "beta chat", 5);
  const std::string opt = " --session-db " + db.string();

  CliRun r = run_cli("sessions list" + opt);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("alpha chat"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("beta chat"), std::string::npos) << r.out;

  r = run_cli("sessions list --json --search ALPHA" + opt);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["id"], a);
  EXPECT_EQ(j[0]["tokens"], 12);

  // The environment variable is the default location.
  r = run_cli("sessions list --json", "MLASCOPE_SESSION_DB=" + db.string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 2u);

  r = run_cli("sessions show " + std::to_string(a) + opt);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("hi there"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tokens    12"), std::string::npos) << r.out;

  const fs::path csv = dir / "routing.csv";
  r = run_cli("sessions export " + std::to_string(a) + " --format routing -o " + csv.string() + opt);
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream in(csv);
  std::string line;
  int rows = -1;
  while (std::getline(in, line)) ++rows;
  EXPECT_EQ(rows, 12 * 5 * 4);  // tokens x MoE layers x top-k

  r = run_cli("sessions export " + std::to_string(a) + " --format attention --layer 2" + opt);
  EXPECT_EQ(r.code, 1);  // routing policy: no attention captured, said in one line
  EXPECT_NE(r.out.find("not captured"), std::string::npos) << r.out;

  r = run_cli("sessions delete " + std::to_string(b) + opt);
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_cli("sessions delete " + std::to_string(b) + opt);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("no session with id"), std::string::npos) << r.out;
  r = run_cli("sessions list --json" + opt);
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 1u);
  fs::remove_all(dir);
}

TEST(CmdSessions, ForeignFileIsOneLineErrorAndExitOne) {
  const fs::path dir = test::temp_dir("cmd-foreign");
  const fs::path f = dir / "x.db";
  std::ofstream(f) << "not sqlite at all, just text that is long enough to look like something";
  const CliRun r = run_cli("sessions list --session-db " + f.string());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(f.string()), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;  // exactly one line
  fs::remove_all(dir);
}
