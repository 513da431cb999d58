#include "proxy/transport/io.hpp"

namespace trproxy::proxy {

config::IpAddress to_ip_address(const net::ip::address& address) {
  config::IpAddress out;
  if (address.is_v4()) {
    out.bytes[10] = 0xff;
    out.bytes[11] = 0xff;
    const auto v4 = address.to_v4().to_bytes();
    std::copy(v4.begin(), v4.end(), out.bytes.begin() + 12);
  } else {
    const auto v6 = address.to_v6().to_bytes();
    std::copy(v6.begin(), v6.end(), out.bytes.begin());
  }
  return out;
}

net::ip::address to_asio_address(const config::IpAddress& address) {
  net::ip::address_v6::bytes_type bytes;
  std::copy(address.bytes.begin(), address.bytes.end(), bytes.begin());
  const net::ip::address_v6 v6(bytes);
  if (v6.is_v4_mapped()) return net::ip::make_address_v4(net::ip::v4_mapped, v6);
  return v6;
}

std::string endpoint_string(const tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
  }
  const auto port = std::to_string(endpoint.port());
  return address.is_v6() ? "[" + address.to_string() + "]:" + port : address.to_string() + ":" + port;
}

std::string local_address_text(const tcp::socket& socket) {
  error_code ec;
  const auto local = socket.local_endpoint(ec);
  return ec ? std::string("127.0.0.1") : local.address().to_string();
}

}  // namespace trproxy::proxy
