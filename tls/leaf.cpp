#include "tls/leaf.hpp"

#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>

namespace trproxy::tls {
namespace {

constexpr long leaf_lifetime = 30L * 24 * 3600;
constexpr long backdate = 3600;              // tolerate clients whose clocks run a little behind
constexpr std::size_t max_common_name = 64;  // RFC 5280 ub-common-name

using OctetPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>>;

// The 4 or 16 address bytes of an IP literal, or 0 for a host name.
std::size_t ip_literal(const std::string& host, std::array<unsigned char, 16>& bytes) {
  if (inet_pton(AF_INET, host.c_str(), bytes.data()) == 1) return 4;
  if (inet_pton(AF_INET6, host.c_str(), bytes.data()) == 1) return 16;
  return 0;
}

template <class Value>
X509ExtPtr encoded(int nid, bool critical, Value* value) {
  X509ExtPtr ext(X509V3_EXT_i2d(nid, critical ? 1 : 0, value));
  if (!ext) throw_openssl(std::string("certificate extension ") + OBJ_nid2sn(nid));
  return ext;
}

// SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2 method 1), the key id OpenSSL's "hash"
// computes.
OctetPtr key_id_of(EVP_PKEY* key) {
  std::unique_ptr<X509_PUBKEY, Deleter<X509_PUBKEY_free>> pubkey;
  X509_PUBKEY* raw = nullptr;
  if (X509_PUBKEY_set(&raw, key) != 1) throw_openssl("encoding a public key");
  pubkey.reset(raw);
  const unsigned char* bits = nullptr;
  int length = 0;
  X509_PUBKEY_get0_param(nullptr, &bits, &length, nullptr, pubkey.get());
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  SHA1(bits, static_cast<std::size_t>(length), digest.data());
  OctetPtr id(ASN1_OCTET_STRING_new());
  if (!id || ASN1_OCTET_STRING_set(id.get(), digest.data(), static_cast<int>(digest.size())) != 1) {
    throw_openssl("key identifier");
  }
  return id;
}

std::vector<X509ExtPtr> fixed_extensions(const CertificateAuthority& ca, EVP_PKEY* leaf_key, config::LeafKeyType type) {
  std::vector<X509ExtPtr> out;
  {
    std::unique_ptr<BASIC_CONSTRAINTS, Deleter<BASIC_CONSTRAINTS_free>> bc(BASIC_CONSTRAINTS_new());
    out.push_back(encoded(NID_basic_constraints, true, bc.get()));  // CA:FALSE
  }
  {
    std::unique_ptr<ASN1_BIT_STRING, Deleter<ASN1_BIT_STRING_free>> usage(ASN1_BIT_STRING_new());
    ASN1_BIT_STRING_set_bit(usage.get(), 0, 1);                                             // digitalSignature
    if (type == config::LeafKeyType::rsa_2048) ASN1_BIT_STRING_set_bit(usage.get(), 2, 1);  // keyEncipherment
    out.push_back(encoded(NID_key_usage, true, usage.get()));
  }
  {
    std::unique_ptr<EXTENDED_KEY_USAGE, Deleter<EXTENDED_KEY_USAGE_free>> eku(EXTENDED_KEY_USAGE_new());
    sk_ASN1_OBJECT_push(eku.get(), OBJ_nid2obj(NID_server_auth));
    out.push_back(encoded(NID_ext_key_usage, false, eku.get()));
  }
  // Every leaf shares one key, so its subject key id is computed once.
  out.push_back(encoded(NID_subject_key_identifier, false, key_id_of(leaf_key).get()));
  {
    std::unique_ptr<AUTHORITY_KEYID, Deleter<AUTHORITY_KEYID_free>> akid(AUTHORITY_KEYID_new());
    const ASN1_OCTET_STRING* ca_id = X509_get0_subject_key_id(ca.cert());
    akid->keyid = ca_id ? ASN1_OCTET_STRING_dup(ca_id) : key_id_of(X509_get0_pubkey(ca.cert())).release();
    out.push_back(encoded(NID_authority_key_identifier, false, akid.get()));
  }
  return out;
}

// OpenSSL 3.0's X509_set_pubkey runs an encoder and then a decoder, each fetched anew, for a
// provider-held key: three quarters of a mint (perf, bench/README.md). A key held the legacy way
// is encoded by its ASN.1 method at once, so the shared leaf key is converted once, here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
PKeyPtr legacy_held(PKeyPtr key) {
  PKeyPtr out(EVP_PKEY_new());
  bool assigned = false;
  if (out && EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_EC) {
    EC_KEY* ec = EVP_PKEY_get1_EC_KEY(key.get());
    assigned = ec != nullptr && EVP_PKEY_assign_EC_KEY(out.get(), ec) == 1;
    if (!assigned) EC_KEY_free(ec);
  } else if (out && EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_RSA) {
    RSA* rsa = EVP_PKEY_get1_RSA(key.get());
    assigned = rsa != nullptr && EVP_PKEY_assign_RSA(out.get(), rsa) == 1;
    if (!assigned) RSA_free(rsa);
  }
  if (!assigned) {
    drain_openssl_errors();
    return key;  // slower to mint with, as good otherwise
  }
  return out;
}
#pragma GCC diagnostic pop

MdCtxPtr sign_context(EVP_PKEY* ca_key) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, ca_key, nullptr) != 1) {
    throw_openssl("signing context for the CA key");
  }
  return ctx;
}

}  // namespace

PKeyPtr generate_leaf_key(config::LeafKeyType type) {
  PKeyPtr key(type == config::LeafKeyType::ec_p256 ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048));
  if (!key) throw_openssl("leaf key generation");
  return key;
}

LeafTemplate::LeafTemplate(const CertificateAuthority& ca, PKeyPtr leaf_key, config::LeafKeyType type)
    : ca_(ca),
      leaf_key_(legacy_held(std::move(leaf_key))),
      fixed_extensions_(fixed_extensions(ca, leaf_key_.get(), type)),
      sign_template_(sign_context(ca.key())) {}

LeafPtr LeafTemplate::mint(std::string_view host_view, std::time_t now) const {
  const std::string host(host_view);
  X509Ptr cert(X509_new());
  if (!cert) throw_openssl("X509_new");
  X509_set_version(cert.get(), X509_VERSION_3);
  X509_set_serialNumber(cert.get(), detail::random_serial().get());
  const std::time_t not_after = std::min<std::time_t>(now + leaf_lifetime, ca_.not_after());
  X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -backdate, &now);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0, static_cast<long>(not_after - now), &now);
  if (host.size() <= max_common_name) {
    X509_NAME_add_entry_by_NID(X509_get_subject_name(cert.get()), NID_commonName, MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(host.data()), static_cast<int>(host.size()), -1,
                               0);
  }
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_.cert()));
  X509_set_pubkey(cert.get(), leaf_key_.get());

  GeneralNamesPtr names(GENERAL_NAMES_new());
  std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME_free>> name(GENERAL_NAME_new());
  std::array<unsigned char, 16> address{};
  if (const auto length = ip_literal(host, address)) {
    OctetPtr ip(ASN1_OCTET_STRING_new());
    if (!ip || ASN1_OCTET_STRING_set(ip.get(), address.data(), static_cast<int>(length)) != 1) {
      throw_openssl("subjectAltName for " + host);
    }
    GENERAL_NAME_set0_value(name.get(), GEN_IPADD, ip.release());
  } else {
    std::unique_ptr<ASN1_IA5STRING, Deleter<ASN1_IA5STRING_free>> dns(ASN1_IA5STRING_new());
    if (!dns || ASN1_STRING_set(dns.get(), host.data(), static_cast<int>(host.size())) != 1) {
      throw_openssl("subjectAltName for " + host);
    }
    GENERAL_NAME_set0_value(name.get(), GEN_DNS, dns.release());
  }
  sk_GENERAL_NAME_push(names.get(), name.release());
  if (X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    throw_openssl("subjectAltName for " + host);
  }
  for (const auto& ext : fixed_extensions_) {
    if (X509_add_ext(cert.get(), ext.get(), -1) != 1) throw_openssl("certificate extensions");
  }

  // A copy of the prepared context skips the per-signature fetch of the algorithms.
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_MD_CTX_copy_ex(ctx.get(), sign_template_.get()) != 1) {
    drain_openssl_errors();
    ctx = sign_context(ca_.key());
  }
  if (X509_sign_ctx(cert.get(), ctx.get()) == 0) throw_openssl("signing leaf for " + host);
  auto leaf = std::make_shared<LeafCertificate>();
  leaf->cert = std::move(cert);
  leaf->key = up_ref(leaf_key_.get());
  leaf->not_after = not_after;
  return leaf;
}

LeafPtr mint_leaf(const CertificateAuthority& ca, const PKeyPtr& leaf_key, config::LeafKeyType type,
                  std::string_view host, std::time_t now) {
  return LeafTemplate(ca, up_ref(leaf_key.get()), type).mint(host, now);
}

LeafCache::LeafCache(std::shared_ptr<const CertificateAuthority> ca, config::LeafKeyType type, std::size_t capacity)
    : ca_(std::move(ca)),
      type_(type),
      template_(*ca_, generate_leaf_key(type), type),
      capacity_(std::max<std::size_t>(capacity, 1)) {}

LeafPtr LeafCache::find(std::string_view host_view) {
  const std::string host(host_view);
  const std::time_t now = std::time(nullptr);
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(host);
  if (it == entries_.end() || !it->second.leaf || it->second.leaf->not_after - now <= renew_before) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  hits_.fetch_add(1, std::memory_order_relaxed);
  return it->second.leaf;
}

LeafPtr LeafCache::get(std::string_view host_view) {
  std::string host(host_view);
  const std::time_t now = std::time(nullptr);
  std::unique_lock lock(mutex_);
  for (;;) {
    auto it = entries_.find(host);
    if (it == entries_.end()) break;
    if (!it->second.leaf) {
      minted_cv_.wait(lock);  // another thread is minting this host: wait for it
      continue;
    }
    if (it->second.leaf->not_after - now > renew_before) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      hits_.fetch_add(1, std::memory_order_relaxed);
      return it->second.leaf;
    }
    lru_.erase(it->second.lru);
    entries_.erase(it);
    break;
  }
  lru_.push_front(host);
  entries_.emplace(host, Entry{nullptr, lru_.begin()});
  lock.unlock();

  LeafPtr leaf;
  try {
    leaf = template_.mint(host, now);
  } catch (...) {
    lock.lock();
    auto it = entries_.find(host);
    lru_.erase(it->second.lru);
    entries_.erase(it);
    minted_cv_.notify_all();
    throw;
  }
  minted_.fetch_add(1, std::memory_order_relaxed);

  lock.lock();
  entries_.find(host)->second.leaf = leaf;
  while (entries_.size() > capacity_) {
    // Evict the least recently used finished entry; in-flight mints are never evicted.
    auto victim =
        std::find_if(lru_.rbegin(), lru_.rend(), [&](const std::string& h) { return entries_[h].leaf != nullptr; });
    if (victim == lru_.rend() || *victim == host) break;
    entries_.erase(*victim);
    lru_.erase(std::next(victim).base());
  }
  minted_cv_.notify_all();
  return leaf;
}

}  // namespace trproxy::tls
