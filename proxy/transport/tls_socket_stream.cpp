#include "proxy/transport/tls_socket_stream.hpp"

#include <openssl/err.h>

#include <sys/socket.h>

#include <cerrno>

namespace trproxy::proxy {

// OpenSSL's view of the socket: reads take the peeked bytes first, then the byte that
// ended a wait, then whatever recv() returns at once; writes go straight to send() unless
// earlier bytes are still queued.
struct TlsSocketBio {
  static TlsSocketStream& stream(BIO* bio) { return *static_cast<TlsSocketStream*>(BIO_get_data(bio)); }
  static int fd(TlsSocketStream& s) { return s.next_.socket().native_handle(); }

  static std::size_t take(net::const_buffer& from, char* out, std::size_t length) {
    const auto n = std::min(length, from.size());
    std::memcpy(out, from.data(), n);
    from += n;
    return n;
  }

  static int read(BIO* bio, char* out, int length) {
    BIO_clear_retry_flags(bio);
    if (length <= 0) return 0;
    auto& s = stream(bio);
    const auto wanted = static_cast<std::size_t>(length);
    if (s.initial_.size() > 0) return static_cast<int>(take(s.initial_, out, wanted));
    if (!s.early_.empty()) {
      net::const_buffer early(s.early_.data(), s.early_.size());
      const auto n = take(early, out, wanted);
      s.early_.erase(s.early_.begin(), s.early_.begin() + static_cast<std::ptrdiff_t>(n));
      if (s.early_.empty()) std::vector<char>().swap(s.early_);
      return static_cast<int>(n);
    }
    std::size_t total = 0;
    if (s.has_next_byte_) {
      out[total++] = s.next_byte_;
      s.has_next_byte_ = false;
    }
    if (total < wanted && !s.eof_) {
      const auto got = ::recv(fd(s), out + total, wanted - total, MSG_DONTWAIT);
      if (got > 0) {
        total += static_cast<std::size_t>(got);
      } else if (got == 0) {
        s.eof_ = true;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && total == 0) {
        s.errno_ = errno;
        return -1;
      }
    }
    if (total > 0) return static_cast<int>(total);
    BIO_set_retry_read(bio);  // the stream waits for input (or reports the end it saw)
    return -1;
  }

  static int write(BIO* bio, const char* data, int length) {
    BIO_clear_retry_flags(bio);
    if (length <= 0) return 0;
    auto& s = stream(bio);
    std::size_t sent = 0;
    if (s.overflow_.empty() && !s.flushing_) {  // never ahead of queued bytes
      const auto n = ::send(fd(s), data, static_cast<std::size_t>(length), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n >= 0) {
        sent = static_cast<std::size_t>(n);
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        s.errno_ = errno;
        return -1;
      }
    }
    s.overflow_.insert(s.overflow_.end(), data + sent, data + length);
    return length;
  }

  static long ctrl(BIO* bio, int command, long, void*) {
    switch (command) {
      case BIO_CTRL_FLUSH:
      case BIO_CTRL_DUP: return 1;
      case BIO_CTRL_EOF: return stream(bio).eof_ ? 1 : 0;
      default: return 0;
    }
  }

  static int create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
  }

  static const BIO_METHOD* method() {
    static const auto* const made = [] {
      auto* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "trproxy socket");
      if (m == nullptr) tls::throw_openssl("BIO_meth_new");
      BIO_meth_set_read(m, &read);
      BIO_meth_set_write(m, &write);
      BIO_meth_set_ctrl(m, &ctrl);
      BIO_meth_set_create(m, &create);
      return m;
    }();
    return made;
  }
};

TlsSocketStream::TlsSocketStream(beast::tcp_stream next, tls::SslPtr ssl)
    : next_(std::move(next)), ssl_(std::move(ssl)) {
  BIO* bio = BIO_new(TlsSocketBio::method());
  if (bio == nullptr) tls::throw_openssl("BIO_new (client socket)");
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_.get(), bio, bio);
  SSL_set_read_ahead(ssl_.get(), 1);  // one recv() takes what the socket holds, not a header at a time
  SSL_set_mode(ssl_.get(), SSL_MODE_RELEASE_BUFFERS);
}

TlsSocketStream::Step TlsSocketStream::decide(int ssl_error, error_code& ec) {
  const bool closed_cleanly = (SSL_get_shutdown(ssl_.get()) & SSL_RECEIVED_SHUTDOWN) != 0;
  switch (ssl_error) {
    case SSL_ERROR_NONE: ec = {}; return Step::complete;
    case SSL_ERROR_WANT_READ:
      if (must_flush()) return Step::flush;  // e.g. a handshake flight, before waiting for the answer
      if (eof_) {
        ec = closed_cleanly ? error_code(net::error::eof) : error_code(net::ssl::error::stream_truncated);
        return Step::complete;
      }
      return Step::wait_input;
    case SSL_ERROR_WANT_WRITE:
      if (must_flush()) return Step::flush;
      ec = net::ssl::error::unexpected_result;
      return Step::complete;
    case SSL_ERROR_ZERO_RETURN: ec = net::error::eof; return Step::complete;
    case SSL_ERROR_SYSCALL: {
      const auto queued = ERR_get_error();
      if (errno_ != 0) {
        ec = error_code(errno_, boost::system::system_category());
      } else if (queued != 0) {
        ec = error_code(static_cast<int>(queued), net::error::get_ssl_category());
      } else {
        ec = eof_ ? error_code(net::ssl::error::stream_truncated)
                  : error_code(net::ssl::error::unspecified_system_error);
      }
      return Step::complete;
    }
    case SSL_ERROR_SSL:
      ec = error_code(static_cast<int>(ERR_get_error()), net::error::get_ssl_category());
      return Step::complete;
    default: ec = net::ssl::error::unexpected_result; return Step::complete;
  }
}

int TlsSocketStream::Handshake::operator()(TlsSocketStream& s, std::size_t& n) {
  if (!started) {
    started = true;
    if (role == net::ssl::stream_base::server) {
      SSL_set_accept_state(s.ssl_.get());
    } else {
      SSL_set_connect_state(s.ssl_.get());
    }
  }
  if (initial.size() > 0) {  // the first call: OpenSSL reads the peeked bytes before the socket
    s.initial_ = initial;
    n = initial.size();
    initial = {};
  }
  const int result = SSL_do_handshake(s.ssl_.get());
  if (result == 1 && s.initial_.size() > 0) {
    // Bytes the client sent behind its hello belong to the TLS stream: keep them for the reads.
    const auto* rest = static_cast<const char*>(s.initial_.data());
    s.early_.assign(rest, rest + s.initial_.size());
    s.initial_ = {};
  }
  if (result != 1 && SSL_get_error(s.ssl_.get(), result) != SSL_ERROR_WANT_READ) s.initial_ = {};
  return result;
}

int TlsSocketStream::Read::operator()(TlsSocketStream& s, std::size_t& n) const {
  n = 0;
  if (target.size() == 0) return 1;
  return SSL_read_ex(s.ssl_.get(), target.data(), target.size(), &n);
}

int TlsSocketStream::write(const char* data, std::size_t size, std::size_t& n) {
  n = 0;
  if (size == 0) return 1;
  return SSL_write_ex(ssl_.get(), data, size, &n);
}

int TlsSocketStream::Shutdown::operator()(TlsSocketStream& s, std::size_t& n) const {
  n = 0;
  int result = SSL_shutdown(s.ssl_.get());
  if (result == 0) result = SSL_shutdown(s.ssl_.get());  // close_notify sent: now wait for the peer's
  return result == 0 ? 1 : result;
}

}  // namespace trproxy::proxy
