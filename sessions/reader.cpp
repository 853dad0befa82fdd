// sessions/reader.cpp — list, load (one pass per table, ordered by primary key), delete, replay.
#include "reader.h"

#include <algorithm>
#include <tuple>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include "blob_codec.h"
#include "engine/error.h"
#include "engine/json_limits.h"
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
  try {
    SQLite::Statement st(*db_, "SELECT 1 FROM sessions WHERE id = ?");
    st.bind(1, id);
    return st.executeStep();
  } catch (const SQLite::Exception& e) {
    fail("sessions", path_.string(), std::string("cannot read the sessions table: ") + e.what());
  }
}

namespace {

// The skipped records of one load, as one-line messages naming the file, the session, the position
// and the field.
class Problems {
 public:
  explicit Problems(std::string prefix) : prefix_(std::move(prefix)) {}
  void add(const std::string& where, const std::string& what) {
    if (lines_.size() < kMaxLoadProblems) lines_.push_back(printable_line(prefix_ + where + ": " + what));
    else ++more_;
  }
  std::vector<std::string> take() {
    if (more_ > 0) lines_.push_back(prefix_ + ": " + std::to_string(more_) + " more records skipped");
    return std::move(lines_);
  }

 private:
  std::string prefix_;
  std::vector<std::string> lines_;
  size_t more_ = 0;
};

std::string at_pos(int64_t pos) { return ", position " + std::to_string(pos); }

// A decoder's message without its "[sessions] " prefix, for nesting in a problem line.
std::string bare(const Error& e) {
  std::string_view m = e.what();
  if (m.starts_with("[sessions] ")) m.remove_prefix(11);
  return std::string(m);
}

// JSON text kept in the session (config, sampler settings) is parsed later by export and verify;
// nesting deeper than any real file would overflow their recursion.
bool json_too_deep(const std::string& text) { return json_depth_exceeded_at(text) != std::string_view::npos; }

}  // namespace

std::vector<std::string> SessionReader::load(int64_t id, TraceModel& tm) const {
  const std::string where = "session " + std::to_string(id);
  Problems problems("[sessions] " + path_.string() + ": " + where);
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
      meta.kv_dtype = st.getColumn(13).getString();
      meta.server_url = st.getColumn(14).getString();
      meta.server_model = st.getColumn(15).getString();
      if (!meta.config_json.empty()) {
        try {
          meta.config = ModelConfig::from_json_text(meta.config_json, "config_json");
        } catch (const Error& e) {
          problems.add("", std::string(e.what()) + "; routing and attention cannot be checked and are skipped");
          meta.config_json.clear();
          meta.config = ModelConfig{};
        }
      }
      if (json_too_deep(meta.sampler_json)) {
        problems.add("", "sampler_json nests deeper than " + std::to_string(kMaxJsonDepth) + " levels; dropped");
        meta.sampler_json.clear();
      }
      try {
        meta.gate_bias = decode_matrix(blob(st.getColumn(12)));
        const size_t rows = meta.gate_bias.size(), cols = rows ? meta.gate_bias[0].size() : 0;
        if (rows && (rows != static_cast<size_t>(meta.config.n_moe_layers()) ||
                     cols != static_cast<size_t>(meta.config.n_routed_experts)))
          fail("sessions", "gate_bias", std::to_string(rows) + " x " + std::to_string(cols) + " values, the config has " +
                                            std::to_string(meta.config.n_moe_layers()) + " MoE layers of " +
                                            std::to_string(meta.config.n_routed_experts) + " experts");
      } catch (const Error& e) {
        problems.add("", bare(e) + "; gate bias dropped");
        meta.gate_bias.clear();
      }
    }
    const ModelConfig cfg = meta.config;
    const int n_moe = cfg.n_moe_layers();
    const size_t n_scores = static_cast<size_t>(n_moe) * static_cast<size_t>(std::max(0, cfg.n_routed_experts));
    const bool have_config = cfg.num_hidden_layers > 0;
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
        const int64_t position = st.getColumn(0).getInt64();
        if (position != static_cast<int64_t>(steps.size())) {
          // Positions index everything else; the tokens before the gap are the session.
          problems.add(at_pos(position), "the tokens table has a gap before this position; tokens from here on skipped");
          break;
        }
        r.position = static_cast<int32_t>(position);
        r.id = st.getColumn(1).getInt();
        r.text = st.getColumn(2).getString();
        r.is_prompt = st.getColumn(3).getInt() != 0;
        r.message = st.getColumn(4).getInt();
        r.prob = static_cast<float>(st.getColumn(5).getDouble());
        for (auto [col, field, out] : {std::tuple{6, "top_raw", &r.top_raw}, std::tuple{7, "top_sampled", &r.top_sampled}}) {
          try {
            *out = decode_top(blob(st.getColumn(col)));
          } catch (const Error& e) {
            problems.add(at_pos(position), std::string(field) + ": " + bare(e) + "; dropped");
          }
        }
        r.ms = static_cast<float>(st.getColumn(8).getDouble());
        r.raw_prob = static_cast<float>(st.getColumn(9).getDouble());
        r.kv_bytes = static_cast<uint64_t>(st.getColumn(10).getInt64());
        steps.push_back(std::move(r));
      }
    }
    if (!have_config) {
      SQLite::Statement st(*db_,
                           "SELECT (SELECT count(*) FROM routing WHERE session_id = ?1) + "
                           "(SELECT count(*) FROM attention WHERE session_id = ?1)");
      st.bind(1, id);
      st.executeStep();
      if (st.getColumn(0).getInt64() > 0)
        problems.add("", "has no model config: its " + std::to_string(st.getColumn(0).getInt64()) +
                             " routing and attention rows cannot be checked and are skipped");
    } else {
      SQLite::Statement st(*db_, "SELECT position, routes, scores, selection FROM routing WHERE session_id = ? ORDER BY position");
      st.bind(1, id);
      while (st.executeStep()) {
        const int64_t pos = st.getColumn(0).getInt64();
        if (pos < 0 || static_cast<uint64_t>(pos) >= steps.size()) continue;  // orphan row past a crash cut
        const std::string at = at_pos(pos) + ", routing";
        StepRecord& r = steps[static_cast<size_t>(pos)];
        std::vector<RouteRow> routes;
        try {
          routes = decode_routes(blob(st.getColumn(1)));
        } catch (const Error& e) {
          problems.add(at, bare(e) + "; row skipped");
          continue;
        }
        // Fewer layers than the model has read back as "not captured" for the rest (TraceModel::route).
        if (routes.size() > static_cast<size_t>(n_moe)) {
          problems.add(at, "routes of " + std::to_string(routes.size()) + " layers, the config has " +
                               std::to_string(n_moe) + " MoE layers; row skipped");
          continue;
        }
        std::string bad;
        for (size_t l = 0; l < routes.size() && bad.empty(); ++l)
          for (int i = 0; i < routes[l].k; ++i)
            if (const int e = routes[l].expert[static_cast<size_t>(i)]; e < 0 || e >= cfg.n_routed_experts) {
              bad = "expert " + std::to_string(e) + " in MoE layer " + std::to_string(l) + " is not one of the " +
                    std::to_string(cfg.n_routed_experts) + " routed experts; row skipped";
              break;
            }
        if (!bad.empty()) {
          problems.add(at, bad);
          continue;
        }
        r.routes = std::move(routes);
        for (auto [col, field, out] : {std::tuple{2, "scores", &r.scores}, std::tuple{3, "selection", &r.selection}}) {
          if (st.getColumn(col).isNull()) continue;
          try {
            std::vector<float> v = decode_scores(blob(st.getColumn(col)));
            if (v.size() != n_scores)
              fail("sessions", field, std::to_string(v.size()) + " values, the config implies " + std::to_string(n_scores));
            *out = std::move(v);
          } catch (const Error& e) {
            problems.add(at, bare(e) + "; dropped");
          }
        }
      }
    }
    if (have_config) {
      SQLite::Statement st(*db_,
                           "SELECT position, layer, n_heads, n_keys, format, top_k, probs, nope, rope FROM attention"
                           " WHERE session_id = ? ORDER BY position, layer");
      st.bind(1, id);
      while (st.executeStep()) {
        const int64_t pos = st.getColumn(0).getInt64();
        if (pos < 0 || static_cast<uint64_t>(pos) >= steps.size()) continue;
        const int64_t layer = st.getColumn(1).getInt64(), n_heads = st.getColumn(2).getInt64(),
                      n_keys = st.getColumn(3).getInt64(), format = st.getColumn(4).getInt64(),
                      top_k = st.getColumn(5).getInt64();
        const std::string at = at_pos(pos) + ", attention layer " + std::to_string(layer);
        // Every size is checked against the session before a byte is allocated from it: the views
        // index token n for every key n < n_keys, and the heads come from the model.
        std::string bad;
        if (layer < 0 || layer >= cfg.num_hidden_layers)
          bad = "layer is outside the model's " + std::to_string(cfg.num_hidden_layers) + " layers";
        else if (n_heads != cfg.num_attention_heads)
          bad = "n_heads " + std::to_string(n_heads) + " is not the model's " + std::to_string(cfg.num_attention_heads) + " heads";
        else if (n_keys < 1 || n_keys > pos + 1)
          bad = "n_keys " + std::to_string(n_keys) + " is outside 1..position + 1 (" + std::to_string(pos + 1) + ")";
        else if (format != static_cast<int>(AttentionFormat::DenseF16) && format != static_cast<int>(AttentionFormat::TopK))
          bad = "format " + std::to_string(format) + " is unknown";
        else if (format == static_cast<int>(AttentionFormat::TopK) && (top_k < 1 || top_k > n_keys))
          bad = "top_k " + std::to_string(top_k) + " is outside 1..n_keys (" + std::to_string(n_keys) + ")";
        if (!bad.empty()) {
          problems.add(at, bad + "; row skipped");
          continue;
        }
        AttentionRow a;
        a.layer = static_cast<int32_t>(layer);
        a.n_heads = static_cast<int32_t>(n_heads);
        a.n_keys = static_cast<int32_t>(n_keys);
        const size_t n = static_cast<size_t>(n_heads) * static_cast<size_t>(n_keys);
        try {
          if (format == static_cast<int>(AttentionFormat::TopK)) {
            a.probs = decode_attention_topk(blob(st.getColumn(6)), a.n_heads, a.n_keys, static_cast<int>(top_k));
          } else {
            a.probs = decode_f16(blob(st.getColumn(6)), n);
            if (!st.getColumn(7).isNull()) a.nope = decode_f16(blob(st.getColumn(7)), n);
            if (!st.getColumn(8).isNull()) a.rope = decode_f16(blob(st.getColumn(8)), n);
          }
        } catch (const Error& e) {
          problems.add(at, bare(e) + "; row skipped");
          continue;
        }
        steps[static_cast<size_t>(pos)].attention.push_back(std::move(a));
      }
    }
    const auto n_tokens = static_cast<int64_t>(steps.size());
    std::vector<Message> messages;
    {
      SQLite::Statement st(*db_, "SELECT role, text, first_token, end_token, sampler_json, idx FROM messages WHERE session_id = ? ORDER BY idx");
      st.bind(1, id);
      while (st.executeStep()) {
        Message m{st.getColumn(0).getString(), st.getColumn(1).getString(), 0, 0, st.getColumn(4).getString()};
        const int64_t first = st.getColumn(2).getInt64(), end = st.getColumn(3).getInt64();
        const std::string at = ", message " + std::to_string(st.getColumn(5).getInt64());
        if (first < 0 || first > end || end > n_tokens)
          problems.add(at, "tokens [" + std::to_string(first) + ", " + std::to_string(end) + ") are outside the session's " +
                               std::to_string(n_tokens) + " tokens; clamped");
        m.first_token = static_cast<int32_t>(std::clamp<int64_t>(first, 0, n_tokens));
        m.end_token = static_cast<int32_t>(std::clamp<int64_t>(end, m.first_token, n_tokens));
        if (json_too_deep(m.sampler_json)) {
          problems.add(at, "sampler_json nests deeper than " + std::to_string(kMaxJsonDepth) + " levels; dropped");
          m.sampler_json.clear();
        }
        messages.push_back(std::move(m));
      }
    }
    for (StepRecord& r : steps) {
      if (r.message < -1 || r.message >= static_cast<int32_t>(messages.size())) {
        problems.add(at_pos(r.position), "message " + std::to_string(r.message) + " is not one of the session's " +
                                             std::to_string(messages.size()) + " messages; cleared");
        r.message = -1;
      }
      tm.append(std::move(r));
    }
    for (Message& m : messages) tm.add_message(std::move(m));
    {
      SQLite::Statement st(*db_, "SELECT id, position, note FROM bookmarks WHERE session_id = ? ORDER BY position, id");
      st.bind(1, id);
      while (st.executeStep()) {
        const int64_t pos = st.getColumn(1).getInt64();
        if (pos < 0 || pos >= n_tokens) {
          problems.add(", bookmark " + std::to_string(st.getColumn(0).getInt64()),
                       "position " + std::to_string(pos) + " is outside the session's " + std::to_string(n_tokens) + " tokens; skipped");
          continue;
        }
        tm.add_bookmark({st.getColumn(0).getInt64(), static_cast<int32_t>(pos), st.getColumn(2).getString()});
      }
    }
    {
      SQLite::Statement st(*db_, "SELECT id, position, layer, text FROM annotations WHERE session_id = ? ORDER BY position, id");
      st.bind(1, id);
      while (st.executeStep()) {
        const int64_t pos = st.getColumn(1).getInt64(), layer = st.getColumn(2).getInt64();
        if (pos < 0 || pos >= n_tokens || layer < -1 || layer >= std::max(cfg.num_hidden_layers, 0)) {
          problems.add(", annotation " + std::to_string(st.getColumn(0).getInt64()),
                       "position " + std::to_string(pos) + ", layer " + std::to_string(layer) +
                           " is outside the session's tokens or the model's layers; skipped");
          continue;
        }
        tm.add_annotation({st.getColumn(0).getInt64(), static_cast<int32_t>(pos), static_cast<int32_t>(layer),
                           st.getColumn(3).getString()});
      }
    }
  } catch (const SQLite::Exception& e) {
    fail("sessions", path_.string(), "cannot read " + where + ": " + e.what());
  }
  return problems.take();
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
