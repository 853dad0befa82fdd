// tests/remote/test_remote_gui.cpp — the workbench connected to a server (File > Connect to
// server..., script verb connect_server): the real window under Xvfb, the real `mlascope serve` on
// the demo model as a child, a config-only folder on the GUI side. The chat answers with the
// model card's greedy text, the status line names the remote backend, and the recorded session
// names the server. Skips without a GUI build or without xvfb-run.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>

#include <gtest/gtest.h>

#include "engine/trace/trace_model.h"
#include "sessions/reader.h"
#include "support/data_paths.h"
#include "support/pty_session.h"
#include "support/temp_cleanup.h"

namespace mlascope {
namespace {

namespace fs = std::filesystem;
const test::TempCleanup kTempCleanup;

TEST(RemoteGui, ConnectToServerChatsAndRecords) {
#ifndef MLASCOPE_HAVE_GUI
  GTEST_SKIP() << "built without the GUI";
#endif
  std::string xvfb;  // run_command execs without a PATH search
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/bin"})
    if (fs::exists(fs::path(dir) / "xvfb-run")) xvfb = (fs::path(dir) / "xvfb-run").string();
  if (xvfb.empty()) GTEST_SKIP() << "xvfb-run not installed";
  const fs::path home = test::temp_dir("remote-gui");
  const fs::path demo = test::asset_path("models/mla-moe-demo");
  const fs::path cfg = home / "served-demo";
  fs::create_directories(cfg);
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"}) fs::copy_file(demo / f, cfg / f);
  const test::EnvOverrides env = {{"HOME", home.string()}, {"XDG_DATA_HOME", (home / "data").string()},
                                  {"XDG_CONFIG_HOME", (home / "config").string()}, {"MLASCOPE_API_KEY", "\x01unset"},
                                  {"MLASCOPE_MODEL", "\x01unset"}, {"MLASCOPE_SESSION_DB", "\x01unset"},
                                  {"MLASCOPE_ASSETS", test::asset_path().string()}};

  test::PtySession server({test::mlascope_binary().string(), "serve", "--model", demo.string(), "--port", "0", "--device", "cpu",
                           "--threads", "1", "--kv-type", "bf16"},
                          env);
  ASSERT_TRUE(server.wait_for("listening on http://", 120)) << server.text_since(0);
  std::smatch m;
  const std::string log = server.text_since(0);
  ASSERT_TRUE(std::regex_search(log, m, std::regex("listening on (http://127\\.0\\.0\\.1:\\d+)")));
  const std::string url = m[1];

  const fs::path script = home / "connect.script";
  {
    std::ofstream out(script);
    out << "connect_server " << url << " " << cfg.string() << "\n"
        << "prompt And God said unto Moses,\n"
        << "wait_idle\n"
        << "assert_status remote (mlascope\n"
        << "assert_panel_text chat I will not be ashamed\n"
        << "quit\n";
  }
  const fs::path db = home / "gui.db";
  const test::RunResult r = test::run_command({xvfb, "-a", "-n", "170", "-s", "-screen 0 1280x800x24", test::mlascope_binary().string(), "--device",
                                               "cpu", "--script", script.string(), "--screenshot-dir", (home / "shots").string(),
                                               "--session-db", db.string()},
                                              env, 300);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  ::kill(server.pid(), SIGTERM);
  server.wait_exit(20);

  sessions::SessionReader reader(db);
  const auto list = reader.list();
  ASSERT_EQ(list.size(), 1u) << r.err;
  TraceModel tm;
  reader.load(list[0].id, tm);
  EXPECT_EQ(tm.meta().server_url, url);
  EXPECT_EQ(tm.meta().model_name, "served-demo");
  ASSERT_FALSE(tm.empty());
  for (const StepRecord& t : tm.tokens()) EXPECT_EQ(t.routes.size(), 5u) << t.position;
}

}  // namespace
}  // namespace mlascope
