#pragma once
// One HTTP request/response exchange through the proxy, for any pair of streams (TLS on both
// sides when intercepting, plain TCP when forwarding). The request head goes out as the
// rewrite's gather list; the request body and the whole response pass through byte for byte,
// delimited by their framing, never re-chunked. Request body and response run concurrently so
// that `Expect: 100-continue` and early responses work.

#include "config/config.hpp"
#include "policy/body_framing.hpp"
#include "policy/connection_auth.hpp"
#include "policy/policy.hpp"
#include "policy/response_watch.hpp"
#include "policy/rewrite.hpp"
#include "proxy/observe/metrics.hpp"
#include "proxy/session/respond.hpp"
#include "proxy/transport/io.hpp"
#include "proxy/transport/stream_ops.hpp"

#include <array>
#include <optional>
#include <span>

namespace trproxy::proxy {

// What the exchange needs of the request head, copied out of it before the first consume():
// nothing here points into a buffer that the exchange itself moves on.
struct ExchangeRequest {
  std::uint32_t head_end = 0;
  bool method_head = false;
  policy::BodyFraming framing = policy::BodyFraming::none;
  std::uint64_t content_length = 0;
  bool keep_alive = true;
  // Set by the caller for an idempotent request without a body on a reused upstream connection:
  // if that connection turns out dead before any response byte (the server closed it while it
  // was idle), the exchange reports `retry` instead of answering, and the head is still unread
  // in the client buffer, to be sent again on a fresh connection.
  bool replayable = false;
  // What a refused protocol switch (101) is called in the one-line reason: the hosts this
  // exchange serves ("intercepted hosts", "plain-HTTP forwards").
  std::string_view served = "intercepted hosts";
  // The apps.custom names refused as request trailers (null: none); from the policy the caller
  // holds for the exchange.
  const policy::FieldNames* custom_app_fields = nullptr;
  // The request asked to switch protocols (Upgrade) to a host where that is relayed (an app
  // host: WebSocket). A 101 then goes to the client and the caller relays bytes (result.switched);
  // anywhere else a 101 is refused with 502.
  bool may_switch_protocols = false;

  static ExchangeRequest of(const policy::RequestHead& head) {
    return {head.end, head.method_head, head.framing, head.content_length, head.keep_alive};
  }
  // A request decided under `policy`, which the caller holds for the exchange.
  static ExchangeRequest of(const policy::RequestHead& head, const policy::Policy& policy) {
    auto request = of(head);
    request.custom_app_fields = policy.apps().custom_fields();
    return request;
  }
};

struct ExchangeResult {
  int status = 0;           // the upstream's final status, or our own error status
  int upstream_status = 0;  // the upstream's final status; 0 when it sent none
  std::uint64_t bytes_from_client = 0;
  std::uint64_t bytes_to_client = 0;
  bool client_reusable = false;
  bool upstream_reusable = false;
  bool retry = false;            // a replayable request met a dead reused connection: nothing was answered
  bool connection_auth = false;  // the upstream challenged with NTLM/Negotiate: pin the connection
  bool switched = false;         // 101 sent to the client: both connections now carry another protocol
  std::string failure;           // why the exchange broke off (for the operational log)
};

namespace detail {

template <class Client, class Upstream>
struct Exchange {
  Client& client;
  beast::flat_buffer& client_buffer;
  Upstream& upstream;
  beast::flat_buffer& upstream_buffer;
  ExchangeRequest request;
  const config::Limits& limits;
  Metrics& metrics;
  policy::ResponseWatch* watch;  // sign-in responses: a side observer of the final head and body
  ExchangeResult result;
  bool request_body_done = false;
  bool request_failed = false;
  bool response_done = false;
  bool response_started = false;  // bytes of the upstream response reached the client
  // A request with a body: limits.upstream_response_timeout counts from the body's last byte, not
  // from the head (an upload may take longer than the wait for its answer). The response pump's
  // head read then has no stream deadline of its own; this timer, armed when the body is sent,
  // ends the wait instead (Beast cannot re-arm a read that is already pending).
  std::optional<net::steady_timer> head_deadline{};
  bool head_wait_over = false;  // a final head came, or the response pump ended
  bool head_timed_out = false;

  void close_both() {
    close_lowest(client);
    close_lowest(upstream);
  }

  // Our own error to the client, only while nothing of the upstream's response was sent.
  // A view, not a string: no temporary with a destructor in the callers' co_await expressions
  // (GCC 12 destroys some of those twice).
  net::awaitable<void> fail(int status, std::string_view reason) {
    result.failure = reason;
    result.status = status;
    result.client_reusable = false;
    result.upstream_reusable = false;
    if (!response_started) {
      metrics.refused(status);
      expire_after(client, limits.head_timeout);
      const auto response = error_response(status, reason);
      co_await write_text(client, response);
    }
  }
};

// The request body is sent: the wait for the response head starts now.
template <class Client, class Upstream>
void body_sent(Exchange<Client, Upstream>& x) {
  x.request_body_done = true;
  if (x.head_deadline && !x.head_wait_over) x.head_deadline->expires_after(x.limits.upstream_response_timeout);
}

template <class Client, class Upstream>
net::awaitable<void> pump_request_body(Exchange<Client, Upstream>& x) {
  policy::BodyTracker tracker(x.request.framing, x.request.content_length,
                              policy::BodyTracker::default_max_trailer_bytes, x.request.custom_app_fields);
  for (;;) {
    if (tracker.done()) {  // an empty body (Content-Length: 0) is done before any byte
      body_sent(x);
      co_return;
    }
    const auto view = view_of(x.client_buffer);
    if (!view.empty()) {
      const auto progress = tracker.feed(view);
      if (progress.consumed > 0) {
        expire_after(x.upstream, x.limits.idle_timeout);
        auto [ec, n] = co_await net::async_write(x.upstream, net::buffer(view.data(), progress.consumed), use_tuple);
        if (ec) {
          if (x.response_done) co_return;  // the early answer ended the upstream connection
          x.request_failed = true;
          x.result.failure = "upstream write failed: " + ec.message();
          x.close_both();
          co_return;
        }
        x.result.bytes_from_client += progress.consumed;
        x.client_buffer.consume(progress.consumed);
      }
      if (progress.status == policy::BodyStatus::done) {
        body_sent(x);
        co_return;
      }
      if (progress.status == policy::BodyStatus::error) {
        // Nothing after the fault is forwarded: both connections end here.
        x.request_failed = true;
        x.result.failure = std::string("request body: ") + std::string(policy::describe(tracker.error()));
        x.metrics.refused(400);
        x.close_both();
        co_return;
      }
    }
    if (x.response_done) co_return;
    expire_after(x.client, x.limits.idle_timeout);
    auto [ec, n] = co_await x.client.async_read_some(x.client_buffer.prepare(read_room(x.client_buffer)), use_tuple);
    x.client_buffer.commit(n);
    if (ec && n == 0) {
      x.request_failed = !x.response_done;
      if (x.request_failed) {
        x.result.failure = "client stopped sending the request body: " + ec.message();
        x.close_both();
      }
      co_return;
    }
  }
}

// A response head that cannot be had: malformed, or the upstream closed or went silent before
// it was whole (answered with our 502/504), or a reused connection found dead before any byte
// (retry). The rare path, out of the hot loop.
template <class Client, class Upstream>
net::awaitable<void> response_head_failed(Exchange<Client, Upstream>& x, const policy::ResponseScanner& scanner,
                                          error_code ec, bool first_head) {
  if (!ec) {
    // Named, not a temporary: GCC 12 destroys some temporaries of a co_await expression twice.
    auto reason = "malformed response from upstream (" + std::string(policy::describe(scanner.error())) + ")";
    co_await x.fail(502, reason);
  } else if (x.request_failed) {
    co_return;
  } else if (x.request.replayable && first_head && x.upstream_buffer.size() == 0 && ec != beast::error::timeout) {
    x.result.retry = true;  // closed while idle: nothing reached the client, send it again
    x.result.failure = "reused upstream connection closed: " + ec.message();
    close_lowest(x.upstream);
    co_return;
  } else if (ec == beast::error::timeout || x.head_timed_out) {
    x.metrics.upstream_failure(UpstreamFailure::timeout);
    co_await x.fail(504, "upstream did not answer in time");
  } else {
    co_await x.fail(502, "upstream closed the connection without a response");
  }
  x.close_both();
}

// What every response head is noted for: the upstream's latency (first head) and whether it
// challenges with NTLM/Negotiate (the session then pins the connection).
template <class Client, class Upstream>
void note_response_head(Exchange<Client, Upstream>& x, const policy::ResponseHead& response, bool first_head,
                        std::chrono::steady_clock::time_point sent_at) {
  if (first_head) {
    x.metrics.observe_upstream_latency(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - sent_at).count());
  }
  const auto head_bytes = view_of(x.upstream_buffer).substr(0, response.end);
  x.result.connection_auth = x.result.connection_auth || policy::requests_connection_auth(head_bytes);
}

// The final response's body after what left with its head, byte for byte as its framing
// delimits it. nullopt when the exchange broke off (both connections closed); else whether the
// body ended with the upstream's close (until-close framing).
template <class Client, class Upstream>
net::awaitable<std::optional<bool>> forward_response_body(Exchange<Client, Upstream>& x, policy::BodyTracker& tracker,
                                                          policy::PayloadObserver* body_watch,
                                                          policy::BodyFraming framing) {
  while (!tracker.done()) {
    const auto view = view_of(x.upstream_buffer);
    if (!view.empty()) {
      const auto progress = tracker.feed(view, body_watch);
      if (progress.consumed > 0) {
        expire_after(x.client, x.limits.idle_timeout);
        auto [ec, n] = co_await net::async_write(x.client, net::buffer(view.data(), progress.consumed), use_tuple);
        x.result.bytes_to_client += n;
        if (ec) {
          x.result.failure = "client write failed: " + ec.message();
          x.close_both();
          co_return std::nullopt;
        }
        x.upstream_buffer.consume(progress.consumed);
      }
      if (progress.status == policy::BodyStatus::done) break;
      if (progress.status == policy::BodyStatus::error) {
        x.result.failure = std::string("response body: ") + std::string(policy::describe(tracker.error()));
        x.close_both();
        co_return std::nullopt;
      }
    }
    expire_after(x.upstream, x.limits.idle_timeout);
    auto [ec, n] =
        co_await x.upstream.async_read_some(x.upstream_buffer.prepare(read_room(x.upstream_buffer)), use_tuple);
    x.upstream_buffer.commit(n);
    if (!ec || n > 0) continue;
    if (framing == policy::BodyFraming::until_close &&
        (ec == net::error::eof || ec == net::ssl::error::stream_truncated)) {
      co_return true;
    }
    x.result.failure = "upstream response truncated: " + ec.message();
    x.close_both();
    co_return std::nullopt;
  }
  co_return false;
}

// After the whole response: which connection may carry another request.
template <class Client, class Upstream>
void finish_response(Exchange<Client, Upstream>& x, const policy::ResponseHead& response, bool ended_by_close) {
  x.response_done = true;
  if (x.watch != nullptr) x.watch->end();
  const bool body_complete = x.request_body_done || x.request.framing == policy::BodyFraming::none;
  // Anything after the response (a body behind HEAD, 204 or 304, a record of its own) ends the
  // upstream connection: it is not the answer to the next request.
  x.result.upstream_reusable = response.keep_alive && !ended_by_close && body_complete &&
                               x.upstream_buffer.size() == 0 && !has_unread_input(x.upstream);
  x.result.client_reusable = x.request.keep_alive && !ended_by_close && body_complete;
  if (!body_complete) {
    // The upstream answered before the request body was complete. Stop: a server that answered
    // need not read the rest, and feeding it would wait on its window until the idle timeout.
    // Neither connection can carry another request (the rest of the body is still on its way).
    x.result.failure = "upstream answered before the request body was complete; the rest was not sent";
    cancel_reads(x.client);
    close_lowest(x.upstream);
  }
}

// The response head's deadline for a request with a body (Exchange::head_deadline): waits until
// the body pump arms it and it expires, then ends the upstream connection, so the response pump's
// pending read fails and answers 504. Ends early once a final head came or the pump ended.
template <class Client, class Upstream>
net::awaitable<void> watch_head_deadline(Exchange<Client, Upstream>& x) {
  while (!x.head_wait_over) {
    auto [ec] = co_await x.head_deadline->async_wait(use_tuple);
    if (x.head_wait_over) co_return;
    if (ec) continue;  // re-armed (the body was sent): wait for the new expiry
    x.head_timed_out = true;
    close_lowest(x.upstream);
    co_return;
  }
}

// The response pump no longer waits for a head: the deadline's watcher may end.
template <class Client, class Upstream>
void end_head_wait(Exchange<Client, Upstream>& x) {
  x.head_wait_over = true;
  if (x.head_deadline) x.head_deadline->cancel();
}

// A 101 the request asked for: the head and whatever followed it go to the client; the caller
// relays the rest. Neither connection carries HTTP again.
template <class Client, class Upstream>
net::awaitable<void> switch_protocols(Exchange<Client, Upstream>& x) {
  expire_after(x.client, x.limits.idle_timeout);
  auto [ec, n] = co_await net::async_write(x.client, x.upstream_buffer.data(), use_tuple);
  x.response_started = true;
  x.result.bytes_to_client += n;
  x.upstream_buffer.consume(n);
  x.result.status = x.result.upstream_status = 101;
  x.response_done = true;
  if (ec) {
    x.result.failure = "client write failed: " + ec.message();
    x.close_both();
    co_return;
  }
  x.result.switched = true;
}

// The response head read's deadline: limits.upstream_response_timeout, or none of its own while a
// body request's body is still going out (Exchange::head_deadline bounds that wait).
template <class Client, class Upstream>
void arm_head_read(Exchange<Client, Upstream>& x) {
  if (x.head_deadline && !x.request_body_done) {
    expire_never(x.upstream);
  } else {
    expire_after(x.upstream, x.limits.upstream_response_timeout);
  }
}

// Ends the head deadline's watch however the response pump ends.
template <class Client, class Upstream>
struct HeadWaitEnd {
  Exchange<Client, Upstream>& x;
  ~HeadWaitEnd() { end_head_wait(x); }
};

template <class Client, class Upstream>
net::awaitable<void> pump_response(Exchange<Client, Upstream>& x, std::chrono::steady_clock::time_point sent_at) {
  const HeadWaitEnd<Client, Upstream> end_of_head_wait{x};
  policy::ResponseScanner scanner(policy::ScanLimits{x.limits.max_head_bytes, x.limits.max_header_fields});
  policy::ResponseHead response;
  bool first_head = true;
  std::optional<policy::BodyTracker> tracker;     // the final response's body
  policy::BodyProgress with_head{};               // what of it left together with the head
  policy::PayloadObserver* body_watch = nullptr;  // known once the watch has seen the final head
  for (;;) {                                      // interim 1xx heads, then the final one
    arm_head_read(x);
    for (auto status = scanner.scan(view_of(x.upstream_buffer), x.request.method_head, response);
         status != policy::ScanStatus::complete;
         status = scanner.scan(view_of(x.upstream_buffer), x.request.method_head, response)) {
      error_code ec;
      if (status != policy::ScanStatus::error) {
        auto [read_ec, n] =
            co_await x.upstream.async_read_some(x.upstream_buffer.prepare(read_room(x.upstream_buffer)), use_tuple);
        x.upstream_buffer.commit(n);
        if (!read_ec || n > 0) continue;
        ec = read_ec;
      }
      end_head_wait(x);
      co_await response_head_failed(x, scanner, ec, first_head);
      co_return;
    }
    if (response.status >= 200) end_head_wait(x);
    note_response_head(x, response, first_head, sent_at);
    first_head = false;
    const auto head_bytes_seen = view_of(x.upstream_buffer).substr(0, response.end);
    if (response.status == 101 && x.request.may_switch_protocols) {
      co_await switch_protocols(x);
      co_return;
    }
    if (response.status == 101) {
      // Protocol switches are relayed only where asked for on an app host: refuse rather than
      // pass bytes unseen.
      auto reason = "upstream switched protocols (101); not supported on " + std::string(x.request.served);
      co_await x.fail(502, reason);
      x.close_both();
      co_return;
    }
    // A final head leaves with the body bytes already read behind it: one TLS record and one
    // send to the client where there would be two (and one wake-up of the client fewer).
    if (response.status >= 200) {
      if (x.watch != nullptr) {
        x.watch->head(head_bytes_seen);
        body_watch = x.watch->body();
      }
      tracker.emplace(response.framing, response.content_length);
      if (!tracker->done()) with_head = tracker->feed(view_of(x.upstream_buffer).substr(response.end), body_watch);
    }
    const auto head_bytes = response.end + with_head.consumed;
    expire_after(x.client, x.limits.idle_timeout);
    auto [ec, n] =
        co_await net::async_write(x.client, net::buffer(x.upstream_buffer.data().data(), head_bytes), use_tuple);
    x.response_started = true;
    x.result.bytes_to_client += n;
    x.upstream_buffer.consume(head_bytes);
    if (ec) {
      x.result.failure = "client write failed: " + ec.message();
      x.close_both();
      co_return;
    }
    if (response.status >= 200) break;
    scanner.reset();  // an interim 1xx (e.g. 100 Continue): the final response follows
  }
  x.result.status = response.status;
  x.result.upstream_status = response.status;
  if (with_head.status == policy::BodyStatus::error) {
    x.result.failure = std::string("response body: ") + std::string(policy::describe(tracker->error()));
    x.close_both();
    co_return;
  }
  // A small response's body left with its head: no body loop (and no coroutine frame) for it.
  std::optional<bool> ended_by_close = false;
  if (!tracker->done()) ended_by_close = co_await forward_response_body(x, *tracker, body_watch, response.framing);
  if (!ended_by_close) co_return;
  finish_response(x, response, *ended_by_close);
}

}  // namespace detail

template <class Client, class Upstream>
net::awaitable<ExchangeResult> exchange(Client& client, beast::flat_buffer& client_buffer,
                                        const ExchangeRequest request, const policy::HeadPieces& pieces,
                                        Upstream& upstream, beast::flat_buffer& upstream_buffer,
                                        const config::Limits& limits, Metrics& metrics,
                                        policy::ResponseWatch* watch = nullptr) {
  using namespace net::experimental::awaitable_operators;
  detail::Exchange<Client, Upstream> x{client,  client_buffer, upstream, upstream_buffer, request, limits,
                                       metrics, watch,         {}};

  std::array<net::const_buffer, policy::HeadPieces::capacity> buffers;
  for (std::size_t i = 0; i < pieces.count; ++i)
    buffers[i] = net::buffer(pieces.parts[i].data(), pieces.parts[i].size());
  expire_after(upstream, limits.upstream_response_timeout);
  auto [ec, n] = co_await net::async_write(upstream, std::span(buffers.data(), pieces.count), use_tuple);
  if (ec) {
    if (request.replayable) {
      x.result.retry = true;
      x.result.failure = "reused upstream connection closed: " + ec.message();
      close_lowest(upstream);
      co_return x.result;
    }
    co_await x.fail(502, "could not send the request upstream");
    x.close_both();
    co_return x.result;
  }
  const auto sent_at = std::chrono::steady_clock::now();
  if (request.framing == policy::BodyFraming::none) {
    // No body: nothing else reads the client buffer, so the head stays there until the response
    // has begun, for a retry. `pieces` point into it.
    x.request_body_done = true;
    co_await detail::pump_response(x, sent_at);
    if (x.result.retry) co_return x.result;
    x.result.bytes_from_client += request.head_end;
    client_buffer.consume(request.head_end);
  } else {
    // `pieces` point into client_buffer: it is consumed only once they are written.
    x.result.bytes_from_client += request.head_end;
    client_buffer.consume(request.head_end);
    x.head_deadline.emplace(co_await net::this_coro::executor, net::steady_timer::time_point::max());
    co_await (detail::pump_request_body(x) && detail::pump_response(x, sent_at) && detail::watch_head_deadline(x));
  }
  if (x.request_failed) {
    x.result.client_reusable = false;
    x.result.upstream_reusable = false;
  }
  co_return x.result;
}

}  // namespace trproxy::proxy
