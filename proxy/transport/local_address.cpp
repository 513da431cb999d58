#include "proxy/transport/local_address.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace trproxy::proxy {

bool is_local_address(const config::IpAddress& address) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET6;
  if (address.is_v4_mapped()) {
    family = AF_INET;
    auto& in = reinterpret_cast<sockaddr_in&>(storage);
    in.sin_family = AF_INET;
    std::memcpy(&in.sin_addr, address.bytes.data() + 12, 4);
    length = sizeof(in);
  } else {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(storage);
    in6.sin6_family = AF_INET6;
    std::memcpy(&in6.sin6_addr, address.bytes.data(), 16);
    length = sizeof(in6);
  }
  // UDP, port 0: nothing listens, nothing is sent, and no TCP port is taken even for a moment.
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool local = ::bind(fd, reinterpret_cast<const sockaddr*>(&storage), length) == 0;
  ::close(fd);
  return local;
}

}  // namespace trproxy::proxy
