#include "protocol/envelope.hpp"

#include <charconv>

#include "protocol/message.hpp"
#include "protocol/text.hpp"

namespace udpchat::protocol {

namespace {

// A decimal number without a leading zero (so that it has one spelling) up to `max`.
bool is_canonical_number(std::string_view s, unsigned max, unsigned& value) noexcept {
  if (s.empty() || (s.size() > 1 && s.front() == '0')) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc{} && end == s.data() + s.size() && value <= max;
}

// Takes the text up to the next space (or all of it) off the front of `s`.
std::string_view next_field(std::string_view& s) noexcept {
  const auto space = s.find(' ');
  const std::string_view field = s.substr(0, space);
  s = space == std::string_view::npos ? std::string_view{} : s.substr(space + 1);
  return field;
}

}  // namespace

// The same alphabet and length as a room name.
bool is_node_id(std::string_view id) noexcept {
  return is_room(id);
}

void encode_envelope(std::string& out, const Envelope& envelope) {
  const bool sender_numbered = envelope.seq != 0 && envelope.sender_seq != 0;
  out.assign(envelope.seq == 0 ? kUnnumberedEnvelopeVersion
             : sender_numbered ? kSenderNumberedEnvelopeVersion
                               : kEnvelopeVersion);
  out.push_back(' ');
  out.append(envelope.node);
  out.push_back(' ');
  for (const std::uint64_t number : {envelope.seq, sender_numbered ? envelope.sender_seq : 0}) {
    if (number == 0) continue;
    char digits[24];
    const auto [number_end, number_ec] = std::to_chars(digits, digits + sizeof digits, number);
    out.append(digits, number_end);
    out.push_back(' ');
  }
  out.append(envelope.ip);
  out.push_back(' ');
  char digits[8];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, envelope.port);
  out.append(digits, end);
  if (!envelope.nick.empty()) {
    out.push_back(' ');
    out.append(envelope.nick);
  }
  out.push_back('\n');
  out.append(envelope.text);
}

std::optional<Envelope> decode_envelope(std::string_view data) noexcept {
  const auto newline = data.find('\n');
  if (newline == std::string_view::npos) return std::nullopt;
  std::string_view header = data.substr(0, newline);
  // One space between fields, none at the end: one spelling per envelope.
  if (header.ends_with(' ') || header.find("  ") != std::string_view::npos) return std::nullopt;
  Envelope envelope;
  envelope.text = data.substr(newline + 1);

  const std::string_view version = next_field(header);
  const bool sender_numbered = version == kSenderNumberedEnvelopeVersion;
  if (version != kEnvelopeVersion && version != kUnnumberedEnvelopeVersion && !sender_numbered) {
    return std::nullopt;
  }
  envelope.node = next_field(header);
  auto number = [&](std::uint64_t& value) {
    const std::string_view digits = next_field(header);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    return !digits.empty() && digits.front() != '0' && ec == std::errc{} &&
           end == digits.data() + digits.size();
  };
  if (version != kUnnumberedEnvelopeVersion && !number(envelope.seq)) return std::nullopt;
  if (sender_numbered && !number(envelope.sender_seq)) return std::nullopt;
  envelope.ip = next_field(header);
  const std::string_view port = next_field(header);
  envelope.nick = next_field(header);
  if (!header.empty()) return std::nullopt;  // more fields than the format has

  // The same field rules as an ack: a client must be able to read what this envelope becomes.
  if (!is_node_id(envelope.node) || !is_ip_address(envelope.ip)) return std::nullopt;
  unsigned port_number = 0;
  if (!is_canonical_number(port, 65535, port_number) || port_number == 0) return std::nullopt;
  envelope.port = static_cast<std::uint16_t>(port_number);
  if (!envelope.nick.empty() && !is_nick(envelope.nick)) return std::nullopt;
  // The text is what a relay would have accepted as a chat line, already stripped.
  if (envelope.text.empty() || envelope.text.size() > kMaxLineBytes ||
      strip(envelope.text) != envelope.text || check_text(envelope.text) != TextCheck::ok) {
    return std::nullopt;
  }
  return envelope;
}

std::string room_topic(std::string_view room, std::string_view verifier) {
  std::string topic(room);
  if (!verifier.empty()) {
    topic.push_back('.');
    topic.append(verifier);
  }
  return topic;
}

std::optional<RoomTopic> parse_room_topic(std::string_view topic) noexcept {
  const auto dot = topic.find('.');
  RoomTopic parsed{topic.substr(0, dot), {}};
  if (dot != std::string_view::npos) parsed.verifier = topic.substr(dot + 1);
  if (!is_room(parsed.room) || (dot != std::string_view::npos && !is_key(parsed.verifier))) {
    return std::nullopt;
  }
  return parsed;
}

std::string room_subject(std::string_view topic) {
  std::string subject(kRoomSubjectPrefix);
  subject.append(topic);
  return subject;
}

std::string_view subject_room(std::string_view subject) noexcept {
  if (!subject.starts_with(kRoomSubjectPrefix)) return {};
  const std::string_view topic = subject.substr(kRoomSubjectPrefix.size());
  return parse_room_topic(topic) ? topic : std::string_view{};
}

}  // namespace udpchat::protocol
