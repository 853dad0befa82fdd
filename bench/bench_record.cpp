// bench/bench_record.cpp — what `generate --record` costs real generation: the bundled demo model,
// greedy decoding of the same prompt with recording off and on (each capture policy), median
// tokens/s over several runs and the ratio to no recording. Capture (the engine copying routing and
// attention out) and recording (the SQLite writer thread) are shown apart. Asserts nothing.
//   bench_record [runs=7] [tokens=128] [threads=1]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/generator.h"
#include "engine/model/model.h"
#include "sessions/recorder.h"

using namespace mlascope;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Case {
  const char* name;
  CapturePolicy capture;
  bool record;
};

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 7;
  const int n_new = std::min(argc > 2 ? std::atoi(argv[2]) : 128, 1000);
  const int threads = argc > 3 ? std::atoi(argv[3]) : 1;
  const fs::path model_dir = fs::path(MLASCOPE_ASSETS) / "models/mla-moe-demo";
  std::shared_ptr<Model> model = Model::load(model_dir);
  BackendOptions bo;
  bo.device = DeviceKind::Cpu;
  bo.n_threads = threads;
  bo.max_context = 1024;  // the demo model's max_position_embeddings
  const std::vector<int32_t> prompt = {5, 17, 42, 7, 99, 3, 250, 11, 64, 8, 31, 120, 2, 77, 19, 4};
  const fs::path dir = fs::temp_directory_path() / "mlascope-bench-record";
  fs::create_directories(dir);

  SessionMeta meta;
  meta.model_name = model->name();
  meta.config_json = model->config_json();
  meta.config = model->config();
  meta.title = "bench";

  const Case cases[] = {{"no record, capture off", CapturePolicy::Off, false},
                        {"no record, capture routing", CapturePolicy::Routing, false},
                        {"record, capture off (tokens)", CapturePolicy::Off, true},
                        {"record, capture routing", CapturePolicy::Routing, true},
                        {"record, capture attention", CapturePolicy::RoutingAttention, true},
                        {"record, capture everything", CapturePolicy::Everything, true}};
  std::printf("demo model %s, %zu-token prompt + %d greedy tokens, %d CPU thread(s), median of %d runs\n",
              model->name().c_str(), prompt.size(), n_new, threads, runs);
  std::printf("%-30s %12s %12s %10s\n", "case", "tok/s", "ms total", "vs base");
  double base = 0.0;
  for (const Case& c : cases) {
    std::vector<double> tps, total_ms;
    for (int r = 0; r < runs; ++r) {
      const fs::path db = dir / "bench.db";
      fs::remove(db);
      fs::remove(dir / "bench.db-wal");
      fs::remove(dir / "bench.db-shm");
      Generator gen(model, make_backend(*model, bo));
      gen.set_capture(CaptureSettings{c.capture, ~0ull});
      meta.capture = c.capture;
      // The clock starts before the recorder opens its database: a user of --record pays for that too.
      const auto t0 = Clock::now();
      std::unique_ptr<sessions::SessionRecorder> rec;
      if (c.record) rec = sessions::SessionRecorder::start(db, meta);
      int produced = 0;
      const auto keep = [&](StepRecord&& s) {
        if (rec) rec->record(std::move(s));
      };
      gen.feed(prompt, keep, 0);
      gen.generate(n_new, [&](StepRecord&& s) {
        ++produced;
        keep(std::move(s));
      }, nullptr, 1);
      if (rec) rec->flush();  // what the user waits for before the prompt returns
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      tps.push_back(static_cast<double>(prompt.size() + produced) / s);
      total_ms.push_back(1000.0 * s);
    }
    const double m = median(tps);
    if (base == 0.0) base = m;
    std::printf("%-30s %12.1f %12.1f %9.3fx\n", c.name, m, median(total_ms), m / base);
  }
  fs::remove_all(dir);
  return 0;
}
