#include "proxy/session/exchange_log.hpp"

#include <algorithm>

namespace trproxy::proxy {

void log_exchange(ClientConnection& connection, policy::HostClass host_class, const ExchangeResult& result,
                  RequestLog& line) {
  connection.services.metrics.upstream_response(host_class, result.upstream_status);
  line.status = result.status;
  line.bytes_in = std::max<std::uint64_t>(line.bytes_in, result.bytes_from_client);  // the head, even if never sent
  line.bytes_out = result.bytes_to_client;
  line.reason = result.failure;
  connection.log(line);
}

}  // namespace trproxy::proxy
