// sessions/reader.h — reading recorded sessions back: list and search, rebuild a TraceModel (no
// weights needed), step through it with a replay cursor, delete.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/trace/trace_model.h"

namespace SQLite {
class Database;
}

namespace mlascope::sessions {

// Lines load() returns at most; the last one says how many more records were skipped.
constexpr size_t kMaxLoadProblems = 50;

struct SessionSummary {
  int64_t id = -1;
  std::string title;
  int64_t created_unix = 0;
  std::string model_name;
  std::string model_path;
  std::string model_hash;
  std::string backend;
  CapturePolicy capture = CapturePolicy::Routing;
  int64_t n_tokens = 0;
  int64_t n_generated = 0;
  int64_t n_messages = 0;
};

struct SessionQuery {
  std::string title;        // substring, case-insensitive ("" = any)
  std::string model;        // substring of model name or path
  int64_t since_unix = 0;   // created >= since (0 = no bound)
  int64_t until_unix = 0;   // created <  until (0 = no bound)
};

class SessionReader {
 public:
  // Throws Error naming the file when it is missing, corrupt, foreign or of a newer schema; an older
  // schema is migrated first. Never writes to a file it rejects.
  explicit SessionReader(const std::filesystem::path& db_path);
  ~SessionReader();
  SessionReader(SessionReader&&) noexcept;
  SessionReader& operator=(SessionReader&&) noexcept;

  const std::filesystem::path& path() const { return path_; }
  std::vector<SessionSummary> list(const SessionQuery& q = {}) const;  // newest first
  bool exists(int64_t id) const;
  // Rebuilds the whole session into `tm` (reset first). A session file is shared data: every record
  // is checked against the session (sizes against the config and the position, blobs against their
  // own length) and a record that fails is skipped, the rest of the session still loading. Returns
  // one line per skipped record (at most kMaxLoadProblems, then a count), e.g.
  //   "[sessions] FILE: session 3, position 17, attention layer 2: n_keys 900 is past position + 1 (18); row skipped".
  // Throws Error for an unknown id or a database SQLite cannot read.
  std::vector<std::string> load(int64_t id, TraceModel& tm) const;
  // Reopens for writing and removes the session with all its rows; false when there was none.
  bool remove(int64_t id);

 private:
  std::filesystem::path path_;
  std::unique_ptr<SQLite::Database> db_;
};

// Steps a `view` TraceModel through a fully loaded `source`, token by token, so panels see a replay
// exactly as they saw the live run (append on forward, truncate on back).
class ReplayCursor {
 public:
  ReplayCursor(const TraceModel& source, TraceModel& view);  // view starts empty (position 0)
  size_t position() const { return view_.size(); }  // tokens shown
  size_t end() const { return source_.size(); }
  bool forward();        // false at the end
  bool back();           // false at the start
  void jump(size_t n);   // clamped to [0, end()]

 private:
  void sync_messages();
  const TraceModel& source_;
  TraceModel& view_;
};

}  // namespace mlascope::sessions
