# trproxy container: built on Debian 12 with the project's own package list and build script,
# run as a non-root user with the config and the CA mounted (never baked in). docs/deployment.md, "Container".
#
# The base is pinned by digest (debian:bookworm-slim, the multi-arch index as of 2026-07). To
# move it: `docker buildx imagetools inspect debian:bookworm-slim` (or `skopeo inspect`) gives the
# current digest. Where no registry can be reached, build on a local image instead:
# `--build-arg BASE_IMAGE=debian:bookworm-slim` (tests/container does, from debootstrap).
ARG BASE_IMAGE=debian:bookworm-slim@sha256:7b140f374b289a7c2befc338f42ebe6441b7ea838a042bbd5acbfca6ec875818

FROM ${BASE_IMAGE} AS build
WORKDIR /src
# Packages first: this layer is rebuilt only when the package list or the script changes.
COPY packages.txt /src/
COPY scripts/setup.sh /src/scripts/
RUN ./scripts/setup.sh build && rm -rf /var/lib/apt/lists/*
COPY . /src
# The compiler cache lives in a build cache mount, so a rebuild after a source change
# recompiles only what changed (the layer above it is rebuilt whole). Release, not build.sh's
# RelWithDebInfo: the binary is stripped, and debug info is about 40% of the compile time.
# This stage's one product is /out/trproxy. A binary built elsewhere for Debian 12 replaces the
# whole stage, which is then skipped: `--build-context build=DIR` with DIR/out/trproxy (the test
# suite passes the one from its Debian package, so the image's runtime stage is what it tests).
RUN --mount=type=cache,id=trproxy-ccache,target=/root/.cache/ccache \
    TRPROXY_SETUP=build TRPROXY_BUILD_DIR=/src/build ./scripts/build.sh -DCMAKE_BUILD_TYPE=Release \
      -DTRPROXY_TESTS=OFF -DTRPROXY_BENCH=OFF \
 && install -D --strip build/trproxy /out/trproxy

FROM ${BASE_IMAGE}
ARG BASE_IMAGE
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="trproxy" \
      org.opencontainers.image.description="Forward proxy enforcing Microsoft Entra tenant restrictions: intercepts only the sign-in hosts, tunnels everything else" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.documentation="docs/deployment.md, section Container" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
# Runtime libraries only (packages.txt [runtime]: what the binary links, and the CA bundle for
# upstream verification), installed by the same script from the same list.
COPY packages.txt /tmp/setup/
COPY scripts/setup.sh /tmp/setup/scripts/
RUN /tmp/setup/scripts/setup.sh runtime \
 && rm -rf /var/lib/apt/lists/* /tmp/setup \
 && groupadd --system --gid 10001 trproxy \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin trproxy
COPY --from=build /out/trproxy /usr/local/bin/trproxy
# Mount the config folder (deploy/container/trproxy.yaml) read-only at /etc/trproxy/config and
# the CA (ca.crt, and ca.key readable by group 10001: `trproxy ca init --group 10001`) at
# /etc/trproxy/ca.
USER 10001:10001
EXPOSE 3128 9090
# The binary checks its own health (`trproxy probe`): no shell or curl needed in the image.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["/usr/local/bin/trproxy", "probe", "http://127.0.0.1:9090/healthz", "--timeout", "2"]
ENTRYPOINT ["/usr/local/bin/trproxy"]
CMD ["--config", "/etc/trproxy/config/trproxy.yaml"]
