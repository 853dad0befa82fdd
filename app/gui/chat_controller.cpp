// app/gui/chat_controller.cpp — see chat_controller.h.
#include "chat_controller.h"

#include <numeric>
#include <utility>

#include "engine/error.h"

namespace mlascope::app::gui {

ChatController::ChatController() { worker_ = std::thread([this] { worker_loop(); }); }

ChatController::~ChatController() {
  cancel_ = true;
  {
    std::lock_guard lk(mu_);
    quit_ = true;
    tasks_.clear();
  }
  cv_.notify_all();
  worker_.join();
}

void ChatController::post(std::function<void()> task) {
  {
    std::lock_guard lk(mu_);
    tasks_.push_back(std::move(task));
    busy_ = true;
  }
  cv_.notify_all();
}

void ChatController::worker_loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return quit_ || !tasks_.empty(); });
      if (quit_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    // The boundary: an engine error becomes a message in the window, never a crash.
    try {
      task();
    } catch (const std::exception& e) {
      std::lock_guard lk(mu_);
      errors_.push_back(e.what());
      progress_ = -1.0f;
    }
    std::lock_guard lk(mu_);
    if (tasks_.empty()) busy_ = false;
    cv_.notify_all();
  }
}

void ChatController::wait_idle() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !busy_.load() || quit_; });
}

EmitFn ChatController::emitter() {
  return [this](StepRecord&& r) {
    std::lock_guard lk(mu_);
    ready_.push_back(std::move(r));
  };
}

void ChatController::load_model(const std::filesystem::path& dir) {
  stop();
  wait_idle();
  {
    std::lock_guard lk(mu_);
    progress_ = 0.0f;
    progress_text_ = "opening " + dir.string();
  }
  post([this, dir] {
    auto e = open_chat_engine(dir, [this](float f, const std::string& what) {
      std::lock_guard lk(mu_);
      progress_ = f;
      progress_text_ = what;
    });
    SessionMeta meta;
    meta.title = "chat with " + e->model_name();
    meta.model_name = e->model_name();
    meta.model_path = dir.string();
    meta.config = e->config();
    meta.config_json = e->config_json();
    meta.backend = e->backend();
    meta.mla_mode = "absorbed";
    meta.capture = CapturePolicy::Everything;
    meta.gate_bias = e->gate_bias();
    engine_ = std::move(e);
    std::lock_guard lk(mu_);
    ready_.clear();
    loaded_ = std::move(meta);
    progress_ = -1.0f;
  });
}

void ChatController::set_engine(std::unique_ptr<ChatEngine> e) {
  stop();
  wait_idle();
  SessionMeta meta;
  meta.title = "chat with " + e->model_name();
  meta.model_name = e->model_name();
  meta.config = e->config();
  meta.config_json = e->config_json();
  meta.backend = e->backend();
  meta.capture = CapturePolicy::Everything;
  meta.gate_bias = e->gate_bias();
  engine_ = std::move(e);
  std::lock_guard lk(mu_);
  ready_.clear();
  loaded_ = std::move(meta);
}

std::optional<SessionMeta> ChatController::take_loaded() {
  std::lock_guard lk(mu_);
  auto m = std::move(loaded_);
  loaded_.reset();
  return m;
}

bool ChatController::has_engine() const { return !busy_ && engine_ != nullptr; }

float ChatController::load_progress() const {
  std::lock_guard lk(mu_);
  return progress_;
}

std::string ChatController::load_message() const {
  std::lock_guard lk(mu_);
  return progress_text_;
}

std::vector<std::string> ChatController::take_errors() {
  std::lock_guard lk(mu_);
  return std::exchange(errors_, {});
}

void ChatController::stop() { cancel_ = true; }

void ChatController::truncate_both(TraceModel& tm, size_t n) {
  tm.truncate(n);
  // The message that straddled the cut keeps only its remaining tokens' text.
  if (!tm.messages().empty()) {
    const size_t last = tm.messages().size() - 1;
    Message m = tm.messages()[last];
    m.text.clear();
    for (int32_t t = m.first_token; t < m.end_token; ++t) m.text += tm.token(static_cast<size_t>(t)).text;
    tm.update_message(last, m);
  }
  auto* e = engine_.get();
  post([e, n] { e->truncate(static_cast<int>(n)); });
}

bool ChatController::send(TraceModel& tm, const std::string& text, const views::ChatState& c) {
  if (busy_ || !engine_ || text.empty()) return false;
  return send_turn(tm, text, c);
}

bool ChatController::send_turn(TraceModel& tm, const std::string& text, const views::ChatState& c) {
  cancel_ = false;
  const int32_t n = static_cast<int32_t>(tm.size());
  ChatEngine* e = engine_.get();
  if (!c.base_model && !c.system_prompt.empty() && tm.messages().empty()) {
    const int sys = static_cast<int>(tm.messages().size());
    tm.add_message(Message{"system", "", n, n});
    post([this, e, sys, s = c.system_prompt] { e->feed_text("system", s, sys, emitter()); });
  }
  const int user = static_cast<int>(tm.messages().size());
  tm.add_message(Message{"user", "", n, n});
  tm.add_message(Message{"assistant", "", n, n});
  const std::string role = c.base_model ? "plain" : "user";
  post([this, e, user, role, text, s = c.sampler, max_new = c.max_new_tokens] {
    e->feed_text(role, text, user, emitter());
    e->generate(s, max_new, user + 1, emitter(), cancel_);
  });
  return true;
}

bool ChatController::regenerate(TraceModel& tm, const views::ChatState& c) {
  if (busy_ || !engine_) return false;
  const auto msgs = tm.messages();
  if (msgs.empty() || msgs.back().role != "assistant") return false;
  cancel_ = false;
  const size_t n = static_cast<size_t>(msgs.back().first_token);
  const int a = static_cast<int>(msgs.size()) - 1;
  truncate_both(tm, n);
  if (tm.messages().size() == static_cast<size_t>(a)) tm.add_message(Message{"assistant", "", static_cast<int32_t>(n), static_cast<int32_t>(n)});
  else tm.update_message(static_cast<size_t>(a), Message{"assistant", "", static_cast<int32_t>(n), static_cast<int32_t>(n)});
  ChatEngine* e = engine_.get();
  post([this, e, a, s = c.sampler, max_new = c.max_new_tokens] { e->generate(s, max_new, a, emitter(), cancel_); });
  return true;
}

bool ChatController::edit_resend(TraceModel& tm, int message, const std::string& text, const views::ChatState& c) {
  if (busy_ || !engine_ || message < 0 || static_cast<size_t>(message) >= tm.messages().size()) return false;
  const size_t n = static_cast<size_t>(tm.messages()[static_cast<size_t>(message)].first_token);
  // Drop the edited message and everything after it, then send the new text as a fresh turn.
  truncate_both(tm, n);
  return send_turn(tm, text, c);
}

bool ChatController::fork(TraceModel& tm, int token, int32_t id, const views::ChatState& c) {
  if (busy_ || !engine_ || token < 0 || static_cast<size_t>(token) >= tm.size()) return false;
  cancel_ = false;
  const int message = std::max(0, tm.token(static_cast<size_t>(token)).message);
  truncate_both(tm, static_cast<size_t>(token));
  ChatEngine* e = engine_.get();
  const int target = std::min<int>(message, static_cast<int>(tm.messages().size()) - 1);
  post([this, e, id, target, s = c.sampler, max_new = c.max_new_tokens] {
    e->feed_id(id, target, emitter());
    e->generate(s, max_new, target, emitter(), cancel_);
  });
  return true;
}

bool ChatController::clear(TraceModel& tm) {
  if (busy_ || !engine_) return false;
  SessionMeta meta = tm.meta();
  tm.reset(meta);
  ChatEngine* e = engine_.get();
  post([e] { e->truncate(0); });
  return true;
}

size_t ChatController::drain(TraceModel& tm) {
  std::vector<StepRecord> got;
  {
    std::lock_guard lk(mu_);
    got.swap(ready_);
  }
  for (StepRecord& r : got) {
    // Records from before a truncation that raced with it are stale; skip them.
    if (r.position != static_cast<int32_t>(tm.size())) continue;
    if (!r.is_prompt) {
      recent_ms_.push_back(r.ms);
      if (recent_ms_.size() > 32) recent_ms_.pop_front();
    }
    const int m = r.message;
    const std::string text = r.text;
    const int32_t pos = r.position;
    tm.append(std::move(r));
    if (m >= 0 && static_cast<size_t>(m) < tm.messages().size()) {
      Message msg = tm.messages()[static_cast<size_t>(m)];
      if (msg.end_token <= msg.first_token) msg.first_token = pos;
      msg.end_token = pos + 1;
      msg.text += text;
      tm.update_message(static_cast<size_t>(m), msg);
    }
  }
  if (!recent_ms_.empty()) {
    const double mean = std::accumulate(recent_ms_.begin(), recent_ms_.end(), 0.0) / static_cast<double>(recent_ms_.size());
    tokens_per_s_ = mean > 0 ? 1000.0 / mean : 0.0;
  }
  return got.size();
}

}  // namespace mlascope::app::gui
