#include "protocol/bench_line.hpp"

#include <charconv>

namespace udpchat::protocol {

namespace {

template <class T>
void append_number(std::string& out, T value, int base = 10) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value, base);
  out.append(digits, end);
}

template <class T>
bool take_number(std::string_view& text, T& value, int base = 10) {
  const auto space = text.find(' ');
  const auto field = text.substr(0, space);
  if (field.empty()) return false;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value, base);
  if (ec != std::errc{} || end != field.data() + field.size()) return false;
  text.remove_prefix(space == std::string_view::npos ? text.size() : space + 1);
  return true;
}

}  // namespace

void encode_bench_line(std::string& out, const BenchLine& line, std::size_t size) {
  out.assign("bench ");
  append_number(out, line.run, 16);
  out.append(line.measured ? " m " : " w ");
  append_number(out, line.sender);
  out.push_back(' ');
  append_number(out, line.sequence);
  out.push_back(' ');
  append_number(out, line.intended_ns);
  if (out.size() + 1 < size) {
    out.push_back(' ');
    out.resize(size, 'x');
  }
}

std::optional<BenchLine> decode_bench_line(std::string_view text) noexcept {
  constexpr std::string_view kPrefix = "bench ";
  if (!text.starts_with(kPrefix)) return std::nullopt;
  text.remove_prefix(kPrefix.size());
  BenchLine line;
  if (!take_number(text, line.run, 16)) return std::nullopt;
  if (text.size() < 2 || (text[0] != 'm' && text[0] != 'w') || text[1] != ' ') return std::nullopt;
  line.measured = text[0] == 'm';
  text.remove_prefix(2);
  if (!take_number(text, line.sender) || !take_number(text, line.sequence)) return std::nullopt;
  const auto space = text.find(' ');
  std::string_view stamp = text.substr(0, space);
  if (!take_number(stamp, line.intended_ns)) return std::nullopt;
  return line;
}

}  // namespace udpchat::protocol
