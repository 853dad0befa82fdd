// tests/app/chat_harness_main.cpp — the real chat loop (run_chat_loop: libedit, worker thread,
// Ctrl-C, commands, colours) on a scripted engine whose tokens and routing follow fixed rules, so
// the pty tests can predict exactly what must appear on the terminal without model weights.
//   usage: mlascope_chat_harness CONFIG_JSON MAX_NEW_TOKENS [DELAY_MS]
// Rules: prompt words become tokens in order (BOS first); generated token at position p prints
// " w<p>"; in MoE layer with index m, position p routes to experts (p+3m)%16, +5, +9, +13 (mod 16)
// with weights 0.5 0.25 0.15 0.1; attention of layer 2, every head: 0.6 on key p-1, the rest spread.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "app/terminal.h"
#include "app/terminal_engine.h"
#include "engine/error.h"

using namespace mlascope;
using namespace mlascope::app;

namespace {

class ScriptedEngine : public ChatEngine {
 public:
  ScriptedEngine(ModelConfig c, int delay_ms) : config_(std::move(c)), delay_ms_(delay_ms) { vocab_ = {"<bos>"}; }

  SessionMeta meta() const override {
    SessionMeta m;
    m.config = config_;
    m.model_name = "scripted";
    m.backend = "scripted";
    return m;
  }
  int max_context() const override { return 64; }
  std::string template_name() const override { return "plain"; }

  Turn encode_turn(const std::string&, std::span<const Message>, const std::string& user) override {
    Turn t;
    t.keep = n_;
    std::vector<int32_t>& ids = t.ids;
    if (n_ == 0) ids.push_back(0);
    std::istringstream in(user);
    for (std::string w; in >> w;) {
      vocab_.push_back(" " + w);
      ids.push_back(static_cast<int32_t>(vocab_.size() - 1));
    }
    return t;
  }

  StepStatus feed(std::span<const int32_t> ids, const EmitStep& emit, int message) override {
    if (n_ + static_cast<int>(ids.size()) > max_context()) return StepStatus::ContextFull;
    for (int32_t id : ids) emit(record(id, true, message));
    return StepStatus::Ok;
  }

  StopReason generate(int max_new, const EmitStep& emit, const std::atomic<bool>* cancel, int message) override {
    for (int i = 0; i < max_new; ++i) {
      if (cancel && cancel->load()) return StopReason::Cancelled;
      if (n_ >= max_context()) return StopReason::ContextFull;
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
      vocab_.push_back(" w" + std::to_string(n_));
      emit(record(static_cast<int32_t>(vocab_.size() - 1), false, message));
    }
    return StopReason::Length;
  }

  void truncate(int n) override { n_ = std::min(n_, n); }
  int n_positions() const override { return n_; }
  std::string stream_text(int32_t id) override { return vocab_[static_cast<size_t>(id)]; }
  std::string flush_text() override { return {}; }
  void set_sampler(const std::string& key, const std::string& value) override {
    if (key != "temperature") fail("sampler", key, "unknown sampler setting");
    temperature_ = value;
  }
  std::string sampler_json() const override { return "{\"temperature\":" + temperature_ + "}"; }

 private:
  StepRecord record(int32_t id, bool prompt, int message) {
    StepRecord r;
    r.position = n_;
    r.id = id;
    r.is_prompt = prompt;
    r.message = message;
    r.text = vocab_[static_cast<size_t>(id)];
    r.prob = 0.5f;
    r.ms = 1.0f;
    const int p = n_;
    for (int m = 0; m < config_.n_moe_layers(); ++m) {
      RouteRow row;
      row.k = 4;
      const int off[4] = {0, 5, 9, 13};
      const float w[4] = {0.5f, 0.25f, 0.15f, 0.1f};
      for (int i = 0; i < 4; ++i) {
        row.expert[static_cast<size_t>(i)] = static_cast<int16_t>((p + 3 * m + off[i]) % 16);
        row.weight[static_cast<size_t>(i)] = w[i];
      }
      r.routes.push_back(row);
    }
    AttentionRow a;
    a.layer = 2;
    a.n_heads = config_.num_attention_heads;
    a.n_keys = p + 1;
    for (int h = 0; h < a.n_heads; ++h)
      for (int k = 0; k <= p; ++k)
        a.probs.push_back(p == 0 ? 1.0f : k == p - 1 ? 0.6f : 0.4f / static_cast<float>(p));
    r.attention.push_back(std::move(a));
    ++n_;
    return r;
  }

  ModelConfig config_;
  int delay_ms_;
  int n_ = 0;
  std::vector<std::string> vocab_;
  std::string temperature_ = "0";
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s CONFIG_JSON MAX_NEW_TOKENS [DELAY_MS]\n", argv[0]);
    return 2;
  }
  try {
    ScriptedEngine engine(ModelConfig::from_file(argv[1]), argc > 3 ? std::atoi(argv[3]) : 20);
    ChatOptions opt;
    opt.max_new_tokens = std::atoi(argv[2]);
    opt.record = false;
    return run_chat_loop(engine, opt);
  } catch (const Error& e) {
    std::fprintf(stderr, "harness: %s\n", e.what());
    return 1;
  }
}
