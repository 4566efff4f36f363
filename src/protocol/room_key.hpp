// A private room's key: 32 random bytes that only the room's members hold (`udpchat keygen`).
// Each line is sealed by its sender with it, end to end: the relay, its window, repair and the
// nodes it shares the room with keep and forward ciphertext only. What a line is bound to (its
// associated data) is the room's name, the key's id, the sender's nick and the sender's number
// for the line, so that the relay can neither move a line to another room nor attribute it to
// another member. Pure: libsodium's XChaCha20-Poly1305 (random 24-byte nonces), BLAKE2b and
// Argon2id; no sockets, no clock.
//
// A member proves to the relay that it holds the key without giving it away: an Ed25519 key pair
// derived from the room key (the same for every holder) signs the join's cookie, room and nick,
// and the relay checks the signature against the room's verifier, the pair's public half.
//
//   a sealed line, as chat text:  ~1 <key id, 11 chars> <base64url(nonce | ciphertext | tag)>
//   a join's proof, last field:   +p1=<verifier, 43 chars>.<signature, 86 chars>
//   a key change, after it:       +h1=<previous verifier>.<signature by the previous key>
//
// A new key makes a new epoch: a join that proves the new key and hands over with the room's
// current one moves the room to the new verifier; members on the old key are then told.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/noise.hpp"

namespace udpchat::protocol::room_key {

// How the key is written (a file from keygen, UDPCHAT_ROOM_KEY): this prefix, then 43 characters
// of URL-safe base64.
inline constexpr std::string_view kKeyPrefix = "udpchat-room-key-1:";
inline constexpr std::string_view kLinePrefix = "~1 ";
inline constexpr std::size_t kIdChars = 11;  // 8 bytes of BLAKE2b, base64url
// The most text one sealed line carries: what fits in a chat line (kMaxLineBytes) once sealed
// and written in base64. Longer lines are split before they are sealed.
inline constexpr std::size_t kMaxPlainBytes = 700;
inline constexpr std::string_view kProofPrefix = "+p1=";
inline constexpr std::string_view kHandoverPrefix = "+h1=";
// How a verifier is written for an operator (keygen --verifier, serve --rooms).
inline constexpr std::string_view kVerifierPrefix = "udpchat-room-verifier-1:";
inline constexpr std::size_t kVerifierChars = 43;   // 32 bytes, base64url
inline constexpr std::size_t kSignatureChars = 86;  // 64 bytes, base64url
inline constexpr std::size_t kProofChars =
    kProofPrefix.size() + kVerifierChars + 1 + kSignatureChars;

// The keys one room's members derive from the room key.
struct RoomKeys {
  std::string id;                // which key sealed a line: a member with another says so
  protocol::noise::Secret line;  // seals and opens lines
  // Signs joins (Ed25519, libsodium's 64-byte form); `verifier` is its public half, written.
  std::array<std::uint8_t, 64> signer{};
  std::string verifier;
};

class RoomKey {
 public:
  static RoomKey generate();
  // The written form (kKeyPrefix and 43 characters, surrounding white space ignored).
  static std::optional<RoomKey> parse(std::string_view text);
  // Argon2id at libsodium's moderate limits (256 MiB, about a second), salted with the room's
  // name: the same passphrase gives each room another key.
  static std::optional<RoomKey> from_passphrase(std::string_view passphrase, std::string_view room);

  std::string format() const;
  RoomKeys for_room(std::string_view room) const;

 private:
  protocol::noise::Secret key_;
};

// `text` (at most kMaxPlainBytes) as the line `seq` of `nick` in `room`; seq 0 for a line
// that is not numbered.
std::string seal_line(const RoomKeys& keys, std::string_view room, std::string_view nick,
                      std::uint64_t seq, std::string_view text);

enum class Opened : std::uint8_t {
  ok,
  not_sealed,  // plain text: in a private room, not a member's line
  other_key,   // sealed under another key (an old epoch, or a key this member does not hold)
  forged,      // under this key's id but it does not open: altered, moved or misattributed
};

struct OpenedLine {
  Opened what = Opened::not_sealed;
  std::string text;  // when ok
};

OpenedLine open_line(const RoomKeys& keys, std::string_view room, std::string_view nick,
                     std::uint64_t seq, std::string_view line);

// The proof a join of `nick` to `room` with `cookie` carries: kProofPrefix, the verifier, '.'
// and the signature. The cookie ties it to one address for a short while: a copy is worth
// nothing elsewhere or later.
std::string join_proof(const RoomKeys& keys, std::string_view room, std::string_view cookie,
                       std::string_view nick);

// A proof as a join carries it, split; nullopt when it is not one's shape.
struct JoinProof {
  std::string_view verifier;
  std::string_view signature;
};
std::optional<JoinProof> parse_join_proof(std::string_view field) noexcept;
// The same shape after kHandoverPrefix.
std::optional<JoinProof> parse_handover(std::string_view field) noexcept;
// Whether the signature is the verifier's over this join.
bool check_join_proof(const JoinProof& proof, std::string_view room, std::string_view cookie,
                      std::string_view nick);

// The room's key changes from `previous` to the key whose verifier is `next`: signed with the
// previous key, for this join (room, cookie) only.
std::string handover(const RoomKeys& previous, std::string_view room, std::string_view cookie,
                     std::string_view next);
bool check_handover(const JoinProof& handover, std::string_view room, std::string_view cookie,
                    std::string_view next);

}  // namespace udpchat::protocol::room_key
