// Catch2 v2 main for builds without the packaged Catch2WithMain (the MinGW cross build).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
