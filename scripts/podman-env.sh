# Sourced by scripts/image.sh and scripts/smoke-image.sh: makes podman usable here.
#
# Installs podman, buildah, runc and debootstrap from Debian when missing, and
# points podman at a containers.conf of our own (CONTAINERS_CONF, so the system's
# and other users' configuration stay untouched) that selects runc with the
# cgroupfs manager: on VMs with hybrid cgroups crun fails to set up the container
# cgroup, which runc handles. CMOP_OCI_RUNTIME overrides it.
# Exports PODMAN_ISOLATION for `podman build --isolation` (chroot by default:
# build steps then need no OCI runtime nor cgroup at all).
podman_packages=(podman buildah runc debootstrap uidmap)
podman_missing=()
for p in "${podman_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || podman_missing+=("$p")
done
if [ ${#podman_missing[@]} -gt 0 ]; then
  echo "podman-env: installing ${podman_missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${podman_missing[@]}" >&2
fi
CMOP_PODMAN_DIR=${CMOP_PODMAN_DIR:-/var/tmp/cmop-podman}
mkdir -p "$CMOP_PODMAN_DIR"
# podman, as root, raises a container's open-files and process limits to its own
# maxima (1048576, 4194304); where the runtime may not raise them (a sandboxed VM),
# it fails with "error setting rlimits". The containers get the open-files limit
# we have and no more processes than that (on this project's VMs nproc above
# about 20000 was refused although `ulimit -Hu` said 96365).
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
[ "$nofile" != unlimited ] || nofile=65536
{ [ "$nproc" != unlimited ] && [ "$nproc" -le "$nofile" ]; } || nproc=$nofile
cat >"$CMOP_PODMAN_DIR/containers.conf" <<CONF
# Written by cmop's scripts/podman-env.sh; used through CONTAINERS_CONF only.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "${CMOP_OCI_RUNTIME:-runc}"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF="$CMOP_PODMAN_DIR/containers.conf"
export PODMAN_ISOLATION=${CMOP_PODMAN_ISOLATION:-chroot}
# The project's image name: the chart's default operator.image is exactly this.
CMOP_IMAGE_REPOSITORY=${CMOP_IMAGE_REPOSITORY:-ghcr.io/cmop/cmop}
CMOP_VERSION=$(sed -n 's/^project(cmop VERSION \([0-9.]*\).*/\1/p' "$(dirname "${BASH_SOURCE[0]}")/../CMakeLists.txt")
CMOP_IMAGE=${CMOP_IMAGE:-$CMOP_IMAGE_REPOSITORY:$CMOP_VERSION}
