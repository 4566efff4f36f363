#include "protocol/bench_line.hpp"

#include "protocol/message.hpp"
#include "support/catch.hpp"

namespace proto = udpchat::protocol;

TEST_CASE("a bench line round-trips and is padded to the size under test", "[protocol]") {
  proto::BenchLine line{0xdeadbeef, true, 7, 123456, 987654321012345};
  std::string out;
  proto::encode_bench_line(out, line, 64);
  CHECK(out.size() == 64);
  CHECK(out.starts_with("bench deadbeef m 7 123456 987654321012345 x"));
  const auto decoded = proto::decode_bench_line(out);
  REQUIRE(decoded);
  CHECK(decoded->run == line.run);
  CHECK(decoded->measured);
  CHECK(decoded->sender == 7);
  CHECK(decoded->sequence == 123456);
  CHECK(decoded->intended_ns == 987654321012345);
  // It is an ordinary chat line to the relay.
  CHECK(std::holds_alternative<proto::Chat>(proto::decode_client(out)));
}

TEST_CASE("the widest bench header fits the smallest line size", "[protocol]") {
  proto::BenchLine line{0xffffffff, false, 999'999, 9'999'999'999, ~std::uint64_t{0}};
  std::string out;
  proto::encode_bench_line(out, line, proto::kMinBenchLineBytes);
  CHECK(out.size() == proto::kMinBenchLineBytes);
  proto::encode_bench_line(out, line, 1024);
  CHECK(out.size() == 1024);
  CHECK_FALSE(proto::decode_bench_line(out)->measured);
}

TEST_CASE("other chat text is not a bench line", "[protocol]") {
  CHECK_FALSE(proto::decode_bench_line("hello"));
  CHECK_FALSE(proto::decode_bench_line("bench"));
  CHECK_FALSE(proto::decode_bench_line("bench zz m 1 2 3"));
  CHECK_FALSE(proto::decode_bench_line("bench ab q 1 2 3"));
  CHECK_FALSE(proto::decode_bench_line("bench ab m 1 2"));
  CHECK_FALSE(proto::decode_bench_line("bench ab m 1 2 x"));
}
