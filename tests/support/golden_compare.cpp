// tests/support/golden_compare.cpp — see golden_compare.h.
#include "golden_compare.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace mlascope::test {

std::shared_ptr<Model> golden_model(const std::filesystem::path& dir) {
  static std::map<std::string, std::shared_ptr<Model>> cache;
  auto& m = cache[dir.string()];
  if (!m) m = Model::load(dir);
  return m;
}

StepStatus cpu_prompt_logits(const Model& model, std::span<const int32_t> prompt, std::vector<float>& logits, int n_threads,
                             MlaMode mla) {
  BackendOptions bo;
  bo.device = DeviceKind::Cpu;
  bo.n_threads = n_threads;
  bo.mla = mla;
  auto backend = make_cpu_backend(model, bo);
  ForwardRequest req;
  req.tokens = prompt;
  req.all_logits = true;
  return backend->forward(req, logits);
}

Produced run_golden(Backend& backend, const ModelConfig& c, bool prefill, const std::vector<int32_t>& prompt,
                    int n_greedy) {
  const int T = static_cast<int>(prompt.size());
  ActivationRecorder rec(c, T);
  std::vector<float> logits;
  ForwardRequest req;
  req.trace = &rec;
  req.all_logits = true;
  if (prefill) {
    req.tokens = prompt;
    EXPECT_EQ(backend.forward(req, logits), StepStatus::Ok);
  } else {
    for (int p = 0; p < T; ++p) {
      req.tokens = std::span<const int32_t>(&prompt[static_cast<size_t>(p)], 1);
      req.start_pos = p;
      EXPECT_EQ(backend.forward(req, logits), StepStatus::Ok);
    }
  }
  EXPECT_EQ(backend.n_cached(), T);
  const size_t V = static_cast<size_t>(c.vocab_size);
  std::vector<float> last(logits.end() - static_cast<std::ptrdiff_t>(V), logits.end());
  RecordedTensor gid, glog;
  gid.is_i32 = true;
  gid.shape = {n_greedy};
  glog.shape = {n_greedy, c.vocab_size};
  req.all_logits = false;  // the recorder ignores positions >= T; the decode path is what runs here
  for (int i = 0; i < n_greedy; ++i) {
    const int32_t id = static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
    gid.i32.push_back(id);
    glog.f32.insert(glog.f32.end(), last.begin(), last.end());
    if (i + 1 == n_greedy) break;
    req.tokens = std::span<const int32_t>(&gid.i32.back(), 1);
    req.start_pos = T + i;
    EXPECT_EQ(backend.forward(req, last), StepStatus::Ok);
  }
  Produced out;
  for (const std::string& name : rec.names()) out.t[name] = *rec.find(name);
  out.t["greedy_ids"] = std::move(gid);
  out.t["greedy_logits"] = std::move(glog);
  return out;
}

std::string where_of(const std::vector<int64_t>& shape, size_t flat) {
  std::ostringstream s;
  if (shape.size() == 3) {  // attn [head, query position, key position]
    const size_t k = flat % static_cast<size_t>(shape[2]);
    const size_t q = flat / static_cast<size_t>(shape[2]) % static_cast<size_t>(shape[1]);
    const size_t h = flat / static_cast<size_t>(shape[2] * shape[1]);
    s << "head " << h << ", position " << q << ", key " << k;
  } else if (shape.size() == 2) {
    s << "position " << flat / static_cast<size_t>(shape[1]) << ", index " << flat % static_cast<size_t>(shape[1]);
  } else {
    s << "position " << flat;
  }
  return s.str();
}

std::optional<std::string> compare(const std::string& name, const RecordedTensor& got, const GoldenTensor& want,
                                   double tol) {
  if (got.shape != want.shape) {
    std::ostringstream s;
    s << name << ": shape differs";
    return s.str();
  }
  for (size_t i = 0; i < want.data.size(); ++i) {
    const double g = got.is_i32 ? got.i32[i] : got.f32[i];
    const double d = std::fabs(g - static_cast<double>(want.data[i]));
    if (!(d <= tol)) {
      std::ostringstream s;
      s << name << " at " << where_of(want.shape, i) << ": got " << g << ", golden " << want.data[i] << ", |diff| " << d
        << " > " << tol;
      return s.str();
    }
  }
  return std::nullopt;
}

std::optional<std::string> compare_routes(int layer, const Produced& p, const Golden& g) {
  const std::string L = std::to_string(layer);
  const auto& gi = g.tensor("route_idx." + L);
  const auto& gw = g.tensor("route_w." + L);
  const RecordedTensor& pi = p.t.at("route_idx." + L);
  const RecordedTensor& pw = p.t.at("route_w." + L);
  const double tol = g.tolerance("route_w." + L);
  const int64_t T = gi.dim(0), k = gi.dim(1);
  for (int64_t t = 0; t < T; ++t) {
    std::map<int32_t, float> want, got;
    for (int64_t i = 0; i < k; ++i) {
      want[gi.ints[static_cast<size_t>(t * k + i)]] = gw.data[static_cast<size_t>(t * k + i)];
      got[pi.i32[static_cast<size_t>(t * k + i)]] = pw.f32[static_cast<size_t>(t * k + i)];
    }
    std::ostringstream s;
    for (const auto& [e, w] : want) {
      auto it = got.find(e);
      if (it == got.end()) {
        s << "route_idx." << L << " at position " << t << ": golden expert " << e << " not chosen (got {";
        for (const auto& [ge, gw2] : got) s << ge << " ";
        s << "})";
        return s.str();
      }
      if (!(std::fabs(it->second - w) <= tol)) {
        s << "route_w." << L << " at position " << t << ", expert " << e << ": got " << it->second << ", golden " << w
          << " > tol " << tol;
        return s.str();
      }
    }
  }
  return std::nullopt;
}

std::vector<std::string> check_all(const Produced& p, const Golden& g, const ModelConfig& c) {
  std::vector<std::string> fails;
  auto check = [&](const std::string& name) {
    if (auto f = compare(name, p.t.at(name), g.tensor(name), g.tolerance(name))) fails.push_back(*f);
  };
  check("embed");
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string L = std::to_string(l);
    check("kv_latent." + L);
    check("k_rope." + L);
    check("attn." + L);
    if (c.is_moe_layer(l)) {
      check("router_probs." + L);
      if (auto f = compare_routes(l, p, g)) fails.push_back(*f);
    }
    check("hidden." + L);
  }
  check("final_norm");
  check("logits");
  if (auto f = compare("greedy_ids", p.t.at("greedy_ids"), g.tensor("greedy_ids"), 0.0)) fails.push_back(*f);
  check("greedy_logits");
  return fails;
}

namespace {
double lse_of(const float* row, int64_t V) {
  double m = row[0];
  for (int64_t i = 1; i < V; ++i) m = std::max(m, static_cast<double>(row[i]));
  double s = 0.0;
  for (int64_t i = 0; i < V; ++i) s += std::exp(row[i] - m);
  return m + std::log(s);
}
}  // namespace

std::vector<std::string> check_generated_greedy(Generator& gen, const Golden& g) {
  std::vector<std::string> fails;
  const std::vector<int32_t> prompt = g.prompt_ids();
  const std::vector<int32_t>& greedy = g.ids("greedy_ids");
  const int T = static_cast<int>(prompt.size()), N = static_cast<int>(greedy.size());
  const auto& glog = g.tensor("greedy_logits");
  const int64_t V = glog.dim(1);
  // |d softmax| <= 2 * max|d logit| * p: the logit tolerance bounds the probability error.
  const double ptol = 2.0 * g.tolerance("greedy_logits");
  auto golden_prob = [&](int i, int32_t id) {
    const float* row = glog.row(i);
    return std::exp(row[id] - lse_of(row, V));
  };
  auto check_record = [&](const StepRecord& r, int i, int32_t want_id, const char* what) {
    std::ostringstream s;
    s << what << " " << i << ": ";
    if (r.id != want_id) s << "id " << r.id << ", golden " << want_id;
    else if (r.top_raw.empty() || r.top_raw[0].id != want_id) s << "top_raw does not start with the greedy id";
    else if (!(std::fabs(r.raw_prob - golden_prob(i, want_id)) <= ptol))
      s << "raw_prob " << r.raw_prob << ", golden " << golden_prob(i, want_id) << " > tol " << ptol;
    else if (gen.capture().policy >= CapturePolicy::Routing && gen.model().config().n_moe_layers() > 0 &&
             r.routes.size() != static_cast<size_t>(gen.model().config().n_moe_layers()))
      s << r.routes.size() << " routing rows";
    else return;
    fails.push_back(s.str());
  };
  if (gen.feed(prompt, nullptr) != StepStatus::Ok) return {"feed(prompt_ids) failed"};
  std::vector<StepRecord> recs;
  // The reference continues past EOS; generate() returns after feeding it, so it is called again.
  while (recs.size() < static_cast<size_t>(N - 1)) {
    const size_t before = recs.size();
    const StopReason stop = gen.generate(N - 1 - static_cast<int>(before),
                                         [&](StepRecord&& r) { recs.push_back(std::move(r)); });
    const bool eos = stop == StopReason::Eos && recs.back().id == gen.model().config().eos_token_id;
    if ((stop != StopReason::Length && !eos) || recs.size() == before)
      return {"generate stopped after " + std::to_string(recs.size()) + " of " + std::to_string(N - 1) + " tokens"};
  }
  for (int i = 0; i < N - 1; ++i) check_record(recs[static_cast<size_t>(i)], i, greedy[static_cast<size_t>(i)], "step");
  // A generated step may leave only the top of its logits on the host; feeding the last greedy id
  // needs the whole row back for that token's probability (golden row N-1).
  const int32_t last = greedy[static_cast<size_t>(N - 1)];
  std::vector<StepRecord> fed;
  if (gen.feed(std::span<const int32_t>(&last, 1), [&](StepRecord&& r) { fed.push_back(std::move(r)); }) !=
          StepStatus::Ok ||
      fed.size() != 1)
    return {"feed(last greedy id) failed"};
  check_record(fed[0], N - 1, last, "fed");
  if (gen.n_positions() != T + N) fails.push_back("n_positions " + std::to_string(gen.n_positions()));
  return fails;
}

std::string describe_failures(const std::vector<std::string>& fails) {
  std::ostringstream s;
  if (fails.empty()) return s.str();
  s << "first divergence: " << fails.front() << " (" << fails.size() << " tensors out of tolerance in all)";
  for (size_t i = 1; i < fails.size() && i < 6; ++i) s << "\n  then: " << fails[i];
  return s.str();
}

}  // namespace mlascope::test
