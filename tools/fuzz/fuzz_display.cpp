// libFuzzer target: chat's display path on raw bytes (what a legacy server, or anyone forging
// one, can put in front of a reader). Invariants: what is shown is valid UTF-8 with no control,
// direction-changing or invisible character left in it, and showing it again changes nothing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/text.hpp"

namespace proto = udpchat::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string shown = proto::printable(bytes);
  if (proto::check_text(shown) != proto::TextCheck::ok && !shown.empty()) std::abort();
  if (proto::printable(shown) != shown) std::abort();
  return 0;
}
