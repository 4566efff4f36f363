# Pinned downloads for UDPCHAT_DEPS=AUTO (a package is missing) and DOWNLOAD: the Debian bookworm
# versions, each checked by SHA-256. FETCHCONTENT_SOURCE_DIR_<NAME> points any of them at a
# local copy (offline builds, mirrors). Release archives are preferred to git clones: they
# are smaller and their hashes are fixed.
include(FetchContent)
if(POLICY CMP0135)
  cmake_policy(SET CMP0135 NEW)
endif()
# Projects added with add_subdirectory may ask for a CMake older than CMake 4 still accepts;
# this raises their floor instead of failing (older CMake ignores it).
set(CMAKE_POLICY_VERSION_MINIMUM 3.5)

FetchContent_Declare(asio
  URL https://github.com/chriskohlhoff/asio/archive/refs/tags/asio-1-22-1.tar.gz
  URL_HASH SHA256=30cb54a5de5e465d10ec0c2026d6b5917f5e89fffabdbabeb1475846fc9a2cf0)
FetchContent_Declare(cli11
  URL https://github.com/CLIUtils/CLI11/archive/refs/tags/v2.1.2.tar.gz
  URL_HASH SHA256=26291377e892ba0e5b4972cdfd4a2ab3bf53af8dac1f4ea8fe0d1376b625c8cb)
FetchContent_Declare(fmt
  URL https://github.com/fmtlib/fmt/releases/download/9.1.0/fmt-9.1.0.zip
  URL_HASH SHA256=cceb4cb9366e18a5742128cb3524ce5f50e88b476f1e54737a47ffdf4df4c996)
FetchContent_Declare(nlohmann_json
  URL https://github.com/nlohmann/json/archive/refs/tags/v3.11.2.tar.gz
  URL_HASH SHA256=d69f9deb6a75e2580465c6c4c5111b89c4dc2fa94e3a85fcd2ffcd9a143d9273)
FetchContent_Declare(fast_float
  URL https://github.com/fastfloat/fast_float/archive/refs/tags/v3.9.0.tar.gz
  URL_HASH SHA256=a10443e13748291709b422b2da49fc6753a1a43bf24205d4600595dfe3d811bb)
FetchContent_Declare(catch2
  URL https://github.com/catchorg/Catch2/archive/refs/tags/v2.13.10.tar.gz
  URL_HASH SHA256=d54a712b7b1d7708bc7a819a8e6e47b2fde9536f487b89ccbca295072a7d9943)
# libsodium builds with autotools or MSBuild only; robinlinden/libsodium-cmake compiles the
# unmodified 1.0.18 sources (a git submodule) with CMake, which is what a universal macOS
# binary and MSVC need.
FetchContent_Declare(sodium
  GIT_REPOSITORY https://github.com/robinlinden/libsodium-cmake.git
  GIT_TAG 99f14233eab1d4f7f49c2af4ec836f2e701c445e  # libsodium 1.0.18-stable, 2022-05-28
  GIT_SHALLOW FALSE)
# utf8proc's CMakeLists asks for CMake 3.0, which CMake 4 refuses: its one source file is
# compiled here instead (udpchat_fetch_utf8proc).
FetchContent_Declare(utf8proc
  GIT_REPOSITORY https://github.com/JuliaStrings/utf8proc.git
  GIT_TAG 1cb28a66ca79a0845e99433fd1056257456cef8b  # v2.8.0, as in Debian bookworm
  GIT_SHALLOW FALSE)
FetchContent_Declare(nats
  URL https://github.com/nats-io/nats.c/archive/refs/tags/v3.4.1.tar.gz
  URL_HASH SHA256=a9b8a1509cbd5f4de27a0709fb61091e9118ee86ed76a69d983007bf62b13ccd)

# Header-only libraries are populated, never added: their own CMakeLists are not needed.
function(udpchat_populate name)
  FetchContent_GetProperties(${name})
  if(NOT ${name}_POPULATED)
    FetchContent_Populate(${name})
  endif()
  set(${name}_SOURCE_DIR ${${name}_SOURCE_DIR} PARENT_SCOPE)
endfunction()

function(udpchat_fetch_asio include_dir_var)
  udpchat_populate(asio)
  set(${include_dir_var} ${asio_SOURCE_DIR}/asio/include PARENT_SCOPE)
endfunction()

function(udpchat_fetch_cli11 include_dir_var)
  udpchat_populate(cli11)
  set(${include_dir_var} ${cli11_SOURCE_DIR}/include PARENT_SCOPE)
endfunction()

function(udpchat_fetch_fmt)
  set(FMT_INSTALL OFF CACHE BOOL "" FORCE)
  FetchContent_MakeAvailable(fmt)
endfunction()

function(udpchat_fetch_json)
  udpchat_populate(nlohmann_json)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED GLOBAL)
  target_include_directories(nlohmann_json::nlohmann_json SYSTEM INTERFACE
                             ${nlohmann_json_SOURCE_DIR}/single_include)
endfunction()

function(udpchat_fetch_fast_float)
  udpchat_populate(fast_float)
  add_library(FastFloat::fast_float INTERFACE IMPORTED GLOBAL)
  target_include_directories(FastFloat::fast_float SYSTEM INTERFACE ${fast_float_SOURCE_DIR}/include)
endfunction()

function(udpchat_fetch_catch2)
  udpchat_populate(catch2)
  # Catch2 v2 is one header: the main comes from a small library of our own.
  add_library(udpchat_catch_main STATIC ${PROJECT_SOURCE_DIR}/tests/support/catch_main.cpp)
  target_include_directories(udpchat_catch_main SYSTEM PUBLIC
                             ${catch2_SOURCE_DIR}/single_include
                             ${catch2_SOURCE_DIR}/single_include/catch2)
  add_library(Catch2::Catch2 ALIAS udpchat_catch_main)
  add_library(Catch2::Catch2WithMain ALIAS udpchat_catch_main)
  set(CMAKE_MODULE_PATH ${CMAKE_MODULE_PATH} ${catch2_SOURCE_DIR}/contrib PARENT_SCOPE)
endfunction()

function(udpchat_fetch_sodium)
  set(SODIUM_DISABLE_TESTS ON CACHE BOOL "" FORCE)
  set(SODIUM_MINIMAL OFF CACHE BOOL "" FORCE)
  FetchContent_MakeAvailable(sodium)
  target_compile_definitions(sodium INTERFACE SODIUM_STATIC)
endfunction()

function(udpchat_fetch_nats)
  # Plain TCP to the engine (loopback or a private network): no OpenSSL, no streaming.
  set(NATS_BUILD_WITH_TLS OFF CACHE BOOL "" FORCE)
  set(NATS_BUILD_STREAMING OFF CACHE BOOL "" FORCE)
  set(NATS_BUILD_EXAMPLES OFF CACHE BOOL "" FORCE)
  set(NATS_BUILD_LIB_SHARED OFF CACHE BOOL "" FORCE)
  set(NATS_BUILD_LIB_STATIC ON CACHE BOOL "" FORCE)
  set(BUILD_TESTING OFF CACHE BOOL "" FORCE)
  FetchContent_MakeAvailable(nats)
  # Installed, the header is <nats/nats.h>; in the source tree it is src/nats.h.
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/nats-include)
  file(CREATE_LINK ${nats_SOURCE_DIR}/src ${CMAKE_BINARY_DIR}/nats-include/nats SYMBOLIC)
  target_include_directories(nats_static SYSTEM INTERFACE ${CMAKE_BINARY_DIR}/nats-include)
endfunction()

function(udpchat_fetch_utf8proc)
  udpchat_populate(utf8proc)
  add_library(utf8proc STATIC ${utf8proc_SOURCE_DIR}/utf8proc.c)
  target_include_directories(utf8proc SYSTEM PUBLIC ${utf8proc_SOURCE_DIR})
  target_compile_definitions(utf8proc PUBLIC UTF8PROC_STATIC)
endfunction()
