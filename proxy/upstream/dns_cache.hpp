#pragma once
// The answers a worker's resolver remembers: positive answers for their TTL held within bounds
// (a TTL of 0 would send every CONNECT to the DNS server, a TTL of a week would pin a moved
// service), negative answers (no such name, no address) for a short fixed time. Pure: the caller
// passes the clock, so the unit tests drive time by hand.

#include "config/cidr.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace trproxy::proxy {

enum class DnsError : std::uint8_t {
  none,
  no_such_name,  // NXDOMAIN
  no_address,    // the name exists but has no A/AAAA record (NODATA)
  timeout,       // no DNS server answered
  failure,       // anything else (refused, malformed, no servers configured)
};

// The one-line reason a refusal gives for a failed lookup.
std::string_view describe(DnsError error);

struct DnsAnswer {
  std::vector<config::IpAddress> addresses;  // in the order to try them
  DnsError error = DnsError::none;
};

struct DnsTtlBounds {
  std::chrono::seconds min{5};
  std::chrono::seconds max{300};
  std::chrono::seconds negative{5};
};

class DnsCache {
 public:
  using Clock = std::chrono::steady_clock;

  explicit DnsCache(DnsTtlBounds bounds = {}, std::size_t capacity = 10000) : bounds_(bounds), capacity_(capacity) {}

  // The remembered answer for `name` (lower case), or nullptr when there is none or it expired.
  [[nodiscard]] const DnsAnswer* find(std::string_view name, Clock::time_point now);

  // Remembers an answer: addresses for `ttl` clamped to the bounds, no_such_name/no_address for
  // the negative time. Timeouts and failures are not remembered: the next request asks again.
  void store(std::string name, DnsAnswer answer, std::chrono::seconds ttl, Clock::time_point now);

  // How long `store` would keep an answer (zero: not at all).
  [[nodiscard]] std::chrono::seconds lifetime(const DnsAnswer& answer, std::chrono::seconds ttl) const;

  [[nodiscard]] std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    DnsAnswer answer;
    Clock::time_point expires;
  };
  void make_room(Clock::time_point now);

  DnsTtlBounds bounds_;
  std::size_t capacity_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace trproxy::proxy
