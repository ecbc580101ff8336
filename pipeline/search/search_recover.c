/* search_recover.c: the recovery after a replacement (see search.h): a
 * short SGD run of the whole adapted model on training images, on the
 * labels or distilling the baseline, so the accuracy a replacement cost is
 * won back before the next operator's candidates are measured against the
 * baseline. Deterministic under the seed and the step index (with one
 * thread). */
#include "search_internal.h"
#include "distill.h"
#include "lr_schedule.h"
#include "opt_sgd.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "pl_threads.h"

#include <math.h>
#include <string.h>

/* Trains g (with its loss node after logits_node) for o->recovery_steps
 * steps; teacher (may be NULL) distils. */
static int train_steps(ig_graph *g, int input_node, int logits_node, int loss_node,
                       ds_experiment *data, distill *teacher, const search_options *o, int step,
                       const char *name)
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
        ig_zero_grad(g);
        float loss = g->loss;
        if (teacher)
            loss = distill_backward(teacher, g, input_node, logits_node, labels);
        if (!isfinite(loss)) {
            rc = pl_error(PL_ERR_NUMERIC, __FILE__, __LINE__, "search: recovery after %s: the "
                          "training loss is not finite (%g) at step %d; lower "
                          "search.recovery_lr (%g)", name, (double)loss, s + 1,
                          o->recovery_lr);
            break;
        }
        if (!teacher) ig_backward(g, loss_node);
        opt_sgd_step(&sgd, g, lr_schedule_at(&schedule, s));
    }
    pl_free(order);
    pl_free(labels);
    opt_sgd_destroy(&sgd);
    return rc;
}

int search_recover(search_result *r, const search_data *data, const search_options *o,
                   int step, const char *name)
{
    if (o->recovery_steps <= 0 || !data->train) return PL_OK;
    int loss_node = -1;
    ig_graph *g = ig_graph_copy(r->model, r->logits_node, &loss_node);
    if (!g) return PL_ERR_INVAL; /* the message is recorded */
    PL_ASSERT(g->param_size == r->model->param_size && g->state_size == r->model->state_size);
    distill teacher = {0};
    int distilling = o->recovery_distill_weight > 0, rc = PL_OK;
    if (distilling) {
        PL_ASSERT(data->teacher != NULL);
        rc = distill_init(&teacher, data->teacher, data->teacher_input, data->teacher_logits, g,
                          r->input_node, r->logits_node, o->recovery_batch,
                          o->recovery_distill_weight, o->recovery_distill_temperature,
                          "search: recovery");
    }
    pl_threads_set(o->recovery_threads);
    if (rc == PL_OK)
        rc = train_steps(g, r->input_node, r->logits_node, loss_node, data->train,
                         distilling ? &teacher : NULL, o, step, name);
    pl_threads_set(1);
    distill_free(&teacher);
    if (rc == PL_OK) {
        memcpy(r->model->param, g->param, g->param_size * sizeof(float));
        memcpy(r->model->state, g->state, g->state_size * sizeof(float));
    }
    ig_graph_free(g);
    return rc;
}
