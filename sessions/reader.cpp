// sessions/reader.cpp — list, load (one pass per table, ordered by primary key), delete, replay.
#include "reader.h"

#include <algorithm>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include "blob_codec.h"
#include "engine/error.h"
#include "session_db.h"

namespace mlascope::sessions {

namespace fs = std::filesystem;

namespace {

std::span<const uint8_t> blob(const SQLite::Column& c) {
  if (c.isNull()) return {};
  return {static_cast<const uint8_t*>(c.getBlob()), static_cast<size_t>(c.getBytes())};
}

std::string like_pattern(const std::string& s) {
  std::string p = "%";
  for (char ch : s) {
    if (ch == '%' || ch == '_' || ch == '\\') p += '\\';
    p += ch;
  }
  return p + "%";
}

}  // namespace

SessionReader::SessionReader(const fs::path& db_path)
    : path_(db_path), db_(std::make_unique<SQLite::Database>(open_session_db(db_path, DbAccess::Read))) {}
SessionReader::~SessionReader() = default;
SessionReader::SessionReader(SessionReader&&) noexcept = default;
SessionReader& SessionReader::operator=(SessionReader&&) noexcept = default;

std::vector<SessionSummary> SessionReader::list(const SessionQuery& q) const {
  std::vector<SessionSummary> out;
  try {
    SQLite::Statement st(*db_,
                         "SELECT s.id, s.title, s.created, s.model_name, s.model_path, s.model_hash, s.backend, s.capture,"
                         " (SELECT count(*) FROM tokens t WHERE t.session_id = s.id),"
                         " (SELECT count(*) FROM tokens t WHERE t.session_id = s.id AND t.is_prompt = 0),"
                         " (SELECT count(*) FROM messages m WHERE m.session_id = s.id)"
                         " FROM sessions s"
                         " WHERE s.title LIKE ?1 ESCAPE '\\' AND (s.model_name LIKE ?2 ESCAPE '\\' OR s.model_path LIKE ?2 ESCAPE '\\')"
                         " AND (?3 = 0 OR s.created >= ?3) AND (?4 = 0 OR s.created < ?4)"
                         " ORDER BY s.created DESC, s.id DESC");
    st.bind(1, like_pattern(q.title));
    st.bind(2, like_pattern(q.model));
    st.bind(3, q.since_unix);
    st.bind(4, q.until_unix);
    while (st.executeStep()) {
      SessionSummary s;
      s.id = st.getColumn(0).getInt64();
      s.title = st.getColumn(1).getString();
      s.created_unix = st.getColumn(2).getInt64();
      s.model_name = st.getColumn(3).getString();
      s.model_path = st.getColumn(4).getString();
      s.model_hash = st.getColumn(5).getString();
      s.backend = st.getColumn(6).getString();
      s.capture = static_cast<CapturePolicy>(std::clamp(st.getColumn(7).getInt(), 0, 3));
      s.n_tokens = st.getColumn(8).getInt64();
      s.n_generated = st.getColumn(9).getInt64();
      s.n_messages = st.getColumn(10).getInt64();
      out.push_back(std::move(s));
    }
  } catch (const SQLite::Exception& e) {
    fail("sessions", path_.string(), std::string("cannot list sessions: ") + e.what());
  }
  return out;
}

bool SessionReader::exists(int64_t id) const {
  SQLite::Statement st(*db_, "SELECT 1 FROM sessions WHERE id = ?");
  st.bind(1, id);
  return st.executeStep();
}

void SessionReader::load(int64_t id, TraceModel& tm) const {
  const std::string where = "session " + std::to_string(id);
  try {
    SessionMeta meta;
    {
      SQLite::Statement st(*db_,
                           "SELECT title, created, model_name, model_path, model_hash, config_json, sampler_json,"
                           " engine_version, backend, notes, mla_mode, capture, gate_bias, kv_dtype, server_url, server_model"
                           " FROM sessions WHERE id = ?");
      st.bind(1, id);
      if (!st.executeStep()) fail("sessions", path_.string(), "no session with id " + std::to_string(id));
      meta.session_id = id;
      meta.title = st.getColumn(0).getString();
      meta.created_unix = st.getColumn(1).getInt64();
      meta.model_name = st.getColumn(2).getString();
      meta.model_path = st.getColumn(3).getString();
      meta.model_hash = st.getColumn(4).getString();
      meta.config_json = st.getColumn(5).getString();
      meta.sampler_json = st.getColumn(6).getString();
      meta.engine_version = st.getColumn(7).getString();
      meta.backend = st.getColumn(8).getString();
      meta.notes = st.getColumn(9).getString();
      meta.mla_mode = st.getColumn(10).getString();
      meta.capture = static_cast<CapturePolicy>(std::clamp(st.getColumn(11).getInt(), 0, 3));
      meta.gate_bias = decode_matrix(blob(st.getColumn(12)));
      meta.kv_dtype = st.getColumn(13).getString();
      meta.server_url = st.getColumn(14).getString();
      meta.server_model = st.getColumn(15).getString();
      if (!meta.config_json.empty())
        meta.config = ModelConfig::from_json_text(meta.config_json, path_.string() + " " + where + " config_json");
    }
    tm.reset(std::move(meta));

    std::vector<StepRecord> steps;
    {
      SQLite::Statement count(*db_, "SELECT count(*) FROM tokens WHERE session_id = ?");
      count.bind(1, id);
      count.executeStep();
      steps.reserve(static_cast<size_t>(count.getColumn(0).getInt64()));
      tm.reserve(steps.capacity());
    }
    {
      SQLite::Statement st(*db_,
                           "SELECT position, token_id, text, is_prompt, message, prob, top_raw, top_sampled, ms, raw_prob,"
                           " kv_bytes FROM tokens WHERE session_id = ? ORDER BY position");
      st.bind(1, id);
      while (st.executeStep()) {
        StepRecord r;
        r.position = st.getColumn(0).getInt();
        if (r.position != static_cast<int32_t>(steps.size()))
          fail("sessions", path_.string(), where + ": tokens table has a gap before position " + std::to_string(r.position));
        r.id = st.getColumn(1).getInt();
        r.text = st.getColumn(2).getString();
        r.is_prompt = st.getColumn(3).getInt() != 0;
        r.message = st.getColumn(4).getInt();
        r.prob = static_cast<float>(st.getColumn(5).getDouble());
        r.top_raw = decode_top(blob(st.getColumn(6)));
        r.top_sampled = decode_top(blob(st.getColumn(7)));
        r.ms = static_cast<float>(st.getColumn(8).getDouble());
        r.raw_prob = static_cast<float>(st.getColumn(9).getDouble());
        r.kv_bytes = static_cast<uint64_t>(st.getColumn(10).getInt64());
        steps.push_back(std::move(r));
      }
    }
    {
      SQLite::Statement st(*db_, "SELECT position, routes, scores, selection FROM routing WHERE session_id = ? ORDER BY position");
      st.bind(1, id);
      while (st.executeStep()) {
        const int pos = st.getColumn(0).getInt();
        if (pos < 0 || static_cast<size_t>(pos) >= steps.size()) continue;  // orphan row past a crash cut
        StepRecord& r = steps[static_cast<size_t>(pos)];
        r.routes = decode_routes(blob(st.getColumn(1)));
        if (!st.getColumn(2).isNull()) r.scores = decode_scores(blob(st.getColumn(2)));
        if (!st.getColumn(3).isNull()) r.selection = decode_scores(blob(st.getColumn(3)));
      }
    }
    {
      SQLite::Statement st(*db_,
                           "SELECT position, layer, n_heads, n_keys, format, top_k, probs, nope, rope FROM attention"
                           " WHERE session_id = ? ORDER BY position, layer");
      st.bind(1, id);
      while (st.executeStep()) {
        const int pos = st.getColumn(0).getInt();
        if (pos < 0 || static_cast<size_t>(pos) >= steps.size()) continue;
        AttentionRow a;
        a.layer = st.getColumn(1).getInt();
        a.n_heads = st.getColumn(2).getInt();
        a.n_keys = st.getColumn(3).getInt();
        if (a.n_heads <= 0 || a.n_keys <= 0)
          fail("sessions", path_.string(), where + ": attention row at position " + std::to_string(pos) + " has no shape");
        const size_t n = static_cast<size_t>(a.n_heads) * static_cast<size_t>(a.n_keys);
        const auto format = static_cast<AttentionFormat>(st.getColumn(4).getInt());
        if (format == AttentionFormat::TopK) {
          a.probs = decode_attention_topk(blob(st.getColumn(6)), a.n_heads, a.n_keys, st.getColumn(5).getInt());
        } else {
          a.probs = decode_f16(blob(st.getColumn(6)), n);
          if (!st.getColumn(7).isNull()) a.nope = decode_f16(blob(st.getColumn(7)), n);
          if (!st.getColumn(8).isNull()) a.rope = decode_f16(blob(st.getColumn(8)), n);
        }
        steps[static_cast<size_t>(pos)].attention.push_back(std::move(a));
      }
    }
    for (StepRecord& r : steps) tm.append(std::move(r));
    {
      SQLite::Statement st(*db_, "SELECT role, text, first_token, end_token, sampler_json FROM messages WHERE session_id = ? ORDER BY idx");
      st.bind(1, id);
      while (st.executeStep())
        tm.add_message({st.getColumn(0).getString(), st.getColumn(1).getString(), st.getColumn(2).getInt(),
                        st.getColumn(3).getInt(), st.getColumn(4).getString()});
    }
    {
      SQLite::Statement st(*db_, "SELECT id, position, note FROM bookmarks WHERE session_id = ? ORDER BY position, id");
      st.bind(1, id);
      while (st.executeStep()) tm.add_bookmark({st.getColumn(0).getInt64(), st.getColumn(1).getInt(), st.getColumn(2).getString()});
    }
    {
      SQLite::Statement st(*db_, "SELECT id, position, layer, text FROM annotations WHERE session_id = ? ORDER BY position, id");
      st.bind(1, id);
      while (st.executeStep())
        tm.add_annotation({st.getColumn(0).getInt64(), st.getColumn(1).getInt(), st.getColumn(2).getInt(), st.getColumn(3).getString()});
    }
  } catch (const SQLite::Exception& e) {
    fail("sessions", path_.string(), "cannot read " + where + ": " + e.what());
  } catch (const Error& e) {
    const std::string m = e.what();
    if (m.find(path_.string()) != std::string::npos) throw;
    // Blob decoders do not know the file; name it and the session here.
    fail("sessions", path_.string(), where + ": " + m);
  }
}

bool SessionReader::remove(int64_t id) {
  try {
    SQLite::Database w = open_session_db(path_, DbAccess::Write);
    SQLite::Transaction tx(w);
    for (const char* table : {"tokens", "routing", "attention", "messages", "bookmarks", "annotations"}) {
      SQLite::Statement st(w, std::string("DELETE FROM ") + table + " WHERE session_id = ?");
      st.bind(1, id);
      st.exec();
    }
    SQLite::Statement st(w, "DELETE FROM sessions WHERE id = ?");
    st.bind(1, id);
    const bool removed = st.exec() > 0;
    tx.commit();
    return removed;
  } catch (const SQLite::Exception& e) {
    fail("sessions", path_.string(), "cannot delete session " + std::to_string(id) + ": " + e.what());
  }
}

ReplayCursor::ReplayCursor(const TraceModel& source, TraceModel& view) : source_(source), view_(view) {
  view_.reset(source_.meta());
  for (const Bookmark& b : source_.bookmarks()) view_.add_bookmark(b);
  for (const Annotation& a : source_.annotations()) view_.add_annotation(a);
}

void ReplayCursor::sync_messages() {
  // A message is visible once its first token is; its end grows with the cursor.
  const auto n = static_cast<int32_t>(view_.size());
  const auto src = source_.messages();
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i].first_token >= n) break;
    Message m = src[i];
    m.end_token = std::min(m.end_token, n);
    if (i < view_.messages().size()) {
      const Message& cur = view_.messages()[i];
      if (cur.end_token != m.end_token) view_.update_message(i, std::move(m));
    } else {
      view_.add_message(std::move(m));
    }
  }
}

bool ReplayCursor::forward() {
  if (view_.size() >= source_.size()) return false;
  view_.append(source_.token(view_.size()));
  sync_messages();
  return true;
}

bool ReplayCursor::back() {
  if (view_.size() == 0) return false;
  view_.truncate(view_.size() - 1);
  sync_messages();
  return true;
}

void ReplayCursor::jump(size_t n) {
  n = std::min(n, source_.size());
  if (n < view_.size()) view_.truncate(n);
  while (view_.size() < n) view_.append(source_.token(view_.size()));
  sync_messages();
}

}  // namespace mlascope::sessions
