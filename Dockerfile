# syntax=docker/dockerfile:1
#
# cmop: one fully static binary for its three roles (serve, operate, trigger)
# on a distroless base that holds nothing else but CA certificates, tzdata and
# /etc/passwd.
#
#   docker build -t ghcr.io/cmop/cmop:0.1.0 .
#   docker run --rm --read-only --tmpfs /tmp -v cmop-state:/var/lib/cmop \
#     -p 8081:8081 ghcr.io/cmop/cmop:0.1.0 serve --listen 0.0.0.0:8081
#
# The image is made for a read-only root file system: the only places cmop
# writes to are the state dir (CMOP_STATE_DIR, /var/lib/cmop/state, on the
# /var/lib/cmop volume) and TMPDIR (/tmp, mount a tmpfs or an emptyDir there).

ARG BUILDER_IMAGE=debian:12
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

# --- builder -----------------------------------------------------------------
FROM ${BUILDER_IMAGE} AS builder

# Debian's libgit2.a is built with GSSAPI (Kerberos), which cannot be linked
# statically, so libgit2 is built from its release tarball with GSSAPI off,
# HTTPS through OpenSSL and SSH through libssh2 (both static from Debian).
ARG LIBGIT2_VERSION=1.5.2
ARG LIBGIT2_SHA256=57638ac0e319078f56a7e17570be754515e5b1276d3750904b4214c92e8fa196

SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive

# The project's own dependency list (compiler, cmake, ninja, Boost, yaml-cpp,
# OpenSSL, libssh2, zlib, curl, ...). Its libgit2-dev is removed again so that
# neither its headers nor its libgit2.a can be picked up instead of ours.
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh \
 && apt-get purge -y libgit2-dev \
 && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh

RUN curl -fsSL --retry 3 -o /tmp/libgit2.tar.gz \
      "https://github.com/libgit2/libgit2/archive/refs/tags/v${LIBGIT2_VERSION}.tar.gz" \
 && echo "${LIBGIT2_SHA256}  /tmp/libgit2.tar.gz" | sha256sum --check --strict - \
 && mkdir /tmp/libgit2 \
 && tar -xzf /tmp/libgit2.tar.gz -C /tmp/libgit2 --strip-components=1 \
 && cmake -S /tmp/libgit2 -B /tmp/libgit2/build -G Ninja \
      -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_INSTALL_PREFIX=/usr/local \
      -DCMAKE_INSTALL_LIBDIR=lib \
      -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
      -DBUILD_SHARED_LIBS=OFF \
      -DBUILD_TESTS=OFF \
      -DBUILD_CLI=OFF \
      -DBUILD_EXAMPLES=OFF \
      -DBUILD_FUZZERS=OFF \
      -DUSE_GSSAPI=OFF \
      -DUSE_NTLMCLIENT=OFF \
      -DUSE_HTTPS=OpenSSL \
      -DUSE_SSH=ON \
      -DUSE_BUNDLED_ZLIB=OFF \
      -DREGEX_BACKEND=builtin \
 && ninja -C /tmp/libgit2/build install \
 && rm -rf /tmp/libgit2 /tmp/libgit2.tar.gz \
 && pkg-config --static --libs libgit2

WORKDIR /src
COPY . /src

# FindOpenSSL and FindZLIB must pick the .a archives from the start (the
# default is the .so, which a -static link refuses); -L/usr/local/lib puts our
# libgit2.a ahead of any other on the linker's path.
RUN --mount=type=cache,target=/root/.cache/ccache \
    cmake -S /src -B /build -G Ninja \
      -DCMAKE_BUILD_TYPE=Release \
      -DCMOP_STATIC=ON \
      -DCMOP_BUILD_TESTS=OFF \
      -DOPENSSL_USE_STATIC_LIBS=TRUE \
      -DZLIB_USE_STATIC_LIBS=ON \
      -DCMAKE_EXE_LINKER_FLAGS="-L/usr/local/lib" \
 && ninja -C /build cmop \
 && strip --strip-unneeded /build/cmop \
 && if ldd /build/cmop >/dev/null 2>&1; then \
      echo "cmop is dynamically linked; the distroless static image cannot run it" >&2; exit 1; \
    fi \
 && /build/cmop --version

# The final image's tree: the binary at /cmop (the entrypoint) and reachable as
# plain `cmop` on PATH, which is how the operator's CronJobs invoke it; the
# state volume's mount point (owned by the nonroot user when copied below).
RUN mkdir -p /out/usr/local/bin /out/var/lib/cmop \
 && cp /build/cmop /out/cmop \
 && ln -s /cmop /out/usr/local/bin/cmop \
 && cp /src/LICENSE /out/LICENSE.cmop \
 && chmod 0700 /out/var/lib/cmop

# --- runtime -----------------------------------------------------------------
FROM ${RUNTIME_IMAGE}

LABEL org.opencontainers.image.title="cmop" \
      org.opencontainers.image.description="Turns git repositories of Helm charts into a served chart repository: ChartMuseum sidecar, Kubernetes operator and CronJob trigger in one static binary" \
      org.opencontainers.image.licenses="Apache-2.0"

# Copying a directory's contents keeps the symlink as a symlink.
COPY --from=builder /out/cmop /out/LICENSE.cmop /
COPY --from=builder /out/usr/local/bin/ /usr/local/bin/
COPY --from=builder --chown=65532:65532 /out/var/lib/cmop/ /var/lib/cmop/

# Name resolution needs no shared library: since glibc 2.34 the files and dns
# NSS modules are part of libc.a itself.
# OpenSSL was built for Debian's /usr/lib/ssl, which distroless lacks: point it
# at the bundle the base image ships.
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_DIR=/etc/ssl/certs \
    TMPDIR=/tmp \
    CMOP_STATE_DIR=/var/lib/cmop/state

# Clones, dependency caches and the ownership ledger: keep them on a volume.
VOLUME ["/var/lib/cmop"]

# 8081: cmop serve API; 8082: cmop operate /healthz and /metrics.
EXPOSE 8081 8082

USER 65532:65532
ENTRYPOINT ["/cmop"]
CMD ["--help"]
