#pragma once
// Helpers for the decision tables: a request head scanned from its own string, explain's answer.

#include "config/cidr.hpp"
#include "policy/explain.hpp"
#include "policy/http_head.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace trproxy::test {

// The head's offsets point into `bytes`.
struct Scanned {
  std::string bytes;
  policy::RequestHead head;
};

inline Scanned scan(std::string text) {
  Scanned out{std::move(text), {}};
  policy::RequestScanner scanner;
  REQUIRE(scanner.scan(out.bytes, out.head) == policy::ScanStatus::complete);
  return out;
}

// explain's lines for `target` asked by `client` (none: no --client).
inline std::string explained(const policy::Policy& policy, const char* target, const char* client = nullptr) {
  std::optional<config::IpAddress> address;
  if (client) address = config::parse_ip(client);
  const auto answer = policy::explain(policy, address, target);
  REQUIRE(std::holds_alternative<std::string>(answer));
  return std::get<std::string>(answer);
}

}  // namespace trproxy::test
