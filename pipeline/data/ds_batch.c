/* ds_batch.c: the seeded train/validation split (GSL mt19937), per-epoch
 * orders and batch gathering with random-crop/mirror augmentation (a
 * counter-based splitmix64 hash, so no generator state is shared between
 * calls or threads). Nothing here allocates except ds_split. */
#include "ds_data.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <stdio.h>
#include <string.h>

/* Domain tags, so that one seed gives independent streams per use. */
#define TAG_SPLIT   0x5eed5b1170000001ull
#define TAG_EPOCH   0x5eed5b1170000002ull
#define TAG_AUGMENT 0x5eed5b1170000003ull

/* splitmix64's output function: a bijective 64-bit mixer. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* splitmix64: advances *state and returns the next value. */
static uint64_t splitmix64_next(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ull;
    return mix64(*state);
}

/* A uniform integer in [0, bound), bound >= 1, without modulo bias. */
static uint64_t uniform_below(uint64_t *state, uint64_t bound)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do x = splitmix64_next(state);
    while (x >= limit);
    return x % bound;
}

/* ---- split ------------------------------------------------------------- */

/* Reorders s's examples in place so that new example i is old example
 * order[i], following the permutation's cycles with one example of scratch.
 * order is clobbered (entries are marked visited by negation - 1). */
static void permute_in_place(ds_set *s, int32_t *order, float *scratch_image)
{
    size_t per = (size_t)s->c * s->h * s->w;
    for (int start = 0; start < s->n; start++) {
        if (order[start] < 0 || order[start] == start) continue;
        memcpy(scratch_image, s->images + (size_t)start * per, per * sizeof(float));
        int32_t scratch_label = s->labels[start];
        int j = start;
        for (;;) {
            int k = order[j];
            order[j] = -1 - k;
            if (k == start) {
                memcpy(s->images + (size_t)j * per, scratch_image, per * sizeof(float));
                s->labels[j] = scratch_label;
                break;
            }
            memcpy(s->images + (size_t)j * per, s->images + (size_t)k * per, per * sizeof(float));
            s->labels[j] = s->labels[k];
            j = k;
        }
    }
}

int ds_split(ds_set *train, ds_set *val, int n_val, uint64_t seed)
{
    PL_ASSERT(train && val && train != val);
    if (n_val < 0 || n_val >= train->n)
        PL_FAIL(PL_ERR_INVAL,
                "%s: cannot carve %d validation examples out of %d (need 0 <= n_val < n)",
                train->name, n_val, train->n);
    size_t per = (size_t)train->c * train->h * train->w;
    int n = train->n;

    int32_t *order = pl_xmalloc((size_t)n * sizeof *order);
    for (int i = 0; i < n; i++) order[i] = i;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    PL_ASSERT(rng);
    /* mt19937 keeps only 32 bits of its seed: fold a hash of all 64 in. */
    uint64_t h = mix64(seed ^ TAG_SPLIT);
    gsl_rng_set(rng, (unsigned long)((h ^ (h >> 32)) & 0xffffffffull));
    gsl_ran_shuffle(rng, order, (size_t)n, sizeof *order);
    gsl_rng_free(rng);

    float *scratch = pl_xmalloc(per * sizeof(float));
    permute_in_place(train, order, scratch);
    pl_free(scratch);
    pl_free(order);

    ds_set v = *train;
    v.n = n_val;
    v.images = pl_xmalloc((size_t)n_val * per * sizeof(float));
    v.labels = pl_xmalloc((size_t)n_val * sizeof(int32_t));
    memcpy(v.images, train->images, (size_t)n_val * per * sizeof(float));
    memcpy(v.labels, train->labels, (size_t)n_val * sizeof(int32_t));
    size_t len = strnlen(train->name, sizeof train->name - 1);
    if (len > sizeof v.name - 5) len = sizeof v.name - 5;
    memcpy(v.name, train->name, len);
    memcpy(v.name + len, "-val", 5);
    *val = v;

    memmove(train->images, train->images + (size_t)n_val * per,
            (size_t)(n - n_val) * per * sizeof(float));
    memmove(train->labels, train->labels + n_val, (size_t)(n - n_val) * sizeof(int32_t));
    train->n = n - n_val;
    return PL_OK;
}

/* ---- epoch order ------------------------------------------------------- */

void ds_epoch_order(int32_t *order, int n, uint64_t seed, int epoch)
{
    PL_ASSERT(n >= 0 && (n == 0 || order));
    uint64_t state = mix64(mix64(seed ^ TAG_EPOCH) + (uint64_t)(int64_t)epoch);
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)uniform_below(&state, (uint64_t)i + 1);
        int32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* ---- gathering --------------------------------------------------------- */

void ds_gather(const ds_set *s, const int32_t *idx, int count, float *images, int32_t *labels)
{
    size_t per = (size_t)s->c * s->h * s->w;
    for (int i = 0; i < count; i++) {
        int32_t e = idx[i];
        PL_ASSERT(e >= 0 && e < s->n);
        memcpy(images + (size_t)i * per, s->images + (size_t)e * per, per * sizeof(float));
        if (labels) labels[i] = s->labels[e];
    }
}

void ds_augment_params(uint64_t seed, int64_t step, int32_t example, int pad, int flip, int *dy,
                       int *dx, int *flipped)
{
    PL_ASSERT(pad >= 0);
    uint64_t state = mix64(mix64(mix64(seed ^ TAG_AUGMENT) + (uint64_t)step) +
                           (uint64_t)(int64_t)example);
    uint64_t span = 2 * (uint64_t)pad + 1;
    *dy = (int)uniform_below(&state, span) - pad;
    *dx = (int)uniform_below(&state, span) - pad;
    *flipped = flip ? (int)(splitmix64_next(&state) >> 63) : 0;
}

void ds_gather_augmented(const ds_set *s, const int32_t *idx, int count, float *images,
                         int32_t *labels, int pad, int flip, uint64_t seed, int64_t step)
{
    int h = s->h, w = s->w;
    PL_ASSERT(pad >= 0 && pad < h && pad < w);
    size_t plane = (size_t)h * w, per = (size_t)s->c * plane;
    PL_ASSERT(s->c >= 1 && s->c <= DS_MAX_CHANNELS);
    /* A raw black pixel after normalization, per channel: what the padding
     * reads as. */
    float black_of[DS_MAX_CHANNELS];
    for (int ch = 0; ch < s->c; ch++)
        black_of[ch] = s->std[ch] > 0 ? (float)((0.0 - s->mean[ch]) / s->std[ch]) : 0.0f;
    for (int i = 0; i < count; i++) {
        int32_t e = idx[i];
        PL_ASSERT(e >= 0 && e < s->n);
        if (labels) labels[i] = s->labels[e];
        int dy, dx, flipped;
        ds_augment_params(seed, step, e, pad, flip, &dy, &dx, &flipped);
        for (int ch = 0; ch < s->c; ch++) {
            const float *src = s->images + (size_t)e * per + (size_t)ch * plane;
            float *dst = images + (size_t)i * per + (size_t)ch * plane;
            float black = black_of[ch];
            for (int y = 0; y < h; y++) {
                int sy = y + dy;
                float *row = dst + (size_t)y * w;
                if (sy < 0 || sy >= h) {
                    for (int x = 0; x < w; x++) row[x] = black;
                    continue;
                }
                const float *src_row = src + (size_t)sy * w;
                for (int x = 0; x < w; x++) {
                    int sx = (flipped ? w - 1 - x : x) + dx;
                    row[x] = sx >= 0 && sx < w ? src_row[sx] : black;
                }
            }
        }
    }
}
