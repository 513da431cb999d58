// The dialer reaching up into its worker: refused.
#include "proxy/upstream/dialer.hpp"
#include "proxy/worker/worker.hpp"
