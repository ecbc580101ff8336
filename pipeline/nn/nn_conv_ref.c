/* nn_conv_ref.c: naive seven-loop 2-D convolution, forward and backward, the
 * oracle the tests compare nn_conv.c against. Every output float is one sum
 * accumulated in double, written in the most literal form of the definition
 * out[n,oc,oh,ow] = b[oc] + sum_{c,kh,kw} w[oc,c,kh,kw] *
 *                   inp[n, g*Cg + c, oh*sh - ph + kh, ow*sw - pw + kw]. */
#include "nn_conv.h"

#include "pl_err.h"

static void check_dims(int N, int C, int H, int W, int OC, const nn_conv_params *p,
                       int *OH, int *OW)
{
    PL_ASSERT(p && p->kh > 0 && p->kw > 0 && p->sh > 0 && p->sw > 0);
    PL_ASSERT(p->ph >= 0 && p->pw >= 0 && p->groups > 0);
    PL_ASSERT(N >= 0 && C > 0 && H > 0 && W > 0 && OC > 0);
    PL_ASSERT(C % p->groups == 0 && OC % p->groups == 0);
    *OH = nn_window_out(H, p->kh, p->sh, p->ph, 0);
    *OW = nn_window_out(W, p->kw, p->sw, p->pw, 0);
    PL_ASSERT(*OH > 0 && *OW > 0);
}

void nn_conv2d_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
                           int N, int C, int H, int W, int OC, const nn_conv_params *p)
{
    int OH, OW;
    check_dims(N, C, H, W, OC, p, &OH, &OW);
    const int Cg = C / p->groups, OCg = OC / p->groups;
    for (int n = 0; n < N; n++) {
        for (int oc = 0; oc < OC; oc++) {
            int g = oc / OCg;
            for (int oh = 0; oh < OH; oh++) {
                for (int ow = 0; ow < OW; ow++) {
                    double acc = bias ? bias[oc] : 0.0;
                    for (int c = 0; c < Cg; c++) {
                        for (int kh = 0; kh < p->kh; kh++) {
                            for (int kw = 0; kw < p->kw; kw++) {
                                int ih = oh * p->sh - p->ph + kh;
                                int iw = ow * p->sw - p->pw + kw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                double x = inp[(((size_t)n * C + g * Cg + c) * H + ih) * W + iw];
                                double w = weight[(((size_t)oc * Cg + c) * p->kh + kh) * p->kw + kw];
                                acc += x * w;
                            }
                        }
                    }
                    out[(((size_t)n * OC + oc) * OH + oh) * OW + ow] = (float)acc;
                }
            }
        }
    }
}

/* Output index o that input index i meets through kernel tap k, or -1:
 * i = o*stride - pad + k. */
static int tap_source(int i, int k, int stride, int pad, int out_len)
{
    int num = i + pad - k;
    if (num < 0 || num % stride != 0) return -1;
    int o = num / stride;
    return o < out_len ? o : -1;
}

void nn_conv2d_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *inp, const float *weight,
                            int N, int C, int H, int W, int OC, const nn_conv_params *p)
{
    int OH, OW;
    check_dims(N, C, H, W, OC, p, &OH, &OW);
    const int Cg = C / p->groups, OCg = OC / p->groups;
    if (dbias) {
        for (int oc = 0; oc < OC; oc++) {
            double acc = 0.0;
            for (int n = 0; n < N; n++)
                for (int i = 0; i < OH * OW; i++) acc += dout[((size_t)n * OC + oc) * OH * OW + i];
            dbias[oc] += (float)acc;
        }
    }
    if (dweight) {
        for (int oc = 0; oc < OC; oc++) {
            int g = oc / OCg;
            for (int c = 0; c < Cg; c++) {
                for (int kh = 0; kh < p->kh; kh++) {
                    for (int kw = 0; kw < p->kw; kw++) {
                        double acc = 0.0;
                        for (int n = 0; n < N; n++) {
                            for (int oh = 0; oh < OH; oh++) {
                                for (int ow = 0; ow < OW; ow++) {
                                    int ih = oh * p->sh - p->ph + kh;
                                    int iw = ow * p->sw - p->pw + kw;
                                    if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                    double x = inp[(((size_t)n * C + g * Cg + c) * H + ih) * W + iw];
                                    double dy = dout[(((size_t)n * OC + oc) * OH + oh) * OW + ow];
                                    acc += x * dy;
                                }
                            }
                        }
                        dweight[(((size_t)oc * Cg + c) * p->kh + kh) * p->kw + kw] += (float)acc;
                    }
                }
            }
        }
    }
    if (dinp) {
        /* gather form: each input pixel sums the outputs whose window holds it */
        for (int n = 0; n < N; n++) {
            for (int ci = 0; ci < C; ci++) {
                int g = ci / Cg, c = ci % Cg;
                for (int ih = 0; ih < H; ih++) {
                    for (int iw = 0; iw < W; iw++) {
                        double acc = 0.0;
                        for (int o = 0; o < OCg; o++) {
                            int oc = g * OCg + o;
                            for (int kh = 0; kh < p->kh; kh++) {
                                for (int kw = 0; kw < p->kw; kw++) {
                                    int oh = tap_source(ih, kh, p->sh, p->ph, OH);
                                    int ow = tap_source(iw, kw, p->sw, p->pw, OW);
                                    if (oh < 0 || ow < 0) continue;
                                    double dy = dout[(((size_t)n * OC + oc) * OH + oh) * OW + ow];
                                    double w = weight[(((size_t)oc * Cg + c) * p->kh + kh) * p->kw + kw];
                                    acc += dy * w;
                                }
                            }
                        }
                        dinp[(((size_t)n * C + ci) * H + ih) * W + iw] += (float)acc;
                    }
                }
            }
        }
    }
}
