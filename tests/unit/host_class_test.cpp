#include "policy/host_class.hpp"
#include "test_configs.hpp"

#include <catch2/catch.hpp>

using namespace trproxy;
using policy::HostClass;

TEST_CASE("host classification follows DESIGN.md") {
  const policy::HostClassifier hosts(test::load_yaml(test::v2_yaml));
  CHECK(hosts.classify("login.microsoftonline.com") == HostClass::auth);
  CHECK(hosts.classify("LOGIN.MicrosoftOnline.com.") == HostClass::auth);
  CHECK(hosts.classify("login.microsoft.com") == HostClass::auth);
  CHECK(hosts.classify("login.windows.net") == HostClass::auth);
  CHECK(hosts.classify("login.live.com") == HostClass::msa);
  CHECK(hosts.classify("Login.Live.Com") == HostClass::msa);
  CHECK(hosts.classify("device.login.microsoftonline.com") == HostClass::excluded);
  CHECK(hosts.classify("enterpriseregistration.windows.net") == HostClass::excluded);
  CHECK(hosts.classify("onedrive.live.com") == HostClass::blocked);
  CHECK(hosts.classify("ONEDRIVE.live.com.") == HostClass::blocked);
  // No subdomain or look-alike matching.
  CHECK(hosts.classify("login.microsoftonline.com.evil.test") == HostClass::other);
  CHECK(hosts.classify("xlogin.microsoftonline.com") == HostClass::other);
  CHECK(hosts.classify("a.login.microsoftonline.com") == HostClass::other);
  CHECK(hosts.classify("login.microsoftonline.co") == HostClass::other);
  CHECK(hosts.classify("login.microsoftonline.com..") == HostClass::invalid);
  CHECK(hosts.classify("example.com") == HostClass::other);
  CHECK(hosts.classify("127.0.0.1") == HostClass::other);
  CHECK(hosts.classify("::1") == HostClass::other);
  // Not plain ASCII: refused.
  CHECK(hosts.classify("l\xc3\xb6gin.microsoftonline.com") == HostClass::invalid);
  CHECK(hosts.classify("login.microsoftonline.com\x01") == HostClass::invalid);
  CHECK(hosts.classify("login microsoftonline.com") == HostClass::invalid);
  CHECK(hosts.classify("") == HostClass::invalid);
  CHECK(hosts.classify(".") == HostClass::invalid);
}

TEST_CASE("excluded wins over every other list, and the documented exclusions always apply") {
  const auto config = test::load_yaml(R"(
tenant_restrictions:
  v2: {tenant_id: aaaabbbb-0000-cccc-1111-dddd2222eeee, policy_id: 1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5}
  auth_hosts: [login.microsoftonline.com, device.login.microsoftonline.com]
  exclude: [login.windows.net]
)");
  const policy::HostClassifier hosts(config);
  CHECK(hosts.classify("device.login.microsoftonline.com") == HostClass::excluded);
  CHECK(hosts.classify("enterpriseregistration.windows.net") == HostClass::excluded);
  CHECK(hosts.classify("login.windows.net") == HostClass::excluded);
  CHECK(hosts.classify("login.microsoftonline.com") == HostClass::auth);
  CHECK(hosts.classify("login.microsoft.com") == HostClass::other);  // not in the configured auth list
}
