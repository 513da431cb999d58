#pragma once
// The SaaS tenant controls trproxy knows by name (DESIGN.md, "Tenant control for other SaaS
// apps"; the facts and their sources are in the vendors' pages named by `source`). Each app is
// data: its hosts, the headers its vendor documents with the config key and value shape each
// is filled from, and how the vendor's block response looks. Adding an app is one row here and
// its tests; nothing else names an app.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace trproxy::config {

// The value shapes vendors document. A value of another shape is refused at load time: several
// vendors fail open on a value they cannot read (Slack may allow every workspace).
enum class ValueShape : std::uint8_t {
  github_enterprise,  // an enterprise slug (lower-case letters, digits, inner hyphens) or numeric ID
  domain,             // a DNS domain name
  slack_id,           // a workspace (T...) or organization (E...) ID
  dropbox_team,       // "dbtid:" and the team ID
  youtube_level,      // Strict or Moderate
  uuid,               // 8-4-4-4-12 hexadecimal
  custom,             // apps.custom: visible ASCII, inner spaces allowed
};

// One header of an app, filled from one key of the app's config entry.
struct AppHeaderSpec {
  std::string_view name;  // as sent on the wire
  std::string_view key;   // the config key that holds its value(s)
  ValueShape shape;
  std::size_t max_items;  // 1: a single value (a scalar); more: a list joined with ","
};

// What the vendor's answer to a refused tenant looks like, where it documents one.
enum class BlockSignal : std::uint8_t {
  none,
  status_403,     // GitHub: 403 for a request outside the allowed enterprise
  body_contains,  // Claude: a JSON error carrying `block_marker`
};

struct AppSpec {
  std::string_view name;
  std::span<const std::string_view> hosts;  // exact names and "*." wildcards
  std::span<const AppHeaderSpec> headers;
  BlockSignal block = BlockSignal::none;
  std::string_view block_marker;
  std::string_view source;        // the vendor's documentation
  std::string_view prerequisite;  // what the vendor requires before the header has any effect
};

std::span<const AppSpec> builtin_apps();
// nullptr when `name` is not a built-in app.
const AppSpec* find_builtin_app(std::string_view name);

}  // namespace trproxy::config
