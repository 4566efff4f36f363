# Where third-party code comes from. Nothing is vendored.
#   AUTO      installed packages (Debian bookworm: libasio-dev, libcli11-dev, libfmt-dev, catch2,
#             libsodium-dev, nlohmann-json3-dev, libnats-dev, libfast-float-dev, libutf8proc-dev), a pinned
#             download for any missing
#   LOCAL     installed packages only; a missing one is a configure error
#   DOWNLOAD  pinned sources for everything (macOS and Windows jobs, release binaries)
# The pins are the Debian bookworm versions, so every platform builds against the same code.
set(UDPCHAT_DEPS AUTO CACHE STRING "Where dependencies come from: AUTO, LOCAL or DOWNLOAD")
set_property(CACHE UDPCHAT_DEPS PROPERTY STRINGS AUTO LOCAL DOWNLOAD)
if(NOT UDPCHAT_DEPS MATCHES "^(AUTO|LOCAL|DOWNLOAD)$")
  message(FATAL_ERROR "UDPCHAT_DEPS must be AUTO, LOCAL or DOWNLOAD, not '${UDPCHAT_DEPS}'")
endif()
# Backplane support: ON needs nats.c; AUTO builds it in when nats.c is found or downloadable.
set(UDPCHAT_NATS AUTO CACHE STRING "NATS backplane for serve: AUTO, ON or OFF")
set_property(CACHE UDPCHAT_NATS PROPERTY STRINGS AUTO ON OFF)

find_package(Threads REQUIRED)

# LLVM's libc++ (macOS, and the libcxx preset here): Debian's prebuilt C++ libraries (libfmt.so,
# libCatch2WithMain.a) are built against libstdc++ and do not link into a libc++ program.
include(CheckCXXSourceCompiles)
check_cxx_source_compiles("#include <version>
#ifndef _LIBCPP_VERSION
#error not libc++
#endif
int main() {}" UDPCHAT_LIBCXX)

if(CMAKE_CROSSCOMPILING AND MINGW)
  include(${CMAKE_CURRENT_LIST_DIR}/mingw-dependencies.cmake)
  return()
endif()

include(${CMAKE_CURRENT_LIST_DIR}/fetch.cmake)

# True when a dependency should be looked for among the installed packages.
set(_use_installed TRUE)
if(UDPCHAT_DEPS STREQUAL "DOWNLOAD")
  set(_use_installed FALSE)
endif()

# Reports a dependency that was not installed: an error under LOCAL, else its pinned download.
function(udpchat_missing name)
  if(UDPCHAT_DEPS STREQUAL "LOCAL")
    message(FATAL_ERROR "${name} is not installed (UDPCHAT_DEPS=LOCAL); install it or configure "
                        "with -DUDPCHAT_DEPS=AUTO to download the pinned version")
  endif()
  message(STATUS "udpchat: ${name}: pinned download")
endfunction()

# Asio ships no CMake package: find its header.
if(_use_installed)
  find_path(ASIO_INCLUDE_DIR asio.hpp)
endif()
if(NOT ASIO_INCLUDE_DIR)
  udpchat_missing(Asio)
  udpchat_fetch_asio(ASIO_INCLUDE_DIR)
endif()
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
if(_use_installed)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp)
endif()
if(NOT CLI11_INCLUDE_DIR)
  udpchat_missing(CLI11)
  udpchat_fetch_cli11(CLI11_INCLUDE_DIR)
endif()
add_library(udpchat_cli11 INTERFACE)
target_include_directories(udpchat_cli11 SYSTEM INTERFACE ${CLI11_INCLUDE_DIR})

if(_use_installed)
  find_package(fmt 9 QUIET)
endif()
if(NOT TARGET fmt::fmt)
  udpchat_missing(fmt)
  udpchat_fetch_fmt()
endif()
# What udpchat links for fmt: the header-only form where the installed library cannot be used.
add_library(udpchat_fmt INTERFACE)
if(UDPCHAT_LIBCXX AND fmt_FOUND)
  target_link_libraries(udpchat_fmt INTERFACE fmt::fmt-header-only)
else()
  target_link_libraries(udpchat_fmt INTERFACE fmt::fmt)
endif()

# Locale-independent text to double: std::from_chars for double is missing from libc++ < 20.
if(_use_installed)
  find_package(FastFloat QUIET)
endif()
if(NOT TARGET FastFloat::fast_float)
  udpchat_missing(fast_float)
  udpchat_fetch_fast_float()
endif()

if(_use_installed)
  find_package(nlohmann_json 3.10 QUIET)
endif()
if(NOT TARGET nlohmann_json::nlohmann_json)
  udpchat_missing(nlohmann_json)
  udpchat_fetch_json()
endif()

# libsodium is known as PkgConfig::SODIUM below, whichever way it came.
if(_use_installed)
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(SODIUM QUIET IMPORTED_TARGET libsodium)
  endif()
endif()
if(NOT TARGET PkgConfig::SODIUM)
  udpchat_missing(libsodium)
  udpchat_fetch_sodium()
  add_library(PkgConfig::SODIUM ALIAS sodium)
endif()

# utf8proc: Unicode's tables for the text rules (which characters reorder a line, or hide).
if(_use_installed)
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(UTF8PROC QUIET IMPORTED_TARGET libutf8proc)
  endif()
endif()
if(NOT TARGET PkgConfig::UTF8PROC)
  udpchat_missing(utf8proc)
  enable_language(C)  # utf8proc is C; here, not in the function: CMake wants it at file scope
  udpchat_fetch_utf8proc()
  add_library(PkgConfig::UTF8PROC ALIAS utf8proc)
endif()

# Line editing for the interactive chat (BSD licence); without it chat uses plain line mode.
if(NOT WIN32 AND _use_installed AND PkgConfig_FOUND)
  pkg_check_modules(LIBEDIT QUIET IMPORTED_TARGET libedit)
endif()

# Metrics for serve --metrics: prometheus-cpp's text serializer (Debian prometheus-cpp-dev) served
# by cpp-httplib (libcpp-httplib-dev; Debian's civetweb, behind prometheus-cpp's own exposer, has
# no IPv6). Where either is missing serve is built without --metrics (it says so when asked); a
# libc++ build cannot link Debian's libstdc++ builds of them.
set(UDPCHAT_METRICS AUTO CACHE STRING "Prometheus metrics for serve: AUTO, ON or OFF")
set_property(CACHE UDPCHAT_METRICS PROPERTY STRINGS AUTO ON OFF)
set(UDPCHAT_HAS_METRICS FALSE)
if(NOT UDPCHAT_METRICS STREQUAL "OFF" AND NOT UDPCHAT_LIBCXX AND _use_installed)
  find_package(prometheus-cpp CONFIG QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(HTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
  endif()
endif()
if(TARGET prometheus-cpp::core AND TARGET PkgConfig::HTTPLIB)
  set(UDPCHAT_HAS_METRICS TRUE)
elseif(UDPCHAT_METRICS STREQUAL "ON")
  message(FATAL_ERROR "UDPCHAT_METRICS=ON but prometheus-cpp or cpp-httplib was not found (apt-get install prometheus-cpp-dev libcpp-httplib-dev)")
elseif(NOT UDPCHAT_METRICS STREQUAL "OFF")
  message(STATUS "udpchat: prometheus-cpp or cpp-httplib not found: serve is built without --metrics")
endif()

# nats.c: Debian's cnats CMake package names a static library it does not ship, so pkg-config.
set(UDPCHAT_HAS_NATS FALSE)
if(NOT UDPCHAT_NATS STREQUAL "OFF")
  if(_use_installed AND PkgConfig_FOUND)
    pkg_check_modules(NATS QUIET IMPORTED_TARGET libnats)
  endif()
  if(TARGET PkgConfig::NATS)
    set(UDPCHAT_HAS_NATS TRUE)
  elseif(UDPCHAT_DEPS STREQUAL "LOCAL" AND UDPCHAT_NATS STREQUAL "AUTO")
    message(STATUS "udpchat: nats.c not installed: serve is built without --backplane")
  else()
    udpchat_missing(nats.c)
    udpchat_fetch_nats()
    add_library(PkgConfig::NATS ALIAS nats_static)
    set(UDPCHAT_HAS_NATS TRUE)
  endif()
endif()

if(UDPCHAT_BUILD_TESTS)
  if(_use_installed AND UDPCHAT_LIBCXX)
    # Catch2 v2's single header with its main compiled here (the packaged main is libstdc++).
    find_path(CATCH2_INCLUDE_DIR catch2/catch.hpp)
    find_path(CATCH2_CMAKE_DIR Catch.cmake PATH_SUFFIXES lib/cmake/Catch2 share/Catch2/cmake)
    if(CATCH2_INCLUDE_DIR AND CATCH2_CMAKE_DIR)
      add_library(udpchat_catch_main STATIC ${PROJECT_SOURCE_DIR}/tests/support/catch_main.cpp)
      target_include_directories(udpchat_catch_main SYSTEM PUBLIC ${CATCH2_INCLUDE_DIR})
      add_library(Catch2::Catch2 ALIAS udpchat_catch_main)
      add_library(Catch2::Catch2WithMain ALIAS udpchat_catch_main)
      list(APPEND CMAKE_MODULE_PATH ${CATCH2_CMAKE_DIR})
    endif()
  elseif(_use_installed)
    find_package(Catch2 2 QUIET)
  endif()
  if(NOT TARGET Catch2::Catch2)
    udpchat_missing(Catch2)
    udpchat_fetch_catch2()
  endif()
endif()
