# The crash-test helper: a real process that records a synthetic session and reports each commit on
# stdout, so test_session_reliability can kill -9 it at random moments.
add_executable(session_record_child ${CMAKE_CURRENT_SOURCE_DIR}/sessions/session_record_child.cpp)
target_link_libraries(session_record_child PRIVATE mlascope_sessions)
mlascope_warnings(session_record_child)
if(TARGET test_session_reliability)
  add_dependencies(test_session_reliability session_record_child)
  target_compile_definitions(test_session_reliability PRIVATE
    MLASCOPE_RECORD_CHILD="$<TARGET_FILE:session_record_child>")
endif()
