#include "core/node_gaps.hpp"

#include "support/catch.hpp"

using udpchat::core::NodeGaps;

TEST_CASE("a node's lines numbered one after another lose nothing", "[core][gaps]") {
  NodeGaps gaps;
  for (std::uint64_t seq = 1; seq <= 5; ++seq) CHECK(gaps.on_line("ops", "b", seq) == 0);
}

TEST_CASE("a jump in a node's numbering is the count of its lines lost on the way",
          "[core][gaps]") {
  NodeGaps gaps;
  CHECK(gaps.on_line("ops", "b", 1) == 0);
  CHECK(gaps.on_line("ops", "b", 5) == 3);
  CHECK(gaps.on_line("ops", "b", 6) == 0);
}

TEST_CASE("the first line heard from a node counts from itself, whatever its number",
          "[core][gaps]") {
  NodeGaps gaps;
  CHECK(gaps.on_line("ops", "b", 40) == 0);
  CHECK(gaps.on_line("ops", "c", 7) == 0);
}

TEST_CASE("rooms and nodes are numbered apart", "[core][gaps]") {
  NodeGaps gaps;
  gaps.on_line("ops", "b", 1);
  gaps.on_line("dev", "b", 1);
  gaps.on_line("ops", "c", 1);
  CHECK(gaps.on_line("ops", "b", 2) == 0);
  CHECK(gaps.on_line("dev", "b", 3) == 1);
  CHECK(gaps.on_line("ops", "c", 2) == 0);
  CHECK(gaps.size() == 3);
}

TEST_CASE("a number that goes back is a node that started again, not a loss", "[core][gaps]") {
  NodeGaps gaps;
  gaps.on_line("ops", "b", 9);
  CHECK(gaps.on_line("ops", "b", 1) == 0);
  CHECK(gaps.on_line("ops", "b", 3) == 1);
}

TEST_CASE("an unnumbered envelope says nothing of loss", "[core][gaps]") {
  NodeGaps gaps;
  gaps.on_line("ops", "b", 1);
  CHECK(gaps.on_line("ops", "b", 0) == 0);
  CHECK(gaps.on_line("ops", "b", 2) == 0);
}

TEST_CASE("a room no longer listened to is forgotten, and counting starts again", "[core][gaps]") {
  NodeGaps gaps;
  gaps.on_line("ops", "b", 1);
  gaps.on_line("dev", "b", 1);
  gaps.forget("ops");
  CHECK(gaps.size() == 1);
  CHECK(gaps.on_line("ops", "b", 50) == 0);
}
