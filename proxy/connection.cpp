#include "proxy/connection.hpp"

namespace trproxy::proxy {

void ClientConnection::log(const RequestLog& line) const {
  services.access_log.write(AccessRecord{peer, line.action, line.method, line.host, line.target, line.status,
                                         line.bytes_in, line.bytes_out, Clock::now() - line.since, line.sni,
                                         line.upstream, line.reason});
}

policy::Refusal head_refusal(policy::HeadError error, policy::Action action) {
  return policy::Refusal{policy::http_status(error), action, std::string(policy::describe(error))};
}

}  // namespace trproxy::proxy
