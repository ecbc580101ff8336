/* ds_resize.c: bilinear resizing of image planes (see ds_data.h), with
 * PyTorch's interpolate(mode="bilinear", align_corners=False) arithmetic:
 * output pixel d samples the input at s = max(0, (d + 0.5) * in / out - 0.5),
 * between floor(s) and the next pixel (the last one repeats at the edge). */
#include "ds_data.h"

#include <stddef.h>

/* The source pixel and its neighbour's weight for output pixel d of out. */
static void source_index(int d, int in, int out, int *i0, int *i1, float *frac)
{
    float s = ((float)d + 0.5f) * (float)in / (float)out - 0.5f;
    if (s < 0) s = 0;
    int i = (int)s;
    if (i > in - 1) i = in - 1;
    *i0 = i;
    *i1 = i < in - 1 ? i + 1 : i;
    *frac = s - (float)i;
}

void ds_resize_bilinear(const float *in, int planes, int in_h, int in_w, float *out, int out_h,
                        int out_w)
{
    for (int p = 0; p < planes; p++) {
        const float *src = in + (size_t)p * in_h * in_w;
        float *dst = out + (size_t)p * out_h * out_w;
        for (int y = 0; y < out_h; y++) {
            int y0, y1;
            float fy;
            source_index(y, in_h, out_h, &y0, &y1, &fy);
            const float *r0 = src + (size_t)y0 * in_w, *r1 = src + (size_t)y1 * in_w;
            for (int x = 0; x < out_w; x++) {
                int x0, x1;
                float fx;
                source_index(x, in_w, out_w, &x0, &x1, &fx);
                float top = r0[x0] + fx * (r0[x1] - r0[x0]);
                float bottom = r1[x0] + fx * (r1[x1] - r1[x0]);
                dst[(size_t)y * out_w + x] = top + fy * (bottom - top);
            }
        }
    }
}
