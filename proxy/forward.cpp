#include "config/syntax.hpp"
#include "proxy/session.hpp"

#include <spdlog/spdlog.h>

namespace trproxy::proxy {

net::awaitable<void> run_forward(beast::tcp_stream client, beast::flat_buffer buffer, policy::RequestHead head,
                                 ClientContext& context) {
  auto& metrics = context.services.metrics;
  const auto& config = context.config();
  policy::RequestScanner scanner(policy::ScanLimits{config.limits.max_head_bytes, config.limits.max_header_fields});
  std::optional<beast::tcp_stream> upstream;
  std::string upstream_key;  // "host:port" the open upstream connection serves
  beast::flat_buffer upstream_buffer(config.limits.max_head_bytes);
  auto request_started = context.started;
  for (;;) {
    auto refuse = [&](Action action, int status, std::string_view reason) -> net::awaitable<void> {
      metrics.refused(status);
      metrics.connection(action);
      const auto response = error_response(status, reason);
      client.expires_after(config.limits.head_timeout);
      co_await write_text(client, response);
      context.log(action, head.method, head.target_authority.host, head.target, status, 0, response.size(),
                  request_started);
    };
    if (head.form != policy::TargetForm::absolute) {
      co_await refuse(Action::deny, 400, "this is a proxy: send CONNECT or an absolute-form request");
      break;
    }
    if (head.https_scheme) {
      co_await refuse(Action::deny, 400, "https:// targets must be requested with CONNECT");
      break;
    }
    const std::string host = config::normalize_host(head.target_authority.host);
    const auto port = head.target_authority.port;
    const auto host_class = context.policy().hosts().classify(host);
    if (host_class == policy::HostClass::invalid) {
      co_await refuse(Action::deny, 400, "host is not a plain ASCII host name");
      break;
    }
    if (host_class == policy::HostClass::blocked) {
      co_await refuse(Action::block, 403, "destination blocked by policy");
      break;
    }
    const bool sign_in = policy::is_intercepted(host_class);
    if (sign_in && !host_header_names(head.host, host, 80, port)) {
      co_await refuse(Action::forward, 421, "Host header does not name the requested sign-in host");
      break;
    }
    const auto key = host + ":" + std::to_string(port);
    if (upstream && upstream_key != key) upstream.reset();
    if (!upstream) {
      upstream.emplace(client.get_executor());
      if (const auto ec = co_await connect_upstream(*upstream, config, host, port)) {
        const bool timeout = ec == beast::error::timeout;
        metrics.upstream_failure(timeout ? UpstreamFailure::timeout : UpstreamFailure::connect);
        upstream.reset();
        co_await refuse(Action::forward, timeout ? 504 : 502,
                        timeout ? "upstream connect timed out" : "cannot connect to upstream");
        break;
      }
      upstream_key = key;
      upstream_buffer.clear();
    }
    metrics.connection(Action::forward);
    const policy::RewriteEdits edits{sign_in, true, true, context.policy().headers().inserted_block(host_class)};
    const auto pieces = policy::rewrite_head(detail::view_of(buffer), head, edits);
    if (sign_in) metrics.spoofed_headers_stripped.add(policy::count_tenant_restriction_lines(head));
    const auto method = std::string(head.method);
    const auto target = std::string(head.target);
    const auto result = co_await exchange(client, buffer, head, pieces, *upstream, upstream_buffer, config.limits, metrics);
    context.log(Action::forward, method, host, target, result.status, result.bytes_from_client, result.bytes_to_client,
                request_started);
    if (!result.upstream_reusable) upstream.reset();
    if (!result.client_reusable || context.services.draining.load()) break;

    request_started = std::chrono::steady_clock::now();
    const auto read = co_await read_request_head(client, buffer, scanner, head, config.limits, false);
    if (read == HeadRead::closed) break;
    if (read == HeadRead::invalid) {
      head = policy::RequestHead{};
      co_await refuse(Action::deny, policy::http_status(scanner.error()), policy::describe(scanner.error()));
      break;
    }
  }
  error_code ignored;
  client.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace trproxy::proxy
