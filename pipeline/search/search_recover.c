/* search_recover.c: the recovery after a replacement (see search.h):
 * rounds of short SGD runs of the whole adapted model on training images,
 * on the labels or distilling the baseline, so the accuracy a replacement
 * cost is won back before the next operator's candidates are measured
 * against the baseline. The validation accuracy judges every round: the
 * model keeps the best weights seen, its own included. Deterministic under
 * the seed and the step index (with one thread). */
#include "search_internal.h"
#include "distill.h"
#include "lr_schedule.h"
#include "opt_sgd.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "pl_threads.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Trains g (with its loss node after logits_node) for o->recovery_steps
 * steps, the rate restarting at o->recovery_lr; teacher (may be NULL)
 * distils. Round r of a recovery reads the training stream from step
 * r * o->recovery_steps on, so every round sees new batches. Returns PL_OK,
 * DIVERGED when the loss stopped being finite after the recovery's first
 * step (the round is to be undone), or a negative status: a loss not
 * finite at the first step means the model or the data is broken. */
enum { DIVERGED = 1 };

static int train_steps(ig_graph *g, int input_node, int logits_node, int loss_node,
                       ds_experiment *data, distill *teacher, const search_options *o, int step,
                       int round, const char *name)
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
    int64_t first = (int64_t)round * o->recovery_steps;
    if (first % per_epoch) ds_epoch_order(order, n, seed, (int)(first / per_epoch));
    for (int s = 0; s < o->recovery_steps && rc == PL_OK; s++) {
        int64_t at = first + s; /* in the step's training stream */
        int within = (int)(at % per_epoch);
        if (within == 0) ds_epoch_order(order, n, seed, (int)(at / per_epoch));
        ds_experiment_batch(data, &data->train, order + (size_t)within * batch, batch, 0, seed,
                            at, ig_value(g, input_node), labels);
        ig_forward(g, labels);
        ig_zero_grad(g);
        float loss = g->loss;
        if (teacher)
            loss = distill_backward(teacher, g, input_node, logits_node, labels,
                                    order + (size_t)within * batch);
        if (!isfinite(loss) && at > 0) {
            fprintf(stderr, "search: recovery after %s: the training loss is not finite (%g) at "
                    "step %lld: round %d is undone (a lower search.recovery_lr, %g, may "
                    "recover more)\n", name, (double)loss, (long long)at + 1, round + 1,
                    o->recovery_lr);
            rc = DIVERGED;
            break;
        }
        if (!isfinite(loss)) {
            rc = pl_error(PL_ERR_NUMERIC, __FILE__, __LINE__, "search: recovery after %s: the "
                          "training loss is not finite (%g) at its first step: the model "
                          "with the replacement or the training images are broken", name,
                          (double)loss);
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
                   int step, const char *name, double *accuracy, int *rounds)
{
    *rounds = 0;
    if (o->recovery_steps <= 0 || !data->train) return PL_OK;
    int loss_node = -1;
    ig_graph *g = ig_graph_copy(r->model, r->logits_node, &loss_node);
    if (!g) return PL_ERR_INVAL; /* the message is recorded */
    ig_graph *m = r->model;
    PL_ASSERT(g->param_size == m->param_size && g->state_size == m->state_size);
    distill teacher = {0};
    int distilling = o->recovery_distill_weight > 0, rc = PL_OK;
    if (distilling) {
        PL_ASSERT(data->teacher != NULL);
        rc = distill_init(&teacher, data->teacher, data->teacher_input, data->teacher_logits, g,
                          r->input_node, r->logits_node, o->recovery_batch,
                          o->recovery_distill_weight, o->recovery_distill_temperature,
                          "search: recovery");
        if (rc == PL_OK && data->teacher_table && !r->table_refused &&
            !distill_use_table(&teacher, data->teacher_table, data->teacher_rows,
                               data->train->train.n))
            r->table_refused = 1; /* said once, not per step */
    }
    const int table_used = teacher.table != NULL;
    /* r->model holds the best weights so far (its own at first), scoring
     * best; g trains on from them and replaces them only when it scores at
     * least as well, so an undone round needs nothing restored. */
    double best = *accuracy;
    const int threads_before = pl_threads_get();
    pl_threads_set(o->recovery_threads);
    for (int round = 0; rc == PL_OK && round < o->recovery_rounds; round++) {
        rc = train_steps(g, r->input_node, r->logits_node, loss_node, data->train,
                         distilling ? &teacher : NULL, o, step, round, name);
        if (rc != PL_OK && rc != DIVERGED) break;
        ++*rounds;
        if (rc == DIVERGED) { /* undone, and no round after it */
            rc = PL_OK;
            break;
        }
        double now = search_accuracy(g, r->input_node, r->logits_node, data->val_images,
                                     data->val_labels, data->n_val);
        if (!(now >= best)) break; /* undone (a NaN accuracy too) */
        int gained = now > best;
        best = now; /* kept (a tie too: more training behind it) */
        memcpy(m->param, g->param, m->param_size * sizeof(float));
        memcpy(m->state, g->state, m->state_size * sizeof(float));
        if (!gained || best >= r->base_accuracy) break;
    }
    pl_threads_set(threads_before);
    if (table_used && !teacher.table) r->table_refused = 1; /* likewise */
    distill_free(&teacher);
    *accuracy = best;
    ig_graph_free(g);
    return rc;
}
