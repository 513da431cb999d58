#include "policy/parent_proxy.hpp"

#include "policy/authority.hpp"

namespace trproxy::policy {
namespace {

constexpr std::size_t max_status_text = 100;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

std::string parent_connect_request(std::string_view host, std::uint16_t port) {
  const auto authority = format_authority(host, port);
  return "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n";
}

ParentReply parse_parent_reply(std::string_view bytes) {
  ParentReply out;
  const auto window = bytes.substr(0, parent_reply_max_bytes);
  const auto end = window.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (bytes.size() >= parent_reply_max_bytes) out.status = ParentReplyStatus::invalid;
    // A status line that is already wrong need not wait for the rest.
    const auto probe = window.substr(0, 9);
    if (std::string_view("HTTP/1.").substr(0, probe.size()) != probe.substr(0, 7)) {
      out.status = ParentReplyStatus::invalid;
    }
    return out;
  }
  out.length = end + 4;
  const auto line = window.substr(0, window.find("\r\n"));
  // "HTTP/1.x DDD[ reason]"
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
      !is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]) || (line.size() > 12 && line[12] != ' ')) {
    out.status = ParentReplyStatus::invalid;
    return out;
  }
  out.code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  for (char c : line.substr(9)) {
    if (out.status_text.size() == max_status_text) break;
    out.status_text += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  while (!out.status_text.empty() && out.status_text.back() == ' ') out.status_text.pop_back();
  out.status = ParentReplyStatus::complete;
  return out;
}

std::string parent_refusal_reason(const ParentReply& reply) {
  if (reply.status != ParentReplyStatus::complete) return "parent proxy sent an unreadable answer to CONNECT";
  return "parent proxy refused CONNECT: " + reply.status_text;
}

}  // namespace trproxy::policy
