#pragma once
// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) that a load
// balancer in `proxy_protocol.trusted` sends before the client's first byte, naming the real
// client. Pure parsing: bytes in, a verdict out; the session reads and consumes.

#include "config/cidr.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace trproxy::policy {

// Version 1 is one text line of at most 107 bytes (CRLF included).
inline constexpr std::size_t proxy_v1_max_bytes = 107;
// Version 2: a 16-byte fixed part; its length field announces up to 65535 more bytes.
inline constexpr std::size_t proxy_v2_fixed_bytes = 16;

enum class ProxyHeaderStatus { need_more, complete, invalid };

struct ProxyHeader {
  ProxyHeaderStatus status = ProxyHeaderStatus::need_more;
  int version = 0;         // 1 or 2 once known
  std::size_t length = 0;  // bytes the header takes (complete)
  // The client the load balancer names; nullopt when the header carries none on purpose (a v2
  // LOCAL command, the balancer's own health check; v1 UNKNOWN; v2 UNSPEC): the connection's
  // own peer is then the client.
  std::optional<config::IpAddress> client;
  std::uint16_t client_port = 0;
  std::string_view reason;  // invalid: why, one line
};

// Parses the header at the start of `bytes`. A v2 header longer than `max_bytes` is invalid
// (limits.max_head_bytes: the bound of any head a client may send first). need_more means every byte so far fits a
// header: read more.
ProxyHeader parse_proxy_header(std::string_view bytes, std::size_t max_bytes);

// True when `bytes` begin like a PROXY header of either version ("PROXY " or the start of the v2
// signature): what a peer outside proxy_protocol.trusted is refused for.
bool starts_like_proxy_header(std::string_view bytes);

}  // namespace trproxy::policy
