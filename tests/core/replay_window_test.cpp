#include "core/replay_window.hpp"

#include "support/catch.hpp"

using udpchat::core::ReplayWindow;

TEST_CASE("a counter is accepted once", "[core][replay]") {
  ReplayWindow window;
  CHECK(window.accept(0));
  CHECK_FALSE(window.accept(0));
  CHECK(window.accept(1));
  CHECK_FALSE(window.fresh(1));
  CHECK_FALSE(window.accept(1));
}

TEST_CASE("counters out of order within the window are each accepted once", "[core][replay]") {
  ReplayWindow window;
  CHECK(window.accept(100));
  for (int c = 99; c > 0; c -= 7) CHECK(window.accept(static_cast<std::uint64_t>(c)));
  for (int c = 99; c > 0; c -= 7) CHECK_FALSE(window.accept(static_cast<std::uint64_t>(c)));
  CHECK(window.accept(98));
  CHECK(window.highest() == 100);
}

TEST_CASE("a counter older than the window is a replay, even if never seen", "[core][replay]") {
  ReplayWindow window;
  CHECK(window.accept(5000));
  CHECK_FALSE(window.fresh(5000 - ReplayWindow::kWindow));
  CHECK(window.fresh(5000 - ReplayWindow::kWindow + 1));
  CHECK_FALSE(window.accept(1));
}

TEST_CASE("a jump forward forgets the bits it slides past, not the ones it keeps",
          "[core][replay]") {
  ReplayWindow window;
  for (std::uint64_t c = 0; c < 200; ++c) REQUIRE(window.accept(c));
  CHECK(window.accept(1000));  // 200..999 never came: still fresh where within the window
  CHECK(window.fresh(999));
  CHECK_FALSE(window.fresh(199));  // seen, and still within the window
  CHECK(window.accept(1'000'000));
  CHECK_FALSE(window.fresh(1000));  // now too old
  CHECK(window.accept(1'000'000 - 5));
  CHECK_FALSE(window.accept(1'000'000 - 5));
  // Every counter up to the window's width behind the highest: fresh once.
  for (std::uint64_t c = 1'000'001; c < 1'000'000 + 3 * ReplayWindow::kWindow; ++c) {
    REQUIRE(window.accept(c));
  }
  CHECK_FALSE(window.accept(1'000'000 + 3 * ReplayWindow::kWindow - 1));
}

TEST_CASE("forgeries never move the window: only accepted counters do", "[core][replay]") {
  ReplayWindow window;
  CHECK(window.accept(10));
  CHECK(window.fresh(1'000'000));  // asked, not accepted: a forgery is checked, then fails to open
  CHECK(window.highest() == 10);
  CHECK(window.accept(9));
}
