// Catch2 v2 main for builds without a usable packaged Catch2WithMain: the MinGW cross build,
// libc++ builds (the packaged one is built against libstdc++) and the pinned download.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
