#include "protocol/room_key.hpp"

#include <string>

#include "protocol/message.hpp"
#include "support/catch.hpp"

namespace room_key = udpchat::protocol::room_key;
using room_key::Opened;
using room_key::RoomKey;

TEST_CASE("a sealed line opens only in its room, from its sender, under its number and key",
          "[protocol][room_key]") {
  const RoomKey key = RoomKey::generate();
  const auto ops = key.for_room("ops");
  const std::string line = room_key::seal_line(ops, "ops", "alice", 7, "the launch code is 1234");
  CHECK(line.starts_with("~1 " + ops.id + " "));
  CHECK(line.find("launch") == std::string::npos);
  const auto opened = room_key::open_line(ops, "ops", "alice", 7, line);
  CHECK(opened.what == Opened::ok);
  CHECK(opened.text == "the launch code is 1234");
  // Moved to another room, said to be another member's, renumbered: none of it opens.
  CHECK(room_key::open_line(key.for_room("dev"), "dev", "alice", 7, line).what == Opened::forged);
  CHECK(room_key::open_line(ops, "ops", "mallory", 7, line).what == Opened::forged);
  CHECK(room_key::open_line(ops, "ops", "alice", 8, line).what == Opened::forged);
  std::string altered = line;
  altered[altered.size() - 5] = altered[altered.size() - 5] == 'A' ? 'B' : 'A';
  CHECK(room_key::open_line(ops, "ops", "alice", 7, altered).what == Opened::forged);
  // Another key says so by its id; plain text is no member's line.
  const auto other = RoomKey::generate().for_room("ops");
  CHECK(room_key::open_line(other, "ops", "alice", 7, line).what == Opened::other_key);
  CHECK(room_key::open_line(ops, "ops", "alice", 7, "hello").what == Opened::not_sealed);
  // Each seal takes a fresh nonce: the same text twice is two different lines.
  CHECK(room_key::seal_line(ops, "ops", "alice", 7, "same") !=
        room_key::seal_line(ops, "ops", "alice", 7, "same"));
}

TEST_CASE("the longest piece of text still fits a chat line once sealed", "[protocol][room_key]") {
  const auto keys = RoomKey::generate().for_room("ops");
  const std::string longest(room_key::kMaxPlainBytes, 'x');
  const std::string line = room_key::seal_line(keys, "ops", "a-nick-of-32-characters-12345678",
                                               ~std::uint64_t{0}, longest);
  CHECK(line.size() <= udpchat::protocol::kMaxLineBytes);
}

TEST_CASE("a room key reads back from its written form, and nothing else passes for one",
          "[protocol][room_key]") {
  const RoomKey key = RoomKey::generate();
  const std::string written = key.format();
  CHECK(written.starts_with(room_key::kKeyPrefix));
  CHECK(written.size() == room_key::kKeyPrefix.size() + 43);
  const auto read = RoomKey::parse("  " + written + "\n");
  REQUIRE(read);
  CHECK(read->for_room("ops").id == key.for_room("ops").id);
  CHECK_FALSE(RoomKey::parse(written.substr(0, written.size() - 1)));
  CHECK_FALSE(RoomKey::parse(written.substr(room_key::kKeyPrefix.size())));
  CHECK_FALSE(RoomKey::parse(""));
  CHECK(RoomKey::generate().format() != written);
}

TEST_CASE("a passphrase gives each room a key of its own, the same each time",
          "[protocol][room_key]") {
  const auto ops = RoomKey::from_passphrase("correct horse battery staple", "ops");
  const auto again = RoomKey::from_passphrase("correct horse battery staple", "ops");
  const auto dev = RoomKey::from_passphrase("correct horse battery staple", "dev");
  REQUIRE(ops);
  REQUIRE(again);
  REQUIRE(dev);
  CHECK(ops->format() == again->format());
  CHECK(ops->format() != dev->format());
}

TEST_CASE("a join's proof verifies for its room, cookie and nick only, under the room's verifier",
          "[protocol][room_key]") {
  const auto key = room_key::RoomKey::generate();
  const auto ops = key.for_room("ops");
  CHECK(ops.verifier.size() == room_key::kVerifierChars);
  CHECK(key.for_room("ops").verifier == ops.verifier);  // every holder proves the same key
  CHECK(key.for_room("dev").verifier != ops.verifier);  // a verifier says nothing of other rooms
  const std::string proof = room_key::join_proof(ops, "ops", "cookie1", "alice");
  CHECK(proof.size() == room_key::kProofChars);
  const auto parsed = room_key::parse_join_proof(proof);
  REQUIRE(parsed);
  CHECK(parsed->verifier == ops.verifier);
  CHECK(room_key::check_join_proof(*parsed, "ops", "cookie1", "alice"));
  CHECK_FALSE(room_key::check_join_proof(*parsed, "dev", "cookie1", "alice"));
  CHECK_FALSE(room_key::check_join_proof(*parsed, "ops", "cookie2", "alice"));
  CHECK_FALSE(room_key::check_join_proof(*parsed, "ops", "cookie1", "alicf"));
  // Someone else's verifier in front of a good signature: no.
  std::string swapped = proof;
  swapped.replace(room_key::kProofPrefix.size(), room_key::kVerifierChars,
                  room_key::RoomKey::generate().for_room("ops").verifier);
  CHECK_FALSE(
      room_key::check_join_proof(*room_key::parse_join_proof(swapped), "ops", "cookie1", "alice"));
  const std::string other_version = "+p2=" + proof.substr(4);
  for (const std::string_view bad :
       {std::string_view("+p1=short"), std::string_view(proof).substr(0, proof.size() - 1),
        std::string_view(other_version)}) {
    CHECK_FALSE(room_key::parse_join_proof(bad));
  }
}
