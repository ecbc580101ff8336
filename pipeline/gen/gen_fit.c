/* gen_fit.c: the quick fit of a candidate to the original operator's
 * outputs on recorded activations (see gen.h), the search's accuracy
 * proxy. */
#include "gen.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <math.h>
#include <string.h>

static size_t shape_size(const ig_shape *s) { return (size_t)s->c * s->h * s->w; }

/* Copies examples idx[0..count) of operator k's recorded inputs into g's
 * input nodes. */
static void load_inputs(ig_graph *g, const gen_dag *d, const gen_activations *a, int k,
                        const int *idx, int count)
{
    for (int i = 0; i < d->n_inputs; i++) {
        size_t sz = shape_size(&g->nodes[i].shape);
        const float *src = a->inputs[k * GEN_MAX_INPUTS + i];
        float *dst = ig_value(g, i);
        for (int b = 0; b < count; b++)
            memcpy(dst + (size_t)b * sz, src + (size_t)idx[b] * sz, sz * sizeof(float));
    }
}

/* Runs the non-input nodes forward. */
static void forward(ig_graph *g, const gen_dag *d)
{
    for (int i = d->n_inputs; i < g->n_nodes; i++) ig_forward_node(g, i);
}

/* sum((y - t)^2) and sum(t^2) over count examples; dout (count * sz) gets
 * (y - t) when not NULL. */
static void squared_error(const float *y, const float *t_all, const int *idx, int count,
                          size_t sz, double *err, double *energy, float *dout)
{
    double e = 0, en = 0;
    for (int b = 0; b < count; b++) {
        const float *t = t_all + (size_t)idx[b] * sz;
        for (size_t j = 0; j < sz; j++) {
            double diff = (double)y[(size_t)b * sz + j] - t[j];
            e += diff * diff;
            en += (double)t[j] * t[j];
            if (dout) dout[(size_t)b * sz + j] = (float)diff;
        }
    }
    *err = e;
    *energy = en;
}

double gen_fit_error(ig_graph *g, const gen_dag *d, const gen_activations *a, int k,
                     double holdout, int batch)
{
    int n_eval = (int)(a->n * holdout);
    if (n_eval < 1) n_eval = 1;
    int first = a->n - n_eval;
    if (ig_graph_plan(g, batch) < 0 || ig_set_training(g, 0) < 0) return INFINITY;
    size_t sz = shape_size(&g->nodes[d->output].shape);
    int idx[1024];
    PL_ASSERT(batch <= 1024);
    double err = 0, energy = 0;
    for (int start = first; start < a->n; start += batch) {
        int count = a->n - start < batch ? a->n - start : batch;
        for (int b = 0; b < count; b++) idx[b] = start + b;
        load_inputs(g, d, a, k, idx, count);
        forward(g, d);
        double e, en;
        squared_error(ig_value(g, d->output), a->outputs[k], idx, count, sz, &e, &en, NULL);
        err += e;
        energy += en;
    }
    double rel = err / (energy > 0 ? energy : 1.0);
    return isfinite(rel) ? rel : INFINITY;
}

/* Adam (Kingma and Ba, 2015) over g's parameter slab: each parameter's step
 * is scaled by its own gradient history, so candidates whose instructions
 * differ by orders of magnitude in gradient size fit with one learning rate
 * (plain SGD drove batch-norm shifts so negative that every ReLU died). */
typedef struct {
    float *m, *v; /* (param_size) first and second moments */
    int    t;
} adam;

static void adam_step(adam *a, ig_graph *g, double lr)
{
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    a->t++;
    float c1 = 1.0f - powf(b1, (float)a->t), c2 = 1.0f - powf(b2, (float)a->t);
    float step = (float)lr * sqrtf(c2) / c1;
    for (size_t i = 0; i < g->param_size; i++) {
        float gr = g->grad[i];
        a->m[i] = b1 * a->m[i] + (1 - b1) * gr;
        a->v[i] = b2 * a->v[i] + (1 - b2) * gr * gr;
        g->param[i] -= step * a->m[i] / (sqrtf(a->v[i]) + eps);
    }
}

/* A deterministic example index in [0, n) for (seed, step, slot). */
static int pick(uint64_t seed, int step, int slot, int n)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(step * 1024 + slot + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (int)(z % (uint64_t)n);
}

int gen_fit(ig_graph *g, const gen_dag *d, const gen_activations *a, int k,
            const gen_fit_options *o, gen_fit_result *r)
{
    PL_ASSERT(o->batch >= 2 && o->batch <= 1024 && o->steps >= 0);
    memset(r, 0, sizeof *r);
    int n_eval = (int)(a->n * o->holdout);
    if (n_eval < 1) n_eval = 1;
    int n_train = a->n - n_eval;
    if (n_train < 1)
        PL_FAIL(PL_ERR_INVAL, "quick fit: %d recorded examples leave none to fit on", a->n);
    r->error_before = gen_fit_error(g, d, a, k, o->holdout, o->batch);

    PL_TRY(ig_graph_plan(g, o->batch));
    PL_TRY(ig_set_training(g, 1));
    adam opt = {pl_xcalloc(g->param_size + 1, sizeof(float)),
                pl_xcalloc(g->param_size + 1, sizeof(float)), 0};
    size_t sz = shape_size(&g->nodes[d->output].shape);
    float *dout = pl_xmalloc((size_t)o->batch * sz * sizeof(float));
    int idx[1024];
    int diverged = 0;
    for (int s = 0; s < o->steps && !diverged; s++) {
        for (int b = 0; b < o->batch; b++) idx[b] = pick(o->seed, s, b, n_train);
        load_inputs(g, d, a, k, idx, o->batch);
        forward(g, d);
        double err, energy;
        squared_error(ig_value(g, d->output), a->outputs[k], idx, o->batch, sz, &err, &energy,
                      dout);
        if (!isfinite(err) || g->param_size == 0) {
            diverged = !isfinite(err);
            break;
        }
        /* dL/dy = 2 (y - t) / sum(t^2) for L = sum((y-t)^2) / sum(t^2). */
        float scale = (float)(2.0 / (energy > 0 ? energy : 1.0));
        for (size_t j = 0; j < (size_t)o->batch * sz; j++) dout[j] *= scale;
        ig_zero_grad(g);
        ig_seed_gradient(g, d->output, dout);
        ig_backward(g, d->output);
        adam_step(&opt, g, o->lr);
        r->steps_done = s + 1;
    }
    pl_free(dout);
    pl_free(opt.m);
    pl_free(opt.v);
    r->error = diverged ? INFINITY : gen_fit_error(g, d, a, k, o->holdout, o->batch);
    return PL_OK;
}
