#!/usr/bin/python3
"""make-fixtures.py: writes tests/data/fixtures.h5, reference tensors from
PyTorch that tests/test_torch_fixtures.c compares the project's kernels with.

Run from anywhere with Debian's python (it has python3-torch and python3-h5py):

    /usr/bin/python3 scripts/make-fixtures.py [output.h5]

Every case is one HDF5 group holding its inputs, parameters, output, a random
tensor R and the gradients of L = sum(out * R) (out.backward(R)) with respect
to every input and parameter. Hyperparameters and shapes are group attributes.

Inputs are drawn as float32 and stored as float32. The reference values are
computed in float64 from those exact float32 inputs, then rounded to float32,
so the fixtures carry (almost) no rounding error of their own: what a test
measures is the error of the kernel under test. Each case reseeds torch with
its own seed, so adding a case does not change the others.
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

GENERATOR = "scripts/make-fixtures.py 1"
FORMAT_VERSION = 1
BASE_SEED = 20240601
COMPUTE = torch.float64

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "tests", "data", "fixtures.h5")

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


class Case:
    """One group: collects datasets and attributes, written at the end."""

    def __init__(self, h5, name, seed):
        self.group = h5.create_group(name)
        self.group.attrs["seed"] = seed
        torch.manual_seed(seed)

    def attrs(self, **kw):
        for k, v in kw.items():
            self.group.attrs[k] = v

    def put(self, name, t):
        if isinstance(t, torch.Tensor):
            t = t.detach()
            a = t.numpy().astype(np.int32 if not t.is_floating_point() else np.float32)
        else:
            a = np.asarray(t)
        # Tiny datasets stay contiguous: a chunk index costs more than
        # compression can save on a few hundred random floats.
        if a.size >= 1024:
            self.group.create_dataset(name, data=a, compression="gzip", compression_opts=9,
                                      chunks=a.shape, shuffle=True)
        else:
            self.group.create_dataset(name, data=a)


def rand(*shape, lo=-1.0, hi=1.0):
    """Uniform float32 in [lo, hi), promoted to the compute type."""
    return (torch.rand(*shape, dtype=torch.float32) * (hi - lo) + lo).to(COMPUTE)


def randn(*shape, scale=1.0):
    return (torch.randn(*shape, dtype=torch.float32) * scale).to(COMPUTE)


def leaf(t):
    return t.clone().requires_grad_(True)


def upstream_gradient(out):
    """R with out's shape; out.backward(R) gives the gradients of sum(out*R)."""
    R = randn(*out.shape)
    out.backward(R)
    return R


# ---------------------------------------------------------------------------
# Convolution

CONV_CASES = [
    # name, N, C, H, W, OC, (kh,kw), (sh,sw), (ph,pw), groups, bias
    ("conv_3x3_s1_p1_bias", 2, 4, 8, 7, 6, (3, 3), (1, 1), (1, 1), 1, True),
    ("conv_3x3_s2_p0_nobias", 2, 3, 9, 8, 4, (3, 3), (2, 2), (0, 0), 1, False),
    ("conv_5x5_p2_g2", 2, 4, 7, 7, 6, (5, 5), (1, 1), (2, 2), 2, True),
    ("conv_dw_3x3_s2_p1", 2, 6, 9, 8, 6, (3, 3), (2, 2), (1, 1), 6, True),
    ("conv_1x1", 2, 5, 5, 6, 3, (1, 1), (1, 1), (0, 0), 1, True),
    ("conv_1x1_s2_nobias", 2, 4, 7, 6, 5, (1, 1), (2, 2), (0, 0), 1, False),
    ("conv_1x7_p0_3", 2, 3, 5, 9, 4, (1, 7), (1, 1), (0, 3), 1, True),
    ("conv_7x1_p3_0", 2, 3, 9, 5, 4, (7, 1), (1, 1), (3, 0), 1, True),
    ("conv_7x7_s2_p3", 2, 3, 9, 9, 4, (7, 7), (2, 2), (3, 3), 1, True),
]


def conv_case(h5, seed, name, N, C, H, W, OC, k, s, p, groups, has_bias):
    c = Case(h5, "conv/" + name, seed)
    x = leaf(randn(N, C, H, W))
    fan_in = (C // groups) * k[0] * k[1]
    w = leaf(randn(OC, C // groups, k[0], k[1], scale=fan_in ** -0.5))
    b = leaf(randn(OC, scale=0.5)) if has_bias else None
    out = F.conv2d(x, w, b, stride=s, padding=p, groups=groups)
    R = upstream_gradient(out)
    c.attrs(N=N, C=C, H=H, W=W, OC=OC, OH=out.shape[2], OW=out.shape[3],
            kh=k[0], kw=k[1], sh=s[0], sw=s[1], ph=p[0], pw=p[1], groups=groups,
            has_bias=int(has_bias))
    c.put("x", x)
    c.put("weight", w)
    c.put("out", out)
    c.put("R", R)
    c.put("dx", x.grad)
    c.put("dweight", w.grad)
    if has_bias:
        c.put("bias", b)
        c.put("dbias", b.grad)


# ---------------------------------------------------------------------------
# Batch normalization

EPS = 1e-5
MOMENTUM = 0.1


def bn_case(h5, seed, name, training):
    c = Case(h5, "bn/" + name, seed)
    N, C, H, W = 2, 3, 4, 5
    # Per-channel offsets and scales, so mean and variance are non-trivial.
    x = leaf(randn(N, C, H, W) * rand(1, C, 1, 1, lo=0.5, hi=2.0) + randn(1, C, 1, 1))
    gamma = leaf(rand(C, lo=0.5, hi=1.5))
    beta = leaf(randn(C, scale=0.5))
    rm0 = randn(C, scale=0.5)
    rv0 = rand(C, lo=0.5, hi=2.0)
    rm, rv = rm0.clone(), rv0.clone()
    out = F.batch_norm(x, rm, rv, gamma, beta, training=training, momentum=MOMENTUM, eps=EPS)
    R = upstream_gradient(out)
    c.attrs(N=N, C=C, H=H, W=W, training=int(training), eps=EPS, momentum=MOMENTUM)
    for k, v in (("x", x), ("gamma", gamma), ("beta", beta), ("running_mean_before", rm0),
                 ("running_var_before", rv0), ("running_mean_after", rm),
                 ("running_var_after", rv), ("out", out), ("R", R), ("dx", x.grad),
                 ("dgamma", gamma.grad), ("dbeta", beta.grad)):
        c.put(k, v)


# ---------------------------------------------------------------------------
# Pooling

POOL_CASES = [
    # name, kind, H, W, (kh,kw), (sh,sw), (ph,pw), ceil_mode, count_include_pad
    ("maxpool_3x3_s2", "max", 9, 8, (3, 3), (2, 2), (0, 0), 0, 1),
    ("maxpool_3x3_s2_ceil", "max", 9, 8, (3, 3), (2, 2), (0, 0), 1, 1),
    ("maxpool_3x3_s2_p1", "max", 8, 8, (3, 3), (2, 2), (1, 1), 0, 1),
    ("avgpool_3x3_s1_p1", "avg", 6, 5, (3, 3), (1, 1), (1, 1), 0, 1),
    ("avgpool_3x3_s1_p1_nopad", "avg", 6, 5, (3, 3), (1, 1), (1, 1), 0, 0),
    ("avgpool_2x2_s2_p1_ceil", "avg", 7, 6, (2, 2), (2, 2), (1, 1), 1, 1),
    # The last row window starts inside the right padding and runs past it:
    # the divisor counts the padding cell but not the cell beyond it.
    ("avgpool_3x3_s2_p1_ceil", "avg", 8, 7, (3, 3), (2, 2), (1, 1), 1, 1),
    # Ceil mode without padding: the last window holds one input cell.
    ("avgpool_2x2_s2_ceil", "avg", 7, 5, (2, 2), (2, 2), (0, 0), 1, 1),
    ("global_avgpool", "global", 5, 6, (5, 6), (1, 1), (0, 0), 0, 1),
]


def pool_case(h5, seed, name, kind, H, W, k, s, p, ceil_mode, cip):
    c = Case(h5, "pool/" + name, seed)
    N, C = 2, 3
    # Random normals have no ties, so every max-pool window has one arg-max.
    x = leaf(randn(N, C, H, W))
    if kind == "max":
        out = F.max_pool2d(x, k, s, p, ceil_mode=bool(ceil_mode))
    elif kind == "avg":
        out = F.avg_pool2d(x, k, s, p, ceil_mode=bool(ceil_mode), count_include_pad=bool(cip))
    else:
        out = F.adaptive_avg_pool2d(x, 1)
    R = upstream_gradient(out)
    c.attrs(kind=kind, is_max=int(kind == "max"), is_global=int(kind == "global"),
            N=N, C=C, H=H, W=W, OH=out.shape[2], OW=out.shape[3], kh=k[0], kw=k[1],
            sh=s[0], sw=s[1], ph=p[0], pw=p[1], ceil_mode=ceil_mode, count_include_pad=cip)
    c.put("x", x)
    c.put("out", out)
    c.put("R", R)
    c.put("dx", x.grad)


# ---------------------------------------------------------------------------
# Activations

KINKS = (0.0, 6.0, -3.0, 3.0)
ACTS = [
    # name (the group under act/), torch function
    ("relu", F.relu),
    ("relu6", F.relu6),
    ("sigmoid", torch.sigmoid),
    ("hardsigmoid", F.hardsigmoid),
    ("hardswish", F.hardswish),
    ("tanh", torch.tanh),
]


def away_from_kinks(shape, lo, hi, margin=0.05):
    x = rand(*shape, lo=lo, hi=hi)
    while True:
        bad = torch.zeros(x.shape, dtype=torch.bool)
        for k in KINKS:
            bad |= (x - k).abs() <= margin
        if not bad.any():
            return x
        x[bad] = rand(int(bad.sum()), lo=lo, hi=hi)


def act_case(h5, seed, name, fn):
    c = Case(h5, "act/" + name, seed)
    N, C, H, W = 2, 3, 5, 7
    x = leaf(away_from_kinks((N, C, H, W), -8.0, 8.0))
    out = fn(x)
    R = upstream_gradient(out)
    c.attrs(N=N, C=C, H=H, W=W, kink_margin=0.05)
    c.put("x", x)
    c.put("out", out)
    c.put("R", R)
    c.put("dx", x.grad)


# ---------------------------------------------------------------------------
# Linear, loss, broadcast multiply, channel data movement


def linear_case(h5, seed):
    c = Case(h5, "linear", seed)
    N, IN, OUT = 3, 10, 4
    x = leaf(randn(N, IN))
    w = leaf(randn(OUT, IN, scale=IN ** -0.5))
    b = leaf(randn(OUT, scale=0.5))
    out = F.linear(x, w, b)
    R = upstream_gradient(out)
    c.attrs(N=N, IN=IN, OUT=OUT)
    for k, v in (("x", x), ("weight", w), ("bias", b), ("out", out), ("R", R),
                 ("dx", x.grad), ("dweight", w.grad), ("dbias", b.grad)):
        c.put(k, v)


def xent_case(h5, seed):
    c = Case(h5, "xent", seed)
    N, K = 5, 7
    logits = leaf(randn(N, K, scale=2.0))
    labels = torch.randint(0, K, (N,), dtype=torch.int64)
    loss = F.cross_entropy(logits, labels, reduction="mean")
    R = randn(1)  # dloss: the upstream gradient of the scalar loss
    loss.backward(R[0])
    correct = int((logits.detach().argmax(dim=1) == labels).sum())
    c.attrs(N=N, K=K, correct=correct)
    c.put("logits", logits)
    c.put("labels", labels.to(torch.int32))
    c.put("loss", loss.detach().reshape(1))
    c.put("probs", torch.softmax(logits.detach(), dim=1))
    c.put("R", R)
    c.put("dlogits", logits.grad)


def mul_bcast_case(h5, seed):
    c = Case(h5, "mul_bcast", seed)
    N, C, H, W = 2, 4, 3, 5
    a = leaf(randn(N, C, H, W))
    s = leaf(rand(N, C, 1, 1, lo=0.0, hi=1.0))
    out = a * s
    R = upstream_gradient(out)
    c.attrs(N=N, C=C, H=H, W=W)
    for k, v in (("a", a), ("s", s), ("out", out), ("R", R), ("da", a.grad), ("ds", s.grad)):
        c.put(k, v)


def resize_case(h5, seed):
    # The data pipeline's upscaling (data.upscale = "bilinear"): a 28x28 and
    # a 3x5 plane brought to larger sizes, including a non-square one.
    c = Case(h5, "resize", seed)
    x = rand(1, 1, 28, 28)
    small = rand(1, 2, 3, 5)
    c.put("x", x)
    c.put("x75", F.interpolate(x, size=(75, 75), mode="bilinear", align_corners=False))
    c.put("small", small)
    c.put("small_7x12", F.interpolate(small, size=(7, 12), mode="bilinear",
                                      align_corners=False))


def shuffle_case(h5, seed):
    c = Case(h5, "channel_shuffle", seed)
    N, C, H, W, G = 2, 6, 3, 4, 3
    x = leaf(randn(N, C, H, W))
    out = x.view(N, G, C // G, H, W).transpose(1, 2).reshape(N, C, H, W)
    R = upstream_gradient(out)
    c.attrs(N=N, C=C, H=H, W=W, groups=G)
    for k, v in (("x", x), ("out", out), ("R", R), ("dx", x.grad)):
        c.put(k, v)


def concat_case(h5, seed):
    c = Case(h5, "concat", seed)
    N, C0, C1, H, W = 2, 2, 3, 3, 4
    x0 = leaf(randn(N, C0, H, W))
    x1 = leaf(randn(N, C1, H, W))
    out = torch.cat([x0, x1], dim=1)
    R = upstream_gradient(out)
    c.attrs(N=N, C0=C0, C1=C1, H=H, W=W)
    for k, v in (("x0", x0), ("x1", x1), ("out", out), ("R", R),
                 ("dx0", x0.grad), ("dx1", x1.grad)):
        c.put(k, v)


# ---------------------------------------------------------------------------
# Residual block: relu(bn2(conv2(relu(bn1(conv1(x))))) + x), training mode.


def resblock_case(h5, seed):
    c = Case(h5, "resblock", seed)
    N, C, H, W = 2, 4, 5, 5
    x = leaf(randn(N, C, H, W))
    w1 = leaf(randn(C, C, 3, 3, scale=(9 * C) ** -0.5))
    w2 = leaf(randn(C, C, 3, 3, scale=(9 * C) ** -0.5))
    g1, g2 = leaf(rand(C, lo=0.5, hi=1.5)), leaf(rand(C, lo=0.5, hi=1.5))
    b1, b2 = leaf(randn(C, scale=0.5)), leaf(randn(C, scale=0.5))
    rm1_0, rv1_0 = randn(C, scale=0.5), rand(C, lo=0.5, hi=2.0)
    rm2_0, rv2_0 = randn(C, scale=0.5), rand(C, lo=0.5, hi=2.0)
    rm1, rv1, rm2, rv2 = rm1_0.clone(), rv1_0.clone(), rm2_0.clone(), rv2_0.clone()
    y = F.conv2d(x, w1, None, stride=1, padding=1)
    y = F.batch_norm(y, rm1, rv1, g1, b1, training=True, momentum=MOMENTUM, eps=EPS)
    y = F.relu(y)
    y = F.conv2d(y, w2, None, stride=1, padding=1)
    y = F.batch_norm(y, rm2, rv2, g2, b2, training=True, momentum=MOMENTUM, eps=EPS)
    out = F.relu(y + x)
    R = upstream_gradient(out)
    # The pre-activations never sit at a ReLU kink, or the gradient would be
    # ambiguous; fail loudly rather than write a fragile fixture.
    assert (y + x).detach().abs().min() > 1e-3
    c.attrs(N=N, C=C, H=H, W=W, kh=3, kw=3, sh=1, sw=1, ph=1, pw=1, groups=1,
            eps=EPS, momentum=MOMENTUM)
    for k, v in (("x", x), ("w1", w1), ("gamma1", g1), ("beta1", b1),
                 ("w2", w2), ("gamma2", g2), ("beta2", b2),
                 ("running_mean1_before", rm1_0), ("running_var1_before", rv1_0),
                 ("running_mean2_before", rm2_0), ("running_var2_before", rv2_0),
                 ("running_mean1_after", rm1), ("running_var1_after", rv1),
                 ("running_mean2_after", rm2), ("running_var2_after", rv2),
                 ("out", out), ("R", R), ("dx", x.grad), ("dw1", w1.grad),
                 ("dgamma1", g1.grad), ("dbeta1", b1.grad), ("dw2", w2.grad),
                 ("dgamma2", g2.grad), ("dbeta2", b2.grad)):
        c.put(k, v)


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".tmp"
    # libver "earliest" keeps the file readable by any HDF5 1.8+; track_order
    # off and no timestamps keep reruns byte-for-byte comparable.
    with h5py.File(tmp, "w", track_order=False) as h5:
        h5.attrs["generator"] = GENERATOR
        h5.attrs["format_version"] = FORMAT_VERSION
        h5.attrs["torch_version"] = str(torch.__version__)
        h5.attrs["seed"] = BASE_SEED
        h5.attrs["compute_dtype"] = str(COMPUTE).replace("torch.", "")
        h5.attrs["storage_dtype"] = "float32"
        h5.attrs["loss"] = "L = sum(out * R); gradients are of L"
        seed = BASE_SEED
        for spec in CONV_CASES:
            seed += 1
            conv_case(h5, seed, *spec)
        seed += 1
        bn_case(h5, seed, "train", True)
        seed += 1
        bn_case(h5, seed, "eval", False)
        for spec in POOL_CASES:
            seed += 1
            pool_case(h5, seed, *spec)
        for name, fn in ACTS:
            seed += 1
            act_case(h5, seed, name, fn)
        seed += 1
        linear_case(h5, seed)
        seed += 1
        xent_case(h5, seed)
        seed += 1
        mul_bcast_case(h5, seed)
        seed += 1
        shuffle_case(h5, seed)
        seed += 1
        concat_case(h5, seed)
        seed += 1
        resblock_case(h5, seed)
        seed += 1
        resize_case(h5, seed)
    os.replace(tmp, out_path)
    print("%s: wrote %s (%d bytes)" % (GENERATOR, out_path, os.path.getsize(out_path)))


if __name__ == "__main__":
    main()
