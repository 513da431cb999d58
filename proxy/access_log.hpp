#pragma once
// One access-log line per request or tunnel (DESIGN.md, "Logs"). Never bodies, query strings,
// cookies or Authorization: only the fields below are ever written.

#include "proxy/metrics.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace trproxy::proxy {

struct AccessRecord {
  std::string_view client;  // "ip:port"
  Action action = Action::tunnel;
  std::string_view method;
  std::string_view host;
  std::string_view target;  // the query string and fragment are cut off before logging
  int status = 0;
  std::uint64_t bytes_from_client = 0;
  std::uint64_t bytes_to_client = 0;
  std::chrono::steady_clock::duration duration{};
  std::string_view sni;       // the ClientHello's server name, when it differs from host
  std::string_view upstream;  // the address connected to
  std::string_view reason;    // why the proxy refused or closed
};

// A logfmt value: bare when it has no space, quote, '=' or control byte, else quoted with \"
// and \\ escapes (control bytes as \xNN).
std::string logfmt_value(std::string_view value);

// The path of a request target without query string or fragment, and without scheme/authority
// for absolute-form targets.
std::string_view loggable_path(std::string_view target);

class AccessLog {
 public:
  // destination: "-" stdout, "" off, otherwise a file (rotated at 50 MiB, 5 files kept).
  explicit AccessLog(const std::string& destination);
  ~AccessLog();
  void write(const AccessRecord& record);
  void flush();

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace trproxy::proxy
