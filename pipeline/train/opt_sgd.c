/* opt_sgd.c: SGD with momentum, Nesterov and selective weight decay over a
 * graph's contiguous parameter slab (see opt_sgd.h for the update rule). */
#include "opt_sgd.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <math.h>
#include <string.h>

int opt_sgd_init(opt_sgd *o, const ig_graph *g, const opt_sgd_config *cfg)
{
    memset(o, 0, sizeof *o);
    if (!g->finalized) PL_FAIL(PL_ERR_INVAL, "sgd: the graph must be finalized first");
    if (!(cfg->momentum >= 0.0f && cfg->momentum < 1.0f))
        PL_FAIL(PL_ERR_INVAL, "sgd: momentum must be in [0, 1) (got %g)", (double)cfg->momentum);
    if (cfg->nesterov && cfg->momentum <= 0.0f)
        PL_FAIL(PL_ERR_INVAL, "sgd: Nesterov momentum needs momentum > 0");
    if (!(cfg->weight_decay >= 0.0f) || !isfinite(cfg->weight_decay))
        PL_FAIL(PL_ERR_INVAL, "sgd: weight decay must be >= 0 (got %g)", (double)cfg->weight_decay);
    o->cfg = *cfg;
    o->size = g->param_size;
    o->velocity = pl_xcalloc(o->size ? o->size : 1, sizeof(float));
    o->n_params = g->n_params;
    o->decays = pl_xcalloc((size_t)(g->n_params ? g->n_params : 1), 1);
    for (int k = 0; k < g->n_params; k++)
        o->decays[k] = (uint8_t)(cfg->decay_all || g->params[k].kind == IG_PARAM_WEIGHT);
    return PL_OK;
}

void opt_sgd_step(opt_sgd *o, ig_graph *g, float lr)
{
    PL_ASSERT(o->size == g->param_size && o->n_params == g->n_params);
    const float mu = o->cfg.momentum;
    for (int k = 0; k < g->n_params; k++) {
        const ig_param *p = &g->params[k];
        float *w = g->param + p->offset, *v = o->velocity + p->offset;
        const float *grad = g->grad + p->offset;
        const float wd = o->decays[k] ? o->cfg.weight_decay : 0.0f;
        const size_t n = p->count;
        if (mu == 0.0f) {
            for (size_t i = 0; i < n; i++) w[i] -= lr * (grad[i] + wd * w[i]);
        } else if (o->cfg.nesterov) {
            for (size_t i = 0; i < n; i++) {
                float d = grad[i] + wd * w[i];
                v[i] = mu * v[i] + d;
                w[i] -= lr * (d + mu * v[i]);
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                v[i] = mu * v[i] + grad[i] + wd * w[i];
                w[i] -= lr * v[i];
            }
        }
    }
}

void opt_sgd_destroy(opt_sgd *o)
{
    pl_free(o->velocity);
    pl_free(o->decays);
    memset(o, 0, sizeof *o);
}
