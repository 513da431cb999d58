#include "tls/name_constraints.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "policy/http_chars.hpp"

namespace trproxy::tls {
namespace {

using policy::chars::iequals;

std::string_view without_trailing_dot(std::string_view name) {
  if (name.size() > 1 && name.back() == '.') name.remove_suffix(1);
  return name;
}

// Every address of each family: nothing under this CA may be a certificate for an IP literal.
constexpr std::array<std::string_view, 2> every_ip_address{"IP:0.0.0.0/0", "IP:::/0"};

// "IP:addr/len" (display form) -> "IP:addr/mask" (OpenSSL's configuration syntax).
std::string ip_subtree_to_openssl(std::string_view subtree) {
  const auto slash = subtree.find('/');
  const std::string address(subtree.substr(3, slash - 3));
  const bool v6 = address.find(':') != std::string::npos;
  const int bits = std::stoi(std::string(subtree.substr(slash + 1)));
  std::array<unsigned char, 16> mask{};
  for (int i = 0; i < bits; ++i) mask[static_cast<std::size_t>(i / 8)] |= static_cast<unsigned char>(0x80 >> (i % 8));
  std::array<char, INET6_ADDRSTRLEN> text{};
  inet_ntop(v6 ? AF_INET6 : AF_INET, mask.data(), text.data(), text.size());
  return "IP:" + address + "/" + text.data();
}

// An iPAddress subtree (address then mask, 8 or 32 bytes) in display form "IP:addr/len", or
// "IP:addr/mask" when the mask is not a prefix.
std::string ip_subtree_text(const ASN1_OCTET_STRING* bytes) {
  const auto size = ASN1_STRING_length(bytes);
  const unsigned char* data = ASN1_STRING_get0_data(bytes);
  if (size != 8 && size != 32) return "IP:(malformed)";
  const auto half = static_cast<std::size_t>(size / 2);
  const int family = half == 4 ? AF_INET : AF_INET6;
  std::array<char, INET6_ADDRSTRLEN> address{};
  inet_ntop(family, data, address.data(), address.size());
  int bits = 0;
  bool prefix = true;
  for (std::size_t i = 0; i < half; ++i) {
    for (int bit = 7; bit >= 0; --bit) {
      const bool set = (data[half + i] >> bit) & 1;
      if (set && bits != static_cast<int>(i * 8) + (7 - bit)) prefix = false;
      bits += set ? 1 : 0;
    }
  }
  if (prefix) return "IP:" + std::string(address.data()) + "/" + std::to_string(bits);
  std::array<char, INET6_ADDRSTRLEN> mask{};
  inet_ntop(family, data + half, mask.data(), mask.size());
  return "IP:" + std::string(address.data()) + "/" + mask.data();
}

std::string ia5_text(const ASN1_IA5STRING* text) {
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
          static_cast<std::size_t>(ASN1_STRING_length(text))};
}

void read_subtrees(const STACK_OF(GENERAL_SUBTREE) * subtrees, std::vector<std::string>& dns,
                   std::vector<std::string>& other) {
  for (int i = 0; i < sk_GENERAL_SUBTREE_num(subtrees); ++i) {
    const GENERAL_NAME* base = sk_GENERAL_SUBTREE_value(subtrees, i)->base;
    switch (base->type) {
      case GEN_DNS: dns.push_back(ia5_text(base->d.dNSName)); break;
      case GEN_IPADD: other.push_back(ip_subtree_text(base->d.iPAddress)); break;
      case GEN_EMAIL: other.push_back("email:" + ia5_text(base->d.rfc822Name)); break;
      case GEN_URI: other.push_back("URI:" + ia5_text(base->d.uniformResourceIdentifier)); break;
      case GEN_DIRNAME: {
        char buffer[256];
        X509_NAME_oneline(base->d.directoryName, buffer, sizeof buffer);
        other.push_back(std::string("dirName:") + buffer);
        break;
      }
      default: other.push_back("othername");
    }
  }
}

}  // namespace

bool dns_name_within(std::string_view name, std::string_view subtree) {
  name = without_trailing_dot(name);
  subtree = without_trailing_dot(subtree);
  if (subtree.empty()) return true;
  if (name.size() < subtree.size()) return false;
  const auto tail = name.substr(name.size() - subtree.size());
  if (!iequals(tail, subtree)) return false;
  if (subtree.front() == '.') return name.size() > subtree.size();  // strictly below
  return name.size() == subtree.size() || name[name.size() - subtree.size() - 1] == '.';
}

const char* to_string(DnsVerdict verdict) {
  switch (verdict) {
    case DnsVerdict::permitted: return "permitted";
    case DnsVerdict::excluded: return "excluded";
    case DnsVerdict::not_permitted: return "not permitted";
  }
  return "not permitted";
}

DnsVerdict check_dns_name(const NameConstraints& constraints, std::string_view host) {
  const auto within = [host](const std::string& subtree) { return dns_name_within(host, subtree); };
  if (std::any_of(constraints.excluded_dns.begin(), constraints.excluded_dns.end(), within)) {
    return DnsVerdict::excluded;
  }
  if (limits_dns_names(constraints) &&
      std::none_of(constraints.permitted_dns.begin(), constraints.permitted_dns.end(), within)) {
    return DnsVerdict::not_permitted;
  }
  return DnsVerdict::permitted;
}

bool limits_dns_names(const NameConstraints& constraints) {
  return !constraints.permitted_dns.empty();
}

std::string_view subtree_of(std::string_view host_pattern) {
  return host_pattern.rfind("*.", 0) == 0 ? host_pattern.substr(2) : host_pattern;
}

NameConstraints constraints_for(const config::TenantRestrictions& tenant_restrictions,
                                const std::vector<std::string>& app_hosts) {
  NameConstraints constraints;
  constraints.permitted_dns = config::intercepted_hosts(tenant_restrictions);
  for (const auto& pattern : app_hosts) {
    std::string subtree(subtree_of(pattern));
    const bool covered = std::any_of(constraints.permitted_dns.begin(), constraints.permitted_dns.end(),
                                     [&](const std::string& permitted) { return dns_name_within(subtree, permitted); });
    if (!covered) constraints.permitted_dns.push_back(std::move(subtree));
  }
  for (const auto& host : tenant_restrictions.exclude) {
    const bool under_permitted =
        std::any_of(constraints.permitted_dns.begin(), constraints.permitted_dns.end(),
                    [&](const std::string& permitted) { return dns_name_within(host, permitted); });
    if (under_permitted) constraints.excluded_dns.push_back(host);
  }
  constraints.excluded_other.assign(every_ip_address.begin(), every_ip_address.end());
  return constraints;
}

std::string to_openssl_conf(const NameConstraints& constraints) {
  std::string out = constraints.critical ? "critical" : "";
  const auto add = [&out](const char* kind, const std::string& subtree) {
    out += out.empty() ? "" : ",";
    out += kind;
    out += ';';
    out += subtree;
  };
  for (const auto& name : constraints.permitted_dns) add("permitted", "DNS:" + name);
  for (const auto& name : constraints.excluded_dns) add("excluded", "DNS:" + name);
  for (const auto* list : {&constraints.permitted_other, &constraints.excluded_other}) {
    for (const auto& subtree : *list) {
      if (subtree.rfind("IP:", 0) != 0) throw std::invalid_argument("only DNS and IP subtrees are written: " + subtree);
      add(list == &constraints.permitted_other ? "permitted" : "excluded", ip_subtree_to_openssl(subtree));
    }
  }
  return out;
}

std::string describe_subtrees(const NameConstraints& constraints, bool permitted) {
  const auto& dns = permitted ? constraints.permitted_dns : constraints.excluded_dns;
  const auto& other = permitted ? constraints.permitted_other : constraints.excluded_other;
  std::string out;
  const auto add = [&out](const std::string& item) {
    out += out.empty() ? "" : ", ";
    out += item;
  };
  for (const auto& name : dns) add("DNS:" + name);
  for (const auto& item : other) add(item);
  return out.empty() ? "(none)" : out;
}

std::optional<NameConstraints> read_name_constraints(X509* cert) {
  int critical = -1;
  std::unique_ptr<NAME_CONSTRAINTS, Deleter<NAME_CONSTRAINTS_free>> extension(
      static_cast<NAME_CONSTRAINTS*>(X509_get_ext_d2i(cert, NID_name_constraints, &critical, nullptr)));
  if (!extension) {
    if (critical == -1) return std::nullopt;  // absent
    throw_openssl(critical == -2 ? "more than one nameConstraints extension" : "unreadable nameConstraints extension");
  }
  NameConstraints constraints;
  constraints.critical = critical == 1;
  read_subtrees(extension->permittedSubtrees, constraints.permitted_dns, constraints.permitted_other);
  read_subtrees(extension->excludedSubtrees, constraints.excluded_dns, constraints.excluded_other);
  return constraints;
}

}  // namespace trproxy::tls
