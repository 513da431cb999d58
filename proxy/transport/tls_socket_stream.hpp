#pragma once
// TLS over a tcp_stream with no buffers of its own, for both ends of an intercepted request:
// the client's connection (server role) and the verified upstream one (client role). OpenSSL
// reads and writes the socket itself through a small BIO (recv and send, non-blocking), so the
// only TLS buffers are OpenSSL's, which SSL_MODE_RELEASE_BUFFERS frees while the connection is
// idle. (Asio's ssl::stream keeps four 17 KiB buffers per connection for its whole life: two
// zero-filled vectors and a BIO pair. That was most of what an idle intercepted connection cost,
// and the BIO pair hid records read but not yet decrypted from every readiness check: a pooled
// upstream connection with a stray record behind its last response answered the next client.)
// Here every byte received is in exactly one of three places: the kernel's socket buffer,
// OpenSSL's (SSL_has_pending) or this stream's own (holds_input), so "nothing more was sent"
// can be checked.
//
// Waiting for bytes is a one-byte read on the tcp_stream, so Beast's timeouts (expires_after on
// the lowest layer) apply exactly as before; the byte is handed to OpenSSL with the rest of what
// the socket holds. A write the socket cannot take at once goes to an overflow buffer that is
// written through the tcp_stream before the operation completes, then freed.
//
// The usual AsyncStream: async_read_some / async_write_some (at most one TLS record each),
// async_handshake (server side with bytes already read from the socket, the peeked ClientHello;
// client side without), async_shutdown; one read and one write may be outstanding at once, as
// with ssl::stream. Errors are those ssl::stream reports (the OpenSSL error in the SSL category,
// stream_truncated for a close without close_notify, eof after one).

#include "proxy/transport/io.hpp"
#include "tls/contexts.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

namespace trproxy::proxy {

class TlsSocketStream {
 public:
  using next_layer_type = beast::tcp_stream;
  using executor_type = next_layer_type::executor_type;
  static constexpr std::size_t max_record = 16 * 1024;

  // `ssl` is a server-side SSL (tls::ServerTls::new_session) or a client-side one
  // (tls::UpstreamTls::new_session); it is given this stream's BIO. The role is the handshake's.
  TlsSocketStream(beast::tcp_stream next, tls::SslPtr ssl);
  // The BIO points at this object: it never moves.
  TlsSocketStream(const TlsSocketStream&) = delete;
  TlsSocketStream& operator=(const TlsSocketStream&) = delete;

  executor_type get_executor() { return next_.get_executor(); }
  next_layer_type& next_layer() { return next_; }
  SSL* native_handle() { return ssl_.get(); }

  // Completes with (error, bytes of `initial` taken: all of them once the handshake is done).
  template <class Token>
  auto async_handshake(net::ssl::stream_base::handshake_type role, net::const_buffer initial, Token&& token) {
    return net::async_compose<Token, void(error_code, std::size_t)>(Op<Handshake>{*this, {role, initial}}, token,
                                                                    next_);
  }
  // The client role (an upstream connection): nothing was read before; completes with
  // (error, 0).
  template <class Token>
  auto async_handshake(net::ssl::stream_base::handshake_type role, Token&& token) {
    return net::async_compose<Token, void(error_code, std::size_t)>(Op<Handshake>{*this, {role, {}}}, token, next_);
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    net::mutable_buffer target;
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers); ++it) {
      if (it->size() > 0) {
        target = *it;
        break;
      }
    }
    return net::async_compose<Token, void(error_code, std::size_t)>(Op<Read>{*this, {target}}, token, next_);
  }

  // Up to one record, gathered into one SSL_write: a rewritten head and its inserted lines leave
  // as one record. Completes once the socket has taken all of it.
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return net::async_compose<Token, void(error_code, std::size_t)>(Op<Write<ConstBuffers>>{*this, {buffers}}, token,
                                                                    next_);
  }

  // Completes once a read would find input (bytes OpenSSL or this stream already holds, or at
  // least one from the socket) without any buffer of the caller's: an idle connection waits here
  // holding none. Errors: the socket's (eof, or Beast's timeout).
  template <class Token>
  auto async_wait_input(Token&& token) {
    return net::async_compose<Token, void(error_code)>(WaitInput{*this}, token, next_);
  }

  // True when bytes received are held above the socket: by this stream (the byte that ended a
  // wait, what the handshake left) or by OpenSSL (a record read ahead, decrypted or not). With
  // the socket's own readiness this is everything the peer sent that nobody has read yet.
  [[nodiscard]] bool holds_input() const {
    return has_next_byte_ || initial_.size() > 0 || !early_.empty() || SSL_has_pending(ssl_.get()) == 1;
  }

  template <class Token>
  auto async_shutdown(Token&& token) {
    return net::async_compose<Token, void(error_code)>(Op<Shutdown>{*this, {}}, token, next_);
  }

 private:
  friend struct TlsSocketBio;

  // The OpenSSL call of each operation: > 0 done (with `n` set), otherwise SSL_get_error decides.
  struct Handshake {
    net::ssl::stream_base::handshake_type role;
    net::const_buffer initial;
    bool started = false;
    int operator()(TlsSocketStream& s, std::size_t& n);
  };
  struct Read {
    net::mutable_buffer target;
    int operator()(TlsSocketStream& s, std::size_t& n) const;
  };
  template <class ConstBuffers>
  struct Write {
    ConstBuffers buffers;
    int operator()(TlsSocketStream& s, std::size_t& n) const {
      std::array<char, max_record> gathered;  // on this call's stack: SSL_write copies it
      const auto size = net::buffer_copy(net::buffer(gathered), buffers);
      return s.write(gathered.data(), size, n);
    }
  };
  struct Shutdown {
    int operator()(TlsSocketStream& s, std::size_t& n) const;
  };

  struct WaitInput {
    TlsSocketStream& s;
    bool started = false;

    template <class Self>
    void operator()(Self& self, error_code ec = {}, std::size_t n = 0) {
      if (!started) {
        started = true;
        // Never completes inline: a held input is reported through the executor.
        if (s.holds_input() || s.eof_) return net::post(s.next_.get_executor(), std::move(self));
        return s.next_.async_read_some(net::buffer(&s.next_byte_, 1), std::move(self));
      }
      if (n == 1) s.has_next_byte_ = true;
      if (ec == net::error::eof) s.eof_ = true;
      self.complete(n == 1 ? error_code{} : ec);
    }
  };

  enum class Step { wait_input, flush, complete };
  // Runs one OpenSSL call and says what must happen next; sets `ec` when it failed.
  template <class Action>
  Step attempt(Action& action, std::size_t& n, error_code& ec) {
    ERR_clear_error();
    errno_ = 0;
    const int result = action(*this, n);
    return decide(result > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), result), ec);
  }
  Step decide(int ssl_error, error_code& ec);
  int write(const char* data, std::size_t size, std::size_t& n);
  [[nodiscard]] bool must_flush() const { return !overflow_.empty() && !flushing_; }

  // The operation all four share: call OpenSSL, write out what it produced, wait for input when
  // it wants some, repeat.
  template <class Action>
  struct Op {
    TlsSocketStream& s;
    Action action;
    enum class State { starting, waiting, flushing, posted } state = State::starting;
    bool suspended = false;  // an asynchronous step ran: completing now is not inline
    bool finished = false;   // the call succeeded; only the flush is left
    std::size_t n = 0;
    error_code ec{};

    template <class Self>
    void operator()(Self& self, error_code io_ec = {}, std::size_t io_n = 0) {
      switch (state) {
        case State::starting: break;
        case State::waiting:
          if (io_ec) {
            s.eof_ = io_ec == net::error::eof;
            const bool closed_cleanly = (SSL_get_shutdown(s.ssl_.get()) & SSL_RECEIVED_SHUTDOWN) != 0;
            return finish(self, s.eof_ && !closed_cleanly ? error_code(net::ssl::error::stream_truncated) : io_ec);
          }
          s.has_next_byte_ = io_n == 1;
          break;
        case State::flushing:
          s.flushing_ = false;
          std::vector<char>().swap(s.in_flight_);  // freed: nothing is held while idle
          if (io_ec) return finish(self, io_ec);
          if (s.must_flush()) return flush(self);
          if (finished) return finish(self, ec);
          break;  // the call wanted its output written before it can go on
        case State::posted: return complete(self);
      }
      for (;;) {
        const auto step = s.attempt(action, n, ec);
        if (step == Step::wait_input) {
          state = State::waiting;
          suspended = true;
          s.next_.async_read_some(net::buffer(&s.next_byte_, 1), std::move(self));
          return;
        }
        if (step == Step::flush) return flush(self);
        if (!ec && s.must_flush()) {
          finished = true;
          return flush(self);
        }
        return finish(self, ec);
      }
    }

    template <class Self>
    void flush(Self& self) {
      state = State::flushing;
      suspended = true;
      s.flushing_ = true;
      s.in_flight_.swap(s.overflow_);
      net::async_write(s.next_, net::buffer(s.in_flight_), std::move(self));
    }

    template <class Self>
    void finish(Self& self, error_code result) {
      ec = result;
      if (ec) n = 0;
      if (!suspended) {
        // Done within the initiating call: complete through the executor, never inline.
        state = State::posted;
        net::post(s.next_.get_executor(), std::move(self));
        return;
      }
      complete(self);
    }

    template <class Self>
    void complete(Self& self) {
      if constexpr (std::is_same_v<Action, Shutdown>) {
        self.complete(ec);
      } else {
        self.complete(ec, n);
      }
    }
  };

  beast::tcp_stream next_;
  tls::SslPtr ssl_;
  // Ciphertext read from the socket before the handshake (the ClientHello peek), not yet given
  // to OpenSSL.
  net::const_buffer initial_;
  std::vector<char> early_;  // what the handshake left of `initial_`, kept for the first reads
  char next_byte_ = 0;       // the byte whose arrival ended a wait for input
  bool has_next_byte_ = false;
  bool eof_ = false;
  bool flushing_ = false;
  int errno_ = 0;                // what recv/send failed with (SSL_ERROR_SYSCALL)
  std::vector<char> overflow_;   // ciphertext the socket could not take yet
  std::vector<char> in_flight_;  // being written through next_
};

}  // namespace trproxy::proxy
