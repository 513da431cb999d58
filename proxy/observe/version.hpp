#pragma once
// What this binary is: `trproxy --version` and trproxy_build_info (DESIGN.md).

#include <string>

namespace trproxy::proxy {

inline constexpr const char* version = TRPROXY_VERSION;

// The source commit, from git when the build was configured ("unknown" without git; packagers
// set -DTRPROXY_COMMIT=...). Generated into the build folder: a new commit recompiles one file.
extern const char* const build_commit;

std::string openssl_version();  // the library loaded at run time, e.g. "3.0.11"
std::string boost_version();    // the headers compiled against, e.g. "1.81.0"

// The --version text: one "name version" line each.
std::string version_text();

}  // namespace trproxy::proxy
