// tests/remote/test_remote_loopback.cpp — the remote client against `mlascope serve` on loopback,
// end to end over real sockets: greedy, the routing and probabilities the client records equal
// those of a local `mlascope generate --record` run of the same prompt on the same demo model
// (read back from its session database). Through SGLang's plain fields (expert ids, logprobs) and
// through mlascope's trace extension (everything, exactly); through the OpenAI completions route.
// The client side holds only config.json + tokenizer files, as a laptop holding no weights would.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "app/server/serve_api.h"
#include "app/server/serve_engine.h"
#include "app/server/serve_http.h"
#include "engine/config.h"
#include "engine/error.h"
#include "engine/remote/remote_generator.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/trace/trace_model.h"
#include "sessions/reader.h"
#include "support/data_paths.h"
#include "support/temp_cleanup.h"

namespace mlascope {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
const test::TempCleanup kTempCleanup;

fs::path demo() { return test::asset_path("models/mla-moe-demo"); }

// config.json + tokenizer files only: what --model names on the client side.
fs::path config_only_dir() {
  const fs::path d = test::temp_dir("remote-config");
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"}) fs::copy_file(demo() / f, d / f);
  return d;
}

struct LoopbackServer {
  std::unique_ptr<app::server::ServeEngine> engine;
  std::unique_ptr<app::server::ServeApi> api;
  std::unique_ptr<app::server::HttpServer> http;
  std::thread thread;
  int port = 0;

  explicit LoopbackServer(app::server::ApiOptions opt = {}, size_t max_queue = 8) {
    app::server::EngineSetup s;
    s.model = demo();
    s.backend.device = DeviceKind::Cpu;
    s.backend.n_threads = 1;
    s.backend.kv_dtype = KvDType::BF16;  // what `generate` uses by default (the local reference below)
    s.max_queue = max_queue;
    engine = std::make_unique<app::server::ServeEngine>(s);
    api = std::make_unique<app::server::ServeApi>(*engine, opt);
    http = std::make_unique<app::server::HttpServer>(*api, static_cast<int>(max_queue) + 4);
    port = http->bind("127.0.0.1", 0);
    thread = std::thread([this] { http->run(); });
  }
  ~LoopbackServer() {
    http->stop(2s);
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* kPromptIds = "0,412,77,1023,5,300,9,61";
constexpr int kNew = 10;

// The local reference: `mlascope generate --record` (greedy), read back from its database.
TraceModel local_reference(const fs::path& dir) {
  const fs::path db = dir / "ref.db";
  const std::string cmd = test::mlascope_binary().string() + " generate --model " + demo().string() + " --prompt-ids " + kPromptIds +
                          " -n " + std::to_string(kNew) + " --threads 1 --device cpu --kv-type bf16 --record --capture routing --session-db " + db.string() +
                          " >" + (dir / "out.txt").string() + " 2>" + (dir / "err.txt").string();
  const int st = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << slurp(dir / "err.txt");
  sessions::SessionReader reader(db);
  const auto list = reader.list();
  EXPECT_EQ(list.size(), 1u);
  TraceModel tm;
  if (!list.empty()) reader.load(list[0].id, tm);
  return tm;
}

struct ClientRun {
  std::vector<StepRecord> records;
  StopReason stop = StopReason::None;
  bool routing = false;
  std::string backend;
};

ClientRun run_client(const std::string& url, remote::Protocol protocol, bool trace_extension) {
  const fs::path cfg = config_only_dir();
  const ModelConfig c = ModelConfig::from_file(cfg / "config.json");
  auto tok = std::make_shared<Tokenizer>(Tokenizer::from_dir(cfg));
  remote::RemoteOptions o;
  o.url = url;
  o.protocol = protocol;
  o.trace_extension = trace_extension;
  remote::RemoteGenerator gen(c, tok, o);
  ClientRun run;
  std::vector<int32_t> prompt;
  std::stringstream ss(kPromptIds);
  for (std::string s; std::getline(ss, s, ',');) prompt.push_back(std::stoi(s));
  auto keep = [&](StepRecord&& r) { run.records.push_back(std::move(r)); };
  EXPECT_EQ(gen.feed(prompt, keep, 0), StepStatus::Ok);
  EXPECT_TRUE(run.records.empty());  // prompt records come back with the generation
  run.stop = gen.generate(kNew, keep, nullptr, 1);
  run.routing = gen.routing_reported();
  run.backend = gen.backend_name();
  EXPECT_EQ(gen.n_positions(), static_cast<int>(run.records.size()));
  return run;
}

void expect_close_prob(float remote, float local, const std::string& what) {
  if (local < 0) {
    EXPECT_LT(remote, 0.0f) << what;
    return;
  }
  EXPECT_NEAR(remote, local, 2e-6f * std::max(1.0f, local)) << what;
}

class Loopback : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::temp_dir("remote-loopback");
    ref_ = std::make_unique<TraceModel>(local_reference(dir_));
    server_ = std::make_unique<LoopbackServer>();
  }
  static void TearDownTestSuite() {
    server_.reset();
    ref_.reset();
  }
  static fs::path dir_;
  static std::unique_ptr<TraceModel> ref_;
  static std::unique_ptr<LoopbackServer> server_;
};
fs::path Loopback::dir_;
std::unique_ptr<TraceModel> Loopback::ref_;
std::unique_ptr<LoopbackServer> Loopback::server_;

TEST_F(Loopback, SGLangFieldsMatchTheLocalTrace) {
  const TraceModel& ref = *ref_;
  ASSERT_EQ(ref.size(), 8u + kNew);
  const ClientRun run = run_client(server_->url(), remote::Protocol::SGLang, /*trace_extension=*/false);
  ASSERT_EQ(run.records.size(), ref.size());
  EXPECT_TRUE(run.routing);
  EXPECT_NE(run.backend.find("mlascope sglang"), std::string::npos) << run.backend;
  for (size_t t = 0; t < ref.size(); ++t) {
    const StepRecord& a = run.records[t];
    const StepRecord& b = ref.token(t);
    const std::string at = "position " + std::to_string(t);
    EXPECT_EQ(a.position, b.position) << at;
    EXPECT_EQ(a.id, b.id) << at;
    EXPECT_EQ(a.is_prompt, b.is_prompt) << at;
    expect_close_prob(a.raw_prob, b.raw_prob, at);
    // SGLang reports logprobs of the unfiltered softmax: the local raw top-20, recorded as fp16.
    ASSERT_EQ(a.top_raw.size(), b.top_raw.size()) << at;
    for (size_t i = 0; i < a.top_raw.size(); ++i) {
      EXPECT_EQ(a.top_raw[i].id, b.top_raw[i].id) << at;
      EXPECT_NEAR(a.top_raw[i].prob, b.top_raw[i].prob, 1e-3f) << at;  // fp16 in the database
    }
    // Routing: SGLang's rows cover every position but the last; ids only (weights not on the wire).
    if (t + 1 == ref.size()) {
      EXPECT_TRUE(a.routes.empty()) << "the last token never ran through the model on the server";
      continue;
    }
    ASSERT_EQ(a.routes.size(), b.routes.size()) << at;
    for (size_t l = 0; l < a.routes.size(); ++l) {
      ASSERT_EQ(a.routes[l].k, b.routes[l].k);
      for (int i = 0; i < a.routes[l].k; ++i) EXPECT_EQ(a.routes[l].expert[static_cast<size_t>(i)], b.routes[l].expert[static_cast<size_t>(i)]) << at;
      EXPECT_TRUE(std::isnan(a.routes[l].weight[0]));
    }
  }
}

TEST_F(Loopback, TraceExtensionCarriesEverythingExactly) {
  const TraceModel& ref = *ref_;
  const ClientRun run = run_client(server_->url(), remote::Protocol::Auto, /*trace_extension=*/true);
  ASSERT_EQ(run.records.size(), ref.size());
  for (size_t t = 0; t < ref.size(); ++t) {
    const StepRecord& a = run.records[t];
    const StepRecord& b = ref.token(t);
    const std::string at = "position " + std::to_string(t);
    EXPECT_EQ(a.id, b.id) << at;
    EXPECT_EQ(a.prob, b.prob) << at;  // f32 in both databases' worth of precision: the same bits
    EXPECT_EQ(a.raw_prob, b.raw_prob) << at;
    ASSERT_EQ(a.routes.size(), b.routes.size()) << at;  // every token, the last one too
    for (size_t l = 0; l < a.routes.size(); ++l) {
      EXPECT_EQ(a.routes[l].k, b.routes[l].k);
      EXPECT_EQ(a.routes[l].expert, b.routes[l].expert) << at;
      EXPECT_EQ(a.routes[l].weight, b.routes[l].weight) << at;
      EXPECT_EQ(a.routes[l].kept_groups, b.routes[l].kept_groups) << at;
      EXPECT_EQ(a.routes[l].margin, b.routes[l].margin) << at;
    }
  }
}

TEST_F(Loopback, CompletionsRouteGivesIdsLogprobsAndRouting) {
  const TraceModel& ref = *ref_;
  const ClientRun run = run_client(server_->url(), remote::Protocol::Completions, false);
  ASSERT_EQ(run.records.size(), ref.size());
  EXPECT_TRUE(run.routing);  // sglext.routed_experts
  for (size_t t = 0; t < ref.size(); ++t) {
    const StepRecord& a = run.records[t];
    const StepRecord& b = ref.token(t);
    EXPECT_EQ(a.id, b.id) << t;
    if (!b.is_prompt) expect_close_prob(a.raw_prob, b.raw_prob, "generated " + std::to_string(t));
    if (t + 1 < ref.size() && !a.routes.empty())
      for (size_t l = 0; l < a.routes.size(); ++l) EXPECT_EQ(a.routes[l].expert, b.routes[l].expert) << t;
  }
  EXPECT_FALSE(run.records[3].routes.empty());
}

TEST_F(Loopback, SecondTurnReusesTheServersPrefixAndKeepsPositions) {
  const fs::path cfg = config_only_dir();
  const ModelConfig c = ModelConfig::from_file(cfg / "config.json");
  remote::RemoteOptions o;
  o.url = server_->url();
  remote::RemoteGenerator gen(c, std::make_shared<Tokenizer>(Tokenizer::from_dir(cfg)), o);
  std::vector<StepRecord> recs;
  auto keep = [&](StepRecord&& r) { recs.push_back(std::move(r)); };
  const std::vector<int32_t> p1 = {0, 412, 77}, p2 = {5, 300};
  gen.feed(p1, keep, 0);
  gen.generate(3, keep, nullptr, 1);
  ASSERT_EQ(recs.size(), 6u);
  gen.feed(p2, keep, 2);
  gen.generate(3, keep, nullptr, 3);
  ASSERT_EQ(recs.size(), 11u);
  for (size_t i = 0; i < recs.size(); ++i) EXPECT_EQ(recs[i].position, static_cast<int>(i));
  EXPECT_EQ(recs[6].id, 5);
  EXPECT_EQ(recs[6].message, 2);
  EXPECT_EQ(recs[8].message, 3);
  // Truncate and regenerate from position 6: greedy, the same tokens again.
  const std::vector<int32_t> before(gen.history().begin(), gen.history().end());
  gen.truncate(8);
  std::vector<StepRecord> again;
  gen.generate(3, [&](StepRecord&& r) { again.push_back(std::move(r)); }, nullptr, 3);
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[0].position, 8);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(again[i].id, before[8 + i]);
}

// Whether a TCP connect to 127.0.0.1:port is accepted (by a listener or a listening socket's backlog).
bool port_accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// A server stopped before its listener ran (a LoopbackServer made and dropped at once on a busy
// machine) kept its bound, listening socket: clients connected into the backlog and waited out
// their read timeout (RefusedConnectionIsOneLine hung for 600 s). Stopped or dropped before run(),
// the port must refuse connections.
TEST(HttpServerLifecycle, AServerThatNeverListenedLeavesNoListeningSocket) {
  LoopbackServer owner;  // the engine and API the servers below use
  int port = 0;
  {
    app::server::HttpServer never_run(*owner.api, 2);
    port = never_run.bind("127.0.0.1", 0);
    EXPECT_TRUE(port_accepts(port)) << "bound socket should be listening before it is dropped";
  }
  EXPECT_FALSE(port_accepts(port)) << "dropped before run(): port " << port << " still accepts";

  app::server::HttpServer stopped_first(*owner.api, 2);
  port = stopped_first.bind("127.0.0.1", 0);
  stopped_first.stop(0ms);
  std::thread t([&] { stopped_first.run(); });  // must return at once, closing the socket
  t.join();
  EXPECT_FALSE(port_accepts(port)) << "stopped before run(): port " << port << " still accepts";
}

TEST(RemoteErrors, RefusedConnectionIsOneLine) {
  // A port nobody listens on: bind one and let it go.
  int port;
  {
    LoopbackServer s;
    port = s.port;
  }
  const fs::path cfg = config_only_dir();
  const ModelConfig c = ModelConfig::from_file(cfg / "config.json");
  remote::RemoteOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(port);
  o.client.connect_retries = 1;
  try {
    remote::RemoteGenerator gen(c, nullptr, o);
    FAIL() << "connected to a closed port";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("connection refused"), std::string::npos) << m;
    EXPECT_NE(m.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos);
  }
}

TEST(RemoteErrors, ApiKeyIsRequiredAndSent) {
  app::server::ApiOptions opt;
  opt.api_key = "s3cret";
  LoopbackServer s(opt);
  const fs::path cfg = config_only_dir();
  const ModelConfig c = ModelConfig::from_file(cfg / "config.json");
  remote::RemoteOptions o;
  o.url = s.url();
  try {
    remote::RemoteGenerator gen(c, nullptr, o);
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("HTTP 401"), std::string::npos) << m;
    EXPECT_NE(m.find("--api-key"), std::string::npos) << m;
    EXPECT_EQ(m.find("s3cret"), std::string::npos);
  }
  o.client.api_key = "s3cret";
  remote::RemoteGenerator gen(c, nullptr, o);
  std::vector<StepRecord> recs;
  const std::vector<int32_t> p = {0, 5};
  gen.feed(p, [&](StepRecord&& r) { recs.push_back(std::move(r)); });
  gen.generate(2, [&](StepRecord&& r) { recs.push_back(std::move(r)); });
  EXPECT_EQ(recs.size(), 4u);
  EXPECT_EQ(gen.server().url.find("s3cret"), std::string::npos);
}

TEST(RemoteErrors, ServerRefusalCarriesItsMessage) {
  app::server::ApiOptions opt;
  opt.max_prompt_tokens = 4;
  LoopbackServer s(opt);
  const fs::path cfg = config_only_dir();
  const ModelConfig c = ModelConfig::from_file(cfg / "config.json");
  remote::RemoteOptions o;
  o.url = s.url();
  remote::RemoteGenerator gen(c, nullptr, o);
  const std::vector<int32_t> p = {0, 1, 2, 3, 4, 5};
  gen.feed(p, nullptr);
  try {
    gen.generate(2, nullptr);
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("HTTP 400: the prompt has 6 tokens; this server takes at most 4"), std::string::npos) << m;
  }
}

// Found by bench/serve_fuzz: a path with invalid UTF-8 is echoed in the 404 message, and the strict
// JSON dump of that message threw, which httplib answered with a 500.
TEST(ServeApiInput, InvalidUtf8PathIsA404NotA500) {
  LoopbackServer s;
  app::server::HttpIn in;
  in.method = "POST";
  in.path = std::string("/v1/\x80\xff") + "chat/completions";
  in.body = "{}";
  const app::server::HttpOut out = s.api->handle(in);
  EXPECT_EQ(out.status, 404);
  EXPECT_NE(out.body.find("no route /v1/"), std::string::npos) << out.body;
  EXPECT_FALSE(nlohmann::json::parse(out.body, nullptr, false).is_discarded()) << out.body;
}

}  // namespace
}  // namespace mlascope
