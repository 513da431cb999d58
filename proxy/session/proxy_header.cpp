#include "proxy/session/proxy_header.hpp"

#include "proxy/transport/deadline.hpp"

#include <algorithm>

namespace trproxy::proxy {
namespace {

net::awaitable<ProxyHeaderOutcome> read_until_parsed(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                                     std::size_t max_bytes) {
  ProxyHeaderOutcome out;
  for (;;) {
    out.header = policy::parse_proxy_header(view_of(buffer), std::min(max_bytes, buffer.max_size()));
    if (out.header.status == policy::ProxyHeaderStatus::complete) {
      out.read = HeadRead::complete;
      co_return out;
    }
    if (out.header.status == policy::ProxyHeaderStatus::invalid) {
      out.read = HeadRead::invalid;
      co_return out;
    }
    if (read_room(buffer) == 0) {  // parse_proxy_header refuses a header larger than the buffer first
      out.read = HeadRead::invalid;
      co_return out;
    }
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(read_room(buffer)), use_tuple);
    buffer.commit(n);
    if (ec && n == 0) {
      out.read = HeadRead::closed;
      co_return out;
    }
  }
}

}  // namespace

net::awaitable<ProxyHeaderOutcome> read_proxy_header(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                                     std::size_t max_bytes, Clock::time_point deadline) {
  auto outcome = co_await within(deadline, read_until_parsed(stream, buffer, max_bytes));
  if (!outcome) {
    ProxyHeaderOutcome late;
    late.read = buffer.size() == 0 ? HeadRead::closed : HeadRead::timed_out;
    co_return late;
  }
  if (outcome->read == HeadRead::complete) buffer.consume(outcome->header.length);
  co_return std::move(*outcome);
}

}  // namespace trproxy::proxy
