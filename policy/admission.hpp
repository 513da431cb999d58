#pragma once
// Whether a new client connection is served: the allow-list, the process-wide connection limit
// and each client address's share of it (so one address holding idle tunnels cannot starve
// everyone else). Pure: the session counts, this decides.

#include "config/config.hpp"
#include "policy/action.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>

namespace trproxy::policy {

enum class AdmissionRefusal : std::uint8_t { not_allowed, max_connections, per_client, count };
const char* to_string(AdmissionRefusal reason);  // the metric's label value

// The connections open when this one arrived, this one included.
struct ClientLoad {
  std::size_t all_clients = 0;
  std::size_t this_client = 0;  // from the same client address (the PROXY header's, when trusted)
};

bool client_allowed(const config::Config& config, const config::IpAddress& client);

std::optional<AdmissionRefusal> admit_client(const config::Config& config, const config::IpAddress& client,
                                             ClientLoad load);

// The answer to a refused connection: 403 for the allow-list, 503 for the limits, with the key
// that refused it in the one-line reason.
Refusal admission_refusal(AdmissionRefusal reason);

}  // namespace trproxy::policy
