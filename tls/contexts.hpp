#pragma once
// The two TLS sides of an intercepted connection, as ready-made SSL objects the proxy hands
// to its streams: the client-facing side presents a minted leaf, the upstream side verifies
// the real server.

#include "config/config.hpp"
#include "tls/leaf.hpp"
#include "tls/openssl.hpp"

#include <map>
#include <mutex>
#include <string>

namespace trproxy::tls {

using SslPtr = std::unique_ptr<SSL, Deleter<SSL_free>>;

// Client-facing: TLS 1.2/1.3, modern ciphers, ALPN answers http/1.1 only (clients never speak
// h2 to us), session tickets on so returning clients resume.
class ServerTls {
 public:
  ServerTls();
  // A server-mode SSL presenting `leaf` (chain: leaf + CA certificate).
  SslPtr new_session(const LeafCertificate& leaf, X509* ca_cert) const;
  [[nodiscard]] SSL_CTX* context() const { return ctx_.get(); }

 private:
  SslCtxPtr ctx_;
};

// Upstream-facing: verifies the chain against upstream.trust and the host name, sends SNI,
// offers ALPN http/1.1, TLS 1.2+, and resumes sessions per host.
class UpstreamTls {
 public:
  // Throws TlsError naming upstream.trust when the bundle cannot be loaded.
  explicit UpstreamTls(const config::UpstreamConfig& upstream);
  ~UpstreamTls();
  UpstreamTls(const UpstreamTls&) = delete;
  UpstreamTls& operator=(const UpstreamTls&) = delete;

  // A client-mode SSL for `host` with SNI, host-name verification and a cached session.
  SslPtr new_session(const std::string& host);

  // After a failed handshake: a short reason ("certificate has expired",
  // "unable to get local issuer certificate", "hostname mismatch").
  static std::string verify_failure(SSL* ssl);

 private:
  static int on_new_session(SSL* ssl, SSL_SESSION* session);
  SslCtxPtr ctx_;
  std::mutex mutex_;
  std::map<std::string, SSL_SESSION*> sessions_;  // owned references; bounded
};

}  // namespace trproxy::tls
