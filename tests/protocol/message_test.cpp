#include "protocol/message.hpp"

#include <string>

#include "support/catch.hpp"

namespace proto = udpchat::protocol;

namespace {

template <class T>
T as(const proto::ClientMessage& message) {
  REQUIRE(std::holds_alternative<T>(message));
  return std::get<T>(message);
}

template <class T>
T as(const proto::ServerMessage& message) {
  REQUIRE(std::holds_alternative<T>(message));
  return std::get<T>(message);
}

proto::Malformation malformation(std::string_view datagram) {
  return as<proto::Malformed>(proto::decode_client(datagram)).reason;
}

}  // namespace

TEST_CASE("decode recognises the original client's messages after stripping", "[protocol]") {
  CHECK(std::holds_alternative<proto::Register>(proto::decode_client("reg")));
  CHECK(std::holds_alternative<proto::Register>(proto::decode_client("reg\n")));
  CHECK(std::holds_alternative<proto::Heartbeat>(proto::decode_client("^hb^")));
  CHECK(std::holds_alternative<proto::Heartbeat>(proto::decode_client(" ^hb^\r\n")));
  CHECK(std::holds_alternative<proto::Quit>(proto::decode_client("quit\n")));
  CHECK(as<proto::Chat>(proto::decode_client("  hello there \n")).text == "hello there");
}

TEST_CASE("decode reads a reg padded to 64 bytes as a cookie request", "[protocol]") {
  const std::string padded = proto::encode_cookie_request();
  CHECK(padded.size() == 64);
  CHECK(padded.starts_with("reg "));
  CHECK(std::holds_alternative<proto::CookieRequest>(proto::decode_client(padded)));
  CHECK(std::holds_alternative<proto::Register>(proto::decode_client(padded.substr(0, 63))));
}

TEST_CASE("decode reads reg with a cookie and an optional nick as a join", "[protocol]") {
  const auto bare = as<proto::Join>(proto::decode_client("reg AbC_-9"));
  CHECK(bare.cookie == "AbC_-9");
  CHECK(bare.nick.empty());
  const auto named = as<proto::Join>(proto::decode_client("reg tok al.ice-1\n"));
  CHECK(named.cookie == "tok");
  CHECK(named.nick == "al.ice-1");
  CHECK(named.line == "reg tok al.ice-1");
}

TEST_CASE("decode reads a fourth reg field as the room to join", "[protocol]") {
  const auto join = as<proto::Join>(proto::decode_client("reg tok alice ops-2_b"));
  CHECK(join.cookie == "tok");
  CHECK(join.nick == "alice");
  CHECK(join.room == "ops-2_b");
  CHECK(as<proto::Join>(proto::decode_client("reg tok alice")).room.empty());
  CHECK(as<proto::Join>(proto::decode_client("reg tok a " + std::string(32, 'r'))).room.size() ==
        32);
}

TEST_CASE("decode treats a reg line whose room breaks the rules as chat", "[protocol]") {
  CHECK(std::holds_alternative<proto::Chat>(proto::decode_client("reg tok alice room.dot")));
  CHECK(std::holds_alternative<proto::Chat>(proto::decode_client("reg tok alice r/s")));
  CHECK(std::holds_alternative<proto::Chat>(
      proto::decode_client("reg tok alice " + std::string(33, 'r'))));
}

TEST_CASE("decode treats a reg line of another shape as chat", "[protocol]") {
  CHECK(as<proto::Chat>(proto::decode_client("reg a b c d")).text == "reg a b c d");
  CHECK(as<proto::Chat>(proto::decode_client("reg  tok")).text == "reg  tok");
  CHECK(as<proto::Chat>(proto::decode_client("reg tok bad/nick")).text == "reg tok bad/nick");
  CHECK(
      std::holds_alternative<proto::Chat>(proto::decode_client("reg tok " + std::string(33, 'n'))));
}

TEST_CASE("decode reads a private room's proof as the join's last field", "[protocol]") {
  const std::string proof = "+p1=" + std::string(43, 'V') + "." + std::string(86, 'S');
  const std::string with_repair =
      proto::encode_join("c00kie", "alice", "ops", 7, proto::kRepairVersion, proof);
  const auto message = proto::decode_client(with_repair);
  REQUIRE(std::holds_alternative<proto::Join>(message));
  const auto& join = std::get<proto::Join>(message);
  CHECK(join.room == "ops");
  CHECK(join.next_seq == 7);
  CHECK(join.proof == proof);
  const std::string without_repair =
      proto::encode_join("c00kie", "alice", "ops", std::nullopt, proto::kRepairVersion, proof);
  const auto plain = proto::decode_client(without_repair);
  REQUIRE(std::holds_alternative<proto::Join>(plain));
  CHECK(std::get<proto::Join>(plain).proof == proof);
  CHECK(std::get<proto::Join>(plain).repair == 0);
  // A proof of another shape is no join: chat, as an original server saw such a line.
  CHECK(std::holds_alternative<proto::Chat>(proto::decode_client("reg c00kie alice ops +p1=xyz")));
}

TEST_CASE("decode reads ping with a valid token and leaves other pings as chat", "[protocol]") {
  CHECK(as<proto::Ping>(proto::decode_client("ping abc-DEF_123")).token == "abc-DEF_123");
  CHECK(std::holds_alternative<proto::Chat>(proto::decode_client("ping")));
  CHECK(std::holds_alternative<proto::Chat>(proto::decode_client("ping a b")));
  CHECK(std::holds_alternative<proto::Chat>(proto::decode_client("ping " + std::string(33, 'a'))));
  CHECK(std::holds_alternative<proto::Ping>(proto::decode_client("ping " + std::string(32, 'a'))));
}

TEST_CASE("decode drops an empty datagram", "[protocol]") {
  CHECK(malformation("") == proto::Malformation::empty);
  CHECK(malformation(" \r\n\t") == proto::Malformation::empty);
}

TEST_CASE("decode drops a chat line longer than 1024 bytes after stripping", "[protocol]") {
  CHECK(std::holds_alternative<proto::Chat>(proto::decode_client(std::string(1024, 'x'))));
  CHECK(std::holds_alternative<proto::Chat>(
      proto::decode_client("  " + std::string(1024, 'x') + "\n")));
  CHECK(malformation(std::string(1025, 'x')) == proto::Malformation::too_long);
  CHECK(malformation(std::string(65507, 'x')) == proto::Malformation::too_long);
}

TEST_CASE("decode drops a chat line holding a newline", "[protocol]") {
  CHECK(malformation("hello\nack: 1.2.3.4 5\nforged") == proto::Malformation::control_character);
  CHECK(malformation("carriage\rreturn") == proto::Malformation::control_character);
  CHECK(malformation(std::string_view("nul\0byte", 8)) == proto::Malformation::control_character);
}

TEST_CASE("decode drops a chat line that is not valid UTF-8", "[protocol]") {
  CHECK(malformation("bad \xFF byte") == proto::Malformation::invalid_utf8);
  CHECK(malformation("cut \xE2\x82") == proto::Malformation::invalid_utf8);
}

TEST_CASE("an ack is byte-identical to the original server's format", "[protocol]") {
  std::string out;
  proto::encode_ack(out, "127.0.0.1", 40000, "", "hello world");
  CHECK(out == "ack: 127.0.0.1 40000\nhello world\n");
  proto::encode_ack(out, "::1", 5, "alice", "hi");
  CHECK(out == "ack: ::1 5 alice\nhi\n");
}

TEST_CASE("every server message decodes as it was encoded", "[protocol]") {
  std::string out;
  proto::encode_ack(out, "10.0.0.1", 1234, "bob", "text with spaces");
  const auto ack = as<proto::Ack>(proto::decode_server(out));
  CHECK(ack.ip == "10.0.0.1");
  CHECK(ack.port == 1234);
  CHECK(ack.nick == "bob");
  CHECK(ack.text == "text with spaces");

  proto::encode_ack(out, "fe80::1", 9, "", "x");
  const auto plain = as<proto::Ack>(proto::decode_server(out));
  CHECK(plain.ip == "fe80::1");
  CHECK(plain.nick.empty());

  proto::encode_welcome(out, "127.0.0.1", 777, "carol");
  const auto welcome = as<proto::Welcome>(proto::decode_server(out));
  CHECK(welcome.ip == "127.0.0.1");
  CHECK(welcome.port == 777);
  CHECK(welcome.nick == "carol");
  proto::encode_welcome(out, "::1", 778, "");
  CHECK(out == "welcome ::1 778");
  CHECK(as<proto::Welcome>(proto::decode_server(out)).nick.empty());
  proto::encode_welcome(out, "127.0.0.1", 779, "dave", "ops");
  CHECK(out == "welcome 127.0.0.1 779 dave ops");
  const auto in_room = as<proto::Welcome>(proto::decode_server(out));
  CHECK(in_room.nick == "dave");
  CHECK(in_room.room == "ops");
  CHECK(as<proto::Welcome>(proto::decode_server("welcome 127.0.0.1 779 dave")).room.empty());

  proto::encode_cookie(out, "Zz09_-");
  CHECK(out == "cookie Zz09_-");
  CHECK(as<proto::Cookie>(proto::decode_server(out)).token == "Zz09_-");

  proto::encode_pong(out, "tok");
  CHECK(out == "pong tok");
  CHECK(as<proto::Pong>(proto::decode_server(out)).token == "tok");

  CHECK(std::holds_alternative<proto::End>(proto::decode_server("end")));
  CHECK(std::holds_alternative<proto::End>(proto::decode_server("end\n")));
}

TEST_CASE("every client message encodes to what the decoder reads", "[protocol]") {
  CHECK(proto::encode_join("tok", "") == "reg tok");
  CHECK(proto::encode_join("tok", "nick") == "reg tok nick");
  CHECK(proto::encode_join("tok", "nick", "ops") == "reg tok nick ops");
  CHECK(as<proto::Join>(proto::decode_client(proto::encode_join("t", "n", "r"))).room == "r");
  CHECK(proto::encode_ping("abc") == "ping abc");
  CHECK(as<proto::Join>(proto::decode_client(proto::encode_join("t", "n"))).nick == "n");
  CHECK(as<proto::Ping>(proto::decode_client(proto::encode_ping("abc"))).token == "abc");
}

TEST_CASE("decode_server reports garbage as unknown", "[protocol]") {
  CHECK(std::holds_alternative<proto::Unknown>(proto::decode_server("")));
  CHECK(std::holds_alternative<proto::Unknown>(proto::decode_server("welcome 1.2.3.4")));
  CHECK(std::holds_alternative<proto::Unknown>(proto::decode_server("cookie a b")));
  CHECK(std::holds_alternative<proto::Unknown>(proto::decode_server("\xFF\xFE")));
}

TEST_CASE("decode_server refuses an ack or welcome whose fields break the rules", "[protocol]") {
  auto invalid = [](std::string_view datagram) {
    return std::holds_alternative<proto::Invalid>(proto::decode_server(datagram));
  };
  CHECK(invalid("ack: 1.2.3.4 x\nhi"));
  CHECK(invalid("ack: 1.2.3.4 80"));
  CHECK(invalid("ack: 1.2.3.4 99999\nhi"));
  CHECK(invalid("ack: 1.2.3.4 0\nhi"));
  CHECK(invalid("ack: 1.2.3.4 080\nhi"));
  CHECK(invalid("ack: \x1B[2J 80\nhi"));
  CHECK(
      invalid("ack: 1:2:3:4:5:6:7:8:9:a:b:c:d:e:f:1:2:3:4:5:6:7:8:9:a:b:c:d:e:f:1:2:3:4:5 80\nhi"));
  CHECK(invalid("ack: 1.2.3.4 80 " + std::string(60000, 'n') + "\nhi"));
  CHECK(invalid("ack: 1.2.3.4 80 \x1B]52;c;ZXZpbA==\x07\nhi"));
  CHECK(invalid("ack: 1.2.3.4 80\nclear \x1B[2J"));
  CHECK(invalid("ack: 1.2.3.4 80\nline\nack: 6.6.6.6 1\nforged"));
  CHECK(invalid("ack: 1.2.3.4 80\n\xE2\x80\xAEreversed"));
  CHECK(invalid("ack: 1.2.3.4 80\n" + std::string(1025, 'x')));
  CHECK(invalid("welcome 1.2.3.4 5 n r.x"));
  CHECK(invalid("welcome 1.2.3.4.5 5"));
  CHECK(invalid("welcome 1.2.3.4 0"));
  CHECK(invalid("welcome 1.2.3.4 5 bad/nick"));
}

TEST_CASE("decode_server reads the refusals a client must act on", "[protocol]") {
  CHECK(std::holds_alternative<proto::NotMember>(proto::decode_server("reg?")));
  CHECK(std::holds_alternative<proto::ServerFull>(proto::decode_server("full")));
  CHECK(std::holds_alternative<proto::NickTaken>(proto::decode_server("nick taken\n")));
  CHECK(std::holds_alternative<proto::RoomPrivate>(proto::decode_server("private")));
  CHECK(std::holds_alternative<proto::RoomOpen>(proto::decode_server("open room")));
  // Each fits the shortest datagram it answers.
  CHECK(proto::kNotMember.size() <= proto::kHeartbeat.size());
  CHECK(proto::encode_chat("k") == "k   ");
  CHECK(proto::encode_chat("long enough") == "long enough");
}

TEST_CASE("an IP address is a dotted quad or RFC 4291 text, nothing else", "[protocol]") {
  for (const char* good : {"127.0.0.1", "0.0.0.0", "255.255.255.255", "::", "::1", "fe80::1",
                           "2001:db8::8a2e:370:7334", "1:2:3:4:5:6:7:8", "::ffff:192.0.2.1",
                           "1::", "1:2:3:4:5:6::8", "64:ff9b::10.0.0.1"}) {
    CHECK(proto::is_ip_address(good));
  }
  for (const char* bad : {"",
                          "1.2.3",
                          "1.2.3.4.5",
                          "256.1.1.1",
                          "01.2.3.4",
                          "1.2.3.4 ",
                          "a.b.c.d",
                          ":",
                          ":::",
                          "1:2:3:4:5:6:7:8:9",
                          "1::2::3",
                          "12345::",
                          "g::1",
                          ":1::",
                          "1:2:3:4:5:6:7:1.2.3.4",
                          "1.2.3.4::",
                          "[::1]",
                          "fe80::1%eth0",
                          "::1/64",
                          "localhost"}) {
    CHECK_FALSE(proto::is_ip_address(bad));
  }
}

TEST_CASE("nick and token rules", "[protocol]") {
  CHECK(proto::is_nick("a"));
  CHECK(proto::is_nick(std::string(32, 'n')));
  CHECK_FALSE(proto::is_nick(std::string(33, 'n')));
  CHECK_FALSE(proto::is_nick(""));
  CHECK_FALSE(proto::is_nick("with space"));
  CHECK(proto::is_nick("a.b-c_d"));
  CHECK_FALSE(proto::is_ping_token("a.b"));
  CHECK(proto::is_room("lobby"));
  CHECK_FALSE(proto::is_room("a.b"));
  CHECK_FALSE(proto::is_room(""));
  CHECK_FALSE(proto::is_room(std::string(33, 'r')));
  CHECK(proto::is_cookie(std::string(64, 'c')));
  CHECK_FALSE(proto::is_cookie(std::string(65, 'c')));
}

TEST_CASE("the sealed ack names no address and reads back with its own mark", "[protocol]") {
  std::string out;
  proto::encode_sealed_ack(out, 7, 3, true, "alice", "hi there");
  CHECK(out == "ack 7 3 @me alice\nhi there\n");
  auto decoded = proto::decode_server(out);
  REQUIRE(std::holds_alternative<proto::Ack>(decoded));
  auto ack = std::get<proto::Ack>(decoded);
  CHECK(ack.own);
  CHECK(ack.ip.empty());
  CHECK(ack.room_seq == 7);
  CHECK(ack.sender_seq == 3);
  CHECK(ack.nick == "alice");
  CHECK(ack.text == "hi there");
  proto::encode_sealed_ack(out, 0, 0, false, "", "unnumbered, nameless");
  CHECK(out == "ack 0 0 @\nunnumbered, nameless\n");
  decoded = proto::decode_server(out);
  REQUIRE(std::holds_alternative<proto::Ack>(decoded));
  CHECK_FALSE(std::get<proto::Ack>(decoded).own);
  CHECK(std::get<proto::Ack>(decoded).room_seq == 0);
  // The rules hold as for every ack: a bad nick, an empty text, a fourth field.
  CHECK(std::holds_alternative<proto::Invalid>(proto::decode_server("ack 1 1 @ a/b\nx\n")));
  CHECK(std::holds_alternative<proto::Invalid>(proto::decode_server("ack 1 1 @me a\n")));
  CHECK(std::holds_alternative<proto::Invalid>(proto::decode_server("ack 1 1 @ a b\nx\n")));
  CHECK(std::holds_alternative<proto::Invalid>(proto::decode_server("ack 1 1 @you a\nx\n")));
}
