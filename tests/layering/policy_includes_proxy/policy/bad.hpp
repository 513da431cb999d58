#pragma once
// A pure layer including the engine: refused.
#include "proxy/transport/io.hpp"
