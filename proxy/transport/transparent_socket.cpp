#include "proxy/transport/transparent_socket.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace trproxy::proxy {
namespace {

// <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h> define both as 80; their
// headers do not mix with <netinet/in.h>.
constexpr int so_original_dst = 80;
constexpr int ip6t_so_original_dst = 80;
#ifndef IP_TRANSPARENT
constexpr int IP_TRANSPARENT = 19;
#endif
#ifndef IPV6_TRANSPARENT
constexpr int IPV6_TRANSPARENT = 75;
#endif

error_code last_error() {
  return {errno, boost::system::system_category()};
}

std::optional<tcp::endpoint> endpoint_of(const sockaddr_storage& storage) {
  if (storage.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(storage);
    net::ip::address_v4::bytes_type bytes;
    std::memcpy(bytes.data(), &in.sin_addr, bytes.size());
    return tcp::endpoint(net::ip::address_v4(bytes), ntohs(in.sin_port));
  }
  if (storage.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(storage);
    net::ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), &in6.sin6_addr, bytes.size());
    return tcp::endpoint(net::ip::address_v6(bytes), ntohs(in6.sin6_port));
  }
  return std::nullopt;
}

// IPv4-mapped IPv6 addresses compare as IPv4.
net::ip::address plain(const net::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
  }
  return address;
}

}  // namespace

std::optional<tcp::endpoint> redirected_destination(tcp::socket& socket) {
  error_code ec;
  const auto local = socket.local_endpoint(ec);
  if (ec) return std::nullopt;
  // An IPv4 flow on a dual-stack IPv6 listener has IPv4 conntrack state: ask the IPv4 question.
  const bool v4 = local.address().is_v4() || local.address().to_v6().is_v4_mapped();
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  const int result = v4 ? ::getsockopt(socket.native_handle(), SOL_IP, so_original_dst, &storage, &length)
                        : ::getsockopt(socket.native_handle(), SOL_IPV6, ip6t_so_original_dst, &storage, &length);
  if (result != 0) return std::nullopt;
  return endpoint_of(storage);
}

error_code set_transparent(tcp::acceptor& acceptor, bool v6) {
  const int on = 1;
  const int result = v6 ? ::setsockopt(acceptor.native_handle(), SOL_IPV6, IPV6_TRANSPARENT, &on, sizeof on)
                        : ::setsockopt(acceptor.native_handle(), SOL_IP, IP_TRANSPARENT, &on, sizeof on);
  return result == 0 ? error_code{} : last_error();
}

error_code set_mark(tcp::socket& socket, std::uint32_t mark) {
  if (mark == 0) return {};
  const unsigned int value = mark;
  return ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_MARK, &value, sizeof value) == 0 ? error_code{}
                                                                                              : last_error();
}

bool is_own_connection(const tcp::endpoint& local) {
  const std::unique_ptr<DIR, int (*)(DIR*)> fds(::opendir("/proc/self/fd"), ::closedir);
  if (!fds) return false;
  const auto wanted = plain(local.address());
  while (const dirent* entry = ::readdir(fds.get())) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    if (::getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&storage), &length) != 0) continue;
    const auto bound = endpoint_of(storage);
    if (bound && bound->port() == local.port() && plain(bound->address()) == wanted) return true;
  }
  return false;
}

}  // namespace trproxy::proxy
