// app/terminal_chat.cpp — the interactive terminal chat: libedit line editing and history, a
// worker thread that runs the model while this thread prints each token coloured by its dominant
// expert in the chosen layer, Ctrl-C that stops the generation (not the program), Ctrl-D to leave,
// and slash commands that draw the text views of the session's TraceModel.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <condition_variable>
#include <csignal>
#include <cwchar>
#include <poll.h>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fcntl.h>
#include <filesystem>
#include <histedit.h>
#include <sys/stat.h>
#include <termios.h>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "commands.h"
#include "engine/trace/server_routing.h"
#include "engine/error.h"
#include "engine/kv_memory.h"
#include "sessions/reader.h"
#include "sessions/recorder.h"
#include "sessions/session_db.h"
#include "term_color.h"
#include "term_io.h"
#include "term_progress.h"
#include "terminal.h"
#include "terminal_engine.h"
#include "terminal_session.h"
#include "terminal_views.h"
#include "step_source.h"

namespace mlascope::app {

namespace fs = std::filesystem;

namespace {

volatile std::sig_atomic_t g_sigint = 0;
extern "C" void on_sigint(int) { g_sigint = 1; }

// libedit's character reader. Ctrl-C at the prompt must end the line even when the signal lands on
// another thread (the engine's pool and the recorder have their own) or between two reads, where
// no read() returns EINTR: so the wait polls and looks at the flag the handler sets. The read itself
// must not block: Ctrl-C makes the terminal discard pending input, so keys that woke the poll may be
// gone when read() comes, and a blocking read would then wait for the next key with the flag set
// (seen on a busy machine: the chat sat at the prompt, deaf to the Ctrl-C). g_input_fd is the
// terminal opened a second time without blocking (see NonBlockingInput).
int g_input_fd = STDIN_FILENO;

int read_char(EditLine*, wchar_t* out) {
  std::mbstate_t state{};
  for (;;) {
    if (g_sigint) {
      errno = EINTR;
      return -1;
    }
    pollfd p{g_input_fd, POLLIN, 0};
    const int r = ::poll(&p, 1, 50);
    if (r < 0 && errno != EINTR) return -1;
    if (r <= 0) continue;
    char c = 0;
    const ssize_t n = ::read(g_input_fd, &c, 1);
    if (n == 0) return 0;  // end of input
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return -1;
    }
    const size_t k = std::mbrtowc(out, &c, 1, &state);
    if (k == static_cast<size_t>(-2)) continue;  // inside a multibyte character
    if (k == static_cast<size_t>(-1)) {         // not valid in this locale: pass the byte through
      state = {};
      *out = static_cast<wchar_t>(static_cast<unsigned char>(c));
    }
    return 1;
  }
}

// The terminal on stdin opened once more, O_NONBLOCK, for read_char. A new open file description,
// so the flag is not set on the one stdin shares with the shell (which would find its terminal
// non-blocking after the chat). A pipe or file on stdin keeps the plain descriptor: nothing
// discards its input, and reopening a file would start it over.
class NonBlockingInput {
 public:
  NonBlockingInput() {
    if (::isatty(STDIN_FILENO) != 1) return;
    const char* name = ::ttyname(STDIN_FILENO);
    for (const char* path : {name, "/proc/self/fd/0"}) {
      if (!path) continue;
      fd_ = ::open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
      if (fd_ >= 0 && ::isatty(fd_) == 1) break;
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
    }
    if (fd_ >= 0) g_input_fd = fd_;
  }
  ~NonBlockingInput() {
    g_input_fd = STDIN_FILENO;
    if (fd_ >= 0) ::close(fd_);
  }
  NonBlockingInput(const NonBlockingInput&) = delete;
  NonBlockingInput& operator=(const NonBlockingInput&) = delete;

 private:
  int fd_ = -1;
};

// SIGINT sets a flag instead of killing the process while the chat runs; the previous disposition
// comes back when the chat ends. SA_RESTART, so calls the signal lands in (a write of token text, a
// read in a library) resume instead of failing with EINTR; the prompt's reader polls with a
// timeout and looks at the flag, so Ctrl-C there still ends the line.
class SigintGuard {
 public:
  SigintGuard() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, &old_);
  }
  ~SigintGuard() { sigaction(SIGINT, &old_, nullptr); }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  struct sigaction old_ {};
};

// Puts the terminal back as it was found when the chat ends (libedit's own between-lines mode is
// set with `setty -x` in Chat::run).
class TerminalRestore {
 public:
  TerminalRestore() {
    ok_ = ::isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &orig_) == 0;
  }
  ~TerminalRestore() {
    if (ok_) tcsetattr(STDIN_FILENO, TCSANOW, &orig_);
  }
  TerminalRestore(const TerminalRestore&) = delete;
  TerminalRestore& operator=(const TerminalRestore&) = delete;

 private:
  bool ok_ = false;
  termios orig_{};
};

const char* kHelp =
    "Type text and press Enter: the model continues it (base model) or answers (chat template).\n"
    "  \\n in a line is a newline.  Ctrl-C stops a generation, Ctrl-D leaves.\n"
    "  /layer N            colour tokens by the dominant expert of MoE layer N\n"
    "  /routing [pos]      experts and weights of a token in every MoE layer (default: last token)\n"
    "  /experts [L|all]    expert load of the session against the uniform share\n"
    "  /attn L H [pos]     top attended tokens of a token in layer L, head H (H = mean: all heads)\n"
    "  /kv                 latent cache in use vs MHA / GQA / MQA\n"
    "  /sampler [k=v ...]  show or change sampling (temperature, top_k, top_p, min_p, repetition_penalty, seed)\n"
    "  /system TEXT        system text for the next conversation\n"
    "  /save [title]       keep this session (title it)\n"
    "  /sessions           list recorded sessions\n"
    "  /load ID            replay a recorded session's text and routing\n"
    "  /reset              start a new conversation\n"
    "  /help               this text\n";

std::string unescape_line(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char n = s[i + 1];
      if (n == 'n') { out += '\n'; ++i; continue; }
      if (n == 't') { out += '\t'; ++i; continue; }
      if (n == '\\') { out += '\\'; ++i; continue; }
    }
    out += s[i];
  }
  return out;
}

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> w;
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}

int parse_int(const std::string& s, const char* what) {
  try {
    size_t used = 0;
    const int v = std::stoi(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  fail("chat", what, "'" + s + "' is not a number");
}

// libedit writes the history with fopen(), which honours the umask (usually 0644): the lines a
// person typed are theirs alone, so the file is created (or narrowed) to 0600 before each write.
bool prepare_private_file(const fs::path& p) {
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  if (ec) return false;
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool ok = ::fchmod(fd, 0600) == 0;
  ::close(fd);
  return ok;
}

// Records handed from the worker thread to this one.
class StepQueue {
 public:
  void push(StepRecord&& r) {
    {
      std::lock_guard<std::mutex> lk(m_);
      q_.push_back(std::move(r));
    }
    cv_.notify_one();
  }
  void close() {
    {
      std::lock_guard<std::mutex> lk(m_);
      closed_ = true;
    }
    cv_.notify_one();
  }
  // Waits up to `ms` for records; returns false once closed and empty.
  bool pop_all(std::vector<StepRecord>& out, int ms) {
    std::unique_lock<std::mutex> lk(m_);
    cv_.wait_for(lk, std::chrono::milliseconds(ms), [&] { return !q_.empty() || closed_; });
    while (!q_.empty()) {
      out.push_back(std::move(q_.front()));
      q_.pop_front();
    }
    return !(closed_ && out.empty());
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<StepRecord> q_;
  bool closed_ = false;
};

class Chat {
 public:
  Chat(ChatEngine& engine, const ChatOptions& opt)
      : engine_(engine), opt_(opt), color_(detect_color_mode(STDOUT_FILENO)) {
    tm_.reset(engine_.meta());
    layer_ = opt.layer;
    if (layer_ < 0 && tm_.n_moe_layers() > 0) layer_ = tm_.moe_layers().back();
    if (layer_ >= 0 && tm_.moe_index(layer_) < 0)
      fail("chat", "--layer " + std::to_string(layer_), "is not an MoE layer of this model");
    db_ = sessions::resolve_session_db(opt.wb.session_db.string());
    record_ = opt.record;
  }

  int run();

 private:
  void banner();
  bool command(const std::string& line);  // false = leave
  void turn(const std::string& text);
  void print(const std::string& s) {
    std::fflush(stdout);  // libedit writes through stdio: its bytes first
    write_all(STDOUT_FILENO, s);
  }
  void note(const std::string& s) { print(dim(color_) + s + reset(color_) + "\n"); }
  size_t pos_arg(const std::vector<std::string>& w, size_t i) const {
    if (i < w.size()) return static_cast<size_t>(std::max(0, parse_int(w[i], "pos")));
    if (tm_.empty()) fail("chat", "", "nothing generated yet");
    return tm_.size() - 1;
  }

  // Recording: started with the first turn (or by /save), so an idle chat leaves no empty session.
  bool start_recording();
  void record(const StepRecord& r) {
    if (rec_) rec_->record(r);
  }
  void check_recording() {
    if (rec_ && !rec_->recording() && !rec_stop_noted_) {
      rec_stop_noted_ = true;
      note("recording stopped: " + rec_->status().message + " (the chat goes on)");
    }
  }
  void end_recording(bool announce);
  void list_sessions();
  void load(const std::string& id);

  ChatEngine& engine_;
  ChatOptions opt_;
  fs::path db_;
  bool record_ = true;
  bool rec_stop_noted_ = false;
  std::unique_ptr<sessions::SessionRecorder> rec_;
  std::vector<int32_t> pending_feed_;  // a loaded session's tokens, fed to the engine before the next turn
  std::string view_only_;              // why a loaded session cannot be continued with this model
  ColorMode color_;
  TraceModel tm_;
  int layer_ = -1;
  std::string system_;
  std::string pending_system_;
};

void Chat::banner() {
  const SessionMeta m = engine_.meta();
  const ModelConfig& c = m.config;
  std::string s = bold(color_) + "mlascope chat" + reset(color_) + " — " + m.model_name + " (" + c.model_type + ", " +
                  std::to_string(c.num_hidden_layers) + " layers, " + std::to_string(c.n_routed_experts) + " routed experts, top-" +
                  std::to_string(c.num_experts_per_tok) + ") on " + m.backend + ", " + engine_.template_name() + " template\n";
  print(s);
  std::string legend;
  if (layer_ >= 0 && color_ != ColorMode::None) {
    legend = "colours: dominant expert of layer " + std::to_string(layer_) + "  ";
    for (int e = 0; e < std::min(c.n_routed_experts, 16); ++e) legend += paint_expert(color_, expert_name(e), e, c.n_routed_experts) + " ";
    if (c.n_routed_experts > 16) legend += "...";
    print(legend + "\n");
  }
  note("/help for commands, Ctrl-C stops a generation, Ctrl-D leaves");
}

void Chat::turn(const std::string& text) {
  if (!view_only_.empty()) fail("chat", "", view_only_);
  if (!pending_feed_.empty()) {
    note("[reading the loaded session's " + std::to_string(pending_feed_.size()) + " tokens into the model]");
    const std::vector<int32_t> ids = std::move(pending_feed_);
    pending_feed_.clear();
    if (engine_.feed(ids, [](StepRecord&&) {}, -1) != StepStatus::Ok) {
      engine_.truncate(0);
      fail("chat", "", "the loaded session does not fit in this model's context; /reset to start over");
    }
  }
  if (engine_.n_positions() == 0) system_ = pending_system_;
  if (!rec_ && record_) start_recording();
  const ChatEngine::Turn t = engine_.encode_turn(system_, tm_.messages(), text);
  if (t.keep < engine_.n_positions()) {
    engine_.truncate(t.keep);
    tm_.truncate(static_cast<size_t>(t.keep));
    if (rec_) rec_->truncate(t.keep);
  }
  if (rec_ && tm_.meta().title.empty()) {
    const std::string title = text.size() > 48 ? text.substr(0, 45) + "..." : text;
    tm_.set_title(title);
    rec_->set_title(title);
  }
  const std::vector<int32_t>& ids = t.ids;
  const int user_msg = static_cast<int>(tm_.messages().size());
  const int32_t start = static_cast<int32_t>(tm_.size());
  // The sampler as this answer starts (settings, seed, stream position): what `sessions verify`
  // and a /load continuation re-run this turn with, whatever /sampler says later.
  const std::string sampler_state = engine_.sampler_state_json();
  tm_.add_message({"user", text, start, start});
  tm_.add_message({"assistant", "", start, start, sampler_state});

  StepQueue queue;
  std::atomic<bool> cancel{false};
  StepStatus fed = StepStatus::Ok;
  StopReason stop = StopReason::None;
  std::string worker_error;
  g_sigint = 0;
  std::thread worker([&] {
    try {
      fed = engine_.feed(ids, [&](StepRecord&& r) { queue.push(std::move(r)); }, user_msg);
      if (fed == StepStatus::Ok && !cancel.load())
        stop = engine_.generate(opt_.max_new_tokens, [&](StepRecord&& r) { queue.push(std::move(r)); }, &cancel, user_msg + 1);
    } catch (const std::exception& e) {
      worker_error = e.what();
    }
    queue.close();
  });

  const auto t0 = std::chrono::steady_clock::now();
  int n_generated = 0;
  double gen_ms = 0;
  bool at_line_start = true;
  std::string reply;
  std::vector<StepRecord> batch;
  while (true) {
    batch.clear();
    const bool more = queue.pop_all(batch, 50);
    if (g_sigint && !cancel.load()) cancel.store(true);
    for (StepRecord& r : batch) {
      const bool prompt = r.is_prompt;
      const int32_t id = r.id;
      const size_t pos = tm_.size();
      if (static_cast<int32_t>(pos) != r.position) r.position = static_cast<int32_t>(pos);  // engine counts from its cache
      if (!prompt) gen_ms += r.ms;
      record(r);
      tm_.append(std::move(r));
      if (prompt) continue;
      ++n_generated;
      const std::string piece = engine_.stream_text(id);
      if (piece.empty()) continue;
      reply += piece;
      print(paint_expert(color_, printable_token(piece), tm_.dominant_expert(pos, layer_), tm_.n_routed_experts()));
      at_line_start = piece.back() == '\n';
    }
    if (!more) break;
  }
  worker.join();
  const std::string tail = engine_.flush_text();
  if (!tail.empty()) {
    reply += tail;
    print(printable_token(tail));
    at_line_start = tail.back() == '\n';
  }
  const int32_t end_user = std::min<int32_t>(start + static_cast<int32_t>(ids.size()), static_cast<int32_t>(tm_.size()));
  tm_.update_message(static_cast<size_t>(user_msg), {"user", text, start, end_user});
  tm_.update_message(static_cast<size_t>(user_msg + 1),
                     {"assistant", reply, end_user, static_cast<int32_t>(tm_.size()), sampler_state});
  if (rec_) {
    rec_->add_message(user_msg, tm_.messages()[static_cast<size_t>(user_msg)]);
    rec_->add_message(user_msg + 1, tm_.messages()[static_cast<size_t>(user_msg + 1)]);
  }
  if (!at_line_start) print("\n");
  check_recording();
  if (!worker_error.empty()) {
    print("error: " + worker_error + "\n");
    return;
  }
  if (fed == StepStatus::ContextFull) {
    note("[context full: " + std::to_string(engine_.n_positions()) + " of " + std::to_string(engine_.max_context()) +
         " positions used; /reset starts over]");
    return;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const char* why = stop == StopReason::Eos ? "end of text"
                    : stop == StopReason::Length ? "token limit"
                    : stop == StopReason::ContextFull ? "context full"
                    : stop == StopReason::Cancelled ? "interrupted"
                    : "stopped";
  char buf[160];
  const double tps = gen_ms > 0 ? 1000.0 * n_generated / gen_ms : (wall > 0 ? n_generated / wall : 0.0);
  std::snprintf(buf, sizeof buf, "[%d tokens, %.1f tok/s, %s; %d positions cached]", n_generated, tps, why,
                engine_.n_positions());
  note(buf);
  if (n_generated > 0 && !engine_.routing_reported()) note(std::string("[") + kNoRoutingNote + ": tokens are not coloured; /routing and /experts have nothing to show]");
  g_sigint = 0;
}

bool Chat::command(const std::string& line) {
  const std::vector<std::string> w = split_words(line);
  const std::string& cmd = w[0];
  if (cmd == "/help" || cmd == "/?") {
    print(kHelp);
  } else if (cmd == "/quit" || cmd == "/exit") {
    return false;
  } else if (cmd == "/layer") {
    if (w.size() < 2) {
      note("colouring by layer " + std::to_string(layer_));
      return true;
    }
    const int l = parse_int(w[1], "layer");
    if (tm_.moe_index(l) < 0) fail("chat", "layer " + w[1], "is not an MoE layer of this model");
    layer_ = l;
    note("colouring by the dominant expert of layer " + std::to_string(l));
    if (!tm_.empty()) print(render_transcript(tm_, layer_, color_) + "\n");
  } else if ((cmd == "/routing" || cmd == "/experts") && server_reports_no_routing(tm_)) {
    note(std::string(kNoRoutingNote) + " (" + tm_.meta().server_url + "): no expert routing to show");
  } else if (cmd == "/routing") {
    print(render_routing_text(tm_, pos_arg(w, 1), color_));
  } else if (cmd == "/experts") {
    int l = layer_;
    if (w.size() > 1) l = w[1] == "all" ? -1 : parse_int(w[1], "layer");
    print(render_expert_load_text(tm_, l, color_));
  } else if (cmd == "/attn") {
    if (w.size() < 3) fail("chat", "/attn", "usage: /attn LAYER HEAD [pos]  (HEAD = mean for the average of heads)");
    const int l = parse_int(w[1], "layer");
    const int h = w[2] == "mean" ? -1 : parse_int(w[2], "head");
    print(render_attention_text(tm_, pos_arg(w, 3), l, h, 8, color_));
  } else if (cmd == "/kv") {
    // In the element type the engine's cache holds (--kv-type); GQA with half the heads (or the largest
    // divisor of the head count below that) as the middle ground.
    const ModelConfig& c = tm_.config();
    const std::string dtype = tm_.meta().kv_dtype.empty() ? "f32" : tm_.meta().kv_dtype;
    KvReport r = make_kv_report(c, tm_.meta().model_name, dtype, engine_.max_context(), std::max(1, c.num_attention_heads / 2));
    r.in_use = engine_.n_positions();
    print(render_kv_text(r, color_));
    if (!tm_.empty() && tm_.token(tm_.size() - 1).kv_bytes > 0)
      note("the backend reports " + format_bytes(static_cast<double>(tm_.token(tm_.size() - 1).kv_bytes)) + " of " +
           tm_.meta().mla_mode + " cache (" + dtype + ") in use for " + std::to_string(tm_.size()) + " positions");
  } else if (cmd == "/sampler") {
    for (size_t i = 1; i < w.size(); ++i) {
      const size_t eq = w[i].find('=');
      if (eq == std::string::npos) fail("chat", "/sampler " + w[i], "expected key=value");
      engine_.set_sampler(w[i].substr(0, eq), w[i].substr(eq + 1));
    }
    note("sampler: " + engine_.sampler_json());
  } else if (cmd == "/system") {
    const size_t sp = line.find(' ');
    pending_system_ = sp == std::string::npos ? std::string() : unescape_line(line.substr(sp + 1));
    if (engine_.n_positions() == 0) note("system text set");
    else note("system text set for the next conversation (/reset to start one now)");
  } else if (cmd == "/reset") {
    end_recording(true);
    engine_.truncate(0);
    engine_.flush_text();
    tm_.reset(engine_.meta());
    pending_feed_.clear();
    view_only_.clear();
    note("new conversation");
  } else if (cmd == "/save") {
    const size_t sp = line.find(' ');
    const std::string title = sp == std::string::npos ? std::string() : line.substr(line.find_first_not_of(' ', sp));
    if (!rec_ && !start_recording()) return true;
    if (!title.empty()) {
      tm_.set_title(title);
      rec_->set_title(title);
    }
    rec_->flush();
    check_recording();
    if (rec_->recording())
      note("saved as session " + std::to_string(rec_->session_id()) + " in " + db_.string() +
           (tm_.meta().title.empty() ? "" : " (\"" + tm_.meta().title + "\")"));
  } else if (cmd == "/sessions") {
    list_sessions();
  } else if (cmd == "/load") {
    if (w.size() < 2) fail("chat", "/load", "usage: /load ID  (/sessions lists them)");
    load(w[1]);
  } else {
    fail("chat", cmd, "unknown command (/help lists them)");
  }
  return true;
}

bool Chat::start_recording() {
  std::string why;
  SessionMeta meta = tm_.meta();
  meta.sampler_json = engine_.meta().sampler_json;
  rec_ = sessions::try_start_recording(db_, meta, {}, why);
  if (!rec_) {
    note("not recording: " + why);
    record_ = false;
    return false;
  }
  rec_stop_noted_ = false;
  // Whatever the view holds already (a loaded session being continued, or a chat saved late) goes in first.
  for (const StepRecord& r : tm_.tokens()) rec_->record(r);
  for (size_t i = 0; i < tm_.messages().size(); ++i) rec_->add_message(static_cast<int32_t>(i), tm_.messages()[i]);
  if (!tm_.meta().title.empty()) rec_->set_title(tm_.meta().title);
  return true;
}

void Chat::end_recording(bool announce) {
  if (!rec_) return;
  rec_->flush();
  const sessions::RecorderStatus st = rec_->status();
  if (announce && st.tokens_committed > 0)
    note("session " + std::to_string(rec_->session_id()) + " recorded in " + db_.string() + " (" +
         std::to_string(st.tokens_committed) + " tokens)");
  rec_.reset();
}

void Chat::list_sessions() {
  std::error_code ec;
  if (!fs::exists(db_, ec)) {
    note("no sessions yet (" + db_.string() + " does not exist)");
    return;
  }
  sessions::SessionReader reader(db_);
  const auto all = reader.list();
  if (all.empty()) {
    note("no sessions in " + db_.string());
    return;
  }
  if (rec_) rec_->flush();
  std::string out = dim(color_) + "    id  created (UTC)     tokens  model            title" + reset(color_) + "\n";
  for (const sessions::SessionSummary& s : all) {
    char when[32] = "?";
    const std::time_t t = static_cast<std::time_t>(s.created_unix);
    if (std::tm tmv{}; gmtime_r(&t, &tmv)) std::strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tmv);
    char buf[256];
    std::snprintf(buf, sizeof buf, "%c %4lld  %-16s  %6lld  %-16s %s\n", rec_ && rec_->session_id() == s.id ? '*' : ' ',
                  static_cast<long long>(s.id), when, static_cast<long long>(s.n_tokens), s.model_name.c_str(), s.title.c_str());
    out += buf;
  }
  print(out);
}

void Chat::load(const std::string& id) {
  TraceModel loaded;
  load_session(db_, id, loaded, "chat");
  end_recording(true);
  engine_.truncate(0);
  engine_.flush_text();
  tm_ = std::move(loaded);
  // Answers recorded before messages kept their sampler ran with the session's settings: write
  // those into them, so the continuation (a new session, recorded with today's sampler) re-runs
  // them as they were made, not at the sampler in use now.
  for (size_t i = 0; i < tm_.messages().size(); ++i) {
    Message msg = tm_.messages()[i];
    if (msg.role != "assistant" || !msg.sampler_json.empty() || tm_.meta().sampler_json.empty()) continue;
    msg.sampler_json = tm_.meta().sampler_json;
    tm_.update_message(i, std::move(msg));
  }
  pending_feed_.clear();
  view_only_.clear();
  const SessionMeta now = engine_.meta();
  if (tm_.meta().config_json != now.config_json || tm_.meta().model_name != now.model_name) {
    view_only_ = "session " + id + " was recorded with " + tm_.meta().model_name +
                 ": inspect it with /routing /experts /attn, or /reset to chat with " + now.model_name;
  } else {
    for (const StepRecord& r : tm_.tokens()) pending_feed_.push_back(r.id);
  }
  if (tm_.moe_index(layer_) < 0) layer_ = tm_.n_moe_layers() > 0 ? tm_.moe_layers().back() : -1;
  note("session " + std::to_string(tm_.meta().session_id) + (tm_.meta().title.empty() ? "" : " \"" + tm_.meta().title + "\"") +
       ": " + std::to_string(tm_.size()) + " tokens of " + tm_.meta().model_name);
  print(render_transcript(tm_, layer_, color_) + "\n");
  note(view_only_.empty() ? "type to continue it (as a new session), or /reset" : view_only_);
}

int Chat::run() {
  banner();
  SigintGuard sig;
  NonBlockingInput input;
  EditLine* el = el_init("mlascope", stdin, stdout, stderr);
  History* hist = history_init();
  HistEvent ev;
  history(hist, &ev, H_SETSIZE, 1000);
  const fs::path hfile = opt_.history && opt_.record ? chat_history_path(db_) : fs::path();
  if (!hfile.empty()) history(hist, &ev, H_LOAD, hfile.c_str());
  el_set(el, EL_EDITOR, "emacs");
  el_set(el, EL_HIST, history, hist);
  el_set(el, EL_PROMPT, +[](EditLine*) -> char* { return const_cast<char*>("> "); });
  el_set(el, EL_GETCFN, &read_char);
  el_source(el, nullptr);  // ~/.editrc, as every libedit program does
  // Between prompts (while the model writes) keep the terminal non-canonical without echo: keys
  // typed ahead wait as plain bytes and reach libedit at the next prompt. In canonical mode a
  // typed-ahead Ctrl-D becomes an end-of-file marker of the line discipline and is lost, leaving
  // the chat waiting. ISIG stays on, so Ctrl-C still interrupts a generation.
  el_set(el, EL_SETTY, "-x", "-icanon", "-echo", static_cast<const char*>(nullptr));

  TerminalRestore restore;
  while (true) {
    g_sigint = 0;
    int count = 0;
    errno = 0;
    const char* raw = el_gets(el, &count);
    if (!raw || count <= 0) {
      if (g_sigint || errno == EINTR) {  // Ctrl-C at the prompt drops the line, as in a shell
        print("^C\n");
        el_reset(el);
        continue;
      }
      print("\n");
      break;  // Ctrl-D or end of input
    }
    std::string line(raw, static_cast<size_t>(count));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    history(hist, &ev, H_ENTER, line.c_str());
    try {
      if (line[0] == '/') {
        if (!command(line)) break;
      } else {
        turn(unescape_line(line));
      }
    } catch (const Error& e) {
      print("error: " + std::string(e.what()) + "\n");
    }
  }
  end_recording(true);
  if (!hfile.empty() && prepare_private_file(hfile)) history(hist, &ev, H_SAVE, hfile.c_str());
  history_end(hist);
  el_end(el);
  return 0;
}

}  // namespace

fs::path chat_history_path(const fs::path& session_db) {
  const fs::path dir = session_db.parent_path();
  return (dir.empty() ? fs::path(".") : dir) / "chat_history";
}

int run_chat_loop(ChatEngine& engine, const ChatOptions& opt) {
  Chat chat(engine, opt);
  return chat.run();
}

int run_terminal_chat(const ChatOptions& opt) {
  quiet_logs_unless_verbose();  // a chat starts with one load bar, then the banner (-v: the engine's log lines)
  ProgressBar bar("loading", stderr);
  std::unique_ptr<ChatEngine> engine = load_chat_engine(opt.wb, [&](uint64_t done, uint64_t total) { bar.update(done, total); });
  bar.finish();
  return run_chat_loop(*engine, opt);
}

int run_terminal_workbench(const WorkbenchOptions& opt) {
  ChatOptions c;
  c.wb = opt;
  return run_terminal_chat(c);
}

}  // namespace mlascope::app
