// app/gui/gui_app.cpp — see gui_app.h.
#include "gui_app.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include <GLFW/glfw3.h>
#include <imgui.h>
#include <spdlog/spdlog.h>
#include <stb/stb_image_write.h>

#include "engine/error.h"
#include "views/synthetic_trace.h"
#include "views/widgets.h"

namespace mlascope::app::gui {

namespace fs = std::filesystem;
using views::ActionKind;

namespace {
const char* kCjkFont = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail("gui", p.string(), "cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

GuiApp::GuiApp(GuiConfig cfg) : cfg_(std::move(cfg)) {
  for (const views::PanelInfo& p : views::panels()) open_[p.id] = true;
  st_.ui_scale = cfg_.content_scale;
}

GuiApp::~GuiApp() = default;

void GuiApp::set_all_panels_open(bool open) {
  for (auto& [id, o] : open_) o = open;
}

void GuiApp::rebuild_fonts() {
  ImGuiIO& io = ImGui::GetIO();
  io.Fonts->Clear();
  const float size = std::round((presenter_ ? 26.0f : 16.0f) * st_.ui_scale);
  // CJK and DeepSeek's special-token glyphs (｜ U+FF5C, ▁ U+2581) from Noto when installed.
  std::error_code ec;
  bool loaded = false;
  if (fs::exists(kCjkFont, ec)) {
    static ImVector<ImWchar> ranges;
    if (ranges.empty()) {
      ImFontGlyphRangesBuilder b;
      b.AddRanges(io.Fonts->GetGlyphRangesDefault());
      b.AddRanges(io.Fonts->GetGlyphRangesChineseSimplifiedCommon());
      b.AddRanges(io.Fonts->GetGlyphRangesJapanese());
      for (ImWchar c : {0x2581, 0xFF5C, 0x2205, 0x2192, 0x2014, 0x00D7, 0x2229})
        b.AddChar(c);
      b.BuildRanges(&ranges);
    }
    ImFontConfig fc;
    fc.OversampleH = 1;  // keeps the CJK atlas small; text is drawn at its native size
    fc.OversampleV = 1;
    loaded = io.Fonts->AddFontFromFileTTF(kCjkFont, size, &fc, ranges.Data) != nullptr;
  }
  if (!loaded) {
    ImFontConfig fc;
    fc.SizePixels = size;
    io.Fonts->AddFontDefault(&fc);
    if (!fs::exists(kCjkFont, ec)) spdlog::get("gui") ? spdlog::get("gui")->info("no CJK font; using ImGui's default") : void();
  }
  io.Fonts->Build();
  ImGuiStyle style;
  ImGui::StyleColorsDark(&style);
  // Square corners throughout: every rounded frame, button and window is dozens of anti-aliased
  // vertices, and on a software renderer (Mesa llvmpipe) the frame time follows the vertex count.
  style.WindowRounding = 0.0f;
  style.FrameRounding = 0.0f;
  style.GrabRounding = 0.0f;
  style.ScrollbarRounding = 0.0f;
  style.TabRounding = 0.0f;
  style.ScaleAllSizes(st_.ui_scale * (presenter_ ? 1.5f : 1.0f));
  ImGui::GetStyle() = style;
  fonts_dirty_ = false;
}

void GuiApp::setup() {
  ImGuiIO& io = ImGui::GetIO();
  static std::string ini;
  ini = cfg_.ini_file.string();
  io.IniFilename = ini.empty() ? nullptr : ini.c_str();
  rebuild_fonts();
  std::vector<std::string> errs;
  st_.tour.tours = views::load_tours(cfg_.assets / "tours", &errs);
  for (const auto& e : errs) error(e);
  load_presets();
  load_session_list();
  if (!cfg_.script.empty()) {
    try {
      script_ = load_script(cfg_.script);
    } catch (const Error& e) {
      error(e.what());
      exit_code_ = 1;
      quit_ = true;
    }
  }
  chat_.set_session_db(cfg_.session_db);
  if (cfg_.demo_synthetic) {
    // Developer mode (and the frame-time benchmark): a made-up session, no model, no chat.
    views::SyntheticOptions o;
    o.n_tokens = cfg_.synthetic_tokens;
    o.title = "synthetic session (developer mode)";
    views::fill_synthetic(tm_, views::demo_config(), o);
    live_ = false;
  } else if (script_.empty() || script_.front().verb != "load_model") {
    chat_.load_model(cfg_.model_dir.empty() ? cfg_.assets / "models" / "mla-moe-demo" : cfg_.model_dir, cfg_.engine);
  }
  last_frame_t_ = now_s();
}

void GuiApp::load_presets() {
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(cfg_.assets / "presets", ec))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    try {
      views::KvPreset p;
      p.config = ModelConfig::from_json_text(read_text(f), f.filename().string());
      p.name = f.stem().string();
      st_.kv.presets.push_back(std::move(p));
    } catch (const Error& e) {
      error(e.what());
    }
  }
}

void GuiApp::load_session_list() {
  std::vector<std::string> errs;
  // The replayed session keeps its place in a refreshed list (a new recording shifts the indices).
  const StoredSession shown = shown_session_ >= 0 ? stored_[static_cast<size_t>(shown_session_)] : StoredSession{};
  const StoredSession compared = st_.sessions.compare >= 0 ? stored_[static_cast<size_t>(st_.sessions.compare)] : StoredSession{};
  stored_ = list_stored_sessions(bundled_session_dbs(cfg_.assets / "sessions"), cfg_.session_db, &errs);
  for (const std::string& e : errs) error(e);
  shown_session_ = -1;
  st_.sessions.compare = -1;
  for (size_t i = 0; i < stored_.size(); ++i) {
    if (stored_[i].db == shown.db && stored_[i].id == shown.id) shown_session_ = static_cast<int>(i);
    if (stored_[i].db == compared.db && stored_[i].id == compared.id) st_.sessions.compare = static_cast<int>(i);
  }
  st_.sessions.list.clear();
  for (const StoredSession& s : stored_)
    st_.sessions.list.push_back(views::SessionSummary{s.title, s.model, format_date(s.created_unix),
                                                      s.bundled ? "bundled" : s.db.filename().string(), s.n_tokens});
}

int GuiApp::find_session(const std::string& title) const {
  for (size_t i = 0; i < stored_.size(); ++i)
    if (stored_[i].title == title) return static_cast<int>(i);
  return -1;
}

void GuiApp::open_session(size_t index, TraceModel& into) {
  if (index >= stored_.size()) fail("gui", "sessions", "no session at index " + std::to_string(index));
  // Load into a scratch model first: a corrupt session must not wipe what is on screen.
  TraceModel tmp;
  load_stored_session(stored_[index], tmp);
  into = std::move(tmp);
}

void GuiApp::replay_session(size_t index) {
  // Read first: a session that fails to load leaves the chat and the screen as they were.
  TraceModel loaded;
  open_session(index, loaded);
  chat_.detach(tm_);
  tm_ = std::move(loaded);
  live_ = false;
  shown_session_ = static_cast<int>(index);
  st_.replay_position = 0;
  st_.replay.playing = true;
  st_.locked_token = -1;
  st_.range_begin = st_.range_end = -1;
  st_.kv.preset = -1;
}

void GuiApp::add_bookmark(int32_t position, const std::string& note) {
  Bookmark b{-1, position, note};
  // Stored with the session it belongs to: the live recording, or the replayed session's database.
  fs::path db;
  int64_t sid = -1;
  if (live_ && chat_.live_session_id() >= 0) {
    db = chat_.session_db();
    sid = chat_.live_session_id();
  } else if (!live_ && shown_session_ >= 0 && !stored_[static_cast<size_t>(shown_session_)].bundled) {
    db = stored_[static_cast<size_t>(shown_session_)].db;
    sid = stored_[static_cast<size_t>(shown_session_)].id;
  }
  if (sid >= 0) {
    b.id = store_bookmark(db, sid, position, note);
  } else {
    // Unrecorded chat or a bundled (read-only) session: the bookmark lives as long as the window.
    b.id = 1;
    for (const Bookmark& x : tm_.bookmarks()) b.id = std::max(b.id, x.id + 1);
  }
  tm_.add_bookmark(b);
}

void GuiApp::remove_bookmark(int64_t id) {
  if (live_ && chat_.live_session_id() >= 0) delete_bookmark(chat_.session_db(), chat_.live_session_id(), id);
  else if (!live_ && shown_session_ >= 0 && !stored_[static_cast<size_t>(shown_session_)].bundled)
    delete_bookmark(stored_[static_cast<size_t>(shown_session_)].db, stored_[static_cast<size_t>(shown_session_)].id, id);
  tm_.remove_bookmark(id);
}

void GuiApp::update_status() {
  views::StatusInfo& s = st_.status;
  s.load_progress = chat_.load_progress();
  s.load_message = chat_.load_message();
  s.tokens_per_s = chat_.tokens_per_s();
  s.model = tm_.meta().model_name.empty() ? "(no model)" : tm_.meta().model_name;
  s.backend = tm_.meta().backend;
  if (!live_) {
    s.recording = false;
    s.record_text = shown_session_ >= 0 ? "replaying session #" + std::to_string(stored_[static_cast<size_t>(shown_session_)].id) +
                                              (stored_[static_cast<size_t>(shown_session_)].bundled ? " (bundled)" : "")
                                        : "not recording";
    return;
  }
  const RecordingInfo r = chat_.recording();
  s.recording = r.recording;
  if (r.recording) s.record_text = "recording #" + std::to_string(r.session_id) + " (" + std::to_string(r.tokens_committed) + " tokens saved)";
  else if (!r.message.empty()) s.record_text = "not recording: " + r.message;
  else if (!r.enabled) s.record_text = "not recording (no session database)";
  else s.record_text = "recording starts with the first message";
}

void GuiApp::error(const std::string& msg) {
  spdlog::error("gui: {}", msg);
  st_.errors.push_back(msg);
  if (!script_.empty()) std::fprintf(stderr, "mlascope: %s\n", msg.c_str());
}

fs::path GuiApp::export_path(const std::string& name) const {
  fs::path dir = cfg_.screenshot_dir;
  if (dir.empty()) {
    const char* home = std::getenv("HOME");
    dir = fs::path(home ? home : ".") / "mlascope-exports";
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  return dir / (name + ".png");
}

void GuiApp::request_screenshot(const std::string& name, const std::string& panel) {
  shots_.push_back(Shot{name, panel, 3});
}

// ---------------------------------------------------------------------------------------- drawing

void GuiApp::draw() {
  views::begin_frame(st_);
  for (std::string& e : chat_.take_errors()) error(e);
  if (auto meta = chat_.take_loaded()) {
    tm_.reset(std::move(*meta));
    live_ = true;
    shown_session_ = -1;
    st_.replay_position = -1;
    st_.locked_token = -1;
    // A base model has no chat template: plain completion is the only sensible default.
    st_.chat.base_model = chat_.template_name() == "plain";
    st_.chat.template_name = chat_.template_name();
    st_.kv.preset = -1;  // the KV panel follows the model that just loaded
  }
  if (live_) {
    chat_.drain(tm_);
    // The browser shows the live recording as soon as it exists, and its length after each answer.
    const int64_t live_id = chat_.live_session_id();
    const uint64_t committed = live_id >= 0 ? chat_.recording().tokens_committed : 0;
    // Commits land a moment after the answer ends; refreshing on them (when idle) catches the last.
    if (live_id >= 0 && (live_id != listed_live_id_ || (!chat_.busy() && committed != listed_committed_))) {
      listed_live_id_ = live_id;
      listed_committed_ = committed;
      load_session_list();
    }
  }
  st_.chat.generating = chat_.busy() && chat_.load_progress() < 0;
  st_.chat.has_model = chat_.has_engine() || st_.chat.generating;
  st_.chat.live = live_;
  update_status();
  st_.sessions.compare_model = st_.sessions.compare >= 0 ? &compare_tm_ : nullptr;

  ImGuiIO& io = ImGui::GetIO();
  if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) st_.locked_token = -1;
  if (ImGui::IsKeyPressed(GLFW_KEY_F11)) {
    presenter_ = !presenter_;
    fonts_dirty_ = true;
  }
  if (!io.WantTextInput && st_.locked_token >= 0) {
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_RightArrow))) st_.locked_token = std::min<int>(st_.locked_token + 1, static_cast<int>(tm_.size()) - 1);
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_LeftArrow))) st_.locked_token = std::max(0, st_.locked_token - 1);
  }
  draw_menu();
  draw_panels();
  draw_status_bar();
  draw_errors();
  draw_open_model_popup();
  if (show_shortcuts_) {
    ImGui::Begin("Keyboard shortcuts", &show_shortcuts_, ImGuiWindowFlags_AlwaysAutoResize);
    ImGui::TextUnformatted("click a token      lock it for every panel (click again to unlock)\n"
                           "Esc                unlock\n"
                           "Left / Right       move the locked token\n"
                           "Ctrl+Enter         send (chat input)\n"
                           "Ctrl+wheel, drag   zoom and pan the attention map\n"
                           "shift+drag         select a token range on the replay timeline\n"
                           "F11                presenter mode (large fonts)\n"
                           "Ctrl+E             export the window as PNG");
    ImGui::End();
  }
  if (show_about_) {
    ImGui::Begin("About mlascope", &show_about_, ImGuiWindowFlags_AlwaysAutoResize);
    ImGui::Text("mlascope %s: see inside DeepSeek-style models (MLA + DeepSeekMoE)", MLASCOPE_VERSION);
    ImGui::Text("Dear ImGui %s", ImGui::GetVersion());
    ImGui::End();
  }
  if (io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_E)) st_.act(ActionKind::ExportWindow);
}

void GuiApp::draw_menu() {
  if (!ImGui::BeginMainMenuBar()) return;
  menu_h_ = ImGui::GetWindowSize().y;
  if (ImGui::BeginMenu("File")) {
    if (ImGui::MenuItem("Open model folder...")) open_model_popup_ = true;
    if (ImGui::MenuItem("Open demo model")) st_.act(ActionKind::OpenModel, "");
    if (ImGui::MenuItem("Open session...")) open_["sessions"] = true;
    ImGui::Separator();
    if (ImGui::MenuItem("Export window as PNG", "Ctrl+E")) st_.act(ActionKind::ExportWindow);
    if (ImGui::BeginMenu("Export panel as PNG")) {
      for (const views::PanelInfo& p : views::panels())
        if (ImGui::MenuItem(p.title, nullptr, false, open_[p.id])) st_.act(ActionKind::ExportPanel, p.id);
      ImGui::EndMenu();
    }
    ImGui::Separator();
    if (ImGui::MenuItem("Quit")) quit_ = true;
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("View")) {
    for (const views::PanelInfo& p : views::panels()) ImGui::MenuItem(p.title, nullptr, &open_[p.id]);
    ImGui::Separator();
    if (ImGui::MenuItem("Tile panels")) tile_now_ = true;
    if (ImGui::MenuItem("Presenter mode", "F11", presenter_)) {
      presenter_ = !presenter_;
      fonts_dirty_ = true;
    }
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Help")) {
    if (ImGui::BeginMenu("Tours")) {
      for (size_t i = 0; i < st_.tour.tours.size(); ++i)
        if (ImGui::MenuItem(st_.tour.tours[i].title.c_str())) st_.act(ActionKind::StartTour, {}, static_cast<int64_t>(i));
      ImGui::EndMenu();
    }
    if (ImGui::MenuItem("Keyboard shortcuts")) show_shortcuts_ = true;
    if (ImGui::MenuItem("About")) show_about_ = true;
    ImGui::EndMenu();
  }
  ImGui::EndMainMenuBar();
}

std::array<float, 4> GuiApp::clear_color() const {
  const ImVec4 c = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];
  return {c.x, c.y, c.z, 1.0f};
}

void GuiApp::draw_panels() {
  const ImVec2 disp = ImGui::GetIO().DisplaySize;
  const float top = menu_h_, bottom = disp.y - std::max(status_h_, ImGui::GetFrameHeight() + 8);
  const float cw = disp.x / 3.0f, ch = (bottom - top) / 3.0f;
  const std::string highlight =
      st_.tour.active >= 0 && static_cast<size_t>(st_.tour.active) < st_.tour.tours.size()
          ? st_.tour.tours[static_cast<size_t>(st_.tour.active)].steps[static_cast<size_t>(std::clamp(st_.tour.step, 0, static_cast<int>(st_.tour.tours[static_cast<size_t>(st_.tour.active)].steps.size()) - 1))].panel
          : std::string();
  // Panels that tile the window without overlapping need no background of their own: the frame is
  // cleared to the window colour (clear_color()). On the software renderer the 1.6 Mpx of blended
  // panel backgrounds cost ~5 ms of a 18 ms frame (bench_gui_frame, 4,000 tokens); a panel the
  // user has moved over another keeps its background. Overlap is judged on last frame's rects.
  const std::map<std::string, PanelRect> prev = std::move(rects_);
  auto overlaps_another = [&prev](const std::string& id) {
    const auto me = prev.find(id);
    if (me == prev.end()) return true;  // not placed yet: be safe
    const PanelRect& a = me->second;
    for (const auto& [other, b] : prev) {
      if (other == id) continue;
      const float ix = std::min(a.x + a.w, b.x + b.w) - std::max(a.x, b.x);
      const float iy = std::min(a.y + a.h, b.y + b.h) - std::max(a.y, b.y);
      if (ix > 1.0f && iy > 1.0f) return true;  // shared edges of the tiling are not overlap
    }
    return false;
  };
  rects_.clear();
  for (const views::PanelInfo& p : views::panels()) {
    bool& open = open_[p.id];
    if (!open) continue;
    // Tiles are a default: once the user moves or resizes a panel the ini file remembers it.
    const ImGuiCond cond = tile_now_ ? ImGuiCond_Always : ImGuiCond_FirstUseEver;
    ImGui::SetNextWindowPos(ImVec2(p.col * cw, top + p.row * ch), cond);
    ImGui::SetNextWindowSize(ImVec2(p.col_span * cw, p.row_span * ch), cond);
    const ImGuiWindowFlags bg = overlaps_another(p.id) ? 0 : ImGuiWindowFlags_NoBackground;
    const bool visible = ImGui::Begin(p.title, &open, ImGuiWindowFlags_NoCollapse | bg);
    const ImVec2 pos = ImGui::GetWindowPos(), size = ImGui::GetWindowSize();
    rects_[p.id] = PanelRect{pos.x, pos.y, size.x, size.y};
    if (visible) {
      p.draw(tm_, st_);
    }
    ImGui::End();
    if (highlight == p.id) {
      const float pulse = 0.5f + 0.5f * std::sin(static_cast<float>(ImGui::GetTime()) * 4.0f);
      ImGui::GetForegroundDrawList()->AddRect(pos, ImVec2(pos.x + size.x, pos.y + size.y),
                                              IM_COL32(255, 200, 40, static_cast<int>(120 + 135 * pulse)), 4.0f, 0, 4.0f);
    }
  }
  tile_now_ = false;
}

void GuiApp::draw_status_bar() {
  const ImVec2 disp = ImGui::GetIO().DisplaySize;
  const float h = ImGui::GetFrameHeight() + 8;
  ImGui::SetNextWindowPos(ImVec2(0, disp.y - h));
  ImGui::SetNextWindowSize(ImVec2(disp.x, h));
  ImGui::Begin("##status", nullptr, ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                                        ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoFocusOnAppearing);
  status_h_ = h;
  const views::StatusInfo& s = st_.status;
  if (s.load_progress >= 0) {
    ImGui::ProgressBar(s.load_progress, ImVec2(200 * st_.ui_scale, 0));
    ImGui::SameLine();
    ImGui::TextUnformatted(s.load_message.c_str());
    ImGui::SameLine();
  }
  const size_t shown = views::visible_tokens(tm_, st_);
  const uint64_t kv = shown == 0 ? 0 : tm_.token(shown - 1).kv_bytes;
  // The KV bytes are what the engine's cache holds, in the element type it holds them in.
  const std::string& kv_dtype = tm_.meta().kv_dtype;
  ImGui::Text("model: %s | backend: %s | %.1f tok/s | KV %s%s%s | %zu tokens |", s.model.c_str(), s.backend.empty() ? "-" : s.backend.c_str(),
              s.tokens_per_s, views::human_bytes(static_cast<double>(kv)).c_str(), kv_dtype.empty() ? "" : " ",
              kv_dtype.c_str(), tm_.size());
  ImGui::SameLine();
  const bool failed = s.record_text.rfind("not recording:", 0) == 0;
  ImGui::TextColored(s.recording ? ImVec4(1, 0.45f, 0.4f, 1) : failed ? ImVec4(1, 0.7f, 0.3f, 1) : ImVec4(0.7f, 0.7f, 0.7f, 1), "%s%s",
                     s.recording ? "REC " : "", s.record_text.c_str());
  ImGui::SameLine();
  ImGui::Text("| %.1f ms/frame", s.frame_ms);
  if (st_.replay_position >= 0) {
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(1, 0.8f, 0.3f, 1), "| replay %d/%zu", st_.replay_position, tm_.size());
  }
  ImGui::End();
}

void GuiApp::draw_errors() {
  if (st_.errors.empty()) return;
  const ImVec2 disp = ImGui::GetIO().DisplaySize;
  ImGui::SetNextWindowPos(ImVec2(disp.x * 0.5f, menu_h_ + 8), ImGuiCond_Always, ImVec2(0.5f, 0.0f));
  ImGui::SetNextWindowBgAlpha(0.95f);
  ImGui::Begin("Errors", nullptr, ImGuiWindowFlags_AlwaysAutoResize | ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoCollapse);
  for (size_t i = 0; i < st_.errors.size(); ++i) ImGui::TextColored(ImVec4(1, 0.45f, 0.4f, 1), "%s", st_.errors[i].c_str());
  if (ImGui::Button("dismiss")) st_.errors.clear();
  ImGui::End();
}

void GuiApp::draw_open_model_popup() {
  if (open_model_popup_) {
    ImGui::OpenPopup("Open model folder");
    open_model_popup_ = false;
  }
  if (ImGui::BeginPopupModal("Open model folder", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) {
    char buf[1024];
    std::snprintf(buf, sizeof buf, "%s", open_model_path_.c_str());
    ImGui::SetNextItemWidth(480 * st_.ui_scale);
    if (ImGui::InputTextWithHint("##path", "/path/to/model (config.json + *.safetensors)", buf, sizeof buf)) open_model_path_ = buf;
    if (ImGui::Button("open") && !open_model_path_.empty()) {
      st_.act(ActionKind::OpenModel, open_model_path_);
      ImGui::CloseCurrentPopup();
    }
    ImGui::SameLine();
    if (ImGui::Button("cancel")) ImGui::CloseCurrentPopup();
    ImGui::EndPopup();
  }
}

// ------------------------------------------------------------------------------------ after render

void GuiApp::after_render(int fb_w, int fb_h) {
  for (auto it = shots_.begin(); it != shots_.end();) {
    if (--it->frames_left > 0) {
      ++it;
      continue;
    }
    int x = 0, y = 0, w = fb_w, h = fb_h;
    if (!it->panel.empty()) {
      auto r = rects_.find(it->panel);
      if (r == rects_.end()) {
        error("[gui] screenshot " + it->name + ": panel '" + it->panel + "' is not open");
        it = shots_.erase(it);
        continue;
      }
      const float sx = static_cast<float>(fb_w) / std::max(1.0f, ImGui::GetIO().DisplaySize.x);
      x = std::clamp(static_cast<int>(r->second.x * sx), 0, fb_w - 1);
      y = std::clamp(static_cast<int>(r->second.y * sx), 0, fb_h - 1);
      w = std::clamp(static_cast<int>(r->second.w * sx), 1, fb_w - x);
      h = std::clamp(static_cast<int>(r->second.h * sx), 1, fb_h - y);
    }
    std::vector<unsigned char> px(static_cast<size_t>(w) * static_cast<size_t>(h) * 4);
    glPixelStorei(GL_PACK_ALIGNMENT, 1);
    // OpenGL's origin is bottom-left; read the rows, then write them top-down.
    glReadPixels(x, fb_h - y - h, w, h, GL_RGBA, GL_UNSIGNED_BYTE, px.data());
    std::vector<unsigned char> flipped(px.size());
    const size_t row = static_cast<size_t>(w) * 4;
    for (int r = 0; r < h; ++r) std::copy_n(px.data() + static_cast<size_t>(h - 1 - r) * row, row, flipped.data() + static_cast<size_t>(r) * row);
    for (size_t i = 3; i < flipped.size(); i += 4) flipped[i] = 255;
    const fs::path out = export_path(it->name);
    if (!stbi_write_png(out.string().c_str(), w, h, 4, flipped.data(), static_cast<int>(row)))
      error("[gui] " + out.string() + ": cannot write PNG");
    else if (!script_.empty())
      std::printf("screenshot %s (%dx%d)\n", out.string().c_str(), w, h);
    it = shots_.erase(it);
  }
}

bool GuiApp::after_frame() {
  const double t = now_s();
  const double ms = (t - last_frame_t_) * 1000.0;
  last_frame_t_ = t;
  st_.status.frame_ms = 0.9 * st_.status.frame_ms + 0.1 * ms;
  if (frame_stats_left_ > 0) {
    frame_times_.push_back(ms);
    if (--frame_stats_left_ == 0) {
      std::vector<double> v = frame_times_;
      std::sort(v.begin(), v.end());
      std::printf("frame_stats: %zu frames, %zu tokens, median %.2f ms, p90 %.2f ms, max %.2f ms\n", v.size(), tm_.size(), v[v.size() / 2],
                  v[v.size() * 9 / 10], v.back());
      std::fflush(stdout);
    }
  }
  process_actions();
  check_tour_progress();
  if (!script_.empty() || script_pc_ > 0) {
    if (!step_script()) quit_ = true;
  }
  return !quit_;
}

// -------------------------------------------------------------------------------------- actions

void GuiApp::process_actions() {
  std::vector<views::Action> acts;
  acts.swap(st_.actions);
  for (const views::Action& a : acts) {
    try {
      handle(a);
    } catch (const std::exception& e) {
      error(e.what());
    }
  }
}

void GuiApp::handle(const views::Action& a) {
  switch (a.kind) {
    case ActionKind::SendPrompt:
      st_.replay_position = -1;
      if (!chat_.has_engine()) {
        error("[gui] cannot send now: " + std::string(chat_.busy() ? "a model is loading or answering" : "no model is loaded (File > Open model folder)"));
        break;
      }
      if (!live_) {
        // Chatting after a replay starts a new conversation with the loaded model.
        chat_.clear(tm_);
        live_ = true;
        shown_session_ = -1;
      }
      if (!chat_.send(tm_, a.text, st_.chat)) error("[gui] cannot send now: a model is loading or answering");
      break;
    case ActionKind::Stop: chat_.stop(); break;
    case ActionKind::Regenerate:
      if (live_) chat_.regenerate(tm_, st_.chat);
      break;
    case ActionKind::EditResend:
      if (live_) chat_.edit_resend(tm_, static_cast<int>(a.a), a.text, st_.chat);
      break;
    case ActionKind::ForkAt:
      if (!live_) error("[gui] this is a recorded session: forking needs the live chat (send a prompt first)");
      else if (!chat_.fork(tm_, static_cast<int>(a.a), static_cast<int32_t>(a.b), st_.chat)) error("[gui] cannot fork now: wait for the answer to finish");
      break;
    case ActionKind::ClearChat:
      if (chat_.has_engine()) {
        chat_.clear(tm_);
        live_ = true;
        shown_session_ = -1;
      }
      break;
    case ActionKind::AddBookmark: add_bookmark(static_cast<int32_t>(a.a), a.text); break;
    case ActionKind::RemoveBookmark: remove_bookmark(a.a); break;
    case ActionKind::RefreshSessions: load_session_list(); break;
    case ActionKind::OpenSession: replay_session(static_cast<size_t>(a.a)); break;
    case ActionKind::CompareSession:
      if (a.a < 0) {
        st_.sessions.compare = -1;
      } else {
        open_session(static_cast<size_t>(a.a), compare_tm_);
        st_.sessions.compare = static_cast<int>(a.a);
      }
      break;
    case ActionKind::OpenModel:
      chat_.load_model(a.text.empty() ? (cfg_.assets / "models" / "mla-moe-demo") : fs::path(a.text), cfg_.engine);
      break;
    case ActionKind::OpenConfig: {
      views::KvPreset p;
      p.config = ModelConfig::from_json_text(read_text(a.text), a.text);
      p.name = fs::path(a.text).parent_path().filename().string();
      if (p.name.empty()) p.name = a.text;
      st_.kv.presets.push_back(std::move(p));
      st_.kv.preset = static_cast<int>(st_.kv.presets.size()) - 1;
      break;
    }
    case ActionKind::ExportPanel: request_screenshot("panel-" + a.text + "-" + std::to_string(std::time(nullptr)), a.text); break;
    case ActionKind::ExportWindow: request_screenshot("window-" + std::to_string(std::time(nullptr)), ""); break;
    case ActionKind::StartTour: start_tour(static_cast<int>(a.a), a.b < 0 ? 0 : static_cast<int>(a.b)); break;
    case ActionKind::TourAction: break;
  }
}

// ---------------------------------------------------------------------------------------- tours

void GuiApp::start_tour(int index, int step) {
  if (index < 0 || static_cast<size_t>(index) >= st_.tour.tours.size()) return;
  const bool fresh = st_.tour.active != index;
  st_.tour.active = index;
  st_.tour.step = std::clamp(step, 0, static_cast<int>(st_.tour.tours[static_cast<size_t>(index)].steps.size()) - 1);
  if (fresh) {
    // Starting in the middle: what the earlier steps set up (open a session, pick a layer) first.
    const views::Tour& tour = st_.tour.tours[static_cast<size_t>(index)];
    for (int i = 0; i < st_.tour.step; ++i)
      for (const views::TourAction& a : tour.steps[static_cast<size_t>(i)].actions)
        if (a.verb != "send_prompt" && a.verb != "load_model") tour_action(a);
    // A tour runs on the demo model or on a bundled session; open what it needs.
    const std::string& on = st_.tour.tours[static_cast<size_t>(index)].session;
    if (on != "demo") {
      const int i = find_session(on);
      if (i < 0) fail("tour", on, "no such session (bundled sessions live in assets/sessions/)");
      replay_session(static_cast<size_t>(i));
      st_.replay_position = -1;
      st_.replay.playing = false;
    }
  }
  run_tour_step();
}

void GuiApp::run_tour_step() {
  const views::Tour& tour = st_.tour.tours[static_cast<size_t>(st_.tour.active)];
  const views::TourStep& step = tour.steps[static_cast<size_t>(st_.tour.step)];
  if (!step.panel.empty()) open_[step.panel] = true;
  for (const views::TourAction& a : step.actions) {
    try {
      tour_action(a);
    } catch (const std::exception& e) {
      error(e.what());
    }
  }
  st_.tour.step_done = false;
  tour_token_at_start_ = st_.locked_token;
  tour_layer_at_start_ = st_.layer;
  tour_msgs_at_start_ = tm_.messages().size();
}

void GuiApp::check_tour_progress() {
  if (st_.tour.active < 0 || static_cast<size_t>(st_.tour.active) >= st_.tour.tours.size()) return;
  const views::Tour& tour = st_.tour.tours[static_cast<size_t>(st_.tour.active)];
  const views::TourStep& step = tour.steps[static_cast<size_t>(std::clamp(st_.tour.step, 0, static_cast<int>(tour.steps.size()) - 1))];
  bool done = false;
  switch (step.advance) {
    case views::TourAdvance::Button: return;
    case views::TourAdvance::SelectToken: done = st_.locked_token >= 0 && st_.locked_token != tour_token_at_start_; break;
    case views::TourAdvance::SelectLayer: done = st_.layer != tour_layer_at_start_; break;
    case views::TourAdvance::SendPrompt: done = tm_.messages().size() > tour_msgs_at_start_ && !chat_.busy(); break;
    case views::TourAdvance::OpenPanel: done = open_[step.panel]; break;
  }
  if (done && !st_.tour.step_done) {
    st_.tour.step_done = true;
    // The user did the step: move on by themselves, unless this was the last one.
    if (st_.tour.step + 1 < static_cast<int>(tour.steps.size())) {
      ++st_.tour.step;
      run_tour_step();
    }
  }
}

void GuiApp::tour_action(const views::TourAction& a) {
  if (a.verb == "load_model") {
    chat_.load_model(a.value.empty() || a.value == "demo" ? cfg_.assets / "models" / "mla-moe-demo" : fs::path(a.value), cfg_.engine);
  } else if (a.verb == "send_prompt") {
    st_.act(ActionKind::SendPrompt, a.value);
  } else if (a.verb == "select_token" || a.verb == "lock_token") {
    st_.locked_token = std::min<int>(a.number, static_cast<int>(tm_.size()) - 1);
  } else if (a.verb == "select_layer") {
    st_.layer = a.number;
    st_.attention.layer = a.number;
  } else if (a.verb == "open_panel") {
    if (!views::find_panel(a.value)) fail("tour", a.value, "no such panel");
    open_[a.value] = true;
  } else if (a.verb == "open_session") {
    const int i = find_session(a.value);
    if (i < 0) fail("tour", a.value, "no such session (bundled sessions live in assets/sessions/)");
    replay_session(static_cast<size_t>(i));
    st_.replay_position = -1;
    st_.replay.playing = false;
  } else if (a.verb == "set_preset") {
    st_.kv.preset = -1;
    for (size_t i = 0; i < st_.kv.presets.size(); ++i)
      if (st_.kv.presets[i].name == a.value) st_.kv.preset = static_cast<int>(i);
  } else if (a.verb == "set_head") {
    st_.attention.head = a.number;
  } else if (a.verb == "set_range") {
    st_.range_begin = a.number;
    st_.range_end = a.number2;
  }
}

// ------------------------------------------------------------------------------------- scripting

bool GuiApp::step_script() {
  if (wait_frames_ > 0) {
    --wait_frames_;
    return true;
  }
  if (!shots_.empty() || frame_stats_left_ > 0) return true;
  if (wait_idle_) {
    if (chat_.busy()) return true;
    wait_idle_ = false;
    wait_frames_ = 2;  // let the drained records reach the screen
    return true;
  }
  while (script_pc_ < script_.size()) {
    const ScriptCommand& c = script_[script_pc_++];
    const std::string& v = c.verb;
    auto num = [&](size_t i) { return std::stoi(c.args.at(i)); };
    try {
      if (v == "quit") return false;
      if (v == "wait") {
        wait_frames_ = num(0);
        return true;
      }
      if (v == "wait_idle") {
        wait_idle_ = true;
        return true;
      }
      if (v == "load_model") {
        chat_.load_model(c.args[0] == "demo" ? cfg_.assets / "models" / "mla-moe-demo" : fs::path(c.args[0]), cfg_.engine);
        wait_idle_ = true;
        return true;
      }
      if (v == "synthetic") {
        views::SyntheticOptions o;
        o.n_tokens = num(0);
        chat_.detach(tm_);
        views::fill_synthetic(tm_, views::demo_config(), o);
        live_ = false;
        shown_session_ = -1;
      } else if (v == "title") {
        chat_.set_title(tm_, c.args[0]);
      } else if (v == "sampler") {
        for (const std::string& kv : c.args) {
          const size_t eq = kv.find('=');
          if (eq == std::string::npos) fail("script", cfg_.script.string() + ":" + std::to_string(c.line), "sampler wants key=value, got '" + kv + "'");
          if (kv.compare(0, eq, "max_new_tokens") == 0) st_.chat.max_new_tokens = std::stoi(kv.substr(eq + 1));
          else st_.chat.sampler.set(kv.substr(0, eq), kv.substr(eq + 1));
        }
      } else if (v == "clear") {
        st_.act(ActionKind::ClearChat);
        process_actions();
      } else if (v == "regenerate") {
        st_.act(ActionKind::Regenerate);
        process_actions();
      } else if (v == "fork") {
        st_.act(ActionKind::ForkAt, {}, num(0), num(1));
        process_actions();
      } else if (v == "bookmark") {
        std::string note;
        for (size_t i = 1; i < c.args.size(); ++i) note += (i > 1 ? " " : "") + c.args[i];
        st_.act(ActionKind::AddBookmark, note, num(0));
        process_actions();
      } else if (v == "prompt") {
        st_.act(ActionKind::SendPrompt, c.args[0]);
        process_actions();
      } else if (v == "select_token") {
        st_.hover_next = num(0);
      } else if (v == "lock_token") {
        st_.locked_token = num(0);
      } else if (v == "select_layer") {
        st_.layer = num(0);
      } else if (v == "range") {
        st_.range_begin = num(0);
        st_.range_end = num(1);
      } else if (v == "replay_position") {
        st_.replay_position = num(0);
        st_.replay.playing = false;
      } else if (v == "open_panel" || v == "close_panel") {
        if (!views::find_panel(c.args[0])) fail("script", cfg_.script.string() + ":" + std::to_string(c.line), "no panel '" + c.args[0] + "'");
        open_[c.args[0]] = v == "open_panel";
      } else if (v == "only_panels") {
        set_all_panels_open(false);
        for (const std::string& id : c.args) {
          if (!views::find_panel(id)) fail("script", cfg_.script.string() + ":" + std::to_string(c.line), "no panel '" + id + "'");
          open_[id] = true;
        }
        tile_now_ = true;
      } else if (v == "tab") {
        if (c.args[0] != "routing") fail("script", cfg_.script.string() + ":" + std::to_string(c.line), "only the routing panel has tabs");
        st_.routing.select_tab = c.args[1] == "token" ? 0 : c.args[1] == "matrix" ? 1 : c.args[1] == "load" ? 2 : -1;
        if (st_.routing.select_tab < 0) fail("script", cfg_.script.string() + ":" + std::to_string(c.line), "tab must be token, matrix or load");
      } else if (v == "preset") {
        st_.kv.preset = -1;
        for (size_t i = 0; i < st_.kv.presets.size(); ++i)
          if (st_.kv.presets[i].name == c.args[0]) st_.kv.preset = static_cast<int>(i);
        if (c.args[0] != "session" && st_.kv.preset < 0) fail("script", cfg_.script.string() + ":" + std::to_string(c.line), "no preset '" + c.args[0] + "'");
      } else if (v == "attention") {
        st_.attention.layer = num(0);
        st_.attention.head = num(1);
      } else if (v == "tour") {
        int idx = -1;
        for (size_t i = 0; i < st_.tour.tours.size(); ++i)
          if (st_.tour.tours[i].id == c.args[0]) idx = static_cast<int>(i);
        if (idx < 0) fail("script", cfg_.script.string() + ":" + std::to_string(c.line), "no tour '" + c.args[0] + "'");
        st_.tour.active = -1;
        start_tour(idx, c.args.size() > 1 ? num(1) : 0);
        open_["tour"] = true;
        wait_frames_ = 2;
        return true;
      } else if (v == "open_session" || v == "compare_session") {
        const int idx = find_session(c.args[0]);
        if (idx < 0) fail("script", cfg_.script.string() + ":" + std::to_string(c.line), "no session '" + c.args[0] + "'");
        st_.act(v == "open_session" ? ActionKind::OpenSession : ActionKind::CompareSession, {}, idx);
        process_actions();
        if (v == "open_session") st_.replay.playing = false;
      } else if (v == "presenter") {
        presenter_ = c.args[0] == "on";
        fonts_dirty_ = true;
        wait_frames_ = 2;
        return true;
      } else if (v == "screenshot") {
        request_screenshot(c.args[0], c.args.size() > 1 ? c.args[1] : "");
        return true;
      } else if (v == "frame_stats") {
        frame_stats_left_ = num(0);
        frame_times_.clear();
        return true;
      }
    } catch (const std::exception& e) {
      error(e.what());
      exit_code_ = 1;
    }
  }
  // Script finished: quit, unless errors happened (then quit anyway with status 1).
  if (!st_.errors.empty()) exit_code_ = 1;
  return false;
}

}  // namespace mlascope::app::gui
