#pragma once
// How many connections each client address holds, process-wide, for
// limits.max_connections_per_client. Entries exist only while an address has a connection open,
// so the table is bounded by the open connections. Sharded by address: workers accepting at
// once rarely meet on one lock.

#include "config/cidr.hpp"

#include <array>
#include <cstddef>
#include <mutex>
#include <unordered_map>

namespace trproxy::proxy {

class ClientShares {
 public:
  // One connection's place in its address's count, given back when it ends.
  class Share {
   public:
    Share(ClientShares& shares, const config::IpAddress& address);
    ~Share();
    Share(const Share&) = delete;
    Share& operator=(const Share&) = delete;
    // Connections from this address when this one was counted, this one included.
    [[nodiscard]] std::size_t open() const { return open_; }

   private:
    ClientShares& shares_;
    config::IpAddress address_;
    std::size_t open_;
  };

  ClientShares() = default;
  ClientShares(const ClientShares&) = delete;
  ClientShares& operator=(const ClientShares&) = delete;

 private:
  struct AddressHash {
    std::size_t operator()(const config::IpAddress& address) const noexcept;
  };
  struct Shard {
    mutable std::mutex lock;
    std::unordered_map<config::IpAddress, std::size_t, AddressHash> open;
  };
  Shard& shard_of(const config::IpAddress& address);
  std::size_t add(const config::IpAddress& address);
  void remove(const config::IpAddress& address);

  std::array<Shard, 16> shards_;
};

}  // namespace trproxy::proxy
