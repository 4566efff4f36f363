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
    # GCC 12 at -O2 reports std::variant's move inside vector growth as maybe-uninitialized
    # (a known false positive): noise, not findings. The clang builds keep checking.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
    endif()
    if(UDPCHAT_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()
