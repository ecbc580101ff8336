/* models.h: the model zoo: builders that append a model to an instruction
 * graph, with its operators (the units the search may replace) named.
 *
 * A model is chosen by name from config; each builder takes the input shape,
 * the number of classes, a width multiplier and the classifier dropout, and
 * appends input -> ... -> logits (K,1,1). The loss node is added by the
 * caller (train adds softmax_xent; inference graphs stop at the logits). */
#ifndef MODELS_H
#define MODELS_H

#include "ig.h"

typedef struct {
    char  name[64];
    int   in_c, in_h, in_w; /* input shape per sample              */
    int   classes;          /* logits                              */
    float width;            /* channel multiplier, 1.0 = published */
    float dropout;          /* before the classifier, 0 = none     */
} model_spec;

typedef struct {
    int input;  /* the input node  */
    int logits; /* (classes,1,1)   */
} model_nodes;

/* Appends the model named spec->name to g (not yet finalized). Returns PL_OK
 * and the input and logits nodes, or a negative status: an unknown name
 * (the message lists the known ones) or shapes the model cannot take. */
int model_build(ig_graph *g, const model_spec *spec, model_nodes *out);

/* The channel count width * base, rounded to a multiple of divisor (at least
 * divisor), never more than 10% below the exact value (MobileNet's rule). */
int model_scaled_channels(int base, float width, int divisor);

/* Number of known models and their names, for messages and schemas. */
int model_count(void);
const char *model_name(int i);

#endif
