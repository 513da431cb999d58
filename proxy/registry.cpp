#include "proxy/registry.hpp"

#include <sys/socket.h>

namespace trproxy::proxy {

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
    if (entry.idle) end(entry);
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
