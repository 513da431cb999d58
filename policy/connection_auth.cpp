#include "policy/connection_auth.hpp"

#include "policy/http_chars.hpp"

namespace trproxy::policy {

bool offers_connection_auth(std::string_view challenges) {
  // Each comma-separated item that starts a challenge begins with its scheme (RFC 9110 11.6.1);
  // parameters of other schemes only ever add items that are no bare NTLM/Negotiate token.
  std::size_t pos = 0;
  while (pos <= challenges.size()) {
    auto comma = challenges.find(',', pos);
    if (comma == std::string_view::npos) comma = challenges.size();
    auto item = challenges.substr(pos, comma - pos);
    while (!item.empty() && chars::is_ows(item.front())) item.remove_prefix(1);
    const auto scheme = item.substr(0, item.find(' '));
    if (chars::iequals(scheme, "NTLM") || chars::iequals(scheme, "Negotiate")) return true;
    pos = comma + 1;
  }
  return false;
}

bool requests_connection_auth(std::string_view head) {
  constexpr std::string_view name = "www-authenticate:";
  std::size_t pos = head.find('\n');  // past the status line
  while (pos != std::string_view::npos && pos + 1 < head.size()) {
    const auto begin = pos + 1;
    auto end = head.find('\n', begin);
    if (end == std::string_view::npos) end = head.size();
    auto line = head.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > name.size() && chars::iequals(line.substr(0, name.size()), name)) {
      auto value = line.substr(name.size());
      while (!value.empty() && chars::is_ows(value.front())) value.remove_prefix(1);
      if (offers_connection_auth(value)) return true;
    }
    pos = end;
  }
  return false;
}

}  // namespace trproxy::policy
