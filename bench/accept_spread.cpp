// Which accept model spreads connections across workers better, measured on this machine
// (proxy/server/acceptor.hpp cites the result): one SO_REUSEPORT listener per worker, where the kernel
// picks the listener by a hash of the 4-tuple, or one acceptor handing each socket to the worker
// with the fewest open connections.
//
// Clients come from one address (a NAT or load balancer in front of an egress proxy), open
// connections that live for different lengths of time, and the run reports, after each round of
// opening and closing, how many connections each worker holds. Loopback only.
//   build/bench/accept_spread [workers=2] [trials=20]

#include <boost/asio.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <thread>
#include <vector>

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

struct Worker {
  net::io_context io{1};
  std::atomic<int> open{0};
  std::vector<std::shared_ptr<tcp::socket>> held;  // touched on the worker's thread only
};

// Holds the accepted socket on its worker until the client closes it (counted open by whoever
// accepted it, at once, as the proxy's acceptor does).
void hold(Worker& worker, std::shared_ptr<tcp::socket> socket) {
  auto buffer = std::make_shared<char>();
  socket->async_read_some(net::buffer(buffer.get(), 1),
                          [&worker, socket, buffer](auto, auto) { worker.open.fetch_sub(1); });
}

tcp::acceptor listener(net::io_context& io, unsigned short port, bool reuse_port) {
  tcp::acceptor acceptor(io, tcp::v4());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  if (reuse_port) {
    const int on = 1;
    ::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  }
  acceptor.bind(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  acceptor.listen();
  return acceptor;
}

void accept_each(tcp::acceptor& acceptor, Worker& worker) {
  acceptor.async_accept(worker.io, [&acceptor, &worker](boost::system::error_code ec, tcp::socket socket) {
    if (ec) return;
    worker.open.fetch_add(1);
    hold(worker, std::make_shared<tcp::socket>(std::move(socket)));
    accept_each(acceptor, worker);
  });
}

void accept_least_loaded(tcp::acceptor& acceptor, std::vector<std::unique_ptr<Worker>>& workers) {
  auto& target = **std::min_element(workers.begin(), workers.end(),
                                    [](const auto& a, const auto& b) { return a->open.load() < b->open.load(); });
  acceptor.async_accept(target.io, [&acceptor, &workers, &target](boost::system::error_code ec, tcp::socket socket) {
    if (ec) return;
    target.open.fetch_add(1);
    hold(target, std::make_shared<tcp::socket>(std::move(socket)));
    accept_least_loaded(acceptor, workers);
  });
}

// max/mean of the connections the workers hold; 1.0 is a perfect spread.
double imbalance(const std::vector<std::unique_ptr<Worker>>& workers) {
  int total = 0, most = 0;
  for (const auto& w : workers) {
    total += w->open.load();
    most = std::max(most, w->open.load());
  }
  return total == 0 ? 1.0 : most * static_cast<double>(workers.size()) / total;
}

void settle(const std::vector<std::unique_ptr<Worker>>& workers, int expected) {
  for (int i = 0; i < 2000; ++i) {
    int total = 0;
    for (const auto& w : workers) total += w->open.load();
    if (total == expected) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// One trial: rounds of opening `burst` connections and closing a random share of those open.
double trial(bool reuse_port, unsigned worker_count, int burst, std::mt19937& random) {
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < worker_count; ++i) workers.push_back(std::make_unique<Worker>());
  net::io_context acceptor_io{1};
  std::vector<tcp::acceptor> acceptors;
  acceptors.reserve(worker_count);  // the accept loops hold references
  unsigned short port = 0;
  if (reuse_port) {
    for (auto& w : workers) {
      acceptors.push_back(listener(w->io, port, true));
      port = acceptors.back().local_endpoint().port();
      accept_each(acceptors.back(), *w);
    }
  } else {
    acceptors.push_back(listener(acceptor_io, 0, false));
    port = acceptors.back().local_endpoint().port();
    accept_least_loaded(acceptors.back(), workers);
  }
  std::vector<std::thread> threads;
  auto guards = std::vector<net::executor_work_guard<net::io_context::executor_type>>();
  for (auto& w : workers) {
    guards.push_back(net::make_work_guard(w->io));
    threads.emplace_back([&w] { w->io.run(); });
  }
  auto acceptor_guard = net::make_work_guard(acceptor_io);
  std::thread acceptor_thread([&] { acceptor_io.run(); });

  net::io_context client_io;
  std::vector<tcp::socket> clients;
  double worst = 1.0;
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < burst; ++i) {
      clients.emplace_back(client_io);
      clients.back().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    }
    settle(workers, static_cast<int>(clients.size()));
    worst = std::max(worst, imbalance(workers));  // after the accepts: what the model controls
    std::shuffle(clients.begin(), clients.end(), random);
    clients.erase(clients.begin() + static_cast<std::ptrdiff_t>(clients.size() / 2), clients.end());  // close half
    settle(workers, static_cast<int>(clients.size()));
  }
  clients.clear();
  for (auto& a : acceptors) a.close();
  for (auto& w : workers) w->io.stop();
  acceptor_io.stop();
  for (auto& t : threads) t.join();
  acceptor_thread.join();
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned workers = argc > 1 ? static_cast<unsigned>(std::atoi(argv[1])) : 2;
  const int trials = argc > 2 ? std::atoi(argv[2]) : 20;
  std::mt19937 random(42);
  std::printf(
      "workers=%u trials=%d; worst max/mean connections per worker after each of 6 bursts (half closed between)\n",
      workers, trials);
  std::printf("%-10s %-22s %10s %10s\n", "burst", "model", "mean", "worst");
  for (const int burst : {8, 64, 512}) {
    for (const bool reuse_port : {true, false}) {
      double sum = 0, worst = 0;
      for (int t = 0; t < trials; ++t) {
        const double value = trial(reuse_port, workers, burst, random);
        sum += value;
        worst = std::max(worst, value);
      }
      std::printf("%-10d %-22s %10.2f %10.2f\n", burst, reuse_port ? "SO_REUSEPORT" : "hand-off least loaded",
                  sum / trials, worst);
    }
  }
  return 0;
}
