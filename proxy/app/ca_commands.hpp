#pragma once
// `trproxy ca init` and `trproxy ca show` (DESIGN.md, "Command line"): print, return the exit code.

#include <string>

#include "proxy/app/cli.hpp"

namespace trproxy::proxy {

int run_ca_init(const CaInitOptions& options);
int run_ca_show(const std::string& file);

}  // namespace trproxy::proxy
