// Every datagram of the wire protocol encoded, original and +r1 forms (decoded in
// message.cpp). Those on the relay's hot path overwrite a caller-owned buffer.
#include <charconv>

#include "protocol/message.hpp"

namespace udpchat::protocol {

namespace {

std::string_view repair_tag(std::uint8_t version) noexcept {
  return version >= 2 ? kTimedRepairTag : kRepairTag;
}

void append_number(std::string& out, std::uint64_t value) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, end);
}

void append_port(std::string& out, std::uint16_t port) {
  char digits[8];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, port);
  out.append(digits, end);
}

// Who a line is from or a welcome is for, as both write it: `<ip> <port>[ <nick>]`.
void append_member(std::string& out, std::string_view ip, std::uint16_t port,
                   std::string_view nick) {
  out.append(ip);
  out.push_back(' ');
  append_port(out, port);
  if (!nick.empty()) {
    out.push_back(' ');
    out.append(nick);
  }
}

// What follows an ack's head in both forms: `<ip> <port>[ <nick>]\n<text>\n`.
void append_ack_body(std::string& out, std::string_view ip, std::uint16_t port,
                     std::string_view nick, std::string_view text) {
  append_member(out, ip, port, nick);
  out.push_back('\n');
  out.append(text);
  out.push_back('\n');
}

}  // namespace

void encode_ack(std::string& out, std::string_view ip, std::uint16_t port, std::string_view nick,
                std::string_view text) {
  out.assign("ack: ");
  append_ack_body(out, ip, port, nick, text);
}

void encode_welcome(std::string& out, std::string_view ip, std::uint16_t port,
                    std::string_view nick, std::string_view room) {
  out.assign("welcome ");
  append_member(out, ip, port, nick);
  if (!room.empty()) {
    out.push_back(' ');
    out.append(room);
  }
}

void encode_repair_welcome(std::string& out, std::string_view ip, std::uint16_t port,
                           std::string_view nick, std::string_view room, std::uint64_t head,
                           std::uint32_t stream, std::uint8_t version) {
  encode_welcome(out, ip, port, nick, room);
  out.push_back(' ');
  out.append(repair_tag(version));
  out.push_back(' ');
  append_number(out, head);
  out.push_back(' ');
  append_number(out, stream);
}

void encode_cookie(std::string& out, std::string_view token, std::uint8_t repair,
                   std::string_view sealed_key, std::uint8_t sealed_suite) {
  out.assign("cookie ");
  out.append(token);
  if (repair > 0) {
    out.push_back(' ');
    out.append(repair_tag(repair));
  }
  if (!sealed_key.empty()) {
    out.push_back(' ');
    out.append(kSealedTagPrefix);
    out.push_back(static_cast<char>('0' + sealed_suite));
    out.push_back('=');
    out.append(sealed_key);
  }
}

void encode_numbered_ack(std::string& out, std::uint64_t room_seq, std::uint64_t sender_seq,
                         std::string_view ip, std::uint16_t port, std::string_view nick,
                         std::string_view text) {
  out.assign("ack ");
  append_number(out, room_seq);
  out.push_back(' ');
  append_number(out, sender_seq);
  out.push_back(' ');
  append_ack_body(out, ip, port, nick, text);
}

void encode_sealed_ack(std::string& out, std::uint64_t room_seq, std::uint64_t sender_seq, bool own,
                       std::string_view nick, std::string_view text) {
  out.assign("ack ");
  append_number(out, room_seq);
  out.push_back(' ');
  append_number(out, sender_seq);
  out.append(own ? " @me" : " @");
  if (!nick.empty()) {
    out.push_back(' ');
    out.append(nick);
  }
  out.push_back('\n');
  out.append(text);
  out.push_back('\n');
}

namespace {
void encode_pair(std::string& out, std::string_view word, std::uint64_t a, std::uint64_t b) {
  out.assign(word);
  out.push_back(' ');
  append_number(out, a);
  out.push_back(' ');
  append_number(out, b);
}
}  // namespace

void encode_got(std::string& out, std::uint64_t seq, std::uint64_t room_seq) {
  encode_pair(out, "got", seq, room_seq);
}
void encode_want(std::string& out, std::uint64_t seq) {
  out.assign("want ");
  append_number(out, seq);
}
void encode_head(std::string& out, std::uint64_t room_seq) {
  out.assign("head ");
  append_number(out, room_seq);
}
void encode_missed(std::string& out, std::uint64_t from, std::uint64_t to) {
  encode_pair(out, "missed", from, to);
}
void encode_gap(std::string& out, std::uint64_t room_seq, std::uint64_t count) {
  encode_pair(out, "gap", room_seq, count);
}
void encode_timed(std::string& out, std::int64_t said_ms, std::string_view numbered_ack) {
  out.assign("at ");
  append_number(out, static_cast<std::uint64_t>(said_ms));
  out.push_back(' ');
  out.append(numbered_ack);
}

void encode_pong(std::string& out, std::string_view token) {
  out.assign("pong ");
  out.append(token);
}

std::string encode_cookie_request() {
  std::string out(kRegister);
  out.resize(kCookieRequestBytes, ' ');
  return out;
}

std::string encode_sealed_cookie_request(std::uint8_t suite) {
  std::string out(kRegister);
  out.resize(suite >= 2 ? kSealedAesCookieRequestBytes : kSealedCookieRequestBytes, ' ');
  return out;
}

std::string encode_extended_cookie_request(std::uint8_t version) {
  std::string out(kRegister);
  out.resize(version >= 2 ? kTimedCookieRequestBytes : kExtendedCookieRequestBytes, ' ');
  return out;
}

std::string encode_numbered(std::uint64_t seq, std::string_view text) {
  std::string out("#");
  append_number(out, seq);
  if (!text.empty()) {
    out.push_back(' ');
    out.append(text);
  }
  return out;
}

std::string encode_nack(std::uint64_t from, std::uint64_t to) {
  std::string out;
  encode_pair(out, "nack", from, to);
  return out;
}

std::string encode_join(std::string_view cookie, std::string_view nick, std::string_view room,
                        std::optional<std::uint64_t> next_seq, std::uint8_t version,
                        std::string_view proof) {
  std::string out(kRegister);
  out.push_back(' ');
  out.append(cookie);
  if (!nick.empty()) {
    out.push_back(' ');
    out.append(nick);
  }
  if (!room.empty()) {
    out.push_back(' ');
    out.append(room);
  }
  if (next_seq) {
    out.push_back(' ');
    out.append(repair_tag(version));
    out.push_back(' ');
    append_number(out, *next_seq);
  }
  if (!proof.empty()) {
    out.push_back(' ');
    out.append(proof);
  }
  return out;
}

std::string encode_ping(std::string_view token) {
  std::string out("ping ");
  out.append(token);
  return out;
}

std::string encode_chat(std::string_view text) {
  std::string out(text);
  if (out.size() < kNotMember.size()) out.resize(kNotMember.size(), ' ');
  return out;
}

}  // namespace udpchat::protocol
