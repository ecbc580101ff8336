/* models_internal.h: the builders behind the registry and the helpers they
 * share (internal to pipeline/models). */
#ifndef MODELS_INTERNAL_H
#define MODELS_INTERNAL_H

#include "models.h"

int model_build_convnet(ig_graph *g, const model_spec *spec, model_nodes *out);
int model_build_resnet18(ig_graph *g, const model_spec *spec, model_nodes *out);
int model_build_resnet18_small(ig_graph *g, const model_spec *spec, model_nodes *out);
int model_build_mobilenetv3_large(ig_graph *g, const model_spec *spec, model_nodes *out);
int model_build_mobilenetv3_small(ig_graph *g, const model_spec *spec, model_nodes *out);
int model_build_inceptionv3(ig_graph *g, const model_spec *spec, model_nodes *out);
int model_build_inceptionv3_small(ig_graph *g, const model_spec *spec, model_nodes *out);

/* Appends the operator `name`: conv k x k (stride, "same" padding, no bias),
 * batch norm, then act (IG_OP_IDENTITY for none). Returns the last node. */
int model_conv_bn_act(ig_graph *g, const char *name, int in, int oc, int k, int stride,
                      ig_opcode act);

#endif
