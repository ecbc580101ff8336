/* train_io.c: the train stage's artifacts: the per-epoch checkpoint
 * (gos.checkpoint: graph, optimizer velocity, progress, curves so far) and
 * the final baseline (gos.baseline: graph, curves, metrics, data). Both are
 * written atomically by h5io. */
#include "trainer_internal.h"
#include "h5io.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void provenance(const trainer *t, const char *schema, h5io_provenance *p)
{
    memset(p, 0, sizeof *p);
    p->schema = schema;
    snprintf(p->stage, sizeof p->stage, "%s", t->stage);
    snprintf(p->experiment, sizeof p->experiment, "%s", t->cfg->name);
    p->config_text = t->cfg->resolved_text;
    p->seed = t->cfg->seed;
    p->threads = 0;
    snprintf(p->start_time, sizeof p->start_time, "%s", t->start_time);
}

/* The /train curve datasets, in the order they are written and read. */
enum { N_CURVES = 6 };
static const char *const curve_dsets[N_CURVES] = {
    "/train/loss", "/train/accuracy", "/train/val_loss",
    "/train/val_accuracy", "/train/lr", "/train/seconds"};

/* The trainer's array (epochs) behind curve_dsets[k]. */
static double *curve_array(const trainer *t, int k)
{
    double *const arrays[N_CURVES] = {t->curve_loss, t->curve_acc, t->curve_val_loss,
                                      t->curve_val_acc, t->curve_lr, t->curve_seconds};
    return arrays[k];
}

/* The /train curves for the first `epochs` epochs. */
static int write_curves(h5io_writer *w, const trainer *t, int epochs)
{
    int64_t dims[1] = {epochs};
    for (int k = 0; k < N_CURVES; k++)
        PL_TRY(h5io_write_f64(w, curve_dsets[k], curve_array(t, k), 1, dims));
    return PL_OK;
}

static int write_checkpoint_body(h5io_writer *w, const trainer *t)
{
    PL_TRY(h5io_write_graph(w, "/graph", t->g));
    PL_TRY(write_curves(w, t, t->epochs_done));
    int64_t dims[1] = {(int64_t)t->g->param_size};
    PL_TRY(h5io_write_f32(w, "/optimizer/velocity", t->sgd.velocity, 1, dims));
    PL_TRY(h5io_write_group(w, "/progress"));
    PL_TRY(h5io_write_attr_i64(w, "/progress", "epoch_done", t->epochs_done));
    PL_TRY(h5io_write_attr_i64(w, "/progress", "step", t->step));
    PL_TRY(h5io_write_attr_string(w, "/progress", "fingerprint", t->fingerprint));
    PL_TRY(h5io_write_attr_f64(w, "/progress", "train_seconds", t->train_seconds));
    PL_TRY(h5io_write_attr_i64(w, "/progress", "images_trained", t->images_trained));
    /* Data order, augmentation and dropout are counter-based functions of
     * (seed, epoch, step): the step and the dropout seed are the whole state. */
    int64_t rng[2] = {(int64_t)t->g->dropout_seed, (int64_t)t->g->step};
    int64_t rng_dims[1] = {2};
    PL_TRY(h5io_write_i64(w, "/progress/rng_state", rng, 1, rng_dims));
    return PL_OK;
}

int train_checkpoint_save(trainer *t)
{
    h5io_writer w;
    h5io_provenance p;
    provenance(t, "gos.checkpoint", &p);
    PL_TRY(h5io_create(&w, t->opt->checkpoint_path, &p));
    int rc = write_checkpoint_body(&w, t);
    if (rc < 0) {
        h5io_abort(&w);
        return rc;
    }
    return h5io_commit(&w);
}

/* Reads the checkpoint into t; 1 when restored, 0 when it does not fit. */
static int read_checkpoint(h5io_reader *r, trainer *t)
{
    char *fingerprint = NULL;
    PL_TRY(h5io_read_attr_string(r, "/progress", "fingerprint", &fingerprint));
    int same = strcmp(fingerprint, t->fingerprint) == 0;
    pl_free(fingerprint);
    int64_t epoch_done = 0, step = 0, images = 0;
    double seconds = 0;
    PL_TRY(h5io_read_attr_i64(r, "/progress", "epoch_done", &epoch_done));
    PL_TRY(h5io_read_attr_i64(r, "/progress", "step", &step));
    int rank;
    int64_t dims[H5IO_MAX_RANK];
    PL_TRY(h5io_dataset_shape(r, "/graph/params", &rank, dims));
    if (!same || dims[0] != (int64_t)t->g->param_size || epoch_done < 1 ||
        epoch_done >= t->recipe->epochs || step != epoch_done * t->steps_per_epoch) {
        printf("%s: ignoring %s: it was made for another configuration or model\n",
               t->stage, r->path);
        return 0;
    }
    int64_t params[1] = {(int64_t)t->g->param_size}, state[1] = {(int64_t)t->g->state_size};
    int64_t epochs[1] = {epoch_done};
    PL_TRY(h5io_read_f32(r, "/graph/params", t->g->param, 1, params));
    PL_TRY(h5io_read_f32(r, "/graph/state", t->g->state, 1, state));
    PL_TRY(h5io_read_f32(r, "/optimizer/velocity", t->sgd.velocity, 1, params));
    for (int k = 0; k < N_CURVES; k++)
        PL_TRY(h5io_read_f64(r, curve_dsets[k], curve_array(t, k), 1, epochs));
    PL_TRY(h5io_read_attr_f64(r, "/progress", "train_seconds", &seconds));
    PL_TRY(h5io_read_attr_i64(r, "/progress", "images_trained", &images));
    int64_t rng[2], rng_dims[1] = {2};
    PL_TRY(h5io_read_i64(r, "/progress/rng_state", rng, 1, rng_dims));
    t->g->dropout_seed = (uint64_t)rng[0];
    t->g->step = (uint64_t)rng[1];
    t->epochs_done = (int)epoch_done;
    t->step = step;
    t->train_seconds = seconds;
    t->images_trained = images;
    return 1;
}

int train_checkpoint_load(trainer *t)
{
    const char *path = t->opt->checkpoint_path;
    if (!path || access(path, F_OK) != 0) return 0;
    h5io_reader r;
    PL_TRY(h5io_open(&r, path, "gos.checkpoint"));
    int rc = read_checkpoint(&r, t);
    h5io_close(&r);
    return rc;
}

static int write_baseline_body(h5io_writer *w, const trainer *t, double test_loss,
                               double test_acc)
{
    double val_acc = t->curve_val_acc[t->epochs_done - 1];
    PL_TRY(h5io_write_graph(w, "/graph", t->g));
    PL_TRY(write_curves(w, t, t->epochs_done));
    PL_TRY(h5io_write_group(w, "/metrics"));
    PL_TRY(h5io_write_attr_f64(w, "/metrics", "test_accuracy", test_acc));
    PL_TRY(h5io_write_attr_f64(w, "/metrics", "val_accuracy", val_acc));
    PL_TRY(h5io_write_attr_f64(w, "/metrics", "test_loss", test_loss));
    PL_TRY(h5io_write_attr_i64(w, "/metrics", "test_images", t->data.test.n));
    PL_TRY(h5io_write_attr_i64(w, "/metrics", "val_images", t->data.val.n));
    PL_TRY(h5io_write_attr_i64(w, "/metrics", "train_images", t->data.train.n));
    PL_TRY(h5io_write_attr_i64(w, "/metrics", "param_count", (int64_t)ig_graph_param_count(t->g)));
    PL_TRY(h5io_write_attr_f64(w, "/metrics", "flops", ig_graph_flops(t->g)));
    PL_TRY(h5io_write_attr_f64(w, "/metrics", "train_seconds", t->train_seconds));
    PL_TRY(h5io_write_attr_f64(w, "/metrics", "images_per_second",
                               t->train_seconds > 0 ? t->images_trained / t->train_seconds : 0));
    PL_TRY(h5io_write_group(w, "/data"));
    PL_TRY(h5io_write_attr_string(w, "/data", "dataset", t->cfg->data.name));
    double mean[DS_MAX_CHANNELS], std[DS_MAX_CHANNELS]; /* (src_c) */
    for (int c = 0; c < t->data.src_c; c++) {
        mean[c] = t->data.train.mean[c];
        std[c] = t->data.train.std[c];
    }
    int64_t channels[1] = {t->data.src_c};
    PL_TRY(h5io_write_f64(w, "/data/mean", mean, 1, channels));
    PL_TRY(h5io_write_f64(w, "/data/std", std, 1, channels));
    PL_TRY(h5io_write_attr_i64(w, "/data", "input_c", t->data.src_c));
    PL_TRY(h5io_write_attr_i64(w, "/data", "input_h", t->data.in_h));
    PL_TRY(h5io_write_attr_i64(w, "/data", "input_w", t->data.in_w));
    PL_TRY(h5io_write_attr_i64(w, "/data", "classes", t->data.train.classes));
    PL_TRY(h5io_write_attr_i64(w, "/data", "input_node", t->nodes.input));
    PL_TRY(h5io_write_attr_i64(w, "/data", "logits_node", t->nodes.logits));
    if (t->train_logits) {
        int64_t dims[2] = {t->data.train.n, t->data.train.classes};
        PL_TRY(h5io_write_f32(w, "/data/train_logits", t->train_logits, 2, dims));
    }
    return PL_OK;
}

int train_write_baseline(trainer *t, double test_loss, double test_accuracy)
{
    h5io_writer w;
    h5io_provenance p;
    provenance(t, t->opt->schema ? t->opt->schema : "gos.baseline", &p);
    PL_TRY(h5io_create(&w, t->opt->artifact_path, &p));
    int rc = write_baseline_body(&w, t, test_loss, test_accuracy);
    if (rc < 0) {
        h5io_abort(&w);
        return rc;
    }
    return h5io_commit(&w);
}

/* The table of r's /data/train_logits into *table (*rows rows). */
static int read_logits(h5io_reader *r, float **table, int64_t *rows)
{
    if (!h5io_exists(r, "/data/train_logits")) return PL_OK;
    int64_t images = 0, classes = 0, dims[H5IO_MAX_RANK];
    int rank = 0;
    PL_TRY(h5io_read_attr_i64(r, "/metrics", "train_images", &images));
    PL_TRY(h5io_read_attr_i64(r, "/data", "classes", &classes));
    PL_TRY(h5io_read_f32_alloc(r, "/data/train_logits", table, &rank, dims));
    if (rank != 2 || dims[0] != images || dims[1] != classes)
        PL_FAIL(PL_ERR_SCHEMA, "%s: /data/train_logits: expected (%lld, %lld) for its training "
                "images and classes, found rank %d (%lld, %lld)", r->path, (long long)images,
                (long long)classes, rank, (long long)dims[0], (long long)(rank > 1 ? dims[1] : 0));
    for (int64_t i = 0; i < images * classes; i++)
        if (!isfinite((*table)[i]))
            PL_FAIL(PL_ERR_NUMERIC, "%s: /data/train_logits: image %lld, class %lld is %g: the "
                    "artifact is corrupt", r->path, (long long)(i / classes),
                    (long long)(i % classes), (double)(*table)[i]);
    *rows = images;
    return PL_OK;
}

int train_read_logits(const char *baseline_path, float **table, int64_t *rows)
{
    *table = NULL;
    *rows = 0;
    h5io_reader r;
    PL_TRY(h5io_open(&r, baseline_path, "gos.baseline"));
    int rc = read_logits(&r, table, rows);
    h5io_close(&r);
    if (rc < 0) {
        pl_free(*table);
        *table = NULL;
        *rows = 0;
    }
    return rc;
}
