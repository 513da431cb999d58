#pragma once
// The target tenant of a sign-in request (DESIGN.md, "Sign-in outcomes"): the first path
// segment of a request to an auth host, when it names a tenant.

#include <string>
#include <string_view>

namespace trproxy::policy {

// `target` is the request target as sent: origin-form ("/contoso.com/oauth2/...?..") or
// absolute-form ("https://host/path"). Returns the first path segment lower-cased when it is a
// GUID, a domain name, `common`, `organizations` or `consumers`; otherwise "". A domain name
// has at least two labels and a last label with a letter that is not a web file extension, so
// `/favicon.ico` or `/login.srf` are not tenants.
std::string target_tenant(std::string_view target);

}  // namespace trproxy::policy
