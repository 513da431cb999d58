#pragma once
// The two TLS sides of an intercepted connection, as ready-made SSL objects the proxy hands
// to its streams: the client-facing side presents a minted leaf, the upstream side verifies
// the real server.

#include "config/config.hpp"
#include "tls/leaf.hpp"
#include "tls/openssl.hpp"
#include "tls/ticket_keys.hpp"

#include <memory>
#include <string>
#include <unordered_map>

namespace trproxy::tls {

using SslPtr = std::unique_ptr<SSL, Deleter<SSL_free>>;
using SessionPtr = std::unique_ptr<SSL_SESSION, Deleter<SSL_SESSION_free>>;

// Client-facing: TLS 1.2/1.3, modern ciphers, ALPN answers http/1.1 only (clients never speak
// h2 to us), session tickets on so returning clients resume. Tickets are sealed with
// `ticket_keys()`: generated and rotated by the process, or a file shared by replicas.
class ServerTls {
 public:
  ServerTls();
  // A server-mode SSL presenting `leaf` (chain: leaf + CA certificate).
  SslPtr new_session(const LeafCertificate& leaf, X509* ca_cert) const;
  [[nodiscard]] SSL_CTX* context() const { return ctx_.get(); }
  // Thread-safe: replaced on reload, rotated by a timer, read by every handshake.
  [[nodiscard]] TicketKeys& ticket_keys() const { return *ticket_keys_; }

 private:
  std::unique_ptr<TicketKeys> ticket_keys_;  // before ctx_: the context's callback refers to it
  SslCtxPtr ctx_;
};

class UpstreamTls;

// Sessions of upstream servers, so that a new upstream connection resumes (no certificate chain
// to send and verify) instead of a full handshake. One per worker, used only on its thread: no
// lock. A session is offered only to connections made under the UpstreamTls that verified it
// (a reload may change upstream.trust; a resumed session skips verification).
class UpstreamSessions {
 public:
  static constexpr std::size_t capacity = 256;
  [[nodiscard]] SSL_SESSION* find(const std::string& host, const UpstreamTls* origin) const;
  // Takes over the reference the caller holds on `session`.
  void store(const std::string& host, std::weak_ptr<const UpstreamTls> origin, SSL_SESSION* session);
  [[nodiscard]] std::size_t size() const { return sessions_.size(); }

 private:
  struct Entry {
    std::weak_ptr<const UpstreamTls> origin;
    SessionPtr session;
  };
  std::unordered_map<std::string, Entry> sessions_;
};

// Upstream-facing: verifies the chain against upstream.trust and the host name, sends SNI,
// offers ALPN http/1.1, TLS 1.2+, and resumes sessions per host.
class UpstreamTls : public std::enable_shared_from_this<UpstreamTls> {
 public:
  // Throws TlsError naming upstream.trust when the bundle cannot be loaded.
  explicit UpstreamTls(const config::UpstreamConfig& upstream);
  UpstreamTls(const UpstreamTls&) = delete;
  UpstreamTls& operator=(const UpstreamTls&) = delete;

  // A client-mode SSL for `host` with SNI and host-name verification, resuming the session
  // `sessions` holds for the host; a session the server issues on it goes to `sessions`, which
  // must outlive the SSL. (The UpstreamTls must be owned by a shared_ptr.)
  SslPtr new_session(const std::string& host, UpstreamSessions& sessions) const;

  // After a failed handshake: a short reason ("certificate has expired",
  // "unable to get local issuer certificate", "hostname mismatch").
  static std::string verify_failure(SSL* ssl);

 private:
  static int on_new_session(SSL* ssl, SSL_SESSION* session);
  SslCtxPtr ctx_;
};

}  // namespace trproxy::tls
