/* opt_sgd.h: stochastic gradient descent with momentum, the Nesterov option
 * and L2 weight decay (added to the gradient; not decoupled, as in PyTorch's
 * SGD) that skips batch-norm and bias parameters, over a graph's parameter slab, with
 * PyTorch's torch.optim.SGD update rule (dampening 0):
 *     d = grad + wd * w            (wd only where decay applies)
 *     v = momentum * v + d
 *     w -= lr * (nesterov ? d + momentum * v : v)
 * Weight decay is not applied to biases and to gamma/beta (batchnorm,
 * scale_bias) unless decay_all is set. The velocity is one slab, allocated
 * once at init. */
#ifndef OPT_SGD_H
#define OPT_SGD_H

#include "ig.h"

typedef struct {
    float momentum;     /* 0 disables momentum                              */
    int   nesterov;     /* 1: Nesterov momentum (needs momentum > 0)        */
    float weight_decay; /* L2 coefficient                                   */
    int   decay_all;    /* 1: also decay biases and batch-norm parameters   */
} opt_sgd_config;

typedef struct {
    opt_sgd_config cfg;
    size_t         size;     /* floats in velocity == g->param_size          */
    float         *velocity; /* (size) momentum buffer                       */
    uint8_t       *decays;   /* (g->n_params) 1 where weight decay applies   */
    int            n_params;
} opt_sgd;

/* Validates cfg and allocates the velocity for graph g (finalized). Returns
 * PL_OK or PL_ERR_INVAL with a message. Destroy with opt_sgd_destroy. */
int opt_sgd_init(opt_sgd *o, const ig_graph *g, const opt_sgd_config *cfg);

/* One update of g's parameters from g's gradients with learning rate lr. */
void opt_sgd_step(opt_sgd *o, ig_graph *g, float lr);

void opt_sgd_destroy(opt_sgd *o);

#endif
