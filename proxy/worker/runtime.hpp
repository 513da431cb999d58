#pragma once
// What a connection needs from the current configuration, built once per (re)load and shared
// immutably: the policy snapshot and the TLS state derived from it. A reload builds a new
// Runtime and swaps it in atomically; connections keep the one they started with.

#include "policy/policy.hpp"
#include "tls/ca.hpp"
#include "tls/contexts.hpp"
#include "tls/leaf.hpp"
#include "tls/openssl.hpp"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace trproxy::proxy {

struct Runtime {
  policy::PolicyPtr policy;
  std::shared_ptr<tls::LeafCache> leaves;
  std::shared_ptr<const tls::ServerTls> server_tls;
  std::shared_ptr<tls::UpstreamTls> upstream_tls;
  // Mistakes that still load (example ids, an unconstrained or expiring CA): logged at start
  // and reload, printed by --check. One line each, no prefix.
  std::vector<std::string> warnings;
  std::string config_sha256;  // of the config file's bytes, as `sha256sum` prints it
  // The keys of tls.ticket_keys, read and checked with the rest; null: generated keys. Put in
  // use by apply_ticket_keys once this runtime is the running one.
  std::shared_ptr<const std::vector<tls::TicketKey>> ticket_keys;

  [[nodiscard]] const config::Config& config() const { return policy->config(); }
};
using RuntimePtr = std::shared_ptr<const Runtime>;

// Loads the CA, checks that its name constraints permit every intercepted host, and builds the
// TLS state. Reuses the previous leaf cache when the CA and key type are unchanged (a changed CA
// clears it). Throws ConfigError, CaError or TlsError.
RuntimePtr build_runtime(config::Config config, const Runtime* previous);

// Seals new client session tickets with `runtime`'s keys: the tls.ticket_keys file's, or back to
// generated keys when the file was removed from the configuration. Call once it runs.
void apply_ticket_keys(const Runtime& runtime);

// Mints the configured sign-in hosts so the first client never waits.
void premint_sign_in_hosts(const Runtime& runtime);

class RuntimeHolder {
 public:
  explicit RuntimeHolder(RuntimePtr initial) : current_(std::move(initial)) {}
  [[nodiscard]] RuntimePtr get() const { return current_.load(std::memory_order_acquire); }
  void set(RuntimePtr next) { current_.store(std::move(next), std::memory_order_release); }

 private:
  std::atomic<RuntimePtr> current_;
};

}  // namespace trproxy::proxy
