#include "proxy/observe/version.hpp"

#include <openssl/crypto.h>

#include <boost/version.hpp>

namespace trproxy::proxy {

std::string openssl_version() {
  return OpenSSL_version(OPENSSL_VERSION_STRING);
}

std::string boost_version() {
  return std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) + "." +
         std::to_string(BOOST_VERSION % 100);
}

std::string version_text() {
  return std::string("trproxy ") + version + "\ncommit " + build_commit + "\nOpenSSL " + openssl_version() +
         "\nBoost " + boost_version() + "\n";
}

}  // namespace trproxy::proxy
