# trproxy container: build on Debian 12 with the project's own package list and build script,
# run as a non-root user with the config and CA mounted (never baked in).
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY packages.txt scripts/setup.sh /src/
RUN mkdir -p scripts && mv setup.sh scripts/ && ./scripts/setup.sh build && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN TRPROXY_SETUP=build TRPROXY_BUILD_DIR=/src/build ./scripts/build.sh -DTRPROXY_TESTS=OFF -DTRPROXY_BENCH=OFF \
 && strip build/trproxy

FROM debian:bookworm-slim
# Runtime libraries only: yaml-cpp, spdlog/fmt, OpenSSL, the CA bundle for upstream verification.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libyaml-cpp0.7 libspdlog1.10 libfmt9 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin trproxy
COPY --from=build /src/build/trproxy /usr/local/bin/trproxy
USER 10001:10001
# Mount the config at /etc/trproxy/trproxy.yaml and the CA (ca.crt, ca.key) as a secret.
EXPOSE 3128 9090
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["/usr/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9090 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q '200' <&3"]
ENTRYPOINT ["/usr/local/bin/trproxy"]
CMD ["--config", "/etc/trproxy/trproxy.yaml"]
