/* trainer.c: the train stage's loop: load and split the data, build the
 * model graph, run SGD epoch by epoch with a live progress line, validate,
 * checkpoint, and finally measure test accuracy and write the baseline. */
#include "trainer_internal.h"
#include "h5io.h"
#include "nn_loss.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "pl_threads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- data --------------------------------------------------------------- */

/* Writes count examples of set (indices idx) into the graph's input and
 * t->labels at the model's input size; augment: the dataset's crop and
 * mirror (see ds_experiment.h). */
static void load_batch(trainer *t, const ds_set *set, const int32_t *idx, int count, int augment)
{
    ds_experiment_batch(&t->data, set, idx, count, augment, (uint64_t)t->cfg->seed, t->step,
                        ig_value(t->g, t->nodes.input), t->labels);
}

/* ---- graph and optimizer -------------------------------------------------- */

/* Distillation's teacher, when asked for (distill.h). */
static int build_teacher(trainer *t)
{
    const train_options *o = t->opt;
    if (!(o->distill_weight > 0)) return PL_OK;
    PL_ASSERT(o->teacher != NULL);
    PL_TRY(distill_init(&t->distill, o->teacher, o->teacher_input, o->teacher_logits, t->g,
                        t->nodes.input, t->nodes.logits, t->batch, o->distill_weight,
                        o->distill_temperature, t->stage));
    t->distilling = 1;
    if (o->teacher_table)
        distill_use_table(&t->distill, o->teacher_table, o->teacher_rows, t->data.train.n);
    return PL_OK;
}

/* One step's loss and gradients on the batch of training images rows: the
 * labels' cross-entropy (the graph's loss node), or, with a teacher, the
 * distillation loss seeded at the logits. Returns the loss. */
static float loss_and_gradients(trainer *t, const int32_t *rows)
{
    ig_forward(t->g, t->labels); /* counts g->step: the dropout masks follow it */
    ig_zero_grad(t->g);
    if (!t->distilling) {
        ig_backward(t->g, t->loss_node);
        return t->g->loss;
    }
    /* augmented batches are not the images the table's rows were made of */
    return distill_backward(&t->distill, t->g, t->nodes.input, t->nodes.logits, t->labels,
                            t->cfg->data.augment ? NULL : rows);
}

static int build(trainer *t)
{
    const cfg_experiment *cfg = t->cfg;
    if (t->opt->initial) {
        /* Fine-tuning: the given graph and weights, with a loss node. */
        const ig_graph *init = t->opt->initial;
        t->nodes.input = t->opt->initial_input;
        t->nodes.logits = t->opt->initial_logits;
        const ig_shape *in = &init->nodes[t->nodes.input].shape;
        if (in->c != t->data.src_c || in->h != t->data.in_h || in->w != t->data.in_w)
            PL_FAIL(PL_ERR_SHAPE, "%s: the model takes (%d,%d,%d) inputs, the data gives "
                    "(%d,%d,%d)", t->stage, in->c, in->h, in->w, t->data.src_c, t->data.in_h, t->data.in_w);
        t->loss_node = -1;
        for (int i = 0; i < init->n_nodes; i++)
            if (init->nodes[i].op == IG_OP_SOFTMAX_XENT) t->loss_node = i;
        t->g = ig_graph_copy(init, t->loss_node < 0 ? t->nodes.logits : -1, &t->loss_node);
        PL_TRY(t->g ? PL_OK : PL_ERR_INVAL);
    } else {
        t->g = ig_graph_alloc();
        model_spec spec = {.in_c = t->data.src_c, .in_h = t->data.in_h, .in_w = t->data.in_w,
                           .classes = t->data.train.classes, .width = (float)cfg->model.width,
                           .dropout = (float)cfg->model.dropout};
        snprintf(spec.name, sizeof spec.name, "%s", cfg->model.name);
        PL_TRY(model_build(t->g, &spec, &t->nodes));
        PL_TRY(t->loss_node = ig_softmax_xent(t->g, t->nodes.logits));
        PL_TRY(ig_graph_finalize(t->g));
        ig_graph_init_params(t->g, (uint64_t)cfg->seed);
    }

    t->batch = t->recipe->batch_size;
    if (t->data.train.n < t->batch)
        PL_FAIL(PL_ERR_CONFIG, "train.batch_size: %d is larger than the %d training images "
                "(%s uses it)", t->batch, t->data.train.n, t->stage);
    PL_TRY(ig_graph_plan(t->g, t->batch));
    t->order = pl_xmalloc((size_t)t->data.train.n * sizeof(int32_t));
    t->labels = pl_xmalloc((size_t)t->batch * sizeof(int32_t));
    PL_TRY(build_teacher(t));

    opt_sgd_config sgd = {.momentum = (float)t->recipe->momentum, .nesterov = t->recipe->nesterov,
                          .weight_decay = (float)t->recipe->weight_decay,
                          .decay_all = t->recipe->decay_bn_and_bias};
    PL_TRY(opt_sgd_init(&t->sgd, t->g, &sgd));

    t->steps_per_epoch = t->data.train.n / t->batch; /* the last partial batch is dropped */
    int epochs = t->recipe->epochs;
    t->schedule = (lr_schedule){.kind = (lr_kind)lr_kind_from_name(t->recipe->schedule),
                                .base_lr = (float)t->recipe->lr,
                                .warmup_steps = t->recipe->warmup_epochs * t->steps_per_epoch,
                                .warmup_start_factor = 0.1f,
                                .step_size = t->recipe->step_epochs * t->steps_per_epoch,
                                .gamma = (float)t->recipe->gamma,
                                .min_lr = (float)t->recipe->min_lr,
                                .total_steps = epochs * t->steps_per_epoch};
    if (lr_schedule_check(&t->schedule) < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", pl_last_error());
        PL_FAIL(PL_ERR_CONFIG, "%s: %s", t->stage, why);
    }
    double **curves[] = {&t->curve_loss, &t->curve_acc, &t->curve_val_loss, &t->curve_val_acc,
                         &t->curve_lr, &t->curve_seconds};
    for (size_t k = 0; k < sizeof curves / sizeof curves[0]; k++)
        *curves[k] = pl_xcalloc((size_t)epochs, sizeof(double));
    return PL_OK;
}

/* ---- evaluation ----------------------------------------------------------- */

/* Mean loss and accuracy over a whole set in evaluation mode. */
static int evaluate(trainer *t, const ds_set *set, double *loss, double *accuracy)
{
    PL_TRY(ig_set_training(t->g, 0));
    double loss_sum = 0;
    int64_t correct = 0;
    int32_t idx[4096];
    for (int start = 0; start < set->n; start += t->batch) {
        int count = set->n - start < t->batch ? set->n - start : t->batch;
        if (count != t->g->batch) PL_TRY(ig_graph_plan(t->g, count));
        for (int i = 0; i < count; i++) idx[i] = start + i;
        load_batch(t, set, idx, count, 0);
        ig_forward(t->g, t->labels);
        if (!isfinite(t->g->loss))
            PL_FAIL(PL_ERR_NUMERIC, "evaluation on %s: the loss is %g at example %d", set->name,
                    (double)t->g->loss, start);
        loss_sum += (double)t->g->loss * count;
        correct += nn_count_correct(ig_value(t->g, t->nodes.logits), t->labels, count,
                                    t->data.train.classes);
    }
    if (t->g->batch != t->batch) PL_TRY(ig_graph_plan(t->g, t->batch));
    *loss = set->n ? loss_sum / set->n : 0.0;
    *accuracy = set->n ? (double)correct / set->n : 0.0;
    return PL_OK;
}

/* ---- training ------------------------------------------------------------- */

static void show_progress(const trainer *t, int epoch, int step, double loss, double acc,
                          double rate)
{
    int epochs = t->recipe->epochs;
    double remaining_steps = (double)(epochs - epoch) * t->steps_per_epoch - step;
    double eta = rate > 0 ? remaining_steps * t->batch / rate : 0;
    fprintf(stderr, "\r%s: epoch %d/%d step %d/%d loss %.4f acc %5.1f%% %6.0f img/s ETA %d:%02d ",
            t->stage, epoch + 1, epochs, step, t->steps_per_epoch, loss, 100 * acc, rate, (int)eta / 60,
            (int)eta % 60);
    fflush(stderr);
}

static int train_epoch(trainer *t, int epoch)
{
    PL_TRY(ig_set_training(t->g, 1));
    ds_epoch_order(t->order, t->data.train.n, (uint64_t)t->cfg->seed, epoch);
    double loss_sum = 0, started = now_seconds(), last_shown = 0;
    int64_t correct = 0, seen = 0;
    float lr = 0;
    for (int s = 0; s < t->steps_per_epoch; s++) {
        load_batch(t, &t->data.train, t->order + (size_t)s * t->batch, t->batch, t->cfg->data.augment);
        float loss = loss_and_gradients(t, t->order + (size_t)s * t->batch);
        if (!isfinite(loss))
            PL_FAIL(PL_ERR_NUMERIC, "epoch %d step %d (global step %lld): the training loss is "
                    "%g; lower %s.lr (%g) or check the data", epoch + 1, s + 1,
                    (long long)t->step + 1, (double)loss, t->stage, t->recipe->lr);
        lr = lr_schedule_at(&t->schedule, (int)t->step);
        opt_sgd_step(&t->sgd, t->g, lr);
        t->step++;
        loss_sum += (double)loss * t->batch;
        correct += nn_count_correct(ig_value(t->g, t->nodes.logits), t->labels, t->batch,
                                    t->data.train.classes);
        seen += t->batch;
        double now = now_seconds();
        if (t->opt->progress && (now - last_shown > 0.25 || s + 1 == t->steps_per_epoch)) {
            show_progress(t, epoch, s + 1, loss_sum / seen, (double)correct / seen,
                          seen / (now - started));
            last_shown = now;
        }
    }
    double seconds = now_seconds() - started;
    if (t->opt->progress) fputc('\n', stderr);
    t->train_seconds += seconds;
    t->images_trained += seen;
    double val_loss = 0, val_acc = 0;
    PL_TRY(evaluate(t, &t->data.val, &val_loss, &val_acc));
    t->curve_loss[epoch] = loss_sum / seen;
    t->curve_acc[epoch] = (double)correct / seen;
    t->curve_val_loss[epoch] = val_loss;
    t->curve_val_acc[epoch] = val_acc;
    t->curve_lr[epoch] = lr;
    t->curve_seconds[epoch] = seconds;
    t->epochs_done = epoch + 1;
    printf("%s: epoch %d/%d loss %.4f acc %.2f%% val_loss %.4f val_acc %.2f%% lr %.4g "
           "%.1f s (%.0f img/s)\n", t->stage, epoch + 1, t->recipe->epochs, t->curve_loss[epoch],
           100 * t->curve_acc[epoch], val_loss, 100 * val_acc, (double)lr, seconds, seen / seconds);
    fflush(stdout);
    return PL_OK;
}

/* The train stage, on data without augmentation: the trained model's
 * logits on every training image, which distillation from the baseline
 * reads instead of running it (/data/train_logits). They are computed as
 * distillation's teacher computes them (a copy planned for inference at the
 * training batch: distill.c), so they are its outputs but for the last
 * bits, which depend on the other images of a batch. */
static int training_set_logits(trainer *t)
{
    if (t->opt->initial || t->cfg->data.augment) return PL_OK;
    const double started = now_seconds();
    const int n = t->data.train.n, K = t->data.train.classes;
    ig_graph *g = ig_graph_copy(t->g, -1, NULL);
    if (!g) return PL_ERR_INVAL; /* the message is recorded */
    t->train_logits = pl_xmalloc((size_t)n * K * sizeof(float));
    int32_t *idx = pl_xmalloc((size_t)t->batch * sizeof *idx);
    int rc = PL_OK;
    for (int start = 0; start < n && rc == PL_OK; start += t->batch) {
        const int count = n - start < t->batch ? n - start : t->batch;
        if (count != g->batch) rc = ig_graph_plan_inference(g, count);
        if (rc < 0) break;
        for (int i = 0; i < count; i++) idx[i] = start + i;
        ds_experiment_batch(&t->data, &t->data.train, idx, count, 0, (uint64_t)t->cfg->seed,
                            t->step, ig_value(g, t->nodes.input), NULL);
        ig_forward(g, NULL);
        const float *z = ig_value(g, t->nodes.logits);
        for (int j = 0; j < count * K && rc == PL_OK; j++)
            if (!isfinite(z[j]))
                rc = pl_error(PL_ERR_NUMERIC, __FILE__, __LINE__, "%s: the trained model's "
                              "logit %d on training image %d is %g", t->stage, j % K,
                              start + j / K, (double)z[j]);
        memcpy(t->train_logits + (size_t)start * K, z, (size_t)count * K * sizeof(float));
    }
    pl_free(idx);
    ig_graph_free(g);
    if (rc == PL_OK)
        printf("%s: logits on the %d training images, for distillation: %.1f s\n", t->stage, n,
               now_seconds() - started);
    return rc;
}

static void trainer_destroy(trainer *t)
{
    ds_experiment_free(&t->data);
    opt_sgd_destroy(&t->sgd);
    ig_graph_free(t->g);
    distill_free(&t->distill);
    pl_free(t->order);
    pl_free(t->labels);
    pl_free(t->curve_loss);
    pl_free(t->curve_acc);
    pl_free(t->curve_val_loss);
    pl_free(t->curve_val_acc);
    pl_free(t->curve_lr);
    pl_free(t->curve_seconds);
    pl_free(t->train_logits);
    free(t->fingerprint);
}

static int run(trainer *t, train_result *result)
{
    h5io_now_iso8601(t->start_time, sizeof t->start_time);
    pl_threads_set(t->cfg->threads);
    PL_TRY(cfg_fingerprint(t->cfg, t->stage, &t->fingerprint));
    PL_TRY(ds_experiment_load(&t->data, t->cfg, t->recipe->batch_size));
    PL_TRY(build(t));
    int resumed = train_checkpoint_load(t);
    PL_TRY(resumed);
    result->resumed_from = t->epochs_done;
    if (resumed)
        printf("%s: resuming after epoch %d from %s\n", t->stage, t->epochs_done,
               t->opt->checkpoint_path);
    printf("%s: %s: %d training, %d validation, %d test images; %zu parameters, %.1f "
           "MFLOPs per image\n", t->stage, t->cfg->name, t->data.train.n, t->data.val.n, t->data.test.n,
           ig_graph_param_count(t->g), ig_graph_flops(t->g) / 1e6);
    fflush(stdout);
    for (int epoch = t->epochs_done; epoch < t->recipe->epochs; epoch++) {
        PL_TRY(train_epoch(t, epoch));
        result->epochs_done = t->epochs_done;
        if (epoch + 1 < t->recipe->epochs && t->opt->checkpoint_path) {
            PL_TRY(train_checkpoint_save(t));
            if (t->opt->stop_after_epoch > 0 && epoch + 1 >= t->opt->stop_after_epoch) {
                result->stopped_early = 1;
                printf("%s: stopped after epoch %d as asked; the checkpoint resumes it\n",
                       t->stage, epoch + 1);
                return PL_OK;
            }
        }
    }
    double test_loss, test_acc;
    PL_TRY(evaluate(t, &t->data.test, &test_loss, &test_acc));
    PL_TRY(training_set_logits(t));
    double val_acc = t->curve_val_acc[t->epochs_done - 1]; /* the final weights' */
    PL_TRY(train_write_baseline(t, test_loss, test_acc));
    result->epochs_done = t->epochs_done;
    result->test_accuracy = test_acc;
    result->val_accuracy = val_acc;
    result->train_seconds = t->train_seconds;
    result->images_per_second = t->train_seconds > 0 ? t->images_trained / t->train_seconds : 0;
    printf("%s: test accuracy %.2f%% (%d images), validation %.2f%%; wrote %s\n", t->stage,
           100 * test_acc, t->data.test.n, 100 * val_acc, t->opt->artifact_path);
    /* The run is complete: the checkpoint has served its purpose. */
    if (t->opt->checkpoint_path) remove(t->opt->checkpoint_path);
    return PL_OK;
}

int train_run(const train_options *opt, train_result *result)
{
    trainer t;
    memset(&t, 0, sizeof t);
    memset(result, 0, sizeof *result);
    t.opt = opt;
    t.cfg = opt->cfg;
    t.recipe = opt->recipe ? opt->recipe : &opt->cfg->train;
    t.stage = opt->stage ? opt->stage : "train";
    int rc = run(&t, result);
    if (rc < 0 && opt->progress) fputc('\n', stderr);
    trainer_destroy(&t);
    return rc;
}
