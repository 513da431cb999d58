#include "policy/proxy_protocol.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace trproxy::policy;
using trproxy::config::parse_ip;

namespace {

constexpr std::size_t max_bytes = 4096;
const std::string signature("\r\n\r\n\0\r\nQUIT\n", 12);

// A v2 header: signature, version/command, family, then `body` with its length.
std::string v2(unsigned char version_command, unsigned char family, const std::string& body) {
  std::string out = signature;
  out += static_cast<char>(version_command);
  out += static_cast<char>(family);
  out += static_cast<char>(body.size() >> 8);
  out += static_cast<char>(body.size() & 0xff);
  return out + body;
}

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out += static_cast<char>(v);
  return out;
}

const std::string v4_block = bytes({192, 0, 2, 7, 10, 0, 0, 1, 0xd4, 0x31, 0x0c, 0x38});  // :54321 -> :3128

}  // namespace

TEST_CASE("PROXY v1 headers") {
  struct Row {
    std::string input;
    ProxyHeaderStatus status;
    const char* client;  // expected client address, or nullptr
    std::uint16_t port;
  };
  const Row rows[] = {
      {"PROXY TCP4 192.0.2.7 10.0.0.1 54321 3128\r\nGET", ProxyHeaderStatus::complete, "192.0.2.7", 54321},
      {"PROXY TCP6 2001:db8::7 2001:db8::1 1 65535\r\n", ProxyHeaderStatus::complete, "2001:db8::7", 1},
      {"PROXY TCP4 127.0.0.2 127.0.0.1 0 3128\r\n", ProxyHeaderStatus::complete, "127.0.0.2", 0},
      {"PROXY UNKNOWN\r\n", ProxyHeaderStatus::complete, nullptr, 0},
      {"PROXY UNKNOWN whatever the balancer wants\r\n", ProxyHeaderStatus::complete, nullptr, 0},
      {"PROXY TCP4 192.0.2.7 10.0.0.1 54321 3128", ProxyHeaderStatus::need_more, nullptr, 0},
      {"PROX", ProxyHeaderStatus::need_more, nullptr, 0},
      {"P", ProxyHeaderStatus::need_more, nullptr, 0},
      {"", ProxyHeaderStatus::need_more, nullptr, 0},
      {"PROXY TCP4 192.0.2.7 10.0.0.1 54321 3128\n", ProxyHeaderStatus::invalid, nullptr, 0},  // bare LF
      {"PROXY TCP4 192.0.2.7 10.0.0.1 54321\r\n", ProxyHeaderStatus::invalid, nullptr, 0},
      {"PROXY TCP4 192.0.2.7 10.0.0.1 54321 3128 9\r\n", ProxyHeaderStatus::invalid, nullptr, 0},
      {"PROXY TCP4  192.0.2.7 10.0.0.1 54321 3128\r\n", ProxyHeaderStatus::invalid, nullptr, 0},
      {"PROXY TCP4 2001:db8::7 10.0.0.1 1 2\r\n", ProxyHeaderStatus::invalid, nullptr, 0},
      {"PROXY TCP6 192.0.2.7 2001:db8::1 1 2\r\n", ProxyHeaderStatus::invalid, nullptr, 0},
      {"PROXY TCP4 192.0.2.256 10.0.0.1 1 2\r\n", ProxyHeaderStatus::invalid, nullptr, 0},
      {"PROXY TCP4 192.0.2.7 10.0.0.1 65536 2\r\n", ProxyHeaderStatus::invalid, nullptr, 0},
      {"PROXY TCP4 192.0.2.7 10.0.0.1 080 2\r\n", ProxyHeaderStatus::invalid, nullptr, 0},
      {"PROXY TCP4 192.0.2.7 10.0.0.1 -1 2\r\n", ProxyHeaderStatus::invalid, nullptr, 0},
      {"PROXY UDP4 192.0.2.7 10.0.0.1 1 2\r\n", ProxyHeaderStatus::invalid, nullptr, 0},
      {"PROXY tcp4 192.0.2.7 10.0.0.1 1 2\r\n", ProxyHeaderStatus::invalid, nullptr, 0},
      {"PROXY TCP4 example.com 10.0.0.1 1 2\r\n", ProxyHeaderStatus::invalid, nullptr, 0},
      {"PROXY\r\n", ProxyHeaderStatus::invalid, nullptr, 0},
      {"GET / HTTP/1.1\r\n\r\n", ProxyHeaderStatus::invalid, nullptr, 0},
      {"PUT / HTTP/1.1\r\n\r\n", ProxyHeaderStatus::invalid, nullptr, 0},
      {"PROXY TCP4 " + std::string(120, '1') + "\r\n", ProxyHeaderStatus::invalid, nullptr, 0},
      {"PROXY TCP4 " + std::string(120, '1'), ProxyHeaderStatus::invalid, nullptr, 0},  // no CRLF in 107
  };
  for (const auto& row : rows) {
    INFO(row.input);
    const auto header = parse_proxy_header(row.input, max_bytes);
    CHECK(header.status == row.status);
    if (header.status == ProxyHeaderStatus::invalid) CHECK_FALSE(header.reason.empty());
    if (header.status != ProxyHeaderStatus::complete) continue;
    CHECK(header.version == 1);
    CHECK(header.length == row.input.find('\n') + 1);
    CHECK(header.client_port == row.port);
    if (row.client) {
      REQUIRE(header.client);
      CHECK(*header.client == *parse_ip(row.client));
    } else {
      CHECK_FALSE(header.client);
    }
  }
}

TEST_CASE("PROXY v2 headers") {
  SECTION("PROXY over TCP/IPv4, with the first request behind it") {
    const auto header_bytes = v2(0x21, 0x11, v4_block);
    const auto h = parse_proxy_header(header_bytes + "GET / HTTP/1.1\r\n", max_bytes);
    REQUIRE(h.status == ProxyHeaderStatus::complete);
    CHECK(h.version == 2);
    CHECK(h.length == header_bytes.size());
    REQUIRE(h.client);
    CHECK(*h.client == *parse_ip("192.0.2.7"));
    CHECK(h.client_port == 54321);
  }
  SECTION("PROXY over TCP/IPv6") {
    std::string block = bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7});
    block += bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    block += bytes({0, 80, 0x0c, 0x38});
    const auto h = parse_proxy_header(v2(0x21, 0x21, block), max_bytes);
    REQUIRE(h.status == ProxyHeaderStatus::complete);
    CHECK(*h.client == *parse_ip("2001:db8::7"));
    CHECK(h.client_port == 80);
  }
  SECTION("TLVs are skipped when they fit, refused when they run past the header") {
    const auto tlvs = bytes({0x01, 0, 2, 'h', '2'}) + bytes({0x04, 0, 3, 0, 0, 0});  // ALPN, NOOP
    const auto h = parse_proxy_header(v2(0x21, 0x11, v4_block + tlvs), max_bytes);
    REQUIRE(h.status == ProxyHeaderStatus::complete);
    CHECK(h.length == 16 + v4_block.size() + tlvs.size());
    CHECK(*h.client == *parse_ip("192.0.2.7"));
    CHECK(parse_proxy_header(v2(0x21, 0x11, v4_block + bytes({0x01, 0, 9, 'h'})), max_bytes).status ==
          ProxyHeaderStatus::invalid);
    CHECK(parse_proxy_header(v2(0x21, 0x11, v4_block + bytes({0x01, 0})), max_bytes).status ==
          ProxyHeaderStatus::invalid);
  }
  SECTION("LOCAL (a health check) and UNSPEC carry no client: the peer is the client") {
    for (const auto& header_bytes : {v2(0x20, 0x00, ""), v2(0x20, 0x11, v4_block), v2(0x21, 0x00, "xyz")}) {
      const auto h = parse_proxy_header(header_bytes, max_bytes);
      REQUIRE(h.status == ProxyHeaderStatus::complete);
      CHECK_FALSE(h.client);
      CHECK(h.length == header_bytes.size());
    }
  }
  SECTION("incomplete headers ask for more, at every length") {
    const auto whole = v2(0x21, 0x11, v4_block);
    for (std::size_t n = 0; n < whole.size(); ++n) {
      INFO(n);
      CHECK(parse_proxy_header(whole.substr(0, n), max_bytes).status == ProxyHeaderStatus::need_more);
    }
  }
  SECTION("refused") {
    const std::string rows[] = {
        v2(0x11, 0x11, v4_block),                     // version 1 in a v2 header
        v2(0x22, 0x11, v4_block),                     // command 2
        v2(0x21, 0x12, v4_block),                     // UDP
        v2(0x21, 0x31, std::string(216, 'x')),        // AF_UNIX
        v2(0x21, 0x11, v4_block.substr(0, 11)),       // too short for IPv4
        v2(0x21, 0x21, v4_block),                     // too short for IPv6
        signature + bytes({0x21, 0x11, 0xff, 0xff}),  // longer than the buffer
        std::string("\r\n\r\n\0\r\nQUIX\n", 12) + bytes({0x21, 0x11, 0, 0}),
    };
    for (const auto& row : rows) {
      const auto h = parse_proxy_header(row, max_bytes);
      CHECK(h.status == ProxyHeaderStatus::invalid);
      CHECK_FALSE(h.reason.empty());
    }
  }
}

TEST_CASE("a PROXY header from an untrusted peer is recognised") {
  CHECK(starts_like_proxy_header("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"));
  CHECK(starts_like_proxy_header("PROXY "));
  CHECK(starts_like_proxy_header(v2(0x21, 0x11, v4_block)));
  CHECK(starts_like_proxy_header(std::string("\r\n\r\n\0", 5)));
  CHECK_FALSE(starts_like_proxy_header("PROXYX"));
  CHECK_FALSE(starts_like_proxy_header("GET / HTTP/1.1\r\n\r\n"));
  CHECK_FALSE(starts_like_proxy_header("\r\n\r\nGET / HTTP/1.1\r\n\r\n"));
  CHECK_FALSE(starts_like_proxy_header("CONNECT a:443 HTTP/1.1\r\n\r\n"));
}
