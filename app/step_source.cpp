// app/step_source.cpp — see step_source.h.
#include "step_source.h"

#include "engine/remote/remote_generator.h"

namespace mlascope::app {

namespace {

class LocalSource final : public StepSource {
 public:
  LocalSource(std::shared_ptr<const Model> m, std::unique_ptr<Backend> b, std::shared_ptr<const Tokenizer> t)
      : gen_(std::move(m), std::move(b), std::move(t)) {}
  StepStatus feed(std::span<const int32_t> ids, const EmitStep& emit, int message) override { return gen_.feed(ids, emit, message); }
  StopReason generate(int n, const EmitStep& emit, const std::atomic<bool>* cancel, int message) override {
    return gen_.generate(n, emit, cancel, message);
  }
  void truncate(int n) override { gen_.truncate(n); }
  int n_positions() const override { return gen_.n_positions(); }
  std::span<const int32_t> history() const override { return gen_.history(); }
  int max_context() const override { return const_cast<Generator&>(gen_).backend().max_context(); }
  Sampler& sampler() override { return gen_.sampler(); }
  void set_capture(const CaptureSettings& c) override { gen_.set_capture(c); }
  std::string backend_name() const override { return const_cast<Generator&>(gen_).backend().name(); }
  Backend* backend() override { return &gen_.backend(); }

 private:
  Generator gen_;
};

class RemoteSource final : public StepSource {
 public:
  explicit RemoteSource(std::unique_ptr<remote::RemoteGenerator> g) : gen_(std::move(g)) {}
  StepStatus feed(std::span<const int32_t> ids, const EmitStep& emit, int message) override { return gen_->feed(ids, emit, message); }
  StopReason generate(int n, const EmitStep& emit, const std::atomic<bool>* cancel, int message) override {
    return gen_->generate(n, emit, cancel, message);
  }
  void truncate(int n) override { gen_->truncate(n); }
  int n_positions() const override { return gen_->n_positions(); }
  std::span<const int32_t> history() const override { return gen_->history(); }
  int max_context() const override { return gen_->max_context(); }
  Sampler& sampler() override { return gen_->sampler(); }
  void set_capture(const CaptureSettings& c) override { gen_->set_capture(c); }
  std::string backend_name() const override { return gen_->backend_name(); }
  bool routing_reported() const override { return gen_->routing_reported() || gen_->config().n_moe_layers() == 0; }

 private:
  std::unique_ptr<remote::RemoteGenerator> gen_;
};

}  // namespace

std::unique_ptr<StepSource> local_step_source(std::shared_ptr<const Model> model, std::unique_ptr<Backend> backend,
                                              std::shared_ptr<const Tokenizer> tokenizer) {
  return std::make_unique<LocalSource>(std::move(model), std::move(backend), std::move(tokenizer));
}

std::unique_ptr<StepSource> remote_step_source(std::unique_ptr<remote::RemoteGenerator> gen) {
  return std::make_unique<RemoteSource>(std::move(gen));
}

}  // namespace mlascope::app
