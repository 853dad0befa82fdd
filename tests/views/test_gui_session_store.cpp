// tests/views/test_gui_session_store.cpp — the workbench's session list and loading: the bundled
// demo session is a real recording of the demo model (greedy decoding reproduces it token for
// token, routing included), and a corrupt database is reported by name without stopping the list.
#include <gtest/gtest.h>
#ifdef MLASCOPE_HAVE_GUI

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "app/gui/session_store.h"
#include "engine/backend/backend.h"
#include "engine/generator.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "support/data_paths.h"

using namespace mlascope;
namespace gui = mlascope::app::gui;

namespace {

const std::string kProse = "The old village stood at the edge of the forest, and every morning the people";
const std::string kCode = "\n\ndef parse_numbers(text):\n    \"\"\"Return the integers in a line of text.\"\"\"\n";

TEST(GuiSessionStore, BundledSessionIsARecordingOfTheDemoModel) {
  const auto dbs = gui::bundled_session_dbs(test::asset_path("sessions"));
  ASSERT_EQ(dbs.size(), 1u);
  std::vector<std::string> errors;
  const auto list = gui::list_stored_sessions(dbs, {}, &errors);
  ASSERT_TRUE(errors.empty()) << errors.front();
  ASSERT_EQ(list.size(), 2u);
  const gui::StoredSession* greedy = nullptr;
  for (const auto& s : list) {
    EXPECT_TRUE(s.bundled);
    EXPECT_EQ(s.model, "mla-moe-demo");
    if (s.title == "demo: prose then code") greedy = &s;
  }
  ASSERT_NE(greedy, nullptr);
  EXPECT_EQ(greedy->n_tokens, 122);

  TraceModel tm;
  gui::load_stored_session(*greedy, tm);
  ASSERT_EQ(tm.size(), 122u);
  ASSERT_EQ(tm.messages().size(), 4u);
  EXPECT_EQ(tm.messages()[2].first_token, 61);  // where the Python starts (the tours rely on it)
  EXPECT_EQ(tm.meta().capture, CapturePolicy::Everything);
  ASSERT_EQ(tm.meta().gate_bias.size(), 5u);

  // The same prompts through the demo model, greedy, as the recording script sent them.
  const auto dir = test::asset_path("models/mla-moe-demo");
  std::shared_ptr<Model> model = Model::load(dir);
  auto tok = std::make_shared<Tokenizer>(Tokenizer::from_dir(dir));
  BackendOptions bo;
  bo.device = DeviceKind::Cpu;
  bo.n_threads = 2;
  // The cache type the recording ran with (bf16 since the re-recording that keeps it; f32 before).
  if (!tm.meta().kv_dtype.empty()) {
    ASSERT_TRUE(parse_kv_dtype(tm.meta().kv_dtype, bo.kv_dtype)) << tm.meta().kv_dtype;
  } else {
    bo.kv_dtype = KvDType::F32;
  }
  Generator gen(model, make_backend(*model, bo), tok);
  std::vector<StepRecord> fresh;
  auto keep = [&](StepRecord&& r) { fresh.push_back(std::move(r)); };
  std::vector<int32_t> p = {tok->bos_id()};
  const auto e1 = tok->encode(kProse);
  p.insert(p.end(), e1.begin(), e1.end());
  ASSERT_EQ(gen.feed(p, keep), StepStatus::Ok);
  gen.generate(40, keep);
  ASSERT_EQ(gen.feed(tok->encode(kCode), keep), StepStatus::Ok);
  gen.generate(40, keep);
  ASSERT_EQ(fresh.size(), tm.size());
  for (size_t i = 0; i < fresh.size(); ++i) {
    ASSERT_EQ(tm.token(i).id, fresh[i].id) << "position " << i;
    ASSERT_EQ(tm.token(i).routes.size(), fresh[i].routes.size());
    for (size_t m = 0; m < fresh[i].routes.size(); ++m)
      EXPECT_EQ(tm.token(i).routes[m].expert, fresh[i].routes[m].expert) << "position " << i << " MoE layer " << m;
  }
}

TEST(GuiSessionStore, CorruptDatabaseIsNamedAndTheOthersStillList) {
  const auto dir = test::temp_dir("gui-store");
  const auto bad = dir / "broken.db";
  std::ofstream(bad) << "this is not a SQLite database, just text long enough to look like a file header";
  std::vector<std::string> errors;
  const auto list = gui::list_stored_sessions(gui::bundled_session_dbs(test::asset_path("sessions")), bad, &errors);
  EXPECT_EQ(list.size(), 2u);  // the bundled ones
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find(bad.string()), std::string::npos) << errors[0];
  // A missing user database is simply "no sessions yet".
  errors.clear();
  EXPECT_EQ(gui::list_stored_sessions({}, dir / "none.db", &errors).size(), 0u);
  EXPECT_TRUE(errors.empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
#else
TEST(GuiSessionStore, NeedsTheGuiBuild) { GTEST_SKIP() << "built with MLASCOPE_GUI=OFF"; }
#endif
