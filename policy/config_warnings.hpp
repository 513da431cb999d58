#pragma once
// Mistakes that still make a valid configuration (DESIGN.md, "--check ... warns"): --check
// prints them, a start and a reload log them.

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace trproxy::policy {

// The tenant, policy and directory ids of Microsoft's documentation, which the shipped config
// uses: with them, sign-ins are restricted by someone else's policy (or by none).
inline constexpr std::array<std::string_view, 3> documentation_example_ids{"aaaabbbb-0000-cccc-1111-dddd2222eeee",
                                                                           "1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5",
                                                                           "bbbbcccc-1111-dddd-2222-eeee3333ffff"};

// One line each, without a "warning: " prefix.
std::vector<std::string> config_warnings(const config::Config& config);

}  // namespace trproxy::policy
