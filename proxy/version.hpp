#pragma once

namespace trproxy::proxy {
inline constexpr const char* version = TRPROXY_VERSION;
}
