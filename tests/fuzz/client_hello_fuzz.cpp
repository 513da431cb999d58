// libFuzzer target for the ClientHello peek.
//
// 1. The input as wire bytes: never crashes, never reads past its input, and a server name it
//    reports is non-empty.
// 2. The input as a handshake message re-framed into TLS records (DESIGN: "The ClientHello is
//    read whole", across any number of records, up to 64 KiB): the answer does not depend on how
//    the message is cut into records, nor on the record versions, nor on bytes after it; and a
//    client feeding it piece by piece gets need_more until the answer, then that same answer.
//
// Layout of the input for (2): 4 control bytes, then the payload.
//   control[0] bit 0: the payload is a whole handshake message (its own 4-byte header, any
//                     length field); otherwise it is a ClientHello body and the header is made
//                     here with the right length
//   control[1..3]:    the seed of the record sizes and versions
// tests/fuzz/corpus/client_hello/framed_* are seeds in this layout (real hellos, one padded to
// 40 KiB); scripts/fuzz.sh runs this target with -max_len above 64 KiB.

#include "tls/client_hello.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using trproxy::tls::HelloResult;
using trproxy::tls::HelloStatus;

void check_plain(const HelloResult& result) {
  if (result.status == HelloStatus::sni && result.host.empty()) std::abort();
  if (result.status != HelloStatus::sni && !result.host.empty()) std::abort();
}

bool same(const HelloResult& a, const HelloResult& b) {
  return a.status == b.status && a.host == b.host;
}

// A small deterministic generator seeded by the input, so a crash reproduces.
class Rng {
 public:
  explicit Rng(std::uint32_t seed) : state_(seed * 2654435761u + 0x9e3779b9u) {}
  std::uint32_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }
  std::uint32_t below(std::uint32_t n) { return next() % n; }

 private:
  std::uint32_t state_;
};

struct Framed {
  std::string wire;
  std::vector<std::size_t> record_starts;
};

void append_record(Framed& out, std::string_view fragment, std::uint8_t version_minor) {
  out.record_starts.push_back(out.wire.size());
  out.wire += static_cast<char>(22);
  out.wire += static_cast<char>(3);
  out.wire += static_cast<char>(version_minor);
  out.wire += static_cast<char>(fragment.size() >> 8);
  out.wire += static_cast<char>(fragment.size() & 0xff);
  out.wire += fragment;
}

// The way clients send it: 16 KiB records, TLS 1.0 record version.
Framed canonical(std::string_view message) {
  Framed out;
  for (std::size_t at = 0; at < message.size(); at += trproxy::tls::max_tls_record_payload) {
    append_record(out, message.substr(at, trproxy::tls::max_tls_record_payload), 1);
  }
  return out;
}

// Record sizes from 1 byte to 16 KiB, and record versions 3.0 to 3.4, chosen by `rng`.
Framed reframed(std::string_view message, Rng& rng) {
  Framed out;
  std::size_t at = 0;
  while (at < message.size()) {
    std::size_t size = 0;
    switch (rng.below(6)) {
      case 0: size = 1 + rng.below(5); break;  // splits inside the handshake header
      case 1: size = 1 + rng.below(64); break;
      case 2: size = 1 + rng.below(2048); break;
      case 3: size = 1 + rng.below(trproxy::tls::max_tls_record_payload); break;
      default: size = trproxy::tls::max_tls_record_payload; break;
    }
    // At most ~256 records, so a 64 KiB message stays cheap to check.
    size = std::max(size, message.size() / 256);
    size = std::min(size, trproxy::tls::max_tls_record_payload);
    append_record(out, message.substr(at, size), static_cast<std::uint8_t>(rng.below(5)));
    at += size;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check_plain(trproxy::tls::peek_client_hello(bytes));
  if (size < 4) return 0;

  const bool whole_message = (data[0] & 1) != 0;
  Rng rng((static_cast<std::uint32_t>(data[1]) << 16) | (static_cast<std::uint32_t>(data[2]) << 8) | data[3]);
  const auto payload = bytes.substr(4);
  std::string message;
  if (whole_message) {
    message.assign(payload);
  } else {
    message += static_cast<char>(1);  // client_hello
    message += static_cast<char>((payload.size() >> 16) & 0xff);
    message += static_cast<char>((payload.size() >> 8) & 0xff);
    message += static_cast<char>(payload.size() & 0xff);
    message += payload;
  }

  const auto reference = canonical(message);
  const auto expected = trproxy::tls::peek_client_hello(reference.wire);
  check_plain(expected);
  const bool answered = expected.status != HelloStatus::need_more;

  // Any record split and record versions: the same answer.
  const auto framed = reframed(message, rng);
  const auto result = trproxy::tls::peek_client_hello(framed.wire);
  if (!same(result, expected)) std::abort();

  // Bytes after the hello (the client's next record) change nothing once it is answered.
  if (answered &&
      !same(trproxy::tls::peek_client_hello(framed.wire + std::string("\x17\x03\x03\x00\x01x", 6)), expected)) {
    std::abort();
  }

  // Fed incrementally: at every record boundary (sampled down to 64 of them), inside the record
  // headers and at a few random cuts. An answer given early must be the final answer; a whole,
  // well-formed hello that exactly fills its records answers nothing before its last byte.
  std::vector<std::size_t> cuts;
  const std::size_t stride = framed.record_starts.size() / 64 + 1;
  for (std::size_t i = 0; i < framed.record_starts.size(); i += stride) {
    const auto start = framed.record_starts[i];
    for (std::size_t d = 0; d <= 5; ++d) cuts.push_back(start + d);
  }
  for (int i = 0; i < 8 && !framed.wire.empty(); ++i)
    cuts.push_back(rng.below(static_cast<std::uint32_t>(framed.wire.size())));
  if (!framed.wire.empty()) cuts.push_back(framed.wire.size() - 1);
  const bool fills_records = !whole_message;  // the header's length is the payload's
  for (const auto cut : cuts) {
    if (cut >= framed.wire.size()) continue;
    const auto partial = trproxy::tls::peek_client_hello(std::string_view(framed.wire).substr(0, cut));
    check_plain(partial);
    if (partial.status == HelloStatus::need_more) continue;
    if (!same(partial, expected)) std::abort();
    if (fills_records && (expected.status == HelloStatus::sni || expected.status == HelloStatus::no_sni)) std::abort();
  }
  return 0;
}
