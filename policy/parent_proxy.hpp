#pragma once
// Talking to a parent HTTP proxy (DESIGN.md, upstream.proxy): the CONNECT request trproxy sends
// and the reading of the parent's answer. Pure: bytes in, a verdict out.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace trproxy::policy {

// The parent's reply head may not be longer than this (a CONNECT answer is a status line and a
// few fields; a parent's error page body is never read).
inline constexpr std::size_t parent_reply_max_bytes = 16 * 1024;

// "CONNECT host:port HTTP/1.1" with a matching Host field; IPv6 literals bracketed.
std::string parent_connect_request(std::string_view host, std::uint16_t port);

enum class ParentReplyStatus { need_more, complete, invalid };

struct ParentReply {
  ParentReplyStatus status = ParentReplyStatus::need_more;
  std::size_t length = 0;   // bytes of the head, up to and including the blank line
  int code = 0;             // the status code
  std::string status_text;  // "403 Forbidden": code and reason, visible ASCII only, at most 100 bytes
  [[nodiscard]] bool established() const { return code >= 200 && code <= 299; }
};

// Reads the parent's reply head at the start of `bytes` (bytes after it belong to the tunnel).
ParentReply parse_parent_reply(std::string_view bytes);

// The one-line 502 reason when the parent refused: "parent proxy refused CONNECT: 403 Forbidden".
std::string parent_refusal_reason(const ParentReply& reply);

}  // namespace trproxy::policy
