// app/cmd_eval.cpp — `mlascope eval`: run a prompt and dump every per-position activation in the
// names and layout of golden.safetensors, so any model can be checked against a reference (and
// analysed in a notebook). --greedy N adds greedy_ids / greedy_logits.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli_checks.h"
#include "commands.h"
#include "engine/backend/backend.h"
#include "engine/error.h"
#include "engine/model/model.h"
#include "engine/trace/activation_recorder.h"
#include "engine/weights/safetensors.h"
#include "engine_options.h"

namespace mlascope::app {

namespace fs = std::filesystem;

namespace {

struct EvalArgs {
  EngineArgs engine;
  std::string prompt_ids;
  fs::path dump;
  int greedy = 0;
  bool decode = false;
};

void run_eval(const EvalArgs& a) {
  const std::shared_ptr<Model> model = load_model(a.engine, "eval");
  const ModelConfig& c = model->config();
  const std::vector<int32_t> ids = parse_token_ids(a.prompt_ids, c.vocab_size, "eval", "--prompt-ids");
  const int T = static_cast<int>(ids.size());
  BackendOptions bo = backend_options(a.engine);
  if (bo.max_context == 0) bo.max_context = std::max(T + a.greedy, std::min(c.max_position_embeddings, 4096));
  std::unique_ptr<Backend> backend = make_backend(*model, bo);
  if (T + a.greedy > backend->max_context())
    fail("eval", "--prompt-ids", std::to_string(T) + " prompt tokens + " + std::to_string(a.greedy) +
                                     " greedy tokens exceed the context of " + std::to_string(backend->max_context()));

  ActivationRecorder rec(c, T);
  std::vector<float> logits;
  ForwardRequest req;
  req.trace = &rec;
  req.all_logits = true;
  if (a.decode) {  // one token per call, as the reference produced golden data
    for (int p = 0; p < T; ++p) {
      req.tokens = std::span<const int32_t>(&ids[static_cast<size_t>(p)], 1);
      req.start_pos = p;
      backend->forward(req, logits);
    }
  } else {
    req.tokens = ids;
    req.start_pos = 0;
    backend->forward(req, logits);
  }

  const size_t V = static_cast<size_t>(c.vocab_size);
  std::vector<float> last(logits.end() - static_cast<std::ptrdiff_t>(V), logits.end());
  std::vector<int32_t> greedy_ids;
  std::vector<float> greedy_logits;
  req.trace = nullptr;
  req.all_logits = false;
  for (int i = 0; i < a.greedy; ++i) {
    const int32_t id = static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
    greedy_ids.push_back(id);
    greedy_logits.insert(greedy_logits.end(), last.begin(), last.end());
    if (i + 1 == a.greedy) break;
    req.tokens = std::span<const int32_t>(&greedy_ids.back(), 1);
    req.start_pos = T + i;
    backend->forward(req, last);
  }

  std::vector<TensorView> views;
  views.push_back(i32_view("prompt_ids", {T}, ids.data()));
  for (const std::string& name : rec.names()) {
    const RecordedTensor* t = rec.find(name);
    views.push_back(t->is_i32 ? i32_view(name, t->shape, t->i32.data()) : f32_view(name, t->shape, t->f32.data()));
  }
  if (a.greedy > 0) {
    views.push_back(i32_view("greedy_ids", {a.greedy}, greedy_ids.data()));
    views.push_back(f32_view("greedy_logits", {a.greedy, c.vocab_size}, greedy_logits.data()));
  }
  std::map<std::string, std::string> meta = {{"model", model->name()},
                                             {"backend", backend->name()},
                                             {"mla", to_string(backend->mla_mode())},
                                             {"mode", a.decode ? "decode" : "prefill"},
                                             {"producer", "mlascope eval"}};
  write_safetensors(a.dump, views, meta);
  std::printf("wrote %zu tensors for %d positions to %s (%s, %s MLA, %s)\n", views.size(), T, a.dump.string().c_str(),
              backend->name().c_str(), to_string(backend->mla_mode()), a.decode ? "decode" : "prefill");
}

}  // namespace

void register_eval(CLI::App& root, CommandContext& ctx) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = root.add_subcommand("eval", "Run a prompt and dump all activations in golden.safetensors layout");
  // eval dumps activations in the golden files' layout, to compare with the fp32 reference: its
  // cache defaults to f32 (--kv-type bf16 shows what the users' default changes).
  a->engine.kv_type = "f32";
  add_engine_options(cmd, a->engine);
  cmd->add_option("--prompt-ids", a->prompt_ids, "prompt token ids, e.g. 1,2,3")->required();
  cmd->add_option("--dump", a->dump, "output .safetensors file")->required();
  cmd->add_option("--greedy", a->greedy, "also produce N greedy tokens (greedy_ids, greedy_logits)")->check(non_negative());
  cmd->add_flag("--decode", a->decode, "feed the prompt one token per forward call instead of one batched prefill");
  cmd->callback([a, &ctx] {
    run_eval(*a);
    ctx.exit_code = 0;
  });
}

}  // namespace mlascope::app
