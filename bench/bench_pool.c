/* bench_pool.c: average pooling (nn_avgpool_forward, the row-sum kernel)
 * against its naive reference (the direct window loop it replaced), one
 * thread, at InceptionV3's average pools (3x3, stride 1, padding 1, at
 * width 1.0 and batch 1: Mixed_5 at 35x35, Mixed_6 at 17x17, Mixed_7 at
 * 8x8) and at batch 32. Prints each median time and the ratio
 * reference / kernel (above 1: the kernel is faster), measured in the same
 * run, alternating, so a busy machine slows both alike. */
#include "bench_util.h"
#include "nn_pool.h"
#include "pl_mem.h"
#include "pl_threads.h"

#include <stdio.h>

enum { RUNS = 15 };

typedef struct {
    const char *name;
    int n, c, h, w;
} pool_shape;

static double time_once(int fast, float *out, const float *in, const pool_shape *s,
                        const nn_pool_params *p, int repeats)
{
    double start = now_seconds();
    for (int r = 0; r < repeats; r++) {
        if (fast) nn_avgpool_forward(out, in, s->n, s->c, s->h, s->w, p);
        else nn_avgpool_forward_ref(out, in, s->n, s->c, s->h, s->w, p);
    }
    return (now_seconds() - start) / repeats;
}

int main(void)
{
    pl_threads_set(1);
    static const pool_shape shapes[] = {
        {"Mixed_5 35x35x192", 1, 192, 35, 35}, {"Mixed_6 17x17x768", 1, 768, 17, 17},
        {"Mixed_7 8x8x1280", 1, 1280, 8, 8},   {"Mixed_5 b32", 32, 192, 35, 35},
        {"Mixed_6 b32", 32, 768, 17, 17},
    };
    const nn_pool_params p = {.kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1,
                              .count_include_pad = 1};
    printf("\n== average pooling 3x3/1 pad 1: row-sum kernel vs direct window loop "
           "(1 thread) ==\n%-20s %12s %12s %8s\n", "shape", "kernel ms", "direct ms", "ratio");
    double ratios[sizeof shapes / sizeof shapes[0]];
    int k = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++, k++) {
        const pool_shape *s = &shapes[i];
        size_t n = (size_t)s->n * s->c * s->h * s->w;
        float *in = pl_xmalloc(n * sizeof *in), *out = pl_xmalloc(n * sizeof *out);
        fill_random(in, n, 7);
        int repeats = 1;
        while (time_once(0, out, in, s, &p, repeats) * repeats < 0.02 && repeats < 4096)
            repeats *= 2;
        double fast[RUNS], direct[RUNS];
        for (int r = 0; r < RUNS; r++) {
            fast[r] = time_once(1, out, in, s, &p, repeats);
            direct[r] = time_once(0, out, in, s, &p, repeats);
        }
        double f = median_of(fast, RUNS), d = median_of(direct, RUNS);
        ratios[k] = d / f;
        printf("%-20s %12.4f %12.4f %7.2fx\n", s->name, 1e3 * f, 1e3 * d, ratios[k]);
        pl_free(in);
        pl_free(out);
    }
    printf("median ratio %.2fx\n", median_of(ratios, k));
    return 0;
}
