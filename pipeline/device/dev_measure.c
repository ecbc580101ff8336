/* dev_measure.c: timing on this machine. A timed run repeats the timed code
 * until it has lasted min_run_ms (doubling the repetitions from a calibration
 * run), so microsecond instructions are not lost in the clock's resolution;
 * the sample is the time per repetition. */
#include "dev.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "pl_threads.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

/* Repetitions per timed run: enough for min_run_ms, measured once. */
static int calibrate_repeats(void (*fn)(void *ctx), void *ctx, const dev_timing *t)
{
    int repeats = 1;
    for (;;) {
        double start = now_ms();
        for (int r = 0; r < repeats; r++) fn(ctx);
        double took = now_ms() - start;
        if (took >= t->min_run_ms || repeats >= (1 << 20)) return repeats;
        repeats *= took > 0 ? 2 : 16;
    }
}

void dev_time(void (*fn)(void *ctx), void *ctx, const dev_timing *t, dev_latency *out)
{
    dev_time_interleaved(&fn, &ctx, 1, t, out);
}

void dev_time_interleaved(void (*const *fns)(void *ctx), void *const *ctxs, int k,
                          const dev_timing *t, dev_latency *outs)
{
    PL_ASSERT(t->threads >= 1 && t->timed_runs >= 1 && t->warmup_runs >= 0 && k >= 1);
    const int threads_before = pl_threads_get(); /* restored: the caller's count */
    pl_threads_set(t->threads);
    int *repeats = pl_xmalloc((size_t)k * sizeof *repeats);
    for (int j = 0; j < k; j++) {
        for (int i = 0; i < t->warmup_runs; i++) fns[j](ctxs[j]);
        repeats[j] = calibrate_repeats(fns[j], ctxs[j], t);
    }
    double *samples = pl_xmalloc((size_t)k * t->timed_runs * sizeof *samples);
    for (int i = 0; i < t->timed_runs; i++)
        for (int m = 0; m < k; m++) {
            int j = i % 2 ? k - 1 - m : m; /* alternate the order: no favoured slot */
            double start = now_ms();
            for (int r = 0; r < repeats[j]; r++) fns[j](ctxs[j]);
            samples[(size_t)j * t->timed_runs + i] = (now_ms() - start) / repeats[j];
        }
    for (int j = 0; j < k; j++) {
        dev_summarize(samples + (size_t)j * t->timed_runs, t->timed_runs, &outs[j]);
        outs[j].repeats = repeats[j];
    }
    pl_free(samples);
    pl_free(repeats);
    pl_threads_set(threads_before);
}

typedef struct {
    ig_graph  *g;
    const int *nodes;
    int        count;
} node_run;

static void run_nodes(void *ctx)
{
    node_run *r = ctx;
    for (int i = 0; i < r->count; i++) ig_forward_node(r->g, r->nodes[i]);
}

void dev_time_nodes(ig_graph *g, const int *nodes, int count, const dev_timing *t,
                    dev_latency *out)
{
    node_run r = {g, nodes, count};
    dev_time(run_nodes, &r, t, out);
}

int dev_inference_nodes(const ig_graph *g, int *nodes)
{
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        int op = g->nodes[i].op;
        if (op != IG_OP_INPUT && op != IG_OP_SOFTMAX_XENT) nodes[count++] = i;
    }
    return count;
}

int dev_operator_nodes(const ig_graph *g, int id, int *nodes)
{
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].operator_id == id) nodes[count++] = i;
    return count;
}

/* Fixed pseudo-random values in [-1, 1) (an LCG): the same input on every
 * machine and build. */
static void fill_input(float *x, size_t n)
{
    uint32_t state = 12345u;
    for (size_t i = 0; i < n; i++) {
        state = state * 1664525u + 1013904223u;
        x[i] = (float)((state >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

/* Plans g for batch in evaluation mode, fills its inputs and runs it once,
 * so every operator's inputs hold real activations; *nodes (allocated) are
 * its inference nodes. */
static int prepare_graph(ig_graph *g, int batch, const dev_timing *t, int **nodes, int *count)
{
    const int threads_before = pl_threads_get();
    PL_TRY(ig_graph_plan_inference(g, batch));
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == IG_OP_INPUT)
            fill_input(ig_value(g, i), (size_t)batch * (size_t)g->nodes[i].shape.c *
                                           (size_t)g->nodes[i].shape.h * (size_t)g->nodes[i].shape.w);
    *nodes = pl_xmalloc((size_t)g->n_nodes * sizeof **nodes);
    *count = dev_inference_nodes(g, *nodes);
    node_run whole = {g, *nodes, *count};
    pl_threads_set(t->threads); /* the untimed first forward too */
    run_nodes(&whole);
    pl_threads_set(threads_before);
    return PL_OK;
}

/* The operators are timed interleaved (dev_time_interleaved): each timed
 * run visits all of them, so a change in the machine's load during the
 * measurement (other processes on a shared machine) reaches every operator
 * alike instead of the few timed while it lasted, which would reorder
 * operators of similar cost. The whole model is timed after them, on its
 * own: back to back, as inference runs. */
int dev_time_graph(ig_graph *g, int batch, const dev_timing *t, dev_graph_timings *out)
{
    memset(out, 0, sizeof *out);
    int *nodes = NULL, count = 0;
    PL_TRY(prepare_graph(g, batch, t, &nodes, &count));
    const int k = g->n_operators;
    out->n_operators = k;
    out->operators = pl_xcalloc((size_t)(k > 0 ? k : 1), sizeof *out->operators);
    if (k > 0) {
        int *op_nodes = pl_xmalloc((size_t)g->n_nodes * sizeof *op_nodes);
        node_run *runs = pl_xmalloc((size_t)k * sizeof *runs);
        void (**fns)(void *ctx) = pl_xmalloc((size_t)k * sizeof *fns);
        void **ctxs = pl_xmalloc((size_t)k * sizeof *ctxs);
        /* the operators' node lists, one after another (each node belongs
         * to one operator at most) */
        int used = 0;
        for (int id = 0; id < k; id++) {
            int n = dev_operator_nodes(g, id, op_nodes + used);
            runs[id] = (node_run){g, op_nodes + used, n};
            fns[id] = run_nodes;
            ctxs[id] = &runs[id];
            used += n;
        }
        dev_time_interleaved(fns, ctxs, k, t, out->operators);
        pl_free(ctxs);
        pl_free(fns);
        pl_free(runs);
        pl_free(op_nodes);
    }
    dev_time_nodes(g, nodes, count, t, &out->model);
    pl_free(nodes);
    return PL_OK;
}

int dev_time_models(ig_graph *const *gs, int k, int batch, const dev_timing *t, dev_latency *out)
{
    PL_ASSERT(k >= 1 && k <= 8);
    node_run runs[8];
    void (*fns[8])(void *ctx);
    void *ctxs[8];
    int *nodes[8] = {0}, rc = PL_OK;
    for (int j = 0; j < k && rc == PL_OK; j++) {
        int count = 0;
        rc = prepare_graph(gs[j], batch, t, &nodes[j], &count);
        runs[j] = (node_run){gs[j], nodes[j], count};
        fns[j] = run_nodes;
        ctxs[j] = &runs[j];
    }
    if (rc == PL_OK) dev_time_interleaved(fns, ctxs, k, t, out);
    for (int j = 0; j < k; j++) pl_free(nodes[j]);
    return rc;
}

void dev_graph_timings_free(dev_graph_timings *t)
{
    if (!t) return;
    pl_free(t->operators);
    t->operators = NULL;
    t->n_operators = 0;
}
