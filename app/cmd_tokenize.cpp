// app/cmd_tokenize.cpp — `mlascope tokenize [--tokenizer DIR|FILE.gguf] (--text TEXT | --file F) [--json]`:
// the ids of a text (no BOS unless --bos, special tokens as text unless --special). The input is
// taken byte for byte: nothing is stripped, no newline added, invalid UTF-8 allowed.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "engine/error.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/weights/gguf.h"
#include "engine/weights/gguf_file.h"
#include "terminal_views.h"

namespace mlascope::app {

namespace {

struct TokenizeOptions {
  std::filesystem::path tokenizer;
  std::string text;
  std::filesystem::path file;
  bool json = false;
  bool bos = false;
  bool special = false;
};

// The tokenizer a GGUF model file carries (tokenizer.ggml.*); any part of a split model will do,
// the metadata live in the first.
Tokenizer gguf_tokenizer(const std::filesystem::path& p) {
  const GgufFile f = GgufFile::open(p);
  if (!gguf_has_tokenizer(f)) fail("tokenize", p.string(), "the GGUF file carries no tokenizer (metadata 'tokenizer.ggml.tokens' is missing)");
  TokenizerParts parts;
  fill_tokenizer_parts(tokenizer_from_gguf(f), &parts);
  return Tokenizer::from_parts(parts, p.filename().string());
}

Tokenizer load_tokenizer(const std::filesystem::path& p) {
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) {
    // A folder of GGUF files (no tokenizer.json): the model's embedded tokenizer.
    if (!std::filesystem::exists(p / "tokenizer.json", ec))
      if (const std::optional<std::filesystem::path> g = gguf_model_in_folder(p)) return gguf_tokenizer(*g);
    return Tokenizer::from_dir(p);
  }
  if (std::filesystem::is_regular_file(p, ec)) {
    if (p.extension() == ".gguf") return gguf_tokenizer(p);
    const auto cfg = p.parent_path() / "tokenizer_config.json";
    return Tokenizer::from_file(p, std::filesystem::is_regular_file(cfg, ec) ? cfg : std::filesystem::path());
  }
  fail("tokenize", p.string(), "no such folder or tokenizer.json");
}

std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary | std::ios::ate);
  if (!f) fail("tokenize", p.string(), "cannot open the file");
  std::string bytes(static_cast<size_t>(std::max<std::streamoff>(0, f.tellg())), '\0');
  f.seekg(0);
  if (!f.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) fail("tokenize", p.string(), "read error");
  return bytes;
}

int run_tokenize(const TokenizeOptions& o) {
  const Tokenizer tok = load_tokenizer(o.tokenizer.empty() ? default_model_dir() : o.tokenizer);
  const std::string text = o.file.empty() ? o.text : read_bytes(o.file);
  std::vector<int32_t> ids;
  if (o.bos && tok.bos_id() >= 0) ids.push_back(tok.bos_id());
  std::vector<int32_t> body = tok.encode(text, o.special);
  ids.insert(ids.end(), body.begin(), body.end());
  if (o.json) {
    nlohmann::json tokens = nlohmann::json::array();
    for (int32_t id : ids) tokens.push_back(tok.token_display(id));
    nlohmann::json out = {{"ids", ids}, {"tokens", std::move(tokens)}};
    std::cout << dump_json(out, -1) << "\n";
  } else {
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

void register_tokenize(CLI::App& root, CommandContext& ctx) {
  auto o = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = root.add_subcommand("tokenize", "print the token ids of a text");
  cmd->add_option("--tokenizer", o->tokenizer,
                  "folder with tokenizer.json (+ tokenizer_config.json), that file, or a .gguf model file (its "
                  "embedded tokenizer); default: the demo model");
  auto* text = cmd->add_option("--text", o->text, "the text (taken as is)");
  auto* file = cmd->add_option("--file", o->file, "read the text from this file (raw bytes)");
  text->excludes(file);
  cmd->add_flag("--json", o->json, "print {\"ids\": [...], \"tokens\": [...]} (tokens as display strings)");
  cmd->add_flag("--bos", o->bos, "prepend the BOS token");
  cmd->add_flag("--special", o->special, "special-token text becomes the special token");
  cmd->callback([o, text, file, &ctx] {
    if (text->count() == 0 && file->count() == 0) fail("tokenize", "", "give --text TEXT or --file F");
    ctx.exit_code = run_tokenize(*o);
  });
}

}  // namespace mlascope::app
