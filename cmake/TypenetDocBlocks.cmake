# cmake/TypenetDocBlocks.cmake: the C++ code blocks of a Markdown page, as one translation unit.
#
#   typenet_doc_blocks(<page.md> <out_var>)
#
# Collects, in page order, the body of every block fenced as exactly ```cpp; a `#line` directive before
# each makes the compiler report errors at the page's own line numbers. Other fences are left out:
#   ```cpp synopsis   an abridged declaration, shown for reading (not valid C++ on its own)
#   ```cpp fails      code that must not compile (docs/errors.md; checked by TypenetDocFails.cmake)
# The blocks of one page must make one valid translation unit together: each page includes what it uses.
include_guard(GLOBAL)

function(typenet_doc_blocks page out_var)
  file(READ "${page}" md)
  # Keep C++'s ; [ ] out of CMake's list handling while the page is split into lines.
  string(REPLACE ";" "<typenet-sc>" md "${md}")
  string(REPLACE "[" "<typenet-lb>" md "${md}")
  string(REPLACE "]" "<typenet-rb>" md "${md}")
  string(REGEX MATCHALL "[^\n]*\n" lines "${md}")
  set(code "")
  set(in_block FALSE)
  set(n 0)
  foreach(line IN LISTS lines)
    math(EXPR n "${n} + 1")
    if(in_block)
      if(line MATCHES "^```")
        set(in_block FALSE)
      else()
        string(APPEND code "${line}")
      endif()
    elseif(line STREQUAL "```cpp\n")
      set(in_block TRUE)
      math(EXPR first "${n} + 1")
      string(APPEND code "#line ${first} \"${page}\"\n")
    endif()
  endforeach()
  if(in_block)
    message(FATAL_ERROR "${page}: a ```cpp block is not closed")
  endif()
  string(REPLACE "<typenet-sc>" ";" code "${code}")
  string(REPLACE "<typenet-lb>" "[" code "${code}")
  string(REPLACE "<typenet-rb>" "]" code "${code}")
  set(${out_var} "${code}" PARENT_SCOPE)
endfunction()

# Writes `text` to `file` only when it differs, so that an unchanged page does not trigger a rebuild.
function(typenet_write_if_changed file text)
  if(EXISTS "${file}")
    file(READ "${file}" old)
    if(old STREQUAL text)
      return()
    endif()
  endif()
  file(WRITE "${file}" "${text}")
endfunction()
