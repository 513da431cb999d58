#pragma once
// Leaf certificates for intercepted hosts, minted from the internal CA, and the bounded,
// single-flight cache that keeps minting off the hot path.

#include "config/config.hpp"
#include "tls/ca.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace trproxy::tls {

struct LeafCertificate {
  X509Ptr cert;
  PKeyPtr key;  // shared by every leaf of this key type in the process
  std::time_t not_after = 0;
};
using LeafPtr = std::shared_ptr<const LeafCertificate>;

PKeyPtr generate_leaf_key(config::LeafKeyType type);

using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;

// Everything about a leaf that does not depend on its host, built once per CA and leaf key with
// the X509 API (no text configuration): the issuer name, the encoded public key, the extensions
// that are the same for every leaf (basicConstraints, keyUsage, EKU, the subject key id of the
// shared leaf key, the authority key id from the CA) and a signing context initialised with the
// CA key. A mint then adds the serial, the dates, the name and the SAN, and signs: about one
// signature with the CA key.
class LeafTemplate {
 public:
  // Throws TlsError when OpenSSL cannot build a part.
  LeafTemplate(const CertificateAuthority& ca, PKeyPtr leaf_key, config::LeafKeyType type);

  // subjectAltName = host (DNS, or IP for a literal), CN = host (when it fits in 64 characters),
  // EKU serverAuth, keyUsage digitalSignature (+keyEncipherment for RSA), AKI from the CA,
  // random 128-bit serial, notBefore one hour back, notAfter min(now + 30 days, CA notAfter).
  // Safe to call from several threads at once.
  [[nodiscard]] LeafPtr mint(std::string_view host, std::time_t now) const;

 private:
  const CertificateAuthority& ca_;
  PKeyPtr leaf_key_;
  std::vector<X509ExtPtr> fixed_extensions_;
  MdCtxPtr sign_template_;  // EVP_DigestSignInit'ed with the CA key and SHA-256; copied per mint
};

// One leaf without a template (tests, one-off use): builds the template and mints once.
LeafPtr mint_leaf(const CertificateAuthority& ca, const PKeyPtr& leaf_key, config::LeafKeyType type,
                  std::string_view host, std::time_t now);

class LeafCache {
 public:
  struct Stats {
    std::uint64_t minted;
    std::uint64_t hits;
    std::size_t entries;  // leaves held now
  };

  LeafCache(std::shared_ptr<const CertificateAuthority> ca, config::LeafKeyType type, std::size_t capacity = 1024);

  // A cached leaf that is not near expiry, or null. Never blocks on a mint: the engine's io
  // threads call this and hand a miss to proxy::LeafMinter.
  LeafPtr find(std::string_view host);

  // Returns a valid leaf for the (normalised) host, minting it on a miss; concurrent callers
  // for one host mint once (the others wait). Blocks: call it off the io threads.
  // Throws TlsError when minting fails.
  LeafPtr get(std::string_view host);

  [[nodiscard]] Stats stats() const {
    std::lock_guard lock(mutex_);
    return {minted_.load(), hits_.load(), entries_.size()};
  }
  [[nodiscard]] const CertificateAuthority& ca() const { return *ca_; }
  [[nodiscard]] config::LeafKeyType key_type() const { return type_; }

 private:
  struct Entry {
    LeafPtr leaf;  // null while being minted
    std::list<std::string>::iterator lru;
  };
  // Renew a leaf once less than this is left, so a client never sees one near expiry.
  static constexpr std::time_t renew_before = 10L * 24 * 3600;

  std::shared_ptr<const CertificateAuthority> ca_;
  config::LeafKeyType type_;
  LeafTemplate template_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable minted_cv_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // front = most recently used
  std::atomic<std::uint64_t> minted_{0};
  std::atomic<std::uint64_t> hits_{0};
};

}  // namespace trproxy::tls
