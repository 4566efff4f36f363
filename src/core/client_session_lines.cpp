// The session's line side: lines queued and sent (numbered with repair), moves between
// rooms, and the room's lines shown in order. Acknowledgements, resending and the window are
// in client_session_window.cpp.
#include <algorithm>
#include <utility>

#include "core/client_session.hpp"
#include "protocol/text.hpp"

namespace udpchat::core {

namespace proto = udpchat::protocol;
namespace room_key = udpchat::protocol::room_key;

using namespace std::chrono_literals;

// In a private room, what the sender sealed: the line's text, or why there is none.
room_key::Opened ClientSession::open_private(const proto::Ack& ack, std::string& text) const {
  room_key::OpenedLine opened =
      room_key::open_line(*room_keys_, config_.room, ack.nick, ack.sender_seq, ack.text);
  // A line of the epoch before, for a member that holds its key too.
  if (opened.what == room_key::Opened::other_key && previous_keys_) {
    opened = room_key::open_line(*previous_keys_, config_.room, ack.nick, ack.sender_seq, ack.text);
  }
  text = std::move(opened.text);
  return opened.what;
}

void ClientSession::on_ack(const proto::Ack& ack, TimePoint now) {
  if (ack.room_seq > 0) {
    on_numbered_ack(ack, now);
    return;
  }
  std::string opened;
  proto::Ack plain = ack;
  if (room_keys_) {
    const room_key::Opened why = open_private(ack, opened);
    if (why != room_key::Opened::ok) {
      ++unreadable_;
      events_.push_back(event::LinesUnreadable{1, why});
      return;
    }
    plain.text = opened;
  }
  on_plain_ack(plain);
}

void ClientSession::on_plain_ack(const proto::Ack& ack) {
  bool own = ack.own || (own_ && own_->first == ack.ip && own_->second == ack.port);
  const auto sent_end = lines_.begin() + static_cast<std::ptrdiff_t>(sent_);
  const auto line =
      std::find_if(lines_.begin(), sent_end, [&](const Line& l) { return l.text == ack.text; });
  // Without a welcome (an original server) our address is learnt from the echo of a line.
  if (!own_ && line != sent_end && state_ == SessionState::legacy) {
    own_.emplace(std::string(ack.ip), ack.port);
    own = true;
  }
  if (own && line != sent_end) {
    lines_.erase(line);
    --sent_;
    ++echoed_;
  }
  show(event::Message{std::string(ack.ip), ack.port, std::string(ack.nick), std::string(ack.text),
                      own, false});
}

// A numbered ack: our own line's echo acknowledges it by number; every line is shown in the
// room's order, once, whatever order it came in.
void ClientSession::on_numbered_ack(const proto::Ack& ack, TimePoint now) {
  if (!repair_) return;
  const bool own = ack.own || (own_ && own_->first == ack.ip && own_->second == ack.port);
  if (own && ack.sender_seq > 0) acknowledged(ack.sender_seq, now, true);
  RoomLine line;
  line.seq = ack.room_seq;
  line.ip.assign(ack.ip);
  line.port = ack.port;
  line.nick.assign(ack.nick);
  if (room_keys_) {
    line.opened = open_private(ack, line.text);
  } else {
    line.text.assign(ack.text);
  }
  line.sender_seq = ack.sender_seq;
  line.said_ms = ack.said_ms;
  line.own = own;
  stream_.on_line(std::move(line), now, ready_);
  show(ready_);
  tail_probe_at_ = now + kTailProbe;
}

void ClientSession::show(std::vector<RoomLine>& ready) {
  for (RoomLine& line : ready) {
    if (line.missed > 0) {
      events_.push_back(event::LinesMissed{line.missed});
      continue;
    }
    if (line.opened != room_key::Opened::ok) {
      ++unreadable_;
      events_.push_back(event::LinesUnreadable{1, line.opened});
      continue;
    }
    const bool own = line.own || (own_ && own_->first == line.ip && own_->second == line.port);
    show(event::Message{std::move(line.ip), line.port, std::move(line.nick), std::move(line.text),
                        own, line.history, line.said_ms});
  }
  ready.clear();
}

// A line without a number cannot be fetched again: while held, it is only counted.
void ClientSession::show(event::Message message) {
  if (holding_) {
    ++unshown_;
    return;
  }
  events_.push_back(std::move(message));
}

void ClientSession::hold_lines(bool hold, TimePoint now) {
  if (hold == holding_) return;
  holding_ = hold;
  stream_.hold(hold, now, ready_);
  if (hold) return;
  if (unshown_ > 0) events_.push_back(event::LinesMissed{std::exchange(unshown_, 0), true});
  show(ready_);
}

void ClientSession::send_line_datagram(Line& line, TimePoint now) {
  if (state_ == SessionState::legacy) {
    emit(line.text);
  } else {
    if (repair_ && line.seq == 0) line.seq = next_seq_++;
    // A private room's line is sealed by us for its members: the relay relays ciphertext.
    const std::string text =
        room_keys_ ? room_key::seal_line(*room_keys_, config_.room, nick_, line.seq, line.text)
                   : line.text;
    emit(repair_ ? proto::encode_numbered(line.seq, text) : proto::encode_chat(text));
  }
  line.sent_at = now;
  ++line.tries;
}

void ClientSession::fetch_history(std::uint64_t count, TimePoint now) {
  // Asked after a /join still under way: the room it goes to is the one meant, and its stream
  // starts only with its welcome.
  if (!moves_.empty()) {
    moves_.back().history = std::max(moves_.back().history, count);
    return;
  }
  show_history(count, now);
}

void ClientSession::show_history(std::uint64_t count, TimePoint now) {
  if (count == 0 || !repair_ || !stream_.active()) return;
  // The room's head, not the next line to show: lines still being fetched (an earlier
  // /history, a repair) are part of what the user asked to see.
  const std::uint64_t head = std::max(stream_.next() - 1, stream_.head());
  stream_.reset(head + 1 - std::min(count, head), head, head, now);
}

void ClientSession::drop_waiting(const std::function<bool(const Line&)>& drop, Unsent why) {
  event::LinesUnsent dropped{0, why, {}};
  for (auto it = lines_.begin() + static_cast<std::ptrdiff_t>(sent_); it != lines_.end();) {
    if (drop(*it)) {
      dropped.texts.push_back(std::move(it->text));
      it = lines_.erase(it);
    } else {
      ++it;
    }
  }
  if (dropped.texts.empty()) return;
  dropped.count = dropped.texts.size();
  unsent_ += dropped.count;
  events_.push_back(std::move(dropped));
}

void ClientSession::drop_lines_of(std::uint32_t epoch, Unsent why) {
  drop_waiting([epoch](const Line& line) { return line.epoch == epoch; }, why);
}

// The server turned out not to number lines: those that read as a protocol command cannot go.
void ClientSession::drop_unsendable() {
  drop_waiting([](const Line& line) { return line.needs_number; }, Unsent::needs_numbering);
}

std::vector<std::string> ClientSession::waiting_texts(std::size_t most) const {
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < lines_.size() && i < most; ++i) texts.push_back(lines_[i].text);
  return texts;
}

// Lines typed now are for the room of the last /join typed, or the room we are in.
std::uint32_t ClientSession::typing_epoch() const noexcept {
  return moves_.empty() ? epoch_ : moves_.back().epoch;
}

LineVerdict ClientSession::send_line(std::string_view text, TimePoint now) {
  const auto pieces =
      proto::split_text(text, room_keys_ ? room_key::kMaxPlainBytes : proto::kMaxLineBytes);
  if (pieces.empty()) return LineVerdict::empty;
  // All or nothing: half a refused line is not what was meant either.
  bool command = false;
  for (const auto piece : pieces) {
    switch (proto::check_text(piece)) {
      case proto::TextCheck::ok:
        break;
      case proto::TextCheck::invalid_utf8:
        return LineVerdict::invalid_utf8;
      case proto::TextCheck::format_character:
        return LineVerdict::format_character;
      case proto::TextCheck::control_character:
        return LineVerdict::control_character;
    }
    command = command || !std::holds_alternative<proto::Chat>(proto::decode_client(piece));
  }
  // Known already not to number lines: such a line is refused at once, not dropped later.
  if (command && (state_ == SessionState::legacy || (state_ == SessionState::joined && !repair_))) {
    return LineVerdict::needs_numbering;
  }
  if (state_ == SessionState::ended) return LineVerdict::accepted;
  if (lines_.size() + pieces.size() > config_.max_waiting) return LineVerdict::too_many_waiting;
  for (const auto piece : pieces) {
    const auto looks = proto::decode_client(piece);
    Line line{std::string(piece), typing_epoch(), !std::holds_alternative<proto::Chat>(looks)};
    line.offered = now;
    lines_.push_back(std::move(line));
  }
  flush(now);
  return LineVerdict::accepted;
}

void ClientSession::move_to(std::string_view room, TimePoint now) {
  if (state_ == SessionState::ended) return;
  if (state_ == SessionState::legacy) {
    events_.push_back(event::RoomRefused{std::string(room), Refusal::no_rooms});
    return;
  }
  moves_.push_back(Move{++latest_epoch_, std::string(room), 0});
  flush(now);
}

void ClientSession::flush(TimePoint now) {
  next_send_ = TimePoint::max();
  give_up_overdue(now);
  if (!is_member()) return;
  while (sent_ < lines_.size() && lines_[sent_].epoch == epoch_) {
    if (repair_ && sent_ >= window()) break;
    // The relay holds lines at most kReorderLines numbers ahead of a gap.
    if (repair_ && sent_ > 0) {
      std::uint64_t oldest = lines_[0].seq;
      for (std::size_t i = 1; i < sent_; ++i) oldest = std::min(oldest, lines_[i].seq);
      const std::uint64_t seq = lines_[sent_].seq != 0 ? lines_[sent_].seq : next_seq_;
      if (seq >= oldest + proto::kReorderLines) break;
    }
    if (!spend_token(now)) {
      next_send_ = token_at_;
      return;
    }
    send_line_datagram(lines_[sent_], now);
    ++sent_;
  }
  // Every line for this room is out, and with repair taken (a line resent after the move would
  // reach the new room): the next /join may go. Lines typed after it wait for its welcome, so
  // that none reaches the room being left.
  const bool room_waits = sent_ < lines_.size() && lines_[sent_].epoch == epoch_;
  const bool room_in_flight = repair_ && sent_ > 0;
  if (state_ == SessionState::joined && !moving_ && !moves_.empty() && !room_waits &&
      !room_in_flight) {
    moving_ = true;
    attempts_ = 0;
    request_cookie(now);
  }
}

}  // namespace udpchat::core
