#include "tls/leaf.hpp"

#include <openssl/rsa.h>

#include <arpa/inet.h>

#include <algorithm>

namespace trproxy::tls {
namespace {

constexpr long leaf_lifetime = 30L * 24 * 3600;
constexpr long backdate = 3600;  // tolerate clients whose clocks run a little behind

bool is_ip_literal(const std::string& host) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 || inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

}  // namespace

PKeyPtr generate_leaf_key(config::LeafKeyType type) {
  PKeyPtr key(type == config::LeafKeyType::ec_p256 ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048));
  if (!key) throw_openssl("leaf key generation");
  return key;
}

LeafPtr mint_leaf(const CertificateAuthority& ca, const PKeyPtr& leaf_key, config::LeafKeyType type,
                  std::string_view host_view, std::time_t now) {
  const std::string host(host_view);
  X509Ptr cert(X509_new());
  if (!cert) throw_openssl("X509_new");
  X509_set_version(cert.get(), 2);
  X509_set_serialNumber(cert.get(), detail::random_serial().get());
  const std::time_t not_after = std::min<std::time_t>(now + leaf_lifetime, ca.not_after());
  X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -backdate, &now);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0, static_cast<long>(not_after - now), &now);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.cert()));
  X509_set_pubkey(cert.get(), leaf_key.get());
  const auto san = (is_ip_literal(host) ? "IP:" : "DNS:") + host;
  detail::add_extension(cert.get(), ca.cert(), NID_subject_alt_name, san.c_str());
  detail::add_extension(cert.get(), ca.cert(), NID_basic_constraints, "critical,CA:FALSE");
  detail::add_extension(cert.get(), ca.cert(), NID_key_usage,
                        type == config::LeafKeyType::rsa_2048 ? "critical,digitalSignature,keyEncipherment"
                                                              : "critical,digitalSignature");
  detail::add_extension(cert.get(), ca.cert(), NID_ext_key_usage, "serverAuth");
  detail::add_extension(cert.get(), ca.cert(), NID_subject_key_identifier, "hash");
  detail::add_extension(cert.get(), ca.cert(), NID_authority_key_identifier, "keyid:always");
  if (X509_sign(cert.get(), ca.key(), EVP_sha256()) == 0) throw_openssl("signing leaf for " + host);
  auto leaf = std::make_shared<LeafCertificate>();
  leaf->cert = std::move(cert);
  leaf->key = up_ref(leaf_key.get());
  leaf->not_after = not_after;
  return leaf;
}

LeafCache::LeafCache(std::shared_ptr<const CertificateAuthority> ca, config::LeafKeyType type, std::size_t capacity)
    : ca_(std::move(ca)), type_(type), leaf_key_(generate_leaf_key(type)), capacity_(std::max<std::size_t>(capacity, 1)) {}

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
    leaf = mint_leaf(*ca_, leaf_key_, type_, host, now);
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
    auto victim = std::find_if(lru_.rbegin(), lru_.rend(), [&](const std::string& h) { return entries_[h].leaf != nullptr; });
    if (victim == lru_.rend() || *victim == host) break;
    entries_.erase(*victim);
    lru_.erase(std::next(victim).base());
  }
  minted_cv_.notify_all();
  return leaf;
}

}  // namespace trproxy::tls
