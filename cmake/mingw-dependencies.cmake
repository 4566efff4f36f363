# Dependencies for the MinGW cross build (Windows check on Debian). The cross compiler does
# not search /usr/include, and must not: it gets a directory holding only the header-only
# libraries, as symlinks to Debian's copies. libsodium is a static Windows build whose prefix
# UDPCHAT_SODIUM_ROOT names (scripts/windows-check builds it from Debian's source package).
set(UDPCHAT_SODIUM_ROOT "" CACHE PATH "Prefix of a libsodium built for Windows")
set(_cross_include ${CMAKE_BINARY_DIR}/cross-include)
file(MAKE_DIRECTORY ${_cross_include})
foreach(header asio asio.hpp CLI fmt nlohmann catch2 fast_float)
  if(NOT EXISTS ${_cross_include}/${header})
    file(CREATE_LINK /usr/include/${header} ${_cross_include}/${header} SYMBOLIC)
  endif()
endforeach()

add_library(udpchat_asio INTERFACE)
target_include_directories(udpchat_asio SYSTEM INTERFACE ${_cross_include})
target_compile_definitions(udpchat_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED
                                                  _WIN32_WINNT=0x0A00)
target_link_libraries(udpchat_asio INTERFACE ws2_32 mswsock Threads::Threads)

add_library(udpchat_cli11 INTERFACE)
target_include_directories(udpchat_cli11 SYSTEM INTERFACE ${_cross_include})

add_library(fmt::fmt INTERFACE IMPORTED)
target_include_directories(fmt::fmt SYSTEM INTERFACE ${_cross_include})
target_compile_definitions(fmt::fmt INTERFACE FMT_HEADER_ONLY)
add_library(udpchat_fmt INTERFACE)
target_link_libraries(udpchat_fmt INTERFACE fmt::fmt)

add_library(FastFloat::fast_float INTERFACE IMPORTED)
target_include_directories(FastFloat::fast_float SYSTEM INTERFACE ${_cross_include})

add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
target_include_directories(nlohmann_json::nlohmann_json SYSTEM INTERFACE ${_cross_include})

if(NOT EXISTS ${UDPCHAT_SODIUM_ROOT}/lib/libsodium.a)
  message(FATAL_ERROR "UDPCHAT_SODIUM_ROOT must name a Windows build of libsodium")
endif()
add_library(PkgConfig::SODIUM STATIC IMPORTED)
set_target_properties(PkgConfig::SODIUM PROPERTIES
  IMPORTED_LOCATION ${UDPCHAT_SODIUM_ROOT}/lib/libsodium.a
  INTERFACE_INCLUDE_DIRECTORIES ${UDPCHAT_SODIUM_ROOT}/include
  INTERFACE_COMPILE_DEFINITIONS SODIUM_STATIC)

# utf8proc: its sources (Debian's, copied by scripts/windows-check), compiled for Windows here.
set(UDPCHAT_UTF8PROC_SOURCE "" CACHE PATH "utf8proc's utf8proc.c, utf8proc.h and utf8proc_data.c")
if(NOT EXISTS ${UDPCHAT_UTF8PROC_SOURCE}/utf8proc.c)
  message(FATAL_ERROR "UDPCHAT_UTF8PROC_SOURCE must name a folder holding utf8proc's sources")
endif()
enable_language(C)
add_library(utf8proc STATIC ${UDPCHAT_UTF8PROC_SOURCE}/utf8proc.c)
target_include_directories(utf8proc SYSTEM PUBLIC ${UDPCHAT_UTF8PROC_SOURCE})
target_compile_definitions(utf8proc PUBLIC UTF8PROC_STATIC)
add_library(PkgConfig::UTF8PROC ALIAS utf8proc)

if(UDPCHAT_BUILD_TESTS)
  # Catch2 v2 is one header: its main comes from a small library of our own.
  add_library(udpchat_catch_main STATIC ${PROJECT_SOURCE_DIR}/tests/support/catch_main.cpp)
  target_include_directories(udpchat_catch_main SYSTEM PUBLIC ${_cross_include})
  # At the preset's -O1, not -O0: unoptimised, Catch2's 48,000 COMDAT sections took binutils'
  # ranlib and ld 30 s each; optimised, its 5,000 take a second, for the same compile time.
  add_library(Catch2::Catch2 ALIAS udpchat_catch_main)
  add_library(Catch2::Catch2WithMain ALIAS udpchat_catch_main)
  list(APPEND CMAKE_MODULE_PATH /usr/lib/cmake/Catch2)
endif()
