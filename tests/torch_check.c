/* torch_check.c: compares the project's forward pass with PyTorch's on a
 * torchvision model (make check-torch; not part of make check, it needs
 * python3-torch and python3-torchvision to make its inputs).
 *
 *   build/tests/torch_check MODEL WEIGHTS.h5 REFERENCE.h5
 *
 * Builds MODEL (width 1.0, no dropout, the classes and input size of the
 * reference), imports WEIGHTS (a gos.weights artifact written by
 * scripts/torchvision-to-gos.py), runs a forward in evaluation mode on the
 * reference's input batch and compares with PyTorch's logits:
 *   err = max |gos - torch| / max |torch|  must be below 1e-4.
 * Prints the figures and exits 0 when they pass, 1 when not, 2 on errors. */
#include "h5io.h"
#include "ig.h"
#include "models.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "weights_import.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define TOLERANCE 1e-4

typedef struct {
    float  *input, *logits;   /* (batch, C, H, W), (batch, classes) */
    int64_t in_dims[4], logit_dims[2];
} reference;

static int load_reference(const char *path, const char *model, reference *ref)
{
    h5io_reader r;
    PL_TRY(h5io_open(&r, path, "gos.torch_reference"));
    char *stored = NULL;
    int rank = 0, rc = h5io_read_attr_string(&r, "/", "model", &stored);
    if (rc == PL_OK && strcmp(stored, model) != 0)
        rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__,
                      "%s: /@model: a reference for '%s', not '%s'", path, stored, model);
    if (rc == PL_OK) rc = h5io_read_f32_alloc(&r, "/input", &ref->input, &rank, ref->in_dims);
    if (rc == PL_OK)
        rc = h5io_read_f32_alloc(&r, "/logits", &ref->logits, &rank, ref->logit_dims);
    pl_free(stored);
    h5io_close(&r);
    return rc;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

/* Builds, imports and runs; writes the figures. */
static int run(const char *model, const char *weights, const reference *ref, double *max_diff,
               double *max_ref, double *forward_s)
{
    const int batch = (int)ref->in_dims[0], classes = (int)ref->logit_dims[1];
    model_spec spec;
    memset(&spec, 0, sizeof spec);
    snprintf(spec.name, sizeof spec.name, "%s", model);
    spec.in_c = (int)ref->in_dims[1];
    spec.in_h = (int)ref->in_dims[2];
    spec.in_w = (int)ref->in_dims[3];
    spec.classes = classes;
    spec.width = 1.0f;
    spec.dropout = 0.0f;
    ig_graph *g = ig_graph_alloc();
    model_nodes nodes;
    int rc = model_build(g, &spec, &nodes);
    if (rc == PL_OK) rc = ig_graph_finalize(g);
    if (rc == PL_OK) rc = weights_import(g, weights, model);
    if (rc == PL_OK) rc = ig_graph_plan(g, batch);
    if (rc == PL_OK) rc = ig_set_training(g, 0);
    if (rc == PL_OK && g->nodes[nodes.logits].shape.c != classes)
        rc = pl_error(PL_ERR_SHAPE, __FILE__, __LINE__, "%s: %d logits, the reference has %d",
                      model, g->nodes[nodes.logits].shape.c, classes);
    if (rc == PL_OK) {
        size_t n_in = (size_t)batch * (size_t)spec.in_c * (size_t)spec.in_h * (size_t)spec.in_w;
        memcpy(ig_value(g, nodes.input), ref->input, n_in * sizeof(float));
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ig_forward(g, NULL);
        *forward_s = seconds_since(&t0);
        const float *out = ig_value(g, nodes.logits);
        *max_diff = 0.0;
        *max_ref = 0.0;
        for (size_t i = 0; i < (size_t)batch * (size_t)classes; i++) {
            double d = fabs((double)out[i] - (double)ref->logits[i]);
            if (!(d <= *max_diff)) *max_diff = d; /* NaN propagates */
            if (fabs((double)ref->logits[i]) > *max_ref) *max_ref = fabs((double)ref->logits[i]);
        }
    }
    ig_graph_free(g);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL WEIGHTS.h5 REFERENCE.h5\n", argv[0]);
        return 2;
    }
    const char *model = argv[1];
    reference ref;
    memset(&ref, 0, sizeof ref);
    double max_diff = NAN, max_ref = NAN, forward_s = 0.0;
    int rc = load_reference(argv[3], model, &ref);
    if (rc == PL_OK && ref.logit_dims[0] != ref.in_dims[0])
        rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__, "%s: /logits and /input batch differ",
                      argv[3]);
    if (rc == PL_OK) rc = run(model, argv[2], &ref, &max_diff, &max_ref, &forward_s);
    pl_free(ref.input);
    pl_free(ref.logits);
    if (rc < 0) {
        fprintf(stderr, "torch_check %s: %s\n", model, pl_last_error());
        return 2;
    }
    const double err = max_ref > 0.0 ? max_diff / max_ref : max_diff;
    const int ok = err < TOLERANCE;
    printf("%-18s batch %lld, %lldx%lld: max|gos - torch| %.3e, max|torch| %.4g, "
           "relative %.3e (< %.0e) forward %.2f s: %s\n",
           model, (long long)ref.in_dims[0], (long long)ref.in_dims[2], (long long)ref.in_dims[3],
           max_diff, max_ref, err, TOLERANCE, forward_s, ok ? "ok" : "FAIL");
    return ok ? 0 : 1;
}
