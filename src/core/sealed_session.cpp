#include "core/sealed_session.hpp"

namespace udpchat::core {

namespace sealed = protocol::sealed;
namespace noise = protocol::noise;

void SealedSession::seal(std::string_view text, std::string& out) {
  sealed::encode_sealed_header(out, remote_, next_counter_);
  const std::size_t header = out.size();
  out.resize(header + text.size() + noise::kTagBytes);
  auto* at = reinterpret_cast<std::uint8_t*>(out.data());
  keys_.send.seal(next_counter_++, noise::ByteView(at, header), noise::as_bytes(text), at + header);
}

bool SealedSession::open(const sealed::Sealed& frame, std::string& out) {
  if (frame.receiver != local_ || !received_.fresh(frame.counter)) return false;
  out.resize(frame.cipher.size() - noise::kTagBytes);
  if (!keys_.receive.open(frame.counter, noise::as_bytes(frame.header),
                          noise::as_bytes(frame.cipher),
                          reinterpret_cast<std::uint8_t*>(out.data()))) {
    out.clear();
    return false;
  }
  received_.accept(frame.counter);
  return true;
}

}  // namespace udpchat::core
