// app/gui/gui_app.cpp — see gui_app.h.
#include "gui_app.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#ifdef __GLIBC__
#include <malloc.h>  // mallopt
#endif

#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_internal.h>
#include <spdlog/spdlog.h>
#include <stb/stb_image_write.h>

#include "engine/error.h"
#include "views/kv_figures.h"
#include "views/synthetic_trace.h"
#include "views/widgets.h"

namespace mlascope::app::gui {

void keep_heap_between_frames() {
#ifdef __GLIBC__
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

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

std::vector<std::string> all_panel_ids() {
  std::vector<std::string> ids;
  for (const views::PanelInfo& p : views::panels()) ids.push_back(p.id);
  return ids;
}
}  // namespace

GuiApp::GuiApp(GuiConfig cfg) : cfg_(std::move(cfg)) {
  for (const views::PanelInfo& p : views::panels()) open_[p.id] = true;
  st_.ui_scale = cfg_.content_scale;
  layout_ = default_layout();
  ensure_panels(layout_, all_panel_ids());
}

GuiApp::~GuiApp() {
  if (layout_dirty_) save_layout_now();
}

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
  views::add_mono_font(io.Fonts, size);  // code blocks in the chat
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
  // Panels are placed by the tiling every frame; what is remembered is our layout file, not ImGui's.
  io.IniFilename = nullptr;
  if (!cfg_.layout_file.empty()) {
    std::string warning;
    layout_ = load_layout(cfg_.layout_file, all_panel_ids(), &warning);
    if (!warning.empty()) {
      spdlog::warn("gui: {}", warning);
      show_toast(warning);
    }
    for (auto& [id, o] : open_) o = std::find(layout_.open.begin(), layout_.open.end(), id) != layout_.open.end();
  }
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
    start_load(cfg_.model_dir.empty() ? cfg_.assets / "models" / "mla-moe-demo" : cfg_.model_dir, cfg_.engine.server);
  }
  last_frame_t_ = now_s();
}

void GuiApp::set_script(std::vector<ScriptCommand> commands) {
  // A fresh run: its own exit status (tests run several scripts on one window).
  script_ = std::move(commands);
  script_pc_ = 0;
  quit_ = false;
  exit_code_ = 0;
  unexpected_errors_ = 0;
  failures_.clear();
}

void GuiApp::start_load(const fs::path& model, const RemoteArgs& server) {
  load_gen_ = view_gen_;
  EngineOptions o = cfg_.engine;
  o.server = server;  // a later "Open model" is local again
  chat_.load_model(model, o);
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
  ++view_gen_;
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
  // Tokens the session holds in the database now: a regenerate or fork rewrites rows, so the
  // number of rows ever written (tokens_committed) is not the session's length.
  if (r.recording) s.record_text = "recording #" + std::to_string(r.session_id) + " (" + std::to_string(r.tokens_stored) + " tokens saved)";
  else if (!r.message.empty()) s.record_text = "not recording: " + r.message;
  else if (!r.enabled) s.record_text = "not recording (no session database)";
  else s.record_text = "recording starts with the first message";
}

void GuiApp::error(const std::string& msg) {
  spdlog::error("gui: {}", msg);
  st_.errors.push_back(msg);
  // A scripted run fails on an error it did not announce with expect_error.
  auto it = std::find_if(expected_errors_.begin(), expected_errors_.end(), [&](const std::string& e) { return msg.find(e) != std::string::npos; });
  if (it != expected_errors_.end()) {
    expected_errors_.erase(it);
  } else {
    ++unexpected_errors_;
    if (!script_.empty()) std::fprintf(stderr, "mlascope: %s\n", msg.c_str());
  }
}

void GuiApp::show_toast(const std::string& text) {
  toast_ = text;
  toast_until_ = now_s() + 6.0;
}

const Rect* GuiApp::target(const std::string& name) const {
  const auto it = targets_.find(name);
  return it == targets_.end() ? nullptr : &it->second;
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

void GuiApp::request_screenshot(const std::string& name, const std::string& panel, bool confirm) {
  shots_.push_back(Shot{name, panel, 3, confirm});
}

// ---------------------------------------------------------------------------------------- drawing

void GuiApp::draw() {
  views::begin_frame(st_);
  // A scripted select_token is a hover that stays: the pointer a user would rest on the token.
  if (script_hover_ >= 0 && st_.hovered_token < 0 && static_cast<size_t>(script_hover_) < tm_.size()) st_.hovered_token = script_hover_;
  for (std::string& e : chat_.take_errors()) error(e);
  if (auto meta = chat_.take_loaded()) {
    st_.chat.base_model = chat_.template_name() == "plain";  // a base model has no chat template
    st_.chat.template_name = chat_.template_name();
    if (view_gen_ != load_gen_ && !live_) {
      // The user opened a session while the model loaded: keep it on screen. The model is ready
      // for the next prompt (sending one starts a new chat).
      show_toast("model loaded: " + meta->model_name + " (the open session stays; send a prompt to chat)");
    } else {
      tm_.reset(std::move(*meta));
      live_ = true;
      shown_session_ = -1;
      st_.replay_position = -1;
      st_.locked_token = -1;
      st_.kv.preset = -1;  // the KV panel follows the model that just loaded
    }
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
  st_.sessions.open = live_ ? -1 : shown_session_;
  st_.token_text = live_ ? chat_.token_text() : nullptr;  // a replayed session may come from another model

  ImGuiIO& io = ImGui::GetIO();
  if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) {
    st_.locked_token = -1;
    script_hover_ = -1;
  }
  if (ImGui::IsKeyPressed(GLFW_KEY_F11)) {
    presenter_ = !presenter_;
    fonts_dirty_ = true;
  }
  if (!io.WantTextInput && st_.locked_token >= 0) {
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_RightArrow))) st_.locked_token = std::min<int>(st_.locked_token + 1, static_cast<int>(tm_.size()) - 1);
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_LeftArrow))) st_.locked_token = std::max(0, st_.locked_token - 1);
  }
  targets_.clear();
  draw_menu();
  draw_panels();
  draw_status_bar();
  draw_errors();
  draw_toast();
  draw_open_model_popup();
  draw_connect_popup();
  if (show_shortcuts_) {
    ImGui::Begin("Keyboard shortcuts", &show_shortcuts_, ImGuiWindowFlags_AlwaysAutoResize);
    ImGui::TextUnformatted("click a token      lock it for every panel (click again to unlock)\n"
                           "Esc                unlock\n"
                           "Left / Right       move the locked token\n"
                           "Ctrl+Enter         send (chat input)\n"
                           "Ctrl+wheel, drag   zoom and pan the attention map\n"
                           "shift+drag         select a token range on the replay timeline\n"
                           "drag a gap         resize the panels on either side\n"
                           "double-click title maximize a panel / restore the tiles\n"
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
  // Remember the layout a moment after the last change (a splitter drag changes it every frame).
  if (layout_dirty_ && !ImGui::IsMouseDown(0) && now_s() - layout_changed_t_ > 1.0) save_layout_now();
}

// The menu bar: one function per menu, so a new entry (File > Connect to server...) is one line.
void GuiApp::draw_menu() {
  if (!ImGui::BeginMainMenuBar()) return;
  menu_h_ = ImGui::GetWindowSize().y;
  if (ImGui::BeginMenu("File")) {
    draw_file_menu();
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("View")) {
    draw_view_menu();
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Help")) {
    draw_help_menu();
    ImGui::EndMenu();
  }
  ImGui::EndMainMenuBar();
}

void GuiApp::draw_file_menu() {
  if (ImGui::MenuItem("Open model folder...")) open_model_popup_ = true;
  if (ImGui::MenuItem("Open demo model")) st_.act(ActionKind::OpenModel, "");
  if (ImGui::MenuItem("Open session...")) open_["sessions"] = true;
  if (ImGui::MenuItem("Connect to server...")) connect_popup_ = true;
  ImGui::Separator();
  if (ImGui::MenuItem("Export window as PNG", "Ctrl+E")) st_.act(ActionKind::ExportWindow);
  if (ImGui::BeginMenu("Export panel as PNG")) {
    for (const views::PanelInfo& p : views::panels())
      if (ImGui::MenuItem(p.title, nullptr, false, open_[p.id])) st_.act(ActionKind::ExportPanel, p.id);
    ImGui::EndMenu();
  }
  ImGui::Separator();
  if (ImGui::MenuItem("Quit")) quit_ = true;
}

void GuiApp::draw_view_menu() {
  for (const views::PanelInfo& p : views::panels())
    if (ImGui::MenuItem(p.title, nullptr, &open_[p.id])) layout_changed();
  ImGui::Separator();
  if (ImGui::BeginMenu("Maximize")) {
    for (const views::PanelInfo& p : views::panels())
      if (ImGui::MenuItem(p.title, nullptr, active_layout().maximized == p.id, open_[p.id])) set_maximized(active_layout().maximized == p.id ? "" : p.id);
    ImGui::EndMenu();
  }
  if (ImGui::MenuItem("Restore tiles", nullptr, false, !active_layout().maximized.empty())) set_maximized("");
  if (ImGui::MenuItem("Reset layout")) {
    layout_ = default_layout();
    ensure_panels(layout_, all_panel_ids());
    set_all_panels_open(true);
    layout_changed();
  }
  ImGui::Separator();
  if (ImGui::MenuItem("Presenter mode", "F11", presenter_)) {
    presenter_ = !presenter_;
    fonts_dirty_ = true;
  }
}

void GuiApp::draw_help_menu() {
  if (ImGui::BeginMenu("Tours")) {
    for (size_t i = 0; i < st_.tour.tours.size(); ++i)
      if (ImGui::MenuItem(st_.tour.tours[i].title.c_str())) st_.act(ActionKind::StartTour, {}, static_cast<int64_t>(i));
    ImGui::EndMenu();
  }
  if (ImGui::MenuItem("Keyboard shortcuts")) show_shortcuts_ = true;
  if (ImGui::MenuItem("About")) show_about_ = true;
}

std::array<float, 4> GuiApp::clear_color() const {
  const ImVec4 c = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];
  return {c.x, c.y, c.z, 1.0f};
}

void GuiApp::set_maximized(const std::string& id) {
  active_layout().maximized = id;
  if (!id.empty()) open_[id] = true;
  if (!tour_layout_on_) layout_changed();
}

void GuiApp::layout_changed() {
  layout_dirty_ = true;
  layout_changed_t_ = now_s();
}

void GuiApp::save_layout_now() {
  layout_dirty_ = false;
  if (cfg_.layout_file.empty()) return;
  Layout l = layout_;
  // During a tour the panels are the tour's; the user's own choice is what was open before it.
  const auto& open = st_.tour.active >= 0 && !open_before_tour_.empty() ? open_before_tour_ : open_;
  l.open.clear();
  for (const auto& [id, o] : open)
    if (o) l.open.push_back(id);
  if (st_.tour.active >= 0) l.maximized = maximized_before_tour_;
  try {
    save_layout(cfg_.layout_file, l);
  } catch (const Error& e) {
    spdlog::warn("gui: {}", e.what());  // a layout that is not remembered is no reason to interrupt
  }
}

void GuiApp::draw_panels() {
  const ImVec2 disp = ImGui::GetIO().DisplaySize;
  const float top = menu_h_, bottom = disp.y - std::max(status_h_, ImGui::GetFrameHeight() + 8);
  work_area_ = Rect{0, top, disp.x, std::max(1.0f, bottom - top)};
  tiling_ = tile(active_layout(), [this](const std::string& id) { return panel_open(id); }, work_area_, std::round(6.0f * st_.ui_scale));
  const std::string highlight =
      st_.tour.active >= 0 && static_cast<size_t>(st_.tour.active) < st_.tour.tours.size()
          ? st_.tour.tours[static_cast<size_t>(st_.tour.active)].steps[static_cast<size_t>(std::clamp(st_.tour.step, 0, static_cast<int>(st_.tour.tours[static_cast<size_t>(st_.tour.active)].steps.size()) - 1))].panel
          : std::string();
  draw_splitters(work_area_);
  rects_.clear();
  geometry_.clear();
  panel_text_.clear();
  if (capture_text_ > 0) --capture_text_;
  const bool reset_scroll = std::exchange(scroll_reset_, false);
  for (const views::PanelInfo& p : views::panels()) {
    const Tile* t = tiling_.find(p.id);
    if (!t) continue;
    bool& open = open_[p.id];
    ImGui::SetNextWindowPos(ImVec2(t->rect.x, t->rect.y), ImGuiCond_Always);
    ImGui::SetNextWindowSize(ImVec2(t->rect.w, t->rect.h), ImGuiCond_Always);
    // Tiles never overlap, so panels draw no background of their own: the frame is cleared to the
    // window colour (clear_color()). On the software renderer the 1.6 Mpx of blended panel
    // backgrounds cost ~5 ms of an 18 ms frame (bench_gui_frame, 4,000 tokens).
    const ImGuiWindowFlags flags = ImGuiWindowFlags_NoCollapse | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize |
                                   ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoBackground;
    const bool visible = ImGui::Begin(p.title, &open, flags);
    if (!open) layout_changed();
    ImGuiWindow* w = ImGui::GetCurrentWindow();
    if (reset_scroll) ImGui::SetScrollY(0.0f);
    const Rect wr{w->Pos.x, w->Pos.y, w->Size.x, w->Size.y};
    rects_[p.id] = wr;
    targets_["panel." + std::string(p.id)] = Rect{w->InnerRect.Min.x, w->InnerRect.Min.y, w->InnerRect.GetWidth(), w->InnerRect.GetHeight()};
    const ImRect title = w->TitleBarRect();
    targets_["title." + std::string(p.id)] = Rect{title.Min.x, title.Min.y, title.GetWidth() * 0.5f, title.GetHeight()};
    // The visible text a panel drew, for script assertions (ImGui's log sees only what is drawn:
    // clipped and scrolled-away items are not in it).
    const bool capture = capture_text_ > 0;
    if (capture) ImGui::LogToBuffer();
    if (visible) p.draw(tm_, st_);
    if (capture) {
      panel_text_[p.id] = GImGui->LogBuffer.c_str();
      ImGui::LogFinish();
    }
    if (visible && std::string(p.id) == "tour" && st_.tour.active >= 0)
      targets_["tour.next"] = Rect{st_.tour.next_rect[0], st_.tour.next_rect[1], st_.tour.next_rect[2], st_.tour.next_rect[3]};
    geometry_[p.id] = PanelGeometry{wr, Rect{w->InnerRect.Min.x, w->InnerRect.Min.y, w->InnerRect.GetWidth(), w->InnerRect.GetHeight()},
                                    w->DC.CursorMaxPos.x};
    draw_panel_title_button(p.id);
    // Double-click on the title: this panel alone, or back to the tiles.
    if (ImGui::IsMouseDoubleClicked(0) && ImGui::IsWindowHovered(ImGuiHoveredFlags_AllowWhenBlockedByActiveItem) &&
        title.Contains(ImGui::GetIO().MousePos))
      set_maximized(active_layout().maximized == p.id ? "" : p.id);
    ImGui::End();
    if (highlight == p.id) {
      const float pulse = 0.5f + 0.5f * std::sin(static_cast<float>(ImGui::GetTime()) * 4.0f);
      ImGui::GetForegroundDrawList()->AddRect(ImVec2(wr.x, wr.y), ImVec2(wr.right(), wr.bottom()),
                                              IM_COL32(255, 200, 40, static_cast<int>(120 + 135 * pulse)), 4.0f, 0, 4.0f);
    }
  }
}

// The maximize / restore button left of the close button, in the title bar.
void GuiApp::draw_panel_title_button(const std::string& id) {
  ImGuiWindow* w = ImGui::GetCurrentWindow();
  const ImRect title = w->TitleBarRect();
  const ImGuiStyle& style = ImGui::GetStyle();
  const float sz = ImGui::GetFontSize();
  // The close button sits at the right, FramePadding.x in, FontSize wide.
  const ImVec2 pos(title.Max.x - style.FramePadding.x - sz * 2.0f - style.ItemInnerSpacing.x, title.Min.y + style.FramePadding.y);
  const ImVec2 saved_cursor = w->DC.CursorPos, saved_max = w->DC.CursorMaxPos;
  ImGui::PushClipRect(title.Min, title.Max, false);
  ImGui::SetCursorScreenPos(pos);
  const bool maxed = active_layout().maximized == id;
  ImGui::PushID("##max");
  const bool pressed = ImGui::InvisibleButton(id.c_str(), ImVec2(sz, sz));
  const bool hovered = ImGui::IsItemHovered();
  ImGui::PopID();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImU32 col = ImGui::GetColorU32(hovered ? ImGuiCol_Text : ImGuiCol_TextDisabled);
  const float in = sz * 0.22f;
  if (maxed) {  // two overlapping squares: restore
    dl->AddRect(ImVec2(pos.x + in + 2, pos.y + in - 1), ImVec2(pos.x + sz - in + 1, pos.y + sz - in - 2), col);
    dl->AddRect(ImVec2(pos.x + in - 1, pos.y + in + 2), ImVec2(pos.x + sz - in - 2, pos.y + sz - in + 1), col);
  } else {
    dl->AddRect(ImVec2(pos.x + in, pos.y + in), ImVec2(pos.x + sz - in, pos.y + sz - in), col, 0.0f, 0, 1.5f);
  }
  ImGui::PopClipRect();
  if (hovered) ImGui::SetTooltip(maxed ? "restore the tiles (double-click the title)" : "maximize (double-click the title)");
  targets_["max." + id] = Rect{pos.x, pos.y, sz, sz};
  w->DC.CursorPos = saved_cursor;
  w->DC.CursorMaxPos = saved_max;  // the button is decoration: not part of the panel's content
  if (pressed) set_maximized(maxed ? "" : id);
}

// The gaps between tiles are splitters: a window behind the panels catches the mouse there.
void GuiApp::draw_splitters(const Rect& area) {
  ImGui::SetNextWindowPos(ImVec2(area.x, area.y));
  ImGui::SetNextWindowSize(ImVec2(area.w, area.h));
  const ImGuiWindowFlags flags = ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoBackground | ImGuiWindowFlags_NoBringToFrontOnFocus |
                                 ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoFocusOnAppearing | ImGuiWindowFlags_NoNav |
                                 ImGuiWindowFlags_NoScrollWithMouse | ImGuiWindowFlags_NoMove;
  ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(0, 0));
  ImGui::Begin("##tiles", nullptr, flags);
  ImGui::PopStyleVar();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float min_px = 160.0f * st_.ui_scale;
  for (const Splitter& s : tiling_.splitters) {
    // Named after the first open panel on each side: stable across frames for ImGui's ids.
    const LayoutNode* n = &active_layout().root;
    for (int i : s.path) n = &n->children[static_cast<size_t>(i)];
    auto first_open = [this](const LayoutNode& node) {
      for (const std::string& id : panel_ids(node))
        if (panel_open(id)) return id;
      return std::string();
    };
    const std::string name = "splitter." + first_open(n->children[static_cast<size_t>(s.a)]) + "." + first_open(n->children[static_cast<size_t>(s.b)]);
    targets_[name] = s.rect;
    ImGui::SetCursorScreenPos(ImVec2(s.rect.x, s.rect.y));
    ImGui::InvisibleButton(name.c_str(), ImVec2(std::max(1.0f, s.rect.w), std::max(1.0f, s.rect.h)));
    const bool hot = ImGui::IsItemHovered() || ImGui::IsItemActive();
    if (hot) {
      ImGui::SetMouseCursor(s.vertical ? ImGuiMouseCursor_ResizeEW : ImGuiMouseCursor_ResizeNS);
      dl->AddRectFilled(ImVec2(s.rect.x, s.rect.y), ImVec2(s.rect.right(), s.rect.bottom()), ImGui::GetColorU32(ImGuiCol_SeparatorHovered));
    }
    if (ImGui::IsItemActive()) {
      const ImVec2 d = ImGui::GetIO().MouseDelta;
      const float delta = s.vertical ? d.x : d.y;
      if (delta != 0.0f) {
        drag_splitter(active_layout(), s, delta, min_px);
        if (!tour_layout_on_) layout_changed();
      }
    }
  }
  ImGui::End();
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
  // Pieces in order of importance: what does not fit the window's width is left out, never clipped.
  const std::string rec = std::string(s.recording ? "REC " : "") + s.record_text;
  char buf[512];
  // The KV figure and its dtype come from the one function the KV panel uses too.
  std::snprintf(buf, sizeof buf, "model: %s | backend: %s | %s | %zu tokens", s.model.c_str(), s.backend.empty() ? "-" : s.backend.c_str(),
                views::kv_shown(tm_, shown).text().c_str(), tm_.size());
  std::string head = buf;
  std::string tail;
  if (st_.replay_position >= 0) tail += " | replay " + std::to_string(st_.replay_position) + "/" + std::to_string(tm_.size());
  std::snprintf(buf, sizeof buf, " | %.1f tok/s | %.1f ms/frame", s.tokens_per_s, s.frame_ms);
  std::string extra = buf;
  const float avail = ImGui::GetContentRegionAvail().x;
  const float sep = ImGui::CalcTextSize(" | ").x;
  auto width = [](const std::string& t) { return ImGui::CalcTextSize(t.c_str()).x; };
  const bool fit_rec = width(head) + sep + width(rec) + width(tail) <= avail;
  const bool fit_extra = fit_rec && width(head) + sep + width(rec) + width(tail) + width(extra) <= avail;
  ImGui::TextUnformatted(head.c_str());
  status_line_ = head;
  if (fit_rec) {
    ImGui::SameLine(0, 0);
    ImGui::TextUnformatted(" | ");
    ImGui::SameLine(0, 0);
    const bool failed = s.record_text.rfind("not recording:", 0) == 0;
    ImGui::TextColored(s.recording ? ImVec4(1, 0.45f, 0.4f, 1) : failed ? ImVec4(1, 0.7f, 0.3f, 1) : ImVec4(0.7f, 0.7f, 0.7f, 1), "%s", rec.c_str());
    status_line_ += " | " + rec;
  }
  if (!tail.empty()) {
    ImGui::SameLine(0, 0);
    ImGui::TextColored(ImVec4(1, 0.8f, 0.3f, 1), "%s", tail.c_str());
    status_line_ += tail;
  }
  if (fit_extra) {
    ImGui::SameLine(0, 0);
    ImGui::TextUnformatted(extra.c_str());
    status_line_ += extra;
  }
  status_right_ = ImGui::GetCurrentWindow()->DC.CursorMaxPos.x;
  ImGui::End();
}

void GuiApp::draw_errors() {
  if (st_.errors.empty()) return;
  const ImVec2 disp = ImGui::GetIO().DisplaySize;
  ImGui::SetNextWindowPos(ImVec2(disp.x * 0.5f, menu_h_ + 8), ImGuiCond_Always, ImVec2(0.5f, 0.0f));
  ImGui::SetNextWindowBgAlpha(0.95f);
  ImGui::Begin("Errors", nullptr, ImGuiWindowFlags_AlwaysAutoResize | ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoCollapse |
                                      ImGuiWindowFlags_NoFocusOnAppearing);
  // Always above the panels: a click on a panel raises that panel, and an error under it could
  // neither be read nor dismissed.
  ImGui::BringWindowToDisplayFront(ImGui::GetCurrentWindow());
  ImGui::PushTextWrapPos(disp.x * 0.6f);
  for (size_t i = 0; i < st_.errors.size(); ++i) ImGui::TextColored(ImVec4(1, 0.45f, 0.4f, 1), "%s", st_.errors[i].c_str());
  ImGui::PopTextWrapPos();
  const bool dismiss = ImGui::Button("dismiss");
  const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
  targets_["errors.dismiss"] = Rect{a.x, a.y, b.x - a.x, b.y - a.y};
  if (dismiss) st_.errors.clear();
  ImGui::End();
}

// A short note above the status bar (where an exported PNG went, a layout file that was reset).
void GuiApp::draw_toast() {
  if (toast_.empty() || now_s() > toast_until_) return;
  const ImVec2 disp = ImGui::GetIO().DisplaySize;
  ImGui::SetNextWindowPos(ImVec2(disp.x - 12, disp.y - status_h_ - 12), ImGuiCond_Always, ImVec2(1.0f, 1.0f));
  ImGui::SetNextWindowBgAlpha(0.92f);
  ImGui::Begin("##toast", nullptr, ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_AlwaysAutoResize | ImGuiWindowFlags_NoSavedSettings |
                                       ImGuiWindowFlags_NoFocusOnAppearing | ImGuiWindowFlags_NoNav);
  ImGui::BringWindowToDisplayFront(ImGui::GetCurrentWindow());
  ImGui::PushTextWrapPos(disp.x * 0.5f);
  ImGui::TextUnformatted(toast_.c_str());
  ImGui::PopTextWrapPos();
  const ImVec2 a = ImGui::GetWindowPos(), sz = ImGui::GetWindowSize();
  targets_["toast"] = Rect{a.x, a.y, sz.x, sz.y};
  if (ImGui::IsWindowHovered() && ImGui::IsMouseClicked(0)) toast_until_ = 0;
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

// File > Connect to server...: SGLang, vLLM, llama-server or `mlascope serve`; the folder holds the
// served model's config.json and tokenizer (no weights). The key is used, never stored or recorded.
void GuiApp::draw_connect_popup() {
  if (connect_popup_) {
    ImGui::OpenPopup("Connect to server");
    connect_popup_ = false;
    if (connect_url_.empty()) connect_url_ = cfg_.engine.server.server.empty() ? "http://127.0.0.1:30000" : cfg_.engine.server.server;
    if (connect_model_.empty()) connect_model_ = (cfg_.model_dir.empty() ? cfg_.assets / "models" / "mla-moe-demo" : cfg_.model_dir).string();
  }
  if (!ImGui::BeginPopupModal("Connect to server", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) return;
  auto field = [&](const char* id, const char* label, const char* hint, std::string& value, ImGuiInputTextFlags flags) {
    char buf[1024];
    std::snprintf(buf, sizeof buf, "%s", value.c_str());
    ImGui::TextUnformatted(label);
    ImGui::SetNextItemWidth(480 * st_.ui_scale);
    if (ImGui::InputTextWithHint(id, hint, buf, sizeof buf, flags)) value = buf;
  };
  field("##url", "server URL", "http://host:30000", connect_url_, 0);
  field("##key", "API key (optional; else $MLASCOPE_API_KEY)", "bearer token", connect_key_, ImGuiInputTextFlags_Password);
  field("##model", "folder with the model's config.json + tokenizer files", "/path/to/config-folder", connect_model_, 0);
  ImGui::TextDisabled("Servers without routing (llama-server, plain vLLM) show tokens and probabilities only.");
  if (ImGui::Button("connect") && !connect_url_.empty()) {
    RemoteArgs r;
    r.server = connect_url_;
    r.api_key = connect_key_;
    start_load(connect_model_, r);
    ImGui::CloseCurrentPopup();
  }
  ImGui::SameLine();
  if (ImGui::Button("cancel")) ImGui::CloseCurrentPopup();
  ImGui::EndPopup();
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
    if (!stbi_write_png(out.string().c_str(), w, h, 4, flipped.data(), static_cast<int>(row))) {
      error("[gui] " + out.string() + ": cannot write PNG");
    } else {
      if (!script_.empty()) std::printf("screenshot %s (%dx%d)\n", out.string().c_str(), w, h);
      if (it->confirm) show_toast("saved " + std::to_string(w) + "x" + std::to_string(h) + " PNG: " + out.string());
    }
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
    case ActionKind::OpenModel: start_load(a.text.empty() ? (cfg_.assets / "models" / "mla-moe-demo") : fs::path(a.text)); break;
    case ActionKind::OpenConfig: {
      views::KvPreset p;
      p.config = ModelConfig::from_json_text(read_text(a.text), a.text);
      p.name = fs::path(a.text).parent_path().filename().string();
      if (p.name.empty()) p.name = a.text;
      st_.kv.presets.push_back(std::move(p));
      st_.kv.preset = static_cast<int>(st_.kv.presets.size()) - 1;
      break;
    }
    case ActionKind::ExportPanel: request_screenshot("panel-" + a.text + "-" + std::to_string(std::time(nullptr)), a.text, true); break;
    case ActionKind::ExportWindow: request_screenshot("window-" + std::to_string(std::time(nullptr)), "", true); break;
    case ActionKind::StartTour: start_tour(static_cast<int>(a.a), static_cast<int>(a.b), a.text); break;
    case ActionKind::TourAction: break;
  }
}

// ---------------------------------------------------------------------------------------- tours

// StartTour actions: how = "next" / "back" / "" (go to `step`), "leave" / "finish" (end the tour).
void GuiApp::start_tour(int index, int step, const std::string& how) {
  if (how == "leave" || how == "finish") {
    end_tour();
    return;
  }
  if (index < 0 || static_cast<size_t>(index) >= st_.tour.tours.size()) return;
  const views::Tour& tour = st_.tour.tours[static_cast<size_t>(index)];
  if (st_.tour.active < 0) {
    // What the user had on screen comes back when the tour ends.
    open_before_tour_ = open_;
    maximized_before_tour_ = layout_.maximized;
  }
  st_.tour.active = index;
  st_.tour.step = std::clamp(step < 0 ? 0 : step, 0, static_cast<int>(tour.steps.size()) - 1);
  run_tour_step();
}

void GuiApp::end_tour() {
  if (st_.tour.active < 0) return;
  st_.tour.active = -1;
  st_.tour.step = 0;
  st_.tour.step_done = false;
  st_.tour.scroll_to.clear();
  if (!open_before_tour_.empty()) open_ = open_before_tour_;
  open_before_tour_.clear();
  layout_.maximized = maximized_before_tour_;
  tour_layout_on_ = false;
}

// Every step starts from the same state, whatever the steps before it (or the user) changed.
void GuiApp::reset_for_tour_step() {
  st_.locked_token = -1;
  st_.hover_next = -1;
  st_.hovered_token = -1;
  script_hover_ = -1;
  st_.range_begin = st_.range_end = -1;
  st_.layer = -1;
  st_.replay_position = -1;
  st_.replay.playing = false;
  st_.attention = views::AttentionState{};
  st_.routing.select_tab = 0;
  st_.routing.solo = -1;
  std::fill(st_.routing.muted.begin(), st_.routing.muted.end(), uint8_t{0});
  st_.kv.preset = -1;
  st_.kv.dtype = -1;
  st_.kv.baseline = 0;
  st_.kv.mha_heads = views::KvMemoryState{}.mha_heads;
  st_.kv.gqa_groups = views::KvMemoryState{}.gqa_groups;
  st_.kv.log_scale = false;
  st_.tour.scroll_to.clear();
  layout_.maximized.clear();
  tour_layout_.maximized.clear();
  scroll_reset_ = true;
}

// What a step shows: a bundled session by title, or the live chat with the loaded model.
void GuiApp::show_for_tour(const std::string& what) {
  if (what == "live") {
    if (!live_ && chat_.has_engine()) {
      chat_.clear(tm_);
      live_ = true;
      shown_session_ = -1;
      ++view_gen_;
    }
    return;
  }
  const bool shown = !live_ && shown_session_ >= 0 && stored_[static_cast<size_t>(shown_session_)].title == what;
  if (shown) return;
  const int i = find_session(what);
  if (i < 0) fail("tour", what, "no such session (bundled sessions live in assets/sessions/)");
  replay_session(static_cast<size_t>(i));
}

void GuiApp::run_tour_step() {
  const views::Tour& tour = st_.tour.tours[static_cast<size_t>(st_.tour.active)];
  const views::TourStep& step = tour.steps[static_cast<size_t>(st_.tour.step)];
  const int kept = step.keep_token ? st_.locked_token : -1;
  reset_for_tour_step();
  try {
    show_for_tour(step.session.empty() ? tour.session : step.session);
  } catch (const std::exception& e) {
    error(e.what());
  }
  st_.replay_position = -1;
  st_.replay.playing = false;
  // The panels the step talks about, re-tiled to fill the window: the tour's text in a column on
  // the left, the step's panels stacked on the right (the user's own layout is left alone).
  tour_layout_on_ = !step.panels.empty();
  if (tour_layout_on_) {
    set_all_panels_open(false);
    LayoutNode right;
    right.kind = LayoutNode::Kind::Column;
    right.weight = 2.6f;
    for (const std::string& id : step.panels) {
      if (!views::find_panel(id) || id == "tour") continue;
      open_[id] = true;
      LayoutNode leaf;
      leaf.panel = id;
      // Short panels (a strip of chips, a timeline) leave the height to the charts.
      leaf.weight = id == "tokens" || id == "replay" ? 0.6f : 1.0f;
      right.children.push_back(std::move(leaf));
    }
    LayoutNode text;
    text.panel = "tour";
    tour_layout_ = Layout{};
    tour_layout_.root.kind = LayoutNode::Kind::Row;
    tour_layout_.root.children.push_back(std::move(text));
    if (!right.children.empty()) tour_layout_.root.children.push_back(std::move(right));
    ensure_panels(tour_layout_, all_panel_ids());
  } else if (!open_before_tour_.empty()) {
    open_ = open_before_tour_;
  }
  open_["tour"] = true;
  if (!step.panel.empty()) open_[step.panel] = true;
  for (const views::TourAction& a : step.actions) {
    if (kept >= 0 && (a.verb == "lock_token" || a.verb == "select_token")) continue;
    try {
      tour_action(a);
    } catch (const std::exception& e) {
      error(e.what());
    }
  }
  if (kept >= 0 && static_cast<size_t>(kept) < tm_.size()) st_.locked_token = kept;
  st_.tour.step_done = false;
  st_.tour.confirmation.clear();
  tour_token_at_start_ = st_.locked_token;
  tour_layer_at_start_ = st_.layer;
  tour_msgs_at_start_ = live_ ? tm_.messages().size() : 0;
}

void GuiApp::check_tour_progress() {
  if (st_.tour.active < 0 || static_cast<size_t>(st_.tour.active) >= st_.tour.tours.size() || st_.tour.step_done) return;
  const views::Tour& tour = st_.tour.tours[static_cast<size_t>(st_.tour.active)];
  const views::TourStep& step = tour.steps[static_cast<size_t>(std::clamp(st_.tour.step, 0, static_cast<int>(tour.steps.size()) - 1))];
  std::string said;
  switch (step.advance) {
    case views::TourAdvance::Button: return;
    case views::TourAdvance::SelectToken:
      if (st_.locked_token >= 0 && st_.locked_token != tour_token_at_start_ && static_cast<size_t>(st_.locked_token) < tm_.size())
        said = "you locked token " + std::to_string(st_.locked_token) + " '" + views::display_token(tm_.token(static_cast<size_t>(st_.locked_token)).text) +
               "'; every panel now shows it";
      break;
    case views::TourAdvance::SelectLayer:
      if (st_.layer != tour_layer_at_start_ && st_.layer >= 0) said = "layer " + std::to_string(st_.layer) + " is selected";
      break;
    case views::TourAdvance::SendPrompt:
      // working(): the answer is finished and every record of it is in the TraceModel.
      if (live_ && tm_.messages().size() > tour_msgs_at_start_ && !chat_.working() && !tm_.empty()) {
        const Message& m = tm_.messages().back();
        said = "the model answered with " + std::to_string(std::max(0, m.end_token - m.first_token)) + " tokens; the chat holds " +
               std::to_string(tm_.size()) + " tokens and the status bar reads " + views::kv_shown(tm_, tm_.size()).text();
      }
      break;
    case views::TourAdvance::OpenPanel:
      if (panel_open(step.panel)) said = "the panel is open";
      break;
  }
  if (!said.empty()) {
    st_.tour.step_done = true;
    st_.tour.confirmation = said;
  }
}

void GuiApp::tour_action(const views::TourAction& a) {
  auto need_panel = [&](const std::string& id) {
    if (!views::find_panel(id)) fail("tour", id, "no such panel");
  };
  if (a.verb == "load_model") {
    start_load(a.value.empty() || a.value == "demo" ? cfg_.assets / "models" / "mla-moe-demo" : fs::path(a.value));
  } else if (a.verb == "send_prompt") {
    st_.act(ActionKind::SendPrompt, a.value);
  } else if (a.verb == "select_token" || a.verb == "lock_token") {
    st_.locked_token = std::min<int>(a.number, static_cast<int>(tm_.size()) - 1);
  } else if (a.verb == "select_layer") {
    st_.layer = a.number;
    st_.attention.layer = a.number;
  } else if (a.verb == "open_panel") {
    need_panel(a.value);
    open_[a.value] = true;
  } else if (a.verb == "maximize") {
    need_panel(a.value);
    open_[a.value] = true;
    active_layout().maximized = a.value;
  } else if (a.verb == "open_session") {
    show_for_tour(a.value);
    st_.replay_position = -1;
    st_.replay.playing = false;
  } else if (a.verb == "set_preset") {
    st_.kv.preset = -1;
    for (size_t i = 0; i < st_.kv.presets.size(); ++i)
      if (st_.kv.presets[i].name == a.value) st_.kv.preset = static_cast<int>(i);
    if (a.value != "session" && st_.kv.preset < 0) fail("tour", a.value, "no such KV preset (assets/presets/*.json)");
  } else if (a.verb == "set_baseline") {
    views::KvBaseline b{};
    if (!views::parse_kv_baseline(a.value, &b)) fail("tour", a.value, "KV baseline must be mha-same, mha-no-rope, mha-n, gqa or mqa");
    st_.kv.baseline = static_cast<int>(b);
    open_["kv_memory"] = true;
  } else if (a.verb == "set_mha_heads") {
    if (a.number < 1) fail("tour", "set_mha_heads", "value must be a head count >= 1");
    st_.kv.mha_heads = a.number;
  } else if (a.verb == "set_gqa_groups") {
    if (a.number < 1) fail("tour", "set_gqa_groups", "value must be a group count >= 1");
    st_.kv.gqa_groups = a.number;
  } else if (a.verb == "set_head") {
    st_.attention.head = a.number;
  } else if (a.verb == "set_part") {
    using views::AttnPart;
    const std::string& v = a.value;
    if (v == "probs") st_.attention.part = AttnPart::Probs;
    else if (v == "nope") st_.attention.part = AttnPart::Nope;
    else if (v == "rope") st_.attention.part = AttnPart::Rope;
    else if (v == "sum") st_.attention.part = AttnPart::NopePlusRope;
    else fail("tour", v, "attention part must be probs, nope, rope or sum");
  } else if (a.verb == "set_range") {
    st_.range_begin = a.number;
    st_.range_end = a.number2;
  } else if (a.verb == "select_tab") {
    st_.routing.select_tab = a.value == "token" ? 0 : a.value == "matrix" ? 1 : a.value == "load" ? 2 : -1;
    if (st_.routing.select_tab < 0) fail("tour", a.value, "routing tab must be token, matrix or load");
    open_["routing"] = true;
  } else if (a.verb == "scroll_to") {
    st_.tour.scroll_to = a.value;
  } else if (a.verb == "replay_to") {
    st_.replay_position = std::clamp<int>(a.number, 0, static_cast<int>(tm_.size()));
    st_.replay.playing = false;
  }
}

// ------------------------------------------------------------------------------------- scripting

std::string GuiApp::where(const ScriptCommand& c) const {
  return (cfg_.script.empty() ? std::string("script") : cfg_.script.string()) + ":" + std::to_string(c.line);
}

void GuiApp::check(bool ok, const ScriptCommand& c, const std::string& what) {
  if (ok) return;
  const std::string msg = "[script] " + where(c) + ": " + c.verb + ": " + what;
  std::fprintf(stderr, "mlascope: %s\n", msg.c_str());
  failures_.push_back(msg);
}

void GuiApp::script_mouse(ImGuiIO& io) {
  if (mouse_.empty()) {
    io.MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
    for (bool& d : io.MouseDown) d = false;
    return;
  }
  const MouseFrame f = mouse_.front();
  mouse_.pop_front();
  io.MousePos = ImVec2(f.x, f.y);
  io.MouseDown[0] = f.down;
}

// Every open panel lies inside the work area, overlaps no other, and its content reaches no
// further right than the inside of its window (what would be cut off at the right edge).
void GuiApp::assert_panels_inside(const ScriptCommand& c) {
  check(!geometry_.empty(), c, "no panel is open");
  // `except ID...`: panels whose content is known to spill over (named in the script, so the
  // exception is visible); their tiles are still checked.
  std::vector<std::string> except;
  if (!c.args.empty()) {
    if (c.args[0] != "except") fail("script", where(c), "assert_panels_inside takes no arguments or 'except ID...'");
    except.assign(c.args.begin() + 1, c.args.end());
    for (const std::string& id : except)
      if (!views::find_panel(id)) fail("script", where(c), "no panel '" + id + "'");
  }
  for (const auto& [id, g] : geometry_) {
    check(work_area_.contains(g.window), c, "panel '" + id + "' reaches outside the window's work area");
    check(g.window.contains(g.inner), c, "panel '" + id + "': its content area lies outside its window");
    if (std::find(except.begin(), except.end(), id) == except.end())
      check(g.content_right <= g.inner.right() + 1.0f, c,
          "panel '" + id + "': content reaches x=" + std::to_string(static_cast<int>(g.content_right)) + " past its window's inner edge x=" +
              std::to_string(static_cast<int>(g.inner.right())) + " (clipped)");
    for (const auto& [other, h] : geometry_) {
      if (other <= id) continue;
      const float ix = std::min(g.window.right(), h.window.right()) - std::max(g.window.x, h.window.x);
      const float iy = std::min(g.window.bottom(), h.window.bottom()) - std::max(g.window.y, h.window.y);
      check(!(ix > 0.5f && iy > 0.5f), c, "panels '" + id + "' and '" + other + "' overlap");
    }
  }
  check(status_right_ <= ImGui::GetIO().DisplaySize.x + 0.5f, c, "the status bar is wider than the window (clipped)");
}

bool GuiApp::step_script() {
  if (wait_frames_ > 0) {
    --wait_frames_;
    return true;
  }
  if (!shots_.empty() || frame_stats_left_ > 0 || !mouse_.empty()) return true;
  if (wait_idle_) {
    if (chat_.busy()) return true;
    wait_idle_ = false;
    wait_frames_ = 2;  // let the drained records reach the screen
    return true;
  }
  if (wait_rec_cmd_) {
    // The recorder commits on its own thread every 250 ms: give it up to 5 s to reach the status
    // line (which is drawn before this runs, so it shows the last frame's count).
    std::string want = "(";
    want += std::to_string(tm_.size());
    want += " tokens saved)";
    const bool shown = status_line_.find(want) != std::string::npos;
    if (!shown && now_s() < wait_rec_until_) return true;
    const RecordingInfo r = chat_.recording();
    check(r.recording && r.tokens_stored == tm_.size(), *wait_rec_cmd_,
          "the recorder holds " + std::to_string(r.tokens_stored) + " tokens of a session of " + std::to_string(tm_.size()));
    check(shown, *wait_rec_cmd_, "the status line '" + status_line_ + "' does not say " + want);
    wait_rec_cmd_ = nullptr;
  }
  while (script_pc_ < script_.size()) {
    const ScriptCommand& c = script_[script_pc_++];
    const std::string& v = c.verb;
    auto num = [&](size_t i) { return std::stoi(c.args.at(i)); };
    auto need_panel = [&](const std::string& id) {
      if (!views::find_panel(id)) fail("script", where(c), "no panel '" + id + "'");
    };
    auto point = [&](size_t i, float* x, float* y) {
      // A named target (see GuiApp::target) or two numbers.
      if (c.args.size() > i + 1 && !c.args[i].empty() && (std::isdigit(static_cast<unsigned char>(c.args[i][0])) != 0)) {
        *x = static_cast<float>(std::stod(c.args[i]));
        *y = static_cast<float>(std::stod(c.args[i + 1]));
        return i + 2;
      }
      const Rect* r = target(c.args.at(i));
      if (!r) fail("script", where(c), "nothing named '" + c.args[i] + "' on screen");
      *x = r->x + r->w * 0.5f;
      *y = r->y + r->h * 0.5f;
      return i + 1;
    };
    try {
      if (v == "quit") break;
      if (v == "wait") {
        wait_frames_ = num(0);
        return true;
      }
      if (v == "wait_idle") {
        wait_idle_ = true;
        return true;
      }
      if (v == "load_model") {
        start_load(c.args[0] == "demo" ? cfg_.assets / "models" / "mla-moe-demo" : fs::path(c.args[0]));
        // `load_model X nowait` goes on at once: what the user does while a model loads.
        if (c.args.size() < 2) {
          wait_idle_ = true;
          return true;
        }
        if (c.args[1] != "nowait") fail("script", where(c), "load_model takes a path and optionally 'nowait'");
      } else if (v == "connect_server") {
        RemoteArgs r;
        r.server = c.args[0];
        start_load(fs::path(c.args[1]), r);
        wait_idle_ = true;
        return true;
      } else if (v == "synthetic") {
        chat_.detach(tm_);
        views::fill_synthetic_named(tm_, c.args.size() > 1 ? c.args[1] : "demo", num(0));
        live_ = false;
        ++view_gen_;
        shown_session_ = -1;
        // A new session: all of it shown, nothing kept from the one before (its replay cursor,
        // range or locked token would point into tokens that mean something else now).
        st_.replay_position = -1;
        st_.replay.playing = false;
        st_.locked_token = -1;
        st_.range_begin = st_.range_end = -1;
        st_.kv.preset = -1;
      } else if (v == "title") {
        chat_.set_title(tm_, c.args[0]);
      } else if (v == "sampler") {
        for (const std::string& kv : c.args) {
          const size_t eq = kv.find('=');
          if (eq == std::string::npos) fail("script", where(c), "sampler wants key=value, got '" + kv + "'");
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
        script_hover_ = num(0);
        wait_frames_ = 1;  // the hover reaches every panel on the next frame
        return true;
      } else if (v == "lock_token") {
        st_.locked_token = num(0);
        script_hover_ = -1;
      } else if (v == "select_layer") {
        st_.layer = num(0);
      } else if (v == "range") {
        st_.range_begin = num(0);
        st_.range_end = num(1);
      } else if (v == "replay_position") {
        st_.replay_position = num(0);
        st_.replay.playing = false;
      } else if (v == "open_panel" || v == "close_panel") {
        need_panel(c.args[0]);
        open_[c.args[0]] = v == "open_panel";
      } else if (v == "only_panels") {
        set_all_panels_open(false);
        for (const std::string& id : c.args) {
          need_panel(id);
          open_[id] = true;
        }
        active_layout().maximized.clear();
      } else if (v == "maximize") {
        need_panel(c.args[0]);
        set_maximized(c.args[0]);
      } else if (v == "restore") {
        set_maximized("");
      } else if (v == "resize") {
        if (!cfg_.set_window_size) fail("script", where(c), "no window to resize");
        cfg_.set_window_size(num(0), num(1));
        wait_frames_ = 3;
        return true;
      } else if (v == "tab") {
        if (c.args[0] != "routing") fail("script", where(c), "only the routing panel has tabs");
        st_.routing.select_tab = c.args[1] == "token" ? 0 : c.args[1] == "matrix" ? 1 : c.args[1] == "load" ? 2 : -1;
        if (st_.routing.select_tab < 0) fail("script", where(c), "tab must be token, matrix or load");
      } else if (v == "preset") {
        st_.kv.preset = -1;
        for (size_t i = 0; i < st_.kv.presets.size(); ++i)
          if (st_.kv.presets[i].name == c.args[0]) st_.kv.preset = static_cast<int>(i);
        if (c.args[0] != "session" && st_.kv.preset < 0) fail("script", where(c), "no preset '" + c.args[0] + "'");
      } else if (v == "attention") {
        st_.attention.layer = num(0);
        st_.attention.head = num(1);
      } else if (v == "tour") {
        int idx = -1;
        for (size_t i = 0; i < st_.tour.tours.size(); ++i)
          if (st_.tour.tours[i].id == c.args[0]) idx = static_cast<int>(i);
        if (idx < 0) fail("script", where(c), "no tour '" + c.args[0] + "'");
        end_tour();
        start_tour(idx, c.args.size() > 1 ? num(1) : 0);
        wait_frames_ = 3;  // tiles, tabs and scrolling settle
        return true;
      } else if (v == "tour_next" || v == "tour_skip" || v == "tour_back" || v == "tour_leave") {
        if (st_.tour.active < 0) fail("script", where(c), "no tour is running");
        const views::Tour& tour = st_.tour.tours[static_cast<size_t>(st_.tour.active)];
        const views::TourStep& step = tour.steps[static_cast<size_t>(st_.tour.step)];
        if (v == "tour_next" && step.advance != views::TourAdvance::Button && !st_.tour.step_done)
          fail("script", where(c), "step " + std::to_string(st_.tour.step) + " waits for the student to " + views::advance_request(step.advance));
        const bool last = st_.tour.step + 1 >= static_cast<int>(tour.steps.size());
        if (v == "tour_leave" || (v != "tour_back" && last)) end_tour();
        else start_tour(st_.tour.active, st_.tour.step + (v == "tour_back" ? -1 : 1));
        wait_frames_ = 3;
        return true;
      } else if (v == "open_session" || v == "compare_session") {
        const int idx = find_session(c.args[0]);
        if (idx < 0) fail("script", where(c), "no session '" + c.args[0] + "'");
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
      } else if (v == "export_png") {
        if (c.args.empty()) st_.act(ActionKind::ExportWindow);
        else st_.act(ActionKind::ExportPanel, c.args[0]);
        process_actions();
        return true;
      } else if (v == "frame_stats") {
        frame_stats_left_ = num(0);
        frame_times_.clear();
        return true;
      } else if (v == "click" || v == "double_click") {
        float x = 0, y = 0;
        point(0, &x, &y);
        mouse_.push_back({x, y, false});
        for (int k = 0; k < (v == "click" ? 1 : 2); ++k) {
          mouse_.push_back({x, y, true});
          mouse_.push_back({x, y, false});
        }
        mouse_.push_back({-FLT_MAX, -FLT_MAX, false});
        wait_frames_ = 1;
        return true;
      } else if (v == "drag") {
        float x = 0, y = 0;
        const size_t i = point(0, &x, &y);
        const float dx = static_cast<float>(std::stod(c.args.at(i))), dy = static_cast<float>(std::stod(c.args.at(i + 1)));
        mouse_.push_back({x, y, false});
        mouse_.push_back({x, y, true});
        for (int k = 1; k <= 4; ++k) mouse_.push_back({x + dx * static_cast<float>(k) / 4, y + dy * static_cast<float>(k) / 4, true});
        mouse_.push_back({x + dx, y + dy, false});
        mouse_.push_back({-FLT_MAX, -FLT_MAX, false});
        wait_frames_ = 1;
        return true;
      } else if (v == "expect_error") {
        expected_errors_.push_back(c.args[0]);
      } else if (v == "assert_panels_inside") {
        assert_panels_inside(c);
      } else if (v == "assert_visible") {
        check(views::tour_anchor_visible(st_.tour, c.args[0]), c, "'" + c.args[0] + "' is not visible in its panel");
      } else if (v == "assert_selected") {
        check(st_.selected_token() == num(0), c, "the selected token is " + std::to_string(st_.selected_token()) + ", not " + c.args[0]);
      } else if (v == "assert_session") {
        check(tm_.meta().title == c.args[0], c, "the window shows '" + tm_.meta().title + "', not '" + c.args[0] + "'");
      } else if (v == "assert_toast") {
        check(toast_.find(c.args[0]) != std::string::npos, c, "no message saying '" + c.args[0] + "' (toast: '" + toast_ + "')");
      } else if (v == "assert_status") {
        check(status_line_.find(c.args[0]) != std::string::npos, c, "the status line '" + status_line_ + "' does not say '" + c.args[0] + "'");
      } else if (v == "assert_errors") {
        check(static_cast<int>(st_.errors.size()) == num(0), c, std::to_string(st_.errors.size()) + " errors listed, not " + c.args[0]);
      } else if (v == "assert_open") {
        std::vector<std::string> open, want = c.args;
        for (const auto& [id, o] : open_)
          if (o) open.push_back(id);
        std::sort(want.begin(), want.end());
        std::string got;
        for (const std::string& id : open) got += (got.empty() ? "" : " ") + id;
        check(open == want, c, "open panels are: " + got);
        for (const std::string& id : c.args) check(tiling_.find(id) != nullptr, c, "panel '" + id + "' is open but not placed");
      } else if (v == "assert_maximized") {
        check(tiling_.tiles.size() == 1 && tiling_.tiles[0].panel == c.args[0] && tiling_.tiles[0].rect == work_area_, c,
              "'" + c.args[0] + "' does not fill the window alone");
      } else if (v == "assert_width") {
        const Tile* t = tiling_.find(c.args[0]);
        check(t && std::abs(t->rect.w - static_cast<float>(num(1))) <= 1.0f, c,
              "'" + c.args[0] + "' is " + (t ? std::to_string(static_cast<int>(t->rect.w)) + " px wide" : std::string("not placed")));
      } else if (v == "assert_tour") {
        check(st_.tour.active >= 0 && st_.tour.step == num(0), c, "the tour is at step " + std::to_string(st_.tour.active < 0 ? -1 : st_.tour.step));
        if (c.args.size() > 1) {
          const bool done = c.args[1] == "done";
          check(st_.tour.step_done == done, c, std::string("the step is ") + (st_.tour.step_done ? "done" : "still waiting"));
        }
      } else if (v == "assert_panel_text") {
        // Needs a frame drawn with the text captured: ask for it, then come back to this command.
        if (!panel_text_.count(c.args[0]) || capture_text_ == 0) {
          if (wait_text_cmd_ == &c) {
            check(false, c, "panel '" + c.args[0] + "' is not open");
            wait_text_cmd_ = nullptr;
          } else {
            capture_text_ = 2;
            wait_text_cmd_ = &c;
            --script_pc_;
            return true;
          }
        } else {
          wait_text_cmd_ = nullptr;
          check(panel_text_[c.args[0]].find(c.args[1]) != std::string::npos, c, "panel '" + c.args[0] + "' does not show '" + c.args[1] + "'");
        }
      } else if (v == "assert_kv_equal") {
        if (!panel_text_.count("kv_memory") || capture_text_ == 0) {
          if (wait_text_cmd_ == &c) {
            check(false, c, "the KV memory panel is not open");
            wait_text_cmd_ = nullptr;
          } else {
            capture_text_ = 2;
            wait_text_cmd_ = &c;
            --script_pc_;
            return true;
          }
        } else {
          wait_text_cmd_ = nullptr;
          // "KV 228.75 KiB f32 | ...": the figure is what follows "KV " up to the next " |".
          const size_t at = status_line_.find("KV ");
          const std::string figure = at == std::string::npos ? std::string()
                                                              : status_line_.substr(at + 3, status_line_.find(" |", at) - at - 3);
          check(!figure.empty(), c, "the status line '" + status_line_ + "' shows no KV figure");
          check(!figure.empty() && panel_text_["kv_memory"].find(figure) != std::string::npos, c,
                "the status bar says KV " + figure + " but the KV memory panel does not show that figure");
        }
      } else if (v == "assert_rec_count") {
        wait_rec_cmd_ = &c;
        wait_rec_until_ = now_s() + 5.0;
        return true;
      }
    } catch (const std::exception& e) {
      check(false, c, e.what());
    }
  }
  // Script finished (or quit): status 1 when an assertion failed, an error nobody expected
  // happened, or an expected one never came.
  for (const std::string& e : expected_errors_) failures_.push_back("[script] expected an error saying '" + e + "'; none came");
  expected_errors_.clear();
  if (!failures_.empty() || unexpected_errors_ > 0) exit_code_ = 1;
  return false;
}

}  // namespace mlascope::app::gui
