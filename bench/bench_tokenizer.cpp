// bench/bench_tokenizer.cpp — load time of the 128k DeepSeek-V3 tokenizer.json (target <= 300 ms)
// and single-thread encode throughput on a mixed corpus of code, English and Chinese (target
// >= 10 MB/s). Prints medians of wall and thread-CPU time (CPU time is what to read on a shared
// machine) and the cold (empty piece cache) figure beside the warm one. Never asserts.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tokenizer/tokenizer.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

struct Clock {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  double cpu = cpu_ms();
  static double cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
  }
  double wall_ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall).count();
  }
  double cpu_elapsed_ms() const { return cpu_ms() - cpu; }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::string s;
  char buf[1 << 16];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) s.append(buf, static_cast<size_t>(f.gcount()));
  return s;
}

const char* kChinese =
    "混合专家模型把每个词元只送到少数几个专家那里，因此在参数总量很大的同时，每一步真正参与计算的参数并不多。"
    "多头潜在注意力把键和值压缩成一个低维的潜在向量再缓存起来，推理时显存占用因此大幅下降。"
    "这个工作台可以逐个词元地显示路由结果、注意力分布以及键值缓存的内存占用，并把会话记录到数据库中以便回放。"
    "分词器必须和训练时完全一致，否则模型看到的就不是它学过的词元序列。\n";

}  // namespace

int main() {
  const fs::path data = MLASCOPE_TEST_DATA;
  const fs::path v3_dir = data / "tokenizers" / "deepseek-v3";

  std::vector<double> load_wall, load_cpu;
  for (int r = 0; r < 5; ++r) {
    Clock c;
    Tokenizer t = Tokenizer::from_dir(v3_dir);
    load_wall.push_back(c.wall_ms());
    load_cpu.push_back(c.cpu_elapsed_ms());
    if (t.vocab_size() != 128815) std::printf("unexpected vocab size %d\n", t.vocab_size());
  }
  std::printf("load deepseek-v3 tokenizer.json (4.3 MB, 128k vocab): median wall %.1f ms, cpu %.1f ms (target <= 300 ms)\n",
              median(load_wall), median(load_cpu));

  // Corpus: the golden cases (code, licences, prose, many scripts), this repo's engine sources,
  // the demo model card, and Chinese prose; in equal-ish thirds by repeating the smaller parts.
  std::string code, english, chinese;
  const nlohmann::json g = nlohmann::json::parse(read(data / "golden" / "tokenizer" / "deepseek-v3-cases.json"));
  for (const auto& c : g["cases"]) code += c["text"].get<std::string>() + "\n";
  for (const auto& e : fs::recursive_directory_iterator(data.parent_path().parent_path() / "engine"))
    if (e.is_regular_file() && (e.path().extension() == ".cpp" || e.path().extension() == ".h")) code += read(e.path());
  english = read(fs::path(MLASCOPE_ASSETS) / "models" / "mla-moe-demo" / "MODEL_CARD.md");
  while (english.size() < code.size()) english += english;
  while (chinese.size() < code.size()) chinese += kChinese;
  const std::string corpus = code + english + chinese;
  const double mb = static_cast<double>(corpus.size()) / 1e6;
  std::printf("corpus: %.2f MB (code %.2f, English %.2f, Chinese %.2f)\n", mb, code.size() / 1e6,
              english.size() / 1e6, chinese.size() / 1e6);

  size_t n_tokens = 0;
  {
    Tokenizer fresh = Tokenizer::from_dir(v3_dir);
    Clock c;
    n_tokens = fresh.encode(corpus).size();
    std::printf("encode cold (empty piece cache): wall %.1f ms = %.1f MB/s, cpu %.1f ms = %.1f MB/s\n", c.wall_ms(),
                mb / (c.wall_ms() / 1e3), c.cpu_elapsed_ms(), mb / (c.cpu_elapsed_ms() / 1e3));
  }
  Tokenizer t = Tokenizer::from_dir(v3_dir);
  (void)t.encode(corpus);
  std::vector<double> enc_wall, enc_cpu;
  for (int r = 0; r < 5; ++r) {
    Clock c;
    const size_t n = t.encode(corpus).size();
    enc_wall.push_back(c.wall_ms());
    enc_cpu.push_back(c.cpu_elapsed_ms());
    if (n != n_tokens) std::printf("token count changed: %zu vs %zu\n", n, n_tokens);
  }
  std::printf("encode warm: median wall %.1f ms = %.1f MB/s, cpu %.1f ms = %.1f MB/s (target >= 10 MB/s); %zu tokens, %.2f bytes/token\n",
              median(enc_wall), mb / (median(enc_wall) / 1e3), median(enc_cpu), mb / (median(enc_cpu) / 1e3), n_tokens,
              static_cast<double>(corpus.size()) / static_cast<double>(n_tokens));

  Clock dc;
  const std::vector<int32_t> ids = t.encode(corpus);
  const std::string back = t.decode(ids);
  std::printf("round trip %s; decode %.1f ms cpu for both\n", back == corpus ? "exact" : "DIFFERS", dc.cpu_elapsed_ms());
  return 0;
}
