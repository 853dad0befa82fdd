# Terminal front end: the pty harness (tests/support/pty_session.cpp) uses forkpty, which lives in
# libutil before glibc 2.34 (an empty stub after), so link it where it exists.
find_library(MLASCOPE_LIBUTIL util)
if(MLASCOPE_LIBUTIL)
  target_link_libraries(mlascope_test_support PUBLIC ${MLASCOPE_LIBUTIL})
endif()

# The real chat loop on a scripted engine (no weights), driven under a pty by test_terminal_chat_pty.
add_executable(mlascope_chat_harness ${CMAKE_CURRENT_SOURCE_DIR}/app/chat_harness_main.cpp)
target_link_libraries(mlascope_chat_harness PRIVATE mlascope_app)
mlascope_warnings(mlascope_chat_harness)
if(TARGET test_terminal_chat_pty)
  add_dependencies(test_terminal_chat_pty mlascope_chat_harness)
  target_compile_definitions(test_terminal_chat_pty PRIVATE MLASCOPE_CHAT_HARNESS="$<TARGET_FILE:mlascope_chat_harness>")
endif()
