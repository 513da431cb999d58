#pragma once
// Work the control thread hands to every worker: a task run on each worker's own thread (reload,
// drain, end_all), and the /tenants snapshot gathered from each worker's table.

#include "proxy/server/acceptor.hpp"

#include <functional>
#include <string>

namespace trproxy::proxy {

// Runs `task` on every worker's thread; `done` (may be empty) runs on the control thread once
// all have.
void on_every_worker(Workers& workers, net::io_context& control, std::function<void(Worker&)> task,
                     std::function<void()> done);

// /tenants: each worker copies its own table on its own thread (the request path takes no lock),
// then the copies are merged here.
net::awaitable<std::string> gather_tenants(Workers& workers);

}  // namespace trproxy::proxy
