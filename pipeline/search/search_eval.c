/* search_eval.c: evaluating candidates (see search.h): accuracy of a
 * model, operator latencies on the device, the batch evaluation with its
 * functional-hash cache. */
#include "search_internal.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A generator per (purpose, step), seeded from the experiment seed. */
gsl_rng *search_stream(uint64_t seed, int purpose, int step)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    uint64_t z = seed * 0x9e3779b97f4a7c15ULL + (uint64_t)purpose * 1000003u + (uint64_t)step;
    z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ULL;
    gsl_rng_set(r, (unsigned long)(z ^ (z >> 29)));
    return r;
}

/* ---- accuracy and latency of a model ------------------------------------- */

/* search_accuracy, with the nodes below prefix->cut (when prefix is not
 * NULL and has one) taken from the prefix instead of run. */
static double accuracy_from(ig_graph *g, const search_prefix *prefix, int input_node,
                            int logits_node, const float *images, const int32_t *labels, int n)
{
    const ig_shape *s = &g->nodes[input_node].shape;
    size_t in_size = (size_t)s->c * s->h * s->w;
    int classes = g->nodes[logits_node].shape.c, batch = n < SEARCH_EVAL_BATCH ? n : SEARCH_EVAL_BATCH,
        correct = 0;
    const int cut = prefix && prefix->n == n ? prefix->cut : 0;
    if (ig_graph_plan_inference(g, batch) < 0) return NAN;
    for (int start = 0; start < n; start += batch) {
        int b = n - start < batch ? n - start : batch;
        memcpy(ig_value(g, input_node), images + (size_t)start * in_size,
               (size_t)b * in_size * sizeof(float));
        if (cut > 0) search_prefix_load(g, prefix, start, b);
        for (int i = cut; i <= logits_node; i++)
            if (g->nodes[i].op != IG_OP_INPUT) ig_forward_node(g, i);
        const float *z = ig_value(g, logits_node);
        for (int j = 0; j < b; j++) {
            const float *row = z + (size_t)j * classes;
            int best = 0, finite = 1;
            for (int c = 0; c < classes; c++) {
                finite &= isfinite(row[c]);
                if (row[c] > row[best]) best = c;
            }
            correct += finite && best == labels[start + j]; /* NaN logits are wrong */
        }
    }
    return (double)correct / n;
}

double search_accuracy(ig_graph *g, int input_node, int logits_node, const float *images,
                       const int32_t *labels, int n)
{
    return accuracy_from(g, NULL, input_node, logits_node, images, labels, n);
}

/* Per-operator latency of g on the device: predicted, or measured here. */
int search_operator_latencies(ig_graph *g, const search_options *o, double *ms)
{
    if (o->device_kind == DEV_PREDICTED) {
        int *nodes = pl_xmalloc((size_t)g->n_nodes * sizeof(int));
        for (int id = 0; id < g->n_operators; id++) {
            int count = dev_operator_nodes(g, id, nodes);
            ms[id] = dev_predict_nodes_ms(&o->latency_model, g, nodes, count, o->batch);
        }
        pl_free(nodes);
        return PL_OK;
    }
    dev_graph_timings t;
    PL_TRY(dev_time_graph(g, o->batch, &o->timing, &t));
    for (int id = 0; id < g->n_operators; id++) ms[id] = t.operators[id].median_ms;
    dev_graph_timings_free(&t);
    return PL_OK;
}

/* ---- evaluation ------------------------------------------------------------ */

/* 1 when c cannot replace the operator however accurate it is: no faster
 * than x->max_latency_ms, and not the original (whose accuracy every step
 * records). */
static int cannot_win(const eval_ctx *x, const search_cand *c)
{
    return c->latency_ms >= x->max_latency_ms && c->struct_hash != x->original_hash;
}

/* Fits c (built and initialised from its structural hash), splices it into
 * the model and measures the validation accuracy; on a measured device the
 * caller has filled in the latency. A candidate that cannot win is neither
 * fitted nor scored: accuracy 0 (the whole constraint violated), fit error
 * NaN. Single-threaded kernels; safe to run in parallel. */
static int evaluate_one(const eval_ctx *x, search_cand *c)
{
    ig_graph *cg = NULL, *spliced = NULL;
    PL_TRY(gen_dag_build(&c->dag, &x->op.boundary, &cg));
    c->params = (int64_t)ig_graph_param_count(cg);
    if (x->o->device_kind == DEV_PREDICTED)
        c->latency_ms = graphgen_latency_ms(&x->o->latency_model, cg, &c->dag, x->o->batch);
    if (cannot_win(x, c)) {
        c->accuracy = 0.0;
        c->fit_error = NAN;
        ig_graph_free(cg);
        return PL_OK;
    }
    uint64_t init = x->o->seed ^ c->struct_hash;
    ig_graph_init_params(cg, init);
    gen_fit_options fo = x->o->fit;
    fo.seed = init;
    gen_fit_result fr;
    int rc = gen_fit(cg, &c->dag, &x->acts, 0, &fo, &fr);
    c->fit_error = rc == PL_OK ? fr.error : INFINITY;
    int *map = pl_xmalloc((size_t)x->model->n_nodes * sizeof(int));
    if (rc == PL_OK) rc = gen_splice(x->model, &x->op, &c->dag, cg, &spliced, map);
    for (int k = 0; rc == PL_OK && k < x->prefix.n_live; k++) /* the prefix's premise */
        PL_ASSERT(map[x->prefix.live[k]] == x->prefix.live[k]);
    c->accuracy = rc == PL_OK && isfinite(c->fit_error)
                      ? accuracy_from(spliced, &x->prefix, map[x->input_node],
                                      map[x->logits_node], x->data->val_images,
                                      x->data->val_labels, x->data->n_val)
                      : 0.0;
    if (isnan(c->accuracy)) c->accuracy = 0.0; /* could not run: infeasible */
    pl_free(map);
    ig_graph_free(spliced);
    ig_graph_free(cg);
    return rc < 0 ? rc : PL_OK;
}

/* Latency of c measured here: its instructions timed alone at the batch. */
/* The shared cache's key of candidate c of operator x->op. */
static void cache_key(const eval_ctx *x, const search_cand *c, lat_cache_key *k)
{
    memset(k, 0, sizeof *k);
    k->hash = c->struct_hash;
    k->n_inputs = x->op.boundary.n_inputs;
    for (int i = 0; i < k->n_inputs; i++) {
        const ig_shape *s = &x->op.boundary.inputs[i];
        k->in_shapes[i][0] = s->c, k->in_shapes[i][1] = s->h, k->in_shapes[i][2] = s->w;
    }
    const ig_shape *o = &x->op.boundary.output;
    k->out_shape[0] = o->c, k->out_shape[1] = o->h, k->out_shape[2] = o->w;
    lat_cache_key_set_device(k, &x->o->latency_prov);
}

static void measure_latency(const eval_ctx *x, search_cand *c)
{
    lat_cache_key key;
    if (x->o->latency_cache) {
        cache_key(x, c, &key);
        if (lat_cache_get(x->o->latency_cache, &key, &c->latency_ms) == 1) return;
    }
    ig_graph *cg = NULL;
    if (gen_dag_build(&c->dag, &x->op.boundary, &cg) < 0) {
        c->latency_ms = INFINITY;
        return;
    }
    ig_graph_init_params(cg, 1);
    dev_graph_timings t;
    c->latency_ms = dev_time_graph(cg, x->o->batch, &x->o->timing, &t) == PL_OK
                        ? t.model.median_ms
                        : INFINITY;
    dev_graph_timings_free(&t);
    ig_graph_free(cg);
    if (x->o->latency_cache && isfinite(c->latency_ms))
        lat_cache_put(x->o->latency_cache, &key, c->latency_ms);
}

int search_latency_bar(eval_ctx *x)
{
    search_cand original;
    memset(&original, 0, sizeof original);
    original.dag = x->op.dag;
    gen_canonicalize(&original.dag);
    original.struct_hash = x->original_hash = gen_struct_hash(&original.dag);
    if (x->o->device_kind == DEV_PREDICTED) {
        ig_graph *cg = NULL;
        PL_TRY(gen_dag_build(&original.dag, &x->op.boundary, &cg));
        original.latency_ms =
            graphgen_latency_ms(&x->o->latency_model, cg, &original.dag, x->o->batch);
        ig_graph_free(cg);
    } else {
        measure_latency(x, &original);
    }
    x->max_latency_ms = (1.0 - x->o->min_gain) * original.latency_ms;
    return PL_OK;
}

static const search_cand *cache_find(const eval_ctx *x, uint64_t func_hash)
{
    for (int i = 0; i < x->n_cache; i++)
        if (x->cache[i].func_hash == func_hash) return &x->cache[i];
    return NULL;
}

void search_hash_candidate(const eval_ctx *x, search_cand *c)
{
    gen_canonicalize(&c->dag);
    c->struct_hash = gen_struct_hash(&c->dag);
    if (gen_functional_hash(&c->dag, &x->op.boundary, &c->func_hash) < 0)
        c->func_hash = c->struct_hash;
}

void search_cache_add(eval_ctx *x, const search_cand *c)
{
    if (x->n_cache == x->cap_cache) {
        x->cap_cache = x->cap_cache ? 2 * x->cap_cache : 64;
        search_cand *grown = pl_xmalloc((size_t)x->cap_cache * sizeof *grown);
        if (x->n_cache) memcpy(grown, x->cache, (size_t)x->n_cache * sizeof *grown);
        pl_free(x->cache);
        x->cache = grown;
    }
    x->cache[x->n_cache++] = *c;
}

/* c becomes the equivalent candidate that was scored, DAG included: its
 * results hold for what it computes once fitted from its own seed, so it,
 * not c, is what the step may splice (and refit). Then its objectives and
 * constraint violation. */
static void take_scored(const eval_ctx *x, search_cand *c, const search_cand *scored)
{
    *c = *scored;
    memset(&c->fit, 0, sizeof c->fit);
    c->fit.obj[0] = c->latency_ms;
    c->fit.obj[1] = (double)c->params;
    c->fit.violation = fmax(0.0, x->min_accuracy - c->accuracy);
}

/* Evaluates cands[0..n) (the "tell" of an ask/tell round): hashes, cache
 * lookups, parallel evaluation of the new ones, then objectives and
 * constraint violations. */
int search_evaluate_batch(eval_ctx *x, search_cand *cands, int n)
{
    int *fresh = pl_xmalloc((size_t)(n + 1) * sizeof(int)), n_fresh = 0;
    for (int i = 0; i < n; i++) {
        search_cand *c = &cands[i];
        search_hash_candidate(x, c);
        const search_cand *hit = cache_find(x, c->func_hash);
        int dup = 0;
        for (int j = 0; j < n_fresh && !hit; j++) dup |= cands[fresh[j]].func_hash == c->func_hash;
        if (hit || dup) {
            x->cache_hits++;
            continue;
        }
        fresh[n_fresh++] = i;
    }
    int failed = 0;
    char why[256] = ""; /* a failed evaluation's message (errors are per thread) */
    if (x->o->device_kind != DEV_PREDICTED) /* timed first, one at a time */
        for (int t = 0; t < n_fresh; t++) measure_latency(x, &cands[fresh[t]]);
#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed) num_threads(x->o->threads)
    for (int t = 0; t < n_fresh; t++) {
        if (evaluate_one(x, &cands[fresh[t]]) == PL_OK) continue;
        failed = 1;
#pragma omp critical(search_eval_why)
        if (!why[0]) snprintf(why, sizeof why, "%s", pl_last_error());
    }
    x->evaluations += n_fresh;
    for (int t = 0; t < n_fresh; t++) search_cache_add(x, &cands[fresh[t]]);
    for (int i = 0; i < n; i++) {
        const search_cand *hit = cache_find(x, cands[i].func_hash);
        PL_ASSERT(hit != NULL);
        take_scored(x, &cands[i], hit);
    }
    pl_free(fresh);
    if (failed)
        PL_FAIL(PL_ERR_SHAPE, "search: %s: a shape-valid candidate failed to evaluate (%s)",
                x->op.name, why);
    return PL_OK;
}

/* c's scored results: looked up in the cache (for the original at the end of
 * a step, scored in the first generation) or, when absent, evaluated. A
 * look-up is a record, not a search evaluation: it counts no cache hit. */
int search_score(eval_ctx *x, search_cand *c)
{
    search_hash_candidate(x, c);
    const search_cand *hit = cache_find(x, c->func_hash);
    if (!hit) return search_evaluate_batch(x, c, 1);
    take_scored(x, c, hit);
    return PL_OK;
}
