# Warnings are set per target, never globally, so that dependencies stay quiet. The presets
# scripts/test builds turn them into errors (UDPCHAT_WERROR), so that none creeps in.
option(UDPCHAT_WERROR "Treat udpchat's own warnings as errors" OFF)

function(udpchat_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 /permissive-)
    if(UDPCHAT_WERROR)
      target_compile_options(${target} PRIVATE /WX)
    endif()
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                             -Wno-sign-conversion -Wnon-virtual-dtor)
    # Two known false positives of GCC 12 at -O2: std::variant's move inside vector growth
    # "maybe uninitialized", and Asio's coroutine frames (allocated and freed by the frame's own
    # operator new and delete) "mismatched". Noise, not findings; the clang builds keep both
    # checks.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized -Wno-mismatched-new-delete)
    endif()
    if(UDPCHAT_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()
