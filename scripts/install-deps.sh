#!/bin/sh
# install-deps.sh: installs the Debian packages gos needs when any is missing:
# with apt-get when run as root, otherwise it prints the exact command to run.
# Usage: scripts/install-deps.sh [--torch] [--cross] [--plots] [--peers]   (--torch adds
# python3-torch, python3-torchvision and python3-h5py, needed only to
# regenerate test fixtures, for torch benches and for make check-torch;
# --cross adds the aarch64 cross compiler, qemu-user and the arm64 runtime
# libraries of `make cross`, through Debian multiarch: it enables the arm64
# architecture in dpkg first; --plots adds gnuplot-nox, for the plots of
# `make tables`; --peers adds Node.js and npm, for the ONNX Runtime of
# `make bench-peers`, unless a node and an npm are already on PATH)
set -eu

PACKAGES="build-essential pkg-config libconfig-dev libhdf5-dev hdf5-tools libopenblas-dev libopenblas-openmp-dev libgsl-dev zlib1g-dev dataset-fashion-mnist"
cross=0
for arg in "$@"; do
    case "$arg" in
        --torch) PACKAGES="$PACKAGES python3-torch python3-torchvision python3-h5py" ;;
        # libhdf5-dev is not Multi-Arch: same, so only HDF5's arm64 runtime:
        # `make cross` compiles against the amd64 headers (both LP64).
        --cross) cross=1
                 PACKAGES="$PACKAGES gcc-aarch64-linux-gnu qemu-user libopenblas-openmp-dev:arm64 zlib1g-dev:arm64 libhdf5-103-1:arm64" ;;
        --plots) PACKAGES="$PACKAGES gnuplot-nox" ;;
        --peers) command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
                     PACKAGES="$PACKAGES nodejs npm" ;;
        *) echo "install-deps: unknown option $arg (use --torch, --cross, --plots, --peers)" >&2; exit 2 ;;
    esac
done

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

# The arm64 packages need the architecture enabled before apt-get update.
add_arch=""
if [ "$cross" = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    add_arch="dpkg --add-architecture arm64"
fi

if [ "$(id -u)" = 0 ]; then
    echo "install-deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    [ -n "$add_arch" ] && $add_arch
    apt-get update -qq
    apt-get install -y -qq $missing
else
    echo "install-deps: missing Debian packages:$missing" >&2
    echo "install-deps: run: ${add_arch:+sudo $add_arch && }sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
