#include "config/cidr.hpp"
#include "config/endpoint.hpp"

#include <catch2/catch.hpp>

using namespace trproxy::config;

TEST_CASE("CIDR matching for IPv4 and IPv6") {
  const auto private10 = parse_cidr("10.0.0.0/8");
  REQUIRE(private10);
  CHECK(private10->contains(*parse_ip("10.1.2.3")));
  CHECK_FALSE(private10->contains(*parse_ip("11.0.0.1")));
  CHECK(private10->contains(*parse_ip("::ffff:10.9.9.9")));  // dual-stack socket form
  const auto range12 = parse_cidr("172.16.0.0/12");
  CHECK(range12->contains(*parse_ip("172.31.255.255")));
  CHECK_FALSE(range12->contains(*parse_ip("172.32.0.0")));
  const auto ula = parse_cidr("fc00::/7");
  CHECK(ula->contains(*parse_ip("fd12::1")));
  CHECK_FALSE(ula->contains(*parse_ip("fe80::1")));
  const auto loopback6 = parse_cidr("::1/128");
  CHECK(loopback6->contains(*parse_ip("::1")));
  CHECK_FALSE(loopback6->contains(*parse_ip("::2")));
  const auto all = parse_cidr("0.0.0.0/0");
  CHECK(all->contains(*parse_ip("8.8.8.8")));
  CHECK_FALSE(all->contains(*parse_ip("2001:db8::1")));
  const auto host = parse_cidr("192.168.1.5");
  CHECK(host->contains(*parse_ip("192.168.1.5")));
  CHECK_FALSE(host->contains(*parse_ip("192.168.1.6")));
  CHECK_FALSE(parse_cidr("10.0.0.1/8"));
  CHECK_FALSE(parse_cidr("10.0.0.0/"));
  CHECK_FALSE(parse_cidr("10.0.0.0/x"));
  CHECK_FALSE(parse_cidr("::/129"));
  CHECK_FALSE(parse_cidr("example.com/8"));
}

TEST_CASE("endpoints") {
  CHECK(parse_endpoint("127.0.0.1:3128")->port == 3128);
  CHECK(parse_endpoint("[::1]:9090")->host == "::1");
  CHECK_FALSE(parse_endpoint("::1:9090"));
  CHECK_FALSE(parse_endpoint("127.0.0.1:0"));
  CHECK(parse_endpoint("127.0.0.1:0", true));
  CHECK_FALSE(parse_endpoint("127.0.0.1:65536"));
  CHECK_FALSE(parse_endpoint("127.0.0.1:+80"));
  CHECK_FALSE(parse_endpoint("[127.0.0.1]:80"));
  CHECK_FALSE(parse_endpoint("127.0.0.1"));
}
