/* nn_pointwise.c: elementwise kernels: unary activations (forward and
 * backward), binary add/sub/mul/max with per-channel broadcast of b, and
 * inverted dropout driven by a counter-based generator.
 *
 * Activation derivatives follow PyTorch's backward kernels at the kinks:
 *   relu'        = x > 0                      (0 at x = 0)
 *   relu6'       = 0 < x < 6                  (hardtanh_backward)
 *   hardsigmoid' = 1/6 on -3 < x < 3
 *   hardswish'   = 0 for x < -3, x/3 + 1/2 for -3 <= x <= 3, 1 for x > 3
 *   sigmoid' = out * (1 - out), tanh' = 1 - out^2 (from the forward output;
 *   recomputed from inp when out is NULL).
 *
 * Dropout keeps element i when u(seed, i) >= p, where u is a uniform double in
 * [0, 1) from a splitmix64 hash of the seed and the index; the mask does not
 * depend on how the loop is split across threads. */
#include "nn_pointwise.h"

#include <math.h>

#include "pl_err.h"

/* Below this many elements a kernel runs on one thread. */
#define PW_PAR_MIN 32768L

/* min(max(x, 0), 6) written with comparisons, which gcc vectorises
 * (fminf/fmaxf it does not: 15x slower on hardswish). NaN stays NaN, as in
 * PyTorch, so a diverged layer shows in the loss. */
static inline float relu6f(float x)
{
    float y = x < 0.0f ? 0.0f : x;
    return y > 6.0f ? 6.0f : y;
}

static inline float sigmoidf(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

void nn_act_forward(nn_act_kind kind, float *out, const float *inp, size_t n)
{
    const long count = (long)n;
    switch (kind) {
    case NN_ACT_IDENTITY:
        if (out == inp) return;
#pragma omp parallel for schedule(static) if (count >= PW_PAR_MIN)
        for (long i = 0; i < count; i++) out[i] = inp[i];
        return;
    case NN_ACT_RELU:
#pragma omp parallel for schedule(static) if (count >= PW_PAR_MIN)
        for (long i = 0; i < count; i++) out[i] = inp[i] < 0.0f ? 0.0f : inp[i]; /* NaN stays */
        return;
    case NN_ACT_RELU6:
#pragma omp parallel for schedule(static) if (count >= PW_PAR_MIN)
        for (long i = 0; i < count; i++) out[i] = relu6f(inp[i]);
        return;
    case NN_ACT_SIGMOID:
#pragma omp parallel for schedule(static) if (count >= PW_PAR_MIN)
        for (long i = 0; i < count; i++) out[i] = sigmoidf(inp[i]);
        return;
    case NN_ACT_HARDSIGMOID:
#pragma omp parallel for schedule(static) if (count >= PW_PAR_MIN)
        for (long i = 0; i < count; i++) out[i] = relu6f(inp[i] + 3.0f) / 6.0f;
        return;
    case NN_ACT_HARDSWISH:
#pragma omp parallel for schedule(static) if (count >= PW_PAR_MIN)
        for (long i = 0; i < count; i++) out[i] = inp[i] * relu6f(inp[i] + 3.0f) / 6.0f;
        return;
    case NN_ACT_TANH:
#pragma omp parallel for schedule(static) if (count >= PW_PAR_MIN)
        for (long i = 0; i < count; i++) out[i] = tanhf(inp[i]);
        return;
    case NN_ACT_COUNT:
        break;
    }
    PL_ASSERT(!"unknown activation kind");
}

void nn_act_backward(nn_act_kind kind, float *dinp, const float *dout, const float *inp,
                     const float *out, size_t n)
{
    const long count = (long)n;
    switch (kind) {
    case NN_ACT_IDENTITY:
#pragma omp parallel for schedule(static) if (count >= PW_PAR_MIN)
        for (long i = 0; i < count; i++) dinp[i] += dout[i];
        return;
    case NN_ACT_RELU:
#pragma omp parallel for schedule(static) if (count >= PW_PAR_MIN)
        for (long i = 0; i < count; i++) dinp[i] += inp[i] > 0.0f ? dout[i] : 0.0f;
        return;
    case NN_ACT_RELU6:
#pragma omp parallel for schedule(static) if (count >= PW_PAR_MIN)
        for (long i = 0; i < count; i++) {
            dinp[i] += (inp[i] > 0.0f && inp[i] < 6.0f) ? dout[i] : 0.0f;
        }
        return;
    case NN_ACT_SIGMOID:
#pragma omp parallel for schedule(static) if (count >= PW_PAR_MIN)
        for (long i = 0; i < count; i++) {
            const float y = out ? out[i] : sigmoidf(inp[i]);
            dinp[i] += dout[i] * y * (1.0f - y);
        }
        return;
    case NN_ACT_HARDSIGMOID:
#pragma omp parallel for schedule(static) if (count >= PW_PAR_MIN)
        for (long i = 0; i < count; i++) {
            dinp[i] += (inp[i] > -3.0f && inp[i] < 3.0f) ? dout[i] / 6.0f : 0.0f;
        }
        return;
    case NN_ACT_HARDSWISH:
#pragma omp parallel for schedule(static) if (count >= PW_PAR_MIN)
        for (long i = 0; i < count; i++) {
            const float x = inp[i];
            float g;
            if (x < -3.0f) {
                g = 0.0f;
            } else if (x <= 3.0f) {
                g = dout[i] * (x / 3.0f + 0.5f);
            } else {
                g = dout[i];
            }
            dinp[i] += g;
        }
        return;
    case NN_ACT_TANH:
#pragma omp parallel for schedule(static) if (count >= PW_PAR_MIN)
        for (long i = 0; i < count; i++) {
            const float y = out ? out[i] : tanhf(inp[i]);
            dinp[i] += dout[i] * (1.0f - y * y);
        }
        return;
    case NN_ACT_COUNT:
        break;
    }
    PL_ASSERT(!"unknown activation kind");
}

static inline float binary_value(nn_binary_kind kind, float a, float b)
{
    switch (kind) {
    case NN_BIN_ADD: return a + b;
    case NN_BIN_SUB: return a - b;
    case NN_BIN_MUL: return a * b;
    case NN_BIN_MAX: return a >= b || a != a ? a : b; /* NaN wins, as torch.maximum */
    case NN_BIN_COUNT: break;
    }
    return 0.0f;
}

/* d(a op b)/da and d(a op b)/db. */
static inline float binary_grad_a(nn_binary_kind kind, float a, float b)
{
    switch (kind) {
    case NN_BIN_ADD:
    case NN_BIN_SUB: return 1.0f;
    case NN_BIN_MUL: return b;
    case NN_BIN_MAX: return a > b ? 1.0f : a == b ? 0.5f : 0.0f;
    case NN_BIN_COUNT: break;
    }
    return 0.0f;
}

static inline float binary_grad_b(nn_binary_kind kind, float a, float b)
{
    switch (kind) {
    case NN_BIN_ADD: return 1.0f;
    case NN_BIN_SUB: return -1.0f;
    case NN_BIN_MUL: return a;
    case NN_BIN_MAX: return a < b ? 1.0f : a == b ? 0.5f : 0.0f;
    case NN_BIN_COUNT: break;
    }
    return 0.0f;
}

void nn_binary_forward(nn_binary_kind kind, float *out, const float *a, const float *b,
                       int N, int C, int HW, int b_hw)
{
    PL_ASSERT(kind >= 0 && kind < NN_BIN_COUNT);
    PL_ASSERT(b_hw == HW || b_hw == 1);
    const long planes = (long)N * C;
    const long work = planes * HW;
    /* Stride of b between consecutive HW positions: 0 when broadcast. */
    const int b_step = b_hw == HW ? 1 : 0;

#pragma omp parallel for schedule(static) if (work >= PW_PAR_MIN)
    for (long plane = 0; plane < planes; plane++) {
        const float *a_plane = a + plane * HW;    /* (HW)   */
        const float *b_plane = b + plane * b_hw;  /* (b_hw) */
        float *out_plane = out + plane * HW;      /* (HW)   */
        switch (kind) {
        case NN_BIN_ADD:
            for (int i = 0; i < HW; i++) out_plane[i] = a_plane[i] + b_plane[i * b_step];
            break;
        case NN_BIN_SUB:
            for (int i = 0; i < HW; i++) out_plane[i] = a_plane[i] - b_plane[i * b_step];
            break;
        case NN_BIN_MUL:
            for (int i = 0; i < HW; i++) out_plane[i] = a_plane[i] * b_plane[i * b_step];
            break;
        default:
            for (int i = 0; i < HW; i++) {
                out_plane[i] = binary_value(kind, a_plane[i], b_plane[i * b_step]);
            }
            break;
        }
    }
}

void nn_binary_backward(nn_binary_kind kind, float *da, float *db, const float *dout,
                        const float *a, const float *b, int N, int C, int HW, int b_hw)
{
    PL_ASSERT(kind >= 0 && kind < NN_BIN_COUNT);
    PL_ASSERT(b_hw == HW || b_hw == 1);
    const long planes = (long)N * C;
    const long work = planes * HW;
    const int broadcast = b_hw != HW;

#pragma omp parallel for schedule(static) if (work >= PW_PAR_MIN)
    for (long plane = 0; plane < planes; plane++) {
        const float *a_plane = a + plane * HW;       /* (HW)   */
        const float *b_plane = b + plane * b_hw;     /* (b_hw) */
        const float *dout_plane = dout + plane * HW; /* (HW)   */
        if (da) {
            float *da_plane = da + plane * HW;
            for (int i = 0; i < HW; i++) {
                const float bv = b_plane[broadcast ? 0 : i];
                da_plane[i] += dout_plane[i] * binary_grad_a(kind, a_plane[i], bv);
            }
        }
        if (!db) continue;
        if (broadcast) {
            double sum = 0.0;
            for (int i = 0; i < HW; i++) {
                sum += (double)dout_plane[i] * binary_grad_b(kind, a_plane[i], b_plane[0]);
            }
            db[plane] += (float)sum;
        } else {
            float *db_plane = db + plane * HW;
            for (int i = 0; i < HW; i++) {
                db_plane[i] += dout_plane[i] * binary_grad_b(kind, a_plane[i], b_plane[i]);
            }
        }
    }
}

/* splitmix64's output function: a bijective 64-bit mixer. */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

#define GOLDEN_GAMMA 0x9E3779B97F4A7C15ULL

void nn_dropout_forward(float *out, float *mask, const float *inp, size_t n, float p,
                        uint64_t seed)
{
    PL_ASSERT(p >= 0.0f && p < 1.0f);
    const long count = (long)n;
    const float keep_scale = 1.0f / (1.0f - p);
    const double drop_prob = p;
    /* Hashing the seed first decorrelates the streams of nearby seeds. */
    const uint64_t key = mix64(seed + GOLDEN_GAMMA);

#pragma omp parallel for schedule(static) if (count >= PW_PAR_MIN)
    for (long i = 0; i < count; i++) {
        const uint64_t bits = mix64(key + ((uint64_t)i + 1) * GOLDEN_GAMMA);
        const double u = (double)(bits >> 11) * 0x1.0p-53; /* uniform in [0, 1) */
        const float m = u >= drop_prob ? keep_scale : 0.0f;
        mask[i] = m;
        out[i] = inp[i] * m;
    }
}

void nn_dropout_backward(float *dinp, const float *dout, const float *mask, size_t n)
{
    const long count = (long)n;
#pragma omp parallel for schedule(static) if (count >= PW_PAR_MIN)
    for (long i = 0; i < count; i++) dinp[i] += dout[i] * mask[i];
}
