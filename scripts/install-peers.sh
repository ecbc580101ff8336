#!/bin/sh
# install-peers.sh: sets up ONNX Runtime for `make bench-peers` in DIR:
# - DIR/node_modules/onnxruntime-node: the npm package onnxruntime-node
#   1.30.0 (CPU execution provider), installed with
#   ONNXRUNTIME_NODE_INSTALL=skip so its post-install step downloads no GPU
#   files; skipped when that version is already there;
# - DIR/onnx/*.onnx: the inference rows of bench_models exported from the
#   same torchvision models PyTorch runs (scripts/bench-models-torch.py
#   --export-onnx, Debian's /usr/bin/python3 with python3-torch), skipping
#   files already there.
# Node.js and npm come from scripts/install-deps.sh --peers, python3-torch
# from --torch.
# Usage: scripts/install-peers.sh DIR BENCH_MODELS
set -eu

[ $# -eq 2 ] || { echo "usage: scripts/install-peers.sh DIR BENCH_MODELS" >&2; exit 2; }
dir=$1
bench=$2
version=1.30.0

mkdir -p "$dir"
pkg="$dir/node_modules/onnxruntime-node/package.json"
if ! grep -q "\"version\": \"$version\"" "$pkg" 2>/dev/null; then
    echo "install-peers: npm install onnxruntime-node@$version into $dir"
    ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$dir" --no-audit --no-fund \
        --no-save "onnxruntime-node@$version"
fi
/usr/bin/python3 "$(dirname "$0")/bench-models-torch.py" --bench "$bench" --export-onnx "$dir/onnx"
