#include "proxy/upstream/resolver.hpp"

#include <netinet/in.h>
#include <poll.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace trproxy::proxy {

struct DnsResolver::Waiter {
  Waiter(net::io_context& io, Clock::time_point deadline) : wake(io, deadline) {}
  net::steady_timer wake;  // cancelled when the answer arrives
  std::optional<DnsAnswer> answer;
};

// One name in flight: c-ares' callback argument, so its address must not move (held by
// unique_ptr in lookups_).
struct DnsResolver::Lookup {
  DnsResolver& owner;
  std::string name;
  std::vector<std::shared_ptr<Waiter>> waiters;
};

// A socket c-ares opened, watched through the worker's reactor. c-ares owns the descriptor:
// it is released (never closed) here when c-ares says it is done with it.
struct DnsResolver::Watch {
  Watch(net::io_context& io, ares_socket_t socket) : descriptor(io, socket), fd(socket) {}
  net::posix::stream_descriptor descriptor;
  ares_socket_t fd;
  bool want_read = false;
  bool want_write = false;
  bool reading = false;  // a wait is pending
  bool writing = false;
  bool closed = false;
};

namespace {

DnsError error_of(int status) {
  switch (status) {
    case ARES_ENOTFOUND: return DnsError::no_such_name;
    case ARES_ENODATA: return DnsError::no_address;
    case ARES_ETIMEOUT: return DnsError::timeout;
    default: return DnsError::failure;
  }
}

std::optional<config::IpAddress> address_of(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    net::ip::address_v4::bytes_type bytes;
    std::memcpy(bytes.data(), &in->sin_addr, bytes.size());
    return to_ip_address(net::ip::address_v4(bytes));
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    net::ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), &in6->sin6_addr, bytes.size());
    return to_ip_address(net::ip::address_v6(bytes));
  }
  return std::nullopt;
}

bool readable_now(ares_socket_t fd) {
  pollfd probe{fd, POLLIN, 0};
  return ::poll(&probe, 1, 0) == 1 && (probe.revents & (POLLIN | POLLERR | POLLHUP)) != 0;
}

}  // namespace

DnsResolver::DnsResolver(net::io_context& io, DnsTtlBounds bounds) : io_(io), cache_(bounds), timer_(io) {
  ares_options options{};
  options.sock_state_cb = &DnsResolver::on_socket_state;
  options.sock_state_cb_data = this;
  const int status = ares_init_options(&channel_, &options, ARES_OPT_SOCK_STATE_CB);
  if (status != ARES_SUCCESS) {
    throw std::runtime_error(std::string("cannot start the DNS resolver: ") + ares_strerror(status));
  }
}

DnsResolver::~DnsResolver() {
  // Answers every lookup still in flight with ARES_EDESTRUCTION and closes c-ares' sockets (each
  // reported through on_socket_state, which releases its watch) while the maps are still alive.
  ares_destroy(channel_);
  for (auto& [fd, watch] : watches_) {
    watch->closed = true;
    watch->descriptor.release();
  }
}

void DnsResolver::on_socket_state(void* self, ares_socket_t fd, int readable, int writable) {
  auto& resolver = *static_cast<DnsResolver*>(self);
  auto found = resolver.watches_.find(fd);
  if (!readable && !writable) {
    if (found == resolver.watches_.end()) return;
    found->second->closed = true;
    found->second->descriptor.release();  // cancels the pending waits; c-ares closes the socket
    resolver.watches_.erase(found);
    return;
  }
  if (found == resolver.watches_.end()) {
    found = resolver.watches_.emplace(fd, std::make_shared<Watch>(resolver.io_, fd)).first;
  }
  const auto watch = found->second;
  watch->want_read = readable != 0;
  watch->want_write = writable != 0;
  if (watch->want_read && !watch->reading) resolver.watch(watch, false);
  if (watch->want_write && !watch->writing) resolver.watch(watch, true);
}

void DnsResolver::watch(const std::shared_ptr<Watch>& watch, bool write) {
  (write ? watch->writing : watch->reading) = true;
  const auto what = write ? net::posix::descriptor_base::wait_write : net::posix::descriptor_base::wait_read;
  watch->descriptor.async_wait(what, [this, watch, write](const error_code& ec) {
    (write ? watch->writing : watch->reading) = false;
    if (ec || watch->closed) return;
    if (write) {
      if (watch->want_write) ares_process_fd(channel_, ARES_SOCKET_BAD, watch->fd);
    } else {
      // The reactor is edge-triggered: it reports new data, not data left unread. c-ares reads
      // UDP until it would block, but a TCP answer may be read in parts, so look again.
      for (int round = 0; round < 64 && watch->want_read && !watch->closed; ++round) {
        ares_process_fd(channel_, watch->fd, ARES_SOCKET_BAD);
        if (watch->closed || !readable_now(watch->fd)) break;
      }
    }
    if (!watch->closed && (write ? watch->want_write : watch->want_read) &&
        !(write ? watch->writing : watch->reading)) {
      this->watch(watch, write);
    }
    arm_timer();
  });
}

// c-ares keeps its own retry and timeout schedule; one timer per worker wakes it.
void DnsResolver::arm_timer() {
  timeval storage{};
  const timeval* next = ares_timeout(channel_, nullptr, &storage);
  if (next == nullptr) {
    timer_.cancel();
    return;
  }
  timer_.expires_after(std::chrono::seconds(next->tv_sec) + std::chrono::microseconds(next->tv_usec));
  timer_.async_wait([this](const error_code& ec) {
    if (ec) return;
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    arm_timer();
  });
}

void DnsResolver::on_answer(void* argument, int status, int, ares_addrinfo* result) {
  auto& lookup = *static_cast<Lookup*>(argument);
  lookup.owner.finish(lookup, status, result);
}

void DnsResolver::finish(Lookup& lookup, int status, ares_addrinfo* result) {
  DnsAnswer answer;
  int ttl = INT_MAX;
  if (status == ARES_SUCCESS && result != nullptr) {
    for (const auto* node = result->nodes; node != nullptr; node = node->ai_next) {
      if (node->ai_addr == nullptr) continue;
      if (auto address = address_of(node->ai_addr)) {
        answer.addresses.push_back(*address);
        ttl = std::min(ttl, node->ai_ttl);
      }
    }
    if (answer.addresses.empty()) answer.error = DnsError::no_address;
  } else {
    answer.error = error_of(status);
  }
  if (result != nullptr) ares_freeaddrinfo(result);
  if (status != ARES_EDESTRUCTION) {
    cache_.store(lookup.name, answer, std::chrono::seconds(ttl == INT_MAX ? 0 : std::max(ttl, 0)), Clock::now());
  }
  // Out of the map first: a waiter resumed later may start a new lookup of the same name.
  auto node = lookups_.extract(lookup.name);
  if (node.empty()) return;
  for (auto& waiter : node.mapped()->waiters) {
    waiter->answer = answer;
    waiter->wake.cancel();
  }
}

net::awaitable<DnsAnswer> DnsResolver::resolve(std::string_view name_view, Clock::time_point deadline) {
  std::string name(name_view);
  if (const auto* hit = cache_.find(name, Clock::now())) {
    ++stats_.cache_hits;
    if (metrics_ != nullptr) metrics_->dns_cache_hits.add();
    DnsAnswer copy = *hit;
    co_return copy;
  }
  auto waiter = std::make_shared<Waiter>(io_, deadline);
  auto [it, fresh] = lookups_.try_emplace(name);
  if (fresh) it->second = std::make_unique<Lookup>(Lookup{*this, name, {}});
  it->second->waiters.push_back(waiter);
  if (fresh) {
    ++stats_.queries;
    if (metrics_ != nullptr) metrics_->dns_queries.add();
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;  // A and AAAA, sent together
    hints.ai_socktype = SOCK_STREAM;
    // May answer at once (hosts file, bad name): finish() then runs before this returns.
    ares_getaddrinfo(channel_, name.c_str(), nullptr, &hints, &DnsResolver::on_answer, it->second.get());
    arm_timer();
  }
  if (!waiter->answer) co_await waiter->wake.async_wait(use_tuple);
  if (waiter->answer) {
    DnsAnswer answer = std::move(*waiter->answer);
    co_return answer;
  }
  DnsAnswer late;
  late.error = DnsError::timeout;
  co_return late;
}

}  // namespace trproxy::proxy
