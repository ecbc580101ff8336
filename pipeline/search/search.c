/* search.c: the outer loop and the per-operator evolution (see search.h). */
#include "search.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Purposes of the random streams, one generator per (purpose, step). */
enum { STREAM_INIT = 11, STREAM_SELECT = 12, STREAM_VARY = 13 };

static gsl_rng *stream(uint64_t seed, int purpose, int step)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    uint64_t z = seed * 0x9e3779b97f4a7c15ULL + (uint64_t)purpose * 1000003u + (uint64_t)step;
    z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ULL;
    gsl_rng_set(r, (unsigned long)(z ^ (z >> 29)));
    return r;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- accuracy and latency of a model ------------------------------------- */

double search_accuracy(ig_graph *g, int input_node, int logits_node, const float *images,
                       const int32_t *labels, int n)
{
    const ig_shape *s = &g->nodes[input_node].shape;
    size_t in_size = (size_t)s->c * s->h * s->w;
    int classes = g->nodes[logits_node].shape.c, batch = n < 64 ? n : 64, correct = 0;
    if (ig_graph_plan(g, batch) < 0 || ig_set_training(g, 0) < 0) return 0.0;
    for (int start = 0; start < n; start += batch) {
        int b = n - start < batch ? n - start : batch;
        memcpy(ig_value(g, input_node), images + (size_t)start * in_size,
               (size_t)b * in_size * sizeof(float));
        for (int i = 0; i <= logits_node; i++)
            if (g->nodes[i].op != IG_OP_INPUT) ig_forward_node(g, i);
        const float *z = ig_value(g, logits_node);
        for (int j = 0; j < b; j++) {
            int best = 0;
            for (int c = 1; c < classes; c++)
                if (z[(size_t)j * classes + c] > z[(size_t)j * classes + best]) best = c;
            correct += best == labels[start + j];
        }
    }
    return (double)correct / n;
}

/* Per-operator latency of g on the device: predicted, or measured here. */
static int operator_latencies(ig_graph *g, const search_options *o, double *ms)
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

typedef struct {
    const ig_graph     *model;        /* current model                        */
    int                 input_node, logits_node;
    const search_data  *data;
    const search_options *o;
    gen_operator        op;           /* the target, cut out of model         */
    gen_activations     acts;         /* its boundary values on the sample    */
    double              min_accuracy; /* base - epsilon                       */
    search_cand        *cache;        /* evaluated, by functional hash        */
    int                 n_cache, cap_cache;
    long                evaluations, cache_hits;
} eval_ctx;

/* Fits c (built and initialised from its structural hash), splices it into
 * the model and measures the validation accuracy; the latency is filled in
 * by the caller. Single-threaded kernels; safe to run in parallel. */
static int evaluate_one(const eval_ctx *x, search_cand *c)
{
    ig_graph *cg = NULL, *spliced = NULL;
    PL_TRY(gen_dag_build(&c->dag, &x->op.boundary, &cg));
    uint64_t init = x->o->seed ^ c->struct_hash;
    ig_graph_init_params(cg, init);
    gen_fit_options fo = x->o->fit;
    fo.seed = init;
    gen_fit_result fr;
    int rc = gen_fit(cg, &c->dag, &x->acts, 0, &fo, &fr);
    c->fit_error = rc == PL_OK ? fr.error : INFINITY;
    c->params = (int64_t)ig_graph_param_count(cg);
    if (x->o->device_kind == DEV_PREDICTED)
        c->latency_ms = graphgen_latency_ms(&x->o->latency_model, cg, &c->dag, x->o->batch);
    int *map = pl_xmalloc((size_t)x->model->n_nodes * sizeof(int));
    if (rc == PL_OK) rc = gen_splice(x->model, &x->op, &c->dag, cg, &spliced, map);
    c->accuracy = rc == PL_OK && isfinite(c->fit_error)
                      ? search_accuracy(spliced, map[x->input_node], map[x->logits_node],
                                        x->data->val_images, x->data->val_labels, x->data->n_val)
                      : 0.0;
    pl_free(map);
    ig_graph_free(spliced);
    ig_graph_free(cg);
    return rc < 0 ? rc : PL_OK;
}

/* Latency of c measured here: its instructions timed alone at the batch. */
static void measure_latency(const eval_ctx *x, search_cand *c)
{
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
}

static const search_cand *cache_find(const eval_ctx *x, uint64_t func_hash)
{
    for (int i = 0; i < x->n_cache; i++)
        if (x->cache[i].func_hash == func_hash) return &x->cache[i];
    return NULL;
}

static void cache_add(eval_ctx *x, const search_cand *c)
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

/* Evaluates cands[0..n) (the "tell" of an ask/tell round): hashes, cache
 * lookups, parallel evaluation of the new ones, then objectives and
 * constraint violations. */
static int evaluate_batch(eval_ctx *x, search_cand *cands, int n)
{
    int *todo = pl_xmalloc((size_t)(n + 1) * sizeof(int)), n_todo = 0;
    for (int i = 0; i < n; i++) {
        search_cand *c = &cands[i];
        gen_canonicalize(&c->dag);
        c->struct_hash = gen_struct_hash(&c->dag);
        if (gen_functional_hash(&c->dag, &x->op.boundary, &c->func_hash) < 0) c->func_hash = c->struct_hash;
        const search_cand *hit = cache_find(x, c->func_hash);
        int dup = 0;
        for (int j = 0; j < n_todo && !hit; j++) dup |= cands[todo[j]].func_hash == c->func_hash;
        if (hit || dup) {
            x->cache_hits++;
            continue;
        }
        todo[n_todo++] = i;
    }
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed) num_threads(x->o->threads)
    for (int t = 0; t < n_todo; t++) failed |= evaluate_one(x, &cands[todo[t]]) < 0;
    if (x->o->device_kind != DEV_PREDICTED)
        for (int t = 0; t < n_todo; t++) measure_latency(x, &cands[todo[t]]);
    x->evaluations += n_todo;
    for (int t = 0; t < n_todo; t++) cache_add(x, &cands[todo[t]]);
    for (int i = 0; i < n; i++) {
        search_cand *c = &cands[i];
        const search_cand *hit = cache_find(x, c->func_hash);
        PL_ASSERT(hit != NULL);
        gen_dag keep = c->dag;
        uint64_t keep_hash = c->struct_hash;
        *c = *hit; /* an equivalent candidate's results */
        c->dag = keep;
        c->struct_hash = keep_hash;
        memset(&c->fit, 0, sizeof c->fit);
        c->fit.obj[0] = c->latency_ms;
        c->fit.obj[1] = (double)c->params;
        c->fit.violation = fmax(0.0, x->min_accuracy - c->accuracy);
    }
    pl_free(todo);
    if (failed)
        PL_FAIL(PL_ERR_SHAPE, "search: %s: a shape-valid candidate failed to evaluate (%s)",
                x->op.name, pl_last_error());
    return PL_OK;
}

/* ---- the evolution of one operator ---------------------------------------- */

static void record(search_result *r, int step, int generation, const search_cand *p, int n)
{
    if (r->n_records + n > r->cap_records) {
        r->cap_records = 2 * (r->n_records + n);
        search_record *grown = pl_xmalloc((size_t)r->cap_records * sizeof *grown);
        if (r->n_records) memcpy(grown, r->records, (size_t)r->n_records * sizeof *grown);
        pl_free(r->records);
        r->records = grown;
    }
    for (int i = 0; i < n; i++)
        r->records[r->n_records++] = (search_record){
            .step = step, .generation = generation, .rank = p[i].fit.rank,
            .latency_ms = p[i].latency_ms, .accuracy = p[i].accuracy,
            .fit_error = p[i].fit_error, .violation = p[i].fit.violation,
            .crowding = p[i].fit.crowding, .params = p[i].params,
            .struct_hash = p[i].struct_hash};
}

/* The first population: the original, graphgen's seeds for this operator,
 * adaptations of the original, and a share of random candidates. */
static int initial_population(const eval_ctx *x, const graphgen_result *seeds, gsl_rng *r,
                              search_cand *pop)
{
    const search_options *o = x->o;
    int n = 0, n_scratch = (int)(o->scratch_share * o->population + 0.5);
    memset(&pop[n], 0, sizeof pop[n]);
    pop[n++].dag = x->op.dag;
    for (int c = 0; seeds && c < seeds->n_candidates && n < o->population - n_scratch; c++) {
        const gen_operator *so = &seeds->ops[seeds->candidate_op[c]];
        if (seeds->candidate_kind[c] == 0 || strcmp(so->name, x->op.name) != 0 ||
            memcmp(&so->boundary, &x->op.boundary, sizeof so->boundary) != 0)
            continue;
        memset(&pop[n], 0, sizeof pop[n]);
        pop[n++].dag = seeds->candidates[c];
    }
    for (int tries = 0; n < o->population - n_scratch && tries < 50 * o->population; tries++) {
        memset(&pop[n], 0, sizeof pop[n]);
        if (gen_mutate(&pop[n].dag, &x->op.dag, &x->op.boundary, &o->iset, r, NULL)) n++;
    }
    for (int tries = 0; n < o->population && tries < 200 * o->population; tries++) {
        memset(&pop[n], 0, sizeof pop[n]);
        if (gen_random_dag(&pop[n].dag, &x->op.boundary, &o->iset, o->min_nodes, o->max_nodes, r))
            n++;
    }
    while (n < o->population) { /* the space is that sparse: fill with adaptations */
        memset(&pop[n], 0, sizeof pop[n]);
        if (gen_mutate(&pop[n].dag, &x->op.dag, &x->op.boundary, &o->iset, r, NULL) ||
            n > 0)
            n++;
    }
    return n;
}

/* P offspring of pop by tournament selection, crossover or mutation. */
static void offspring(const eval_ctx *x, const search_cand *pop, const nsga2_fitness *fit,
                      gsl_rng *select, gsl_rng *vary, search_cand *kids)
{
    const search_options *o = x->o;
    for (int k = 0; k < o->population; k++) {
        memset(&kids[k], 0, sizeof kids[k]);
        int ok = 0;
        for (int tries = 0; tries < 20 && !ok; tries++) {
            int a = nsga2_tournament(fit, o->population, select);
            if (gsl_rng_uniform(vary) < o->crossover_rate) {
                int b = nsga2_tournament(fit, o->population, select);
                ok = gen_crossover(&kids[k].dag, &pop[a].dag, &pop[b].dag, &x->op.boundary,
                                   &o->iset, vary, NULL);
            } else {
                ok = gen_mutate(&kids[k].dag, &pop[a].dag, &x->op.boundary, &o->iset, vary, NULL);
            }
            if (!ok && tries == 19) kids[k].dag = pop[a].dag; /* keep a copy */
        }
    }
}

/* Evolves candidates for x->op; *best receives the chosen one (the
 * original when nothing feasible is faster). */
static int evolve(eval_ctx *x, const graphgen_result *seeds, int step, search_result *r,
                  search_cand *best, int *front_size)
{
    const search_options *o = x->o;
    int P = o->population;
    search_cand *all = pl_xcalloc((size_t)2 * P, sizeof *all);
    nsga2_fitness *fit = pl_xcalloc((size_t)2 * P, sizeof *fit);
    void *work = pl_xmalloc(nsga2_work_size(2 * P));
    int *keep = pl_xmalloc((size_t)2 * P * sizeof(int));
    gsl_rng *init = stream(o->seed, STREAM_INIT, step), *select = stream(o->seed, STREAM_SELECT, step),
            *vary = stream(o->seed, STREAM_VARY, step);
    initial_population(x, seeds, init, all);
    int rc = evaluate_batch(x, all, P);
    for (int i = 0; i < P; i++) fit[i] = all[i].fit;
    nsga2_sort(fit, P, 2, work);
    nsga2_crowding(fit, P, 2, work);
    for (int i = 0; i < P; i++) all[i].fit = fit[i];
    record(r, step, 0, all, P);
    for (int gen = 1; gen <= o->generations && rc == PL_OK; gen++) {
        offspring(x, all, fit, select, vary, all + P);
        rc = evaluate_batch(x, all + P, P);
        if (rc < 0) break;
        for (int i = 0; i < 2 * P; i++) fit[i] = all[i].fit;
        nsga2_survive(fit, 2 * P, 2, P, keep, work);
        search_cand *next = pl_xmalloc((size_t)P * sizeof *next);
        for (int i = 0; i < P; i++) {
            next[i] = all[keep[i]];
            next[i].fit = fit[keep[i]];
        }
        memcpy(all, next, (size_t)P * sizeof *next);
        pl_free(next);
        for (int i = 0; i < P; i++) fit[i] = all[i].fit;
        nsga2_sort(fit, P, 2, work);
        nsga2_crowding(fit, P, 2, work);
        for (int i = 0; i < P; i++) all[i].fit = fit[i];
        record(r, step, gen, all, P);
        if (o->progress)
            fprintf(stderr, "\rsearch: %s: generation %d/%d, %ld evaluations", x->op.name, gen,
                    o->generations, x->evaluations);
    }
    if (o->progress) fprintf(stderr, "\n");
    *best = all[0]; /* replaced below by the front's choice, if any */
    if (rc == PL_OK) {
        int *front = pl_xmalloc((size_t)P * sizeof(int));
        int m = nsga2_front(fit, P, front);
        *front_size = m;
        int pick = -1;
        if (m > 0 && o->choose_knee) {
            pick = nsga2_knee(fit, front, m);
        } else {
            for (int j = 0; j < m; j++)
                if (pick < 0 || all[front[j]].latency_ms < all[pick].latency_ms ||
                    (all[front[j]].latency_ms == all[pick].latency_ms &&
                     all[front[j]].params < all[pick].params))
                    pick = front[j];
        }
        if (pick >= 0) *best = all[pick];
        pl_free(front);
    }
    gsl_rng_free(init);
    gsl_rng_free(select);
    gsl_rng_free(vary);
    pl_free(all);
    pl_free(fit);
    pl_free(work);
    pl_free(keep);
    return rc;
}

/* ---- the outer loop ---------------------------------------------------------- */

static search_step *new_step(search_result *r)
{
    if (r->n_steps == r->cap_steps) {
        r->cap_steps = r->cap_steps ? 2 * r->cap_steps : 16;
        search_step *grown = pl_xcalloc((size_t)r->cap_steps, sizeof *grown);
        if (r->n_steps) memcpy(grown, r->steps, (size_t)r->n_steps * sizeof *grown);
        pl_free(r->steps);
        r->steps = grown;
    }
    search_step *s = &r->steps[r->n_steps++];
    memset(s, 0, sizeof *s);
    return s;
}

static ig_graph *copy_graph(const ig_graph *g, const search_options *o)
{
    /* A splice of nothing would need an operator; rebuild node by node. */
    ig_graph *c = ig_graph_alloc();
    for (int q = 0; q < g->n_operators; q++) {
        ig_operator_begin(c, g->operators[q].name);
        ig_operator_end(c);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        int id = g->nodes[i].operator_id;
        if (id >= 0) ig_operator_reopen(c, id);
        int rc = ig_add(c, &g->nodes[i]);
        if (id >= 0) ig_operator_end(c);
        PL_ASSERT(rc == i);
    }
    PL_ASSERT(ig_graph_finalize(c) == PL_OK && c->param_size == g->param_size &&
              c->state_size == g->state_size);
    memcpy(c->param, g->param, g->param_size * sizeof(float));
    memcpy(c->state, g->state, g->state_size * sizeof(float));
    (void)o;
    return c;
}

/* One step: the operator `id` of the current model searched and, when a
 * feasible faster candidate wins, replaced (r->model updated). */
static int search_operator(search_result *r, int id, int *input_node, int *logits_node,
                           const search_data *data, const graphgen_result *seeds,
                           const search_options *o, double op_ms)
{
    double start = now_seconds();
    eval_ctx x;
    memset(&x, 0, sizeof x);
    x.model = r->model;
    x.input_node = *input_node;
    x.logits_node = *logits_node;
    x.data = data;
    x.o = o;
    x.min_accuracy = r->base_accuracy - o->epsilon / 100.0;
    search_step *s = new_step(r);
    snprintf(s->name, sizeof s->name, "%s", r->model->operators[id].name);
    int rc = gen_extract(r->model, id, &x.op);
    if (rc < 0) { /* cannot be a candidate: recorded as not replaced */
        s->latency_before_ms = s->latency_after_ms = op_ms;
        return PL_OK;
    }
    rc = gen_capture((ig_graph *)r->model, *input_node, data->sample_images, data->n_sample, 16,
                     &x.op, 1, &x.acts);
    search_cand best;
    int front = 0;
    if (rc == PL_OK) rc = evolve(&x, seeds, r->n_steps - 1, r, &best, &front);
    if (rc == PL_OK) {
        /* The original, evaluated like any candidate (cached), for the
         * before figures. */
        search_cand orig;
        memset(&orig, 0, sizeof orig);
        orig.dag = x.op.dag;
        rc = evaluate_batch(&x, &orig, 1);
        s->latency_before_ms = orig.latency_ms;
        s->params_before = orig.params;
        s->front_size = front;
        int better = best.fit.violation == 0 && best.latency_ms < orig.latency_ms &&
                     best.struct_hash != orig.struct_hash;
        s->replaced = rc == PL_OK && better;
        s->chosen = s->replaced ? best.dag : orig.dag;
        s->latency_after_ms = s->replaced ? best.latency_ms : orig.latency_ms;
        s->params_after = s->replaced ? best.params : orig.params;
        s->fit_error = s->replaced ? best.fit_error : 0.0;
        s->accuracy = s->replaced ? best.accuracy : r->base_accuracy;
    }
    if (rc == PL_OK && s->replaced) {
        /* Splice the winner with its fitted weights (refit: deterministic). */
        ig_graph *cg = NULL, *next = NULL;
        rc = gen_dag_build(&s->chosen, &x.op.boundary, &cg);
        if (rc == PL_OK) {
            uint64_t init = o->seed ^ gen_struct_hash(&s->chosen);
            ig_graph_init_params(cg, init);
            gen_fit_options fo = o->fit;
            fo.seed = init;
            gen_fit_result fr;
            rc = gen_fit(cg, &s->chosen, &x.acts, 0, &fo, &fr);
        }
        int *map = pl_xmalloc((size_t)r->model->n_nodes * sizeof(int));
        if (rc == PL_OK) rc = gen_splice(r->model, &x.op, &s->chosen, cg, &next, map);
        if (rc == PL_OK) {
            *input_node = map[*input_node];
            *logits_node = map[*logits_node];
            ig_graph_free(r->model);
            r->model = next;
        }
        pl_free(map);
        ig_graph_free(cg);
    }
    s->evaluations = (int32_t)x.evaluations;
    s->cache_hits = (int32_t)x.cache_hits;
    s->seconds = now_seconds() - start;
    r->evaluations += x.evaluations;
    r->cache_hits += x.cache_hits;
    fprintf(stderr, "search: %s: %s, %.4g -> %.4g ms, %lld -> %lld params, accuracy %.2f%%, "
                "%d evaluations (%d cached), %.1f s\n", s->name,
                s->replaced ? "replaced" : "kept", s->latency_before_ms, s->latency_after_ms,
                (long long)s->params_before, (long long)s->params_after, 100 * s->accuracy,
                s->evaluations, s->cache_hits, s->seconds);
    pl_free(x.cache);
    gen_activations_free(&x.acts);
    gen_operator_free(&x.op);
    return rc;
}

int search_run(const ig_graph *model, int input_node, int logits_node, const search_data *data,
               const graphgen_result *seeds, const search_options *o, search_result *r)
{
    memset(r, 0, sizeof *r);
    PL_ASSERT(o->population >= 2 && o->threads >= 1 && data->n_val >= 1 && data->n_sample >= 2);
    r->model = copy_graph(model, o);
    r->base_accuracy = search_accuracy(r->model, input_node, logits_node, data->val_images,
                                       data->val_labels, data->n_val);
    int n_ops = r->model->n_operators;
    double *ms = pl_xcalloc((size_t)n_ops + 1, sizeof *ms);
    uint8_t *tried = pl_xcalloc((size_t)n_ops + 1, 1);
    int rc = operator_latencies(r->model, o, ms);
    for (int id = 0; id < n_ops; id++) r->base_latency_ms += ms[id];
    int replaced = 0;
    while (rc == PL_OK && replaced < o->operators) {
        int target = -1; /* the slowest operator not tried yet */
        for (int id = 0; id < n_ops; id++)
            if (!tried[id] && (target < 0 || ms[id] > ms[target])) target = id;
        if (target < 0) break;
        tried[target] = 1;
        rc = search_operator(r, target, &input_node, &logits_node, data, seeds, o, ms[target]);
        if (rc == PL_OK && r->steps[r->n_steps - 1].replaced) {
            replaced++;
            rc = operator_latencies(r->model, o, ms); /* re-profile */
        }
    }
    r->input_node = input_node;
    r->logits_node = logits_node;
    r->final_latency_ms = 0;
    if (rc == PL_OK) rc = operator_latencies(r->model, o, ms);
    for (int id = 0; id < n_ops; id++) r->final_latency_ms += ms[id];
    pl_free(ms);
    pl_free(tried);
    if (rc < 0) search_free(r);
    return rc;
}

void search_free(search_result *r)
{
    if (!r) return;
    ig_graph_free(r->model);
    pl_free(r->steps);
    pl_free(r->records);
    memset(r, 0, sizeof *r);
}
