#include "proxy/server/admin.hpp"

#include "policy/pac.hpp"
#include "proxy/server/accept_pause.hpp"

#include <boost/beast/http.hpp>

namespace trproxy::proxy {
namespace {

namespace http = beast::http;

std::string_view path_of(const http::request<http::empty_body>& request) {
  const auto target = std::string_view(request.target().data(), request.target().size());
  return target.substr(0, target.find('?'));
}

// `tenants` is the /tenants body when the request asks for it (gathered by the caller).
http::response<http::string_body> route(const http::request<http::empty_body>& request, AdminState& state,
                                        const std::string& local_host, std::string tenants) {
  http::response<http::string_body> response;
  response.version(request.version());
  response.keep_alive(request.keep_alive());
  response.set(http::field::cache_control, "no-store");
  const auto path = path_of(request);
  auto plain = [&](http::status status, std::string body) {
    response.result(status);
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.body() = std::move(body);
  };
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    plain(http::status::method_not_allowed, "method not allowed\n");
    response.set(http::field::allow, "GET, HEAD");
  } else if (path == "/healthz") {
    plain(http::status::ok, "ok\n");
  } else if (path == "/readyz") {
    const bool ready = state.ready();
    plain(ready ? http::status::ok : http::status::service_unavailable, ready ? "ready\n" : "not ready\n");
  } else if (path == "/metrics") {
    plain(http::status::ok, state.metrics());
    response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  } else if (path == "/tenants") {
    response.result(http::status::ok);
    response.set(http::field::content_type, "application/json");
    response.body() = std::move(tenants);
  } else if (path == "/proxy.pac" || path == "/wpad.dat") {
    const auto runtime = state.runtime.get();
    const auto host_header = request[http::field::host];
    response.result(http::status::ok);
    response.set(http::field::content_type, policy::pac_content_type);
    response.set(http::field::cache_control, policy::pac_cache_control);
    const auto pac_host = policy::pac_host_from({host_header.data(), host_header.size()}, local_host);
    response.body() = policy::make_pac(*runtime->policy, pac_host, state.proxy_port);
  } else {
    plain(http::status::not_found, "not found\n");
  }
  response.prepare_payload();
  return response;
}

net::awaitable<void> serve_admin_connection(beast::tcp_stream stream, AdminState& state) {
  beast::flat_buffer buffer(16 * 1024);
  const auto local_host = local_address_text(stream.socket());
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8 * 1024);
    stream.expires_after(std::chrono::seconds(10));
    auto [read_ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (read_ec) break;
    const auto& request = parser.get();
    std::string tenants;
    if ((request.method() == http::verb::get || request.method() == http::verb::head) &&
        path_of(request) == "/tenants" && state.tenants) {
      tenants = co_await state.tenants();
    }
    auto response = route(request, state, local_host, std::move(tenants));
    const bool keep_alive = response.keep_alive();
    http::response_serializer<http::string_body> serializer(response);
    if (parser.get().method() == http::verb::head) serializer.split(true);
    if (parser.get().method() == http::verb::head) {
      auto [write_ec, written] = co_await http::async_write_header(stream, serializer, use_tuple);
      if (write_ec) break;
    } else {
      auto [write_ec, written] = co_await http::async_write(stream, serializer, use_tuple);
      if (write_ec) break;
    }
    if (!keep_alive) break;
  }
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace

net::awaitable<void> run_admin_listener(tcp::acceptor acceptor, AdminState& state) {
  error_code closed;  // closed before this first runs: no endpoint, and the loop ends below
  AcceptPause pause(acceptor.get_executor(), "admin " + endpoint_string(acceptor.local_endpoint(closed)),
                    state.accept_pauses);
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      co_await pause.after_error(ec);
      continue;
    }
    pause.accepted();
    net::co_spawn(acceptor.get_executor(), serve_admin_connection(beast::tcp_stream(std::move(socket)), state),
                  net::detached);
  }
}

}  // namespace trproxy::proxy
