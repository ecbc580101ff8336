/* nn_channel.h: data movement along the channel axis: concat, split (one
 * channel slice per output), channel shuffle, and a plain accumulate. */
#ifndef NN_CHANNEL_H
#define NN_CHANNEL_H

#include "nn_common.h"

/* out (N, sum Cs[i], HW) = concat of inps[i] (N, Cs[i], HW), i < count. */
void nn_concat_forward(float *out, const float *const *inps, const int *Cs, int count,
                       int N, int HW);

/* Accumulates dinps[i] (N, Cs[i], HW) from dout; NULL entries are skipped. */
void nn_concat_backward(float *const *dinps, const float *dout, const int *Cs, int count,
                        int N, int HW);

/* out (N,count,HW) = inp (N,C,HW) channels [offset, offset+count). */
void nn_channel_slice_forward(float *out, const float *inp, int N, int C, int HW,
                              int offset, int count);

/* Accumulates dinp (N,C,HW) channels [offset, offset+count) from dout. */
void nn_channel_slice_backward(float *dinp, const float *dout, int N, int C, int HW,
                               int offset, int count);

/* ShuffleNet channel shuffle: view C as (groups, C/groups), transpose to
 * (C/groups, groups). out (N,C,HW). */
void nn_channel_shuffle_forward(float *out, const float *inp, int N, int C, int HW, int groups);

/* Accumulates dinp (N,C,HW) through the inverse permutation. */
void nn_channel_shuffle_backward(float *dinp, const float *dout, int N, int C, int HW,
                                 int groups);

/* dst (n) += src (n). */
void nn_accumulate(float *dst, const float *src, size_t n);

#endif
