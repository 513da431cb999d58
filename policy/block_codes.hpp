#pragma once
// The sign-in service's block codes (DESIGN.md, "Sign-in outcomes";
// ../shared/tenant-restrictions-facts.md, "What the sign-in service answers"), found in
// response text that arrives in pieces of any size.

#include "policy/host_class.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace trproxy::policy {

enum class BlockCode : std::uint8_t {
  aadsts500021,                      // v1: the tenant is not in Restrict-Access-To-Tenants
  aadsts5000211,                     // v2: the tenant restrictions policy does not allow the tenant
  aadsts1000108,                     // v2: the policy id is not the tenant's default cross-tenant access policy
  msa_80045c4d,                      // consumer sign-in blocked by tenant policy
  msa_80045c54,                      // consumer sign-in: invalid v2 header
  app_tenant_restriction_violation,  // an app's JSON error (Claude: "error_code":"tenant_restriction_violation")
  count
};

inline constexpr std::size_t block_code_count = static_cast<std::size_t>(BlockCode::count);
// The sign-in codes come first: trproxy_sign_in_blocked_total has a series for each of them.
inline constexpr std::size_t sign_in_block_code_count = 5;

// The code as Microsoft writes it ("AADSTS5000211", "80045C4D"): the metric label and log value.
std::string_view to_string(BlockCode code);

inline constexpr std::array<BlockCode, sign_in_block_code_count> all_block_codes{
    BlockCode::aadsts500021, BlockCode::aadsts5000211, BlockCode::aadsts1000108, BlockCode::msa_80045c4d,
    BlockCode::msa_80045c54};

// The codes searched for on a host class: AADSTS codes on auth hosts, the MSA codes on MSA
// hosts, an app's documented error code on app hosts (only apps whose vendor documents one are
// searched: config::BlockSignal::body_contains), none elsewhere.
std::span<const BlockCode> block_codes_for(HostClass host_class);

// Finds the first whole block code in a text fed in pieces: a code is whole when no letter or
// digit touches it on either side (AADSTS500021 is not inside AADSTS5000211); an MSA code may
// also carry a 0x prefix, and its hex letters match in either case. A code may straddle any number of
// pieces. Memory is fixed (a few bytes carried between pieces plus one copy window).
class BlockCodeMatcher {
 public:
  explicit BlockCodeMatcher(HostClass host_class);

  // The next piece of text. True once a code has been found (the rest is then ignored).
  bool feed(std::string_view text);
  // The text has ended: a code in its very last bytes is decided now.
  void finish();
  [[nodiscard]] std::optional<BlockCode> found() const { return found_; }

 private:
  static constexpr std::size_t longest_code = 28;
  // Kept between pieces: an undecided code start (longest_code + 1 boundary byte before its
  // end is known) plus three bytes of look-behind ("0x" and the byte before it).
  static constexpr std::size_t carry_bytes = longest_code + 1 + 3;
  static constexpr std::size_t step_bytes = 4096;

  void scan(std::size_t size, bool at_end);

  std::span<const BlockCode> codes_;
  std::string_view anchor_;  // what every code of the family starts with
  std::array<char, carry_bytes + step_bytes> window_{};
  std::size_t carried_ = 0;         // bytes at the start of window_ kept from earlier pieces
  std::size_t undecided_from_ = 0;  // in window_: code starts before this are decided
  bool at_stream_start_ = true;     // window_[0] is the first byte of the text
  std::optional<BlockCode> found_;
};

}  // namespace trproxy::policy
