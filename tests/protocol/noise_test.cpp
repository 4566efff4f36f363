#include "protocol/noise.hpp"

#include <string>
#include <string_view>
#include <vector>

#include "support/catch.hpp"

namespace noise = udpchat::protocol::noise;
using noise::Bytes;
using noise::ByteView;

namespace {

Bytes unhex(std::string_view hex) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string hex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

Bytes text(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

// Noise_NK_25519_ChaChaPoly_BLAKE2b and Noise_NK_25519_AESGCM_BLAKE2b from cacophony's published
// vectors (haskell-cryptography/cacophony, vectors/cacophony.txt): fixed ephemeral keys, so every
// byte of every message is known. The keys, prologue and payloads are the same in both.
struct Message {
  std::string_view payload;
  std::string_view ciphertext;
};

struct Vector {
  noise::Cipher cipher;
  std::string_view handshake_hash;
  Message messages[6];
  std::string_view prologue = "4a6f686e2047616c74";
  std::string_view init_ephemeral =
      "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
  std::string_view resp_static = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
  std::string_view resp_ephemeral =
      "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";
};

const Vector kChaChaPoly{
    noise::Cipher::chacha_poly,
    "f87aa4eb6416e5b0d2b6e6f0b7bc41f3c5986a5d32d55c08d67cbd412f3ec2fa04d8e358ab95b3bbfab054a140a98e"
    "ccf4284bb6309b600981d451ecac484932",
    {
        {"4c756477696720766f6e204d69736573",
         "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944f3041e39b0c8ba56008f2d11"
         "83fea6ac83564ead0267b0842ec4c521ed1e1407"},
        {"4d757272617920526f746862617264",
         "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088432281dcc1835131f305dca145"
         "25e15e27d1f32294aa835e40fc18be480c1db9"},
        {"462e20412e20486179656b", "357e24e9f28ba22080666f7efacc01b2a0a4e358e742aeeff2aaf5"},
        {"4361726c204d656e676572", "8b23b34ff3169de06a39551e969ca7876cc5122a4acff74bf2ec29"},
        {"4a65616e2d426170746973746520536179",
         "5c104779b6f36e59fca73ed94b0ae092eae1d76dd109caf5060aaaedba385d7076"},
        {"457567656e2042f6686d20766f6e2042617765726b",
         "34ae0518d0cd3aa641ed372ea94935ceecd87f8c4b422ce21a33d3f6f5493891e3e915d83f"},
    }};

const Vector kAesGcm{
    noise::Cipher::aes_gcm,
    "048ff8ede89a0f5646775cda7fc6167b63403d10a95dc43364f849a4268d1fe32e70c71c1a4cc84015eeff2d1cb6"
    "391f99bab426829749d7a6cc2bfaeb5d3ad9",
    {
        {"4c756477696720766f6e204d69736573",
         "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79441a2fd66fb1397d8d7b7165ac"
         "fc695e7f26fd702eb0eeff8680b7a1c99a13ce09"},
        {"4d757272617920526f746862617264",
         "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843259947125be4dbd015e5f7fa"
         "1023d269f81c3ed76cc3a7712b0dc1cc255c64"},
        {"462e20412e20486179656b", "9cf7016579213e0c25d5e7676843bf99f4062cba40aa67fb6e78c5"},
        {"4361726c204d656e676572", "30e0e39dc24d5fee76a6225945e220817c394f7dabba439874cf04"},
        {"4a65616e2d426170746973746520536179",
         "5ae4a8839694d2f0895e5d6eb0aa68b68a231bc2db04f6bc97cd2e416c839a690d"},
        {"457567656e2042f6686d20766f6e2042617765726b",
         "40a95e70ac2c5f4a421bf580c3de4169a019fec1a63eb636c1ef0649306db8b9d16d2d2112"},
    }};

// The suites this machine can run (AESGCM needs the CPU's AES instructions).
std::vector<noise::Cipher> ciphers_here() {
  std::vector<noise::Cipher> out{noise::Cipher::chacha_poly};
  if (noise::available(noise::Cipher::aes_gcm)) out.push_back(noise::Cipher::aes_gcm);
  return out;
}

Bytes seal(const noise::TransportKey& key, std::uint64_t counter, ByteView plain) {
  Bytes out(plain.size() + noise::kTagBytes);
  key.seal(counter, {}, plain, out.data());
  return out;
}

}  // namespace

TEST_CASE("the NK handshake and its transport reproduce the published test vectors byte for byte",
          "[protocol][noise]") {
  const Vector& v = *GENERATE(&kChaChaPoly, &kAesGcm);
  CAPTURE(noise::protocol_name(v.cipher));
  if (!noise::available(v.cipher)) {
    WARN("this CPU has no AES instructions: the AESGCM vector is not checked here");
    return;
  }
  const auto responder_keys = noise::KeyPair::from_secret(unhex(v.resp_static));
  noise::Initiator initiator(v.cipher, responder_keys.public_key, unhex(v.prologue),
                             noise::KeyPair::from_secret(unhex(v.init_ephemeral)));
  noise::Responder responder(v.cipher, responder_keys, unhex(v.prologue));

  const Bytes first = initiator.write_first(unhex(v.messages[0].payload));
  CHECK(hex(first) == v.messages[0].ciphertext);
  Bytes payload;
  REQUIRE(responder.read_first(first, payload));
  CHECK(hex(payload) == v.messages[0].payload);

  Bytes second;
  const noise::Session relay = responder.write_second(
      noise::KeyPair::from_secret(unhex(v.resp_ephemeral)), unhex(v.messages[1].payload), second);
  CHECK(hex(second) == v.messages[1].ciphertext);
  const auto client = initiator.read_second(second, payload);
  REQUIRE(client);
  CHECK(hex(payload) == v.messages[1].payload);
  CHECK(hex(client->handshake_hash) == v.handshake_hash);
  CHECK(hex(relay.handshake_hash) == v.handshake_hash);

  // Transport: the counter is each direction's message number, as Noise's implicit nonce.
  for (std::uint64_t i = 2; i < 6; ++i) {
    const auto& message = v.messages[i];
    const bool from_client = i % 2 == 0;
    const std::uint64_t counter = (i - 2) / 2;
    const Bytes sealed =
        seal(from_client ? client->send : relay.send, counter, unhex(message.payload));
    CHECK(hex(sealed) == message.ciphertext);
    Bytes opened(sealed.size() - noise::kTagBytes);
    CHECK((from_client ? relay.receive : client->receive).open(counter, {}, sealed, opened.data()));
    CHECK(hex(opened) == message.payload);
  }
}

TEST_CASE("a first message altered in any byte does not open", "[protocol][noise]") {
  const noise::Cipher c = GENERATE(from_range(ciphers_here()));
  const auto relay_keys = noise::KeyPair::generate();
  noise::Initiator initiator(c, relay_keys.public_key, text("udpchat"), noise::KeyPair::generate());
  const Bytes first = initiator.write_first(text("reg alice ops"));
  for (std::size_t i = 0; i < first.size(); ++i) {
    Bytes altered = first;
    altered[i] ^= 0x01;
    noise::Responder responder(c, relay_keys, text("udpchat"));
    Bytes payload;
    CHECK_FALSE(responder.read_first(altered, payload));
    CHECK(payload.empty());
  }
  noise::Responder responder(c, relay_keys, text("udpchat"));
  Bytes payload;
  CHECK(responder.read_first(first, payload));
  CHECK(payload == text("reg alice ops"));
}

TEST_CASE("a relay with another static key cannot read the first message or answer it",
          "[protocol][noise]") {
  const noise::Cipher c = GENERATE(from_range(ciphers_here()));
  const auto pinned = noise::KeyPair::generate();
  const auto impostor = noise::KeyPair::generate();
  noise::Initiator initiator(c, pinned.public_key, {}, noise::KeyPair::generate());
  const Bytes first = initiator.write_first(text("hello"));
  noise::Responder wrong(c, impostor, {});
  Bytes payload;
  CHECK_FALSE(wrong.read_first(first, payload));
}

TEST_CASE("a second message forged or from another handshake leaves the client waiting",
          "[protocol][noise]") {
  const noise::Cipher c = GENERATE(from_range(ciphers_here()));
  const auto relay_keys = noise::KeyPair::generate();
  noise::Initiator initiator(c, relay_keys.public_key, {}, noise::KeyPair::generate());
  noise::Initiator other(c, relay_keys.public_key, {}, noise::KeyPair::generate());
  noise::Responder responder(c, relay_keys, {});
  noise::Responder other_responder(c, relay_keys, {});
  Bytes payload;
  REQUIRE(responder.read_first(initiator.write_first({}), payload));
  REQUIRE(other_responder.read_first(other.write_first({}), payload));
  Bytes answer;
  Bytes other_answer;
  const auto relay = responder.write_second(noise::KeyPair::generate(), text("welcome"), answer);
  other_responder.write_second(noise::KeyPair::generate(), text("welcome"), other_answer);

  CHECK_FALSE(initiator.read_second(other_answer, payload));  // meant for another client
  Bytes truncated(answer.begin(), answer.end() - 1);
  CHECK_FALSE(initiator.read_second(truncated, payload));
  const auto client = initiator.read_second(answer, payload);  // the real one still completes
  REQUIRE(client);
  CHECK(payload == text("welcome"));
  CHECK(client->handshake_hash == relay.handshake_hash);
}

TEST_CASE("a transport datagram opens only under its own counter, key and associated data",
          "[protocol][noise]") {
  const noise::Cipher c = GENERATE(from_range(ciphers_here()));
  const auto relay_keys = noise::KeyPair::generate();
  noise::Initiator initiator(c, relay_keys.public_key, {}, noise::KeyPair::generate());
  noise::Responder responder(c, relay_keys, {});
  Bytes payload;
  REQUIRE(responder.read_first(initiator.write_first({}), payload));
  Bytes answer;
  const auto relay = responder.write_second(noise::KeyPair::generate(), {}, answer);
  const auto client = initiator.read_second(answer, payload);
  REQUIRE(client);

  const Bytes line = text("the deploy is done");
  const Bytes header = text("\xfa\x01\x02");
  Bytes sealed(line.size() + noise::kTagBytes);
  client->send.seal(7, header, line, sealed.data());
  Bytes opened(line.size());
  CHECK(relay.receive.open(7, header, sealed, opened.data()));
  CHECK(opened == line);
  CHECK_FALSE(relay.receive.open(8, header, sealed, opened.data()));
  CHECK_FALSE(relay.receive.open(7, text("\xfa\x01\x03"), sealed, opened.data()));
  CHECK_FALSE(client->receive.open(7, header, sealed, opened.data()));  // the other direction
  CHECK_FALSE(relay.receive.open(7, header, ByteView(sealed).first(10), opened.data()));
}
