// The rewrite fast path against its peers, on the same request heads:
//   trproxy      scan + validate + strip/insert spans (what the proxy does per request)
//   beast_object Beast request_parser into http::request, edit fields, serialise (the baseline)
//   http_parser  Node's classic C parser (Debian libhttp-parser), parse only, no rewrite
//   memchr_floor find the end of the head with memchr: no parser can do less
// Run: build/bench/rewrite_bench (bench/README.md records the figures).

#include "heads.hpp"
#include "policy/rewrite.hpp"

#include <benchmark/benchmark.h>
#include <http_parser.h>
#include <boost/beast/http.hpp>

#include <cstring>
#include <sstream>

namespace {

using namespace trproxy;
namespace http = boost::beast::http;

constexpr std::string_view inserted =
    "sec-Restrict-Tenant-Access-Policy: aaaabbbb-0000-cccc-1111-dddd2222eeee:1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5\r\n";

const std::string& head_for(int which) {
  static const std::string get = bench::browser_get();
  static const std::string post = bench::token_post();
  return which == 0 ? get : post;
}

void label(benchmark::State& state) {
  state.SetLabel(state.range(0) == 0 ? "browser GET 1.5KB" : "token POST 600B");
  state.SetBytesProcessed(
      static_cast<std::int64_t>(state.iterations() * head_for(static_cast<int>(state.range(0))).size()));
}

void trproxy_rewrite(benchmark::State& state) {
  const auto& head_bytes = head_for(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    policy::RequestScanner scanner;
    policy::RequestHead head;
    if (scanner.scan(head_bytes, head) != policy::ScanStatus::complete) state.SkipWithError("scan failed");
    auto pieces = policy::rewrite_head(head_bytes, head, policy::RewriteEdits{true, false, false, inserted});
    benchmark::DoNotOptimize(pieces);
  }
  label(state);
}

void beast_object(benchmark::State& state) {
  const auto& head_bytes = head_for(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(64 * 1024);
    parser.eager(false);
    boost::system::error_code ec;
    parser.put(boost::asio::buffer(head_bytes), ec);
    if (ec && ec != http::error::need_more) state.SkipWithError(ec.message().c_str());
    auto request = parser.release();
    request.erase("Restrict-Access-To-Tenants");
    request.erase("Restrict-Access-Context");
    request.erase("sec-Restrict-Tenant-Access-Policy");
    request.set("sec-Restrict-Tenant-Access-Policy",
                "aaaabbbb-0000-cccc-1111-dddd2222eeee:1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5");
    std::ostringstream out;
    out << request.base();
    auto text = out.str();
    benchmark::DoNotOptimize(text);
  }
  label(state);
}

int noop(http_parser*) {
  return 0;
}
int noop_data(http_parser*, const char*, std::size_t) {
  return 0;
}
int stop_after_head(http_parser*) {
  return 1;
}  // skip body: we only parse the head

void http_parser_parse(benchmark::State& state) {
  const auto& head_bytes = head_for(static_cast<int>(state.range(0)));
  http_parser_settings settings{};
  settings.on_message_begin = noop;
  settings.on_url = noop_data;
  settings.on_header_field = noop_data;
  settings.on_header_value = noop_data;
  settings.on_headers_complete = stop_after_head;
  settings.on_body = noop_data;
  settings.on_message_complete = noop;
  for (auto _ : state) {
    http_parser parser;
    http_parser_init(&parser, HTTP_REQUEST);
    const auto parsed = http_parser_execute(&parser, &settings, head_bytes.data(), head_bytes.size());
    benchmark::DoNotOptimize(parsed);
  }
  label(state);
}

void memchr_floor(benchmark::State& state) {
  const auto& head_bytes = head_for(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    const char* p = head_bytes.data();
    const char* end = p + head_bytes.size();
    std::size_t found = 0;
    while (p < end) {
      const auto* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      if (lf == nullptr) break;
      if (lf + 2 < end && lf[1] == '\r' && lf[2] == '\n') {
        found = static_cast<std::size_t>(lf + 3 - head_bytes.data());
        break;
      }
      p = lf + 1;
    }
    benchmark::DoNotOptimize(found);
  }
  label(state);
}

BENCHMARK(trproxy_rewrite)->Arg(0)->Arg(1);
BENCHMARK(http_parser_parse)->Arg(0)->Arg(1);
BENCHMARK(beast_object)->Arg(0)->Arg(1);
BENCHMARK(memchr_floor)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
