// sessions/recorder.h — SessionRecorder: writes a live session into the database on its own thread.
// The caller (the generator's thread) hands over StepRecords through a lock-free SPSC queue and is
// never stalled: when the ring is full, records wait in a caller-side overflow list and go in on the
// next call. The recorder thread batches rows into one transaction per N tokens or T milliseconds.
// A full disk, a read-only location or any other write error stops the recording with a message
// (status() and on_stop) while the caller carries on; rows already committed stay readable.
//
// Threading: all public functions except status()/committed_tokens() must be called from one thread
// (the producer side of the queue).
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "blob_codec.h"
#include "engine/trace/spsc_queue.h"
#include "engine/trace/trace_model.h"

namespace mlascope::sessions {

struct RecorderOptions {
  int commit_every_tokens = 64;  // commit after this many tokens ...
  int commit_every_ms = 250;     // ... or when the open transaction is this old
  size_t queue_capacity = 1024;
  int attention_topk = 0;        // 0: dense fp16 rows; k > 0: keep the k largest probabilities per head row
  ScoreFormat score_format = ScoreFormat::F16;
  // Caps the database size (PRAGMA max_page_count); 0 = no cap. Lets a user bound disk use, and
  // lets tests hit "database or disk is full" without filling a disk.
  int64_t max_page_count = 0;
  // Called on the recorder thread: after each commit with the total tokens committed so far, and
  // once when recording stops because of an error (message names the file and the cause).
  std::function<void(uint64_t tokens_committed)> on_commit;
  std::function<void(const std::string& message)> on_stop;
};

struct RecorderStatus {
  bool recording = true;
  std::string message;  // why recording stopped
  uint64_t tokens_committed = 0;  // token rows written so far (a regenerate or fork writes positions again)
  uint64_t tokens_stored = 0;     // the session's length in the database now (committed, net of truncations)
  uint64_t tokens_lost = 0;  // handed over after recording stopped
};

class SessionRecorder {
 public:
  // Opens (or creates) the database and inserts the session row before returning, so session_id() is
  // valid at once. Throws Error naming the file when the database cannot be opened or is not ours —
  // callers that must keep generating catch it, show the message and run without recording.
  static std::unique_ptr<SessionRecorder> start(const std::filesystem::path& db_path, const SessionMeta& meta,
                                                RecorderOptions options = {});
  ~SessionRecorder();  // flushes what is queued, commits, joins
  SessionRecorder(const SessionRecorder&) = delete;
  SessionRecorder& operator=(const SessionRecorder&) = delete;

  int64_t session_id() const { return session_id_; }
  const std::filesystem::path& path() const { return path_; }

  // Never blocks. Returns false once recording has stopped (the record is dropped and counted).
  bool record(StepRecord rec);
  bool add_message(int32_t index, const Message& m);  // insert or replace message `index`
  bool add_bookmark(const Bookmark& b);
  bool add_annotation(const Annotation& a);
  bool set_title(const std::string& title);
  bool truncate(int32_t n_tokens);  // regenerate / fork: forget tokens >= n

  // Blocks until everything handed over so far is committed (or recording has stopped).
  void flush();
  RecorderStatus status() const;
  bool recording() const { return !stopped_.load(std::memory_order_acquire); }

  // One hand-over from the caller to the recorder thread (public only so the queue can hold it).
  struct Event {
    enum class Kind : uint8_t { Token, Message, Bookmark, Annotation, Title, Truncate, Flush } kind = Kind::Token;
    StepRecord step;
    Message message;
    Bookmark bookmark;
    Annotation annotation;
    std::string text;
    int64_t n = 0;  // message index, truncate length or flush ticket
  };

 private:
  SessionRecorder() = default;
  bool enqueue(Event&& e);
  void drain_overflow();
  void run();

  std::filesystem::path path_;
  RecorderOptions opt_;
  int64_t session_id_ = -1;
  struct Db;
  std::unique_ptr<Db> db_;
  std::unique_ptr<SpscQueue<Event>> queue_;
  std::deque<Event> overflow_;  // producer-only
  uint64_t flush_requested_ = 0;  // producer-only
  std::atomic<uint64_t> flush_done_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> committed_{0};
  std::atomic<uint64_t> stored_{0};
  std::atomic<uint64_t> lost_{0};
  mutable std::mutex message_mu_;  // guards message_ only (cold path)
  std::string message_;
  std::thread thread_;
};

// For front ends that must keep generating: starts recording, or returns null and puts the one-line
// reason (naming the file) in `message`.
std::unique_ptr<SessionRecorder> try_start_recording(const std::filesystem::path& db_path, const SessionMeta& meta,
                                                     RecorderOptions options, std::string& message);

}  // namespace mlascope::sessions
