#!/bin/sh
# install-deps.sh: installs the Debian packages gos needs when any is missing:
# with apt-get when run as root, otherwise it prints the exact command to run.
# Usage: scripts/install-deps.sh [--torch]   (--torch adds python3-torch,
# python3-torchvision and python3-h5py, needed only to regenerate test
# fixtures, for torch benches and for make check-torch)
set -eu

PACKAGES="build-essential pkg-config libconfig-dev libhdf5-dev hdf5-tools libopenblas-dev libopenblas-openmp-dev libgsl-dev zlib1g-dev dataset-fashion-mnist"
if [ "${1:-}" = "--torch" ]; then
    PACKAGES="$PACKAGES python3-torch python3-torchvision python3-h5py"
fi

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    echo "install-deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq $missing
else
    echo "install-deps: missing Debian packages:$missing" >&2
    echo "install-deps: run: sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
