// app/gui/chat_controller.cpp — see chat_controller.h.
#include "chat_controller.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <thread>
#include <utility>

#include "engine/error.h"
#include "sessions/recorder.h"

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
  recorder_.reset();  // flushes what was handed over
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
      cv_.wait(lk, [&] { return quit_.load() || !tasks_.empty(); });
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
  cv_.wait(lk, [&] { return !busy_.load() || quit_.load(); });
}

void ChatController::abandon() {
  stop();
  StepRecord r;
  for (;;) {
    while (ring_.try_pop(r)) {
    }
    std::unique_lock lk(mu_);
    // A worker stuck on a full ring is freed by the pops above; look again shortly.
    if (cv_.wait_for(lk, std::chrono::milliseconds(2), [&] { return !busy_.load() || quit_.load(); })) break;
  }
  while (ring_.try_pop(r)) {
  }
}

bool ChatController::working() const { return busy_.load() || !ring_.empty_approx(); }

EmitFn ChatController::emitter() {
  return [this](StepRecord&& r) {
    // The UI drains the ring every frame; when it falls behind, the worker waits (never the UI).
    while (!ring_.try_push(std::move(r))) {
      if (quit_.load()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
}

void ChatController::answer(ChatEngine& e, const SamplerSettings& s, int max_new, int message) {
  if (e.generate(s, max_new, message, emitter(), cancel_) == StopReason::ContextFull)
    fail("gui", "chat", "the context of " + std::to_string(e.max_context()) + " tokens is full; clear the chat or edit an earlier turn");
}

void ChatController::load_model(const std::filesystem::path& path, const EngineOptions& opt) {
  abandon();
  {
    std::lock_guard lk(mu_);
    progress_ = 0.0f;
    progress_text_ = opt.server.enabled() ? "connecting to " + opt.server.server : "opening " + path.string();
  }
  post([this, path, opt] {
    const LoadProgressFn progress = [this](float f, const std::string& what) {
      std::lock_guard lk(mu_);
      progress_ = f;
      progress_text_ = what;
    };
    std::unique_ptr<ChatEngine> e =
        opt.server.enabled() ? ChatEngine::connect(opt.server, path, opt, progress) : ChatEngine::open(path, opt, progress);
    SessionMeta meta = e->meta();
    std::lock_guard lk(mu_);
    loaded_engine_ = std::move(e);
    loaded_ = std::move(meta);
    progress_ = -1.0f;
  });
}

std::optional<SessionMeta> ChatController::take_loaded() {
  std::unique_ptr<ChatEngine> e;
  std::optional<SessionMeta> m;
  {
    std::lock_guard lk(mu_);
    if (!loaded_) return std::nullopt;
    m = std::move(loaded_);
    loaded_.reset();
    e = std::move(loaded_engine_);
  }
  // The worker finished the load task; nothing else uses the old engine now.
  wait_idle();
  engine_ = std::move(e);
  StepRecord stale;
  while (ring_.try_pop(stale)) {
  }
  recorder_.reset();
  record_message_.clear();
  raw_text_.clear();
  dirty_messages_.clear();
  system_.clear();
  custom_title_ = false;
  m->title = "chat with " + m->model_name;
  return m;
}

bool ChatController::has_engine() const { return !busy_ && engine_ != nullptr; }

std::string ChatController::template_name() const { return engine_ ? engine_->template_name() : std::string(); }

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

// ------------------------------------------------------------------------------------ recording

void ChatController::set_session_db(const std::filesystem::path& db) {
  db_ = db;
  if (db_.empty()) recorder_.reset();
}

RecordingInfo ChatController::recording() const {
  RecordingInfo r;
  r.enabled = !db_.empty();
  r.message = record_message_;
  if (recorder_) {
    const sessions::RecorderStatus s = recorder_->status();
    r.recording = s.recording;
    r.session_id = recorder_->session_id();
    r.tokens_committed = s.tokens_committed;
    r.tokens_stored = s.tokens_stored;
    if (!s.recording) r.message = s.message;
  }
  return r;
}

void ChatController::set_title(TraceModel& tm, const std::string& title) {
  tm.set_title(title);
  custom_title_ = true;
  if (recorder_) recorder_->set_title(title);
}

int64_t ChatController::live_session_id() const { return recorder_ ? recorder_->session_id() : -1; }

void ChatController::ensure_recorder(const TraceModel& tm) {
  if (recorder_ || db_.empty()) return;
  sessions::RecorderOptions o;
  recorder_ = sessions::try_start_recording(db_, tm.meta(), o, record_message_);
  if (!recorder_) return;
  // What the chat already holds (a turn may follow a conversation that started unrecorded).
  for (const StepRecord& r : tm.tokens()) recorder_->record(r);
  for (size_t i = 0; i < tm.messages().size(); ++i) recorder_->add_message(static_cast<int32_t>(i), tm.messages()[i]);
}

void ChatController::flush_dirty_messages(const TraceModel& tm) {
  if (recorder_)
    for (size_t i : dirty_messages_)
      if (i < tm.messages().size()) recorder_->add_message(static_cast<int32_t>(i), tm.messages()[i]);
  dirty_messages_.clear();
}

void ChatController::set_message(TraceModel& tm, size_t index, Message m) {
  if (index == tm.messages().size()) tm.add_message(std::move(m));
  else tm.update_message(index, std::move(m));
  if (raw_text_.size() < tm.messages().size()) raw_text_.resize(tm.messages().size());
  if (std::find(dirty_messages_.begin(), dirty_messages_.end(), index) == dirty_messages_.end()) dirty_messages_.push_back(index);
}

// ------------------------------------------------------------------------------------- chatting

std::string ChatController::token_bytes(const StepRecord& r) const {
  if (!engine_) return r.text;
  const int32_t id = r.id;
  return engine_->decode(std::span<const int32_t>(&id, 1));
}

std::function<std::string(int32_t)> ChatController::token_text() const {
  if (!engine_) return {};
  return engine_->token_text();
}

bool ChatController::idle_for_ui(TraceModel& tm) {
  if (busy_ || !engine_) return false;
  drain(tm);  // the worker is done: after this the TraceModel holds exactly the engine's history
  return true;
}

std::vector<ChatMessage> ChatController::conversation(const TraceModel& tm) const {
  std::vector<ChatMessage> out;
  const auto msgs = tm.messages();
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Message& m = msgs[i];
    if (m.role == "assistant") {
      // What the model said, as bytes (the TraceModel keeps display strings); the closing EOS is
      // the template's business.
      std::vector<int32_t> ids;
      for (int32_t t = m.first_token; t < m.end_token && static_cast<size_t>(t) < tm.size(); ++t) {
        const int32_t id = tm.token(static_cast<size_t>(t)).id;
        if (id != engine_->eos_id()) ids.push_back(id);
      }
      out.push_back({"assistant", engine_->decode(ids)});
    } else {
      out.push_back({m.role, i < raw_text_.size() ? raw_text_[i] : m.text});
    }
  }
  return out;
}

void ChatController::truncate_both(TraceModel& tm, size_t n) {
  tm.truncate(n);
  raw_text_.resize(tm.messages().size());
  // The message that straddled the cut keeps only its remaining tokens' text.
  if (!tm.messages().empty()) {
    const size_t last = tm.messages().size() - 1;
    Message m = tm.messages()[last];
    m.text.clear();
    for (int32_t t = m.first_token; t < m.end_token; ++t) m.text += token_bytes(tm.token(static_cast<size_t>(t)));
    set_message(tm, last, m);
  }
  if (recorder_) recorder_->truncate(static_cast<int32_t>(n));
  // Callers checked that the worker is idle, so the engine is ours for this moment; truncating
  // here keeps the TraceModel and the cache in step before the next task is posted.
  engine_->truncate(static_cast<int>(n));
}

bool ChatController::send(TraceModel& tm, const std::string& text, const views::ChatState& c) {
  if (text.empty() || !idle_for_ui(tm)) return false;
  return send_turn(tm, text, c);
}

bool ChatController::send_turn(TraceModel& tm, const std::string& text, const views::ChatState& c) {
  cancel_ = false;
  if (tm.empty()) system_ = c.base_model ? std::string() : c.system_prompt;
  std::vector<int32_t> history;
  history.reserve(tm.size());
  for (const StepRecord& r : tm.tokens()) history.push_back(r.id);
  const ChatEngine::Turn turn = engine_->encode_turn(history, system_, conversation(tm), text, c.base_model);
  if (turn.ids.empty()) return false;
  if (static_cast<size_t>(turn.keep) < tm.size()) truncate_both(tm, static_cast<size_t>(turn.keep));
  if (static_cast<size_t>(turn.keep) + turn.ids.size() >= static_cast<size_t>(engine_->max_context()))
    fail("gui", "chat", "the turn (" + std::to_string(turn.ids.size()) + " tokens) does not fit the context of " +
                            std::to_string(engine_->max_context()) + "; clear the chat");
  if (tm.empty() && !custom_title_ && !recorder_) {
    std::string title = text.substr(0, 60);
    for (char& ch : title)
      if (ch == '\n' || ch == '\t') ch = ' ';
    tm.set_title(title);
  }
  ensure_recorder(tm);
  const int32_t n = static_cast<int32_t>(tm.size());
  const size_t user = tm.messages().size();
  set_message(tm, user, Message{"user", "", n, n});
  raw_text_[user] = text;
  set_message(tm, user + 1, Message{"assistant", "", n, n, engine_->prepare_sampler(c.sampler)});
  flush_dirty_messages(tm);
  ChatEngine* e = engine_.get();
  post([this, e, user, ids = turn.ids, s = c.sampler, max_new = c.max_new_tokens] {
    if (e->feed(ids, static_cast<int>(user), emitter()) != StepStatus::Ok)
      fail("gui", "chat", "the turn does not fit the context of " + std::to_string(e->max_context()));
    answer(*e, s, max_new, static_cast<int>(user + 1));
  });
  return true;
}

bool ChatController::regenerate(TraceModel& tm, const views::ChatState& c) {
  if (!idle_for_ui(tm)) return false;
  const auto msgs = tm.messages();
  if (msgs.empty() || msgs.back().role != "assistant") return false;
  cancel_ = false;
  const size_t a = msgs.size() - 1;
  const int32_t n = msgs.back().first_token;
  truncate_both(tm, static_cast<size_t>(n));
  set_message(tm, std::min(a, tm.messages().size()), Message{"assistant", "", n, n, engine_->prepare_sampler(c.sampler)});
  flush_dirty_messages(tm);
  ChatEngine* e = engine_.get();
  const int target = static_cast<int>(tm.messages().size()) - 1;
  post([this, e, target, s = c.sampler, max_new = c.max_new_tokens] { answer(*e, s, max_new, target); });
  return true;
}

bool ChatController::edit_resend(TraceModel& tm, int message, const std::string& text, const views::ChatState& c) {
  if (text.empty() || !idle_for_ui(tm) || message < 0 || static_cast<size_t>(message) >= tm.messages().size()) return false;
  // Drop the edited message and everything after it, then send the new text as a fresh turn.
  const size_t n = static_cast<size_t>(tm.messages()[static_cast<size_t>(message)].first_token);
  truncate_both(tm, n);
  return send_turn(tm, text, c);
}

bool ChatController::fork(TraceModel& tm, int token, int32_t id, const views::ChatState& c) {
  if (!idle_for_ui(tm) || token < 0 || static_cast<size_t>(token) >= tm.size()) return false;
  cancel_ = false;
  const int m = tm.token(static_cast<size_t>(token)).message;
  const std::string role = m >= 0 && static_cast<size_t>(m) < tm.messages().size() ? tm.messages()[static_cast<size_t>(m)].role : "assistant";
  const int32_t t = token;
  truncate_both(tm, static_cast<size_t>(token));
  // The chosen alternative belongs to the message the replaced token was in (re-created when the
  // cut removed it); generation continues in that message when it was an answer, else in a new one.
  size_t feed_into = tm.messages().size();
  if (m >= 0 && static_cast<size_t>(m) < tm.messages().size()) feed_into = static_cast<size_t>(m);
  else set_message(tm, feed_into, Message{role, "", t, t});
  size_t gen_into = feed_into;
  if (role != "assistant") {
    gen_into = tm.messages().size();
    set_message(tm, gen_into, Message{"assistant", "", t + 1, t + 1, engine_->prepare_sampler(c.sampler)});
  }
  flush_dirty_messages(tm);
  ChatEngine* e = engine_.get();
  post([this, e, id, feed_into, gen_into, s = c.sampler, max_new = c.max_new_tokens] {
    const int32_t ids[1] = {id};
    if (e->feed(ids, static_cast<int>(feed_into), emitter()) != StepStatus::Ok) return;
    answer(*e, s, max_new, static_cast<int>(gen_into));
  });
  return true;
}

bool ChatController::clear(TraceModel& tm) {
  if (!idle_for_ui(tm)) return false;
  SessionMeta meta = engine_->meta();
  meta.title = "chat with " + meta.model_name;
  tm.reset(std::move(meta));
  recorder_.reset();
  record_message_.clear();
  raw_text_.clear();
  dirty_messages_.clear();
  system_.clear();
  custom_title_ = false;
  engine_->truncate(0);
  return true;
}

void ChatController::detach(TraceModel&) {
  // A model load goes on (its result arrives through take_loaded); only a running answer stops.
  if (load_progress() < 0) abandon();
  recorder_.reset();
  record_message_.clear();
  raw_text_.clear();
  dirty_messages_.clear();
  system_.clear();
  custom_title_ = false;
  if (engine_) engine_->truncate(0);
}

size_t ChatController::drain(TraceModel& tm) {
  size_t got = 0;
  StepRecord r;
  while (ring_.try_pop(r)) {
    ++got;
    // Records from before a truncation that raced with it are stale; skip them.
    if (r.position != static_cast<int32_t>(tm.size())) continue;
    if (!r.is_prompt) {
      recent_ms_.push_back(r.ms);
      if (recent_ms_.size() > 32) recent_ms_.pop_front();
    }
    const int m = r.message;
    const int32_t pos = r.position;
    if (recorder_) recorder_->record(r);
    if (m >= 0 && static_cast<size_t>(m) < tm.messages().size()) {
      Message msg = tm.messages()[static_cast<size_t>(m)];
      if (msg.end_token <= msg.first_token) msg.first_token = pos;
      msg.end_token = pos + 1;
      msg.text += token_bytes(r);  // the real text: StepRecord::text is the display form (\n as two characters)
      tm.append(std::move(r));
      set_message(tm, static_cast<size_t>(m), std::move(msg));
    } else {
      tm.append(std::move(r));
    }
  }
  if (got > 0 || !dirty_messages_.empty()) flush_dirty_messages(tm);
  if (!recent_ms_.empty()) {
    const double mean = std::accumulate(recent_ms_.begin(), recent_ms_.end(), 0.0) / static_cast<double>(recent_ms_.size());
    tokens_per_s_ = mean > 0 ? 1000.0 / mean : 0.0;
  }
  return got;
}

}  // namespace mlascope::app::gui
