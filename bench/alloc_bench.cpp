// Allocations per keep-alive intercepted request in the steady state, through the real engine:
// trproxy's server runs in this process (one worker), a blocking OpenSSL client sends keep-alive
// requests through a CONNECT to the sign-in host, and an in-process TLS upstream answers them.
// operator new/delete are replaced in this binary only and count the allocations made on every
// thread except the client's and the upstream's (i.e. the proxy's); Asio's coroutine frames
// (std::aligned_alloc) and OpenSSL's own mallocs (CRYPTO_set_mem_functions) are counted apart. The upstream also counts
// the TLS records each request head arrived in (OpenSSL returns at most one record per SSL_read).
//
// Usage: alloc_bench [requests]   (loopback only)

#include "config/loader.hpp"
#include "proxy/server/server.hpp"
#include "proxy/worker/runtime.hpp"
#include "tls/ca.hpp"
#include "tls/leaf.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <execinfo.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <string>
#include <thread>

namespace {

std::atomic<std::uint64_t> cxx_allocations{0};
std::atomic<std::uint64_t> cxx_bytes{0};
std::atomic<std::uint64_t> openssl_allocations{0};
std::atomic<std::uint64_t> frame_allocations{0};
thread_local bool not_the_proxy = false;  // set on the client and upstream threads
std::atomic<int> traces_left{0};          // ALLOC_BENCH_TRACE=N: print where the first N steady allocations come from

void trace(const char* kind) {
  if (traces_left.load(std::memory_order_relaxed) <= 0 || traces_left.fetch_sub(1) <= 0) return;
  void* frames[24];
  const int depth = backtrace(frames, 24);
  std::fprintf(stderr, "--- %s\n", kind);
  backtrace_symbols_fd(frames, depth, 2);
}

void* counted(std::size_t size) {
  if (!not_the_proxy) {
    cxx_allocations.fetch_add(1, std::memory_order_relaxed);
    cxx_bytes.fetch_add(size, std::memory_order_relaxed);
    trace("operator new");
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

void* counted_aligned(std::size_t size, std::align_val_t align) {
  if (!not_the_proxy) cxx_allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = nullptr;
  if (posix_memalign(&p, std::max(sizeof(void*), static_cast<std::size_t>(align)), size == 0 ? 1 : size) == 0) return p;
  throw std::bad_alloc();
}

void* openssl_malloc(std::size_t size, const char*, int) {
  if (!not_the_proxy) openssl_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size);
}
void* openssl_realloc(void* p, std::size_t size, const char*, int) {
  if (!not_the_proxy) openssl_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::realloc(p, size);
}
void openssl_free(void* p, const char*, int) {
  std::free(p);
}

}  // namespace

// Asio allocates coroutine frames (and handler memory its per-thread cache cannot reuse: blocks
// over about 1 KiB, or more than two at a time) with std::aligned_alloc, not operator new.
extern "C" void* aligned_alloc(std::size_t align, std::size_t size) noexcept {
  if (!not_the_proxy) {
    frame_allocations.fetch_add(1, std::memory_order_relaxed);
    trace("aligned_alloc");
  }
  void* p = nullptr;
  return posix_memalign(&p, std::max(sizeof(void*), align), size == 0 ? 1 : size) == 0 ? p : nullptr;
}

void* operator new(std::size_t size) {
  return counted(size);
}
void* operator new[](std::size_t size) {
  return counted(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void* operator new(std::size_t size, std::align_val_t align) {
  return counted_aligned(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return counted_aligned(size, align);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

namespace {

using namespace trproxy;
constexpr const char* host = "login.microsoftonline.com";
constexpr std::string_view response = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n";

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "alloc_bench: %s\n", what.c_str());
  ERR_print_errors_fp(stderr);
  std::_Exit(1);
}

int listen_loopback(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), length) != 0 || ::listen(fd, 16) != 0) die("listen");
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  port = ntohs(addr.sin_port);
  return fd;
}

int connect_loopback(std::uint16_t port) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  die("connect to the proxy");
}

// The upstream: one TLS connection at a time, answers every request head with `response`.
std::atomic<std::uint64_t> heads_seen{0};
std::atomic<std::uint64_t> head_records{0};

void serve_upstream(int listener, SSL_CTX* ctx) {
  not_the_proxy = true;
  for (;;) {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      std::string pending;
      char chunk[16384];
      std::uint64_t records = 0;
      for (;;) {
        const int n = SSL_read(ssl, chunk, sizeof chunk);
        if (n <= 0) break;
        ++records;
        pending.append(chunk, static_cast<std::size_t>(n));
        std::size_t end;
        while ((end = pending.find("\r\n\r\n")) != std::string::npos) {
          pending.erase(0, end + 4);
          heads_seen.fetch_add(1);
          head_records.fetch_add(records);
          records = 0;
          SSL_write(ssl, response.data(), static_cast<int>(response.size()));
        }
      }
    }
    SSL_free(ssl);
    ::close(fd);
  }
}

struct Client {
  int fd = -1;
  SSL* ssl = nullptr;
  std::string request;
  char buffer[16384];

  Client(std::uint16_t proxy_port, const std::filesystem::path& ca_file) {
    fd = connect_loopback(proxy_port);
    const std::string connect = std::string("CONNECT ") + host + ":443 HTTP/1.1\r\nHost: " + host + ":443\r\n\r\n";
    ::send(fd, connect.data(), connect.size(), 0);
    std::string head;
    char c;
    while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) head += c;
    if (head.find(" 200 ") == std::string::npos) die("CONNECT refused: " + head);
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);
    SSL_set_tlsext_host_name(ssl, host);
    SSL_set1_host(ssl, host);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) die("client handshake");
    // A browser-like head: the proxy strips the client's tenant-restriction field and inserts its own.
    request = std::string("GET /common/oauth2/v2.0/authorize?client_id=x HTTP/1.1\r\nHost: ") + host +
              "\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36\r\n"
              "Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.9\r\n"
              "Accept-Encoding: gzip, deflate, br\r\nSec-Restrict-Tenant-Access-Policy: spoofed\r\n"
              "Cookie: a=b\r\n\r\n";
  }

  void exchange() {
    if (SSL_write(ssl, request.data(), static_cast<int>(request.size())) <= 0) die("client write");
    std::size_t got = 0;
    while (got < response.size()) {
      const int n = SSL_read(ssl, buffer, sizeof buffer);
      if (n <= 0) die("client read");
      got += static_cast<std::size_t>(n);
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  CRYPTO_set_mem_functions(openssl_malloc, openssl_realloc, openssl_free);
  std::signal(SIGPIPE, SIG_IGN);
  const long requests = argc > 1 ? std::atol(argv[1]) : 20000;
  spdlog::set_level(spdlog::level::warn);
  const auto dir = std::filesystem::temp_directory_path() / ("trproxy-alloc-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  // The interception CA, and an upstream root with a leaf for the sign-in host.
  tls::CertificateAuthority::create(dir / "ca", tls::CaOptions{});
  tls::CertificateAuthority::create(dir / "upstream-root", tls::CaOptions{});
  const auto root = tls::CertificateAuthority::load(dir / "upstream-root" / "ca.crt", dir / "upstream-root" / "ca.key");
  const auto upstream_leaf = tls::mint_leaf(root, tls::generate_leaf_key(config::LeafKeyType::ec_p256),
                                            config::LeafKeyType::ec_p256, host, std::time(nullptr));
  SSL_CTX* upstream_ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(upstream_ctx, upstream_leaf->cert.get());
  SSL_CTX_use_PrivateKey(upstream_ctx, upstream_leaf->key.get());
  std::uint16_t upstream_port = 0;
  const int upstream_listener = listen_loopback(upstream_port);
  std::thread(serve_upstream, upstream_listener, upstream_ctx).detach();

  std::uint16_t proxy_port = 0;
  ::close(listen_loopback(proxy_port));  // a free port for the proxy
  const auto config_file = dir / "trproxy.yaml";
  {
    std::ofstream out(config_file);
    out << "listen: \"127.0.0.1:" << proxy_port << "\"\nthreads: 1\n"
        << "ca:\n  cert: " << (dir / "ca" / "ca.crt").string() << "\n  key: " << (dir / "ca" / "ca.key").string()
        << "\nupstream:\n  trust: " << (dir / "upstream-root" / "ca.crt").string() << "\n  resolve: {\"" << host
        << "\": \"127.0.0.1:" << upstream_port << "\"}\n"
        << "tenant_restrictions:\n  v2:\n    tenant_id: \"aaaabbbb-0000-cccc-1111-dddd2222eeee\"\n"
        << "    policy_id: \"1aaaaaa1-2bb2-3cc3-4dd4-5eeeeeeeeee5\"\n"
        << "log:\n  level: warn\n  access: \"" << (dir / "access.log").string() << "\"\n";
  }
  auto runtime = proxy::build_runtime(config::load_config_file(config_file), nullptr);
  std::thread([&config_file, runtime = std::move(runtime)]() mutable {
    proxy::run_server(config_file, std::move(runtime));
  }).detach();

  not_the_proxy = true;
  Client client(proxy_port, dir / "ca" / "ca.crt");
  const long warm_up = 2000;
  for (long i = 0; i < warm_up; ++i) client.exchange();
  const auto allocations_before = cxx_allocations.load();
  const auto bytes_before = cxx_bytes.load();
  const auto openssl_before = openssl_allocations.load();
  const auto frames_before = frame_allocations.load();
  if (const char* traces = std::getenv("ALLOC_BENCH_TRACE")) traces_left = std::atoi(traces);
  const auto heads_before = heads_seen.load();
  const auto records_before = head_records.load();
  for (long i = 0; i < requests; ++i) client.exchange();
  const double n = static_cast<double>(requests);
  std::printf("keep-alive intercepted requests: %ld (after %ld warm-up)\n", requests, warm_up);
  std::printf("C++ allocations per request (proxy threads): %.2f (%.0f bytes)\n",
              static_cast<double>(cxx_allocations.load() - allocations_before) / n,
              static_cast<double>(cxx_bytes.load() - bytes_before) / n);
  std::printf("Asio frame/handler allocations per request (aligned_alloc, proxy threads): %.2f\n",
              static_cast<double>(frame_allocations.load() - frames_before) / n);
  std::printf("OpenSSL allocations per request (proxy threads): %.2f\n",
              static_cast<double>(openssl_allocations.load() - openssl_before) / n);
  std::printf("TLS records per forwarded request head: %.2f\n",
              static_cast<double>(head_records.load() - records_before) /
                  static_cast<double>(heads_seen.load() - heads_before));
  std::fflush(stdout);
  std::filesystem::remove_all(dir);
  std::_Exit(0);
}
