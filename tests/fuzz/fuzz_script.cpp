// tests/fuzz/fuzz_script.cpp — GUI script files (`mlascope --script FILE`): the parser alone
// (app/gui/script.*), no window. Every command it accepts must carry the argument count its verb
// allows, and a numeric verb only integers.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "app/gui/script.h"
#include "engine/error.h"
#include "fuzz_util.h"

using namespace mlascope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    int last = 0;
    for (const app::gui::ScriptCommand& c : app::gui::parse_script(text, "fuzz.script")) {
      if (c.line <= last || c.verb.empty() || c.args.size() > 32) {
        std::fprintf(stderr, "fuzz: parse_script accepted line %d verb '%s' with %zu args\n", c.line, c.verb.c_str(), c.args.size());
        std::abort();
      }
      last = c.line;
    }
  } catch (const Error& e) {
    fuzz::check_error(e);
  }
  return 0;
}
