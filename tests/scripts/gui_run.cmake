# Runs the real mlascope window under Xvfb with a script, then checks the screenshots.
# -DBIN= -DSCRIPT= -DOUT= -DCHECK= -DNAMES="a;b;c". tests/CMakeLists.txt includes every *.cmake
# here at configure time; this file only acts in script mode (cmake -P).
if(NOT CMAKE_SCRIPT_MODE_FILE)
  return()
endif()
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND xvfb-run -a -s "-screen 0 1600x1000x24" ${BIN} --script ${SCRIPT} --screenshot-dir ${OUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 300)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "scripted GUI run failed (exit ${rc})")
endif()
execute_process(COMMAND ${CHECK} ${OUT} ${NAMES} RESULT_VARIABLE rc2)
if(NOT rc2 EQUAL 0)
  message(FATAL_ERROR "screenshot check failed")
endif()
