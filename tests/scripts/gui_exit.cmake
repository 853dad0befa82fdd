# Runs the real mlascope window under Xvfb with a script that must fail, and checks that it exits
# with status 1 and says why on stderr. -DBIN= -DSCRIPT= -DOUT= -DEXPECT="text on stderr".
# tests/CMakeLists.txt includes every *.cmake here at configure time; this file only acts in
# script mode (cmake -P).
if(NOT CMAKE_SCRIPT_MODE_FILE)
  return()
endif()
if(NOT SERVERNUM)
  set(SERVERNUM 99)
endif()
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND xvfb-run -a -n ${SERVERNUM} -e ${OUT}/xvfb.log -s "-screen 0 1280x800x24" ${BIN} --device cpu --script ${SCRIPT} --screenshot-dir ${OUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
message("${out}${err}")
if(NOT rc EQUAL 1)
  file(READ ${OUT}/xvfb.log xvfb_log)
  message("xvfb-run/Xvfb said: ${xvfb_log}")
  message(FATAL_ERROR "expected exit status 1, got '${rc}'")
endif()
string(FIND "${err}" "${EXPECT}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "stderr does not say '${EXPECT}'")
endif()
