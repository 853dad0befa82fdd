# Runs the real mlascope window under Xvfb with a script, then checks the screenshots.
# -DBIN= -DSCRIPT= -DOUT= -DCHECK= -DNAMES="a;b;c" [-DSCREEN=1280x800 (default 1600x1000)]
# [-DNO_CHAT=1: the script has no live chat, so no sessions database]. tests/CMakeLists.txt includes every *.cmake
# here at configure time; this file only acts in script mode (cmake -P).
if(NOT CMAKE_SCRIPT_MODE_FILE)
  return()
endif()
if(NOT SCREEN)
  set(SCREEN 1600x1000)
endif()
if(NOT SERVERNUM)
  set(SERVERNUM 99)
endif()
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND xvfb-run -a -n ${SERVERNUM} -e ${OUT}/xvfb.log -s "-screen 0 ${SCREEN}x24" ${BIN} --device cpu --script ${SCRIPT} --screenshot-dir ${OUT}
                        --session-db ${OUT}/sessions.db
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 300)
message("${out}${err}")
if(NOT rc EQUAL 0)
  file(READ ${OUT}/xvfb.log xvfb_log)
  message("xvfb-run/Xvfb said: ${xvfb_log}")
  message(FATAL_ERROR "scripted GUI run failed (exit ${rc})")
endif()
# The live chat was recorded into the database the run named.
if(NOT NO_CHAT AND NOT EXISTS ${OUT}/sessions.db)
  message(FATAL_ERROR "the live chat was not recorded into ${OUT}/sessions.db")
endif()
execute_process(COMMAND ${CHECK} ${OUT} ${NAMES} RESULT_VARIABLE rc2)
if(NOT rc2 EQUAL 0)
  message(FATAL_ERROR "screenshot check failed")
endif()
