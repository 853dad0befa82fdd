// tests/views/test_chat_controller.cpp — the GUI's chat controller on the real demo model, no
// window: fork at a token and edit-and-resend must leave the TraceModel (and the recorded session)
// exactly as a fresh Generator would have produced the same conversation from scratch, with the
// same sequence of calls. That checks the truncation of the KV cache, of the TraceModel, of the
// recording and of the messages together.
#ifdef MLASCOPE_HAVE_GUI
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <thread>
#include <string>
#include <vector>

#include "app/gui/chat_controller.h"
#include "app/gui/session_store.h"
#include "engine/error.h"
#include "engine/backend/backend.h"
#include "engine/generator.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "sessions/reader.h"
#include "support/data_paths.h"
#include "support/pty_session.h"

using namespace mlascope;
using mlascope::app::gui::ChatController;
using mlascope::app::gui::EngineOptions;

namespace {

constexpr int kNew = 10;

EngineOptions cpu_options() {
  EngineOptions o;
  o.backend.device = DeviceKind::Cpu;
  o.backend.n_threads = 2;
  return o;
}

views::ChatState greedy_plain() {
  views::ChatState c;
  c.base_model = true;
  c.max_new_tokens = kNew;
  c.sampler = SamplerSettings{};  // temperature 0: greedy
  return c;
}

// The same model driven directly: the expected ids of a conversation.
class Reference {
 public:
  Reference() {
    model_ = Model::load(test::asset_path("models/mla-moe-demo"));
    tok_ = std::make_shared<Tokenizer>(Tokenizer::from_dir(test::asset_path("models/mla-moe-demo")));
    BackendOptions bo;
    bo.device = DeviceKind::Cpu;
    bo.n_threads = 2;
    gen_ = std::make_unique<Generator>(model_, make_backend(*model_, bo), tok_);
  }
  std::vector<int32_t> prompt(const std::string& text, bool first) const {
    std::vector<int32_t> ids;
    if (first) ids.push_back(tok_->bos_id());
    const auto e = tok_->encode(text);
    ids.insert(ids.end(), e.begin(), e.end());
    return ids;
  }
  void feed(const std::vector<int32_t>& ids) {
    ASSERT_EQ(gen_->feed(ids, [&](StepRecord&& r) { records.push_back(std::move(r)); }), StepStatus::Ok);
  }
  void generate(int n) {
    gen_->generate(n, [&](StepRecord&& r) { records.push_back(std::move(r)); });
  }
  std::vector<int32_t> ids() const {
    std::vector<int32_t> v;
    for (const StepRecord& r : records) v.push_back(r.id);
    return v;
  }
  std::vector<StepRecord> records;

 private:
  std::shared_ptr<Model> model_;
  std::shared_ptr<Tokenizer> tok_;
  std::unique_ptr<Generator> gen_;
};

std::vector<int32_t> ids_of(const TraceModel& tm) {
  std::vector<int32_t> v;
  for (const StepRecord& r : tm.tokens()) v.push_back(r.id);
  return v;
}

void settle(ChatController& c, TraceModel& tm) {
  c.wait_idle();
  c.drain(tm);
  ASSERT_TRUE(c.take_errors().empty());
}

class ChatControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chat_.load_model(test::asset_path("models/mla-moe-demo"), cpu_options());
    chat_.wait_idle();
    const auto errs = chat_.take_errors();
    ASSERT_TRUE(errs.empty()) << errs.front();
    auto meta = chat_.take_loaded();
    ASSERT_TRUE(meta.has_value());
    EXPECT_EQ(meta->model_name, "mla-moe-demo");
    EXPECT_EQ(meta->config.n_routed_experts, 16);
    ASSERT_EQ(meta->gate_bias.size(), 5u);  // V3 router bias of the five MoE layers
    EXPECT_EQ(chat_.template_name(), "plain");
    tm_.reset(*meta);
  }
  ChatController chat_;
  TraceModel tm_;
};

TEST_F(ChatControllerTest, ForkAtAnAnswerTokenEqualsAFreshRunWithThatToken) {
  const views::ChatState c = greedy_plain();
  ASSERT_TRUE(chat_.send(tm_, "The old house", c));
  settle(chat_, tm_);

  Reference ref;
  const std::vector<int32_t> p = ref.prompt("The old house", true);
  ref.feed(p);
  ref.generate(kNew);
  ASSERT_EQ(ids_of(tm_), ref.ids()) << "the first answer differs from the engine driven directly";
  ASSERT_GE(tm_.size(), p.size() + 4);
  ASSERT_EQ(tm_.messages().size(), 2u);
  EXPECT_EQ(tm_.messages()[0].role, "user");
  EXPECT_EQ(tm_.messages()[0].end_token, static_cast<int32_t>(p.size()));
  EXPECT_EQ(tm_.messages()[1].role, "assistant");

  // Fork at the third answer token with its runner-up under the raw distribution.
  const size_t t = p.size() + 2;
  const StepRecord original = tm_.token(t);
  ASSERT_GE(original.top_raw.size(), 2u);
  const TopEntry alt = original.top_raw[0].id == original.id ? original.top_raw[1] : original.top_raw[0];
  ASSERT_NE(alt.id, original.id);
  const std::vector<RouteRow> routes_before = tm_.token(t - 1).routes;
  ASSERT_TRUE(chat_.fork(tm_, static_cast<int>(t), alt.id, c));
  settle(chat_, tm_);

  // Expected: the same calls without any truncation: prompt, the answer up to t, alt, then on.
  Reference fresh;
  fresh.feed(p);
  fresh.generate(static_cast<int>(t - p.size()));
  fresh.feed({alt.id});
  fresh.generate(kNew);
  EXPECT_EQ(ids_of(tm_), fresh.ids());
  ASSERT_GT(tm_.size(), t);
  EXPECT_EQ(tm_.token(t).id, alt.id);
  // The alternative's probability under the recomputed logits is the one the tooltip offered.
  EXPECT_NEAR(tm_.token(t).raw_prob, alt.prob, 1e-4f);
  // Tokens before the fork are untouched, routing included.
  ASSERT_EQ(tm_.token(t - 1).routes.size(), routes_before.size());
  for (size_t m = 0; m < routes_before.size(); ++m)
    EXPECT_EQ(tm_.token(t - 1).routes[m].expert, routes_before[m].expert);
  // Still one answer, ending at the last token.
  ASSERT_EQ(tm_.messages().size(), 2u);
  EXPECT_EQ(tm_.messages()[1].first_token, static_cast<int32_t>(p.size()));
  EXPECT_EQ(tm_.messages()[1].end_token, static_cast<int32_t>(tm_.size()));
  for (size_t i = p.size(); i < tm_.size(); ++i) EXPECT_EQ(tm_.token(i).message, 1);
}

TEST_F(ChatControllerTest, EditAndResendEqualsTheEditedConversationFromScratch) {
  const views::ChatState c = greedy_plain();
  ASSERT_TRUE(chat_.send(tm_, "Once upon a time", c));
  settle(chat_, tm_);
  ASSERT_TRUE(chat_.send(tm_, " Then", c));
  settle(chat_, tm_);
  ASSERT_EQ(tm_.messages().size(), 4u);

  // Edit the second user turn.
  ASSERT_TRUE(chat_.edit_resend(tm_, 2, " The river", c));
  settle(chat_, tm_);
  Reference ref;
  ref.feed(ref.prompt("Once upon a time", true));
  ref.generate(kNew);
  const size_t first_answer_end = ref.records.size();
  ref.feed(ref.prompt(" The river", false));
  ref.generate(kNew);
  EXPECT_EQ(ids_of(tm_), ref.ids());
  ASSERT_EQ(tm_.messages().size(), 4u);
  EXPECT_EQ(tm_.messages()[2].role, "user");
  EXPECT_EQ(tm_.messages()[2].first_token, static_cast<int32_t>(first_answer_end));
  EXPECT_EQ(tm_.messages()[3].role, "assistant");
  EXPECT_EQ(tm_.messages()[3].end_token, static_cast<int32_t>(tm_.size()));

  // Edit the first turn: everything after it goes.
  ASSERT_TRUE(chat_.edit_resend(tm_, 0, "def parse(text):", c));
  settle(chat_, tm_);
  Reference ref2;
  ref2.feed(ref2.prompt("def parse(text):", true));
  ref2.generate(kNew);
  EXPECT_EQ(ids_of(tm_), ref2.ids());
  ASSERT_EQ(tm_.messages().size(), 2u);
  EXPECT_EQ(tm_.messages()[0].first_token, 0);
}

TEST_F(ChatControllerTest, StopLeavesTheCacheAndTheTraceInStep) {
  views::ChatState c = greedy_plain();
  c.max_new_tokens = 300;
  ASSERT_TRUE(chat_.send(tm_, "The old house", c));
  chat_.stop();
  settle(chat_, tm_);
  Reference ref;
  const std::vector<int32_t> p = ref.prompt("The old house", true);
  ASSERT_GE(tm_.size(), p.size());
  const int produced = static_cast<int>(tm_.size() - p.size());
  RecordProperty("tokens_before_stop", produced);
  // Whatever the stop left, the next turn continues exactly that: the engine's cache holds what
  // the TraceModel shows, no more, no less.
  c.max_new_tokens = kNew;
  ASSERT_TRUE(chat_.send(tm_, " Later", c));
  settle(chat_, tm_);
  ref.feed(p);
  if (produced > 0) ref.generate(produced);
  ref.feed(ref.prompt(" Later", false));
  ref.generate(kNew);
  EXPECT_EQ(ids_of(tm_), ref.ids());
}

TEST_F(ChatControllerTest, AbandonFreesAWorkerBlockedOnAFullRing) {
  // A prompt longer than the ring: the worker blocks until someone drains; abandon() must free it.
  std::string text;
  for (int i = 0; i < 600; ++i) text += " the";
  views::ChatState c = greedy_plain();
  c.max_new_tokens = 4;
  ASSERT_TRUE(chat_.send(tm_, text, c));
  chat_.abandon();
  EXPECT_FALSE(chat_.busy());
  chat_.detach(tm_);
  chat_.clear(tm_);
  ASSERT_TRUE(chat_.send(tm_, "The old house", c));
  settle(chat_, tm_);
  Reference ref;
  ref.feed(ref.prompt("The old house", true));
  ref.generate(4);
  EXPECT_EQ(ids_of(tm_), ref.ids());
}

TEST_F(ChatControllerTest, AFullContextIsReportedAndTheChatStaysUsable) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += " the";
  views::ChatState c = greedy_plain();
  c.max_new_tokens = 100;
  ASSERT_TRUE(chat_.send(tm_, text, c));
  // More records than the ring holds: drain as the window does, every "frame".
  while (chat_.working()) {
    chat_.drain(tm_);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  chat_.drain(tm_);
  const auto errors = chat_.take_errors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "[gui] chat: the context of 1024 tokens is full; clear the chat or edit an earlier turn");
  EXPECT_EQ(tm_.size(), 1024u);
  EXPECT_EQ(tm_.messages().back().end_token, 1024);
  EXPECT_THROW(chat_.send(tm_, " more", c), Error);
  ASSERT_TRUE(chat_.clear(tm_));
  c.max_new_tokens = 4;
  ASSERT_TRUE(chat_.send(tm_, "The old house", c));
  settle(chat_, tm_);
  Reference ref;
  ref.feed(ref.prompt("The old house", true));
  ref.generate(4);
  EXPECT_EQ(ids_of(tm_), ref.ids());
}

TEST_F(ChatControllerTest, RecordedSessionFollowsForksAndKeepsBookmarks) {
  const std::filesystem::path dir = test::temp_dir("gui-chat-record");
  const std::filesystem::path db = dir / "sessions.db";
  int64_t sid = -1;
  {
    chat_.set_session_db(db);
    const views::ChatState c = greedy_plain();
    chat_.set_title(tm_, "fork test");
    ASSERT_TRUE(chat_.send(tm_, "The old house", c));
    settle(chat_, tm_);
    sid = chat_.live_session_id();
    ASSERT_GE(sid, 0);
    ASSERT_TRUE(chat_.recording().recording) << chat_.recording().message;
    const size_t t = tm_.size() - 4;
    const int32_t alt = tm_.token(t).top_raw[1].id;
    ASSERT_TRUE(chat_.fork(tm_, static_cast<int>(t), alt, c));
    settle(chat_, tm_);
    chat_.set_session_db({});  // stops the recorder: everything handed over is committed
  }
  TraceModel back;
  sessions::SessionReader(db).load(sid, back);
  EXPECT_EQ(back.meta().title, "fork test");
  EXPECT_EQ(back.meta().model_name, "mla-moe-demo");
  EXPECT_EQ(ids_of(back), ids_of(tm_));
  ASSERT_EQ(back.messages().size(), tm_.messages().size());
  for (size_t i = 0; i < back.messages().size(); ++i) {
    EXPECT_EQ(back.messages()[i].role, tm_.messages()[i].role);
    EXPECT_EQ(back.messages()[i].first_token, tm_.messages()[i].first_token);
    EXPECT_EQ(back.messages()[i].end_token, tm_.messages()[i].end_token);
    EXPECT_EQ(back.messages()[i].text, tm_.messages()[i].text);
  }
  ASSERT_EQ(back.size(), tm_.size());
  for (size_t i = 0; i < back.size(); ++i) {
    ASSERT_EQ(back.token(i).routes.size(), tm_.token(i).routes.size()) << i;
    for (size_t m = 0; m < back.token(i).routes.size(); ++m) EXPECT_EQ(back.token(i).routes[m].expert, tm_.token(i).routes[m].expert);
  }

  // Bookmarks of a stored session go into its database and come back with it.
  const int64_t b1 = app::gui::store_bookmark(db, sid, 3, "three");
  const int64_t b2 = app::gui::store_bookmark(db, sid, 1, "one");
  EXPECT_NE(b1, b2);
  app::gui::delete_bookmark(db, sid, b1);
  TraceModel again;
  sessions::SessionReader(db).load(sid, again);
  ASSERT_EQ(again.bookmarks().size(), 1u);
  EXPECT_EQ(again.bookmarks()[0].id, b2);
  EXPECT_EQ(again.bookmarks()[0].position, 1);
  EXPECT_EQ(again.bookmarks()[0].note, "one");
  // The browser lists it with its title and length.
  std::vector<std::string> errors;
  const auto listed = app::gui::list_stored_sessions({}, db, &errors);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].title, "fork test");
  EXPECT_EQ(listed[0].n_tokens, static_cast<int64_t>(tm_.size()));
  std::filesystem::remove_all(dir);
}

// The GUI chat records each answer's sampler (settings, seed, stream position), so `sessions verify`
// re-draws a greedy answer, a sampled one, and a regenerated sampled one (which continues the
// stream) token for token. Before: verify used the session's first settings for every answer.
TEST_F(ChatControllerTest, SampledAnswersRecordTheirSamplerAndVerify) {
  const std::filesystem::path dir = test::temp_dir("gui-chat-verify");
  const std::filesystem::path db = dir / "sessions.db";
  int64_t sid = -1;
  {
    chat_.set_session_db(db);
    views::ChatState c = greedy_plain();
    ASSERT_TRUE(chat_.send(tm_, "The old house", c));
    settle(chat_, tm_);
    c.sampler.temperature = 1.4f;
    c.sampler.seed = 9;
    ASSERT_TRUE(chat_.send(tm_, " And then", c));
    settle(chat_, tm_);
    ASSERT_TRUE(chat_.regenerate(tm_, c));
    settle(chat_, tm_);
    sid = chat_.live_session_id();
    ASSERT_GE(sid, 0);
    chat_.set_session_db({});
  }
  TraceModel back;
  sessions::SessionReader(db).load(sid, back);
  ASSERT_EQ(back.messages().size(), 4u);
  EXPECT_NE(back.messages()[1].sampler_json.find("\"temperature\":0.0"), std::string::npos) << back.messages()[1].sampler_json;
  // The regenerated answer starts where the first sampled answer left the stream.
  EXPECT_EQ(back.messages()[3].sampler_json.find("\"rng_position\":0"), std::string::npos) << back.messages()[3].sampler_json;
  const test::RunResult r = test::run_command({test::mlascope_binary().string(), "sessions", "verify", std::to_string(sid),
                                               "--session-db", db.string(), "--threads", "2"},
                                              {}, 300);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("match the re-run"), std::string::npos) << r.out;
  std::filesystem::remove_all(dir);
}

}  // namespace
#else
#include <gtest/gtest.h>
TEST(ChatController, NeedsTheGuiBuild) { GTEST_SKIP() << "built with MLASCOPE_GUI=OFF"; }
#endif
