#include "proxy/upstream/dns_cache.hpp"

#include <algorithm>

namespace trproxy::proxy {

std::string_view describe(DnsError error) {
  switch (error) {
    case DnsError::none: return "resolved";
    case DnsError::no_such_name: return "upstream name does not resolve (no such name)";
    case DnsError::no_address: return "upstream name has no address (no A or AAAA record)";
    case DnsError::timeout: return "DNS timeout: no answer for the upstream name";
    case DnsError::failure: return "DNS lookup of the upstream name failed";
  }
  return "DNS lookup of the upstream name failed";
}

std::chrono::seconds DnsCache::lifetime(const DnsAnswer& answer, std::chrono::seconds ttl) const {
  switch (answer.error) {
    case DnsError::none:
      if (answer.addresses.empty()) return std::chrono::seconds(0);
      return std::clamp(ttl, bounds_.min, bounds_.max);
    case DnsError::no_such_name:
    case DnsError::no_address: return bounds_.negative;
    case DnsError::timeout:
    case DnsError::failure: return std::chrono::seconds(0);
  }
  return std::chrono::seconds(0);
}

const DnsAnswer* DnsCache::find(std::string_view name, Clock::time_point now) {
  const auto it = entries_.find(std::string(name));
  if (it == entries_.end()) return nullptr;
  if (it->second.expires <= now) {
    entries_.erase(it);
    return nullptr;
  }
  return &it->second.answer;
}

void DnsCache::store(std::string name, DnsAnswer answer, std::chrono::seconds ttl, Clock::time_point now) {
  const auto keep = lifetime(answer, ttl);
  if (keep <= std::chrono::seconds(0) || capacity_ == 0) return;
  if (entries_.size() >= capacity_ && !entries_.contains(name)) make_room(now);
  entries_.insert_or_assign(std::move(name), Entry{std::move(answer), now + keep});
}

// Full: drop what expired; if nothing had, drop the entry closest to expiry (it would go first
// anyway). The scan runs only when the cache is full, and then frees many slots at once.
void DnsCache::make_room(Clock::time_point now) {
  std::erase_if(entries_, [now](const auto& entry) { return entry.second.expires <= now; });
  if (entries_.size() < capacity_) return;
  const auto soonest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
    return a.second.expires < b.second.expires;
  });
  entries_.erase(soonest);
}

}  // namespace trproxy::proxy
