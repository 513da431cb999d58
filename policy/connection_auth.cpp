#include "policy/connection_auth.hpp"

#include "policy/http_chars.hpp"

namespace trproxy::policy {
namespace {

bool is_connection_scheme(std::string_view scheme) {
  return chars::iequals(scheme, "NTLM") || chars::iequals(scheme, "Negotiate");
}

}  // namespace

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
    if (is_connection_scheme(scheme)) return true;
    pos = comma + 1;
  }
  return false;
}

namespace {

// True when a field named `name` (with its colon, lower case) of a validated head has a value
// that `offers` accepts.
template <class Predicate>
bool any_field(std::string_view head, std::string_view name, Predicate offers) {
  std::size_t pos = head.find('\n');  // past the start line
  while (pos != std::string_view::npos && pos + 1 < head.size()) {
    const auto begin = pos + 1;
    auto end = head.find('\n', begin);
    if (end == std::string_view::npos) end = head.size();
    auto line = head.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > name.size() && chars::iequals(line.substr(0, name.size()), name)) {
      auto value = line.substr(name.size());
      while (!value.empty() && chars::is_ows(value.front())) value.remove_prefix(1);
      if (offers(value)) return true;
    }
    pos = end;
  }
  return false;
}

}  // namespace

bool requests_connection_auth(std::string_view head) {
  return any_field(head, "www-authenticate:", offers_connection_auth);
}

bool sends_connection_auth(std::string_view head) {
  // Authorization = scheme [ SP token68 ] (RFC 9110 11.6.2): one credential, its scheme first.
  return any_field(head, "authorization:", [](std::string_view value) {
    return is_connection_scheme(value.substr(0, value.find(' ')));
  });
}

}  // namespace trproxy::policy
