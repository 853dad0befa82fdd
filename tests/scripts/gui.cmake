# GUI scripted test: the real binary in a real (virtual) X display with Mesa's software OpenGL.
if(NOT MLASCOPE_GUI)
  return()
endif()
find_program(XVFB_RUN xvfb-run)
# Each test's xvfb-run searches for a free display from its own number (-a -n N; the C++ tests that
# open a window use 170 and up): two searches from one number can pick the same display, and the
# later Xvfb then exits ("Server is already active for display"). Xvfb's messages go to xvfb.log.
add_executable(gui_png_check ${CMAKE_CURRENT_LIST_DIR}/gui_png_check.cpp)
target_link_libraries(gui_png_check PRIVATE mlascope_imgui)
if(NOT XVFB_RUN)
  message(STATUS "mlascope: xvfb-run not found; the scripted GUI test is not registered")
  return()
endif()
set(MLASCOPE_GUI_SHOTS 01-window-chat 02-tokens 03-routing-token 04-routing-matrix 05-routing-load 06-attention
    07-kv-memory 08-layout-two-panels 09-layout-maximized 10-tour1-step1 11-tour1-step2 12-tour1-step3 13-tour1-step4
    14-tour1-step5 15-tour1-step6 16-tour2-step1 17-tour2-step2 18-tour2-step3 19-tour2-step4 20-tour2-step5
    21-tour2-step6 22-tour3-step1 23-tour3-step2 24-tour3-step3 25-tour3-step4 26-tour3-step5 40-tour4-step1 41-tour4-step2
    42-tour4-step3 43-tour4-step4 44-tour4-step5 45-tour4-step6 27-replay
    28-sessions-compare 29-presenter 30-window-1280x800 31-tour2-step5-1280x800 32-v3-window 33-v3-routing-matrix
    34-v3-routing-load)
add_test(NAME gui_scripted_run
         COMMAND ${CMAKE_COMMAND} -DBIN=$<TARGET_FILE:mlascope> -DSCRIPT=${CMAKE_CURRENT_LIST_DIR}/gui_run.script
                 -DOUT=${CMAKE_CURRENT_BINARY_DIR}/gui_shots -DCHECK=$<TARGET_FILE:gui_png_check>
                 "-DNAMES=${MLASCOPE_GUI_SHOTS}" -DSERVERNUM=110 -P ${CMAKE_CURRENT_LIST_DIR}/gui_run.cmake)
set_tests_properties(gui_scripted_run PROPERTIES LABELS "gui" TIMEOUT 400 ENVIRONMENT "MLASCOPE_ASSETS=${PROJECT_SOURCE_DIR}/assets")
# DeepSeek-V3's counts on the smallest supported screen (the window takes the 1280x800 screen):
# a 2,000-token synthetic session, every panel inside its tile, the KV figures equal.
set(MLASCOPE_V3_SHOTS v3-01-window v3-02-tokens v3-03-routing-token v3-04-routing-matrix v3-05-routing-load v3-06-attention
    v3-07-kv-memory v3-08-routing-alone v3-09-presenter-load)
add_test(NAME gui_views_v3_1280x800
         COMMAND ${CMAKE_COMMAND} -DBIN=$<TARGET_FILE:mlascope> -DSCRIPT=${CMAKE_CURRENT_LIST_DIR}/views_v3.script
                 -DOUT=${CMAKE_CURRENT_BINARY_DIR}/gui_views_v3 -DCHECK=$<TARGET_FILE:gui_png_check> -DSCREEN=1280x800 -DNO_CHAT=1
                 "-DNAMES=${MLASCOPE_V3_SHOTS}" -DSERVERNUM=130 -P ${CMAKE_CURRENT_LIST_DIR}/gui_run.cmake)
set_tests_properties(gui_views_v3_1280x800 PROPERTIES LABELS "gui" TIMEOUT 200 ENVIRONMENT "MLASCOPE_ASSETS=${PROJECT_SOURCE_DIR}/assets")
# A failed load_model followed by quit exits 1 and names the folder.
add_test(NAME gui_failed_load_exits_nonzero
         COMMAND ${CMAKE_COMMAND} -DBIN=$<TARGET_FILE:mlascope> -DSCRIPT=${CMAKE_CURRENT_LIST_DIR}/gui_failed_load.script
                 -DOUT=${CMAKE_CURRENT_BINARY_DIR}/gui_failed_load -DEXPECT=/nonexistent/mlascope-model
                 -DSERVERNUM=150 -P ${CMAKE_CURRENT_LIST_DIR}/gui_exit.cmake)
set_tests_properties(gui_failed_load_exits_nonzero PROPERTIES LABELS "gui" TIMEOUT 150 ENVIRONMENT "MLASCOPE_ASSETS=${PROJECT_SOURCE_DIR}/assets")
