#include "protocol/envelope.hpp"

#include <string>

#include "protocol/message.hpp"
#include "support/catch.hpp"

namespace proto = udpchat::protocol;

TEST_CASE("an envelope decodes to the fields it was encoded from", "[protocol][envelope]") {
  std::string out;
  proto::encode_envelope(out, {"node-a", "127.0.0.1", 40000, "alice", "hello, world"});
  CHECK(out == "udpchat1 node-a 127.0.0.1 40000 alice\nhello, world");
  const auto envelope = proto::decode_envelope(out);
  REQUIRE(envelope);
  CHECK(envelope->node == "node-a");
  CHECK(envelope->ip == "127.0.0.1");
  CHECK(envelope->port == 40000);
  CHECK(envelope->nick == "alice");
  CHECK(envelope->text == "hello, world");

  proto::encode_envelope(out, {"n", "fe80::1", 9, "", "no nick"});
  CHECK(out == "udpchat1 n fe80::1 9\nno nick");
  const auto plain = proto::decode_envelope(out);
  REQUIRE(plain);
  CHECK(plain->nick.empty());
}

TEST_CASE("a remote node builds the same ack bytes as the sender's node", "[protocol][envelope]") {
  std::string local;
  proto::encode_ack(local, "10.1.2.3", 5555, "bob", "same bytes");
  std::string wire;
  proto::encode_envelope(wire, {"a", "10.1.2.3", 5555, "bob", "same bytes"});
  const auto envelope = proto::decode_envelope(wire);
  REQUIRE(envelope);
  std::string remote;
  proto::encode_ack(remote, envelope->ip, envelope->port, envelope->nick, envelope->text);
  CHECK(remote == local);
}

TEST_CASE("decode_envelope refuses anything a relay would not have sent", "[protocol][envelope]") {
  CHECK_FALSE(proto::decode_envelope(""));
  CHECK_FALSE(proto::decode_envelope("udpchat1 a 1.2.3.4 80 n"));               // no text
  CHECK_FALSE(proto::decode_envelope("udpchat2 a 1.2.3.4 80 n\nhi"));           // other version
  CHECK_FALSE(proto::decode_envelope("udpchat1 a 1.2.3.4 80 n extra\nhi"));     // a field too many
  CHECK_FALSE(proto::decode_envelope("udpchat1 a 1.2.3.4\nhi"));                // no port
  CHECK_FALSE(proto::decode_envelope("udpchat1 a 1.2.3.4 80 \nhi"));            // trailing space
  CHECK_FALSE(proto::decode_envelope("udpchat1 a  1.2.3.4 80\nhi"));            // doubled space
  CHECK_FALSE(proto::decode_envelope("udpchat1 a 1.2.3.4 99999\nhi"));          // port range
  CHECK_FALSE(proto::decode_envelope("udpchat1 a x.y 80\nhi"));                 // not an address
  CHECK_FALSE(proto::decode_envelope("udpchat1 a AAaA1 80\nhi"));               // not an address
  CHECK_FALSE(proto::decode_envelope("udpchat1 a 1.2.3.256 80\nhi"));           // octet range
  CHECK_FALSE(proto::decode_envelope("udpchat1 a 1.2.3 80\nhi"));               // three octets
  CHECK_FALSE(proto::decode_envelope("udpchat1 a 1.2.3.4 080\nhi"));            // two spellings
  CHECK_FALSE(proto::decode_envelope("udpchat1 a/b 1.2.3.4 80\nhi"));           // node id
  CHECK_FALSE(proto::decode_envelope("udpchat1 a 1.2.3.4 80 bad/nick\nhi"));    // nick
  CHECK_FALSE(proto::decode_envelope("udpchat1 a 1.2.3.4 80\n"));               // empty text
  CHECK_FALSE(proto::decode_envelope("udpchat1 a 1.2.3.4 80\ntwo\nlines"));     // forged ack line
  CHECK_FALSE(proto::decode_envelope("udpchat1 a 1.2.3.4 80\n\xFF"));           // not UTF-8
  CHECK_FALSE(proto::decode_envelope("udpchat1 a 1.2.3.4 80\n padded "));       // unstripped
  CHECK_FALSE(proto::decode_envelope("udpchat1 a 1.2.3.4 80\n" + std::string(1025, 'x')));
  CHECK_FALSE(proto::decode_envelope("udpchat1 a 1.2.3.4 0\nhi"));                     // port 0
  CHECK_FALSE(proto::decode_envelope("udpchat1 a " + std::string(45, ':') + " 80\nhi"));  // 45 colons
  CHECK_FALSE(proto::decode_envelope("udpchat1 a fe80::.1 9\nhi"));                     // not IPv6
  CHECK_FALSE(proto::decode_envelope("udpchat1 a 1::2::3 9\nhi"));                      // two gaps
  CHECK(proto::decode_envelope("udpchat1 a 1.2.3.4 80\n" + std::string(1024, 'x')));
}

TEST_CASE("room subjects carry the room, and a private room's verifier, and nothing else",
          "[protocol][envelope]") {
  CHECK(proto::room_subject("lobby") == "udpchat.room.lobby");
  CHECK(proto::subject_room("udpchat.room.ops-1") == "ops-1");
  CHECK(proto::subject_room("udpchat.room.a.b").empty());
  const std::string verifier(43, 'V');
  CHECK(proto::room_topic("ops", verifier) == "ops." + verifier);
  CHECK(proto::room_topic("ops", "") == "ops");
  CHECK(proto::subject_room(proto::room_subject("ops." + verifier)) == "ops." + verifier);
  CHECK(proto::parse_room_topic("ops." + verifier)->verifier == verifier);
  CHECK(proto::subject_room("udpchat.room.ops." + verifier + ".x").empty());
  CHECK(proto::subject_room("other.room.x").empty());
  CHECK(proto::subject_room("udpchat.room.").empty());
}

TEST_CASE("a private room's envelope also carries the sender's number, which its seal binds",
          "[protocol][envelope]") {
  std::string out;
  proto::Envelope envelope{"node-a", "127.0.0.1", 40000, "alice", "~1 sealed", 42};
  envelope.sender_seq = 7;
  proto::encode_envelope(out, envelope);
  CHECK(out == "udpchat3 node-a 42 7 127.0.0.1 40000 alice\n~1 sealed");
  const auto back = proto::decode_envelope(out);
  REQUIRE(back);
  CHECK(back->seq == 42);
  CHECK(back->sender_seq == 7);
  CHECK(back->nick == "alice");
  CHECK_FALSE(proto::decode_envelope("udpchat3 node-a 42 07 127.0.0.1 40000\nx"));
  CHECK_FALSE(proto::decode_envelope("udpchat3 node-a 42 127.0.0.1 40000\nx"));
  envelope.sender_seq = 0;  // none: the udpchat2 form, as before
  proto::encode_envelope(out, envelope);
  CHECK(out.starts_with("udpchat2 node-a 42 127.0.0.1"));
}

TEST_CASE("a numbered envelope carries the node's line number for the room, one spelling",
          "[protocol][envelope]") {
  std::string out;
  proto::encode_envelope(out, {"node-a", "127.0.0.1", 40000, "alice", "hello", 42});
  CHECK(out == "udpchat2 node-a 42 127.0.0.1 40000 alice\nhello");
  const auto envelope = proto::decode_envelope(out);
  REQUIRE(envelope);
  CHECK(envelope->seq == 42);
  CHECK(envelope->ip == "127.0.0.1");
  CHECK(envelope->nick == "alice");
  CHECK_FALSE(proto::decode_envelope("udpchat2 a 042 1.2.3.4 80\nhi"));  // two spellings
  CHECK_FALSE(proto::decode_envelope("udpchat2 a 0 1.2.3.4 80\nhi"));
  CHECK_FALSE(proto::decode_envelope("udpchat2 a 1.2.3.4 80\nhi"));      // no number
  CHECK(proto::decode_envelope("udpchat1 a 1.2.3.4 80\nhi")->seq == 0);  // still read
}
