// sessions/recorder.cpp — the recorder thread: SPSC queue in, batched SQLite transactions out.
#include "recorder.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>

#include "engine/error.h"
#include "session_db.h"

namespace mlascope::sessions {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct SessionRecorder::Db {
  explicit Db(SQLite::Database d)
      : db(std::move(d)),
        token(db,
              "INSERT OR REPLACE INTO tokens (session_id, position, token_id, text, is_prompt, message, prob, top_raw,"
              " top_sampled, ms, raw_prob, kv_bytes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"),
        routing(db, "INSERT OR REPLACE INTO routing (session_id, position, routes, scores, selection) VALUES (?,?,?,?,?)"),
        attention(db,
                  "INSERT OR REPLACE INTO attention (session_id, position, layer, n_heads, n_keys, format, top_k, probs,"
                  " nope, rope) VALUES (?,?,?,?,?,?,?,?,?,?)"),
        message(db,
                "INSERT OR REPLACE INTO messages (session_id, idx, role, text, first_token, end_token, sampler_json)"
                " VALUES (?,?,?,?,?,?,?)"),
        bookmark(db, "INSERT OR REPLACE INTO bookmarks (id, session_id, position, note) VALUES (?,?,?,?)"),
        annotation(db, "INSERT OR REPLACE INTO annotations (id, session_id, position, layer, text) VALUES (?,?,?,?,?)"),
        title(db, "UPDATE sessions SET title = ? WHERE id = ?") {}
  SQLite::Database db;
  SQLite::Statement token, routing, attention, message, bookmark, annotation, title;
};

namespace {

void bind_blob(SQLite::Statement& st, int i, const Bytes& b) { st.bind(i, b.data(), static_cast<int>(b.size())); }

int64_t insert_session(SQLite::Database& db, const SessionMeta& m) {
  SQLite::Statement st(db,
                       "INSERT INTO sessions (title, created, model_name, model_path, model_hash, config_json, sampler_json,"
                       " engine_version, backend, notes, mla_mode, capture, gate_bias, kv_dtype, server_url, server_model)"
                       " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  st.bind(1, m.title);
  st.bind(2, static_cast<int64_t>(m.created_unix != 0 ? m.created_unix : std::time(nullptr)));
  st.bind(3, m.model_name);
  st.bind(4, m.model_path);
  st.bind(5, m.model_hash);
  st.bind(6, m.config_json);
  st.bind(7, m.sampler_json);
  st.bind(8, m.engine_version);
  st.bind(9, m.backend);
  st.bind(10, m.notes);
  st.bind(11, m.mla_mode);
  st.bind(12, static_cast<int>(m.capture));
  const Bytes bias = encode_matrix(m.gate_bias);
  if (m.gate_bias.empty())
    st.bind(13);
  else
    bind_blob(st, 13, bias);
  st.bind(14, m.kv_dtype);
  st.bind(15, m.server_url);
  st.bind(16, m.server_model);
  st.exec();
  return db.getLastInsertRowid();
}

}  // namespace

std::unique_ptr<SessionRecorder> SessionRecorder::start(const fs::path& db_path, const SessionMeta& meta,
                                                        RecorderOptions options) {
  std::unique_ptr<SessionRecorder> r(new SessionRecorder());
  r->path_ = db_path;
  r->opt_ = std::move(options);
  SQLite::Database db = open_session_db(db_path, DbAccess::Write);
  if (sqlite3_db_readonly(db.getHandle(), "main") == 1)
    fail("sessions", db_path.string(), "read-only location, cannot record here");
  try {
    if (r->opt_.max_page_count > 0) db.exec("PRAGMA max_page_count = " + std::to_string(r->opt_.max_page_count));
    r->session_id_ = insert_session(db, meta);
    r->db_ = std::make_unique<Db>(std::move(db));
  } catch (const SQLite::Exception& e) {
    fail("sessions", db_path.string(), std::string("cannot start recording: ") + e.what());
  }
  r->queue_ = std::make_unique<SpscQueue<Event>>(r->opt_.queue_capacity);
  r->thread_ = std::thread([p = r.get()] { p->run(); });
  return r;
}

std::unique_ptr<SessionRecorder> try_start_recording(const fs::path& db_path, const SessionMeta& meta,
                                                     RecorderOptions options, std::string& message) {
  try {
    return SessionRecorder::start(db_path, meta, std::move(options));
  } catch (const Error& e) {
    message = e.what();
    return nullptr;
  }
}

SessionRecorder::~SessionRecorder() {
  if (thread_.joinable()) {
    while (!overflow_.empty()) {
      drain_overflow();
      if (!overflow_.empty()) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    stopping_.store(true, std::memory_order_release);
    thread_.join();
  }
}

void SessionRecorder::drain_overflow() {
  while (!overflow_.empty() && queue_->try_push(std::move(overflow_.front()))) overflow_.pop_front();
}

bool SessionRecorder::enqueue(Event&& e) {
  if (stopped_.load(std::memory_order_acquire)) {
    if (e.kind == Event::Kind::Token) lost_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  drain_overflow();
  // Order matters: never let a new event overtake ones still waiting in the overflow list.
  if (!overflow_.empty() || !queue_->try_push(std::move(e))) overflow_.push_back(std::move(e));
  return true;
}

bool SessionRecorder::record(StepRecord rec) {
  Event e;
  e.kind = Event::Kind::Token;
  e.step = std::move(rec);
  return enqueue(std::move(e));
}

bool SessionRecorder::add_message(int32_t index, const Message& m) {
  Event e;
  e.kind = Event::Kind::Message;
  e.message = m;
  e.n = index;
  return enqueue(std::move(e));
}

bool SessionRecorder::add_bookmark(const Bookmark& b) {
  Event e;
  e.kind = Event::Kind::Bookmark;
  e.bookmark = b;
  return enqueue(std::move(e));
}

bool SessionRecorder::add_annotation(const Annotation& a) {
  Event e;
  e.kind = Event::Kind::Annotation;
  e.annotation = a;
  return enqueue(std::move(e));
}

bool SessionRecorder::set_title(const std::string& title) {
  Event e;
  e.kind = Event::Kind::Title;
  e.text = title;
  return enqueue(std::move(e));
}

bool SessionRecorder::truncate(int32_t n_tokens) {
  Event e;
  e.kind = Event::Kind::Truncate;
  e.n = n_tokens;
  return enqueue(std::move(e));
}

void SessionRecorder::flush() {
  Event e;
  e.kind = Event::Kind::Flush;
  e.n = static_cast<int64_t>(++flush_requested_);
  const uint64_t ticket = flush_requested_;
  // Flush tickets go through even after a stop so this never waits forever.
  drain_overflow();
  if (!overflow_.empty() || !queue_->try_push(std::move(e))) overflow_.push_back(std::move(e));
  while (flush_done_.load(std::memory_order_acquire) < ticket) {
    drain_overflow();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

RecorderStatus SessionRecorder::status() const {
  RecorderStatus s;
  s.recording = recording();
  s.tokens_committed = committed_.load(std::memory_order_acquire);
  s.tokens_stored = stored_.load(std::memory_order_acquire);
  s.tokens_lost = lost_.load(std::memory_order_relaxed);
  std::lock_guard lock(message_mu_);
  s.message = message_;
  return s;
}

void SessionRecorder::run() {
  Db& d = *db_;
  const int64_t sid = session_id_;
  bool in_tx = false;
  int tokens_in_tx = 0;
  // The session's length as the open transaction leaves it: positions are written in order, and
  // a truncation cuts it; published with each commit.
  uint64_t length_in_tx = 0;
  Clock::time_point tx_start{};

  auto commit = [&] {
    if (!in_tx) return;
    d.db.exec("COMMIT");
    in_tx = false;
    stored_.store(length_in_tx, std::memory_order_release);
    const uint64_t total = committed_.fetch_add(static_cast<uint64_t>(tokens_in_tx), std::memory_order_acq_rel) +
                           static_cast<uint64_t>(tokens_in_tx);
    tokens_in_tx = 0;
    if (opt_.on_commit) opt_.on_commit(total);
  };
  auto stop_with = [&](const std::string& cause) {
    if (in_tx) {
      try {
        d.db.exec("ROLLBACK");
      } catch (const std::exception&) {
        // SQLite may already have rolled back on SQLITE_FULL; nothing else to undo.
      }
      in_tx = false;
    }
    lost_.fetch_add(static_cast<uint64_t>(tokens_in_tx), std::memory_order_relaxed);
    tokens_in_tx = 0;
    std::string msg = "[sessions] " + path_.string() + ": recording stopped after " +
                      std::to_string(committed_.load()) + " tokens: " + cause;
    {
      std::lock_guard lock(message_mu_);
      message_ = msg;
    }
    stopped_.store(true, std::memory_order_release);
    if (opt_.on_stop) opt_.on_stop(msg);
  };

  auto apply = [&](Event& e) {
    switch (e.kind) {
      case Event::Kind::Token: {
        const StepRecord& r = e.step;
        auto& t = d.token;
        t.reset();
        t.bind(1, sid);
        t.bind(2, r.position);
        t.bind(3, r.id);
        t.bind(4, r.text);
        t.bind(5, r.is_prompt ? 1 : 0);
        t.bind(6, r.message);
        t.bind(7, static_cast<double>(r.prob));
        const Bytes top_raw = encode_top(r.top_raw), top_sampled = encode_top(r.top_sampled);
        bind_blob(t, 8, top_raw);
        bind_blob(t, 9, top_sampled);
        t.bind(10, static_cast<double>(r.ms));
        t.bind(11, static_cast<double>(r.raw_prob));
        t.bind(12, static_cast<int64_t>(r.kv_bytes));
        t.exec();
        if (!r.routes.empty()) {
          auto& q = d.routing;
          q.reset();
          q.bind(1, sid);
          q.bind(2, r.position);
          const Bytes routes = encode_routes(r.routes);
          bind_blob(q, 3, routes);
          const Bytes scores = encode_scores(r.scores, opt_.score_format);
          const Bytes selection = encode_scores(r.selection, opt_.score_format);
          if (r.scores.empty()) q.bind(4); else bind_blob(q, 4, scores);
          if (r.selection.empty()) q.bind(5); else bind_blob(q, 5, selection);
          q.exec();
        }
        for (const AttentionRow& a : r.attention) {
          auto& q = d.attention;
          q.reset();
          q.bind(1, sid);
          q.bind(2, r.position);
          q.bind(3, a.layer);
          q.bind(4, a.n_heads);
          q.bind(5, a.n_keys);
          const bool topk = opt_.attention_topk > 0 && opt_.attention_topk < a.n_keys;
          q.bind(6, static_cast<int>(topk ? AttentionFormat::TopK : AttentionFormat::DenseF16));
          q.bind(7, topk ? opt_.attention_topk : 0);
          const Bytes probs = topk ? encode_attention_topk(a.probs, a.n_heads, a.n_keys, opt_.attention_topk)
                                   : encode_f16(a.probs);
          bind_blob(q, 8, probs);
          // The nope/rope split is only kept with dense rows: top-k exists to bound size.
          const Bytes nope = encode_f16(a.nope), rope = encode_f16(a.rope);
          if (topk || a.nope.empty()) q.bind(9); else bind_blob(q, 9, nope);
          if (topk || a.rope.empty()) q.bind(10); else bind_blob(q, 10, rope);
          q.exec();
        }
        ++tokens_in_tx;
        length_in_tx = std::max<uint64_t>(length_in_tx, static_cast<uint64_t>(r.position) + 1);
        break;
      }
      case Event::Kind::Message: {
        auto& q = d.message;
        q.reset();
        q.bind(1, sid);
        q.bind(2, e.n);
        q.bind(3, e.message.role);
        q.bind(4, e.message.text);
        q.bind(5, e.message.first_token);
        q.bind(6, e.message.end_token);
        q.bind(7, e.message.sampler_json);
        q.exec();
        break;
      }
      case Event::Kind::Bookmark: {
        auto& q = d.bookmark;
        q.reset();
        if (e.bookmark.id >= 0) q.bind(1, e.bookmark.id); else q.bind(1);
        q.bind(2, sid);
        q.bind(3, e.bookmark.position);
        q.bind(4, e.bookmark.note);
        q.exec();
        break;
      }
      case Event::Kind::Annotation: {
        auto& q = d.annotation;
        q.reset();
        if (e.annotation.id >= 0) q.bind(1, e.annotation.id); else q.bind(1);
        q.bind(2, sid);
        q.bind(3, e.annotation.position);
        q.bind(4, e.annotation.layer);
        q.bind(5, e.annotation.text);
        q.exec();
        break;
      }
      case Event::Kind::Title: {
        d.title.reset();
        d.title.bind(1, e.text);
        d.title.bind(2, sid);
        d.title.exec();
        break;
      }
      case Event::Kind::Truncate: {
        const std::string n = std::to_string(e.n), s = std::to_string(sid);
        for (const char* table : {"tokens", "routing", "attention"})
          d.db.exec(std::string("DELETE FROM ") + table + " WHERE session_id = " + s + " AND position >= " + n);
        d.db.exec("DELETE FROM messages WHERE session_id = " + s + " AND first_token >= " + n);
        d.db.exec("UPDATE messages SET end_token = " + n + " WHERE session_id = " + s + " AND end_token > " + n);
        length_in_tx = std::min<uint64_t>(length_in_tx, static_cast<uint64_t>(std::max<int64_t>(0, e.n)));
        break;
      }
      case Event::Kind::Flush: break;
    }
  };

  Event e;
  for (;;) {
    // Every hand-over happens before stopping_ is set, so a drain after seeing it gets them all.
    const bool last = stopping_.load(std::memory_order_acquire);
    bool any = false;
    while (queue_->try_pop(e)) {
      any = true;
      if (e.kind == Event::Kind::Flush) {
        if (!stopped_.load(std::memory_order_relaxed)) {
          try {
            commit();
          } catch (const std::exception& x) {
            stop_with(x.what());
          }
        }
        flush_done_.store(static_cast<uint64_t>(e.n), std::memory_order_release);
        continue;
      }
      if (stopped_.load(std::memory_order_relaxed)) {
        if (e.kind == Event::Kind::Token) lost_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      try {
        if (!in_tx) {
          d.db.exec("BEGIN");
          in_tx = true;
          tx_start = Clock::now();
        }
        apply(e);
        if (tokens_in_tx >= opt_.commit_every_tokens) commit();
      } catch (const std::exception& x) {
        stop_with(x.what());
      }
    }
    if (in_tx && !stopped_.load(std::memory_order_relaxed) &&
        (last || Clock::now() - tx_start >= std::chrono::milliseconds(opt_.commit_every_ms))) {
      try {
        commit();
      } catch (const std::exception& x) {
        stop_with(x.what());
      }
    }
    if (last) break;
    if (!any) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace mlascope::sessions
