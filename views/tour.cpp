// views/tour.cpp — reading tour files; every error names the file and the field.
#include "tour.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "kv_figures.h"

namespace mlascope::views {

namespace {
// What a step's "actions" may do (the shell performs them in order when the step starts).
const char* const kVerbs[] = {
    "load_model",    // value: model folder or "demo"
    "send_prompt",   // value: text
    "select_token",  // value: token position (locks it, as a click does)
    "lock_token",    // same
    "select_layer",  // value: layer index
    "open_panel",    // value: panel id
    "open_session",  // value: session title
    "set_preset",    // value: KV panel preset ("session" = the shown session's model)
    "set_baseline",  // value: KV panel baseline: mha-same | mha-no-rope | mha-n | gqa | mqa
    "set_mha_heads", // value: N of the KV panel's "MHA with N heads" baseline
    "set_gqa_groups",// value: g of the KV panel's GQA-g baseline
    "set_head",      // value: attention head (-1 = average)
    "set_part",      // value: attention part: probs | nope | rope | sum
    "set_range",     // value: first token, end: one past the last
    "select_tab",    // value: routing tab: token | matrix | load
    "scroll_to",     // value: an anchor a panel marks (routing.why, routing.load, kv.budget, ...)
    "replay_to",     // value: replay cursor (tokens shown)
    "maximize",      // value: panel id shown alone
};

TourAdvance parse_advance(const std::string& s, const std::string& src, const std::string& field) {
  if (s == "button") return TourAdvance::Button;
  if (s == "select_token") return TourAdvance::SelectToken;
  if (s == "select_layer") return TourAdvance::SelectLayer;
  if (s == "send_prompt") return TourAdvance::SendPrompt;
  if (s == "open_panel") return TourAdvance::OpenPanel;
  fail("tour", src, field + ": unknown value '" + s + "' (button, select_token, select_layer, send_prompt, open_panel)");
}
}  // namespace

const char* advance_request(TourAdvance a) {
  switch (a) {
    case TourAdvance::Button: return "";
    case TourAdvance::SelectToken: return "click a token in the token strip";
    case TourAdvance::SelectLayer: return "choose another layer";
    case TourAdvance::SendPrompt: return "send a prompt and wait for the answer";
    case TourAdvance::OpenPanel: return "open the panel";
  }
  return "";
}

bool is_known_verb(const std::string& verb) {
  return std::find(std::begin(kVerbs), std::end(kVerbs), verb) != std::end(kVerbs);
}

Tour parse_tour(const std::string& text, const std::string& src) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail("tour", src, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail("tour", src, "top level must be an object");
  auto str = [&](const nlohmann::json& o, const char* key, const std::string& where, bool required) -> std::string {
    if (!o.contains(key)) {
      if (required) fail("tour", src, where + key + ": missing");
      return {};
    }
    if (!o[key].is_string()) fail("tour", src, where + key + ": must be a string");
    return o[key].get<std::string>();
  };
  Tour t;
  t.id = str(j, "id", "", true);
  t.title = str(j, "title", "", true);
  t.session = str(j, "session", "", false);
  // "demo" is what older tour files say for the live chat with the demo model.
  if (t.session.empty() || t.session == "demo") t.session = "live";
  if (!j.contains("steps") || !j["steps"].is_array() || j["steps"].empty())
    fail("tour", src, "steps: must be a non-empty array");
  for (size_t i = 0; i < j["steps"].size(); ++i) {
    const nlohmann::json& s = j["steps"][i];
    const std::string where = "steps[" + std::to_string(i) + "].";
    if (!s.is_object()) fail("tour", src, "steps[" + std::to_string(i) + "]: must be an object");
    TourStep step;
    step.text = str(s, "text", where, true);
    step.panel = str(s, "panel", where, false);
    step.session = str(s, "session", where, false);
    if (step.session == "demo") step.session = "live";
    if (s.contains("panels")) {
      if (!s["panels"].is_array()) fail("tour", src, where + "panels: must be an array of panel ids");
      for (size_t p = 0; p < s["panels"].size(); ++p) {
        if (!s["panels"][p].is_string()) fail("tour", src, where + "panels[" + std::to_string(p) + "]: must be a panel id");
        step.panels.push_back(s["panels"][p].get<std::string>());
      }
    }
    if (s.contains("keep_token")) {
      if (!s["keep_token"].is_boolean()) fail("tour", src, where + "keep_token: must be true or false");
      step.keep_token = s["keep_token"].get<bool>();
    }
    const std::string adv = str(s, "advance", where, false);
    if (!adv.empty()) step.advance = parse_advance(adv, src, where + "advance");
    if (s.contains("actions")) {
      if (!s["actions"].is_array()) fail("tour", src, where + "actions: must be an array");
      for (size_t a = 0; a < s["actions"].size(); ++a) {
        const nlohmann::json& o = s["actions"][a];
        const std::string aw = where + "actions[" + std::to_string(a) + "].";
        if (!o.is_object()) fail("tour", src, aw.substr(0, aw.size() - 1) + ": must be an object");
        TourAction act;
        act.verb = str(o, "do", aw, true);
        if (!is_known_verb(act.verb)) fail("tour", src, aw + "do: unknown action '" + act.verb + "'");
        if (o.contains("value")) {
          const auto& v = o["value"];
          if (v.is_string()) act.value = v.get<std::string>();
          else if (v.is_number_integer()) act.number = v.get<int>();
          else fail("tour", src, aw + "value: must be a string or an integer");
        }
        // The KV panel's settings are checked here, so a typo names its file and field.
        if (act.verb == "set_baseline") {
          KvBaseline b{};
          if (!parse_kv_baseline(act.value, &b)) fail("tour", src, aw + "value: KV baseline must be mha-same, mha-no-rope, mha-n, gqa or mqa");
        }
        if ((act.verb == "set_mha_heads" || act.verb == "set_gqa_groups") && act.number < 1)
          fail("tour", src, aw + "value: must be an integer >= 1");
        if (o.contains("end")) {
          if (!o["end"].is_number_integer()) fail("tour", src, aw + "end: must be an integer");
          act.number2 = o["end"].get<int>();
        }
        step.actions.push_back(std::move(act));
      }
    }
    t.steps.push_back(std::move(step));
  }
  return t;
}

Tour load_tour(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("tour", file.string(), "cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_tour(ss.str(), file.filename().string());
}

std::vector<Tour> load_tours(const std::filesystem::path& dir, std::vector<std::string>* errors) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<Tour> tours;
  for (const auto& f : files) {
    try {
      tours.push_back(load_tour(f));
    } catch (const Error& e) {
      if (errors) errors->push_back(e.what());
    }
  }
  return tours;
}

}  // namespace mlascope::views
