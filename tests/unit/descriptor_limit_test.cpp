// The open-descriptor limit at start: raised to the hard limit, and a warning when even that
// is short of what limits.max_connections may need.
#include "proxy/server/descriptor_limit.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>

using namespace trproxy::proxy;

TEST_CASE("the soft descriptor limit rises to the hard one; short limits are named") {
  constexpr auto unlimited = std::numeric_limits<std::uint64_t>::max();
  struct Row {
    std::uint64_t soft, hard, max_connections, expected_soft;
    bool warns;
  };
  const Row rows[] = {
      {1024, 524288, 10'000, 524288, false},  // a login shell's limits: raised, enough
      {1024, 4096, 10'000, 4096, true},       // raised, still short of 10,000 connections
      {65536, 65536, 10'000, 65536, false},   // systemd's LimitNOFILE=65536: nothing to do
      {65536, 65536, 20'000, 65536, true},    // 20,000 x 6 + 64 > 65,536
      {1024, unlimited, 10'000, unlimited, false},
      {4096, 4096, 672, 4096, false},  // 672 x 6 + 64 = 4,096 exactly
      {4096, 4096, 673, 4096, true},
      {2048, 1024, 100, 2048, false},       // never lowered
      {1024, 1024, unlimited, 1024, true},  // no overflow in the need
  };
  for (const auto& row : rows) {
    const auto plan = plan_descriptor_limit(row.soft, row.hard, row.max_connections);
    INFO("soft " << row.soft << " hard " << row.hard << " max_connections " << row.max_connections);
    CHECK(plan.soft == row.expected_soft);
    CHECK(plan.warning.empty() == !row.warns);
    if (row.warns) CHECK_THAT(plan.warning, Catch::Contains("limits.max_connections"));
  }
}
