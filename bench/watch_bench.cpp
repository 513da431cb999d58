// What outcome telemetry (issue 11) adds to one intercepted sign-in response: the ResponseWatch
// reading the head, and for HTML/JSON the body searched for block codes, plain or after undoing
// gzip. A sign-in page carries no code, so the whole body (up to the 64 KiB text limit) is
// searched: the worst case per response. Compare with the keep-alive CPU per request of load.py.

#include "policy/response_watch.hpp"

#include <benchmark/benchmark.h>
#include <zlib.h>

#include <string>

namespace {

using namespace trproxy::policy;

std::string page(std::size_t size) {
  std::string out = "<html><body>";
  while (out.size() < size) out += "Sign in to your account. ";
  out.resize(size);
  return out;
}

std::string gzipped(const std::string& text) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, text.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Arg 0: text/plain (head only); 1: text/html; 2: text/html, gzip. range(1): body bytes.
void response_watch(benchmark::State& state) {
  const auto kind = state.range(0);
  const auto text = page(static_cast<std::size_t>(state.range(1)));
  const auto body = kind == 2 ? gzipped(text) : text;
  const std::string head = std::string("HTTP/1.1 200 OK\r\nContent-Type: ") +
                           (kind == 0 ? "text/plain" : "text/html; charset=utf-8") + "\r\n" +
                           (kind == 2 ? "Content-Encoding: gzip\r\n" : "") +
                           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  DecodeBudget budget(64 * 1024 * 1024);
  for (auto _ : state) {
    ResponseWatch watch(HostClass::auth, budget);
    watch.head(head);
    if (auto* observer = watch.body()) {
      // In reads of 16 KiB, as the exchange hands them over.
      for (std::size_t at = 0; at < body.size(); at += 16384)
        observer->payload(std::string_view(body).substr(at, 16384));
    }
    watch.end();
    benchmark::DoNotOptimize(watch.outcome());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(text.size()));
}

}  // namespace

BENCHMARK(response_watch)->Args({0, 8192})->Args({1, 8192})->Args({2, 8192})->Args({1, 65536})->Args({2, 65536});

BENCHMARK_MAIN();
