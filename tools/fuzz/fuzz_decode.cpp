// libFuzzer target: every decoder on raw bytes. Invariants, not just "no crash": whatever the
// decoder calls chat is relayable as it stands.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/bench_line.hpp"
#include "protocol/envelope.hpp"
#include "protocol/message.hpp"
#include "protocol/text.hpp"

namespace proto = udpchat::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto message = proto::decode_client(bytes);
  if (const auto* chat = std::get_if<proto::Chat>(&message)) {
    // A numbered line's text alone is held to the limit; its number has one spelling.
    if (chat->numbered) {
      if (chat->numbered->text.size() > proto::kMaxLineBytes) std::abort();
      if (proto::encode_numbered(chat->numbered->seq, chat->numbered->text) != chat->text) std::abort();
    }
    const std::size_t limit = chat->numbered ? proto::kMaxLineBytes + proto::kMaxNumberPrefixBytes
                                             : proto::kMaxLineBytes;
    if (chat->text.empty() || chat->text.size() > limit) std::abort();
    if (proto::check_text(chat->text) != proto::TextCheck::ok) std::abort();
    if (chat->text.find('\n') != std::string_view::npos) std::abort();
    // What a relay sends on, plain (a line within the limit) or numbered (a +r1 member's text),
    // reads back the same.
    if (chat->text.size() <= proto::kMaxLineBytes) {
      std::string ack;
      proto::encode_ack(ack, "255.255.255.255", 65535, std::string(32, 'n'), chat->text);
      const auto back = proto::decode_server(ack);
      const auto* decoded = std::get_if<proto::Ack>(&back);
      if (decoded == nullptr || decoded->text != chat->text) std::abort();
    }
    if (chat->numbered && !chat->numbered->text.empty()) {
      std::string ack;
      proto::encode_numbered_ack(ack, ~std::uint64_t{0} >> 1, chat->numbered->seq,
                                 "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535,
                                 std::string(32, 'n'), chat->numbered->text);
      const auto back = proto::decode_server(ack);
      const auto* decoded = std::get_if<proto::Ack>(&back);
      if (decoded == nullptr || decoded->text != chat->numbered->text ||
          decoded->sender_seq != chat->numbered->seq) {
        std::abort();
      }
    }
  }
  if (const auto* join = std::get_if<proto::Join>(&message)) {
    if (!proto::is_cookie(join->cookie)) std::abort();
    if (!join->nick.empty() && !proto::is_nick(join->nick)) std::abort();
    if (!join->room.empty() && (join->nick.empty() || !proto::is_room(join->room))) std::abort();
  }
  if (const auto* nack = std::get_if<proto::Nack>(&message)) {
    if (nack->from == 0 || nack->from > nack->to || nack->to - nack->from >= proto::kMaxNackLines) {
      std::abort();
    }
  }
  if (const auto* ping = std::get_if<proto::Ping>(&message)) {
    std::string pong;
    proto::encode_pong(pong, ping->token);
    if (pong.size() > size) std::abort();  // the reflection rule
  }
  (void)proto::decode_server(bytes);
  (void)proto::decode_bench_line(bytes);
  // An envelope from the engine: whatever passes builds an ack that reads back the same, with
  // the text on one line, so that no node can forge a second ack line for another.
  if (const auto envelope = proto::decode_envelope(bytes)) {
    if (!proto::is_node_id(envelope->node)) std::abort();
    if (envelope->text.find('\n') != std::string_view::npos) std::abort();
    std::string ack;
    proto::encode_ack(ack, envelope->ip, envelope->port, envelope->nick, envelope->text);
    const auto back = proto::decode_server(ack);
    const auto* decoded = std::get_if<proto::Ack>(&back);
    if (decoded == nullptr || decoded->text != envelope->text || decoded->nick != envelope->nick ||
        decoded->port != envelope->port) {
      std::abort();
    }
    std::string again;
    proto::encode_envelope(again, *envelope);
    if (again != bytes) std::abort();  // one encoding per envelope
  }
  (void)proto::subject_room(bytes);
  const std::string shown = proto::printable(bytes);
  if (proto::check_text(shown) != proto::TextCheck::ok) std::abort();
  return 0;
}
