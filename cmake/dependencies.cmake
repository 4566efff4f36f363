# Installed packages first (Debian bookworm: libasio-dev, libcli11-dev, libfmt-dev,
# catch2, libsodium-dev, nlohmann-json3-dev). Nothing is vendored.

find_package(Threads REQUIRED)

if(CMAKE_CROSSCOMPILING AND MINGW)
  include(${CMAKE_CURRENT_LIST_DIR}/mingw-dependencies.cmake)
  return()
endif()

# Asio ships no CMake package: find its header.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(udpchat_asio INTERFACE)
target_include_directories(udpchat_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
target_compile_definitions(udpchat_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)
target_link_libraries(udpchat_asio INTERFACE Threads::Threads)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  # clang with libstdc++: Asio 1.22 does not detect coroutine support by itself.
  target_compile_definitions(udpchat_asio INTERFACE ASIO_HAS_CO_AWAIT=1)
endif()
if(WIN32)
  target_compile_definitions(udpchat_asio INTERFACE _WIN32_WINNT=0x0A00)
  target_link_libraries(udpchat_asio INTERFACE ws2_32 mswsock)
endif()

# CLI11 2.1.2's own CMakeLists is refused by CMake 4: use its headers only.
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
add_library(udpchat_cli11 INTERFACE)
target_include_directories(udpchat_cli11 SYSTEM INTERFACE ${CLI11_INCLUDE_DIR})

find_package(fmt REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)

find_package(PkgConfig REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)

# Line editing for the interactive chat (BSD licence); without it chat uses plain line mode.
if(NOT WIN32)
  pkg_check_modules(LIBEDIT IMPORTED_TARGET libedit)
endif()

if(UDPCHAT_BUILD_TESTS)
  find_package(Catch2 REQUIRED)
endif()
