// app/gui/chat_controller.h — runs the chat engine on a worker thread so the UI never waits:
// model loading (with progress), feeding turns and generating. Records cross to the UI thread
// through a locked queue and are drained into the TraceModel once per frame.
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
#include "engine/trace/trace_model.h"
#include "views/views.h"

namespace mlascope::app::gui {

class ChatController {
 public:
  ChatController();
  ~ChatController();
  ChatController(const ChatController&) = delete;
  ChatController& operator=(const ChatController&) = delete;

  // Loads on the worker; when done, take_loaded() hands the new session meta to the shell.
  void load_model(const std::filesystem::path& dir);
  void set_engine(std::unique_ptr<ChatEngine> e);  // already opened (synthetic demo, tests)
  std::optional<SessionMeta> take_loaded();
  bool has_engine() const;
  bool busy() const { return busy_.load(); }
  float load_progress() const;  // < 0 when not loading
  std::string load_message() const;
  std::vector<std::string> take_errors();

  // UI thread. Each returns false (and does nothing) while the worker is busy, except stop().
  bool send(TraceModel& tm, const std::string& text, const views::ChatState& c);
  bool regenerate(TraceModel& tm, const views::ChatState& c);
  bool edit_resend(TraceModel& tm, int message, const std::string& text, const views::ChatState& c);
  bool fork(TraceModel& tm, int token, int32_t id, const views::ChatState& c);
  bool clear(TraceModel& tm);
  void stop();
  void wait_idle();

  // Moves finished records into `tm` and grows their messages; returns how many arrived.
  size_t drain(TraceModel& tm);
  double tokens_per_s() const { return tokens_per_s_; }

 private:
  void post(std::function<void()> task);
  bool send_turn(TraceModel& tm, const std::string& text, const views::ChatState& c);
  void worker_loop();
  EmitFn emitter();
  void truncate_both(TraceModel& tm, size_t n);

  std::unique_ptr<ChatEngine> engine_;  // used by the worker; replaced only between tasks
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<StepRecord> ready_;
  std::vector<std::string> errors_;
  std::optional<SessionMeta> loaded_;
  float progress_ = -1.0f;
  std::string progress_text_;
  std::atomic<bool> busy_{false};
  std::atomic<bool> cancel_{false};
  bool quit_ = false;
  double tokens_per_s_ = 0.0;
  std::deque<float> recent_ms_;
  std::thread worker_;  // last: starts after every member it uses exists
};

}  // namespace mlascope::app::gui
