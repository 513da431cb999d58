#include "proxy/session/forward.hpp"

#include "policy/target_tenant.hpp"
#include "policy/upstream_decision.hpp"
#include "proxy/session/exchange_log.hpp"
#include "proxy/session/sign_in_outcome.hpp"
#include "proxy/transport/stream_ops.hpp"
#include "proxy/upstream/dialer.hpp"

#include <algorithm>

namespace trproxy::proxy {

ForwardUpstream::ForwardUpstream(ClientConnection& connection)
    : connection_(connection), buffer_(connection.config().limits.max_head_bytes) {}

void ForwardUpstream::close() {
  stream_.reset();
  connection_.tracked.upstream_fd = -1;
}

net::awaitable<ExchangeResult> ForwardUpstream::forward(beast::tcp_stream& client, beast::flat_buffer& buffer,
                                                        const policy::RequestHead& head,
                                                        const policy::ForwardPlan& plan, RequestLog line) {
  auto& services = connection_.services;
  const auto runtime = connection_.worker.runtime();
  line.host = plan.host;
  const auto key = plan.host + ":" + std::to_string(plan.port);
  if (stream_ && key_ != key) close();
  // Bytes the server sent after its last response (or its FIN) would be read as this request's
  // answer: a kept connection that holds any is not reused (the pool's rule, for the connection
  // a client keeps).
  if (stream_ && has_unread_input(*stream_)) close();
  if (!stream_) {
    stream_.emplace(co_await net::this_coro::executor);
    if (auto failure = co_await connection_.worker.dialer().dial(*stream_, runtime->config(), {plan.host, plan.port})) {
      close();
      const auto refusal = policy::dial_refusal(std::move(failure->refusal), policy::DialPurpose::forward);
      line.bytes_in = head.end;
      co_await refuse(client, connection_, refusal, line);
      ExchangeResult refused;
      refused.status = refusal.status;
      co_return refused;
    }
    key_ = key;
    buffer_.clear();
    connection_.tracked.upstream_fd = stream_->socket().native_handle();
  }
  error_code ignored;
  line.upstream = endpoint_string(stream_->socket().remote_endpoint(ignored));
  const auto bytes = view_of(buffer);
  const auto pieces = policy::rewrite_head(bytes, head, plan.edits);
  if (plan.edits.strip_tenant_restriction) {
    services.metrics.spoofed_headers_stripped.add(policy::count_tenant_restriction_lines(head));
  }
  // A plain-HTTP request to a sign-in or app host is counted like an intercepted one.
  std::optional<OutcomeCells> outcome;
  std::optional<policy::ResponseWatch> watch;
  if (plan.profile != nullptr) {
    outcome = start_sign_in(connection_, *runtime->policy, *plan.profile, plan.host_class, plan.app, line);
    watch.emplace(response_watch_for(connection_, *runtime->policy, *outcome));
  }
  auto request = ExchangeRequest::of(head, *runtime->policy);
  request.served = "plain-HTTP forwards";
  auto result = co_await exchange(client, buffer, request, pieces, *stream_, buffer_, runtime->config().limits,
                                  services.metrics, watch ? &*watch : nullptr);
  if (outcome) {
    record_outcome(connection_, *runtime->policy, *watch, *outcome, *plan.profile, result.upstream_status, line);
  }
  line.action = plan.action;
  log_exchange(connection_, plan.host_class, result, line);
  if (!result.upstream_reusable) close();
  co_return result;
}

}  // namespace trproxy::proxy
