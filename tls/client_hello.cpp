#include "tls/client_hello.hpp"

#include <string>

namespace trproxy::tls {
namespace {

constexpr std::uint8_t record_handshake = 22;
constexpr std::uint8_t handshake_client_hello = 1;
constexpr std::uint16_t extension_server_name = 0;
constexpr std::uint8_t name_type_host = 0;

// A bounds-checked reader over a byte range.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool u8(std::uint8_t& v) {
    if (data_.size() < 1) return false;
    v = static_cast<std::uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (data_.size() < 2) return false;
    v = static_cast<std::uint16_t>((static_cast<std::uint8_t>(data_[0]) << 8) | static_cast<std::uint8_t>(data_[1]));
    data_.remove_prefix(2);
    return true;
  }
  bool bytes(std::size_t n, std::string_view& out) {
    if (data_.size() < n) return false;
    out = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }
  bool skip(std::size_t n) {
    std::string_view ignored;
    return bytes(n, ignored);
  }
  bool vector8(std::string_view& out) {
    std::uint8_t n = 0;
    return u8(n) && bytes(n, out);
  }
  bool vector16(std::string_view& out) {
    std::uint16_t n = 0;
    return u16(n) && bytes(n, out);
  }
  [[nodiscard]] bool empty() const { return data_.empty(); }

 private:
  std::string_view data_;
};

HelloResult parse_client_hello_body(std::string_view body) {
  Reader r(body);
  std::string_view ignored;
  std::uint16_t legacy_version = 0;
  if (!r.u16(legacy_version) || !r.skip(32) || !r.vector8(ignored) || !r.vector16(ignored) || !r.vector8(ignored)) {
    return {HelloStatus::malformed, {}};
  }
  if (r.empty()) return {HelloStatus::no_sni, {}};  // no extensions at all (very old clients)
  std::string_view extensions;
  if (!r.vector16(extensions) || !r.empty()) return {HelloStatus::malformed, {}};
  // The whole block is read: a second server_name extension, or a second host name in it, makes
  // the destination ambiguous (a server may take the other one), so the hello is malformed
  // (RFC 8446 4.2 and RFC 6066 3 forbid both).
  Reader ext(extensions);
  bool seen_server_name = false;
  std::string_view host;
  while (!ext.empty()) {
    std::uint16_t type = 0;
    std::string_view data;
    if (!ext.u16(type) || !ext.vector16(data)) return {HelloStatus::malformed, {}};
    if (type != extension_server_name) continue;  // GREASE and everything else
    if (seen_server_name) return {HelloStatus::malformed, {}};
    seen_server_name = true;
    Reader sni(data);
    std::string_view list;
    if (!sni.vector16(list) || !sni.empty()) return {HelloStatus::malformed, {}};
    Reader names(list);
    while (!names.empty()) {
      std::uint8_t name_type = 0;
      std::string_view name;
      if (!names.u8(name_type) || !names.vector16(name)) return {HelloStatus::malformed, {}};
      if (name_type == name_type_host) {
        if (name.empty() || !host.empty()) return {HelloStatus::malformed, {}};
        host = name;
      }
    }
  }
  if (host.empty()) return {HelloStatus::no_sni, {}};
  return {HelloStatus::sni, std::string(host)};
}

}  // namespace

HelloResult peek_client_hello(std::string_view bytes) {
  if (bytes.empty()) return {HelloStatus::need_more, {}};
  if (static_cast<std::uint8_t>(bytes[0]) != record_handshake) return {HelloStatus::not_tls, {}};

  // The handshake message, gathered across records only when it spans more than one.
  std::string gathered;
  std::string_view first_fragment;
  std::size_t have = 0;
  std::size_t needed = 0;  // the whole message incl. its 4-byte header, once known
  Reader records(bytes);
  for (;;) {
    std::uint8_t type = 0;
    std::uint16_t version = 0;
    std::uint16_t length = 0;
    if (!records.u8(type) || !records.u16(version) || !records.u16(length)) return {HelloStatus::need_more, {}};
    if (type != record_handshake || (version >> 8) != 3 || length == 0 || length > max_tls_record_payload) {
      return {HelloStatus::malformed, {}};
    }
    std::string_view fragment;
    if (!records.bytes(length, fragment)) return {HelloStatus::need_more, {}};
    if (have == 0) {
      first_fragment = fragment;
    } else {
      if (gathered.empty()) gathered.assign(first_fragment);
      gathered.append(fragment);
    }
    have += fragment.size();
    const std::string_view message = gathered.empty() ? first_fragment : std::string_view(gathered);
    if (needed == 0 && have >= 4) {
      if (static_cast<std::uint8_t>(message[0]) != handshake_client_hello) return {HelloStatus::malformed, {}};
      needed = 4 + ((static_cast<std::size_t>(static_cast<std::uint8_t>(message[1])) << 16) |
                    (static_cast<std::size_t>(static_cast<std::uint8_t>(message[2])) << 8) |
                    static_cast<std::size_t>(static_cast<std::uint8_t>(message[3])));
      if (needed > max_client_hello_bytes) return {HelloStatus::malformed, {}};
      if (gathered.empty() && have < needed) gathered.reserve(needed);
    }
    if (needed != 0 && have >= needed) return parse_client_hello_body(message.substr(4, needed - 4));
  }
}

const char* to_string(HelloStatus status) {
  switch (status) {
    case HelloStatus::sni: return "sni";
    case HelloStatus::no_sni: return "no-sni";
    case HelloStatus::need_more: return "need-more";
    case HelloStatus::not_tls: return "not-tls";
    case HelloStatus::malformed: return "malformed";
  }
  return "malformed";
}

}  // namespace trproxy::tls
