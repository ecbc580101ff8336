/* nn_channel.c: data movement along the channel axis of NCHW tensors:
 * concat (and its backward, a split that accumulates), channel slice, the
 * ShuffleNet channel shuffle, and a plain elementwise accumulate.
 *
 * Every kernel writes each output element from exactly one thread, so results
 * do not depend on the thread count. */
#include "nn_channel.h"

#include <string.h>

#include "pl_err.h"

/* Below this many elements a kernel runs on one thread. */
#define CHANNEL_PAR_MIN 32768L

static int total_channels(const int *Cs, int count)
{
    int total = 0;
    for (int i = 0; i < count; i++) {
        PL_ASSERT(Cs[i] >= 0);
        total += Cs[i];
    }
    return total;
}

/* First channel of input i within the concatenation. */
static inline int channel_offset(const int *Cs, int i)
{
    int offset = 0;
    for (int j = 0; j < i; j++) offset += Cs[j];
    return offset;
}

void nn_concat_forward(float *out, const float *const *inps, const int *Cs, int count,
                       int N, int HW)
{
    const int C_total = total_channels(Cs, count);
    const long work = (long)N * C_total * HW;

#pragma omp parallel for collapse(2) schedule(static) if (work >= CHANNEL_PAR_MIN)
    for (int n = 0; n < N; n++) {
        for (int i = 0; i < count; i++) {
            const long block = (long)Cs[i] * HW;
            const long out_at = ((long)n * C_total + channel_offset(Cs, i)) * HW;
            const float *src = inps[i] + n * block; /* (Cs[i],HW) */
            float *dst = out + out_at;              /* (Cs[i],HW) */
            if (block > 0) memcpy(dst, src, (size_t)block * sizeof(float));
        }
    }
}

void nn_concat_backward(float *const *dinps, const float *dout, const int *Cs, int count,
                        int N, int HW)
{
    const int C_total = total_channels(Cs, count);
    const long work = (long)N * C_total * HW;

#pragma omp parallel for collapse(2) schedule(static) if (work >= CHANNEL_PAR_MIN)
    for (int n = 0; n < N; n++) {
        for (int i = 0; i < count; i++) {
            if (!dinps[i]) continue;
            const long block = (long)Cs[i] * HW;
            const long out_at = ((long)n * C_total + channel_offset(Cs, i)) * HW;
            float *dst = dinps[i] + n * block; /* (Cs[i],HW) */
            const float *src = dout + out_at;  /* (Cs[i],HW) */
            for (long j = 0; j < block; j++) dst[j] += src[j];
        }
    }
}

void nn_channel_slice_forward(float *out, const float *inp, int N, int C, int HW,
                              int offset, int count)
{
    PL_ASSERT(offset >= 0 && count >= 0 && offset + count <= C);
    const long block = (long)count * HW;
    const long work = (long)N * block;

#pragma omp parallel for schedule(static) if (work >= CHANNEL_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *src = inp + ((long)n * C + offset) * HW; /* (count,HW) */
        float *dst = out + n * block;                         /* (count,HW) */
        if (block > 0) memcpy(dst, src, (size_t)block * sizeof(float));
    }
}

void nn_channel_slice_backward(float *dinp, const float *dout, int N, int C, int HW,
                               int offset, int count)
{
    PL_ASSERT(offset >= 0 && count >= 0 && offset + count <= C);
    const long block = (long)count * HW;
    const long work = (long)N * block;

#pragma omp parallel for schedule(static) if (work >= CHANNEL_PAR_MIN)
    for (int n = 0; n < N; n++) {
        float *dst = dinp + ((long)n * C + offset) * HW; /* (count,HW) */
        const float *src = dout + n * block;             /* (count,HW) */
        for (long j = 0; j < block; j++) dst[j] += src[j];
    }
}

/* Output channel j*groups + g takes input channel g*per_group + j. */
void nn_channel_shuffle_forward(float *out, const float *inp, int N, int C, int HW, int groups)
{
    PL_ASSERT(groups >= 1 && C % groups == 0);
    const int per_group = C / groups;
    const long planes = (long)N * C;
    const long work = planes * HW;

#pragma omp parallel for schedule(static) if (work >= CHANNEL_PAR_MIN)
    for (long plane = 0; plane < planes; plane++) {
        const long n = plane / C;
        const int out_c = (int)(plane % C);
        const int in_c = (out_c % groups) * per_group + out_c / groups;
        memcpy(out + plane * HW, inp + (n * C + in_c) * HW, (size_t)HW * sizeof(float));
    }
}

void nn_channel_shuffle_backward(float *dinp, const float *dout, int N, int C, int HW,
                                 int groups)
{
    PL_ASSERT(groups >= 1 && C % groups == 0);
    const int per_group = C / groups;
    const long planes = (long)N * C;
    const long work = planes * HW;

#pragma omp parallel for schedule(static) if (work >= CHANNEL_PAR_MIN)
    for (long plane = 0; plane < planes; plane++) {
        const long n = plane / C;
        const int in_c = (int)(plane % C);
        const int out_c = (in_c % per_group) * groups + in_c / per_group;
        float *dst = dinp + plane * HW;                  /* (HW) */
        const float *src = dout + (n * C + out_c) * HW;  /* (HW) */
        for (int i = 0; i < HW; i++) dst[i] += src[i];
    }
}

void nn_accumulate(float *dst, const float *src, size_t n)
{
    const long count = (long)n;
#pragma omp parallel for schedule(static) if (count >= CHANNEL_PAR_MIN)
    for (long i = 0; i < count; i++) dst[i] += src[i];
}
