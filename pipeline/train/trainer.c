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

/* Loads the training and test splits of data.name from data.path (empty:
 * the dataset's standard place, when it has one) and picks its augmentation:
 * crops shifted by up to 2 pixels of 28 (Fashion-MNIST) or 4 of 32 (CIFAR-10,
 * the usual RandomCrop(32, padding=4)), and mirroring, which keeps the label
 * of both (clothes, CIFAR-10's objects and animals; not so for digits). */
static int load_dataset(trainer *t)
{
    const cfg_data *d = &t->cfg->data;
    const char *path = d->path[0] != '\0' ? d->path : NULL;
    if (strcmp(d->name, "fashion_mnist") == 0) {
        t->crop_pad = 2;
        t->flip = 1;
        return ds_load_fashion_mnist(path, &t->train, &t->test, 0, d->test_images);
    }
    if (strcmp(d->name, "cifar10") == 0) {
        t->crop_pad = 4;
        t->flip = 1;
        if (!path)
            PL_FAIL(PL_ERR_CONFIG, "data.path: CIFAR-10 has no standard place; set data.path to "
                    "the cifar-10-batches-bin folder (CIFAR-10's binary version, "
                    "cifar-10-binary.tar.gz)");
        return ds_load_cifar10(path, &t->train, &t->test, 0, d->test_images);
    }
    PL_FAIL(PL_ERR_CONFIG, "data.name: unknown dataset '%s'", d->name);
}

static int prepare_data(trainer *t)
{
    const cfg_data *d = &t->cfg->data;
    PL_TRY(load_dataset(t));
    if (d->validation_images >= t->train.n)
        PL_FAIL(PL_ERR_CONFIG, "data.validation_images: %d leaves no training images (the "
                "training split has %d)", d->validation_images, t->train.n);
    PL_TRY(ds_split(&t->train, &t->val, d->validation_images, (uint64_t)t->cfg->seed));
    if (d->train_images > 0) {
        if (d->train_images > t->train.n)
            PL_FAIL(PL_ERR_CONFIG, "data.train_images: %d requested but only %d remain after "
                    "the validation split", d->train_images, t->train.n);
        t->train.n = d->train_images; /* the split already shuffled them */
    }
    t->src_c = t->train.c;
    t->src_h = t->train.h;
    t->src_w = t->train.w;
    int size = t->cfg->model.input_size;
    t->in_h = size > 0 ? size : t->src_h;
    t->in_w = size > 0 ? size : t->src_w;
    if (t->in_h < t->src_h || t->in_w < t->src_w)
        PL_FAIL(PL_ERR_CONFIG, "model.input_size: %d is smaller than the %dx%d images (only "
                "zero-padding to a larger size is supported)", size, t->src_h, t->src_w);
    if (t->src_c < 1 || t->src_c > DS_MAX_CHANNELS)
        PL_FAIL(PL_ERR_INVAL, "%s: %d channels (at most %d are supported)", t->train.name,
                t->src_c, DS_MAX_CHANNELS);
    for (int c = 0; c < t->src_c; c++)
        t->pad_value[c] = t->train.std[c] > 0 ? -t->train.mean[c] / t->train.std[c] : 0.0f;
    return PL_OK;
}

/* Writes count examples of set (indices idx) into the graph's input and
 * t->labels, zero-padding to the model's input size when it is larger;
 * augment: the dataset's crop and mirror (see load_dataset). */
static void load_batch(trainer *t, const ds_set *set, const int32_t *idx, int count, int augment)
{
    float *input = ig_value(t->g, t->nodes.input);
    int padding = t->in_h != t->src_h || t->in_w != t->src_w;
    float *dst = padding ? t->staging : input;
    if (augment)
        ds_gather_augmented(set, idx, count, dst, t->labels, t->crop_pad, t->flip,
                            (uint64_t)t->cfg->seed, t->step);
    else
        ds_gather(set, idx, count, dst, t->labels);
    if (!padding) return;
    int top = (t->in_h - t->src_h) / 2, left = (t->in_w - t->src_w) / 2;
    size_t plane = (size_t)t->in_h * t->in_w;
    for (int n = 0; n < count; n++)
        for (int c = 0; c < t->src_c; c++) {
            float *out = input + ((size_t)n * t->src_c + c) * plane;
            const float *in = t->staging + ((size_t)n * t->src_c + c) * t->src_h * t->src_w;
            for (size_t i = 0; i < plane; i++) out[i] = t->pad_value[c];
            for (int y = 0; y < t->src_h; y++)
                memcpy(out + (size_t)(y + top) * t->in_w + left, in + (size_t)y * t->src_w,
                       (size_t)t->src_w * sizeof *in);
        }
}

/* ---- graph and optimizer -------------------------------------------------- */

static int build(trainer *t)
{
    const cfg_experiment *cfg = t->cfg;
    if (t->opt->initial) {
        /* Fine-tuning: the given graph and weights, with a loss node. */
        const ig_graph *init = t->opt->initial;
        t->nodes.input = t->opt->initial_input;
        t->nodes.logits = t->opt->initial_logits;
        const ig_shape *in = &init->nodes[t->nodes.input].shape;
        if (in->c != t->src_c || in->h != t->in_h || in->w != t->in_w)
            PL_FAIL(PL_ERR_SHAPE, "%s: the model takes (%d,%d,%d) inputs, the data gives "
                    "(%d,%d,%d)", t->stage, in->c, in->h, in->w, t->src_c, t->in_h, t->in_w);
        t->loss_node = -1;
        for (int i = 0; i < init->n_nodes; i++)
            if (init->nodes[i].op == IG_OP_SOFTMAX_XENT) t->loss_node = i;
        t->g = ig_graph_copy(init, t->loss_node < 0 ? t->nodes.logits : -1, &t->loss_node);
        PL_TRY(t->g ? PL_OK : PL_ERR_INVAL);
    } else {
        t->g = ig_graph_alloc();
        model_spec spec = {.in_c = t->src_c, .in_h = t->in_h, .in_w = t->in_w,
                           .classes = t->train.classes, .width = (float)cfg->model.width,
                           .dropout = (float)cfg->model.dropout};
        snprintf(spec.name, sizeof spec.name, "%s", cfg->model.name);
        PL_TRY(model_build(t->g, &spec, &t->nodes));
        PL_TRY(t->loss_node = ig_softmax_xent(t->g, t->nodes.logits));
        PL_TRY(ig_graph_finalize(t->g));
        ig_graph_init_params(t->g, (uint64_t)cfg->seed);
    }

    t->batch = t->recipe->batch_size;
    if (t->train.n < t->batch)
        PL_FAIL(PL_ERR_CONFIG, "%s.batch_size: %d is larger than the %d training images",
                t->stage, t->batch, t->train.n);
    PL_TRY(ig_graph_plan(t->g, t->batch));
    t->staging = pl_xmalloc((size_t)t->batch * t->src_c * t->src_h * t->src_w * sizeof(float));
    t->order = pl_xmalloc((size_t)t->train.n * sizeof(int32_t));
    t->labels = pl_xmalloc((size_t)t->batch * sizeof(int32_t));

    opt_sgd_config sgd = {.momentum = (float)t->recipe->momentum, .nesterov = t->recipe->nesterov,
                          .weight_decay = (float)t->recipe->weight_decay,
                          .decay_all = t->recipe->decay_bn_and_bias};
    PL_TRY(opt_sgd_init(&t->sgd, t->g, &sgd));

    t->steps_per_epoch = t->train.n / t->batch; /* the last partial batch is dropped */
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
                                    t->train.classes);
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
    fprintf(stderr, "\rtrain: epoch %d/%d step %d/%d loss %.4f acc %5.1f%% %6.0f img/s ETA %d:%02d ",
            epoch + 1, epochs, step, t->steps_per_epoch, loss, 100 * acc, rate, (int)eta / 60,
            (int)eta % 60);
    fflush(stderr);
}

static int train_epoch(trainer *t, int epoch)
{
    PL_TRY(ig_set_training(t->g, 1));
    ds_epoch_order(t->order, t->train.n, (uint64_t)t->cfg->seed, epoch);
    double loss_sum = 0, started = now_seconds(), last_shown = 0;
    int64_t correct = 0, seen = 0;
    float lr = 0;
    for (int s = 0; s < t->steps_per_epoch; s++) {
        load_batch(t, &t->train, t->order + (size_t)s * t->batch, t->batch, t->cfg->data.augment);
        ig_forward(t->g, t->labels); /* counts g->step: the dropout masks follow it */
        float loss = t->g->loss;
        if (!isfinite(loss))
            PL_FAIL(PL_ERR_NUMERIC, "epoch %d step %d (global step %lld): the training loss is "
                    "%g; lower train.lr (%g) or check the data", epoch + 1, s + 1,
                    (long long)t->step + 1, (double)loss, t->recipe->lr);
        ig_zero_grad(t->g);
        ig_backward(t->g, t->loss_node);
        lr = lr_schedule_at(&t->schedule, (int)t->step);
        opt_sgd_step(&t->sgd, t->g, lr);
        t->step++;
        loss_sum += (double)loss * t->batch;
        correct += nn_count_correct(ig_value(t->g, t->nodes.logits), t->labels, t->batch,
                                    t->train.classes);
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
    PL_TRY(evaluate(t, &t->val, &val_loss, &val_acc));
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

static void trainer_destroy(trainer *t)
{
    ds_set_free(&t->train);
    ds_set_free(&t->val);
    ds_set_free(&t->test);
    opt_sgd_destroy(&t->sgd);
    ig_graph_free(t->g);
    pl_free(t->staging);
    pl_free(t->order);
    pl_free(t->labels);
    pl_free(t->curve_loss);
    pl_free(t->curve_acc);
    pl_free(t->curve_val_loss);
    pl_free(t->curve_val_acc);
    pl_free(t->curve_lr);
    pl_free(t->curve_seconds);
    free(t->fingerprint);
}

static int run(trainer *t, train_result *result)
{
    h5io_now_iso8601(t->start_time, sizeof t->start_time);
    pl_threads_set(t->cfg->threads);
    PL_TRY(cfg_fingerprint(t->cfg, t->stage, &t->fingerprint));
    PL_TRY(prepare_data(t));
    PL_TRY(build(t));
    int resumed = train_checkpoint_load(t);
    PL_TRY(resumed);
    result->resumed_from = t->epochs_done;
    if (resumed)
        printf("%s: resuming after epoch %d from %s\n", t->stage, t->epochs_done,
               t->opt->checkpoint_path);
    printf("%s: %s: %d training, %d validation, %d test images; %zu parameters, %.1f "
           "MFLOPs per image\n", t->stage, t->cfg->name, t->train.n, t->val.n, t->test.n,
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
    PL_TRY(evaluate(t, &t->test, &test_loss, &test_acc));
    double val_acc = t->curve_val_acc[t->epochs_done - 1]; /* the final weights' */
    PL_TRY(train_write_baseline(t, test_loss, test_acc));
    result->epochs_done = t->epochs_done;
    result->test_accuracy = test_acc;
    result->val_accuracy = val_acc;
    result->train_seconds = t->train_seconds;
    result->images_per_second = t->train_seconds > 0 ? t->images_trained / t->train_seconds : 0;
    printf("%s: test accuracy %.2f%% (%d images), validation %.2f%%; wrote %s\n", t->stage,
           100 * test_acc, t->test.n, 100 * val_acc, t->opt->artifact_path);
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
