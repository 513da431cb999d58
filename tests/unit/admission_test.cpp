// Client admission as a table: the allow-list, the process-wide limit and one address's share.

#include "policy/admission.hpp"
#include "test_configs.hpp"

#include <catch2/catch.hpp>

using namespace trproxy;
using policy::AdmissionRefusal;

TEST_CASE("admission: allow-list, per-client share, then the process-wide limit (issue 19.7)") {
  auto config = test::load_yaml(std::string(test::v2_yaml) +
                                "clients:\n  allow: [10.0.0.0/8]\nlimits:\n  max_connections: 10\n"
                                "  max_connections_per_client: 3\n");
  const auto inside = *config::parse_ip("10.1.2.3");
  const auto outside = *config::parse_ip("192.0.2.1");
  struct Row {
    config::IpAddress client;
    std::size_t all, mine;
    std::optional<AdmissionRefusal> expected;
  };
  const Row rows[] = {
      {inside, 1, 1, std::nullopt},
      {inside, 10, 3, std::nullopt},                       // both at their bound: still served
      {inside, 5, 4, AdmissionRefusal::per_client},        // one address past its share
      {inside, 11, 1, AdmissionRefusal::max_connections},  // the proxy is full
      {inside, 11, 4, AdmissionRefusal::per_client},       // the address that filled it is told
      {outside, 1, 1, AdmissionRefusal::not_allowed},      // the allow-list comes first
  };
  for (const auto& row : rows) {
    CAPTURE(row.all, row.mine);
    CHECK(policy::admit_client(config, row.client, {row.all, row.mine}) == row.expected);
  }
  CHECK(policy::admission_refusal(AdmissionRefusal::not_allowed).status == 403);
  CHECK(policy::admission_refusal(AdmissionRefusal::max_connections).status == 503);
  const auto share = policy::admission_refusal(AdmissionRefusal::per_client);
  CHECK(share.status == 503);
  CHECK_THAT(share.reason, Catch::Contains("limits.max_connections_per_client"));
}

TEST_CASE("admission: the per-client share defaults to all but an eighth of max_connections") {
  const auto share_for = [](const char* limits) {
    return test::load_yaml(std::string(test::v2_yaml) + limits).limits.max_connections_per_client;
  };
  CHECK(test::load_yaml(test::v2_yaml).limits.max_connections_per_client == 8'750);
  CHECK(share_for("limits:\n  max_connections: 100\n") == 88);
  CHECK(share_for("limits:\n  max_connections: 4\n") == 4);  // small limits keep their meaning
  CHECK(share_for("limits:\n  max_connections: 1\n") == 1);
  CHECK(share_for("limits:\n  max_connections: 100\n  max_connections_per_client: 100\n") == 100);
}
