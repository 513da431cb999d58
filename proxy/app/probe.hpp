#pragma once
// `trproxy probe URL`: a health check that needs no shell or curl in the image. One GET to the
// admin endpoint (plain HTTP) under a deadline; exit 0 on a 200, otherwise 1 with a one-line
// reason on stderr (the status the endpoint gave, or why none came).

#include <chrono>
#include <string>

namespace trproxy::proxy {

// `url` starts with http:// (the command line checked it).
int run_probe(const std::string& url, std::chrono::seconds timeout);

}  // namespace trproxy::proxy
