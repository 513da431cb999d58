#include "proxy/server/acceptor.hpp"

#include "proxy/server/accept_pause.hpp"

#include "proxy/session/client_session.hpp"
#include "proxy/session/transparent.hpp"
#include "proxy/transport/transparent_socket.hpp"

#include <spdlog/spdlog.h>

namespace trproxy::proxy {
namespace {

Worker& least_loaded(Workers& workers, std::size_t& next) {
  std::size_t best = next % workers.size();
  for (std::size_t i = 1; i < workers.size(); ++i) {
    const auto candidate = (next + i) % workers.size();
    if (workers[candidate]->load().load(std::memory_order_relaxed) <
        workers[best]->load().load(std::memory_order_relaxed)) {
      best = candidate;
    }
  }
  next = best + 1;
  return *workers[best];
}

}  // namespace

tcp::acceptor open_acceptor(net::io_context& io, const config::Endpoint& endpoint, bool transparent) {
  const tcp::endpoint where(net::ip::make_address(endpoint.host), endpoint.port);
  tcp::acceptor acceptor(io);
  acceptor.open(where.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  if (where.address().is_v6()) acceptor.set_option(net::ip::v6_only(true));
  if (transparent) {
    if (const auto ec = set_transparent(acceptor, where.address().is_v6())) throw boost::system::system_error(ec);
  }
  acceptor.bind(where);
  acceptor.listen(net::socket_base::max_listen_connections);
  return acceptor;
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor, Workers& workers, Counter& pauses, Entry entry) {
  std::size_t next = 0;
  error_code closed;  // a listener closed before this first runs has no endpoint: the loop ends below
  AcceptPause pause(
      co_await net::this_coro::executor,
      (entry == Entry::proxy ? "proxy " : "transparent ") + endpoint_string(acceptor.local_endpoint(closed)), pauses);
  for (;;) {
    Worker& worker = least_loaded(workers, next);
    auto [ec, socket] = co_await acceptor.async_accept(worker.executor(), use_tuple);
    if (!acceptor.is_open() || ec == net::error::operation_aborted) co_return;
    if (ec) {
      co_await pause.after_error(ec);
      continue;
    }
    pause.accepted();
    worker.load().fetch_add(1, std::memory_order_relaxed);  // serve_client's LoadShare gives it back
    auto session = entry == Entry::proxy ? serve_client(std::move(socket), worker.services(), worker)
                                         : serve_transparent(std::move(socket), worker.services(), worker);
    net::co_spawn(worker.executor(), std::move(session), [](std::exception_ptr error) {
      if (!error) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        spdlog::error("connection ended by an unexpected error: {}", e.what());
      }
    });
  }
}

}  // namespace trproxy::proxy
