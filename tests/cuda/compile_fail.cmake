# cmake -DNVCC=... -DINCLUDE=... -DSOURCE=... -DEXPECT=... -P compile_fail.cmake
# Compiles SOURCE with nvcc twice: with -DTYPENET_BAD it must fail and its output must contain EXPECT;
# without, it must compile (the good twin).
foreach(v NVCC INCLUDE SOURCE EXPECT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "compile_fail.cmake: ${v} not given")
  endif()
endforeach()
execute_process(COMMAND ${NVCC} -std=c++20 -I${INCLUDE} -DTYPENET_BAD -c ${SOURCE} -o /dev/null
  RESULT_VARIABLE bad_rc OUTPUT_VARIABLE bad_out ERROR_VARIABLE bad_out)
if(bad_rc EQUAL 0)
  message(FATAL_ERROR "the bad twin compiled: ${SOURCE}")
endif()
string(FIND "${bad_out}" "${EXPECT}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "the bad twin failed without the expected message '${EXPECT}':\n${bad_out}")
endif()
execute_process(COMMAND ${NVCC} -std=c++20 -I${INCLUDE} -c ${SOURCE} -o /dev/null
  RESULT_VARIABLE good_rc OUTPUT_VARIABLE good_out ERROR_VARIABLE good_out)
if(NOT good_rc EQUAL 0)
  message(FATAL_ERROR "the good twin did not compile:\n${good_out}")
endif()
message(STATUS "bad twin failed with: ${EXPECT}; good twin compiled")
