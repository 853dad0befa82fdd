// tests/sessions/session_record_child.cpp — recorder in a child process for the crash tests.
// usage: session_record_child DB CONFIG_JSON N_TOKENS COMMIT_EVERY TOKEN_DELAY_US SEED
// Prints "session ID" once, then "committed N" after every commit (write(2), no stdio buffer, so a
// line the parent reads was printed after the COMMIT returned), then "done".
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "engine/error.h"
#include "sessions/recorder.h"
#include "sessions/synthetic.h"

using namespace mlascope;

namespace {
void say(const std::string& s) {
  const std::string line = s + "\n";
  if (::write(1, line.data(), line.size()) < 0) std::_Exit(4);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s DB CONFIG_JSON N_TOKENS COMMIT_EVERY TOKEN_DELAY_US SEED\n", argv[0]);
    return 2;
  }
  try {
    std::ifstream in(argv[2]);
    std::stringstream ss;
    ss << in.rdbuf();
    SessionMeta meta;
    meta.config_json = ss.str();
    meta.config = ModelConfig::from_json_text(meta.config_json, argv[2]);
    meta.title = std::string("crash test seed ") + argv[6];
    meta.capture = CapturePolicy::RoutingAttention;
    const int n = std::atoi(argv[3]);
    const int delay_us = std::atoi(argv[5]);
    const uint64_t seed = std::strtoull(argv[6], nullptr, 10);
    sessions::RecorderOptions opt;
    opt.commit_every_tokens = std::atoi(argv[4]);
    opt.commit_every_ms = 1000;
    opt.on_commit = [](uint64_t c) { say("committed " + std::to_string(c)); };
    opt.on_stop = [](const std::string& m) { say("stopped " + m); };
    CaptureSettings cap;
    cap.policy = CapturePolicy::RoutingAttention;
    cap.attention_layers = 1ull << 2;
    auto rec = sessions::SessionRecorder::start(argv[1], meta, opt);
    say("session " + std::to_string(rec->session_id()));
    for (int p = 0; p < n; ++p) {
      rec->record(sessions::synthetic_step(meta.config, cap, seed, p));
      if (delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    }
    rec->flush();
    say("done");
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
