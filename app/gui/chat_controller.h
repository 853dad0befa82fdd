// app/gui/chat_controller.h — runs the real engine on a worker thread so the UI never waits:
// model loading (with progress), feeding turns and generating. StepRecords cross to the UI thread
// through an SPSC ring and are drained into the TraceModel once per frame; from there they also
// go to the session recorder, so a live chat is recorded exactly as the panels saw it.
//
// Threading: every public function except busy()/load_progress()/load_message() is called from
// the UI thread. The worker only touches the engine and the ring's producer side.
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "chat_engine.h"
#include "engine/trace/spsc_queue.h"
#include "engine/trace/trace_model.h"
#include "views/views.h"

namespace mlascope::sessions {
class SessionRecorder;
}

namespace mlascope::app::gui {

struct RecordingInfo {
  bool enabled = false;      // a database is configured
  bool recording = false;    // a recorder is running for the current chat
  int64_t session_id = -1;
  uint64_t tokens_committed = 0;  // token rows written (rewrites after a regenerate or fork count again)
  uint64_t tokens_stored = 0;     // the recorded session's length in the database now
  std::string message;       // why recording stopped / could not start ("" when fine)
};

class ChatController {
 public:
  ChatController();
  ~ChatController();
  ChatController(const ChatController&) = delete;
  ChatController& operator=(const ChatController&) = delete;

  // Loads on the worker; when done, take_loaded() hands the new session meta to the shell.
  void load_model(const std::filesystem::path& path, const EngineOptions& opt = {});
  std::optional<SessionMeta> take_loaded();
  bool has_engine() const;
  bool busy() const { return busy_.load(); }
  // True while the worker runs, or records it produced have not been drained yet.
  bool working() const;
  float load_progress() const;  // < 0 when not loading
  std::string load_message() const;
  std::vector<std::string> take_errors();
  std::string template_name() const;  // "" without a model

  // Live chats are recorded into `db` (empty: not recorded). A new recording starts with the
  // first turn after a model load or a clear.
  void set_session_db(const std::filesystem::path& db);
  const std::filesystem::path& session_db() const { return db_; }
  RecordingInfo recording() const;
  int64_t live_session_id() const;  // -1 when the chat is not being recorded
  // Title of the live chat; without one, the first prompt names the recording.
  void set_title(TraceModel& tm, const std::string& title);

  // UI thread. Each returns false (and does nothing) while the worker is busy, except stop().
  bool send(TraceModel& tm, const std::string& text, const views::ChatState& c);
  bool regenerate(TraceModel& tm, const views::ChatState& c);
  bool edit_resend(TraceModel& tm, int message, const std::string& text, const views::ChatState& c);
  // Continue from token `token` with `id` in its place (an alternative from the tooltip).
  bool fork(TraceModel& tm, int token, int32_t id, const views::ChatState& c);
  bool clear(TraceModel& tm);
  void stop();
  // Blocks until the worker is idle. The worker waits while the ring is full, so callers that do
  // not drain (tests) must keep what they ask for under the ring's 512 records; abandon() does not
  // have that limit.
  void wait_idle();
  // stop() and wait, throwing away records as they arrive (the TraceModel is about to be replaced).
  void abandon();
  // The shell replaced the TraceModel's contents (opened a session): the chat starts over.
  void detach(TraceModel& tm);

  // Moves finished records into `tm`, grows their messages and records them; returns how many arrived.
  size_t drain(TraceModel& tm);
  // Display text of any token id under the loaded model's tokenizer (for the fork menu); empty without a model.
  std::function<std::string(int32_t)> token_text() const;
  double tokens_per_s() const { return tokens_per_s_; }

 private:
  void post(std::function<void()> task);
  bool idle_for_ui(TraceModel& tm);
  bool send_turn(TraceModel& tm, const std::string& text, const views::ChatState& c);
  void worker_loop();
  EmitFn emitter();
  // Worker: generates into `message`; a full context becomes a message in the window.
  void answer(ChatEngine& e, const SamplerSettings& s, int max_new, int message);
  void truncate_both(TraceModel& tm, size_t n);
  void set_message(TraceModel& tm, size_t index, Message m);
  void ensure_recorder(const TraceModel& tm);
  void flush_dirty_messages(const TraceModel& tm);
  std::vector<ChatMessage> conversation(const TraceModel& tm) const;
  // A token's bytes as the tokenizer decodes them: what message text is made of.
  std::string token_bytes(const StepRecord& r) const;

  std::unique_ptr<ChatEngine> engine_;  // used by the worker; replaced only between tasks
  SpscQueue<StepRecord> ring_{512};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::string> errors_;
  std::optional<SessionMeta> loaded_;
  std::unique_ptr<ChatEngine> loaded_engine_;  // handed from the worker with loaded_
  float progress_ = -1.0f;
  std::string progress_text_;
  std::atomic<bool> busy_{false};
  std::atomic<bool> cancel_{false};
  std::atomic<bool> quit_{false};
  double tokens_per_s_ = 0.0;
  std::deque<float> recent_ms_;
  // UI-thread state of the conversation.
  std::vector<std::string> raw_text_;  // per TraceModel message: what the user typed
  std::string system_;                 // system prompt of this conversation
  bool custom_title_ = false;
  std::vector<size_t> dirty_messages_;
  std::filesystem::path db_;
  std::unique_ptr<sessions::SessionRecorder> recorder_;
  std::string record_message_;
  std::thread worker_;  // last: starts after every member it uses exists
};

}  // namespace mlascope::app::gui
