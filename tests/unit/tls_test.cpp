#include "tls/ca.hpp"
#include "tls/client_hello.hpp"
#include "tls/contexts.hpp"
#include "tls/leaf.hpp"

#include <catch2/catch.hpp>

#include <openssl/pem.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <latch>
#include <set>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

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

TEST_CASE("the leaf cache mints once per host under concurrency") {
  const auto ca = make_ca("cache");
  tls::LeafCache cache(ca, config::LeafKeyType::ec_p256);
  constexpr std::size_t threads_per_host = 16;
  const std::vector<std::string> hosts{"login.microsoftonline.com", "login.live.com", "login.windows.net",
                                       "login.microsoft.com", "device.login.microsoftonline.com"};
  std::uint64_t minted_before = 0;
  for (const auto& host : hosts) {
    INFO(host);
    // Every thread is released at once, so all of them look the host up while the first one
    // mints: a cache without single-flight would mint it again for each thread that got there.
    std::latch start(threads_per_host);
    std::vector<std::thread> threads;
    std::vector<tls::LeafPtr> results(threads_per_host);
    for (std::size_t i = 0; i < threads_per_host; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        results[i] = cache.get(host);
      });
    }
    for (auto& t : threads) t.join();
    CHECK(cache.stats().minted == minted_before + 1);
    minted_before = cache.stats().minted;
    for (const auto& leaf : results) CHECK(leaf == results[0]);
    CHECK(san_of(results[0]->cert.get()) == "DNS:" + host);
  }
  CHECK(cache.stats().hits == hosts.size() * (threads_per_host - 1));
}

TEST_CASE("the leaf cache evicts the least recently used host") {
  const auto ca = make_ca("evict");
  tls::LeafCache cache(ca, config::LeafKeyType::ec_p256, 2);
  const auto first = cache.get("login.microsoftonline.com");
  CHECK(cache.get("login.microsoftonline.com") == first);
  CHECK(cache.stats().minted == 1);
  cache.get("login.live.com");
  cache.get("login.windows.net");  // evicts login.microsoftonline.com (least recently used)
  CHECK(cache.stats().minted == 3);
  CHECK(cache.find("login.microsoftonline.com") == nullptr);
  CHECK(cache.get("login.microsoftonline.com") != first);
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

namespace {

// The TLS records of a hello on the wire: (offset of the record header, payload length).
std::vector<std::pair<std::size_t, std::size_t>> records_of(const std::string& wire) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (std::size_t at = 0; at + 5 <= wire.size();) {
    const std::size_t length =
        (static_cast<unsigned char>(wire[at + 3]) << 8) | static_cast<unsigned char>(wire[at + 4]);
    out.emplace_back(at, length);
    at += 5 + length;
  }
  return out;
}

// True when `hello` offers a key share for `group` (searched as the share's group and length).
bool has_key_share(const std::string& hello, std::uint16_t group, std::uint16_t length) {
  const char entry[] = {static_cast<char>(group >> 8), static_cast<char>(group & 0xff), static_cast<char>(length >> 8),
                        static_cast<char>(length & 0xff)};
  return hello.find(std::string_view(entry, sizeof entry)) != std::string::npos;
}

}  // namespace

TEST_CASE("Chromium's post-quantum ClientHello (X25519MLKEM768 key share) yields its SNI") {
  const auto hello = hello_from("client_hello_chromium.bin");
  CHECK(has_key_share(hello, 0x11EC, 1216));  // X25519MLKEM768: 1184-byte ML-KEM key + 32-byte X25519
  CHECK(hello.size() > 1200);
  const auto result = tls::peek_client_hello(hello);
  CHECK(result.status == tls::HelloStatus::sni);
  CHECK(result.host == "login.microsoftonline.com");
}

TEST_CASE("a padded 40 KiB ClientHello over three records yields its SNI only when whole") {
  const auto hello = hello_from("client_hello_padded_40k.bin");  // tests/data/make_large_hellos.py
  const auto records = records_of(hello);
  REQUIRE(records.size() == 3);
  REQUIRE(records.back().first + 5 + records.back().second == hello.size());
  const auto whole = tls::peek_client_hello(hello);
  CHECK(whole.status == tls::HelloStatus::sni);
  CHECK(whole.host == "login.microsoftonline.com");

  // Cut at every record boundary, inside every record header, and every 97 bytes in between.
  std::set<std::size_t> cuts;
  for (const auto& [at, length] : records) {
    for (std::size_t i = 0; i <= 6; ++i) cuts.insert(at + i);
    cuts.insert(at + 5 + length - 1);
  }
  for (std::size_t cut = 1; cut < hello.size(); cut += 97) cuts.insert(cut);
  cuts.erase(0);
  cuts.erase(hello.size());
  for (const auto cut : cuts) {
    INFO("cut " << cut);
    CHECK(tls::peek_client_hello(std::string_view(hello).substr(0, cut)).status == tls::HelloStatus::need_more);
  }

  // Fed as a client would, one record at a time and one byte at a time around the boundaries.
  std::string fed;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto [at, length] = records[i];
    for (std::size_t b = 0; b < 5; ++b) {
      fed += hello[at + b];
      CHECK(tls::peek_client_hello(fed).status == tls::HelloStatus::need_more);
    }
    fed += hello.substr(at + 5, length);
    const auto result = tls::peek_client_hello(fed);
    if (i + 1 < records.size()) {
      CHECK(result.status == tls::HelloStatus::need_more);
    } else {
      CHECK(result.status == tls::HelloStatus::sni);
      CHECK(result.host == "login.microsoftonline.com");
    }
  }
  CHECK(fed == hello);
}

TEST_CASE("a ClientHello of exactly 64 KiB is read; one byte more is malformed, from its first record on") {
  const auto largest = hello_from("client_hello_64k.bin");
  CHECK(records_of(largest).size() == 4);
  CHECK(largest.size() <= tls::max_client_hello_wire_bytes);
  const auto read = tls::peek_client_hello(largest);
  CHECK(read.status == tls::HelloStatus::sni);
  CHECK(read.host == "login.microsoftonline.com");

  const auto over = hello_from("client_hello_over_64k.bin");
  CHECK(records_of(over).size() == 5);
  CHECK(tls::peek_client_hello(over).status == tls::HelloStatus::malformed);
  // The handshake header in the first record already says too much: no need to wait for the rest.
  const auto first_record = 5 + records_of(over)[0].second;
  CHECK(tls::peek_client_hello(std::string_view(over).substr(0, first_record)).status == tls::HelloStatus::malformed);
  CHECK(tls::peek_client_hello(std::string_view(over).substr(0, first_record - 1)).status ==
        tls::HelloStatus::need_more);
}

TEST_CASE("a ClientHello whose records stop being handshake records mid-way is malformed") {
  const auto hello = hello_from("client_hello_padded_40k.bin");
  const auto records = records_of(hello);
  REQUIRE(records.size() == 3);
  for (std::size_t i = 1; i < records.size(); ++i) {
    // change_cipher_spec, alert, application_data, heartbeat, and a type TLS does not define.
    for (const unsigned char type : {20, 21, 23, 24, 0}) {
      INFO("record " << i << " type " << int(type));
      auto bad = hello;
      bad[records[i].first] = static_cast<char>(type);
      CHECK(tls::peek_client_hello(bad).status == tls::HelloStatus::malformed);
      // Decided as soon as the offending record header arrives.
      CHECK(tls::peek_client_hello(std::string_view(bad).substr(0, records[i].first + 5)).status ==
            tls::HelloStatus::malformed);
    }
    auto bad_version = hello;
    bad_version[records[i].first + 1] = 0x7f;  // not a TLS record version
    CHECK(tls::peek_client_hello(bad_version).status == tls::HelloStatus::malformed);
    auto empty_record =
        hello.substr(0, records[i].first) + std::string("\x16\x03\x01\x00\x00", 5) + hello.substr(records[i].first);
    CHECK(tls::peek_client_hello(empty_record).status == tls::HelloStatus::malformed);
  }
}

TEST_CASE("a ClientHello naming two server names is malformed, whichever comes first") {
  // curl's hello ends in a padding extension (175 bytes): two of its bytes become a second
  // server_name extension, or the first one gets a second host name; lengths stay the same.
  const auto hello = hello_from("client_hello_curl.bin");
  const auto padding = hello.find(std::string("\x00\x15\x00\xaf", 4));
  REQUIRE(padding != std::string::npos);
  REQUIRE(padding + 4 + 0xaf == hello.size());
  auto server_name_ext = [](std::string_view names) {
    std::string list;
    for (std::size_t at = 0; at < names.size();) {
      const auto end = std::min(names.find(',', at), names.size());
      const auto name = names.substr(at, end - at);
      list += '\0';
      list += static_cast<char>(name.size() >> 8);
      list += static_cast<char>(name.size() & 0xff);
      list += name;
      at = end + 1;
    }
    std::string ext("\x00\x00", 2);
    ext += static_cast<char>((list.size() + 2) >> 8);
    ext += static_cast<char>((list.size() + 2) & 0xff);
    ext += static_cast<char>(list.size() >> 8);
    ext += static_cast<char>(list.size() & 0xff);
    return ext + list;
  };
  // Replace the padding extension by `ext` plus a smaller padding extension: same total size.
  auto with = [&](std::string base, const std::string& ext) {
    const std::size_t room = 4 + 0xaf;
    REQUIRE(ext.size() + 4 <= room);
    const std::size_t pad = room - ext.size() - 4;
    std::string padding_ext("\x00\x15", 2);
    padding_ext += static_cast<char>(pad >> 8);
    padding_ext += static_cast<char>(pad & 0xff);
    padding_ext += std::string(pad, '\0');
    return base.substr(0, padding) + ext + padding_ext;
  };
  CHECK(tls::peek_client_hello(with(hello, server_name_ext("www.example.com"))).status == tls::HelloStatus::malformed);
  CHECK(tls::peek_client_hello(with(hello, server_name_ext("login.microsoftonline.com"))).status ==
        tls::HelloStatus::malformed);
  // Control: the same surgery with another extension type keeps curl's SNI.
  auto other = server_name_ext("www.example.com");
  other[1] = '\x77';
  const auto control = tls::peek_client_hello(with(hello, other));
  CHECK(control.status == tls::HelloStatus::sni);
  CHECK(control.host == "login.live.com");

  // One server_name extension listing two host names (curl's own one renamed to an unknown type).
  const auto curl_sni = hello.find(std::string("\x00\x00\x00\x13\x00\x11\x00\x00\x0elogin.live.com", 23));
  REQUIRE(curl_sni != std::string::npos);
  auto without_sni = hello;
  without_sni[curl_sni] = '\x0a';
  without_sni[curl_sni + 1] = '\x0a';
  CHECK(tls::peek_client_hello(without_sni).status == tls::HelloStatus::no_sni);
  const auto one = tls::peek_client_hello(with(without_sni, server_name_ext("www.example.com")));
  CHECK(one.status == tls::HelloStatus::sni);
  CHECK(one.host == "www.example.com");
  CHECK(
      tls::peek_client_hello(with(without_sni, server_name_ext("www.example.com,login.microsoftonline.com"))).status ==
      tls::HelloStatus::malformed);
}
