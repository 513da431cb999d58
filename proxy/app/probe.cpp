#include "proxy/app/probe.hpp"

#include "policy/authority.hpp"
#include "proxy/app/cli.hpp"
#include "proxy/transport/io.hpp"

#include <boost/beast/http.hpp>

#include <iostream>
#include <optional>

namespace trproxy::proxy {
namespace {

namespace http = beast::http;

struct Target {
  std::string host;
  std::string port;
  std::string path;
};

std::optional<Target> target_of(const std::string& url) {
  const auto rest = std::string_view(url).substr(7);  // after http://
  const auto slash = rest.find('/');
  const auto authority_text = rest.substr(0, slash);
  const auto authority = policy::parse_authority(authority_text, 80, false);
  if (!authority || authority->host.empty()) return std::nullopt;
  return Target{std::string(authority->host), std::to_string(authority->port),
                slash == std::string_view::npos ? "/" : std::string(rest.substr(slash))};
}

// The one GET; "" when it answered 200, else why not.
net::awaitable<std::string> get(const Target& target) {
  auto executor = co_await net::this_coro::executor;
  tcp::resolver resolver(executor);
  auto [resolve_ec, endpoints] =
      co_await resolver.async_resolve(target.host, target.port, net::ip::resolver_base::numeric_service, use_tuple);
  if (resolve_ec) co_return "cannot resolve " + target.host + ": " + resolve_ec.message();
  beast::tcp_stream stream(executor);
  auto [connect_ec, connected] = co_await stream.async_connect(endpoints, use_tuple);
  if (connect_ec) co_return connect_ec.message();
  http::request<http::empty_body> request{http::verb::get, target.path, 11};
  request.set(http::field::host, target.host);
  request.set(http::field::connection, "close");
  auto [write_ec, written] = co_await http::async_write(stream, request, use_tuple);
  if (write_ec) co_return "cannot send the request: " + write_ec.message();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1024 * 1024);
  auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, use_tuple);
  if (read_ec) co_return "no answer: " + read_ec.message();
  const auto& response = parser.get();
  if (response.result() == http::status::ok) co_return "";
  co_return std::to_string(response.result_int()) + " " + std::string(response.reason());
}

}  // namespace

int run_probe(const std::string& url, std::chrono::seconds timeout) {
  const auto target = target_of(url);
  if (!target) {
    std::cerr << "trproxy probe: " << url << ": not an http://HOST[:PORT]/PATH URL\n";
    return exit_config;
  }
  net::io_context io(1);
  std::optional<std::string> outcome;
  net::co_spawn(io, get(*target), [&](const std::exception_ptr& error, std::string why) {
    outcome = error ? std::string("probe failed") : std::move(why);
  });
  io.run_for(timeout);
  if (!outcome) outcome = "no answer within " + std::to_string(timeout.count()) + " s";
  if (outcome->empty()) return exit_ok;
  std::cerr << "trproxy probe: " << url << ": " << *outcome << "\n";
  return exit_runtime;
}

}  // namespace trproxy::proxy
