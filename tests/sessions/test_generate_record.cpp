// tests/sessions/test_generate_record.cpp — `mlascope generate --record` through the real binary on
// the bundled demo model: what it records is read back with SessionReader and `sessions show`, a
// database it cannot write costs one warning line and nothing else, and `sessions verify` warns
// when the weights are not the recorded ones.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "engine/trace/trace_model.h"
#include "sessions/reader.h"
#include "support/data_paths.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CliRun run_cli(const fs::path& dir, const std::string& args) {
  const fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string cmd = test::mlascope_binary().string() + " " + args + " >" + out.string() + " 2>" + err.string();
  const int st = std::system(cmd.c_str());
  CliRun r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

size_t count_lines_with(const std::string& text, const std::string& what) {
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(what) != std::string::npos) ++n;
  return n;
}

size_t count_ids(const std::string& out) {
  std::istringstream in(out);
  size_t n = 0;
  for (int id; in >> id;) ++n;
  return n;
}

const std::string kDemo = test::asset_path("models/mla-moe-demo").string();
// Demo model: 6 layers, the first dense (first_k_dense_replace = 1), top-4 of 16 routed experts.
constexpr int kMoeLayers = 5;
constexpr int kTopK = 4;
constexpr int kLayers = 6;

std::string generate_args(const fs::path& db, const std::string& extra) {
  return "generate --model " + kDemo + " --device cpu --threads 1 --prompt-ids 5,17,42 -n 6 --temperature 0 --ids " +
         "--record --title probe --session-db " + db.string() + " " + extra;
}

}  // namespace

TEST(GenerateRecord, RecordsTokensWithRoutingReadBackBySessionReaderAndShow) {
  const fs::path dir = test::temp_dir("generate-record");
  const fs::path db = dir / "s.db";
  const CliRun r = run_cli(dir, generate_args(db, ""));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(count_lines_with(r.err, "warning"), 0u) << r.err;
  const size_t produced = count_ids(r.out);
  ASSERT_GT(produced, 0u) << r.out;

  sessions::SessionReader reader(db);
  const auto list = reader.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].title, "probe");
  EXPECT_EQ(list[0].capture, CapturePolicy::Routing);
  EXPECT_EQ(list[0].n_tokens, static_cast<int64_t>(3 + produced));
  // "fnv1a:" + 16 hex digits: a fingerprint was taken, not left empty.
  EXPECT_EQ(list[0].model_hash.rfind("fnv1a:", 0), 0u) << list[0].model_hash;
  EXPECT_EQ(list[0].model_hash.size(), 6u + 16u) << list[0].model_hash;

  TraceModel tm;
  reader.load(list[0].id, tm);
  ASSERT_EQ(tm.size(), 3 + produced);
  EXPECT_EQ(tm.token(0).id, 5);
  EXPECT_EQ(tm.token(1).id, 17);
  EXPECT_EQ(tm.token(2).id, 42);
  std::istringstream ids(r.out);
  for (size_t t = 0; t < tm.size(); ++t) {
    EXPECT_EQ(tm.token(t).is_prompt, t < 3) << t;
    if (t >= 3) {
      int id = -1;
      ids >> id;
      EXPECT_EQ(tm.token(t).id, id) << "position " << t;  // what was printed is what was recorded
    }
    ASSERT_EQ(tm.token(t).routes.size(), static_cast<size_t>(kMoeLayers)) << t;
    for (const RouteRow& row : tm.token(t).routes) EXPECT_EQ(row.k, kTopK);
    EXPECT_TRUE(tm.token(t).attention.empty());
  }

  const CliRun show = run_cli(dir, "sessions show " + std::to_string(list[0].id) + " --session-db " + db.string());
  EXPECT_EQ(show.code, 0) << show.err;
  EXPECT_NE(show.out.find("tokens    " + std::to_string(3 + produced)), std::string::npos) << show.out;
  EXPECT_NE(show.out.find(list[0].model_hash), std::string::npos) << show.out;
  fs::remove_all(dir);
}

TEST(GenerateRecord, CapturePolicyDecidesWhatIsKept) {
  const fs::path dir = test::temp_dir("generate-record-capture");
  const fs::path db = dir / "s.db";
  ASSERT_EQ(run_cli(dir, generate_args(db, "--capture off")).code, 0);
  ASSERT_EQ(run_cli(dir, generate_args(db, "--capture attention --attention-layers 0,3")).code, 0);
  ASSERT_EQ(run_cli(dir, generate_args(db, "--capture everything")).code, 0);

  sessions::SessionReader reader(db);
  auto list = reader.list();
  ASSERT_EQ(list.size(), 3u);
  std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  EXPECT_EQ(list[0].capture, CapturePolicy::Off);
  EXPECT_EQ(list[1].capture, CapturePolicy::RoutingAttention);
  EXPECT_EQ(list[2].capture, CapturePolicy::Everything);

  TraceModel off, attn, all;
  reader.load(list[0].id, off);
  reader.load(list[1].id, attn);
  reader.load(list[2].id, all);
  ASSERT_GT(off.size(), 3u);
  for (const StepRecord& s : off.tokens()) {
    EXPECT_TRUE(s.routes.empty());
    EXPECT_TRUE(s.attention.empty());
  }
  // Greedy on the same prompt: the same tokens whatever is captured.
  ASSERT_EQ(attn.size(), off.size());
  ASSERT_EQ(all.size(), off.size());
  for (size_t t = 0; t < off.size(); ++t) {
    EXPECT_EQ(attn.token(t).id, off.token(t).id);
    EXPECT_EQ(attn.token(t).routes.size(), static_cast<size_t>(kMoeLayers));
    ASSERT_EQ(attn.token(t).attention.size(), 2u) << t;
    EXPECT_EQ(attn.token(t).attention[0].layer, 0);
    EXPECT_EQ(attn.token(t).attention[1].layer, 3);
    EXPECT_EQ(attn.token(t).attention[0].n_keys, static_cast<int32_t>(t + 1));
    ASSERT_EQ(all.token(t).attention.size(), static_cast<size_t>(kLayers)) << t;
    EXPECT_FALSE(all.token(t).attention[kLayers - 1].rope.empty());
  }
  fs::remove_all(dir);
}

TEST(GenerateRecord, BadCaptureNameOrLayerIsOneLineError) {
  const fs::path dir = test::temp_dir("generate-record-bad");
  CliRun r = run_cli(dir, generate_args(dir / "s.db", "--capture sometimes"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--capture"), std::string::npos) << r.err;
  r = run_cli(dir, generate_args(dir / "s.db", "--capture attention --attention-layers 9"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--attention-layers"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines_with(r.err, "mlascope:"), 1u) << r.err;  // the engine's load log aside, one line
  fs::remove_all(dir);
}

TEST(GenerateRecord, UnwritableDatabaseWarnsOnceAndGenerationCompletes) {
  const fs::path dir = test::temp_dir("generate-record-unwritable");
  // A regular file where a directory should be: no user, root included, can create the database.
  { std::ofstream(dir / "not-a-dir") << "x"; }
  const fs::path db = dir / "not-a-dir" / "s.db";
  const CliRun r = run_cli(dir, generate_args(db, ""));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(count_lines_with(r.err, "warning"), 1u) << r.err;
  EXPECT_NE(r.err.find("not-a-dir"), std::string::npos) << r.err;  // names the file
  EXPECT_EQ(count_ids(r.out), 6u) << r.out;
  EXPECT_FALSE(fs::exists(db));
  fs::remove_all(dir);
}

TEST(GenerateRecord, VerifyWarnsWhenWeightsAreNotTheRecordedOnes) {
  const fs::path dir = test::temp_dir("generate-record-verify");
  const fs::path db = dir / "s.db";
  ASSERT_EQ(run_cli(dir, generate_args(db, "")).code, 0);
  const int64_t id = sessions::SessionReader(db).list().at(0).id;

  CliRun same = run_cli(dir, "sessions verify " + std::to_string(id) + " --threads 1 --session-db " + db.string());
  EXPECT_EQ(same.code, 0) << same.out << same.err;
  EXPECT_EQ(same.err.find("fingerprint"), std::string::npos) << same.err;

  // A copy whose last weight byte differs (the low byte of one bf16 value).
  const fs::path copy = dir / "model";
  fs::create_directories(copy);
  for (const auto& e : fs::directory_iterator(kDemo)) fs::copy_file(e.path(), copy / e.path().filename());
  {
    const fs::path w = copy / "model.safetensors";
    std::fstream f(w, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-1, std::ios::end);
    const char c = static_cast<char>(f.get());
    f.seekp(-1, std::ios::end);
    f.put(static_cast<char>(c ^ 1));
  }
  CliRun other = run_cli(dir, "sessions verify " + std::to_string(id) + " --threads 1 --model " + copy.string() +
                                  " --session-db " + db.string());
  EXPECT_TRUE(other.code == 0 || other.code == 2) << other.err;
  EXPECT_EQ(count_lines_with(other.err, "weights fingerprint"), 1u) << other.err;
  fs::remove_all(dir);
}
