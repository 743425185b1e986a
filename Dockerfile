# syntax=docker/dockerfile:1
#
# cmop: one fully static binary for its three roles (serve, operate, trigger) in
# an image that holds nothing else but CA certificates, zoneinfo, /etc/passwd and
# /etc/group (nonroot 65532), /etc/nsswitch.conf and the state volume's mount point.
#
# Built from Debian's packages only (the build stage installs them, and libgit2 is
# built from Debian's source package by scripts/libgit2.sh), so it builds on any
# connected builder:
#   docker build -t ghcr.io/cmop/cmop:0.1.0 .
#   podman build -t ghcr.io/cmop/cmop:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t ghcr.io/cmop/cmop:0.1.0 .
# and offline with scripts/image.sh (which makes the Debian base with debootstrap
# when it cannot be pulled). Run:
#   docker run --rm --read-only --tmpfs /tmp -v cmop-state:/var/lib/cmop \
#     -p 8081:8081 ghcr.io/cmop/cmop:0.1.0 serve --listen 0.0.0.0:8081
#
# Read-only root file system: cmop writes only to its state dir (CMOP_STATE_DIR,
# /var/lib/cmop/state on the /var/lib/cmop volume) and to TMPDIR (/tmp: mount a
# tmpfs or an emptyDir there).

# The build stage's Debian (bookworm); scripts/image.sh passes a local one.
ARG BASE_IMAGE=docker.io/library/debian:bookworm
# The runtime stage's base: nothing at all by default.
ARG RUNTIME_IMAGE=scratch

# --- build -------------------------------------------------------------------
FROM ${BASE_IMAGE} AS build
# RUN lines are plain sh (podman's OCI image format ignores SHELL).
ENV DEBIAN_FRONTEND=noninteractive

# The project's own dependency list (its build part), plus tzdata for the runtime's zoneinfo.
COPY scripts/install-deps.sh scripts/libgit2.sh scripts/debian-mirror.sh /cmop/scripts/
RUN bash /cmop/scripts/install-deps.sh --build \
 && apt-get install -y -qq --no-install-recommends tzdata >/dev/null \
 && rm -rf /var/lib/apt/lists/*

# The same static libgit2 as every other cmop build (Debian's source package:
# the script adds its deb-src entry to a private apt state of its own).
RUN bash /cmop/scripts/libgit2.sh >/libgit2-prefix

COPY CMakeLists.txt LICENSE /cmop/
COPY include/ /cmop/include/
COPY src/ /cmop/src/

# The static binary as scripts/test.sh builds and tests it (same build type, same
# build-static dir beside the sources), stripped. ccache lives on a cache mount, so
# a rebuild compiles only what changed; CCACHE_DIR may name another cache instead
# (scripts/image.sh mounts the host's, where the tests' static build just put the
# very same compilations: the layout and flags here are chosen to match it).
# (ccache hashes the locale too: scripts/build.sh compiles with LANG=C.UTF-8.)
ARG CCACHE_DIR=/root/.cache/ccache
ENV CCACHE_BASEDIR=/cmop CCACHE_NOHASHDIR=1 LANG=C.UTF-8
RUN --mount=type=cache,id=cmop-ccache,target=/root/.cache/ccache \
    CCACHE_DIR="$CCACHE_DIR" cmake -S /cmop -B /cmop/build-static -G Ninja \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMOP_STATIC=ON \
      -DCMOP_BUILD_TESTS=OFF \
      -DCMOP_LIBGIT2_PREFIX="$(cat /libgit2-prefix)" >/dev/null \
 && CCACHE_DIR="$CCACHE_DIR" ninja -C /cmop/build-static cmop \
 && strip --strip-unneeded /cmop/build-static/cmop \
 && if ldd /cmop/build-static/cmop >/dev/null 2>&1; then \
      echo "cmop is dynamically linked; the scratch image cannot run it" >&2; exit 1; \
    fi \
 && /cmop/build-static/cmop --version

# The runtime's whole tree. glibc's static libc resolves /etc/hosts and DNS and
# reads /etc/passwd itself (its files and dns NSS modules are built in); the
# nsswitch.conf says exactly that. cmop finds the CA bundle at the usual
# /etc/ssl/certs/ca-certificates.crt (SSL_CERT_FILE or SSL_CERT_DIR override it).
RUN mkdir -p /out/etc/ssl/certs /out/usr/share /out/usr/local/bin /out/var/lib/cmop /out/tmp \
 && cp /cmop/build-static/cmop /out/cmop \
 && ln -s /cmop /out/usr/local/bin/cmop \
 && cp /cmop/LICENSE /out/LICENSE.cmop \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ \
 && cp -a /usr/share/zoneinfo /out/usr/share/ \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >/out/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' >/out/etc/group \
 && printf 'passwd: files\ngroup: files\nhosts: files dns\n' >/out/etc/nsswitch.conf \
 && chmod 1777 /out/tmp \
 && chown 65532:65532 /out/var/lib/cmop \
 && chmod 0700 /out/var/lib/cmop

# --- runtime -----------------------------------------------------------------
FROM ${RUNTIME_IMAGE}
ARG RUNTIME_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="cmop" \
      org.opencontainers.image.description="Turns git repositories of Helm charts into a served chart repository: ChartMuseum sidecar, Kubernetes operator and CronJob trigger in one static binary" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"

# Copied from a stage, files keep their owners: root's, but the state volume's
# mount point is the nonroot user's (a new volume takes its owner and mode).
COPY --from=build /out/ /

# PATH: the operator's CronJobs run `cmop trigger NAME` by name.
ENV PATH=/usr/local/bin \
    TMPDIR=/tmp \
    CMOP_STATE_DIR=/var/lib/cmop/state

# Clones, dependency caches and the ownership ledger: keep them on a volume.
VOLUME ["/var/lib/cmop"]

# 8081: cmop serve API; 8082: cmop operate /healthz and /metrics.
EXPOSE 8081 8082

USER 65532:65532
ENTRYPOINT ["/cmop"]
CMD ["--help"]
