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
  out.assign(envelope.seq == 0 ? kUnnumberedEnvelopeVersion : kEnvelopeVersion);
  out.push_back(' ');
  out.append(envelope.node);
  out.push_back(' ');
  if (envelope.seq != 0) {
    char seq[24];
    const auto [seq_end, seq_ec] = std::to_chars(seq, seq + sizeof seq, envelope.seq);
    out.append(seq, seq_end);
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
  if (version != kEnvelopeVersion && version != kUnnumberedEnvelopeVersion) return std::nullopt;
  envelope.node = next_field(header);
  if (version == kEnvelopeVersion) {
    const std::string_view seq = next_field(header);
    const auto [end, ec] = std::from_chars(seq.data(), seq.data() + seq.size(), envelope.seq);
    if (seq.empty() || seq.front() == '0' || ec != std::errc{} || end != seq.data() + seq.size()) {
      return std::nullopt;
    }
  }
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

std::string room_subject(std::string_view room) {
  std::string subject(kRoomSubjectPrefix);
  subject.append(room);
  return subject;
}

std::string_view subject_room(std::string_view subject) noexcept {
  if (!subject.starts_with(kRoomSubjectPrefix)) return {};
  const std::string_view room = subject.substr(kRoomSubjectPrefix.size());
  return is_room(room) ? room : std::string_view{};
}

}  // namespace udpchat::protocol
