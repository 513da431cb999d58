#pragma once
// A transport header reaching up into a session: refused.
#include "proxy/session/exchange.hpp"
