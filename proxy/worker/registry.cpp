#include "proxy/worker/registry.hpp"

#include <sys/ioctl.h>
#include <sys/socket.h>

namespace trproxy::proxy {
namespace {

// Bytes the kernel holds that the session has not read yet: a request already on its way.
bool has_unread_bytes(int fd) {
  int pending = 0;
  return fd >= 0 && ::ioctl(fd, FIONREAD, &pending) == 0 && pending > 0;
}

}  // namespace

ConnectionRegistry::Registration::Registration(ConnectionRegistry& registry, int client_fd)
    : registry_(registry), entry_(registry.entries_.insert(registry.entries_.end(), Entry{client_fd, -1, false, {}})) {}

ConnectionRegistry::Registration::~Registration() {
  registry_.entries_.erase(entry_);
  registry_.removed();
}

void ConnectionRegistry::end(const Entry& entry) {
  for (const int fd : {entry.client_fd, entry.upstream_fd}) {
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  }
}

void ConnectionRegistry::removed() {
  if (draining_ && entries_.empty() && on_empty_) {
    auto notify = std::move(on_empty_);
    on_empty_ = nullptr;
    notify();
  }
}

void ConnectionRegistry::start_drain(std::function<void()> on_empty) {
  draining_ = true;
  on_empty_ = std::move(on_empty);
  for (const auto& entry : entries_) {
    if (entry.idle && !has_unread_bytes(entry.client_fd)) end(entry);
  }
  removed();
}

void ConnectionRegistry::end_all() {
  for (const auto& entry : entries_) end(entry);
}

void ConnectionRegistry::recheck(const Runtime& runtime) {
  for (const auto& entry : entries_) {
    if (entry.still_allowed && !entry.still_allowed(runtime)) end(entry);
  }
}

}  // namespace trproxy::proxy
