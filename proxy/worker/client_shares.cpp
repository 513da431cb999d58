#include "proxy/worker/client_shares.hpp"

namespace trproxy::proxy {

std::size_t ClientShares::AddressHash::operator()(const config::IpAddress& address) const noexcept {
  // FNV-1a over the 16 bytes: addresses are not chosen to collide by anyone the table serves
  // (only admitted clients get here, and a collision costs a longer bucket, not a wrong count).
  std::size_t hash = 14695981039346656037ull;
  for (const auto byte : address.bytes) hash = (hash ^ byte) * 1099511628211ull;
  return hash;
}

ClientShares::Shard& ClientShares::shard_of(const config::IpAddress& address) {
  return shards_[AddressHash{}(address) % shards_.size()];
}

std::size_t ClientShares::add(const config::IpAddress& address) {
  auto& shard = shard_of(address);
  const std::lock_guard guard(shard.lock);
  return ++shard.open[address];
}

void ClientShares::remove(const config::IpAddress& address) {
  auto& shard = shard_of(address);
  const std::lock_guard guard(shard.lock);
  const auto it = shard.open.find(address);
  if (it == shard.open.end()) return;
  if (--it->second == 0) shard.open.erase(it);
}

ClientShares::Share::Share(ClientShares& shares, const config::IpAddress& address)
    : shares_(shares), address_(address), open_(shares.add(address)) {}

ClientShares::Share::~Share() {
  shares_.remove(address_);
}

}  // namespace trproxy::proxy
