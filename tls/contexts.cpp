#include "tls/contexts.hpp"

#include <cstring>

namespace trproxy::tls {
namespace {

constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr unsigned char alpn_http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
int upstream_ex_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int sessions_ex_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int select_http11(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in, unsigned in_len,
                  void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_len, alpn_http11, sizeof alpn_http11, in, in_len) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;  // e.g. an h2-only offer: no ALPN, the client falls back to HTTP/1.1
}

void common_settings(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1) throw_openssl("cipher list");
  SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384");
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

}  // namespace

ServerTls::ServerTls() : ticket_keys_(std::make_unique<TicketKeys>()), ctx_(SSL_CTX_new(TLS_server_method())) {
  if (!ctx_) throw_openssl("SSL_CTX_new (server)");
  common_settings(ctx_.get());
  SSL_CTX_set_alpn_select_cb(ctx_.get(), select_http11, nullptr);
  // Stateless resumption only: tickets sealed with our keys (shared by replicas when configured),
  // no per-process session cache that another replica could not see.
  SSL_CTX_set_session_cache_mode(ctx_.get(), SSL_SESS_CACHE_OFF);
  use_ticket_keys(ctx_.get(), *ticket_keys_);
  static const unsigned char session_context[] = "trproxy";
  SSL_CTX_set_session_id_context(ctx_.get(), session_context, sizeof session_context - 1);
}

SslPtr ServerTls::new_session(const LeafCertificate& leaf, X509* ca_cert) const {
  SslPtr ssl(SSL_new(ctx_.get()));
  if (!ssl) throw_openssl("SSL_new (server)");
  if (SSL_use_certificate(ssl.get(), leaf.cert.get()) != 1 || SSL_use_PrivateKey(ssl.get(), leaf.key.get()) != 1 ||
      SSL_add1_chain_cert(ssl.get(), ca_cert) != 1) {
    throw_openssl("installing the leaf certificate");
  }
  return ssl;
}

UpstreamTls::UpstreamTls(const config::UpstreamConfig& upstream) : ctx_(SSL_CTX_new(TLS_client_method())) {
  if (!ctx_) throw_openssl("SSL_CTX_new (client)");
  common_settings(ctx_.get());
  SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
  if (upstream.trusts_system()) {
    if (SSL_CTX_set_default_verify_paths(ctx_.get()) != 1) throw_openssl("upstream.trust: system trust store");
  } else if (SSL_CTX_load_verify_locations(ctx_.get(), upstream.trust_bundle.c_str(), nullptr) != 1) {
    drain_openssl_errors();
    throw TlsError("upstream.trust: \"" + upstream.trust_bundle.string() + "\" is not a readable PEM bundle");
  }
  SSL_CTX_set_alpn_protos(ctx_.get(), alpn_http11, sizeof alpn_http11);
  SSL_CTX_set_session_cache_mode(ctx_.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_set_ex_data(ctx_.get(), upstream_ex_index(), this);
  SSL_CTX_sess_set_new_cb(ctx_.get(), &UpstreamTls::on_new_session);
}

SSL_SESSION* UpstreamSessions::find(const std::string& host, const UpstreamTls* origin) const {
  const auto it = sessions_.find(host);
  if (it == sessions_.end() || it->second.origin.lock().get() != origin) return nullptr;
  return it->second.session.get();
}

void UpstreamSessions::store(const std::string& host, std::weak_ptr<const UpstreamTls> origin, SSL_SESSION* session) {
  // A copy: OpenSSL marks a connection's own session not resumable when the connection is freed
  // without a close_notify (an upstream that closed, a pooled connection dropped).
  SessionPtr given(session);
  SessionPtr owned(SSL_SESSION_dup(session));
  if (!owned) return;
  if (auto it = sessions_.find(host); it != sessions_.end()) {
    it->second = Entry{std::move(origin), std::move(owned)};
    return;
  }
  if (sessions_.size() >= capacity) sessions_.erase(sessions_.begin());  // a few hosts in practice
  sessions_.emplace(host, Entry{std::move(origin), std::move(owned)});
}

int UpstreamTls::on_new_session(SSL* ssl, SSL_SESSION* session) {
  const auto* self = static_cast<const UpstreamTls*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), upstream_ex_index()));
  auto* sessions = static_cast<UpstreamSessions*>(SSL_get_ex_data(ssl, sessions_ex_index()));
  const char* host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (self == nullptr || sessions == nullptr || host == nullptr) return 0;
  sessions->store(host, self->weak_from_this(), session);
  return 1;  // the cache keeps the reference
}

SslPtr UpstreamTls::new_session(const std::string& host, UpstreamSessions& sessions) const {
  SslPtr ssl(SSL_new(ctx_.get()));
  if (!ssl) throw_openssl("SSL_new (client)");
  if (SSL_set_tlsext_host_name(ssl.get(), host.c_str()) != 1 || SSL_set1_host(ssl.get(), host.c_str()) != 1) {
    throw_openssl("upstream name " + host);
  }
  SSL_set_ex_data(ssl.get(), sessions_ex_index(), &sessions);
  if (auto* cached = sessions.find(host, this)) {
    // The connection gets a copy: if it is freed without a close_notify, OpenSSL marks the
    // session it used not resumable, and the cached one must stay good for the next.
    const SessionPtr copy(SSL_SESSION_dup(cached));
    if (copy) SSL_set_session(ssl.get(), copy.get());
  }
  return ssl;
}

std::string UpstreamTls::verify_failure(SSL* ssl) {
  const long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) return {};
  if (result == X509_V_ERR_HOSTNAME_MISMATCH) return "hostname mismatch";
  return X509_verify_cert_error_string(result);
}

}  // namespace trproxy::tls
