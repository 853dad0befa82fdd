// tests/sessions/test_recorder_length.cpp — the recorder's two counts: rows written
// (tokens_committed) and the session's length in the database (tokens_stored), which a
// regenerate or fork (truncate, then positions written again) sets apart. The GUI's status line
// shows the length; it used to show the rows written ("203 tokens saved" for a 61-token session).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include "sessions/recorder.h"
#include "sessions/synthetic.h"
#include "support/data_paths.h"

using namespace mlascope;
using namespace mlascope::sessions;
namespace fs = std::filesystem;

TEST(RecorderLength, StoredFollowsTruncationsWhileCommittedCountsRowsWritten) {
  const fs::path dir = test::temp_dir("recorder_length");
  const fs::path db = dir / "s.db";
  const fs::path config = test::asset_path("models/mla-moe-demo/config.json");
  SessionMeta meta;
  std::ifstream in(config);
  std::stringstream ss;
  ss << in.rdbuf();
  meta.config_json = ss.str();
  meta.config = ModelConfig::from_json_text(meta.config_json, config.string());
  meta.title = "length";
  CaptureSettings cap;
  cap.policy = CapturePolicy::Routing;
  RecorderOptions opt;
  opt.commit_every_tokens = 4;
  auto rec = SessionRecorder::start(db, meta, opt);
  for (int p = 0; p < 10; ++p) rec->record(synthetic_step(meta.config, cap, 1, p));
  rec->flush();
  EXPECT_EQ(rec->status().tokens_stored, 10u);
  EXPECT_EQ(rec->status().tokens_committed, 10u);
  // A regenerate from position 4: six positions dropped, then written again with three more.
  rec->truncate(4);
  for (int p = 4; p < 13; ++p) rec->record(synthetic_step(meta.config, cap, 2, p));
  rec->flush();
  // Then a fork at 7 that adds nothing yet: the session is 7 tokens long.
  rec->truncate(7);
  rec->flush();
  const RecorderStatus st = rec->status();
  EXPECT_EQ(st.tokens_committed, 19u);
  EXPECT_EQ(st.tokens_stored, 7u);
  // The database agrees (counted by SQL, not by the recorder).
  SQLite::Database d(db.string(), SQLite::OPEN_READONLY);
  SQLite::Statement q(d, "SELECT COUNT(*), MAX(position) FROM tokens WHERE session_id = ?");
  q.bind(1, rec->session_id());
  ASSERT_TRUE(q.executeStep());
  EXPECT_EQ(q.getColumn(0).getInt64(), 7);
  EXPECT_EQ(q.getColumn(1).getInt64(), 6);
  rec.reset();
  fs::remove_all(dir);
}
