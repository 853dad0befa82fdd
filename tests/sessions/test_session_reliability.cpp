// tests/sessions/test_session_reliability.cpp — real files, real processes, real failures:
// kill -9 of a recording child at random moments, reading while another process records, a full
// disk and a location that turns read-only while recording.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <SQLiteCpp/Database.h>

#include "engine/error.h"
#include "sessions/reader.h"
#include "sessions/recorder.h"
#include "sessions/session_db.h"
#include "sessions/synthetic.h"
#include "support/data_paths.h"

using namespace mlascope;
using namespace mlascope::sessions;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const fs::path kConfig = test::asset_path("models/mla-moe-demo/config.json");

ModelConfig demo_config() { return ModelConfig::from_file(kConfig); }

CaptureSettings child_capture() {
  CaptureSettings c;
  c.policy = CapturePolicy::RoutingAttention;
  c.attention_layers = 1ull << 2;
  return c;
}

// A running session_record_child with its stdout on a pipe.
struct Child {
  pid_t pid = -1;
  int out = -1;
  std::string buffer;
  int64_t session = -1;
  uint64_t committed = 0;
  bool done = false;

  Child(const fs::path& db, int n_tokens, int commit_every, int delay_us, uint64_t seed) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    const std::string args[] = {MLASCOPE_RECORD_CHILD, db.string(), kConfig.string(), std::to_string(n_tokens),
                                std::to_string(commit_every), std::to_string(delay_us), std::to_string(seed)};
    pid = ::fork();
    if (pid == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> argv;
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out = fds[0];
  }
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (out >= 0) ::close(out);
  }

  // Reads what the child printed within `wait`; false at end of file.
  bool pump(std::chrono::milliseconds wait) {
    pollfd p{out, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return true;
    char buf[4096];
    const ssize_t n = ::read(out, buf, sizeof buf);
    if (n <= 0) return false;
    buffer.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      const std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      if (line.rfind("session ", 0) == 0) session = std::stoll(line.substr(8));
      if (line.rfind("committed ", 0) == 0) committed = std::stoull(line.substr(10));
      if (line == "done") done = true;
    }
    return true;
  }
  int kill_and_reap() {
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    while (pump(0ms)) {
    }  // lines written before the kill still count
    return status;
  }
  int wait_exit() {
    while (pump(100ms)) {
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }
};

// A reader's first look (which puts back the last committed state when a killed writer left a hot
// journal), then SQLite's own check on a read-only connection.
std::string integrity(const fs::path& db) {
  inspect_session_db(db);
  SQLite::Database d(db.string(), SQLite::OPEN_READONLY);
  return d.execAndGet("PRAGMA integrity_check").getString();
}

// Every loaded token is exactly the synthetic one the child recorded at that position.
void expect_tokens_match(const TraceModel& tm, const ModelConfig& c, uint64_t seed) {
  for (size_t p = 0; p < tm.size(); ++p) {
    const StepRecord want = synthetic_step(c, child_capture(), seed, static_cast<int32_t>(p));
    const StepRecord& got = tm.token(p);
    ASSERT_EQ(got.id, want.id) << "position " << p;
    ASSERT_EQ(got.routes.size(), want.routes.size()) << p;
    ASSERT_EQ(got.routes[4].expert[3], want.routes[4].expert[3]) << p;
    ASSERT_EQ(got.attention.size(), 1u) << p;
    ASSERT_EQ(got.attention[0].n_keys, static_cast<int>(p) + 1);
  }
}

bool try_mount_tmpfs(const fs::path& dir, const std::string& opts) {
  return ::geteuid() == 0 && ::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0;
}

SessionMeta demo_meta() {
  SessionMeta m;
  std::ifstream in(kConfig);
  std::stringstream ss;
  ss << in.rdbuf();
  m.config_json = ss.str();
  m.config = ModelConfig::from_json_text(m.config_json, kConfig.string());
  m.title = "in-process";
  m.capture = CapturePolicy::Everything;
  return m;
}

}  // namespace

// kill -9 at a random moment, many times, into the same database file: after each kill the file
// opens, passes integrity_check and holds at least every token the child saw committed.
TEST(SessionReliability, KillNineAtRandomMomentsLosesNoCommittedToken) {
  const fs::path dir = test::temp_dir("kill9");
  const fs::path db = dir / "sessions.db";
  const ModelConfig c = demo_config();
  std::mt19937 rng(12345);
  constexpr int kRuns = 30;
  int killed_mid_run = 0, committed_runs = 0;
  for (int run = 0; run < kRuns; ++run) {
    const uint64_t seed = 1000 + static_cast<uint64_t>(run);
    Child child(db, 400, 1 + static_cast<int>(rng() % 24), 150, seed);
    // Every fifth run dies anywhere from start-up on (process start, schema creation, recovery of the
    // previous run's WAL); the others at a random moment once recording has begun.
    if (run % 5 != 0) {
      while (child.session < 0 && child.pump(10ms)) {
      }
    }
    const auto kill_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(rng() % 150);
    while (std::chrono::steady_clock::now() < kill_at && child.pump(1ms)) {
    }
    child.kill_and_reap();
    killed_mid_run += child.done ? 0 : 1;
    committed_runs += child.committed > 0 && !child.done ? 1 : 0;

    if (!fs::exists(db)) {
      ASSERT_LT(child.session, 0);  // killed before it created the file
      continue;
    }
    ASSERT_EQ(integrity(db), "ok") << "run " << run;
    if (child.session < 0) continue;  // killed before the session row was reported
    SessionReader reader(db);
    TraceModel tm;
    reader.load(child.session, tm);
    EXPECT_GE(tm.size(), child.committed) << "run " << run << ": committed tokens lost";
    expect_tokens_match(tm, c, seed);
  }
  EXPECT_GT(killed_mid_run, kRuns / 2);
  EXPECT_GT(committed_runs, kRuns / 3);  // and many after some commits  // the kills really landed during recording
  SessionReader reader(db);
  EXPECT_GE(reader.list().size(), static_cast<size_t>(kRuns / 2));
  fs::remove_all(dir);
}

TEST(SessionReliability, ReadingWhileAnotherProcessRecords) {
  const fs::path dir = test::temp_dir("concurrent");
  const fs::path db = dir / "sessions.db";
  const ModelConfig c = demo_config();
  Child child(db, 1500, 16, 200, 77);
  while (child.session < 0 && child.pump(100ms)) {
  }
  ASSERT_GE(child.session, 0);
  size_t last = 0;
  int reads = 0;
  while (!child.done) {
    SessionReader reader(db);
    TraceModel tm;
    reader.load(child.session, tm);
    EXPECT_GE(tm.size(), last);  // a reader sees a growing prefix, never a torn one
    last = tm.size();
    expect_tokens_match(tm, c, 77);
    ++reads;
    if (!child.pump(5ms)) break;
  }
  const int status = child.wait_exit();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_GT(reads, 5);
  TraceModel tm;
  SessionReader(db).load(child.session, tm);
  EXPECT_EQ(tm.size(), 1500u);
  fs::remove_all(dir);
}

// The cause of the occasional ReadingWhileAnotherProcessRecords failure: when the recorder's last
// connection closes it checkpoints the WAL under an exclusive lock of the whole file, and a reader
// opening at that moment was told "not a session database (database is locked)" at once, because
// its identity check ran before any busy timeout was set. Here a writer holds such a lock for
// 300 ms (exclusive locking mode: the same file lock) while a reader opens: the reader must wait.
TEST(SessionReliability, ReaderWaitsWhileAWriterHoldsTheFileLockBriefly) {
  const fs::path dir = test::temp_dir("locked");
  const fs::path db = dir / "sessions.db";
  const SessionMeta meta = demo_meta();
  int64_t sid;
  {
    auto rec = SessionRecorder::start(db, meta);
    sid = rec->session_id();
    for (int p = 0; p < 10; ++p) rec->record(synthetic_step(meta.config, {}, 3, p));
  }
  std::atomic<bool> locked{false};
  std::thread holder([&] {
    SQLite::Database w(db.string(), SQLite::OPEN_READWRITE);
    w.exec("PRAGMA locking_mode = EXCLUSIVE");
    w.exec("BEGIN EXCLUSIVE");
    w.exec("UPDATE sessions SET notes = 'held' WHERE id = " + std::to_string(sid));
    w.exec("COMMIT");  // exclusive locking mode keeps the lock after the commit
    locked = true;
    std::this_thread::sleep_for(300ms);
  });
  while (!locked) std::this_thread::sleep_for(1ms);
  TraceModel tm;
  try {
    SessionReader reader(db);
    reader.load(sid, tm);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "the reader gave up instead of waiting: " << e.what();
  }
  holder.join();
  EXPECT_EQ(tm.size(), 10u);
  EXPECT_EQ(tm.meta().notes, "held");
  fs::remove_all(dir);
}

// The other intermittent failure (KillNineAtRandomMomentsLosesNoCommittedToken, 1 in 25 runs on main):
// a child killed while switching a new file to WAL leaves a hot rollback journal, and a read-only
// connection cannot roll it back ("attempt to write a readonly database"). Made deterministic here: a
// process dies inside a transaction of a rollback-journal file; a reader must still open it and see
// the last committed state.
TEST(SessionReliability, ReaderOpensAFileAWriterDiedInTheMiddleOfATransaction) {
  const fs::path dir = test::temp_dir("hot-journal");
  const fs::path db = dir / "sessions.db";
  const SessionMeta meta = demo_meta();
  int64_t sid;
  {
    auto rec = SessionRecorder::start(db, meta);
    sid = rec->session_id();
    for (int p = 0; p < 5; ++p) rec->record(synthetic_step(meta.config, {}, 3, p));
  }
  {
    SQLite::Database d(db.string(), SQLite::OPEN_READWRITE);
    d.exec("PRAGMA journal_mode = DELETE");
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    SQLite::Database d(db.string(), SQLite::OPEN_READWRITE);
    d.exec("PRAGMA cache_size = 1");  // pages spill to the file before the commit
    d.exec("BEGIN");
    d.exec("UPDATE sessions SET title = 'never committed'");
    d.exec("CREATE TABLE filler (x BLOB)");
    for (int i = 0; i < 200; ++i) d.exec("INSERT INTO filler VALUES (randomblob(4000))");
    ::_exit(0);  // dies holding the transaction, as kill -9 would
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(fs::exists(db.string() + "-journal")) << "no hot journal: the test proves nothing";
  TraceModel tm;
  try {
    SessionReader reader(db);
    reader.load(sid, tm);
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
  EXPECT_EQ(tm.size(), 5u);
  EXPECT_EQ(tm.meta().title, "in-process");
  EXPECT_EQ(integrity(db), "ok");
  fs::remove_all(dir);
}

// A full disk stops the recording with a message; the caller keeps handing records over unblocked.
void full_disk_case(const fs::path& db, RecorderOptions opt) {
  const SessionMeta meta = demo_meta();
  CaptureSettings cap;
  cap.policy = CapturePolicy::Everything;
  std::string stop_message;
  opt.commit_every_tokens = 8;
  opt.on_stop = [&](const std::string& m) { stop_message = m; };
  auto rec = SessionRecorder::start(db, meta, opt);
  int handed = 0;
  for (int p = 0; p < 400; ++p, ++handed) rec->record(synthetic_step(meta.config, cap, 9, p));
  rec->flush();
  const RecorderStatus st = rec->status();
  EXPECT_FALSE(st.recording);
  EXPECT_NE(st.message.find(db.string()), std::string::npos) << st.message;
  EXPECT_NE(st.message.find("full"), std::string::npos) << st.message;
  EXPECT_EQ(stop_message, st.message);
  EXPECT_EQ(handed, 400);
  EXPECT_GT(st.tokens_committed, 0u);
  EXPECT_LT(st.tokens_committed, 400u);
  EXPECT_FALSE(rec->record(synthetic_step(meta.config, cap, 9, 400)));  // refused, not blocking
  const int64_t sid = rec->session_id();
  const uint64_t committed = st.tokens_committed;
  rec.reset();
  EXPECT_EQ(integrity(db), "ok");
  TraceModel tm;
  SessionReader(db).load(sid, tm);
  EXPECT_EQ(tm.size(), committed);
}

TEST(SessionReliability, DatabaseSizeCapStopsRecordingWithAMessage) {
  const fs::path dir = test::temp_dir("cap");
  RecorderOptions opt;
  opt.max_page_count = 60;  // 60 x 4 KiB pages
  full_disk_case(dir / "s.db", opt);
  fs::remove_all(dir);
}

TEST(SessionReliability, FullDiskStopsRecordingWithAMessage) {
  const fs::path dir = test::temp_dir("fulldisk");
  if (!try_mount_tmpfs(dir, "size=256k")) GTEST_SKIP() << "cannot mount a small tmpfs here (needs root)";
  full_disk_case(dir / "s.db", {});
  ::umount(dir.c_str());
  fs::remove_all(dir);
}

TEST(SessionReliability, ReadOnlyLocationRefusesRecordingWithAMessage) {
  const fs::path dir = test::temp_dir("readonly");
  const SessionMeta meta = demo_meta();
  std::string message;
  if (::geteuid() != 0) {
    // Without root a read-only folder is enough (root ignores permission bits, hence the mount below).
    ::chmod(dir.c_str(), 0555);
    EXPECT_EQ(try_start_recording(dir / "s.db", meta, {}, message), nullptr);
    EXPECT_NE(message.find((dir / "s.db").string()), std::string::npos) << message;
    ::chmod(dir.c_str(), 0755);
    fs::remove_all(dir);
    return;
  }
  if (!try_mount_tmpfs(dir, "size=8m")) GTEST_SKIP() << "cannot mount a tmpfs here";
  const fs::path db = dir / "s.db";
  int64_t sid;
  {
    auto rec = SessionRecorder::start(db, meta);
    sid = rec->session_id();
    for (int p = 0; p < 20; ++p) rec->record(synthetic_step(meta.config, {}, 4, p));
  }
  // The file system turns read-only (a remount after errors, write-protected media).
  ASSERT_EQ(::mount("tmpfs", dir.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=8m"), 0) << std::strerror(errno);
  const uint64_t before = fs::file_size(db);
  for (const fs::path& target : {db, dir / "other.db"}) {
    message.clear();
    EXPECT_EQ(try_start_recording(target, meta, {}, message), nullptr);
    EXPECT_NE(message.find(target.string()), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  EXPECT_EQ(fs::file_size(db), before);
  // What was recorded there still replays.
  TraceModel tm;
  SessionReader(db).load(sid, tm);
  EXPECT_EQ(tm.size(), 20u);
  EXPECT_EQ(tm.token(19).id, synthetic_step(meta.config, {}, 4, 19).id);
  ::umount(dir.c_str());
  fs::remove_all(dir);
}
