/* test_loss.c: softmax cross-entropy and count_correct.
 *
 * Checks known losses (logits [0, ln 3] with label 1 give ln(4/3); uniform
 * logits give ln K), the softmax probabilities, stability with huge logits,
 * the backward against central finite differences of the loss itself (with
 * dloss scaling and pre-filled gradients), independence from the thread
 * count, and count_correct on hand-made rows including a tie. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "nn_loss.h"
#include "pl_mem.h"
#include "test_util.h"

/* ---- known values ---- */

static void test_known_values(void)
{
    /* Row 0: [0, ln 3], label 1: probs [1/4, 3/4], loss ln(4/3).
     * Row 1: [ln 3, 0], label 1: loss ln 4. */
    const float logits[4] = {0.0f, (float)log(3.0), (float)log(3.0), 0.0f};
    const int32_t labels[2] = {1, 1};
    float probs[4];
    float loss = nn_softmax_xent_forward(probs, logits, labels, 1, 2);
    CHECK_CLOSE(loss, log(4.0 / 3.0), 1e-7, 1e-6, "xent [0, ln3] label 1");
    CHECK_CLOSE(probs[0], 0.25, 1e-7, 0, "softmax prob 0");
    CHECK_CLOSE(probs[1], 0.75, 1e-7, 0, "softmax prob 1");

    loss = nn_softmax_xent_forward(probs, logits, labels, 2, 2);
    CHECK_CLOSE(loss, (log(4.0 / 3.0) + log(4.0)) / 2, 1e-7, 1e-6, "xent batch mean");

    /* Uniform logits over K classes: ln K whatever the label. */
    float uniform[10];
    float uprobs[10];
    for (int k = 0; k < 10; k++) uniform[k] = 2.5f;
    const int32_t label7 = 7;
    CHECK_CLOSE(nn_softmax_xent_forward(uprobs, uniform, &label7, 1, 10), log(10.0), 1e-7, 1e-6,
                "uniform logits give ln K");

    /* Huge logits: no overflow, exact limits. */
    const float huge[3] = {1000.0f, 0.0f, -1000.0f};
    float hprobs[3];
    const int32_t label0 = 0, label2 = 2;
    float l0 = nn_softmax_xent_forward(hprobs, huge, &label0, 1, 3);
    CHECK(isfinite(l0) && fabsf(l0) < 1e-6f, "huge logits, right label: loss %g", l0);
    CHECK(hprobs[0] == 1.0f && hprobs[1] == 0.0f && hprobs[2] == 0.0f, "huge logits probs");
    float l2 = nn_softmax_xent_forward(hprobs, huge, &label2, 1, 3);
    CHECK_CLOSE(l2, 2000.0, 0, 1e-6, "huge logits, wrong label");
}

/* ---- backward against finite differences ---- */

enum { XN = 4, XK = 7 };

typedef struct {
    float *logits;
    const int32_t *labels;
    float scale; /* the loss is scale * mean xent; backward gets dloss = scale */
} xent_ctx;

static double xent_loss(void *opaque)
{
    xent_ctx *ctx = opaque;
    float probs[XN * XK];
    return ctx->scale * (double)nn_softmax_xent_forward(probs, ctx->logits, ctx->labels, XN, XK);
}

static void test_backward_fd(void)
{
    const float scales[2] = {1.0f, 2.5f};
    for (int s = 0; s < 2; s++) {
        float logits[XN * XK], probs[XN * XK], dlogits[XN * XK], d0[XN * XK];
        float analytic[XN * XK];
        const int32_t labels[XN] = {3, 0, 6, 3};
        fill_uniform(logits, XN * XK, -3.0, 3.0);
        fill_uniform(d0, XN * XK, -0.5, 0.5);
        memcpy(dlogits, d0, sizeof dlogits);
        nn_softmax_xent_forward(probs, logits, labels, XN, XK);
        nn_softmax_xent_backward(dlogits, probs, labels, XN, XK, scales[s]);
        accumulated_part(analytic, dlogits, d0, XN * XK);
        xent_ctx ctx = {logits, labels, scales[s]};
        char what[48];
        snprintf(what, sizeof what, "xent dlogits (dloss %g)", scales[s]);
        /* The loss comes back as a float: about 3e-5 of rounding in each difference. */
        check_fd(what, xent_loss, &ctx, logits, XN * XK, analytic, 1e-2, 1e-4, 2e-3);

        /* Each row's gradient sums to zero (probabilities sum to one). */
        double worst = 0.0;
        for (int n = 0; n < XN; n++) {
            double row = 0.0;
            for (int k = 0; k < XK; k++) row += analytic[n * XK + k];
            worst = fmax(worst, fabs(row));
        }
        CHECK(worst < 1e-6, "xent gradient rows sum to %g", worst);
    }
}

/* ---- distillation ---- */

typedef struct {
    float *z;
    const float *t;
    const int32_t *labels;
    float alpha, T;
} distill_ctx;

static double distill_loss(void *opaque)
{
    distill_ctx *c = opaque;
    float dz[XN * XK];
    return nn_distill_forward_backward(dz, c->z, c->t, c->labels, XN, XK, c->alpha, c->T);
}

/* The gradient against central differences at several mixes and
 * temperatures; alpha 0 is the cross-entropy exactly; a student equal to its
 * teacher has no soft loss and no soft gradient. */
static void test_distill(void)
{
    const int32_t labels[XN] = {1, 4, 0, 6};
    float z[XN * XK], t[XN * XK], dz[XN * XK];
    fill_uniform(z, XN * XK, -3.0, 3.0);
    fill_uniform(t, XN * XK, -4.0, 4.0);
    const float mixes[3][2] = {{0.5f, 4.0f}, {1.0f, 2.0f}, {0.3f, 1.0f}};
    for (int m = 0; m < 3; m++) {
        distill_ctx c = {z, t, labels, mixes[m][0], mixes[m][1]};
        nn_distill_forward_backward(dz, z, t, labels, XN, XK, c.alpha, c.T);
        char what[64];
        snprintf(what, sizeof what, "distill dz (alpha %g, T %g)", c.alpha, c.T);
        check_fd(what, distill_loss, &c, z, XN * XK, dz, 1e-2, 1e-4, 2e-3);
    }

    float probs[XN * XK], dxent[XN * XK];
    memset(dxent, 0, sizeof dxent);
    float xent = nn_softmax_xent_forward(probs, z, labels, XN, XK);
    nn_softmax_xent_backward(dxent, probs, labels, XN, XK, 1.0f);
    float loss = nn_distill_forward_backward(dz, z, t, labels, XN, XK, 0.0f, 4.0f);
    CHECK_CLOSE(loss, xent, 1e-6, 1e-6, "alpha 0: the cross-entropy");
    CHECK_ARRAYS_CLOSE(dz, dxent, XN * XK, 1e-7, 1e-6, "alpha 0: its gradient");

    loss = nn_distill_forward_backward(dz, z, z, labels, XN, XK, 1.0f, 3.0f);
    double worst = 0.0;
    for (int i = 0; i < XN * XK; i++) worst = fmax(worst, fabs(dz[i]));
    CHECK(fabsf(loss) < 1e-6f && worst < 1e-7, "student = teacher: loss %g, gradient %g", loss,
          worst);
}

/* ---- thread-count independence ---- */

static void test_threads(void)
{
    const int N = 256, K = 100;
    float *logits = pl_xmalloc((size_t)N * K * sizeof(float));
    float *probs1 = pl_xmalloc((size_t)N * K * sizeof(float));
    float *probs2 = pl_xmalloc((size_t)N * K * sizeof(float));
    int32_t *labels = pl_xmalloc((size_t)N * sizeof(int32_t));
    fill_uniform(logits, (size_t)N * K, -5.0, 5.0);
    for (int n = 0; n < N; n++) labels[n] = (int32_t)((n * 37) % K);
    omp_set_num_threads(1);
    const float loss1 = nn_softmax_xent_forward(probs1, logits, labels, N, K);
    const int correct1 = nn_count_correct(logits, labels, N, K);
    omp_set_num_threads(2);
    const float loss2 = nn_softmax_xent_forward(probs2, logits, labels, N, K);
    const int correct2 = nn_count_correct(logits, labels, N, K);
    omp_set_num_threads(omp_get_num_procs());
    CHECK(loss1 == loss2 && memcmp(probs1, probs2, (size_t)N * K * sizeof(float)) == 0,
          "xent differs between 1 and 2 threads: %.9g %.9g", loss1, loss2);
    CHECK(correct1 == correct2, "count_correct differs between thread counts");

    /* The loss equals the mean of -log(prob[label]) computed here in double. */
    double want = 0.0;
    for (int n = 0; n < N; n++) {
        const float *row = logits + (size_t)n * K;
        double m = row[0], sum = 0.0;
        for (int k = 1; k < K; k++) m = fmax(m, row[k]);
        for (int k = 0; k < K; k++) sum += exp(row[k] - m);
        want += log(sum) - (row[labels[n]] - m);
    }
    CHECK_CLOSE(loss1, want / N, 1e-6, 1e-6, "xent large batch vs double reference");
    pl_free(logits);
    pl_free(probs1);
    pl_free(probs2);
    pl_free(labels);
}

/* ---- count_correct ---- */

static void test_count_correct(void)
{
    const float logits[5 * 3] = {
        1, 3, 2, /* arg-max 1, label 1: correct           */
        5, 0, 0, /* arg-max 0, label 0: correct           */
        0, 0, 1, /* arg-max 2, label 0: wrong             */
        2, 2, 1, /* tie: first index 0 wins, label 0: ok  */
        1, 4, 4, /* tie: first index 1 wins, label 1: ok  */
    };
    const int32_t labels[5] = {1, 0, 0, 0, 1};
    CHECK(nn_count_correct(logits, labels, 5, 3) == 4, "count_correct = %d",
          nn_count_correct(logits, labels, 5, 3));
    CHECK(nn_count_correct(logits, labels, 2, 3) == 2, "count_correct on 2 rows");
}

int main(void)
{
    rng_seed(0x6a09e667f3bcc908ULL);
    test_known_values();
    test_backward_fd();
    test_distill();
    test_threads();
    test_count_correct();
    return check_summary("test_loss");
}
