/* models.c: the model registry (name -> builder) and shared helpers. */
#include "models.h"
#include "models_internal.h"
#include "pl_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*model_builder)(ig_graph *g, const model_spec *spec, model_nodes *out);

static const struct {
    const char   *name;
    model_builder build;
} registry[] = {
    {"convnet", model_build_convnet},
    {"resnet18", model_build_resnet18},
    {"resnet18_small", model_build_resnet18_small},
    {"mobilenetv3_large", model_build_mobilenetv3_large},
    {"mobilenetv3_small", model_build_mobilenetv3_small},
    {"inceptionv3", model_build_inceptionv3},
    {"inceptionv3_small", model_build_inceptionv3_small},
};
enum { N_MODELS = sizeof registry / sizeof registry[0] };

int model_count(void) { return N_MODELS; }

const char *model_name(int i) { return i >= 0 && i < N_MODELS ? registry[i].name : NULL; }

int model_build(ig_graph *g, const model_spec *spec, model_nodes *out)
{
    if (spec->in_c <= 0 || spec->in_h <= 0 || spec->in_w <= 0 || spec->classes < 2)
        PL_FAIL(PL_ERR_INVAL, "model %s: bad input (%d,%d,%d) or classes %d", spec->name,
                spec->in_c, spec->in_h, spec->in_w, spec->classes);
    if (!(spec->width > 0.0f))
        PL_FAIL(PL_ERR_INVAL, "model %s: width must be > 0 (got %g)", spec->name,
                (double)spec->width);
    for (int i = 0; i < N_MODELS; i++)
        if (strcmp(registry[i].name, spec->name) == 0) return registry[i].build(g, spec, out);
    char known[256] = "";
    for (int i = 0; i < N_MODELS; i++) {
        strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, registry[i].name, sizeof known - strlen(known) - 1);
    }
    PL_FAIL(PL_ERR_INVAL, "unknown model '%s' (known: %s)", spec->name, known);
}

int model_scaled_channels(int base, float width, int divisor)
{
    /* width is a float (from config): scale by the decimal it was written as
     * (floats keep 6 significant digits), as torchvision's double width_mult
     * does: 240 * 0.35 is 84 (-> 88) but 240 * 0.35f is 83.99999 (-> 80). */
    char decimal[32];
    snprintf(decimal, sizeof decimal, "%.6g", (double)width);
    double exact = base * strtod(decimal, NULL);
    int c = (int)(exact + divisor / 2.0) / divisor * divisor;
    if (c < divisor) c = divisor;
    if (c < 0.9 * exact) c += divisor;
    return c;
}

int model_conv_bn_act(ig_graph *g, const char *name, int in, int oc, int k, int stride,
                      ig_opcode act)
{
    PL_TRY(ig_operator_begin(g, name));
    int h = ig_conv2d(g, in, oc, k, k, stride, stride, k / 2, k / 2, 1, 0);
    if (h >= 0) h = ig_batchnorm(g, h);
    if (h >= 0 && act != IG_OP_IDENTITY) h = ig_unary(g, act, h);
    ig_operator_end(g);
    return h;
}
