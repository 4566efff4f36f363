// libFuzzer target: the client session (core::ClientSession) driven by a byte stream read as
// steps of
//   [op] [time step, ms] [length] [bytes...]
// op 0: a datagram from the server (the bytes); op 1: a line typed (the bytes); op 2: /join of
// a room named by the first byte; op 3: a cookie and a welcome, as a server would answer;
// op 4: only time passes; op 5: leave.
// After every step: nothing sent is over a datagram's size or anything but a client message the
// relay reads as intended; lines waiting never pass the bound; once its timers have run, the
// session's next deadline is in the future (an I/O shell waiting on it never spins).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "core/client_session.hpp"
#include "protocol/message.hpp"

namespace core = udpchat::core;
namespace proto = udpchat::protocol;

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  core::SessionConfig config;
  config.nick = (data[0] & 1) ? "fuzz" : "";
  config.room = (data[0] & 3) == 3 ? "ops" : "";
  config.hb_interval = std::chrono::milliseconds(200);
  config.max_waiting = 8;
  config.hint = static_cast<core::ServerKind>((data[0] >> 2) % 3);
  core::TimePoint now{std::chrono::hours(1)};
  core::ClientSession session(config, now);
  std::uint64_t cookies = 0;

  std::size_t at = 1;
  while (at + 3 <= size) {
    const std::uint8_t op = data[at] % 6;
    now += std::chrono::milliseconds(data[at + 1] * 8);
    const std::size_t length = std::min<std::size_t>(data[at + 2] * 8u, size - at - 3);
    const std::string_view bytes(reinterpret_cast<const char*>(data + at + 3), length);
    at += 3 + length;

    switch (op) {
      case 0: session.on_datagram(bytes, now); break;
      case 1: (void)session.send_line(bytes, now); break;
      case 2:
        if (!config.nick.empty() && session.state() != core::SessionState::legacy) {
          session.move_to(bytes.empty() || (bytes[0] & 1) ? "ops" : "lobby", now);
        }
        break;
      case 3:
        session.on_datagram("cookie C" + std::to_string(++cookies), now);
        session.on_datagram("welcome 10.0.0.1 4242" +
                                (config.nick.empty() ? std::string() : " " + config.nick) +
                                (bytes.empty() || (bytes[0] & 1) ? " ops" : ""),
                            now);
        break;
      case 4: session.hold_lines(!session.holding_lines(), now); break;
      case 5: session.leave(); break;
    }
    if (session.deadline() <= now) session.on_timer(now);
    check(session.state() == core::SessionState::ended || session.deadline() > now);
    check(session.waiting() <= config.max_waiting);
    for (const auto& datagram : session.take_datagrams()) {
      check(!datagram.empty() && datagram.size() <= proto::kMaxLineBytes);
      const auto message = proto::decode_client(datagram);
      check(!std::holds_alternative<proto::Malformed>(message));
      if (const auto* chat = std::get_if<proto::Chat>(&message)) {
        // A chat line is never so short that a notice could not answer it, in udpchat mode.
        check(session.state() == core::SessionState::legacy ||
              datagram.size() >= proto::kNotMember.size());
        check(chat->text.size() <= proto::kMaxLineBytes);
      }
    }
    // While the output is held, no room line is shown.
    for (const auto& event : session.take_events()) {
      check(!session.holding_lines() || !std::holds_alternative<core::event::Message>(event));
    }
  }
  return 0;
}
