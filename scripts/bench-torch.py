#!/usr/bin/python3
"""bench-torch.py: times the convolution layers of bench/bench_conv.c in PyTorch.

For each layer: torch.nn.functional.conv2d forward (under no_grad) and the
backward alone via autograd (torch.autograd.grad of a retained graph for the
input and the weight, i.e. dinp + dweight), NCHW float32, no bias, on the
given thread count. Prints GFLOP/s with bench_conv's conventions: FLOPs =
2*MACs, forward MACs = N*OC*OH*OW*(C/groups)*KH*KW, backward = 2x forward.
Timing as bench_conv: forward and backward interleaved, 2 warm-up rounds, then
every call timed (time.perf_counter) until the budget per op or 200 rounds;
the median call. Python's per-call overhead (some microseconds) is included,
which matters only for the smallest layers.

The layer list comes from bench_conv (one source of truth for names and
shapes): tab-separated lines "name N C H W OC KH KW SH SW PH PW groups".

  /usr/bin/python3 scripts/bench-torch.py [--threads N] [--time S] [--filter SUBSTR]
                                          [--layers FILE|-] [--bench PATH] [--serve]

Without --layers it runs `build/bench/bench_conv --list` and prints a table.
--serve is the co-process mode bench_conv uses: one '#' info line, then for
every layer line read on stdin one line "name<TAB>fwd GFLOP/s<TAB>bwd GFLOP/s
<TAB>CPU seconds used" (bench_conv subtracts the CPU time from the machine's
to tell how loaded the machine was by others).
Needs torch (the system /usr/bin/python3 has it).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

MAX_REPS = 200
MIN_REPS = 3
WARMUP_CALLS = 2


KEYS = ("N", "C", "H", "W", "OC", "KH", "KW", "SH", "SW", "PH", "PW", "groups")


def parse_layer(line):
    """A layer dict from one tab-separated line, None for comments/blanks."""
    line = line.rstrip("\n")
    if not line.strip() or line.startswith("#"):
        return None
    fields = line.split("\t")
    if len(fields) != 13:
        raise ValueError(f"bad layer line (want 13 tab-separated fields): {line!r}")
    layer = dict(zip(KEYS, (int(v) for v in fields[1:13])))
    layer["name"] = fields[0]
    return layer


def read_layers(args):
    if args.layers == "-":
        text = sys.stdin.read()
    elif args.layers:
        with open(args.layers) as f:
            text = f.read()
    else:
        text = subprocess.run([args.bench, "--list"], check=True, capture_output=True,
                              text=True).stdout
    layers = [L for L in map(parse_layer, text.splitlines()) if L]
    return [L for L in layers if not args.filter or args.filter in L["name"]]


def time_interleaved(fns, budget):
    """Median seconds of one call of each fn, interleaved round by round."""
    for _ in range(WARMUP_CALLS):
        for fn in fns:
            fn()
    samples = [[] for _ in fns]
    start = end = time.perf_counter()
    while True:
        for fn, times in zip(fns, samples):
            t0 = time.perf_counter()
            fn()
            end = time.perf_counter()
            times.append(end - t0)
        rounds = len(samples[0])
        if rounds >= MAX_REPS or (rounds >= MIN_REPS and end - start >= budget * len(fns)):
            return [statistics.median(times) for times in samples]


def bench_layer(L, budget):
    """Returns (forward GFLOP/s, backward GFLOP/s) of one layer."""
    stride, padding, groups = (L["SH"], L["SW"]), (L["PH"], L["PW"]), L["groups"]
    x = torch.rand(L["N"], L["C"], L["H"], L["W"]) * 2 - 1
    w = torch.rand(L["OC"], L["C"] // groups, L["KH"], L["KW"]) * 2 - 1

    xg = x.clone().requires_grad_(True)
    wg = w.clone().requires_grad_(True)
    out = F.conv2d(xg, wg, None, stride, padding, 1, groups)
    grad_out = torch.rand_like(out) * 2 - 1

    def forward():
        with torch.no_grad():
            return F.conv2d(x, w, None, stride, padding, 1, groups)

    def backward():
        return torch.autograd.grad(out, (xg, wg), grad_out, retain_graph=True)

    fwd_s, bwd_s = time_interleaved((forward, backward), budget)
    N, OC, OH, OW = out.shape
    flops = 2.0 * N * OC * OH * OW * (L["C"] // groups) * L["KH"] * L["KW"]
    return flops / fwd_s / 1e9, 2.0 * flops / bwd_s / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=0, help="0: all cores")
    parser.add_argument("--time", type=float, default=0.2,
                        help="seconds per op (forward, backward) per layer")
    parser.add_argument("--filter", default=None, help="only layers whose name contains this")
    parser.add_argument("--layers", default=None, help="layer list file, '-' for stdin")
    parser.add_argument("--bench", default="build/bench/bench_conv",
                        help="bench_conv binary giving the layer list")
    parser.add_argument("--serve", action="store_true",
                        help="co-process mode for bench_conv (layer lines on stdin)")
    args = parser.parse_args()

    threads = args.threads if args.threads > 0 else (os.cpu_count() or 1)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    info = (f"torch {torch.__version__} threads={torch.get_num_threads()} "
            f"mkldnn={torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled}")

    if args.serve:
        print("# " + info, flush=True)
        while True:
            line = sys.stdin.readline()
            if not line:
                return
            L = parse_layer(line)
            if L:
                cpu = time.process_time()
                fwd, bwd = bench_layer(L, args.time)
                cpu = time.process_time() - cpu
                print(f"{L['name']}\t{fwd:.3f}\t{bwd:.3f}\t{cpu:.4f}", flush=True)

    layers = read_layers(args)
    print(f"bench-torch: {info} date={time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print("FLOPs = 2*MACs, backward = dinp + dweight = 2x forward; median of timed calls")
    print(f"{'layer':<54} {'N':>3} {'fwdGF/s':>8} {'bwdGF/s':>8}", flush=True)
    for L in layers:
        fwd, bwd = bench_layer(L, args.time)
        print(f"{L['name']:<54} {L['N']:>3} {fwd:8.1f} {bwd:8.1f}", flush=True)


if __name__ == "__main__":
    main()
