/* test_linear.c: tests of nn_linear (sgemm) against the naive reference,
 * against central finite differences, and against a hand-computed case. */
#include "nn_linear.h"
#include "pl_mem.h"
#include "pl_threads.h"
#include "test_util.h"

#include <stdint.h>
#include <string.h>

#define FD_SAMPLES 40 /* elements per tensor checked by finite differences */

/* Fast against reference, forward with and without bias, backward into
 * nonzero gradients, all three at once and one at a time. */
static void compare_case(int N, int IN, int OUT)
{
    char what[120];
    const size_t n_inp = (size_t)N * IN, n_out = (size_t)N * OUT, n_w = (size_t)OUT * IN;
    float *inp = alloc_random(n_inp, 1.0f), *weight = alloc_random(n_w, 0.5f);
    float *bias = alloc_random((size_t)OUT, 0.5f), *dout = alloc_random(n_out, 1.0f);
    float *out_ref = alloc_random(n_out, 1.0f), *out_fast = alloc_random(n_out, 1.0f);
    const double tol_out = 1e-4 * sqrt((double)IN + 1) + 1e-6;
    for (int with_bias = 0; with_bias <= 1; with_bias++) {
        const float *b = with_bias ? bias : NULL;
        nn_linear_forward_ref(out_ref, inp, weight, b, N, IN, OUT);
        nn_linear_forward(out_fast, inp, weight, b, N, IN, OUT);
        snprintf(what, sizeof what, "forward N%d IN%d OUT%d bias%d", N, IN, OUT, with_bias);
        CHECK_ARRAYS_CLOSE(out_fast, out_ref, n_out, tol_out, 1e-4, what);
    }
    float *dinp_ref = alloc_random(n_inp, 1.0f), *dw_ref = alloc_random(n_w, 1.0f);
    float *db_ref = alloc_random((size_t)OUT, 1.0f);
    float *dinp_all = alloc_copy(dinp_ref, n_inp), *dw_all = alloc_copy(dw_ref, n_w);
    float *db_all = alloc_copy(db_ref, (size_t)OUT);
    float *dinp_one = alloc_copy(dinp_ref, n_inp), *dw_one = alloc_copy(dw_ref, n_w);
    float *db_one = alloc_copy(db_ref, (size_t)OUT);
    nn_linear_backward_ref(dinp_ref, dw_ref, db_ref, dout, inp, weight, N, IN, OUT);
    nn_linear_backward(dinp_all, dw_all, db_all, dout, inp, weight, N, IN, OUT);
    nn_linear_backward(dinp_one, NULL, NULL, dout, inp, weight, N, IN, OUT);
    nn_linear_backward(NULL, dw_one, NULL, dout, inp, weight, N, IN, OUT);
    nn_linear_backward(NULL, NULL, db_one, dout, inp, weight, N, IN, OUT);
    const double tol_dinp = 1e-4 * sqrt((double)OUT) + 1e-5, tol_dw = 1e-4 * sqrt((double)N) + 1e-5;
    snprintf(what, sizeof what, "dinp N%d IN%d OUT%d", N, IN, OUT);
    CHECK_ARRAYS_CLOSE(dinp_all, dinp_ref, n_inp, tol_dinp, 1e-4, what);
    CHECK_ARRAYS_CLOSE(dinp_one, dinp_ref, n_inp, tol_dinp, 1e-4, what);
    snprintf(what, sizeof what, "dweight N%d IN%d OUT%d", N, IN, OUT);
    CHECK_ARRAYS_CLOSE(dw_all, dw_ref, n_w, tol_dw, 1e-4, what);
    CHECK_ARRAYS_CLOSE(dw_one, dw_ref, n_w, tol_dw, 1e-4, what);
    snprintf(what, sizeof what, "dbias N%d IN%d OUT%d", N, IN, OUT);
    CHECK_ARRAYS_CLOSE(db_all, db_ref, (size_t)OUT, tol_dw, 1e-4, what);
    CHECK_ARRAYS_CLOSE(db_one, db_ref, (size_t)OUT, tol_dw, 1e-4, what);
    float *bufs[] = {inp, weight, bias, dout, out_ref, out_fast, dinp_ref, dw_ref, db_ref,
                     dinp_all, dw_all, db_all, dinp_one, dw_one, db_one};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) pl_free(bufs[i]);
}

static void test_shapes(void)
{
    const int shapes[][3] = {{1, 1, 1},   {1, 7, 3},    {3, 5, 1},     {4, 1, 6},
                             {5, 17, 9},  {8, 64, 10},  {2, 2048, 1000}, {33, 129, 65},
                             {64, 256, 3}, {3, 0, 4},   {0, 5, 3}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        compare_case(shapes[i][0], shapes[i][1], shapes[i][2]);
}

typedef struct {
    const float *inp, *weight, *bias, *R;
    float *out;
    int N, IN, OUT;
} fd_ctx;

/* L = sum(out * R) in double, out from the reference forward. */
static double fd_loss(void *opaque)
{
    const fd_ctx *c = opaque;
    nn_linear_forward_ref(c->out, c->inp, c->weight, c->bias, c->N, c->IN, c->OUT);
    return dot(c->out, c->R, (size_t)c->N * c->OUT);
}

/* Analytic gradients of L (reference or fast backward, dout = R) against
 * central differences on sampled elements. */
static void fd_case(int N, int IN, int OUT, int use_fast)
{
    const size_t n_inp = (size_t)N * IN, n_out = (size_t)N * OUT, n_w = (size_t)OUT * IN;
    float *inp = alloc_random(n_inp, 1.0f), *weight = alloc_random(n_w, 0.5f);
    float *bias = alloc_random((size_t)OUT, 0.5f), *R = alloc_random(n_out, 1.0f);
    float *out = pl_xmalloc(sizeof(float) * n_out);
    float *grad[3];
    grad[0] = pl_xcalloc(n_inp, sizeof(float));
    grad[1] = pl_xcalloc(n_w, sizeof(float));
    grad[2] = pl_xcalloc((size_t)OUT, sizeof(float));
    if (use_fast) nn_linear_backward(grad[0], grad[1], grad[2], R, inp, weight, N, IN, OUT);
    else nn_linear_backward_ref(grad[0], grad[1], grad[2], R, inp, weight, N, IN, OUT);
    float *param[3] = {inp, weight, bias};
    const size_t len[3] = {n_inp, n_w, (size_t)OUT};
    const char *names[3] = {"dinp", "dweight", "dbias"};
    const float eps = 1e-2f;
    fd_ctx ctx = {inp, weight, bias, R, out, N, IN, OUT};
    for (int t = 0; t < 3; t++) {
        const size_t stride = len[t] / FD_SAMPLES + 1;
        char what[120];
        snprintf(what, sizeof what, "finite differences, %s backward, %s N%d IN%d OUT%d",
                 use_fast ? "fast" : "ref", names[t], N, IN, OUT);
        check_fd_sampled(what, fd_loss, &ctx, param[t], len[t], grad[t], (size_t)t % stride,
                         stride, eps, 1e-3, 1e-2);
    }
    float *bufs[] = {inp, weight, bias, R, out, grad[0], grad[1], grad[2]};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) pl_free(bufs[i]);
}

static void test_finite_differences(void)
{
    const int shapes[][3] = {{1, 4, 3}, {3, 7, 5}, {6, 30, 20}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        fd_case(shapes[i][0], shapes[i][1], shapes[i][2], 0);
        fd_case(shapes[i][0], shapes[i][1], shapes[i][2], 1);
    }
}

/* x = [1 2 3; 4 5 6] (N=2, IN=3), W = [1 0 -1; 2 1 0] (OUT=2), b = [0.5 -1]:
 *   out[0] = [1-3 + 0.5, 2+2 - 1] = [-1.5, 3]
 *   out[1] = [4-6 + 0.5, 8+5 - 1] = [-1.5, 12]
 * Backward with dout = [1 0; 0 2]:
 *   dinp = dout W = [1 0 -1; 4 2 0]
 *   dweight = dout^T x = [1 2 3; 8 10 12]
 *   dbias = column sums of dout = [1 2] */
static void test_hand_computed(void)
{
    const float x[6] = {1, 2, 3, 4, 5, 6}, w[6] = {1, 0, -1, 2, 1, 0}, b[2] = {0.5f, -1.0f};
    const float dout[4] = {1, 0, 0, 2};
    const float want_out[4] = {-1.5f, 3, -1.5f, 12};
    const float want_dinp[6] = {1, 0, -1, 4, 2, 0}, want_dw[6] = {1, 2, 3, 8, 10, 12};
    const float want_db[2] = {1, 2};
    for (int fast = 0; fast <= 1; fast++) {
        float out[4], dinp[6] = {0}, dw[6] = {0}, db[2] = {0};
        if (fast) {
            nn_linear_forward(out, x, w, b, 2, 3, 2);
            nn_linear_backward(dinp, dw, db, dout, x, w, 2, 3, 2);
        } else {
            nn_linear_forward_ref(out, x, w, b, 2, 3, 2);
            nn_linear_backward_ref(dinp, dw, db, dout, x, w, 2, 3, 2);
        }
        const char *name = fast ? "hand fast" : "hand ref";
        for (int i = 0; i < 4; i++) CHECK_CLOSE(out[i], want_out[i], 1e-6, 1e-6, name);
        for (int i = 0; i < 6; i++) CHECK_CLOSE(dinp[i], want_dinp[i], 1e-6, 1e-6, name);
        for (int i = 0; i < 6; i++) CHECK_CLOSE(dw[i], want_dw[i], 1e-6, 1e-6, name);
        for (int i = 0; i < 2; i++) CHECK_CLOSE(db[i], want_db[i], 1e-6, 1e-6, name);
    }
}

int main(void)
{
    lcg_seed(777u);
    pl_threads_set(0);
    test_hand_computed();
    test_shapes();
    test_finite_differences();
    return check_summary("test_linear");
}
