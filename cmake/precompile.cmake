# Precompiled third-party headers, per target. Asio, CLI11, nlohmann's JSON and Catch2 are
# header-only and heavy: each file of a command parsed them again, 10-20 s a file. Off with
# -DUDPCHAT_PCH=OFF (to check that every file includes what it uses).
option(UDPCHAT_PCH "Precompile the third-party headers that most files include" ON)

set(udpchat_pch_net <asio.hpp> <asio/experimental/awaitable_operators.hpp> <fmt/format.h>
                    <nlohmann/json.hpp> <chrono> <string> <vector>)
set(udpchat_pch_commands ${udpchat_pch_net} <CLI/CLI.hpp>)

function(udpchat_precompile target)
  if(UDPCHAT_PCH)
    target_precompile_headers(${target} PRIVATE ${ARGN})
  endif()
endfunction()
