/* test_search.c: the search (pipeline/search/search.c) on a small
 * ResNet18 with random weights whose validation labels are its own
 * predictions, so the baseline is 100% accurate and the epsilon constraint
 * bites: every replacement is feasible (accuracy within epsilon), faster
 * than the original on the predicted device, and recorded; every
 * generation's population is recorded; the adapted model is valid and its
 * accuracy is the last step's; the run is deterministic; with epsilon 0 no
 * candidate that changes a prediction can win, and fine-tuning slack widens
 * the constraint exactly as epsilon does. Recovery wins accuracy back, in
 * rounds that are undone when they cost accuracy or diverge. Stopped after
 * every single checkpoint and resumed each time, the search ends exactly as
 * an uninterrupted one; a checkpoint of another configuration is refused.
 * Equivalent candidates share one evaluation and come back as the scored
 * one, DAG included; kept steps record the model's accuracy as it stands;
 * search.max_step_drop bounds what one replacement costs. */
#include "check.h"
#include "models.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "pl_threads.h"
#include "search.h"
#include "search_internal.h"
#include "test_util.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { SIZE = 12, N_VAL = 48, N_SAMPLE = 32, N_TRAIN = 96 };

/* Labels of images (n, 1, SIZE, SIZE): g's own predictions. */
static void predict_labels(ig_graph *g, const model_nodes *nodes, const float *images, int n,
                           int32_t *labels)
{
    CHECK(ig_graph_plan(g, n) == PL_OK && ig_set_training(g, 0) == PL_OK, "plan");
    memcpy(ig_value(g, nodes->input), images, sizeof(float) * n * SIZE * SIZE);
    for (int i = 0; i <= nodes->logits; i++)
        if (g->nodes[i].op != IG_OP_INPUT) ig_forward_node(g, i);
    for (int j = 0; j < n; j++) {
        const float *z = ig_value(g, nodes->logits) + j * 10;
        labels[j] = 0;
        for (int c = 1; c < 10; c++)
            if (z[c] > z[labels[j]]) labels[j] = c;
    }
}

/* A training split of N_TRAIN images labelled by g, at the model's size. */
static void make_splits(ig_graph *g, const model_nodes *nodes, ds_experiment *x)
{
    memset(x, 0, sizeof *x);
    x->train = (ds_set){.n = N_TRAIN, .c = 1, .h = SIZE, .w = SIZE, .classes = 10,
                        .images = pl_xmalloc(N_TRAIN * SIZE * SIZE * sizeof(float)),
                        .labels = pl_xmalloc(N_TRAIN * sizeof(int32_t))};
    for (int i = 0; i < N_TRAIN * SIZE * SIZE; i++) x->train.images[i] = lcg_uniform();
    predict_labels(g, nodes, x->train.images, N_TRAIN, x->train.labels);
    x->src_c = 1, x->src_h = x->in_h = SIZE, x->src_w = x->in_w = SIZE;
    x->max_batch = 16;
}

static void recovery_options(search_options *o, int steps)
{
    o->recovery_steps = steps;
    o->recovery_rounds = 1;
    o->recovery_batch = 16;
    o->recovery_threads = 1;
    o->recovery_lr = 0.05;
    o->recovery_sgd = (opt_sgd_config){.momentum = 0.9f, .nesterov = 1};
}

/* Deletes dataset dset from the file at path, as a file written before the
 * dataset existed lacks it; a missing dataset is left as it is. */
static void drop_dataset(const char *path, const char *dset)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return;
    H5E_BEGIN_TRY { H5Ldelete(f, dset, H5P_DEFAULT); } H5E_END_TRY;
    H5Fclose(f);
}

/* Replaces the 2-D int64 dataset dset of the HDF5 file at path with one a
 * row shorter (zeros), as a damaged checkpoint might hold. Returns 1 when
 * done. */
static int shorten_dataset(const char *path, const char *dset)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return 0;
    int done = 0;
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    if (d >= 0) {
        hid_t space = H5Dget_space(d);
        hsize_t dims[2] = {0, 0};
        int rank = H5Sget_simple_extent_dims(space, dims, NULL);
        H5Sclose(space);
        H5Dclose(d);
        if (rank == 2 && dims[0] > 1 && H5Ldelete(f, dset, H5P_DEFAULT) >= 0) {
            dims[0]--;
            int64_t *zeros = pl_xcalloc(dims[0] * dims[1], sizeof *zeros);
            hid_t s2 = H5Screate_simple(2, dims, NULL);
            hid_t d2 = H5Dcreate2(f, dset, H5T_NATIVE_INT64, s2, H5P_DEFAULT, H5P_DEFAULT,
                                  H5P_DEFAULT);
            done = d2 >= 0 &&
                   H5Dwrite(d2, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros) >= 0;
            if (d2 >= 0) H5Dclose(d2);
            H5Sclose(s2);
            pl_free(zeros);
        }
    }
    H5Fclose(f);
    return done;
}

/* Damages a copy of g's weights into r (seeded) and returns its accuracy. */
static double damaged_copy(ig_graph *g, const model_nodes *nodes, const search_data *data,
                           search_result *r)
{
    memset(r, 0, sizeof *r);
    r->model = ig_graph_copy(g, -1, NULL);
    r->input_node = nodes->input;
    r->logits_node = nodes->logits;
    lcg_seed(17);
    for (size_t i = 0; i < r->model->param_size; i++)
        r->model->param[i] *= 1.0f + 1.2f * (lcg_uniform() - 0.5f);
    return search_accuracy(r->model, r->input_node, r->logits_node, data->val_images,
                           data->val_labels, data->n_val);
}

/* The teacher's logits on the training images (N_TRAIN, 10), as a
 * baseline keeps them (/data/train_logits). */
static float *teacher_table(const search_data *data)
{
    ig_graph *t = ig_graph_copy(data->teacher, -1, NULL);
    const ds_set *train = &data->train->train;
    float *table = pl_xmalloc((size_t)train->n * 10 * sizeof *table);
    enum { BATCH = 16 }; /* the recovery's, as the train stage's batch is finetune's */
    int rc = ig_graph_plan_inference(t, BATCH);
    for (int i = 0; i + BATCH <= train->n && rc == PL_OK; i += BATCH) {
        memcpy(ig_value(t, data->teacher_input), train->images + (size_t)i * SIZE * SIZE,
               BATCH * SIZE * SIZE * sizeof(float));
        ig_forward(t, NULL);
        memcpy(table + (size_t)i * 10, ig_value(t, data->teacher_logits),
               BATCH * 10 * sizeof(float));
    }
    CHECK(rc == PL_OK, "the teacher's table: %s", pl_last_error());
    ig_graph_free(t);
    return table;
}

/* Distilled recovery (o) reading the teacher's logits from a table: the
 * weights it reaches are those of running the teacher (ran) with the
 * table right, and others with a table right only for the first batch
 * (which checks it: the recovery of step 1, round 1 draws it); a table
 * wrong there, or short, is refused for the rest of the search, and the teacher's own
 * run gives bitwise its weights. */
static void check_recover_table(ig_graph *g, const model_nodes *nodes, const search_data *data,
                                const search_options *o, const float *ran)
{
    float *right = teacher_table(data);
    const int64_t rows = data->train->train.n;
    float *wrong = pl_xmalloc((size_t)rows * 10 * sizeof *wrong);
    for (int64_t i = 0; i < rows * 10; i++) wrong[i] = -right[i];
    int32_t order[N_TRAIN];
    ds_epoch_order(order, N_TRAIN, o->seed * 0x2545f4914f6cdd1dULL + 2, 0);
    for (int i = 0; i < o->recovery_batch; i++)
        memcpy(wrong + order[i] * 10, right + order[i] * 10, 10 * sizeof *wrong);
    float *negated = pl_xmalloc((size_t)rows * 10 * sizeof *negated);
    for (int64_t i = 0; i < rows * 10; i++) negated[i] = -right[i];
    for (int pass = 0; pass < 4; pass++) {
        search_data d = *data;
        d.teacher_table = pass == 0 ? right : pass == 1 ? wrong : negated;
        d.teacher_rows = pass == 3 ? rows - 1 : rows; /* pass 3: a short table */
        search_result r;
        double acc = damaged_copy(g, nodes, data, &r);
        r.base_accuracy = 1.0;
        int rounds = 0, rc = search_recover(&r, &d, o, 1, "layer1.0.conv1", &acc, &rounds);
        double diff = 0, scale = 0;
        for (size_t i = 0; i < r.model->param_size; i++) {
            diff = fmax(diff, fabs(r.model->param[i] - ran[i]));
            scale = fmax(scale, fabs(ran[i]));
        }
        if (pass == 0)
            CHECK(rc == PL_OK && diff <= 1e-4 * scale, "recovery reading the table: weights %g "
                  "from the teacher's run (of %g): %s", diff, scale, rc < 0 ? pl_last_error() : "ok");
        else if (pass == 1)
            CHECK(rc == PL_OK && diff > 1e-2 * scale && !r.table_refused, "recovery reading a "
                  "table wrong after the first batch: weights %g from the teacher's run (of %g)",
                  diff, scale);
        else
            CHECK(rc == PL_OK && diff == 0 && r.table_refused, "a table wrong from the first "
                  "batch (pass 3) or short (pass 4) is refused (%d) and the teacher runs: "
                  "weights %g from its run", r.table_refused, diff);
        search_free(&r);
    }
    pl_free(negated);
    pl_free(right);
    pl_free(wrong);
}

/* Recovery trains a damaged model back toward the labels, or toward the
 * teacher (the undamaged model) by distillation; a non-finite loss is an
 * error naming the operator and the step. */
static void test_recover(ig_graph *g, const model_nodes *nodes, search_data *data)
{
    search_options o;
    memset(&o, 0, sizeof o);
    o.seed = 3;
    recovery_options(&o, 60);
    search_result r;
    double damaged = damaged_copy(g, nodes, data, &r);
    CHECK(damaged < 0.9, "the damage costs accuracy (%g)", damaged);
    r.base_accuracy = 1.0;
    double recovered = damaged;
    int rounds = -1;
    int rc = search_recover(&r, data, &o, 1, "layer1.0.conv1", &recovered, &rounds);
    CHECK(rc == PL_OK && recovered > damaged + 0.1 && rounds == 1 &&
              recovered == search_accuracy(r.model, r.input_node, r.logits_node,
                                           data->val_images, data->val_labels, data->n_val),
          "recovery: accuracy %g -> %g in %d rounds (%s)", damaged, recovered, rounds,
          rc < 0 ? pl_last_error() : "ok");
    /* Distillation alone (weight 1: no label term) recovers as well. */
    search_free(&r);
    damaged_copy(g, nodes, data, &r);
    r.base_accuracy = 1.0;
    o.recovery_distill_weight = 1.0;
    o.recovery_distill_temperature = 2.0;
    double distilled = damaged;
    rc = search_recover(&r, data, &o, 1, "layer1.0.conv1", &distilled, &rounds);
    CHECK(rc == PL_OK && distilled > damaged + 0.1, "distilled recovery: accuracy %g -> %g (%s)",
          damaged, distilled, rc < 0 ? pl_last_error() : "ok");
    check_recover_table(g, nodes, data, &o, r.model->param);
    /* A teacher of another input shape is refused, naming both. */
    ig_graph *other = ig_graph_alloc();
    model_spec spec = {.name = "resnet18_small", .in_c = 1, .in_h = SIZE + 4, .in_w = SIZE + 4,
                       .classes = 10, .width = 0.125f};
    model_nodes other_nodes;
    rc = model_build(other, &spec, &other_nodes);
    if (rc == PL_OK) rc = ig_graph_finalize(other);
    const ig_graph *teacher = data->teacher;
    data->teacher = other;
    double unused = 0;
    rc = rc == PL_OK ? search_recover(&r, data, &o, 1, "layer1.0.conv1", &unused, &rounds) : rc;
    CHECK(rc == PL_ERR_SHAPE && strstr(pl_last_error(), "teacher takes (1,16,16)"),
          "mismatched teacher: rc %d: %s", rc, pl_last_error());
    data->teacher = teacher;
    ig_graph_free(other);
    o.recovery_distill_weight = 0;
    /* A NaN in every training image: the loss is not finite at the first
     * step, an error; the model keeps its weights. */
    ds_set *train = &data->train->train;
    for (int i = 0; i < train->n; i++) train->images[(size_t)i * SIZE * SIZE] = NAN;
    o.recovery_steps = 3;
    float before = r.model->param[0];
    rc = search_recover(&r, data, &o, 1, "layer1.0.conv1", &unused, &rounds);
    CHECK(rc == PL_ERR_NUMERIC && strstr(pl_last_error(), "layer1.0.conv1") &&
              strstr(pl_last_error(), "not finite") && strstr(pl_last_error(), "first step") &&
              r.model->param[0] == before,
          "NaN loss: rc %d, param %g -> %g: %s", rc, before, r.model->param[0], pl_last_error());
    for (int i = 0; i < train->n; i++) train->images[(size_t)i * SIZE * SIZE] = 0.5f;
    search_free(&r);
}

/* Two classes a damaged model tells apart only in part, so accuracy can
 * gain by degrees: image i is of class i % 2 and brighter when 1.
 * images (n, 1, SIZE, SIZE), labels (n). */
static void graded_images(float *images, int32_t *labels, int n)
{
    for (int i = 0; i < n; i++) {
        labels[i] = i % 2;
        for (int p = 0; p < SIZE * SIZE; p++)
            images[(size_t)i * SIZE * SIZE + p] = 0.6f * lcg_uniform() + 0.4f * (float)(i % 2);
    }
}

/* Recovery rounds are judged by the validation accuracy: a round that
 * costs accuracy is undone to the bit; rounds go on while they gain, up to
 * recovery_rounds, and stop once the baseline's accuracy is reached. */
static void test_recover_rounds(ig_graph *g, const model_nodes *nodes, search_data *data)
{
    search_options o;
    memset(&o, 0, sizeof o);
    o.seed = 3;
    recovery_options(&o, 4);
    o.recovery_rounds = 3;
    search_result r;
    /* Training labels that contradict the validation labels (the model's
     * own predictions, accuracy 1): the round costs accuracy and is undone. */
    ds_set *train = &data->train->train;
    int32_t *own = pl_xmalloc((size_t)train->n * sizeof *own);
    memcpy(own, train->labels, (size_t)train->n * sizeof *own);
    for (int i = 0; i < train->n; i++) train->labels[i] = (data->val_labels[0] + 1) % 10;
    memset(&r, 0, sizeof r);
    r.model = ig_graph_copy(g, -1, NULL);
    r.input_node = nodes->input;
    r.logits_node = nodes->logits;
    r.base_accuracy = 2.0; /* never reached: only a loss of accuracy stops */
    double acc = 1.0;
    int rounds = -1;
    int rc = search_recover(&r, data, &o, 1, "layer1.0.conv1", &acc, &rounds);
    CHECK(rc == PL_OK && rounds == 1 && acc == 1.0 &&
              memcmp(g->param, r.model->param, g->param_size * sizeof(float)) == 0 &&
              memcmp(g->state, r.model->state, g->state_size * sizeof(float)) == 0,
          "a harmful round is undone: rc %d, %d rounds, accuracy 1 -> %g", rc, rounds, acc);
    CHECK(search_accuracy(r.model, r.input_node, r.logits_node, data->val_images,
                          data->val_labels, data->n_val) == 1.0, "the undone model scores 1");
    search_free(&r);
    memcpy(train->labels, own, (size_t)train->n * sizeof *own);
    pl_free(own);
    /* A rate that makes the loss overflow after the first step: the round
     * is undone with a note on stderr, not an error. */
    memset(&r, 0, sizeof r);
    r.model = ig_graph_copy(g, -1, NULL);
    r.input_node = nodes->input;
    r.logits_node = nodes->logits;
    r.base_accuracy = 2.0;
    o.recovery_lr = 1e30;
    acc = 1.0;
    char note[512] = "";
    FILE *err = tmpfile();
    int saved = dup(STDERR_FILENO);
    fflush(stderr);
    dup2(fileno(err), STDERR_FILENO);
    rc = search_recover(&r, data, &o, 1, "layer1.0.conv1", &acc, &rounds);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(err);
    size_t got = fread(note, 1, sizeof note - 1, err);
    note[got] = 0;
    fclose(err);
    CHECK(rc == PL_OK && rounds == 1 && acc == 1.0 && strstr(note, "not finite") &&
              strstr(note, "round 1 is undone") &&
              memcmp(g->param, r.model->param, g->param_size * sizeof(float)) == 0,
          "a diverging round is undone: rc %d (%s), %d rounds, accuracy %g, note: %s", rc,
          rc < 0 ? pl_last_error() : "ok", rounds, acc, note);
    search_free(&r);
    /* Graded classes: rounds run while they gain, the kept weights score
     * what is returned, and a baseline reached stops them. */
    ds_experiment graded;
    make_splits(g, nodes, &graded);
    graded_images(graded.train.images, graded.train.labels, graded.train.n);
    float *val = pl_xmalloc((size_t)N_VAL * SIZE * SIZE * sizeof(float));
    int32_t val_labels[N_VAL];
    graded_images(val, val_labels, N_VAL);
    search_data d = *data;
    d.train = &graded;
    d.val_images = val;
    d.val_labels = val_labels;
    o.recovery_steps = 10;
    o.recovery_lr = 0.05;
    o.recovery_rounds = 1;
    double start = damaged_copy(g, nodes, &d, &r), one = start;
    r.base_accuracy = 2.0;
    rc = search_recover(&r, &d, &o, 1, "layer1.0.conv1", &one, &rounds);
    CHECK(rc == PL_OK && rounds == 1 && one > start, "one round: rc %d, accuracy %g -> %g", rc,
          start, one);
    search_free(&r);
    o.recovery_rounds = 6;
    damaged_copy(g, nodes, &d, &r);
    r.base_accuracy = 2.0;
    double several = start;
    rc = search_recover(&r, &d, &o, 1, "layer1.0.conv1", &several, &rounds);
    double scored = search_accuracy(r.model, r.input_node, r.logits_node, d.val_images,
                                    d.val_labels, d.n_val);
    CHECK(rc == PL_OK && rounds >= 2 && several > one && several == scored,
          "rounds: %d, accuracy %g after one, %g (scored %g) after them", rounds, one, several,
          scored);
    search_free(&r);
    damaged_copy(g, nodes, &d, &r);
    r.base_accuracy = one;
    acc = start;
    rc = search_recover(&r, &d, &o, 1, "layer1.0.conv1", &acc, &rounds);
    CHECK(rc == PL_OK && rounds == 1 && acc == one, "baseline %g reached: %d rounds, accuracy %g",
          one, rounds, acc);
    search_free(&r);
    pl_free(val);
    ds_experiment_free(&graded);
}

/* Candidates no faster than (1 - min_gain) times their operator's original
 * latency cannot replace it, so they are neither fitted nor scored
 * (accuracy 0, fit error NaN); faster ones are. Records at exactly the
 * original's latency may be the original itself, always scored: skipped. */
static void check_unscored(const search_result *r, double min_gain)
{
    int slow = 0, fast = 0, ok = 1;
    for (int i = 0; i < r->n_records; i++) {
        const search_record *c = &r->records[i];
        double original = r->steps[c->step].latency_before_ms;
        if (c->latency_ms == original) continue;
        if (c->latency_ms >= (1.0 - min_gain) * original) {
            slow++;
            ok &= c->accuracy == 0.0 && isnan(c->fit_error) && c->violation > 0;
        } else {
            fast++;
            ok &= !isnan(c->fit_error);
        }
    }
    CHECK(ok && slow > 0 && fast > 0, "slow candidates unscored (%d slow, %d fast)", slow, fast);
}

/* A kept step records the accuracy of the model as it stands, and the
 * adapted model scores what its last replacement recorded: a step splices
 * the candidate it scored (not an equivalent's DAG under its results). */
static void check_accuracy_chain(const search_result *r, const search_data *data)
{
    double current = r->base_accuracy;
    int ok = 1;
    for (int s = 0; s < r->n_steps; s++) {
        const search_step *st = &r->steps[s];
        if (st->replaced)
            current = st->accuracy_recovered;
        else
            ok &= st->accuracy == current && st->accuracy_recovered == current;
    }
    double final = search_accuracy(r->model, r->input_node, r->logits_node, data->val_images,
                                   data->val_labels, data->n_val);
    CHECK(ok && final == current, "kept steps record the model's accuracy (%d); the adapted "
          "model scores %g, its last replacement recorded %g", ok, final, current);
}

/* The largest accuracy one replacement cost the model as it stood (0..1). */
static double largest_step_drop(const search_result *r)
{
    double current = r->base_accuracy, largest = 0;
    for (int s = 0; s < r->n_steps; s++) {
        const search_step *st = &r->steps[s];
        if (!st->replaced) continue;
        if (current - st->accuracy > largest) largest = current - st->accuracy;
        current = st->accuracy_recovered;
    }
    return largest;
}

/* search.max_step_drop: with half the largest drop one replacement made
 * without it, no replacement costs more than that. */
static void test_max_step_drop(const ig_graph *g, const model_nodes *nodes,
                               const search_data *data, const search_result *free_run,
                               search_options *o)
{
    const double drop = largest_step_drop(free_run);
    CHECK(drop > 0, "some replacement costs accuracy without a limit (%g)", drop);
    search_result r;
    o->max_step_drop = 100 * drop / 2;
    int rc = search_run(g, nodes->input, nodes->logits, data, NULL, o, &r);
    o->max_step_drop = 0;
    CHECK(rc == PL_OK, "search with max_step_drop: %s", pl_last_error());
    if (rc != PL_OK) return;
    CHECK(largest_step_drop(&r) <= drop / 2 + 1e-12, "with max_step_drop %g points, the "
          "largest drop of a replacement is %g points", 100 * drop / 2,
          100 * largest_step_drop(&r));
    search_free(&r);
}

/* Every recorded candidate's violation is its shortfall below min_accuracy. */
static void check_violations(const search_result *r, double min_accuracy)
{
    int ok = r->n_records > 0;
    for (int i = 0; i < r->n_records; i++) {
        const search_record *c = &r->records[i];
        ok &= fabs(c->violation - fmax(0.0, min_accuracy - c->accuracy)) < 1e-12;
    }
    CHECK(ok, "violations against %g over %d records", min_accuracy, r->n_records);
}

static void options(search_options *o, double epsilon);

/* Equivalent candidates (equal functional hash) share one evaluation, and
 * the later one takes the scored one's place, DAG and all, so what a step
 * splices (and refits from its structural hash) is what was scored. An
 * operator and the same operator followed by a scale-and-bias compute the
 * same at initialisation (one functional hash) but not once fitted. */
static void test_equivalents(ig_graph *g, const model_nodes *nodes, const search_data *data)
{
    search_options o;
    options(&o, 20.0);
    eval_ctx x;
    memset(&x, 0, sizeof x);
    x.model = g, x.input_node = nodes->input, x.logits_node = nodes->logits;
    x.data = data, x.o = &o;
    int id = 0;
    while (id < g->n_operators && gen_extract(g, id, &x.op) != PL_OK) {
        gen_operator_free(&x.op);
        id++;
    }
    int rc = id < g->n_operators ? search_latency_bar(&x) : PL_ERR_INVAL;
    if (rc == PL_OK)
        rc = gen_capture(g, x.input_node, data->sample_images, data->n_sample, 16, &x.op, 1,
                         &x.acts);
    search_cand c[2];
    memset(c, 0, sizeof c);
    c[0].dag = c[1].dag = x.op.dag;
    ig_node sb;
    memset(&sb, 0, sizeof sb);
    sb.op = IG_OP_SCALE_BIAS, sb.n_in = 1, sb.in[0] = x.op.dag.output, sb.operator_id = -1;
    c[1].dag.output = gen_dag_append(&c[1].dag, &sb);
    if (rc == PL_OK) rc = search_evaluate_batch(&x, c, 2);
    CHECK(rc == PL_OK, "evaluating operator %d and it with a scale-and-bias: %s", id,
          pl_last_error());
    CHECK(c[0].func_hash == c[1].func_hash && x.evaluations == 1,
          "one functional hash, one evaluation (%ld)", x.evaluations);
    gen_canonicalize(&c[0].dag);
    CHECK(c[1].struct_hash == c[0].struct_hash && c[1].dag.n_nodes == c[0].dag.n_nodes &&
              memcmp(&c[1].dag, &c[0].dag, sizeof c[0].dag) == 0 &&
              c[1].params == c[0].params && c[1].accuracy == c[0].accuracy,
          "the equivalent came back as the scored candidate (%d and %d nodes)",
          c[1].dag.n_nodes, c[0].dag.n_nodes);
    pl_free(x.cache);
    gen_activations_free(&x.acts);
    gen_operator_free(&x.op);
}

static void options(search_options *o, double epsilon)
{
    memset(o, 0, sizeof *o);
    o->epsilon = epsilon;
    o->operators = 2;
    o->population = 6;
    o->generations = 2;
    o->crossover_rate = 0.3;
    o->scratch_share = 0.2;
    o->min_nodes = 1;
    o->max_nodes = 4;
    CHECK(gen_iset_find("full", &o->iset) == PL_OK, "iset");
    o->fit = (gen_fit_options){.steps = 30, .batch = 8, .lr = 0.01, .holdout = 0.25};
    o->device_kind = DEV_PREDICTED;
    o->latency_model = (dev_model){.cores = 4, .freq_ghz = 1.2, .simd_lanes = 2, .fma_units = 1,
                                   .dram_gbs = 2.2, .cache_kb = 512, .cache_gbs = 9.6,
                                   .overhead_us = 15, .eff = {0.45, 0.35, 0.12, 0.2, 0.1, 0.1},
                                   .eff_bandwidth = 0.7};
    o->batch = 1;
    o->seed = 9;
    o->threads = 2;
}

int main(void)
{
    pl_threads_set(1);
    lcg_seed(5);
    ig_graph *g = ig_graph_alloc();
    model_spec spec = {.name = "resnet18_small", .in_c = 1, .in_h = SIZE, .in_w = SIZE,
                       .classes = 10, .width = 0.125f};
    model_nodes nodes;
    int rc = model_build(g, &spec, &nodes);
    if (rc == PL_OK) rc = ig_graph_finalize(g);
    CHECK(rc == PL_OK, "model: %s", pl_last_error());
    if (rc != PL_OK) return check_summary("test_search");
    ig_graph_init_params(g, 4);
    float *val = pl_xmalloc(N_VAL * SIZE * SIZE * sizeof(float));
    float *sample = pl_xmalloc(N_SAMPLE * SIZE * SIZE * sizeof(float));
    int32_t labels[N_VAL];
    for (int i = 0; i < N_VAL * SIZE * SIZE; i++) val[i] = lcg_uniform();
    for (int i = 0; i < N_SAMPLE * SIZE * SIZE; i++) sample[i] = lcg_uniform();
    /* Labels: the model's own predictions (accuracy 1 by construction). */
    predict_labels(g, &nodes, val, N_VAL, labels);
    ds_experiment splits;
    make_splits(g, &nodes, &splits);
    search_data data = {sample, N_SAMPLE, val, labels, N_VAL, &splits, g, nodes.input,
                        nodes.logits, NULL, 0};
    test_recover(g, &nodes, &data);
    test_recover_rounds(g, &nodes, &data);
    test_equivalents(g, &nodes, &data);
    {
        /* Timing an operator on a measured device runs its own thread count
         * and leaves the search's as it found it (fits depend on it). */
        search_options o;
        options(&o, 20.0);
        o.device_kind = DEV_MEASURED;
        o.timing = (dev_timing){.threads = 2, .warmup_runs = 0, .timed_runs = 1, .min_run_ms = 0};
        double *ms = pl_xcalloc((size_t)g->n_operators + 1, sizeof *ms);
        pl_threads_set(1);
        rc = search_operator_latencies(g, &o, ms);
        CHECK(rc == PL_OK && ms[0] > 0 && pl_threads_get() == 1,
              "timing restores the thread count (%d)", pl_threads_get());
        pl_threads_set(1);
        pl_free(ms);
    }
    {
        /* A model whose logits are NaN classifies nothing right, whatever
         * the labels (the argmax of a NaN row would say class 0). */
        ig_graph *broken = ig_graph_copy(g, -1, NULL);
        for (size_t i = 0; i < broken->param_size; i++) broken->param[i] = NAN;
        int32_t zeros[N_VAL] = {0};
        double acc = search_accuracy(broken, nodes.input, nodes.logits, val, zeros, N_VAL);
        CHECK(acc == 0.0, "NaN logits score %g on labels all of class 0", acc);
        ig_graph_free(broken);
    }
    search_options o;
    options(&o, 20.0);
    search_result r, again;
    rc = search_run(g, nodes.input, nodes.logits, &data, NULL, &o, &r);
    CHECK(rc == PL_OK, "search: %s", pl_last_error());
    /* Every candidate asked for (the first population and one per
     * generation) is either evaluated or a cache hit; nothing else counts. */
    for (int s = 0; rc == PL_OK && s < r.n_steps; s++)
        CHECK(r.steps[s].evaluations + r.steps[s].cache_hits ==
                  o.population * (o.generations + 1),
              "step %d: %d evaluations + %d cache hits for %d candidates asked", s,
              r.steps[s].evaluations, r.steps[s].cache_hits, o.population * (o.generations + 1));
    if (rc == PL_OK) {
        /* fresh_offspring redraws offspring equivalent to a scored candidate:
         * fewer cache hits, more evaluations, and still deterministic. */
        search_result fresh, fresh_again;
        o.fresh_offspring = 1;
        int ok = search_run(g, nodes.input, nodes.logits, &data, NULL, &o, &fresh) == PL_OK;
        ok = ok && search_run(g, nodes.input, nodes.logits, &data, NULL, &o, &fresh_again) == PL_OK;
        CHECK(ok, "fresh_offspring search: %s", pl_last_error());
        if (ok) {
            CHECK(fresh.cache_hits < r.cache_hits && fresh.evaluations > r.evaluations,
                  "fresh offspring: %ld hits and %ld evaluations, against %ld and %ld",
                  (long)fresh.cache_hits, (long)fresh.evaluations, (long)r.cache_hits,
                  (long)r.evaluations);
            CHECK(fresh.evaluations == fresh_again.evaluations &&
                      fresh.final_latency_ms == fresh_again.final_latency_ms,
                  "fresh offspring: deterministic");
            search_free(&fresh);
            search_free(&fresh_again);
        }
        o.fresh_offspring = 0;
    }
    if (rc == PL_OK) {
        CHECK(r.base_accuracy == 1.0, "baseline accuracy %g", r.base_accuracy);
        int replaced = 0;
        for (int s = 0; s < r.n_steps; s++) {
            const search_step *st = &r.steps[s];
            replaced += st->replaced;
            if (st->replaced)
                CHECK(st->latency_after_ms < st->latency_before_ms &&
                          st->accuracy >= r.base_accuracy - 0.2 - 1e-12,
                      "step %d (%s): %g -> %g ms, accuracy %g", s, st->name,
                      st->latency_before_ms, st->latency_after_ms, st->accuracy);
            CHECK(st->evaluations > 0, "step %d evaluated candidates", s);
        }
        CHECK(replaced <= o.operators && (replaced == o.operators || r.n_steps == g->n_operators),
              "stops after %d replacements (%d steps)", replaced, r.n_steps);
        CHECK(r.n_records == r.n_steps * (o.generations + 1) * o.population ||
                  r.n_records < r.n_steps * (o.generations + 1) * o.population,
              "records %d", r.n_records);
        CHECK(r.final_latency_ms <= r.base_latency_ms, "latency %g -> %g ms", r.base_latency_ms,
              r.final_latency_ms);
        CHECK(r.model->n_operators == g->n_operators, "operators kept");
        check_unscored(&r, o.min_gain);
        check_accuracy_chain(&r, &data);
        rc = search_run(g, nodes.input, nodes.logits, &data, NULL, &o, &again);
        int same = rc == PL_OK && again.n_records == r.n_records &&
                   again.final_latency_ms == r.final_latency_ms;
        for (int i = 0; same && i < r.n_records; i++) {
            const search_record *a = &again.records[i], *b = &r.records[i];
            same = a->step == b->step && a->generation == b->generation && a->rank == b->rank &&
                   a->latency_ms == b->latency_ms && a->accuracy == b->accuracy &&
                   a->params == b->params && a->struct_hash == b->struct_hash;
        }
        CHECK(same, "deterministic");
        if (rc == PL_OK) search_free(&again);
        search_free(&r);
    }
    /* Resume: stopped after each checkpoint, restarted, until done. */
    {
        char path[128];
        snprintf(path, sizeof path, "/tmp/gos_test_search.%d.ckpt.h5", (int)getpid());
        remove(path);
        search_result whole, parts;
        options(&o, 20.0);
        recovery_options(&o, 4); /* recovery is part of what resumes exactly */
        CHECK(search_run(g, nodes.input, nodes.logits, &data, NULL, &o, &whole) == PL_OK,
              "uninterrupted: %s", pl_last_error());
        o.checkpoint_path = path;
        o.fingerprint = "fingerprint A";
        o.stop_after = 1;
        int runs = 0;
        memset(&parts, 0, sizeof parts);
        for (int s = 0; s < whole.n_steps; s++)
            CHECK(!whole.steps[s].replaced || (whole.steps[s].recovery_seconds > 0 &&
                                               whole.steps[s].recovery_seconds <=
                                                   whole.steps[s].seconds),
                  "step %d: recovery took %g of %g s", s, whole.steps[s].recovery_seconds,
                  whole.steps[s].seconds);
        do {
            if (runs) search_free(&parts);
            /* every other checkpoint as a file from before the optional
             * /steps/recovery_seconds: still resumes */
            if (runs % 2) drop_dataset(path, "/steps/recovery_seconds");
            rc = search_run(g, nodes.input, nodes.logits, &data, NULL, &o, &parts);
            runs++;
        } while (rc == PL_OK && parts.stopped && runs < 100);
        CHECK(rc == PL_OK && !parts.stopped && runs > 3, "resumed %d times: %s", runs,
              rc < 0 ? pl_last_error() : "ok");
        int same = rc == PL_OK && parts.n_records == whole.n_records &&
                   parts.n_steps == whole.n_steps &&
                   parts.final_latency_ms == whole.final_latency_ms &&
                   parts.evaluations == whole.evaluations && parts.cache_hits == whole.cache_hits &&
                   parts.model->param_size == whole.model->param_size;
        for (int i = 0; same && i < whole.n_records; i++)
            same = parts.records[i].struct_hash == whole.records[i].struct_hash &&
                   parts.records[i].latency_ms == whole.records[i].latency_ms &&
                   parts.records[i].accuracy == whole.records[i].accuracy &&
                   parts.records[i].rank == whole.records[i].rank;
        for (int s = 0; same && s < whole.n_steps; s++)
            same = parts.steps[s].replaced == whole.steps[s].replaced &&
                   parts.steps[s].latency_after_ms == whole.steps[s].latency_after_ms &&
                   parts.steps[s].accuracy_recovered == whole.steps[s].accuracy_recovered &&
                   gen_struct_hash(&parts.steps[s].chosen) == gen_struct_hash(&whole.steps[s].chosen);
        if (same)
            same = memcmp(parts.model->param, whole.model->param,
                          whole.model->param_size * sizeof(float)) == 0;
        CHECK(same, "a search resumed after every checkpoint equals an uninterrupted one");
        check_accuracy_chain(&whole, &data);
        if (rc == PL_OK) search_free(&parts);
        search_free(&whole);
        /* A checkpoint of another configuration is refused, by name. */
        o.stop_after = 1;
        rc = search_run(g, nodes.input, nodes.logits, &data, NULL, &o, &parts);
        if (rc == PL_OK) search_free(&parts);
        /* A candidate table with a row missing is refused, by name, before
         * its rows are read: the first checkpoint of a fresh search (a step
         * under way, its population and cache saved), damaged. */
        {
            char copy[160];
            snprintf(copy, sizeof copy, "%s.short.h5", path);
            remove(copy);
            search_result damaged;
            o.checkpoint_path = copy;
            rc = search_run(g, nodes.input, nodes.logits, &data, NULL, &o, &damaged);
            if (rc == PL_OK) search_free(&damaged);
            CHECK(rc == PL_OK && shorten_dataset(copy, "/population/integers"),
                  "a first checkpoint with a row of /population/integers missing");
            o.stop_after = 0;
            rc = search_run(g, nodes.input, nodes.logits, &data, NULL, &o, &damaged);
            if (rc == PL_OK) search_free(&damaged);
            CHECK(rc == PL_ERR_SCHEMA && strstr(pl_last_error(), copy) &&
                      strstr(pl_last_error(), "/population/integers: expected shape"),
                  "a candidate table a row short: %s", rc < 0 ? pl_last_error() : "accepted");
            o.checkpoint_path = path;
            o.stop_after = 1;
            remove(copy);
        }
        o.fingerprint = "fingerprint B";
        o.stop_after = 0;
        rc = search_run(g, nodes.input, nodes.logits, &data, NULL, &o, &parts);
        CHECK(rc == PL_ERR_SCHEMA && strstr(pl_last_error(), path) &&
                  strstr(pl_last_error(), "another configuration"),
              "foreign checkpoint: %s", pl_last_error());
        remove(path);
    }

    /* recovery_min_drop: a drop never reached skips every recovery (the
     * model ends as without recovery steps); 0 recovers after every
     * replacement (the model ends otherwise). */
    {
        search_result none, never, always;
        options(&o, 20.0);
        int ok = search_run(g, nodes.input, nodes.logits, &data, NULL, &o, &none) == PL_OK;
        recovery_options(&o, 4);
        o.recovery_min_drop = 100.0;
        ok = ok && search_run(g, nodes.input, nodes.logits, &data, NULL, &o, &never) == PL_OK;
        o.recovery_min_drop = 0.0;
        ok = ok && search_run(g, nodes.input, nodes.logits, &data, NULL, &o, &always) == PL_OK;
        CHECK(ok, "min drop searches: %s", pl_last_error());
        if (ok) {
            size_t bytes = none.model->param_size * sizeof(float);
            int replaced = 0;
            for (int s = 0; s < none.n_steps; s++) replaced += none.steps[s].replaced;
            CHECK(replaced > 0, "the searches replace operators");
            CHECK(never.model->param_size == none.model->param_size &&
                      memcmp(never.model->param, none.model->param, bytes) == 0,
                  "a drop never reached: no recovery");
            CHECK(always.model->param_size != none.model->param_size ||
                      memcmp(always.model->param, none.model->param, bytes) != 0,
                  "min drop 0: recovery after every replacement");
            search_free(&none);
            search_free(&never);
            search_free(&always);
        }
    }

    options(&o, 0.0);
    o.operators = 1;
    rc = search_run(g, nodes.input, nodes.logits, &data, NULL, &o, &r);
    CHECK(rc == PL_OK, "search eps 0: %s", pl_last_error());
    if (rc == PL_OK) {
        for (int s = 0; s < r.n_steps; s++)
            if (r.steps[s].replaced)
                CHECK(r.steps[s].accuracy == 1.0, "epsilon 0 keeps every prediction");
        check_violations(&r, 1.0);
        search_free(&r);
    }
    /* Fine-tuning slack widens the constraint as epsilon would: epsilon 0
     * with 20 points of slack searches exactly as epsilon 20. On images of
     * varied patterns and scales the model predicts more than one class, so
     * candidates score on both sides of the baseline's 1. */
    float *varied = pl_xmalloc(N_VAL * SIZE * SIZE * sizeof(float));
    for (int i = 0; i < N_VAL; i++)
        for (int p = 0; p < SIZE * SIZE; p++)
            varied[i * SIZE * SIZE + p] = (float)(i % 7) * (float)(p % (i % 5 + 2)) -
                                          3.0f * (float)(i % 3) * val[i * SIZE * SIZE + p];
    int32_t own_labels[N_VAL];
    predict_labels(g, &nodes, varied, N_VAL, own_labels);
    search_data varied_data = data;
    varied_data.val_images = varied;
    varied_data.val_labels = own_labels;
    options(&o, 20.0);
    o.operators = 1;
    rc = search_run(g, nodes.input, nodes.logits, &varied_data, NULL, &o, &r);
    o.epsilon = 0.0;
    o.finetune_slack = 20.0;
    if (rc == PL_OK)
        rc = search_run(g, nodes.input, nodes.logits, &varied_data, NULL, &o, &again);
    CHECK(rc == PL_OK, "search eps 20 and eps 0 + slack 20: %s", pl_last_error());
    if (rc == PL_OK) {
        int same = r.n_records == again.n_records && r.n_steps == again.n_steps;
        for (int i = 0; same && i < r.n_records; i++)
            same = r.records[i].accuracy == again.records[i].accuracy &&
                   r.records[i].latency_ms == again.records[i].latency_ms &&
                   r.records[i].violation == again.records[i].violation;
        for (int s = 0; same && s < r.n_steps; s++)
            same = r.steps[s].replaced == again.steps[s].replaced &&
                   r.steps[s].latency_after_ms == again.steps[s].latency_after_ms;
        CHECK(same, "slack 20 searches as epsilon 20 (%d and %d records)", r.n_records,
              again.n_records);
        int below = 0;
        for (int i = 0; i < again.n_records; i++)
            below += again.records[i].accuracy < again.base_accuracy;
        CHECK(below > 0, "some candidate below the baseline (%g) is feasible under the slack",
              again.base_accuracy);
        check_violations(&again, again.base_accuracy - 0.2);
        search_free(&r);
        search_free(&again);
    }
    /* max_step_drop on the same images, where replacements cost accuracy */
    options(&o, 20.0);
    o.operators = 3;
    rc = search_run(g, nodes.input, nodes.logits, &varied_data, NULL, &o, &r);
    CHECK(rc == PL_OK, "search of 3 operators on varied images: %s", pl_last_error());
    if (rc == PL_OK) {
        test_max_step_drop(g, &nodes, &varied_data, &r, &o);
        search_free(&r);
    }
    pl_free(varied);
    ds_experiment_free(&splits);
    pl_free(val);
    pl_free(sample);
    ig_graph_free(g);
    return check_summary("test_search");
}
