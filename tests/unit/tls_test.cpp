#include "tls/ca.hpp"
#include "tls/client_hello.hpp"
#include "tls/contexts.hpp"
#include "tls/leaf.hpp"

#include <catch2/catch.hpp>

#include <openssl/pem.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>

using namespace trproxy;

namespace {

std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("trproxy-tls-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_pem(const std::filesystem::path& path, X509* cert) {
  tls::BioPtr bio(BIO_new_file(path.c_str(), "w"));
  REQUIRE(PEM_write_bio_X509(bio.get(), cert) == 1);
}

std::shared_ptr<const tls::CertificateAuthority> make_ca(const std::string& name) {
  const auto dir = fresh_dir(name);
  tls::CertificateAuthority::create(dir, tls::CaOptions{});
  return std::make_shared<const tls::CertificateAuthority>(
      tls::CertificateAuthority::load(dir / "ca.crt", dir / "ca.key"));
}

std::string san_of(X509* cert) {
  tls::GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  REQUIRE(names);
  REQUIRE(sk_GENERAL_NAME_num(names.get()) == 1);
  const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), 0);
  if (name->type == GEN_DNS) {
    return "DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                                static_cast<std::size_t>(ASN1_STRING_length(name->d.dNSName)));
  }
  return name->type == GEN_IPADD ? "IP" : "other";
}

std::string hello_from(const char* file) {
  return read_file(std::filesystem::path(TRPROXY_TEST_DATA) / file);
}

}  // namespace

TEST_CASE("ca init writes a usable EC CA and never overwrites") {
  const auto dir = fresh_dir("init");
  tls::CertificateAuthority::create(dir, tls::CaOptions{});
  CHECK((std::filesystem::status(dir / "ca.key").permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  const auto key_before = read_file(dir / "ca.key");
  CHECK_THROWS_AS(tls::CertificateAuthority::create(dir, tls::CaOptions{}), tls::CaError);
  CHECK(read_file(dir / "ca.key") == key_before);
  const auto ca = tls::CertificateAuthority::load(dir / "ca.crt", dir / "ca.key");
  CHECK(X509_check_ca(ca.cert()) >= 1);
  CHECK(EVP_PKEY_get_base_id(ca.key()) == EVP_PKEY_EC);
  CHECK(ca.not_after() - std::time(nullptr) > 9L * 365 * 24 * 3600);
  CHECK_THAT(ca.subject(), Catch::Contains("trproxy"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("loading refuses a leaf as CA, a missing file and a mismatched key") {
  const auto ca = make_ca("refuse");
  const auto leaf = tls::mint_leaf(*ca, tls::generate_leaf_key(config::LeafKeyType::ec_p256),
                                   config::LeafKeyType::ec_p256, "login.live.com", std::time(nullptr));
  const auto dir = fresh_dir("refuse-files");
  std::filesystem::create_directories(dir);
  write_pem(dir / "leaf.crt", leaf->cert.get());
  {
    tls::BioPtr bio(BIO_new_file((dir / "leaf.key").c_str(), "w"));
    PEM_write_bio_PrivateKey(bio.get(), leaf->key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  }
  CHECK_THROWS_WITH(tls::CertificateAuthority::load(dir / "leaf.crt", dir / "leaf.key"),
                    Catch::Contains("not a CA certificate") && Catch::Contains("leaf.crt"));
  CHECK_THROWS_WITH(tls::CertificateAuthority::load(dir / "missing.crt", dir / "leaf.key"),
                    Catch::Contains("missing.crt"));
  const auto other = fresh_dir("refuse-other");
  tls::CertificateAuthority::create(other, tls::CaOptions{});
  CHECK_THROWS_WITH(tls::CertificateAuthority::load(other / "ca.crt", dir / "leaf.key"),
                    Catch::Contains("does not match"));
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(other);
}

TEST_CASE("minted leaves have the right SAN, EKU, key usage and validity, and verify") {
  const auto ca = make_ca("mint");
  for (const auto type : {config::LeafKeyType::ec_p256, config::LeafKeyType::rsa_2048}) {
    const auto now = std::time(nullptr);
    const auto leaf = tls::mint_leaf(*ca, tls::generate_leaf_key(type), type, "login.microsoftonline.com", now);
    X509* cert = leaf->cert.get();
    CHECK(san_of(cert) == "DNS:login.microsoftonline.com");
    CHECK(X509_get_extended_key_usage(cert) == XKU_SSL_SERVER);
    const auto usage = X509_get_key_usage(cert);
    CHECK((usage & KU_DIGITAL_SIGNATURE) != 0);
    CHECK(((usage & KU_KEY_ENCIPHERMENT) != 0) == (type == config::LeafKeyType::rsa_2048));
    CHECK(X509_check_ca(cert) == 0);
    CHECK(tls::detail::asn1_time_to_time_t(X509_get0_notBefore(cert)) == now - 3600);
    CHECK(tls::detail::asn1_time_to_time_t(X509_get0_notAfter(cert)) == now + 30L * 24 * 3600);
    CHECK(X509_check_host(cert, "login.microsoftonline.com", 0, 0, nullptr) == 1);
    CHECK(X509_check_host(cert, "evil.microsoftonline.com", 0, 0, nullptr) != 1);
    // Chain check with OpenSSL's own verifier and the openssl CLI.
    std::unique_ptr<X509_STORE, tls::Deleter<X509_STORE_free>> store(X509_STORE_new());
    X509_STORE_add_cert(store.get(), ca->cert());
    tls::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr);
    CHECK(X509_verify_cert(ctx.get()) == 1);
    const auto dir = fresh_dir("verify");
    std::filesystem::create_directories(dir);
    write_pem(dir / "ca.crt", ca->cert());
    write_pem(dir / "leaf.crt", cert);
    const auto command = "openssl verify -purpose sslserver -CAfile " + (dir / "ca.crt").string() + " " +
                         (dir / "leaf.crt").string() + " >/dev/null 2>&1";
    CHECK(std::system(command.c_str()) == 0);
    std::filesystem::remove_all(dir);
  }
}

TEST_CASE("IP literals get an IP subjectAltName") {
  const auto ca = make_ca("ip");
  const auto leaf = tls::mint_leaf(*ca, tls::generate_leaf_key(config::LeafKeyType::ec_p256),
                                   config::LeafKeyType::ec_p256, "127.0.0.1", std::time(nullptr));
  CHECK(san_of(leaf->cert.get()) == "IP");
}

TEST_CASE("a leaf never outlives its CA") {
  const auto ca = make_ca("short");
  const auto now = ca->not_after() - 3600;
  const auto leaf = tls::mint_leaf(*ca, tls::generate_leaf_key(config::LeafKeyType::ec_p256),
                                   config::LeafKeyType::ec_p256, "login.live.com", now);
  CHECK(leaf->not_after == ca->not_after());
}

TEST_CASE("the leaf cache mints once per host under concurrency and evicts LRU") {
  const auto ca = make_ca("cache");
  tls::LeafCache cache(ca, config::LeafKeyType::ec_p256, 2);
  std::vector<std::thread> threads;
  std::vector<tls::LeafPtr> results(8);
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = cache.get("login.microsoftonline.com"); });
  }
  for (auto& t : threads) t.join();
  CHECK(cache.stats().minted == 1);
  CHECK(cache.stats().hits == 7);
  for (const auto& leaf : results) CHECK(leaf == results[0]);
  cache.get("login.live.com");
  cache.get("login.windows.net");  // evicts login.microsoftonline.com (least recently used)
  CHECK(cache.stats().minted == 3);
  cache.get("login.microsoftonline.com");
  CHECK(cache.stats().minted == 4);
}

TEST_CASE("a new CA means a new cache whose leaves chain to it") {
  const auto first = make_ca("first");
  const auto second = make_ca("second");
  tls::LeafCache a(first, config::LeafKeyType::ec_p256);
  tls::LeafCache b(second, config::LeafKeyType::ec_p256);
  CHECK(first->fingerprint() != second->fingerprint());
  const auto leaf = b.get("login.live.com");
  CHECK(X509_check_issued(second->cert(), leaf->cert.get()) == X509_V_OK);
  CHECK(X509_check_issued(first->cert(), leaf->cert.get()) != X509_V_OK);
}

TEST_CASE("upstream trust bundle errors name the key") {
  config::UpstreamConfig upstream;
  upstream.trust_bundle = "/nonexistent/bundle.pem";
  CHECK_THROWS_WITH(tls::UpstreamTls(upstream), Catch::Contains("upstream.trust"));
  CHECK_NOTHROW(tls::UpstreamTls(config::UpstreamConfig{}));
}

TEST_CASE("SNI from real ClientHellos of openssl s_client, curl and Chromium") {
  const auto openssl = tls::peek_client_hello(hello_from("client_hello_openssl.bin"));
  CHECK(openssl.status == tls::HelloStatus::sni);
  CHECK(openssl.host == "login.microsoftonline.com");
  const auto curl = tls::peek_client_hello(hello_from("client_hello_curl.bin"));
  CHECK(curl.status == tls::HelloStatus::sni);
  CHECK(curl.host == "login.live.com");
  // Chromium 156: GREASE, a post-quantum key share, ~2 KB.
  const auto chromium = tls::peek_client_hello(hello_from("client_hello_chromium.bin"));
  CHECK(chromium.status == tls::HelloStatus::sni);
  CHECK(chromium.host == "login.microsoftonline.com");
}

TEST_CASE("ClientHello split at every byte needs more until whole") {
  const auto hello = hello_from("client_hello_openssl.bin");
  for (std::size_t split = 1; split < hello.size(); ++split) {
    INFO("split " << split);
    CHECK(tls::peek_client_hello(std::string_view(hello).substr(0, split)).status == tls::HelloStatus::need_more);
  }
}

TEST_CASE("a ClientHello spread over two records is reassembled") {
  const auto hello = hello_from("client_hello_curl.bin");
  const std::size_t body = (static_cast<unsigned char>(hello[3]) << 8) | static_cast<unsigned char>(hello[4]);
  const auto handshake = hello.substr(5, body);
  auto record = [&](std::string_view fragment) {
    std::string r = hello.substr(0, 3);
    r += static_cast<char>(fragment.size() >> 8);
    r += static_cast<char>(fragment.size() & 0xff);
    r += fragment;
    return r;
  };
  const auto two = record(std::string_view(handshake).substr(0, 100)) + record(std::string_view(handshake).substr(100));
  const auto result = tls::peek_client_hello(two);
  CHECK(result.status == tls::HelloStatus::sni);
  CHECK(result.host == "login.live.com");
}

TEST_CASE("ClientHello edge cases") {
  CHECK(tls::peek_client_hello("GET / HTTP/1.1\r\n").status == tls::HelloStatus::not_tls);
  CHECK(tls::peek_client_hello("").status == tls::HelloStatus::need_more);
  CHECK(tls::peek_client_hello(std::string("\x16\x03\x01\x00\x00", 5)).status == tls::HelloStatus::malformed);
  CHECK(tls::peek_client_hello(std::string("\x16\x03\x01\x00\x04\x02\x00\x00\x00", 9)).status ==
        tls::HelloStatus::malformed);  // a ServerHello is not a ClientHello
  auto hello = hello_from("client_hello_openssl.bin");
  hello[43] = static_cast<char>(0xff);  // record 5 + handshake 4 + version 2 + random 32: session id length
  CHECK(tls::peek_client_hello(hello).status == tls::HelloStatus::malformed);
}
