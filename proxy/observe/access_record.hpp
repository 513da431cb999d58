#pragma once
// The access-log record (DESIGN.md, "Logs"): one per request or tunnel, written as logfmt
// (`log.format: text`) or as one JSON object per line (`log.format: json`), with the same keys in
// the same order. Never bodies, query strings, cookies or Authorization: only these fields exist.

#include "config/config.hpp"
#include "policy/action.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace trproxy::proxy {

// One request or tunnel as the sessions fill it in. Owned strings: copied out of the head
// before its buffer moves on. An empty optional field is left out of the line.
// How the connection reached the proxy: a client configured for it, or the packet filter.
enum class Entry : std::uint8_t { proxy, transparent };

struct RequestLog {
  policy::Action action = policy::Action::deny;
  std::string method;  // "-" in the line when no request was read
  std::string host;
  std::string target;           // written as its path: no query string, no fragment, no scheme/authority
  int status = 0;               // the status sent to the client; 0 = none was (a closed connection): no key
  std::uint64_t bytes_in = 0;   // read from the client for this request (head included)
  std::uint64_t bytes_out = 0;  // written to the client
  std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
  std::string sni;       // the ClientHello's server name
  std::string upstream;  // the address connected to, "ip:port"
  std::string tls;       // the client's TLS version on an intercepted connection, e.g. "TLSv1.3"
  // Sign-in attribution (DESIGN: profiles, report mode, sign-in outcomes).
  std::string profile;      // the profile whose headers applied
  std::string enforcement;  // enforce | report
  std::string tenant;       // the target tenant of a sign-in request
  std::string app;          // the SaaS app of a request to an app host
  std::string outcome;      // a block code seen in the response, e.g. AADSTS500021
  std::string reason;       // why the proxy refused or closed
};

// The path of a request target without query string or fragment, and without scheme/authority
// for absolute-form targets.
std::string_view loggable_path(std::string_view target);

// A logfmt value: bare unless it holds a space, `"`, `=`, a control byte or a non-ASCII byte;
// quoted values escape `"` and `\` with a backslash and control/non-ASCII bytes as \u00XX
// (JSON string escapes, which logfmt decoders accept). Empty is written as "".
std::string logfmt_value(std::string_view value);
void append_logfmt_value(std::string& out, std::string_view value);

// A JSON string literal with its quotes; the same escapes as a quoted logfmt value, so a line
// is valid JSON whatever bytes it carries.
std::string json_string(std::string_view value);
void append_json_literal(std::string& out, std::string_view value);

// "2026-11-23T13:11:15.684Z" (UTC, milliseconds).
std::string log_timestamp(std::chrono::system_clock::time_point when);

// The whole line without its newline. `client` is "ip:port"; `duration` is how long the
// request or tunnel took.
std::string format_access_line(const RequestLog& record, std::string_view client, std::string_view time,
                               std::chrono::steady_clock::duration duration, config::LogFormat format,
                               Entry entry = Entry::proxy);

}  // namespace trproxy::proxy
