/* model_mobilenetv3.c: MobileNetV3-Large and -Small as torchvision builds
 * them (Howard et al. 2019, Tables 1 and 2; torchvision.models.
 * mobilenet_v3_large / mobilenet_v3_small, without the reduced tail or
 * dilation options):
 *
 *   stem        conv3x3/2 (16) - bn - hardswish
 *   blocks      inverted residuals from the table below: [expand 1x1 conv -
 *               bn - act, unless expanded == input channels], depthwise kxk
 *               conv/stride - bn - act, [squeeze-and-excitation], project 1x1
 *               conv - bn, [+ input when stride 1 and in == out]
 *   last_conv   1x1 conv to 6 x the last block's channels (960 / 576) - bn -
 *               hardswish
 *   classifier  global average pool, flatten, linear(1280 / 1024) - hardswish
 *               - dropout - linear(classes)
 *
 * act is relu ("RE") or hardswish ("HS") per row. Squeeze-and-excitation is
 * global average pool, 1x1 conv with bias to _make_divisible(expanded / 4, 8),
 * relu, 1x1 conv with bias back, hardsigmoid, and a per-channel multiply.
 * Convolutions other than the SE ones have no bias. Batch norm uses
 * torchvision's eps 1e-3 and momentum 0.01.
 *
 * The width multiplier follows torchvision's width_mult: every table entry
 * (input, expanded, output channels) and the classifier's hidden width go
 * through _make_divisible(c * width, 8) (model_scaled_channels), the stem has
 * the first row's scaled input channels, the last conv 6 x the scaled last
 * output, and the SE width is derived from the scaled expanded width. At
 * width 1.0, 224x224x3 and 1000 classes the parameter counts are
 * torchvision's: 5,483,032 (large) and 2,542,856 (small).
 *
 * Named operators, numbered as torchvision's `features` (features.0 is the
 * stem, features.1.. the blocks, the last one last_conv):
 *   "stem", "features.i.expand", "features.i.dw", "features.i.se",
 *   "features.i.project", "features.i.add" (the residual add),
 *   "last_conv", "classifier".
 * Every node except the input belongs to one of them.
 *
 * Deviations from torchvision: the classifier's dropout is spec->dropout
 * (torchvision fixes 0.2; 0 leaves the dropout node out), and initialisation
 * is the engine's (ig_graph_init_params: PyTorch's layer defaults), not
 * torchvision's kaiming_normal(fan_out) / normal(0, 0.01). */
#include "models_internal.h"
#include "pl_err.h"

#include <stdio.h>

/* One row of the paper's table, channels before the width multiplier. */
typedef struct {
    int in, kernel, expanded, out;
    int se;     /* squeeze-and-excitation                */
    int hs;     /* hardswish (1) or relu (0) activations */
    int stride;
} bneck_row;

static const bneck_row LARGE[] = {
    {16, 3, 16, 16, 0, 0, 1},    {16, 3, 64, 24, 0, 0, 2},    {24, 3, 72, 24, 0, 0, 1},
    {24, 5, 72, 40, 1, 0, 2},    {40, 5, 120, 40, 1, 0, 1},   {40, 5, 120, 40, 1, 0, 1},
    {40, 3, 240, 80, 0, 1, 2},   {80, 3, 200, 80, 0, 1, 1},   {80, 3, 184, 80, 0, 1, 1},
    {80, 3, 184, 80, 0, 1, 1},   {80, 3, 480, 112, 1, 1, 1},  {112, 3, 672, 112, 1, 1, 1},
    {112, 5, 672, 160, 1, 1, 2}, {160, 5, 960, 160, 1, 1, 1}, {160, 5, 960, 160, 1, 1, 1},
};

static const bneck_row SMALL[] = {
    {16, 3, 16, 16, 1, 0, 2},  {16, 3, 72, 24, 0, 0, 2},  {24, 3, 88, 24, 0, 0, 1},
    {24, 5, 96, 40, 1, 1, 2},  {40, 5, 240, 40, 1, 1, 1}, {40, 5, 240, 40, 1, 1, 1},
    {40, 5, 120, 48, 1, 1, 1}, {48, 5, 144, 48, 1, 1, 1}, {48, 5, 288, 96, 1, 1, 2},
    {96, 5, 576, 96, 1, 1, 1}, {96, 5, 576, 96, 1, 1, 1},
};

/* Batch norm with torchvision's MobileNetV3 settings. */
static int mnv3_batchnorm(ig_graph *g, int in)
{
    ig_node nd = {0};
    nd.op = IG_OP_BATCHNORM;
    nd.n_in = 1;
    nd.in[0] = in;
    nd.fattr[0] = 1e-3f; /* eps      */
    nd.fattr[1] = 0.01f; /* momentum */
    return ig_add(g, &nd);
}

/* Appends conv (k x k, stride, padding (k-1)/2, no bias; depthwise when
 * depthwise = 1, 1x1 pointwise when k = 1), batch norm and act
 * (IG_OP_IDENTITY for none) as the operator `name`. */
static int conv_bn_act(ig_graph *g, const char *name, int in, int oc, int k, int stride,
                       int depthwise, ig_opcode act)
{
    PL_TRY(ig_operator_begin(g, name));
    int h;
    if (depthwise) h = ig_dwconv2d(g, in, k, stride, (k - 1) / 2, 0);
    else if (k == 1 && stride == 1) h = ig_pwconv2d(g, in, oc, 1, 0);
    else h = ig_conv2d(g, in, oc, k, k, stride, stride, (k - 1) / 2, (k - 1) / 2, 1, 0);
    if (h >= 0) h = mnv3_batchnorm(g, h);
    if (h >= 0 && act != IG_OP_IDENTITY) h = ig_unary(g, act, h);
    ig_operator_end(g);
    return h;
}

/* The operator "<prefix>.se": x * hardsigmoid(fc2(relu(fc1(avgpool(x))))). */
static int squeeze_excitation(ig_graph *g, const char *prefix, int in, int channels)
{
    char name[IG_NAME_LEN];
    snprintf(name, sizeof name, "%s.se", prefix);
    const int squeeze = model_scaled_channels(channels / 4, 1.0f, 8);
    PL_TRY(ig_operator_begin(g, name));
    int s = ig_global_avgpool(g, in);
    if (s >= 0) s = ig_pwconv2d(g, s, squeeze, 1, 1);
    if (s >= 0) s = ig_unary(g, IG_OP_RELU, s);
    if (s >= 0) s = ig_pwconv2d(g, s, channels, 1, 1);
    if (s >= 0) s = ig_unary(g, IG_OP_HARDSIGMOID, s);
    if (s >= 0) s = ig_binary(g, IG_OP_MUL, in, s);
    ig_operator_end(g);
    return s;
}

/* Inverted residual block number `index` of torchvision's features from
 * `in` (in_c channels, already scaled). Returns its output node. */
static int inverted_residual(ig_graph *g, int index, int in, int in_c, const bneck_row *row,
                             float width)
{
    const int expanded = model_scaled_channels(row->expanded, width, 8);
    const int oc = model_scaled_channels(row->out, width, 8);
    const ig_opcode act = row->hs ? IG_OP_HARDSWISH : IG_OP_RELU;
    char prefix[32], name[IG_NAME_LEN];
    snprintf(prefix, sizeof prefix, "features.%d", index);
    int h = in;
    if (expanded != in_c) {
        snprintf(name, sizeof name, "%s.expand", prefix);
        PL_TRY(h = conv_bn_act(g, name, h, expanded, 1, 1, 0, act));
    }
    snprintf(name, sizeof name, "%s.dw", prefix);
    PL_TRY(h = conv_bn_act(g, name, h, expanded, row->kernel, row->stride, 1, act));
    if (row->se) PL_TRY(h = squeeze_excitation(g, prefix, h, expanded));
    snprintf(name, sizeof name, "%s.project", prefix);
    PL_TRY(h = conv_bn_act(g, name, h, oc, 1, 1, 0, IG_OP_IDENTITY));
    if (row->stride == 1 && in_c == oc) {
        snprintf(name, sizeof name, "%s.add", prefix);
        PL_TRY(ig_operator_begin(g, name));
        h = ig_binary(g, IG_OP_ADD, h, in);
        ig_operator_end(g);
    }
    return h;
}

/* The operator "classifier": global average pool, flatten, linear(hidden) -
 * hardswish - dropout (when dropout > 0) - linear(classes), both with bias. */
static int classifier(ig_graph *g, int in, int hidden, float dropout, int classes)
{
    PL_TRY(ig_operator_begin(g, "classifier"));
    int h = ig_global_avgpool(g, in);
    if (h >= 0) h = ig_flatten(g, h);
    if (h >= 0) h = ig_linear(g, h, hidden, 1);
    if (h >= 0) h = ig_unary(g, IG_OP_HARDSWISH, h);
    if (h >= 0 && dropout > 0.0f) h = ig_dropout(g, h, dropout);
    if (h >= 0) h = ig_linear(g, h, classes, 1);
    ig_operator_end(g);
    return h;
}

static int build_mobilenetv3(ig_graph *g, const model_spec *spec, model_nodes *out,
                             const bneck_row *rows, int n_rows, int last_channel)
{
    const float width = spec->width;
    int h = ig_input(g, spec->in_c, spec->in_h, spec->in_w);
    PL_TRY(h);
    out->input = h;
    int c = model_scaled_channels(rows[0].in, width, 8);
    PL_TRY(h = conv_bn_act(g, "stem", h, c, 3, 2, 0, IG_OP_HARDSWISH));
    for (int i = 0; i < n_rows; i++) {
        /* Each row's input is the previous row's output (as in the paper). */
        PL_ASSERT(model_scaled_channels(rows[i].in, width, 8) == c);
        PL_TRY(h = inverted_residual(g, i + 1, h, c, &rows[i], width));
        c = model_scaled_channels(rows[i].out, width, 8);
    }
    PL_TRY(h = conv_bn_act(g, "last_conv", h, 6 * c, 1, 1, 0, IG_OP_HARDSWISH));
    PL_TRY(h = classifier(g, h, model_scaled_channels(last_channel, width, 8), spec->dropout,
                          spec->classes));
    out->logits = h;
    return PL_OK;
}

int model_build_mobilenetv3_large(ig_graph *g, const model_spec *spec, model_nodes *out)
{
    return build_mobilenetv3(g, spec, out, LARGE, (int)(sizeof LARGE / sizeof LARGE[0]), 1280);
}

int model_build_mobilenetv3_small(ig_graph *g, const model_spec *spec, model_nodes *out)
{
    return build_mobilenetv3(g, spec, out, SMALL, (int)(sizeof SMALL / sizeof SMALL[0]), 1024);
}
