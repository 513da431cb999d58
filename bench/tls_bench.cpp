// TLS costs on the intercept path: leaf minting (cache miss) per key type, a cache hit, and
// the server-side CPU of a full TLS 1.3 handshake against our minted leaf (in memory, no
// sockets). Compare with `openssl speed ecdsap256 rsa2048 ecdhx25519` (bench/README.md).

#include "tls/contexts.hpp"
#include "tls/leaf.hpp"

#include <benchmark/benchmark.h>
#include <openssl/err.h>

#include <unistd.h>
#include <array>
#include <chrono>
#include <filesystem>

namespace {

using namespace trproxy;

std::shared_ptr<const tls::CertificateAuthority> bench_ca() {
  static const auto ca = [] {
    const auto dir = std::filesystem::temp_directory_path() / ("trproxy-bench-ca-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    tls::CertificateAuthority::create(dir, tls::CaOptions{});
    auto loaded = std::make_shared<const tls::CertificateAuthority>(
        tls::CertificateAuthority::load(dir / "ca.crt", dir / "ca.key"));
    std::filesystem::remove_all(dir);
    return loaded;
  }();
  return ca;
}

// A cache miss: what LeafCache does per new host (the template is built once per CA and key).
void mint(benchmark::State& state) {
  const auto type = state.range(0) == 0 ? config::LeafKeyType::ec_p256 : config::LeafKeyType::rsa_2048;
  state.SetLabel(config::to_string(type));
  const auto ca = bench_ca();
  const tls::LeafTemplate leaves(*ca, tls::generate_leaf_key(type), type);
  for (auto _ : state) {
    auto leaf = leaves.mint("login.microsoftonline.com", std::time(nullptr));
    benchmark::DoNotOptimize(leaf);
  }
}

// The floor a mint is compared with: one ECDSA P-256 signature (SHA-256) by the CA key over a
// leaf's to-be-signed bytes, with a prepared context (as `openssl speed ecdsap256` does).
void one_sign(benchmark::State& state) {
  state.SetLabel("ECDSA P-256 + SHA-256 over a leaf's TBSCertificate");
  const auto ca = bench_ca();
  const auto leaf = tls::mint_leaf(*ca, tls::generate_leaf_key(config::LeafKeyType::ec_p256),
                                   config::LeafKeyType::ec_p256, "login.microsoftonline.com", std::time(nullptr));
  unsigned char* tbs = nullptr;
  const int tbs_length = i2d_re_X509_tbs(leaf->cert.get(), &tbs);
  tls::MdCtxPtr prepared(EVP_MD_CTX_new());
  EVP_DigestSignInit_ex(prepared.get(), nullptr, "SHA256", nullptr, nullptr, ca->key(), nullptr);
  std::array<unsigned char, 128> signature{};
  for (auto _ : state) {
    tls::MdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_MD_CTX_copy_ex(ctx.get(), prepared.get());
    std::size_t length = signature.size();
    if (EVP_DigestSign(ctx.get(), signature.data(), &length, tbs, static_cast<std::size_t>(tbs_length)) != 1) {
      state.SkipWithError("sign failed");
    }
    benchmark::DoNotOptimize(length);
  }
  OPENSSL_free(tbs);
}

void cache_hit(benchmark::State& state) {
  tls::LeafCache cache(bench_ca(), config::LeafKeyType::ec_p256);
  cache.get("login.microsoftonline.com");
  for (auto _ : state) benchmark::DoNotOptimize(cache.get("login.microsoftonline.com"));
}

// The server-side SSL object of one intercepted connection, leaf and chain installed: what every
// new client connection pays before its handshake starts.
void new_session(benchmark::State& state) {
  const auto ca = bench_ca();
  const auto leaf = tls::mint_leaf(*ca, tls::generate_leaf_key(config::LeafKeyType::ec_p256),
                                   config::LeafKeyType::ec_p256, "login.microsoftonline.com", std::time(nullptr));
  const tls::ServerTls server_tls;
  for (auto _ : state) {
    auto ssl = server_tls.new_session(*leaf, ca->cert());
    benchmark::DoNotOptimize(ssl.get());
  }
}

// Pumps bytes between two in-memory SSL objects until both finish the handshake.
void server_handshake(benchmark::State& state) {
  const auto type = state.range(0) == 0 ? config::LeafKeyType::ec_p256 : config::LeafKeyType::rsa_2048;
  state.SetLabel(std::string(config::to_string(type)) + ", TLS 1.3 full handshake, server side");
  const auto ca = bench_ca();
  const auto leaf =
      tls::mint_leaf(*ca, tls::generate_leaf_key(type), type, "login.microsoftonline.com", std::time(nullptr));
  const tls::ServerTls server_tls;
  tls::SslCtxPtr client_ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_NONE, nullptr);
  for (auto _ : state) {
    auto server = server_tls.new_session(*leaf, ca->cert());
    tls::SslPtr client(SSL_new(client_ctx.get()));
    SSL_set_tlsext_host_name(client.get(), "login.microsoftonline.com");
    BIO* client_bio = nullptr;
    BIO* server_bio = nullptr;
    BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
    SSL_set_bio(client.get(), client_bio, client_bio);
    SSL_set_bio(server.get(), server_bio, server_bio);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());
    // Only the server's share is timed: that is what trproxy spends per intercepted client.
    std::chrono::steady_clock::duration server_time{};
    for (int round = 0; round < 20; ++round) {
      const int c = SSL_do_handshake(client.get());
      const auto start = std::chrono::steady_clock::now();
      const int s = SSL_do_handshake(server.get());
      server_time += std::chrono::steady_clock::now() - start;
      if (c == 1 && s == 1) break;
    }
    if (!SSL_is_init_finished(server.get())) state.SkipWithError("handshake did not finish");
    state.SetIterationTime(std::chrono::duration<double>(server_time).count());
  }
}

BENCHMARK(mint)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(one_sign)->Unit(benchmark::kMicrosecond);
BENCHMARK(cache_hit)->Unit(benchmark::kNanosecond);
BENCHMARK(new_session)->Unit(benchmark::kMicrosecond);
BENCHMARK(server_handshake)->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
