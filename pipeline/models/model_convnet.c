/* model_convnet.c: a small VGG-style CNN for 28x28 to 32x32 inputs, the
 * model of the tiny and quickstart experiments:
 *   [conv3x3-bn-relu] x2 (32w) -> maxpool 2 -> [conv3x3-bn-relu] x2 (64w)
 *   -> maxpool 2 -> conv3x3-bn-relu (128w) -> global average pool
 *   -> dropout -> linear(classes).
 * Each conv-bn-relu is a named operator ("conv1" .. "conv5"), as is the
 * classifier ("classifier"). */
#include "models_internal.h"
#include "pl_err.h"

#include <stdio.h>

int model_build_convnet(ig_graph *g, const model_spec *spec, model_nodes *out)
{
    static const int base[5] = {32, 32, 64, 64, 128};
    static const int pool_after[5] = {0, 1, 0, 1, 0};
    if (spec->in_h < 8 || spec->in_w < 8)
        PL_FAIL(PL_ERR_INVAL, "model convnet: input %dx%d is smaller than 8x8", spec->in_h,
                spec->in_w);
    int h = ig_input(g, spec->in_c, spec->in_h, spec->in_w);
    PL_TRY(h);
    out->input = h;
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "conv%d", i + 1);
        h = model_conv_bn_act(g, name, h, model_scaled_channels(base[i], spec->width, 8), 3, 1,
                              IG_OP_RELU);
        PL_TRY(h);
        if (pool_after[i]) PL_TRY(h = ig_maxpool(g, h, 2, 2, 0, 0));
    }
    PL_TRY(ig_operator_begin(g, "classifier"));
    h = ig_global_avgpool(g, h);
    if (h >= 0 && spec->dropout > 0.0f) h = ig_dropout(g, h, spec->dropout);
    if (h >= 0) h = ig_linear(g, h, spec->classes, 1);
    ig_operator_end(g);
    PL_TRY(h);
    out->logits = h;
    return PL_OK;
}
