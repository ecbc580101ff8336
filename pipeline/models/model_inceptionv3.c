/* model_inceptionv3.c: InceptionV3 (Szegedy et al., "Rethinking the
 * Inception Architecture for Computer Vision", 2016), layer for layer as
 * torchvision 0.14's inception_v3 with aux_logits=False and
 * transform_input=False.
 *
 * Every convolution is torchvision's BasicConv2d: conv (no bias), batch norm
 * with eps 0.001 (not PyTorch's default 1e-5), ReLU. The network:
 *   stem: Conv2d_1a_3x3 (32, stride 2), Conv2d_2a_3x3 (32), Conv2d_2b_3x3
 *         (64, pad 1), maxpool1 3x3/2, Conv2d_3b_1x1 (80), Conv2d_4a_3x3
 *         (192), maxpool2 3x3/2;
 *   Mixed_5b/5c/5d  InceptionA (pool_features 32, 64, 64)   35x35 at 299;
 *   Mixed_6a        InceptionB (grid reduction)             17x17;
 *   Mixed_6b..6e    InceptionC (channels_7x7 128,160,160,192);
 *   Mixed_7a        InceptionD (grid reduction)             8x8;
 *   Mixed_7b/7c     InceptionE (2048 channels out);
 *   classifier: global average pool, dropout (spec->dropout; torchvision's
 *         default is 0.5), flatten, linear(2048 -> classes) with bias.
 * Pools inside branches are as torchvision: avg_pool2d(3, stride 1, pad 1)
 * counting the padding (count_include_pad), max_pool2d(3, stride 2) with
 * floor rounding. With width 1.0 and 1000 classes the graph has 23,834,568
 * parameters, torchvision's count without the AuxLogits head.
 *
 * Width: every convolution's output channels are
 * model_scaled_channels(base, spec->width, 8); at 1.0 they are exact.
 *
 * Operators (the units the search may replace): one per stem layer
 * ("stem.Conv2d_1a_3x3" .. "stem.maxpool2", torchvision's module names), one
 * per branch of each Inception module ("Mixed_5b.branch1x1",
 * "Mixed_5b.branch5x5", "Mixed_5b.branch3x3dbl", "Mixed_5b.branch_pool", ...),
 * the module's concatenation ("Mixed_5b.concat"), and "classifier".
 * InceptionE's 3x3 branches end in a 1x3 and a 3x1 conv side by side,
 * concatenated inside the branch operator as torchvision nests it, so every
 * branch has one output (the search replaces single-output operators).
 *
 * Two builders:
 * - "inceptionv3": the network above, for 299x299 inputs; smaller inputs
 *   work down to 75x75 (torchvision's min_size for these weights), 1x1 at
 *   Mixed_7c.
 * - "inceptionv3_small": for 28x28 to 32x32 inputs (CIFAR, Fashion-MNIST),
 *   the common CIFAR adaptation (weiaicunzai/pytorch-cifar100's
 *   inceptionv3): the stem keeps its five convolutions and their widths but
 *   does not downsample. Conv2d_1a_3x3 has stride 1 and padding 1 (not
 *   stride 2, no padding), Conv2d_2a_3x3 padding 1 (not 0), both stem max
 *   pools are dropped; Conv2d_2b, 3b and 4a (unpadded) are unchanged, as are
 *   the Inception modules and the classifier. A 32x32 input reaches Mixed_5b
 *   at 30x30, Mixed_6b at 14x14 and Mixed_7c at 6x6 (28x28: 26, 12, 5);
 *   inputs from 9x9 up build (9x9 gives 1x1 at Mixed_7c). Mixed_5 to 7 see
 *   nearly the grid sizes they see at 299x299 (35, 17, 8), so the cost per
 *   sample stays high: 6.2 GFLOPs at width 1.0 and 32x32, against 11.5 for
 *   the full model at 299x299 (a multiply-add counts 2); the width
 *   multiplier is the knob for cheaper runs. */
#include "models_internal.h"
#include "pl_err.h"

#include <stdio.h>

#define BN_EPS 0.001f /* torchvision's BasicConv2d batch norm */

/* What the layer builders below share: the graph, the width multiplier and
 * the prefix of the operator names. */
typedef struct {
    ig_graph   *g;
    float       width;
    const char *module; /* "Mixed_5b", "stem", ...          */
} inception_ctx;

/* Opens the operator "<module>.<part>". */
static int part_begin(const inception_ctx *ctx, const char *part)
{
    char name[IG_NAME_LEN];
    snprintf(name, sizeof name, "%s.%s", ctx->module, part);
    return ig_operator_begin(ctx->g, name);
}

/* BasicConv2d: conv kh x kw (stride, padding ph/pw, no bias) with base_oc
 * channels scaled by the width, batch norm (eps 0.001), ReLU. A negative
 * `in` (an earlier error) is passed through so chains report the first one. */
static int basic_conv(const inception_ctx *ctx, int in, int base_oc, int kh, int kw,
                      int stride, int ph, int pw)
{
    if (in < 0) return in;
    ig_graph *g = ctx->g;
    int oc = model_scaled_channels(base_oc, ctx->width, 8);
    int h = ig_conv2d(g, in, oc, kh, kw, stride, stride, ph, pw, 1, 0);
    if (h < 0) return h;
    h = ig_batchnorm(g, h);
    if (h < 0) return h;
    g->nodes[h].fattr[0] = BN_EPS;
    return ig_unary(g, IG_OP_RELU, h);
}

/* A square k x k BasicConv2d. */
static int conv_k(const inception_ctx *ctx, int in, int base_oc, int k, int stride, int pad)
{
    return basic_conv(ctx, in, base_oc, k, k, stride, pad, pad);
}

/* The 1x1 BasicConv2d. */
static int conv_1x1(const inception_ctx *ctx, int in, int base_oc)
{
    return conv_k(ctx, in, base_oc, 1, 1, 0);
}

/* The 1 x n (horizontal) and n x 1 (vertical) BasicConv2d, "same" padding. */
static int conv_1xn(const inception_ctx *ctx, int in, int base_oc, int n)
{
    return basic_conv(ctx, in, base_oc, 1, n, 1, 0, n / 2);
}
static int conv_nx1(const inception_ctx *ctx, int in, int base_oc, int n)
{
    return basic_conv(ctx, in, base_oc, n, 1, 1, n / 2, 0);
}

/* One stem layer as its own operator "stem.<name>". */
static int stem_conv(const inception_ctx *ctx, const char *name, int in, int base_oc, int k,
                     int stride, int pad)
{
    PL_TRY(part_begin(ctx, name));
    int h = conv_k(ctx, in, base_oc, k, stride, pad);
    ig_operator_end(ctx->g);
    return h;
}
static int stem_maxpool(const inception_ctx *ctx, const char *name, int in)
{
    PL_TRY(part_begin(ctx, name));
    int h = ig_maxpool(ctx->g, in, 3, 2, 0, 0);
    ig_operator_end(ctx->g);
    return h;
}

/* The branch_pool of InceptionA/C/E: avg_pool2d(3, 1, 1), count_include_pad,
 * then a 1x1 BasicConv2d. */
static int avgpool_branch(const inception_ctx *ctx, int in, int base_oc)
{
    PL_TRY(part_begin(ctx, "branch_pool"));
    int h = ig_avgpool(ctx->g, in, 3, 1, 1, 0, 1);
    h = conv_1x1(ctx, h, base_oc);
    ig_operator_end(ctx->g);
    return h;
}

/* The branch_pool of InceptionB/D: max_pool2d(3, stride 2). */
static int maxpool_branch(const inception_ctx *ctx, int in)
{
    PL_TRY(part_begin(ctx, "branch_pool"));
    int h = ig_maxpool(ctx->g, in, 3, 2, 0, 0);
    ig_operator_end(ctx->g);
    return h;
}

/* The module's concatenation of its branches, the operator "<module>.concat". */
static int module_concat(const inception_ctx *ctx, const int *branches, int count)
{
    PL_TRY(part_begin(ctx, "concat"));
    int h = ig_concat(ctx->g, branches, count);
    ig_operator_end(ctx->g);
    return h;
}

/* InceptionA: 1x1 (64) | 1x1 (48) -> 5x5 (64) | 1x1 (64) -> 3x3 (96) -> 3x3
 * (96) | avgpool -> 1x1 (pool_features). */
static int inception_a(const inception_ctx *ctx, int x, int pool_features)
{
    int b[4];
    PL_TRY(part_begin(ctx, "branch1x1"));
    b[0] = conv_1x1(ctx, x, 64);
    ig_operator_end(ctx->g);
    PL_TRY(b[0]);

    PL_TRY(part_begin(ctx, "branch5x5"));
    b[1] = conv_1x1(ctx, x, 48);
    b[1] = conv_k(ctx, b[1], 64, 5, 1, 2);
    ig_operator_end(ctx->g);
    PL_TRY(b[1]);

    PL_TRY(part_begin(ctx, "branch3x3dbl"));
    b[2] = conv_1x1(ctx, x, 64);
    b[2] = conv_k(ctx, b[2], 96, 3, 1, 1);
    b[2] = conv_k(ctx, b[2], 96, 3, 1, 1);
    ig_operator_end(ctx->g);
    PL_TRY(b[2]);

    PL_TRY(b[3] = avgpool_branch(ctx, x, pool_features));
    return module_concat(ctx, b, 4);
}

/* InceptionB (grid reduction): 3x3/2 (384) | 1x1 (64) -> 3x3 (96) -> 3x3/2
 * (96) | maxpool 3x3/2. */
static int inception_b(const inception_ctx *ctx, int x)
{
    int b[3];
    PL_TRY(part_begin(ctx, "branch3x3"));
    b[0] = conv_k(ctx, x, 384, 3, 2, 0);
    ig_operator_end(ctx->g);
    PL_TRY(b[0]);

    PL_TRY(part_begin(ctx, "branch3x3dbl"));
    b[1] = conv_1x1(ctx, x, 64);
    b[1] = conv_k(ctx, b[1], 96, 3, 1, 1);
    b[1] = conv_k(ctx, b[1], 96, 3, 2, 0);
    ig_operator_end(ctx->g);
    PL_TRY(b[1]);

    PL_TRY(b[2] = maxpool_branch(ctx, x));
    return module_concat(ctx, b, 3);
}

/* InceptionC (factorized 7x7): 1x1 (192) | 1x1 (c7) -> 1x7 (c7) -> 7x1 (192)
 * | 1x1 (c7) -> 7x1 (c7) -> 1x7 (c7) -> 7x1 (c7) -> 1x7 (192) | avgpool ->
 * 1x1 (192). */
static int inception_c(const inception_ctx *ctx, int x, int c7)
{
    int b[4];
    PL_TRY(part_begin(ctx, "branch1x1"));
    b[0] = conv_1x1(ctx, x, 192);
    ig_operator_end(ctx->g);
    PL_TRY(b[0]);

    PL_TRY(part_begin(ctx, "branch7x7"));
    b[1] = conv_1x1(ctx, x, c7);
    b[1] = conv_1xn(ctx, b[1], c7, 7);
    b[1] = conv_nx1(ctx, b[1], 192, 7);
    ig_operator_end(ctx->g);
    PL_TRY(b[1]);

    PL_TRY(part_begin(ctx, "branch7x7dbl"));
    b[2] = conv_1x1(ctx, x, c7);
    b[2] = conv_nx1(ctx, b[2], c7, 7);
    b[2] = conv_1xn(ctx, b[2], c7, 7);
    b[2] = conv_nx1(ctx, b[2], c7, 7);
    b[2] = conv_1xn(ctx, b[2], 192, 7);
    ig_operator_end(ctx->g);
    PL_TRY(b[2]);

    PL_TRY(b[3] = avgpool_branch(ctx, x, 192));
    return module_concat(ctx, b, 4);
}

/* InceptionD (grid reduction): 1x1 (192) -> 3x3/2 (320) | 1x1 (192) -> 1x7
 * (192) -> 7x1 (192) -> 3x3/2 (192) | maxpool 3x3/2. */
static int inception_d(const inception_ctx *ctx, int x)
{
    int b[3];
    PL_TRY(part_begin(ctx, "branch3x3"));
    b[0] = conv_1x1(ctx, x, 192);
    b[0] = conv_k(ctx, b[0], 320, 3, 2, 0);
    ig_operator_end(ctx->g);
    PL_TRY(b[0]);

    PL_TRY(part_begin(ctx, "branch7x7x3"));
    b[1] = conv_1x1(ctx, x, 192);
    b[1] = conv_1xn(ctx, b[1], 192, 7);
    b[1] = conv_nx1(ctx, b[1], 192, 7);
    b[1] = conv_k(ctx, b[1], 192, 3, 2, 0);
    ig_operator_end(ctx->g);
    PL_TRY(b[1]);

    PL_TRY(b[2] = maxpool_branch(ctx, x));
    return module_concat(ctx, b, 3);
}

/* InceptionE's pair of a 1x3 and a 3x1 conv (oc each) side by side on x,
 * concatenated (2 * oc channels): the end of its 3x3 branches. */
static int side_by_side(const inception_ctx *ctx, int x, int oc)
{
    int pair[2];
    if (x < 0) return x;
    pair[0] = conv_1xn(ctx, x, oc, 3);
    pair[1] = pair[0] < 0 ? pair[0] : conv_nx1(ctx, x, oc, 3);
    return pair[1] < 0 ? pair[1] : ig_concat(ctx->g, pair, 2);
}

/* InceptionE (expanded filter bank): 1x1 (320) | 1x1 (384) -> [1x3 (384),
 * 3x1 (384)] | 1x1 (448) -> 3x3 (384) -> [1x3 (384), 3x1 (384)] | avgpool ->
 * 1x1 (192); the four branches are concatenated in that order. */
static int inception_e(const inception_ctx *ctx, int x)
{
    int b[6];
    PL_TRY(part_begin(ctx, "branch1x1"));
    b[0] = conv_1x1(ctx, x, 320);
    ig_operator_end(ctx->g);
    PL_TRY(b[0]);

    PL_TRY(part_begin(ctx, "branch3x3"));
    int stem3x3 = conv_1x1(ctx, x, 384);
    b[1] = side_by_side(ctx, stem3x3, 384);
    ig_operator_end(ctx->g);
    PL_TRY(b[1]);

    PL_TRY(part_begin(ctx, "branch3x3dbl"));
    int stem3x3dbl = conv_1x1(ctx, x, 448);
    stem3x3dbl = conv_k(ctx, stem3x3dbl, 384, 3, 1, 1);
    b[2] = side_by_side(ctx, stem3x3dbl, 384);
    ig_operator_end(ctx->g);
    PL_TRY(b[2]);

    PL_TRY(b[3] = avgpool_branch(ctx, x, 192));
    return module_concat(ctx, b, 4);
}

/* Mixed_5b .. Mixed_7c and the classifier, after the stem's output h. */
static int inception_body(ig_graph *g, const model_spec *spec, int h, model_nodes *out)
{
    static const char *const mixed_a[3] = {"Mixed_5b", "Mixed_5c", "Mixed_5d"};
    static const int pool_features[3] = {32, 64, 64};
    static const char *const mixed_c[4] = {"Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"};
    static const int channels_7x7[4] = {128, 160, 160, 192};
    inception_ctx ctx = {.g = g, .width = spec->width};

    for (int i = 0; i < 3; i++) {
        ctx.module = mixed_a[i];
        PL_TRY(h = inception_a(&ctx, h, pool_features[i]));
    }
    ctx.module = "Mixed_6a";
    PL_TRY(h = inception_b(&ctx, h));
    for (int i = 0; i < 4; i++) {
        ctx.module = mixed_c[i];
        PL_TRY(h = inception_c(&ctx, h, channels_7x7[i]));
    }
    ctx.module = "Mixed_7a";
    PL_TRY(h = inception_d(&ctx, h));
    ctx.module = "Mixed_7b";
    PL_TRY(h = inception_e(&ctx, h));
    ctx.module = "Mixed_7c";
    PL_TRY(h = inception_e(&ctx, h));

    PL_TRY(ig_operator_begin(g, "classifier"));
    h = ig_global_avgpool(g, h);
    if (h >= 0 && spec->dropout > 0.0f) h = ig_dropout(g, h, spec->dropout);
    if (h >= 0) h = ig_flatten(g, h);
    if (h >= 0) h = ig_linear(g, h, spec->classes, 1);
    ig_operator_end(g);
    PL_TRY(h);
    out->logits = h;
    return PL_OK;
}

int model_build_inceptionv3(ig_graph *g, const model_spec *spec, model_nodes *out)
{
    if (spec->in_h < 75 || spec->in_w < 75)
        PL_FAIL(PL_ERR_INVAL,
                "model inceptionv3: input %dx%d is smaller than 75x75 (use inceptionv3_small "
                "for 28 to 32 pixel inputs)",
                spec->in_h, spec->in_w);
    int h = ig_input(g, spec->in_c, spec->in_h, spec->in_w);
    PL_TRY(h);
    out->input = h;
    inception_ctx stem = {.g = g, .width = spec->width, .module = "stem"};
    PL_TRY(h = stem_conv(&stem, "Conv2d_1a_3x3", h, 32, 3, 2, 0));
    PL_TRY(h = stem_conv(&stem, "Conv2d_2a_3x3", h, 32, 3, 1, 0));
    PL_TRY(h = stem_conv(&stem, "Conv2d_2b_3x3", h, 64, 3, 1, 1));
    PL_TRY(h = stem_maxpool(&stem, "maxpool1", h));
    PL_TRY(h = stem_conv(&stem, "Conv2d_3b_1x1", h, 80, 1, 1, 0));
    PL_TRY(h = stem_conv(&stem, "Conv2d_4a_3x3", h, 192, 3, 1, 0));
    PL_TRY(h = stem_maxpool(&stem, "maxpool2", h));
    return inception_body(g, spec, h, out);
}

int model_build_inceptionv3_small(ig_graph *g, const model_spec *spec, model_nodes *out)
{
    if (spec->in_h < 9 || spec->in_w < 9)
        PL_FAIL(PL_ERR_INVAL, "model inceptionv3_small: input %dx%d is smaller than 9x9",
                spec->in_h, spec->in_w);
    int h = ig_input(g, spec->in_c, spec->in_h, spec->in_w);
    PL_TRY(h);
    out->input = h;
    inception_ctx stem = {.g = g, .width = spec->width, .module = "stem"};
    PL_TRY(h = stem_conv(&stem, "Conv2d_1a_3x3", h, 32, 3, 1, 1));
    PL_TRY(h = stem_conv(&stem, "Conv2d_2a_3x3", h, 32, 3, 1, 1));
    PL_TRY(h = stem_conv(&stem, "Conv2d_2b_3x3", h, 64, 3, 1, 1));
    PL_TRY(h = stem_conv(&stem, "Conv2d_3b_1x1", h, 80, 1, 1, 0));
    PL_TRY(h = stem_conv(&stem, "Conv2d_4a_3x3", h, 192, 3, 1, 0));
    return inception_body(g, spec, h, out);
}
