/* weights_import.h: importing trained weights into a graph, and writing
 * them, in the gos.weights layout (schemas/artifacts.md).
 *
 * A gos.weights artifact holds one float32 dataset per tensor under
 * /tensors, named by its key (for torchvision models, the state-dict key:
 * "layer1.0.conv1.weight"), and /tensor_names, the keys in the graph's order:
 * for every node in node order, its parameter tensors in the order of the
 * graph's parameter table (weight then bias; batch norm's gamma, written
 * "weight", then beta, written "bias"), and after a batch norm's two its
 * running_mean and running_var. Shapes are PyTorch's: convolution weights
 * (OC, C/groups, KH, KW), linear weights (OUT, IN), everything else (C).
 *
 * That order is torchvision's state_dict order (module registration order,
 * without num_batches_tracked) whenever a builder adds its nodes in the order
 * torchvision registers its modules, which holds for resnet18,
 * mobilenetv3_large, mobilenetv3_small and inceptionv3 (make check-torch
 * checks it end to end). Tensors are matched by position, never by name; the
 * name only has to end in the expected ".weight", ".bias", ".running_mean" or
 * ".running_var", and every shape has to agree, so a file for another
 * architecture or width is refused at its first differing tensor. */
#ifndef WEIGHTS_IMPORT_H
#define WEIGHTS_IMPORT_H

#include "h5io.h"
#include "ig.h"

#include <stddef.h>
#include <stdint.h>

#define WEIGHTS_SCHEMA "gos.weights"

/* One tensor of the layout: where it lives in the graph and its shape. */
typedef struct {
    int32_t     node;     /* owning node                                        */
    int32_t     param;    /* index into g->params, or -1 for a running statistic */
    const char *suffix;   /* "weight", "bias", "running_mean" or "running_var"  */
    int32_t     rank;     /* 1, 2 or 4 (PyTorch's shape)                        */
    int64_t     dims[4];  /* extents, dims[0..rank-1]                           */
    size_t      count;    /* floats                                             */
    int32_t     in_state; /* 1: g->state + offset, 0: g->param + offset         */
    size_t      offset;
} weights_tensor;

/* The tensors finalized graph g has in the gos.weights layout, in order.
 * Writes at most cap entries into out (out may be NULL when cap is 0) and
 * returns the total count, or a negative status when g has state the layout
 * does not cover (only batch norm's running statistics are known). */
int weights_layout(const ig_graph *g, weights_tensor *out, int cap);

/* Fills g->param and g->state from the gos.weights artifact at path.
 * model, when not NULL, must equal the file's /@model. Everything is
 * validated before any value is written: the schema, the model name, the
 * number of tensors, each name's suffix, shape and dtype (float32), that no
 * name repeats and /tensors holds nothing unlisted, finite values, and a
 * running_var's optional `eps` attribute against the batch norm's eps.
 * Errors name the file and the dataset. Only a failure while reading the
 * values (a corrupt file, a non-finite value) can leave g partly updated. */
int weights_import(ig_graph *g, const char *path, const char *model);

/* Writes g's parameters and running statistics to path as a gos.weights
 * artifact (atomically, through h5io). names[i] is the key of layout tensor
 * i (weights_layout order); NULL gives "<node>.<opcode>.<suffix>". Every
 * running_var gets its batch norm's eps as attribute `eps`. prov supplies
 * the provenance (its schema is ignored: gos.weights). */
int weights_export(const ig_graph *g, const char *path, const h5io_provenance *prov,
                   const char *model, const char *source, const char *const *names);

#endif
