# Terminal front end: the pty harness (tests/support/pty_session.cpp) uses forkpty, which lives in
# libutil before glibc 2.34 (an empty stub after), so link it where it exists.
find_library(MLASCOPE_LIBUTIL util)
if(MLASCOPE_LIBUTIL)
  target_link_libraries(mlascope_test_support PUBLIC ${MLASCOPE_LIBUTIL})
endif()
