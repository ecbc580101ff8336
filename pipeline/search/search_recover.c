/* search_recover.c: the recovery after a replacement (see search.h): a
 * short SGD run of the whole adapted model on training images, so the
 * accuracy a replacement cost is won back before the next operator's
 * candidates are measured against the baseline. Deterministic under the
 * seed and the step index (with one thread). */
#include "search_internal.h"
#include "lr_schedule.h"
#include "opt_sgd.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "pl_threads.h"

#include <math.h>
#include <string.h>

/* Trains g (with its loss node) for o->recovery_steps steps. */
static int train_steps(ig_graph *g, int input_node, int loss_node, ds_experiment *data,
                       const search_options *o, int step, const char *name)
{
    int batch = o->recovery_batch, n = data->train.n;
    if (n < batch)
        PL_FAIL(PL_ERR_CONFIG, "search: recovery after %s: train.batch_size %d is larger than "
                "the %d training images", name, batch, n);
    opt_sgd sgd;
    PL_TRY(opt_sgd_init(&sgd, g, &o->recovery_sgd));
    int rc = ig_graph_plan(g, batch);
    if (rc == PL_OK) rc = ig_set_training(g, 1);
    lr_schedule schedule = {.kind = LR_COSINE, .base_lr = (float)o->recovery_lr,
                            .min_lr = 0.0f, .total_steps = o->recovery_steps};
    int32_t *order = pl_xmalloc((size_t)n * sizeof *order);
    int32_t *labels = pl_xmalloc((size_t)batch * sizeof *labels);
    uint64_t seed = o->seed * 0x2545f4914f6cdd1dULL + (uint64_t)step + 1;
    int per_epoch = n / batch;
    for (int s = 0; s < o->recovery_steps && rc == PL_OK; s++) {
        int within = s % per_epoch;
        if (within == 0) ds_epoch_order(order, n, seed, s / per_epoch);
        ds_experiment_batch(data, &data->train, order + (size_t)within * batch, batch, 0, seed,
                            s, ig_value(g, input_node), labels);
        ig_forward(g, labels);
        if (!isfinite(g->loss)) {
            rc = pl_error(PL_ERR_NUMERIC, __FILE__, __LINE__, "search: recovery after %s: the "
                          "training loss is not finite (%g) at step %d; lower "
                          "search.recovery_lr (%g)", name,
                          (double)g->loss, s + 1, o->recovery_lr);
            break;
        }
        ig_zero_grad(g);
        ig_backward(g, loss_node);
        opt_sgd_step(&sgd, g, lr_schedule_at(&schedule, s));
    }
    pl_free(order);
    pl_free(labels);
    opt_sgd_destroy(&sgd);
    return rc;
}

int search_recover(search_result *r, ds_experiment *data, const search_options *o, int step,
                   const char *name)
{
    if (o->recovery_steps <= 0 || !data) return PL_OK;
    int loss_node = -1;
    ig_graph *g = ig_graph_copy(r->model, r->logits_node, &loss_node);
    if (!g) return PL_ERR_INVAL; /* the message is recorded */
    PL_ASSERT(g->param_size == r->model->param_size && g->state_size == r->model->state_size);
    pl_threads_set(o->recovery_threads);
    int rc = train_steps(g, r->input_node, loss_node, data, o, step, name);
    pl_threads_set(1);
    if (rc == PL_OK) {
        memcpy(r->model->param, g->param, g->param_size * sizeof(float));
        memcpy(r->model->state, g->state, g->state_size * sizeof(float));
    }
    ig_graph_free(g);
    return rc;
}
