// tests/fuzz/fuzz_gguf.cpp — GGUF files as `--model x.gguf` reads them: the container
// (GgufFile), deepseek2 metadata -> ModelConfig, the embedded tokenizer (tokenizer.ggml.* -> a
// working Tokenizer), and the tensors checked against the config (WeightStore::open -> load_gguf).
// The input's first byte picks the layout:
//   bit 0 clear: the rest is one file, m.gguf
//   bit 0 set:   a split model m-00001-of-00002.gguf + m-00002-of-00002.gguf; the next 4 bytes
//                (little-endian, modulo what remains) say where part 1 ends; bit 1 opens it from part 2
#include <cstdint>
#include <cstring>

#include "engine/error.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/weights/gguf.h"
#include "engine/weights/gguf_file.h"
#include "engine/weights/weight_store.h"
#include "fuzz_util.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {
volatile uint8_t g_sink;

void exercise(const fs::path& path) {
  const GgufFile f = GgufFile::open(path);
  for (const GgufTensorInfo& t : f.tensors()) {
    const uint8_t* p = f.tensor_data(t);
    if (t.nbytes > 0) g_sink = static_cast<uint8_t>(p[0] ^ p[t.nbytes - 1]);
  }
  try {
    (void)config_from_gguf(f);
  } catch (const Error& e) {
    fuzz::check_error(e);
  }
  try {
    if (gguf_has_tokenizer(f)) {
      TokenizerParts parts;
      fill_tokenizer_parts(tokenizer_from_gguf(f), &parts);
      const Tokenizer tok = Tokenizer::from_parts(parts, f.display_name());
      const std::vector<int32_t> ids = tok.encode("Hello, world! 123 \xe4\xbd\xa0\xe5\xa5\xbd", true);
      (void)tok.decode(ids);
      const std::vector<ChatMessage> msgs = {{"system", "s"}, {"user", "hi"}};
      (void)tok.apply_chat_template(msgs, true);
    }
  } catch (const Error& e) {
    fuzz::check_error(e);
  }
  try {
    const WeightStore ws = WeightStore::open(path);
    for (const std::string& name : ws.names()) {
      const TensorView& t = ws.get(name);
      if (t.nbytes > 0) g_sink = static_cast<uint8_t>(static_cast<const uint8_t*>(t.data)[0] ^ static_cast<const uint8_t*>(t.data)[t.nbytes - 1]);
    }
  } catch (const Error& e) {
    fuzz::check_error(e);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const fs::path& dir = fuzz::temp_dir();
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if ((data[0] & 1) == 0) {
      fuzz::write_file(dir / "m.gguf", rest);
      exercise(dir / "m.gguf");
    } else {
      if (rest.size() < 4) return 0;
      uint32_t cut = 0;
      std::memcpy(&cut, rest.data(), 4);
      rest.remove_prefix(4);
      cut = rest.empty() ? 0 : static_cast<uint32_t>(cut % (rest.size() + 1));
      fuzz::write_file(dir / "m-00001-of-00002.gguf", rest.substr(0, cut));
      fuzz::write_file(dir / "m-00002-of-00002.gguf", rest.substr(cut));
      exercise(dir / ((data[0] & 2) ? "m-00002-of-00002.gguf" : "m-00001-of-00002.gguf"));
    }
  } catch (const Error& e) {
    fuzz::check_error(e);
  }
  return 0;
}
