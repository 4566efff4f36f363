#include "net/node_figures.hpp"

#include <array>
#include <bit>
#include <set>
#include <string>

#include "support/catch.hpp"

using udpchat::net::NodeFigures;

namespace {

// Every field a distinct value (NodeFigures is all uint64, no padding): a figure the log left
// out, or took from another field, would show.
NodeFigures distinct_figures() {
  using Fields = std::array<std::uint64_t, sizeof(NodeFigures) / sizeof(std::uint64_t)>;
  Fields fields{};
  for (std::size_t i = 0; i < fields.size(); ++i) fields[i] = 100 + i;
  return std::bit_cast<NodeFigures>(fields);
}

}  // namespace

TEST_CASE("the log says every relay counter, drop reason and node figure from their tables",
          "[net][figures]") {
  NodeFigures f = distinct_figures();
  f.backplane = 1;
  const auto fields = udpchat::net::log_fields(f);
  for (const auto& counter : udpchat::core::kRelayCounters) {
    INFO(counter.name);
    REQUIRE(fields.contains(std::string(counter.name)));
    CHECK(fields[std::string(counter.name)] == f.relay.*counter.field);
  }
  for (const auto& reason : udpchat::core::kDropReasons) {
    INFO(reason.name);
    REQUIRE(fields.contains(std::string(reason.name)));
    CHECK(fields[std::string(reason.name)] ==
          f.relay.drops[static_cast<std::size_t>(reason.reason)]);
  }
  for (const auto& figure : udpchat::net::kNodeFigures) {
    INFO(figure.name);
    REQUIRE(fields.contains(std::string(figure.name)));
    CHECK(fields[std::string(figure.name)] == f.*figure.field);
  }
  CHECK(fields["dropped"] == f.relay.dropped());
}

TEST_CASE("without a backplane the log leaves its figures out, and one shard is not said",
          "[net][figures]") {
  NodeFigures f = distinct_figures();
  f.backplane = 0;
  f.shards = 1;
  f.relay.repaired = 0;
  const auto fields = udpchat::net::log_fields(f);
  CHECK_FALSE(fields.contains("backplane_received"));
  CHECK_FALSE(fields.contains("remote_lines"));
  CHECK_FALSE(fields.contains("shards"));
  CHECK_FALSE(fields.contains("repaired"));  // said once it counts something
  CHECK(fields.contains("history_bytes"));
  CHECK(fields.contains("members"));
}

TEST_CASE("every figure has a name of its own in the log and in /metrics", "[net][figures]") {
  std::set<std::string_view> names;
  std::set<std::string_view> metrics;
  std::size_t count = 0;
  for (const auto& c : udpchat::core::kRelayCounters) {
    names.insert(c.name);
    metrics.insert(c.metric);
    ++count;
  }
  for (const auto& f : udpchat::net::kNodeFigures) {
    names.insert(f.name);
    if (!f.metric.empty()) metrics.insert(f.metric);
    ++count;
  }
  for (const auto& r : udpchat::core::kDropReasons) names.insert(r.name);
  CHECK(names.size() == count + std::size(udpchat::core::kDropReasons));
  for (const auto metric : metrics) {
    INFO(metric);
    CHECK(metric.starts_with("udpchat_"));
  }
}
