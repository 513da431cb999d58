#pragma once
// RAII owners for the OpenSSL objects trproxy uses, and error text from OpenSSL's queue.

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace trproxy::tls {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using PKeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using X509ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using Asn1IntPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using PKeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;

// Drains OpenSSL's error queue into one line ("" when empty).
std::string drain_openssl_errors();

class TlsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws TlsError with `what` and the drained OpenSSL errors.
[[noreturn]] void throw_openssl(const std::string& what);

// Lower-case hex of `size` bytes, `separator` between bytes.
std::string hex(const unsigned char* bytes, std::size_t size, std::string_view separator = "");

// The SHA-256 of `bytes` in lower-case hex (as sha256sum prints it).
std::string sha256_hex(std::string_view bytes);

inline X509Ptr up_ref(X509* cert) {
  X509_up_ref(cert);
  return X509Ptr(cert);
}
inline PKeyPtr up_ref(EVP_PKEY* key) {
  EVP_PKEY_up_ref(key);
  return PKeyPtr(key);
}

}  // namespace trproxy::tls
