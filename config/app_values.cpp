#include "config/app_values.hpp"

#include "config/syntax.hpp"

#include <algorithm>
#include <array>

namespace trproxy::config {
namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_upper_alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

// A slug: lower-case letters and digits, hyphens inside (GitHub's enterprise URLs); an ID: digits.
bool is_github_enterprise(std::string_view v) {
  return !v.empty() && v.size() <= 100 && v.front() != '-' && v.back() != '-' &&
         std::all_of(v.begin(), v.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

// T0123ABCD (a workspace) or E0456EFGH (an Enterprise Grid organization).
bool is_slack_id(std::string_view v) {
  return v.size() >= 7 && v.size() <= 21 && (v.front() == 'T' || v.front() == 'E') &&
         std::all_of(v.begin() + 1, v.end(), is_upper_alnum);
}

bool is_dropbox_team(std::string_view v) {
  constexpr std::string_view prefix = "dbtid:";
  if (v.size() <= prefix.size() || v.size() > prefix.size() + 128 || v.substr(0, prefix.size()) != prefix) return false;
  const auto id = v.substr(prefix.size());
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_' || c == '-'; });
}

bool is_visible_text(std::string_view v) {
  return !v.empty() && v.size() <= max_app_value_length && v.front() != ' ' && v.back() != ' ' &&
         std::all_of(v.begin(), v.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

bool is_token(std::string_view name) {
  constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
  return !name.empty() && name.size() <= 63 && std::all_of(name.begin(), name.end(), [&](char c) {
    return is_lower_alnum(lower(c)) || specials.find(c) != std::string_view::npos;
  });
}

// Fields the proxy frames, routes or strips itself: a custom app must not choose their values.
constexpr std::array<std::string_view, 17> reserved_names{"host",
                                                          "content-length",
                                                          "transfer-encoding",
                                                          "connection",
                                                          "upgrade",
                                                          "expect",
                                                          "te",
                                                          "trailer",
                                                          "keep-alive",
                                                          "proxy-connection",
                                                          "proxy-authorization",
                                                          "proxy-authenticate",
                                                          "authorization",
                                                          "cookie",
                                                          "restrict-access-to-tenants",
                                                          "restrict-access-context",
                                                          "sec-restrict-tenant-access-policy"};

}  // namespace

std::optional<std::string> value_shape_problem(ValueShape shape, std::string_view value) {
  switch (shape) {
    case ValueShape::github_enterprise:
      if (is_github_enterprise(value)) return std::nullopt;
      return "is not a GitHub enterprise slug (lower-case letters, digits, inner hyphens) or ID";
    case ValueShape::domain:
      if (is_domain_name(value) && value.back() != '.') return std::nullopt;
      return "is not a domain name (e.g. contoso.com)";
    case ValueShape::slack_id:
      if (is_slack_id(value)) return std::nullopt;
      return "is not a Slack workspace or organization ID (T... or E..., upper-case letters and digits)";
    case ValueShape::dropbox_team:
      if (is_dropbox_team(value)) return std::nullopt;
      return "is not a Dropbox team ID (dbtid:...)";
    case ValueShape::youtube_level:
      if (iequals(value, "strict") || iequals(value, "moderate")) return std::nullopt;
      return "is not strict or moderate";
    case ValueShape::uuid:
      if (is_guid(value)) return std::nullopt;
      return "is not a UUID (8-4-4-4-12 hexadecimal digits)";
    case ValueShape::custom:
      if (is_visible_text(value)) return std::nullopt;
      return "is not a header value (1-1024 visible ASCII characters, no leading or trailing space)";
  }
  return "is not a valid value";
}

std::string canonical_value(ValueShape shape, std::string_view value) {
  switch (shape) {
    case ValueShape::domain:
    case ValueShape::uuid: {
      std::string out(value);
      std::transform(out.begin(), out.end(), out.begin(), lower);
      return out;
    }
    case ValueShape::youtube_level: return iequals(value, "strict") ? "Strict" : "Moderate";
    default: return std::string(value);
  }
}

std::string folded_field_name(std::string_view name) {
  std::string folded;
  folded.reserve(name.size());
  for (char c : name) folded += c == '_' ? '-' : lower(c);
  return folded;
}

std::optional<std::string> custom_header_name_problem(std::string_view name) {
  if (!is_token(name)) return "is not a header field name (1-63 letters, digits or !#$%&'*+-.^_`|~)";
  const auto folded = folded_field_name(name);
  if (std::find(reserved_names.begin(), reserved_names.end(), folded) != reserved_names.end() ||
      folded.rfind("proxy-", 0) == 0) {
    return "is a field the proxy handles itself; choose the vendor's tenant header";
  }
  return std::nullopt;
}

}  // namespace trproxy::config
