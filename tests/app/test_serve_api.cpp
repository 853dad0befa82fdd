// tests/app/test_serve_api.cpp — ServeApi (app/server/serve_api.*) called directly, no socket: the
// request -> response function keeps its promise never to throw on requests the fuzzer
// (tests/fuzz/fuzz_serve.cpp) found; each case is a fixed regression from it. The engine is the tiny
// DeepSeek-V3 checkpoint of tests/data/golden/v3-tiny, CPU, one thread.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "app/server/serve_api.h"
#include "app/server/serve_engine.h"
#include "support/data_paths.h"
#include "support/temp_cleanup.h"

namespace mlascope {
namespace {

namespace fs = std::filesystem;
using app::server::ApiOptions;
using app::server::HttpIn;
using app::server::HttpOut;
const test::TempCleanup kTempCleanup;

struct Api {
  std::unique_ptr<app::server::ServeEngine> engine;
  std::unique_ptr<app::server::ServeApi> api;
  Api() {
    app::server::EngineSetup s;
    s.model = test::data_path("golden/v3-tiny");
    s.backend.device = DeviceKind::Cpu;
    s.backend.n_threads = 1;
    s.backend.max_context = 64;
    engine = std::make_unique<app::server::ServeEngine>(s);
    api = std::make_unique<app::server::ServeApi>(*engine, ApiOptions{});
  }
};

Api& shared() {
  static Api a;
  return a;
}

// The message of a JSON error body (fails the test when the body is not the documented JSON).
std::string error_message(const HttpOut& out) {
  EXPECT_EQ(out.content_type, "application/json");
  const nlohmann::json j = nlohmann::json::parse(out.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << out.body;
  if (j.is_discarded() || !j.contains("error")) return {};
  EXPECT_EQ(j["error"]["code"], out.status);
  return j["error"]["message"].get<std::string>();
}

}  // namespace

// Fuzz finding: a path that is not UTF-8 ("GET /\xfe...v1/models", what httplib hands over for
// GET /%FE...) threw nlohmann's type_error out of begin() while quoting the path in the 404.
TEST(ServeApi, PathThatIsNotUtf8IsA404NamingIt) {
  HttpIn in;
  in.method = "GET";
  in.path = "/\xfe\xfe\xfev1/models";
  HttpOut out;
  ASSERT_NO_THROW(out = shared().api->handle(in));
  EXPECT_EQ(out.status, 404);
  const std::string m = error_message(out);
  EXPECT_NE(m.find("no route /\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdv1/models"), std::string::npos) << m;  // U+FFFD each
}

TEST(ServeApi, KnownGetRouteStillAnswers) {  // the same code path with a valid path: 200 and the model
  HttpIn in;
  in.method = "GET";
  in.path = "/v1/models";
  const HttpOut out = shared().api->handle(in);
  EXPECT_EQ(out.status, 200);
  const nlohmann::json j = nlohmann::json::parse(out.body);
  EXPECT_EQ(j["data"][0]["id"], "v3-tiny");
}

}  // namespace mlascope
