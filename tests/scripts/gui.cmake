# GUI scripted test: the real binary in a real (virtual) X display with Mesa's software OpenGL.
if(NOT MLASCOPE_GUI)
  return()
endif()
find_program(XVFB_RUN xvfb-run)
add_executable(gui_png_check ${CMAKE_CURRENT_LIST_DIR}/gui_png_check.cpp)
target_link_libraries(gui_png_check PRIVATE mlascope_imgui)
if(NOT XVFB_RUN)
  message(STATUS "mlascope: xvfb-run not found; the scripted GUI test is not registered")
  return()
endif()
set(MLASCOPE_GUI_SHOTS 01-window-chat 02-tokens 03-routing-token 04-routing-matrix 05-routing-load 06-attention
    07-kv-memory 08-tour-mla-saves 09-tour-experts 10-tour-attention 11-replay 12-sessions-compare 13-presenter)
add_test(NAME gui_scripted_run
         COMMAND ${CMAKE_COMMAND} -DBIN=$<TARGET_FILE:mlascope> -DSCRIPT=${CMAKE_CURRENT_LIST_DIR}/gui_run.script
                 -DOUT=${CMAKE_CURRENT_BINARY_DIR}/gui_shots -DCHECK=$<TARGET_FILE:gui_png_check>
                 "-DNAMES=${MLASCOPE_GUI_SHOTS}" -P ${CMAKE_CURRENT_LIST_DIR}/gui_run.cmake)
set_tests_properties(gui_scripted_run PROPERTIES LABELS "gui" TIMEOUT 400 ENVIRONMENT "MLASCOPE_ASSETS=${PROJECT_SOURCE_DIR}/assets")
