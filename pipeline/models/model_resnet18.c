/* model_resnet18.c: ResNet18 as torchvision builds it (He et al. 2016;
 * torchvision.models.resnet18), with two stems:
 *
 *   resnet18        ImageNet stem: conv7x7/2 pad 3 - bn - relu - maxpool 3/2 pad 1
 *   resnet18_small  small-input stem (CIFAR-style): conv3x3/1 pad 1 - bn - relu
 *
 * then four stages of two BasicBlocks (widths 64, 128, 256, 512 times
 * spec->width, rounded to a multiple of 8 by model_scaled_channels; strides
 * 1, 2, 2, 2), global average pool, flatten, [dropout,] linear(classes).
 * A BasicBlock is conv3x3(stride)-bn-relu, conv3x3-bn, plus the identity or,
 * when the shape changes, a downsample conv1x1(stride)-bn; then add and relu.
 * Convolutions have no bias; batch norm is PyTorch's default (eps 1e-5,
 * momentum 0.1). At width 1.0, 224x224x3 and 1000 classes the parameter
 * count is torchvision's, 11,689,512.
 *
 * Named operators (torchvision's module paths where one exists):
 *   "stem"                  conv, bn, relu (and the max pool)
 *   "layerL.B.conv1"        conv3x3-bn-relu of block B (0, 1) of stage L (1..4)
 *   "layerL.B.conv2"        conv3x3-bn
 *   "layerL.B.downsample"   conv1x1-bn, first block of stages 2..4 only
 *   "layerL.B.out"          the residual add and its relu
 *   "classifier"            global average pool, flatten, dropout, linear
 * Every node except the input belongs to one of them.
 *
 * Deviations from torchvision: dropout before the linear layer when
 * spec->dropout > 0 (torchvision's ResNet has none; 0 reproduces it), and
 * initialisation is the engine's (ig_graph_init_params: PyTorch's layer
 * defaults), not torchvision's kaiming_normal for convolutions. */
#include "models_internal.h"
#include "pl_err.h"

#include <stdio.h>

enum { RESNET18_STAGES = 4, RESNET18_BLOCKS_PER_STAGE = 2 };

/* The operator "<prefix>.downsample": conv1x1(stride, no bias) then bn. */
static int downsample(ig_graph *g, const char *prefix, int in, int oc, int stride)
{
    char name[IG_NAME_LEN];
    snprintf(name, sizeof name, "%s.downsample", prefix);
    PL_TRY(ig_operator_begin(g, name));
    int h = ig_conv2d(g, in, oc, 1, 1, stride, stride, 0, 0, 1, 0);
    if (h >= 0) h = ig_batchnorm(g, h);
    ig_operator_end(g);
    return h;
}

/* One BasicBlock named prefix ("layerL.B") from `in` (in_c channels) to oc
 * channels at this stride. Returns the block's output node. */
static int basic_block(ig_graph *g, const char *prefix, int in, int in_c, int oc, int stride)
{
    char name[IG_NAME_LEN];
    snprintf(name, sizeof name, "%s.conv1", prefix);
    int h = model_conv_bn_act(g, name, in, oc, 3, stride, IG_OP_RELU);
    PL_TRY(h);
    snprintf(name, sizeof name, "%s.conv2", prefix);
    h = model_conv_bn_act(g, name, h, oc, 3, 1, IG_OP_IDENTITY);
    PL_TRY(h);
    int shortcut = in;
    if (stride != 1 || in_c != oc) PL_TRY(shortcut = downsample(g, prefix, in, oc, stride));
    snprintf(name, sizeof name, "%s.out", prefix);
    PL_TRY(ig_operator_begin(g, name));
    h = ig_binary(g, IG_OP_ADD, h, shortcut);
    if (h >= 0) h = ig_unary(g, IG_OP_RELU, h);
    ig_operator_end(g);
    return h;
}

/* The operator "stem": the ImageNet stem (imagenet_stem = 1) or the
 * small-input one, to `oc` channels. */
static int stem(ig_graph *g, int in, int oc, int imagenet_stem)
{
    PL_TRY(ig_operator_begin(g, "stem"));
    int h = imagenet_stem ? ig_conv2d(g, in, oc, 7, 7, 2, 2, 3, 3, 1, 0)
                          : ig_conv2d(g, in, oc, 3, 3, 1, 1, 1, 1, 1, 0);
    if (h >= 0) h = ig_batchnorm(g, h);
    if (h >= 0) h = ig_unary(g, IG_OP_RELU, h);
    if (h >= 0 && imagenet_stem) h = ig_maxpool(g, h, 3, 2, 1, 0);
    ig_operator_end(g);
    return h;
}

/* The operator "classifier": global average pool, flatten, dropout (when
 * dropout > 0), linear(classes) with bias. */
static int classifier(ig_graph *g, int in, float dropout, int classes)
{
    PL_TRY(ig_operator_begin(g, "classifier"));
    int h = ig_global_avgpool(g, in);
    if (h >= 0) h = ig_flatten(g, h);
    if (h >= 0 && dropout > 0.0f) h = ig_dropout(g, h, dropout);
    if (h >= 0) h = ig_linear(g, h, classes, 1);
    ig_operator_end(g);
    return h;
}

static int build_resnet18(ig_graph *g, const model_spec *spec, model_nodes *out,
                          int imagenet_stem)
{
    static const int stage_width[RESNET18_STAGES] = {64, 128, 256, 512};
    static const int stage_stride[RESNET18_STAGES] = {1, 2, 2, 2};
    int h = ig_input(g, spec->in_c, spec->in_h, spec->in_w);
    PL_TRY(h);
    out->input = h;
    int c = model_scaled_channels(stage_width[0], spec->width, 8);
    PL_TRY(h = stem(g, h, c, imagenet_stem));
    for (int s = 0; s < RESNET18_STAGES; s++) {
        const int oc = model_scaled_channels(stage_width[s], spec->width, 8);
        for (int b = 0; b < RESNET18_BLOCKS_PER_STAGE; b++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "layer%d.%d", s + 1, b);
            PL_TRY(h = basic_block(g, prefix, h, c, oc, b == 0 ? stage_stride[s] : 1));
            c = oc;
        }
    }
    PL_TRY(h = classifier(g, h, spec->dropout, spec->classes));
    out->logits = h;
    return PL_OK;
}

int model_build_resnet18(ig_graph *g, const model_spec *spec, model_nodes *out)
{
    return build_resnet18(g, spec, out, 1);
}

int model_build_resnet18_small(ig_graph *g, const model_spec *spec, model_nodes *out)
{
    return build_resnet18(g, spec, out, 0);
}
