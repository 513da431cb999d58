#pragma once
// Realistic sign-in request heads for the micro-benchmarks.

#include <string>

namespace trproxy::bench {

// A browser GET of the authorize endpoint with the cookies Entra sets (~1.5 KB).
inline std::string browser_get() {
  std::string head =
      "GET /common/oauth2/v2.0/authorize?client_id=4765445b-32c6-49b0-83e6-1d93765276ca&redirect_uri=https%3A%2F%2F"
      "www.office.com%2Flandingv2&response_type=code%20id_token&scope=openid%20profile&response_mode=form_post&"
      "nonce=638372&state=DwcZ HTTP/1.1\r\n";
  head +=
      "Host: login.microsoftonline.com\r\n"
      "Connection: keep-alive\r\n"
      "sec-ch-ua: \"Chromium\";v=\"156\", \"Not(A:Brand\";v=\"24\"\r\n"
      "sec-ch-ua-mobile: ?0\r\n"
      "sec-ch-ua-platform: \"Windows\"\r\n"
      "Upgrade-Insecure-Requests: 1\r\n"
      "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/156.0.0.0 Safari/537.36\r\n"
      "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
      "Sec-Fetch-Site: cross-site\r\n"
      "Sec-Fetch-Mode: navigate\r\n"
      "Sec-Fetch-Dest: document\r\n"
      "Referer: https://www.office.com/\r\n"
      "Accept-Encoding: gzip, deflate, br\r\n"
      "Accept-Language: en-US,en;q=0.9\r\n"
      "Cookie: buid=0.AQsAzzXQ8c2iZEeTfs7LxUJ8V0ZXBn; esctx=PAQABAAEAAAAmoFfGtYxvRrNriQdPKIZ-hVZQ2Pvh3FcnRhcXaD"
      "xNQLxOcTRp; fpc=AqB-WnzmhGVCh4sfl3O3W2E; x-ms-gateway-slice=estsfd; stsservicecookie=estsfd; "
      "ESTSAUTHPERSISTENT=0.AQsAzzXQ8c2iZEeTfs7LxUJ8V0ZXBnHGMrBJg-YdkzZSdsoLAAA.AgABFwQAAABVrSpeuWamRam2jAF1XR"
      "QEAwDs_wUA9P8; ESTSAUTH=0.AQsAzzXQ8c2iZEeTfs7LxUJ8V0ZXBnHGMrBJg-YdkzZSdsoLAAA; CCState=Q2dBQ0FBQUFBQUF\r\n"
      "sec-Restrict-Tenant-Access-Policy: 00000000-0000-0000-0000-000000000000:spoofed\r\n"
      "\r\n";
  return head;
}

// An OAuth token POST head from a native client (~600 B).
inline std::string token_post() {
  return "POST /organizations/oauth2/v2.0/token HTTP/1.1\r\n"
         "Host: login.microsoftonline.com\r\n"
         "User-Agent: Microsoft.Identity.Client/4.56 (MSAL.NetCore; Windows 10.0.22631)\r\n"
         "x-client-SKU: MSAL.NetCore\r\n"
         "x-client-Ver: 4.56.0.0\r\n"
         "x-client-OS: Windows 10 Enterprise\r\n"
         "x-ms-lib-capability: retry-after, h429\r\n"
         "x-client-current-telemetry: 5|1005,0,,,|0,1,1,,\r\n"
         "x-client-last-telemetry: 5|0|||0,1\r\n"
         "client-request-id: 5d2b7c1e-7a4b-4c5e-9b8f-1c2d3e4f5a6b\r\n"
         "return-client-request-id: true\r\n"
         "x-app-name: Outlook\r\n"
         "x-app-ver: 16.0.17126.20132\r\n"
         "Accept: application/json\r\n"
         "Content-Type: application/x-www-form-urlencoded\r\n"
         "Content-Length: 1283\r\n"
         "Expect: 100-continue\r\n"
         "\r\n";
}

}  // namespace trproxy::bench
