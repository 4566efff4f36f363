#include "net/inbox.hpp"

#include <string>
#include <thread>
#include <vector>

#include "support/catch.hpp"

using udpchat::net::Inbox;

TEST_CASE("an inbox hands what another thread put to its own thread, all of it, in order",
          "[net][inbox]") {
  asio::io_context io;
  std::vector<int> got;
  Inbox<int> inbox(io.get_executor(), [&](std::vector<int>& items, bool) {
    got.insert(got.end(), items.begin(), items.end());
  });
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) inbox.put(i);
  });
  producer.join();
  io.run();
  REQUIRE(got.size() == 1000);
  for (int i = 0; i < 1000; ++i) CHECK(got[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("a bounded inbox drops what does not fit, counts it, and says so once",
          "[net][inbox]") {
  asio::io_context io;
  std::vector<std::string> got;
  int recoveries = 0;
  Inbox<std::string> inbox(
      io.get_executor(),
      [&](std::vector<std::string>& items, bool recovered) {
        got.insert(got.end(), items.begin(), items.end());
        recoveries += recovered ? 1 : 0;
      },
      {.items = 3, .bytes = 100, .per_turn = 2});
  using Offer = Inbox<std::string>::Offer;
  CHECK(inbox.offer("a", 1) == Offer::queued);
  CHECK(inbox.offer("b", 1) == Offer::queued);
  CHECK(inbox.offer("c", 1) == Offer::queued);
  CHECK(inbox.offer("d", 1) == Offer::first_dropped);  // over the item bound
  CHECK(inbox.offer("e", 1) == Offer::dropped);        // said once, counted each time
  CHECK(inbox.dropped() == 2);
  CHECK(inbox.size() == 3);
  io.run();
  CHECK(got == std::vector<std::string>{"a", "b", "c"});
  CHECK(recoveries == 1);  // empty again after dropping
  CHECK(inbox.offer(std::string(101, 'x'), 101) == Offer::first_dropped);  // over the bytes
}

TEST_CASE("a bounded inbox hands over a turn's worth at a time", "[net][inbox]") {
  asio::io_context io;
  std::vector<std::size_t> turns;
  Inbox<int> inbox(
      io.get_executor(), [&](std::vector<int>& items, bool) { turns.push_back(items.size()); },
      {.per_turn = 64});
  for (int i = 0; i < 150; ++i) inbox.offer(i, 0);
  io.run();
  CHECK(turns == std::vector<std::size_t>{64, 64, 22});
}
