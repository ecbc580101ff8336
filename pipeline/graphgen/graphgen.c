/* graphgen.c: graph generation: extraction, seeds and the sparsity study
 * (see graphgen.h). Randomness comes from GSL generators seeded from
 * options.seed, one per purpose and operator, so results do not depend on
 * how many operators are taken. */
#include "graphgen.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Purposes of the random streams. */
enum { STREAM_SCRATCH = 1, STREAM_ADAPTED = 2, STREAM_SEEDS = 3, STREAM_FIT = 4 };

static gsl_rng *stream(uint64_t seed, int purpose, int op)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    uint64_t z = seed * 0x9e3779b97f4a7c15ULL + (uint64_t)purpose * 1000003u + (uint64_t)op;
    z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ULL;
    gsl_rng_set(r, (unsigned long)(z ^ (z >> 29)));
    return r;
}

double graphgen_latency_ms(const dev_model *m, const ig_graph *g, const gen_dag *d, int batch)
{
    double total = 0.0;
    for (int i = d->n_inputs; i < g->n_nodes; i++) total += dev_predict_node_ms(m, g, i, batch);
    return total;
}

/* Builds d, initialises its parameters (seeded), fits it to operator k and
 * returns the held-out error, its predicted latency and parameter count. */
static int fit_candidate(const gen_dag *d, const gen_boundary *b, const gen_activations *a,
                         int k, const graphgen_options *o, uint64_t init_seed, double *error,
                         double *latency_ms, int64_t *params)
{
    ig_graph *g = NULL;
    PL_TRY(gen_dag_build(d, b, &g));
    ig_graph_init_params(g, init_seed);
    *latency_ms = graphgen_latency_ms(&o->latency_model, g, d, o->latency_batch);
    *params = (int64_t)ig_graph_param_count(g);
    gen_fit_options fo = o->fit;
    fo.seed = init_seed;
    gen_fit_result fr;
    int rc = gen_fit(g, d, a, k, &fo, &fr);
    *error = rc == PL_OK ? fr.error : INFINITY;
    ig_graph_free(g);
    return PL_OK;
}

static void add_sample(graphgen_result *r, const graphgen_sample *s, int *cap)
{
    if (r->n_samples == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        graphgen_sample *grown = pl_xcalloc((size_t)*cap, sizeof *grown);
        if (r->n_samples) memcpy(grown, r->samples, (size_t)r->n_samples * sizeof *grown);
        pl_free(r->samples);
        r->samples = grown;
    }
    r->samples[r->n_samples++] = *s;
}

static void add_candidate(graphgen_result *r, const gen_dag *d, int op, int kind, int *cap)
{
    if (r->n_candidates == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        gen_dag *dags = pl_xcalloc((size_t)*cap, sizeof *dags);
        int32_t *ops = pl_xcalloc((size_t)*cap, sizeof *ops);
        int32_t *kinds = pl_xcalloc((size_t)*cap, sizeof *kinds);
        if (r->n_candidates) {
            memcpy(dags, r->candidates, (size_t)r->n_candidates * sizeof *dags);
            memcpy(ops, r->candidate_op, (size_t)r->n_candidates * sizeof *ops);
            memcpy(kinds, r->candidate_kind, (size_t)r->n_candidates * sizeof *kinds);
        }
        pl_free(r->candidates);
        pl_free(r->candidate_op);
        pl_free(r->candidate_kind);
        r->candidates = dags;
        r->candidate_op = ops;
        r->candidate_kind = kinds;
    }
    r->candidates[r->n_candidates] = *d;
    r->candidate_op[r->n_candidates] = op;
    r->candidate_kind[r->n_candidates++] = kind;
}

/* The study of operator k: study_samples candidates of each kind, drawn in
 * order from the seeded streams, then fitted in parallel, one candidate per
 * thread (each fit single-threaded: small operators gain nothing from
 * threads inside a kernel, and results do not depend on the thread count). */
static int study(graphgen_result *r, int k, const graphgen_options *o, int *cap)
{
    const gen_operator *op = &r->ops[k];
    int n = 2 * o->study_samples;
    if (n == 0) return PL_OK;
    gen_dag *dags = pl_xmalloc((size_t)n * sizeof *dags);
    graphgen_sample *s = pl_xcalloc((size_t)n, sizeof *s);
    gsl_rng *rs = stream(o->seed, STREAM_SCRATCH, k), *ra = stream(o->seed, STREAM_ADAPTED, k);
    for (int i = 0; i < n; i++) {
        int kind = i < o->study_samples ? GRAPHGEN_SCRATCH : GRAPHGEN_ADAPTED;
        s[i] = (graphgen_sample){.op = k, .kind = kind, .fit_error = NAN,
                                 .latency_ratio = NAN, .params = -1};
        s[i].valid = kind == GRAPHGEN_SCRATCH
                         ? gen_random_dag(&dags[i], &op->boundary, &o->iset, o->min_nodes,
                                          o->max_nodes, rs)
                         : gen_mutate(&dags[i], &op->dag, &op->boundary, &o->iset, ra,
                                      &r->mutations);
    }
    gsl_rng_free(rs);
    gsl_rng_free(ra);
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed) num_threads(o->threads)
    for (int i = 0; i < n; i++) {
        if (!s[i].valid) continue;
        double ms;
        failed |= fit_candidate(&dags[i], &op->boundary, &r->acts, k, o,
                                o->seed + 7919u * (uint64_t)(i + 1), &s[i].fit_error, &ms,
                                &s[i].params) < 0;
        s[i].latency_ratio = r->original_ms[k] > 0 ? ms / r->original_ms[k] : NAN;
        s[i].fit_ok = s[i].fit_error <= r->original_error[k] + o->study_threshold;
        s[i].struct_hash = gen_struct_hash(&dags[i]);
    }
    for (int i = 0; i < n; i++) add_sample(r, &s[i], cap);
    pl_free(dags);
    pl_free(s);
    if (failed)
        PL_FAIL(PL_ERR_SHAPE, "graphgen: %s: a candidate judged valid failed to build (a bug "
                "in the generator's validity check)", op->name);
    return PL_OK;
}

/* The original and up to seed_candidates distinct valid adaptations. */
static void seeds(graphgen_result *r, int k, const graphgen_options *o, int *cap)
{
    const gen_operator *op = &r->ops[k];
    add_candidate(r, &op->dag, k, 0, cap);
    uint64_t seen[256];
    int n_seen = 0;
    seen[n_seen++] = gen_struct_hash(&op->dag);
    gsl_rng *rng = stream(o->seed, STREAM_SEEDS, k);
    for (int tries = 0; tries < 20 * o->seed_candidates && n_seen <= o->seed_candidates &&
                        n_seen < 256;
         tries++) {
        gen_dag d;
        if (!gen_mutate(&d, &op->dag, &op->boundary, &o->iset, rng, NULL)) continue;
        uint64_t h = gen_struct_hash(&d);
        int dup = 0;
        for (int j = 0; j < n_seen; j++) dup |= seen[j] == h;
        if (dup) continue;
        seen[n_seen++] = h;
        add_candidate(r, &d, k, 1, cap);
    }
    gsl_rng_free(rng);
}

int graphgen_run(ig_graph *model, int input_node, const int32_t *ranking, int n_ranked,
                 const float *images, int n_images, const graphgen_options *o,
                 graphgen_result *r)
{
    memset(r, 0, sizeof *r);
    PL_ASSERT(o->top_operators >= 1 && o->min_nodes >= 1 && o->max_nodes >= o->min_nodes &&
              o->threads >= 1);
    r->ops = pl_xcalloc((size_t)o->top_operators, sizeof *r->ops);
    for (int i = 0; i < n_ranked && r->n_ops < o->top_operators; i++) {
        if (gen_extract(model, ranking[i], &r->ops[r->n_ops]) == PL_OK)
            r->n_ops++;
        else
            r->skipped++;
    }
    if (r->n_ops == 0)
        PL_FAIL(PL_ERR_INVAL, "graphgen: none of the %d ranked operators can be a candidate "
                "(last reason: %s)", n_ranked, pl_last_error());
    PL_TRY(gen_capture(model, input_node, images, n_images, 16, r->ops, r->n_ops, &r->acts));
    r->original_error = pl_xcalloc((size_t)r->n_ops, sizeof(double));
    r->original_ms = pl_xcalloc((size_t)r->n_ops, sizeof(double));
    int sample_cap = 0, cand_cap = 0;
    for (int k = 0; k < r->n_ops; k++) {
        /* The reference: the original DAG re-initialised and fitted the
         * same way as every candidate. */
        int64_t params;
        PL_TRY(fit_candidate(&r->ops[k].dag, &r->ops[k].boundary, &r->acts, k, o,
                             o->seed + STREAM_FIT, &r->original_error[k], &r->original_ms[k],
                             &params));
        seeds(r, k, o, &cand_cap);
        PL_TRY(study(r, k, o, &sample_cap));
        if (o->progress)
            fprintf(stderr, "graphgen: %d/%d %s: original refit error %.4g, %.4g ms predicted\n",
                    k + 1, r->n_ops, r->ops[k].name, r->original_error[k], r->original_ms[k]);
    }
    return PL_OK;
}

void graphgen_free(graphgen_result *r)
{
    if (!r) return;
    for (int k = 0; r->ops && k < r->n_ops; k++) gen_operator_free(&r->ops[k]);
    pl_free(r->ops);
    gen_activations_free(&r->acts);
    pl_free(r->original_error);
    pl_free(r->original_ms);
    pl_free(r->candidates);
    pl_free(r->candidate_op);
    pl_free(r->candidate_kind);
    pl_free(r->samples);
    memset(r, 0, sizeof *r);
}
