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
    # Known false positives of GCC 12 at -O2/-O3: std::variant's move inside vector growth
    # "maybe uninitialized"; Asio's coroutine frames (allocated and freed by the frame's own
    # operator new and delete) "mismatched"; and std::string's inlined memcpy in
    # `"x" + std::to_string(n)` "overlapping", "out of bounds" or "exceeding the object size"
    # (GCC bugs 105329, 105651; seen in the MinGW -O3 build). Noise, not findings; the clang
    # builds keep every check.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized -Wno-mismatched-new-delete)
      if(CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
        target_compile_options(${target} PRIVATE -Wno-restrict -Wno-stringop-overflow
                                                 -Wno-array-bounds)
      endif()
      # In a unity build a .cpp is an included file, and GCC then says that every coroutine
      # frame holding a lambda or a type from an anonymous namespace "has no linkage": the frame
      # is the compiler's own type, local to this unit like the rest.
      if(CMAKE_UNITY_BUILD)
        target_compile_options(${target} PRIVATE -Wno-subobject-linkage)
      endif()
    endif()
    if(UDPCHAT_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()
