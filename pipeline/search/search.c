/* search.c: the per-operator evolution and the outer loop (see search.h),
 * written as a state machine over generation boundaries (search_state,
 * search_internal.h) so that a checkpoint after every generation and every
 * finished operator lets a killed search resume to exactly the result of an
 * uninterrupted one. */
#include "search_internal.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The most the validation images' values below a step's operator may take
 * (search_prefix.c); above it candidates run the whole model. */
#define PREFIX_MAX_BYTES ((size_t)512 << 20)

/* Purposes of the random streams (search_stream). */
static const int stream_purpose[RNG_COUNT] = {11, 12, 13};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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

/* Whether h is the functional hash of a candidate in x's cache or of one of
 * kids[0..n) (hashed by offspring). */
static int seen_before(const eval_ctx *x, uint64_t h, const search_cand *kids, int n)
{
    for (int i = 0; i < x->n_cache; i++)
        if (x->cache[i].func_hash == h) return 1;
    for (int i = 0; i < n; i++)
        if (kids[i].func_hash == h) return 1;
    return 0;
}

/* P offspring of pop by tournament selection, crossover or mutation. With
 * o->fresh_offspring, a valid child that computes what a scored candidate or
 * an earlier child does is redrawn too (the 20th try stands either way). */
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
            if (!o->fresh_offspring || (!ok && tries < 19)) continue;
            search_hash_candidate(x, &kids[k]);
            if (tries < 19 && seen_before(x, kids[k].func_hash, kids, k)) ok = 0;
        }
    }
}

/* Sorts pop (n) by constrained non-domination and crowding. */
static void rank_population(search_cand *pop, int n)
{
    nsga2_fitness *fit = pl_xmalloc((size_t)n * sizeof *fit);
    void *work = pl_xmalloc(nsga2_work_size(n));
    for (int i = 0; i < n; i++) fit[i] = pop[i].fit;
    nsga2_sort(fit, n, 2, work);
    nsga2_crowding(fit, n, 2, work);
    for (int i = 0; i < n; i++) pop[i].fit = fit[i];
    pl_free(fit);
    pl_free(work);
}

/* The live line on a terminal: operator, generation, first-front size,
 * feasible share, best feasible latency and an estimate of the step's
 * remaining time from the generations so far. */
static void show_progress(const search_state *st)
{
    const search_options *o = st->x.o;
    int P = o->population, front = 0, feasible = 0;
    double best = INFINITY;
    for (int i = 0; i < P; i++) {
        const search_cand *c = &st->pop[i];
        front += c->fit.rank == 0;
        if (c->fit.violation > 0) continue;
        feasible++;
        if (c->latency_ms < best) best = c->latency_ms;
    }
    double spent = st->step_seconds + (now_seconds() - st->step_started);
    double eta = st->generation > 0 ? spent / (st->generation + 1) * (o->generations -
                                                                     st->generation)
                                    : 0.0;
    fprintf(stderr, "\rsearch: %s: generation %d/%d, front %d, feasible %d/%d, best %.4g ms, "
            "ETA %d:%02d ", st->x.op.name, st->generation, o->generations, front, feasible, P,
            best, (int)eta / 60, (int)eta % 60);
    fflush(stderr);
}

/* The ask/tell seam: search_ask writes the next batch of candidates to
 * evaluate (the first population, or P offspring of the current one), any
 * evaluator fills in their results (here search_evaluate_batch; spreading
 * it over machines changes nothing else), and search_tell folds them in
 * (the first population becomes the population; offspring compete with it
 * for survival) and records the generation. */
static void search_ask(search_state *st, const graphgen_result *seeds, search_cand *batch)
{
    const search_options *o = st->x.o;
    int P = o->population;
    if (st->generation < 0) {
        initial_population(&st->x, seeds, st->rng[RNG_INIT], batch);
        return;
    }
    nsga2_fitness *fit = pl_xmalloc((size_t)P * sizeof *fit);
    for (int i = 0; i < P; i++) fit[i] = st->pop[i].fit;
    offspring(&st->x, st->pop, fit, st->rng[RNG_SELECT], st->rng[RNG_VARY], batch);
    pl_free(fit);
}

static void search_tell(search_state *st, const search_cand *batch)
{
    const search_options *o = st->x.o;
    int P = o->population;
    if (st->generation < 0) {
        memcpy(st->pop, batch, (size_t)P * sizeof *batch);
    } else {
        search_cand *all = pl_xmalloc((size_t)2 * P * sizeof *all);
        nsga2_fitness *fit = pl_xmalloc((size_t)2 * P * sizeof *fit);
        void *work = pl_xmalloc(nsga2_work_size(2 * P));
        int *keep = pl_xmalloc((size_t)2 * P * sizeof(int));
        memcpy(all, st->pop, (size_t)P * sizeof *all);
        memcpy(all + P, batch, (size_t)P * sizeof *all);
        for (int i = 0; i < 2 * P; i++) fit[i] = all[i].fit;
        nsga2_survive(fit, 2 * P, 2, P, keep, work);
        for (int i = 0; i < P; i++) st->pop[i] = all[keep[i]];
        pl_free(all);
        pl_free(fit);
        pl_free(work);
        pl_free(keep);
    }
    rank_population(st->pop, P);
    st->generation++;
    record(st->r, st->r->n_steps - 1, st->generation, st->pop, P);
    if (o->progress) show_progress(st);
}

/* One round: ask, evaluate, tell. */
static int generation(search_state *st, const graphgen_result *seeds)
{
    int P = st->x.o->population;
    search_cand *batch = pl_xcalloc((size_t)P, sizeof *batch);
    search_ask(st, seeds, batch);
    int rc = search_evaluate_batch(&st->x, batch, P);
    if (rc == PL_OK) search_tell(st, batch);
    pl_free(batch);
    return rc;
}

/* The feasible first front's choice: lowest latency (then fewest
 * parameters) or the knee point; -1 when nothing is feasible. */
static int choose(const search_state *st)
{
    const search_options *o = st->x.o;
    int P = o->population;
    nsga2_fitness *fit = pl_xmalloc((size_t)P * sizeof *fit);
    int *front = pl_xmalloc((size_t)P * sizeof(int));
    for (int i = 0; i < P; i++) fit[i] = st->pop[i].fit;
    int m = nsga2_front(fit, P, front), pick = -1;
    if (m > 0 && o->choose_knee) {
        pick = nsga2_knee(fit, front, m);
    } else {
        for (int j = 0; j < m; j++) {
            const search_cand *c = &st->pop[front[j]];
            if (pick < 0 || c->latency_ms < st->pop[pick].latency_ms ||
                (c->latency_ms == st->pop[pick].latency_ms && c->params < st->pop[pick].params))
                pick = front[j];
        }
    }
    st->r->steps[st->r->n_steps - 1].front_size = m;
    pl_free(fit);
    pl_free(front);
    return pick;
}

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

/* The validation accuracy of the model as it stands before step `step`: the
 * last replacement's, after its recovery, or the baseline's. */
static double current_accuracy(const search_result *r, int step)
{
    for (int k = step - 1; k >= 0; k--)
        if (r->steps[k].replaced) return r->steps[k].accuracy_recovered;
    return r->base_accuracy;
}

/* Cuts st->target out of the current model with fresh activations and sets
 * the accuracy floor of its candidates; 1 when the operator cannot be a
 * candidate (gen_extract's error says why). */
static int prepare_step(search_state *st, const search_data *data, const search_options *o)
{
    eval_ctx *x = &st->x;
    x->model = st->r->model;
    x->input_node = st->r->input_node;
    x->logits_node = st->r->logits_node;
    x->data = data;
    x->o = o;
    x->min_accuracy = st->r->base_accuracy - (o->epsilon + o->finetune_slack) / 100.0;
    if (o->max_step_drop > 0) {
        const double step_floor =
            current_accuracy(st->r, st->r->n_steps - 1) - o->max_step_drop / 100.0;
        if (step_floor > x->min_accuracy) x->min_accuracy = step_floor;
    }
    if (gen_extract(st->r->model, st->target, &x->op) < 0) return 1;
    PL_TRY(search_latency_bar(x));
    PL_TRY(search_prefix_build(st->r->model, x->input_node, x->logits_node, st->target,
                               data->val_images, data->n_val, PREFIX_MAX_BYTES, &x->prefix));
    return gen_capture(st->r->model, x->input_node, data->sample_images, data->n_sample, 16,
                       &x->op, 1, &x->acts);
}

static void release_step(search_state *st)
{
    pl_free(st->x.cache);
    gen_activations_free(&st->x.acts);
    search_prefix_free(&st->x.prefix);
    gen_operator_free(&st->x.op);
    memset(&st->x, 0, sizeof st->x);
    for (int k = 0; k < RNG_COUNT; k++) {
        if (st->rng[k]) gsl_rng_free(st->rng[k]);
        st->rng[k] = NULL;
    }
    st->in_step = 0;
    st->generation = -1;
}

/* Starts the search of the slowest operator not tried yet; 0 when none is
 * left or it is below o->min_share of the model's latency. */
static int begin_step(search_state *st, const search_data *data, const search_options *o)
{
    int target = -1;
    double total = 0;
    for (int id = 0; id < st->n_ops; id++) {
        total += st->ms[id];
        if (!st->tried[id] && (target < 0 || st->ms[id] > st->ms[target])) target = id;
    }
    if (target < 0 || st->ms[target] < o->min_share * total) return 0;
    st->tried[target] = 1;
    st->target = target;
    st->in_step = 1;
    st->generation = -1;
    st->step_seconds = 0;
    st->step_started = now_seconds();
    search_step *s = new_step(st->r);
    snprintf(s->name, sizeof s->name, "%s", st->r->model->operators[target].name);
    s->latency_before_ms = s->latency_after_ms = st->ms[target];
    for (int k = 0; k < RNG_COUNT; k++)
        st->rng[k] = search_stream(o->seed, stream_purpose[k], st->r->n_steps - 1);
    int rc = prepare_step(st, data, o);
    if (rc < 0) {
        release_step(st);
        return rc;
    }
    if (rc == 1) { /* not a candidate: kept, as it is */
        s->accuracy = s->accuracy_recovered = current_accuracy(st->r, st->r->n_steps - 1);
        fprintf(stderr, "search: %s: kept (%s)\n", s->name, pl_last_error());
        release_step(st);
    }
    return 1;
}

/* Ends the step: picks the winner, splices it (refitted: deterministic) when
 * it is feasible and faster than the original, re-profiles. */
static int finish_step(search_state *st, const search_options *o)
{
    search_result *r = st->r;
    search_step *s = &r->steps[r->n_steps - 1];
    eval_ctx *x = &st->x;
    int pick = choose(st);
    search_cand orig;
    memset(&orig, 0, sizeof orig);
    orig.dag = x->op.dag;
    PL_TRY(search_score(x, &orig));
    s->latency_before_ms = orig.latency_ms;
    s->params_before = orig.params;
    const search_cand *best = pick >= 0 ? &st->pop[pick] : NULL;
    s->replaced = best && best->latency_ms < (1.0 - o->min_gain) * orig.latency_ms &&
                  best->struct_hash != orig.struct_hash;
    s->chosen = s->replaced ? best->dag : orig.dag;
    s->latency_after_ms = s->replaced ? best->latency_ms : orig.latency_ms;
    s->params_after = s->replaced ? best->params : orig.params;
    s->fit_error = s->replaced ? best->fit_error : 0.0;
    /* The model's validation accuracy after the step: with the winner, or as
     * it stands (not the original's evaluation here, which refits the
     * operator from scratch). */
    s->accuracy = s->replaced ? best->accuracy : current_accuracy(r, r->n_steps - 1);
    s->accuracy_recovered = s->accuracy;
    s->evaluations = (int32_t)x->evaluations;
    s->cache_hits = (int32_t)x->cache_hits;
    r->evaluations += x->evaluations;
    r->cache_hits += x->cache_hits;
    int rc = PL_OK, recover = 0, rounds = 0;
    if (s->replaced) {
        ig_graph *cg = NULL, *next = NULL;
        rc = gen_dag_build(&s->chosen, &x->op.boundary, &cg);
        if (rc == PL_OK) {
            uint64_t init = o->seed ^ gen_struct_hash(&s->chosen);
            ig_graph_init_params(cg, init);
            gen_fit_options fo = o->fit;
            fo.seed = init;
            gen_fit_result fr;
            rc = gen_fit(cg, &s->chosen, &x->acts, 0, &fo, &fr);
        }
        int *map = pl_xmalloc((size_t)r->model->n_nodes * sizeof(int));
        if (rc == PL_OK) rc = gen_splice(r->model, &x->op, &s->chosen, cg, &next, map);
        if (rc == PL_OK) {
            r->input_node = map[r->input_node];
            r->logits_node = map[r->logits_node];
            ig_graph_free(r->model);
            r->model = next;
            st->replaced++;
        }
        pl_free(map);
        ig_graph_free(cg);
        /* accuracies are counts over the same images: the tolerance only
         * keeps a drop of exactly recovery_min_drop from rounding below it */
        recover = o->recovery_steps > 0 &&
                      (o->recovery_min_drop <= 0 ||
                       r->base_accuracy - s->accuracy >= o->recovery_min_drop / 100.0 - 1e-9);
        if (rc == PL_OK && recover) {
            const double recovery_started = now_seconds();
            rc = search_recover(r, x->data, o, st->replaced, s->name, &s->accuracy_recovered,
                                &rounds);
            s->recovery_seconds = now_seconds() - recovery_started;
        }
        if (rc == PL_OK) rc = search_operator_latencies(r->model, o, st->ms); /* re-profile */
    }
    s->seconds = st->step_seconds + now_seconds() - st->step_started; /* recovery included */
    if (o->progress) fprintf(stderr, "\n");
    char recovered[64] = "";
    if (recover)
        snprintf(recovered, sizeof recovered, " (%.2f%% after %d round%s, %.0f s, of recovery)",
                 100 * s->accuracy_recovered, rounds, rounds == 1 ? "" : "s",
                 s->recovery_seconds);
    else if (s->replaced && o->recovery_steps > 0)
        snprintf(recovered, sizeof recovered, " (no recovery: within %.3g points)",
                 o->recovery_min_drop);
    fprintf(stderr, "search: %s: %s, %.4g -> %.4g ms, %lld -> %lld params, accuracy %.2f%%%s, "
            "%d evaluations (%d cached), %.0f s\n", s->name, s->replaced ? "replaced" : "kept",
            s->latency_before_ms, s->latency_after_ms, (long long)s->params_before,
            (long long)s->params_after, 100 * s->accuracy, recovered, s->evaluations,
            s->cache_hits, s->seconds);
    release_step(st);
    return rc;
}

/* Writes the checkpoint; 1 when the caller asked to stop after it. */
static int checkpoint(search_state *st, const search_options *o)
{
    if (!o->checkpoint_path) return 0;
    double spent = st->step_seconds;
    st->step_seconds += now_seconds() - st->step_started; /* as written */
    int rc = search_ckpt_write(o->checkpoint_path, o->fingerprint, st);
    st->step_seconds = spent;
    if (rc < 0) return rc;
    st->checkpoints++;
    return o->stop_after > 0 && st->checkpoints >= o->stop_after;
}

static void free_state(search_state *st)
{
    release_step(st);
    pl_free(st->ms);
    pl_free(st->tried);
    pl_free(st->pop);
}

int search_run(const ig_graph *model, int input_node, int logits_node, const search_data *data,
               const graphgen_result *seeds, const search_options *o, search_result *r)
{
    memset(r, 0, sizeof *r);
    PL_ASSERT(o->population >= 2 && o->threads >= 1 && data->n_val >= 1 && data->n_sample >= 2);
    search_state st;
    memset(&st, 0, sizeof st);
    st.r = r;
    st.generation = -1;
    st.pop = pl_xcalloc((size_t)o->population, sizeof *st.pop);
    int rc = o->checkpoint_path ? search_ckpt_read(o->checkpoint_path, o->fingerprint, o, &st) : 0;
    if (rc == 0) { /* a fresh start */
        r->model = ig_graph_copy(model, -1, NULL);
        r->input_node = input_node;
        r->logits_node = logits_node;
        r->base_accuracy = search_accuracy(r->model, input_node, logits_node, data->val_images,
                                           data->val_labels, data->n_val);
        if (isnan(r->base_accuracy))
            rc = pl_error(PL_ERR_SHAPE, __FILE__, __LINE__, "search: the model cannot run on "
                          "the validation images (%s)", pl_last_error());
        st.n_ops = r->model->n_operators;
        st.ms = pl_xcalloc((size_t)st.n_ops + 1, sizeof *st.ms);
        st.tried = pl_xcalloc((size_t)st.n_ops + 1, sizeof *st.tried);
        if (rc == PL_OK) rc = search_operator_latencies(r->model, o, st.ms);
        for (int id = 0; id < st.n_ops && rc == PL_OK; id++) r->base_latency_ms += st.ms[id];
    } else if (rc == 1) {
        fprintf(stderr, "search: resuming from %s (%d operators searched%s)\n",
                o->checkpoint_path, r->n_steps - st.in_step,
                st.in_step ? ", one under way" : "");
        rc = st.in_step ? prepare_step(&st, data, o) : PL_OK;
        if (rc == 1)
            rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__, "%s: the step under way cannot be "
                          "searched (%s)", o->checkpoint_path, pl_last_error());
        st.step_started = now_seconds();
    }
    int stop = 0;
    while (rc == PL_OK && !stop) {
        if (!st.in_step) {
            if (st.replaced >= o->operators) break;
            int begun = begin_step(&st, data, o);
            if (begun < 0) rc = begun;
            if (begun <= 0) break;
            if (!st.in_step) continue; /* not a candidate: recorded as kept */
        }
        if (st.generation < o->generations) {
            rc = generation(&st, seeds);
        } else {
            rc = finish_step(&st, o);
        }
        if (rc == PL_OK) {
            int c = checkpoint(&st, o);
            if (c < 0) rc = c;
            stop = c > 0;
        }
    }
    r->stopped = stop;
    if (rc == PL_OK && !stop) {
        double *ms = pl_xcalloc((size_t)st.n_ops + 1, sizeof *ms);
        if (o->device_kind != DEV_PREDICTED) {
            /* Measured: the original again, right before the adapted model,
             * so the two sums share the machine's load (on a shared machine
             * the load at the search's start may be long gone). */
            ig_graph *original = ig_graph_copy(model, -1, NULL);
            rc = original ? search_operator_latencies(original, o, ms) : PL_ERR_INVAL;
            ig_graph_free(original);
            r->base_latency_ms = 0;
            for (int id = 0; id < st.n_ops && rc == PL_OK; id++) r->base_latency_ms += ms[id];
        }
        if (rc == PL_OK) rc = search_operator_latencies(r->model, o, ms);
        r->final_latency_ms = 0;
        for (int id = 0; id < st.n_ops && rc == PL_OK; id++) r->final_latency_ms += ms[id];
        pl_free(ms);
    }
    free_state(&st);
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
