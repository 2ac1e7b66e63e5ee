# cmake/TypenetCompileFail.cmake: the compile-fail test driver, run as `cmake -P` by CTest.
#
#   cmake -DCOMPILER=<c++> -DSOURCE=<file.cpp> -DINCLUDES=<dir|dir|...> -DWORK=<scratch dir>
#         -P TypenetCompileFail.cmake
#
# The source holds a good twin and, under `#ifdef TYPENET_SHOULD_FAIL`, a bad twin. Its comments say
# what the bad twin must print:
#   // EXPECT: <rule>             the FIRST `error:` line of the output must match `error: .*typenet: <rule>`
#   // EXPECT-ARGS: <regex>       some line of the output must match <regex> (`[^\n]` keeps it on one line)
# The driver checks that
#   1. the good twin compiles cleanly (-Wall -Wextra -Werror),
#   2. the bad twin fails,
#   3. its first error names the expected rule,
#   4. exactly one typenet rule fires (no cascade of typenet errors),
#   5. no other error comes from inside typenet's headers (queries on a failed network stay quiet),
#   6. every EXPECT-ARGS regex matches (the layer's index, type and input shape are shown).
cmake_minimum_required(VERSION 3.25)

foreach(var COMPILER SOURCE INCLUDES WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "TypenetCompileFail.cmake: -D${var}=... is required")
  endif()
endforeach()

file(STRINGS "${SOURCE}" expect_lines REGEX "^// EXPECT: ")
list(LENGTH expect_lines n_expect)
if(NOT n_expect EQUAL 1)
  message(FATAL_ERROR "${SOURCE}: needs exactly one `// EXPECT: <rule>` line, found ${n_expect}")
endif()
string(REGEX REPLACE "^// EXPECT: +" "" rule "${expect_lines}")
string(STRIP "${rule}" rule)
file(STRINGS "${SOURCE}" arg_lines REGEX "^// EXPECT-ARGS: ")

string(REPLACE "|" ";" include_list "${INCLUDES}")
set(include_flags)
foreach(dir IN LISTS include_list)
  if(dir)
    list(APPEND include_flags "-I${dir}")
  endif()
endforeach()
set(common -std=c++20 -fsyntax-only -Wall -Wextra -Werror ${include_flags})

# 1. The good twin.
execute_process(COMMAND "${COMPILER}" ${common} "${SOURCE}"
                RESULT_VARIABLE good_rc OUTPUT_VARIABLE good_out ERROR_VARIABLE good_out)
if(NOT good_rc EQUAL 0)
  message(FATAL_ERROR "good twin of ${SOURCE} does not compile with ${COMPILER}:\n${good_out}")
endif()

# 2. The bad twin. Plain (not fancy) diagnostics keep the text stable across terminals.
execute_process(COMMAND "${COMPILER}" ${common} -DTYPENET_SHOULD_FAIL -fno-diagnostics-color "${SOURCE}"
                RESULT_VARIABLE bad_rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
file(MAKE_DIRECTORY "${WORK}")
get_filename_component(stem "${SOURCE}" NAME_WE)
get_filename_component(cxx "${COMPILER}" NAME)
file(WRITE "${WORK}/${stem}.${cxx}.txt" "${out}")
if(bad_rc EQUAL 0)
  message(FATAL_ERROR "bad twin of ${SOURCE} compiled with ${COMPILER}, expected typenet: ${rule}")
endif()

# 3. The first error line.
string(REGEX MATCH "error: [^\n]*" first_error "${out}")
if(NOT first_error MATCHES "error: .*typenet: ${rule}:")
  message(FATAL_ERROR "bad twin of ${SOURCE} with ${COMPILER}: the first error should be `typenet: ${rule}`, "
                      "got:\n  ${first_error}\nfull output:\n${out}")
endif()

# 4. One typenet rule only.
string(REGEX MATCHALL "typenet: [a-z0-9_]+:" fired "${out}")
list(LENGTH fired n_fired)
if(NOT n_fired EQUAL 1)
  message(FATAL_ERROR "bad twin of ${SOURCE} with ${COMPILER}: expected exactly one typenet error, got ${n_fired} "
                      "(${fired}):\n${out}")
endif()

# 5. No follow-up errors from inside the library (a failed network must keep every query quiet); errors
#    in the test's own code, e.g. its static_asserts on the counts, may follow.
string(REGEX MATCHALL "include/typenet/[^\n:]*:[0-9]+:[0-9]+: error:" internal "${out}")
list(LENGTH internal n_internal)
if(NOT n_internal EQUAL 1)
  message(FATAL_ERROR "bad twin of ${SOURCE} with ${COMPILER}: ${n_internal} errors inside typenet's headers, "
                      "expected only the rule's:\n${out}")
endif()

# 6. The layer's index, type and input shape.
foreach(line IN LISTS arg_lines)
  string(REGEX REPLACE "^// EXPECT-ARGS: +" "" regex "${line}")
  string(REPLACE "\\n" "\n" regex "${regex}")
  if(NOT out MATCHES "${regex}")
    message(FATAL_ERROR "bad twin of ${SOURCE} with ${COMPILER}: no line matches `${regex}`:\n${out}")
  endif()
endforeach()
message(STATUS "${stem} (${cxx}): good twin compiles; bad twin fails first with `${first_error}`")
