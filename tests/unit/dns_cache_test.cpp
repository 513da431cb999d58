#include "proxy/upstream/dns_cache.hpp"

#include <catch2/catch.hpp>

using trproxy::proxy::DnsAnswer;
using trproxy::proxy::DnsCache;
using trproxy::proxy::DnsError;
using trproxy::proxy::DnsTtlBounds;
using namespace std::chrono_literals;

namespace {

DnsAnswer answer_with(const char* address) {
  DnsAnswer answer;
  answer.addresses.push_back(*trproxy::config::parse_ip(address));
  return answer;
}

DnsAnswer failed(DnsError error) {
  DnsAnswer answer;
  answer.error = error;
  return answer;
}

const DnsTtlBounds bounds{5s, 300s, 5s};
const DnsCache::Clock::time_point t0{};

}  // namespace

TEST_CASE("dns cache: a positive answer lives for its TTL") {
  DnsCache cache(bounds);
  cache.store("a.example", answer_with("192.0.2.1"), 60s, t0);
  REQUIRE(cache.find("a.example", t0 + 59s) != nullptr);
  CHECK(cache.find("a.example", t0 + 59s)->addresses.front() == *trproxy::config::parse_ip("192.0.2.1"));
  CHECK(cache.find("a.example", t0 + 60s) == nullptr);
  CHECK(cache.size() == 0);  // the expired entry went on the miss
}

TEST_CASE("dns cache: TTLs are clamped to the bounds") {
  DnsCache cache(bounds);
  CHECK(cache.lifetime(answer_with("192.0.2.1"), 0s) == 5s);
  CHECK(cache.lifetime(answer_with("192.0.2.1"), 1s) == 5s);
  CHECK(cache.lifetime(answer_with("192.0.2.1"), 42s) == 42s);
  CHECK(cache.lifetime(answer_with("192.0.2.1"), 86400s) == 300s);
  cache.store("zero.example", answer_with("192.0.2.1"), 0s, t0);
  CHECK(cache.find("zero.example", t0 + 4s) != nullptr);
  CHECK(cache.find("zero.example", t0 + 5s) == nullptr);
  cache.store("long.example", answer_with("192.0.2.1"), 86400s, t0);
  CHECK(cache.find("long.example", t0 + 299s) != nullptr);
  CHECK(cache.find("long.example", t0 + 300s) == nullptr);
}

TEST_CASE("dns cache: no such name and no address are remembered for the negative time") {
  DnsCache cache(DnsTtlBounds{5s, 300s, 3s});
  for (const auto error : {DnsError::no_such_name, DnsError::no_address}) {
    cache.store("gone.example", failed(error), 3600s, t0);  // the answer's TTL does not matter
    REQUIRE(cache.find("gone.example", t0 + 2s) != nullptr);
    CHECK(cache.find("gone.example", t0 + 2s)->error == error);
    CHECK(cache.find("gone.example", t0 + 3s) == nullptr);
  }
}

TEST_CASE("dns cache: timeouts, failures and empty answers are not remembered") {
  DnsCache cache(bounds);
  cache.store("slow.example", failed(DnsError::timeout), 60s, t0);
  cache.store("broken.example", failed(DnsError::failure), 60s, t0);
  cache.store("empty.example", DnsAnswer{}, 60s, t0);
  CHECK(cache.find("slow.example", t0) == nullptr);
  CHECK(cache.find("broken.example", t0) == nullptr);
  CHECK(cache.find("empty.example", t0) == nullptr);
  CHECK(cache.size() == 0);
}

TEST_CASE("dns cache: a new answer replaces the old one") {
  DnsCache cache(bounds);
  cache.store("a.example", answer_with("192.0.2.1"), 60s, t0);
  cache.store("a.example", failed(DnsError::no_such_name), 60s, t0 + 10s);
  REQUIRE(cache.find("a.example", t0 + 11s) != nullptr);
  CHECK(cache.find("a.example", t0 + 11s)->error == DnsError::no_such_name);
  CHECK(cache.size() == 1);
}

TEST_CASE("dns cache: bounded; when full, expired entries go first, then the one closest to expiry") {
  DnsCache cache(bounds, 3);
  cache.store("a", answer_with("192.0.2.1"), 10s, t0);
  cache.store("b", answer_with("192.0.2.2"), 100s, t0);
  cache.store("c", answer_with("192.0.2.3"), 50s, t0);
  cache.store("d", answer_with("192.0.2.4"), 100s, t0 + 20s);  // "a" has expired: it goes
  CHECK(cache.size() == 3);
  CHECK(cache.find("a", t0 + 20s) == nullptr);
  cache.store("e", answer_with("192.0.2.5"), 100s, t0 + 21s);  // none expired: "c" expires first
  CHECK(cache.size() == 3);
  CHECK(cache.find("c", t0 + 21s) == nullptr);
  CHECK(cache.find("b", t0 + 21s) != nullptr);
  CHECK(cache.find("d", t0 + 21s) != nullptr);
  CHECK(cache.find("e", t0 + 21s) != nullptr);
}

TEST_CASE("dns cache: every failure has a one-line reason") {
  for (const auto error : {DnsError::no_such_name, DnsError::no_address, DnsError::timeout, DnsError::failure}) {
    const auto reason = trproxy::proxy::describe(error);
    CHECK_FALSE(reason.empty());
    CHECK(reason.find('\n') == std::string_view::npos);
  }
  CHECK(trproxy::proxy::describe(DnsError::no_such_name).find("does not resolve") != std::string_view::npos);
  CHECK(trproxy::proxy::describe(DnsError::timeout).find("DNS timeout") != std::string_view::npos);
}
