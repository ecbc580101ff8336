/* dev_stats.c: summaries of timed runs and Kendall's rank correlation. */
#include "dev.h"

#include <math.h>
#include <stdlib.h>

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of sorted[0..n) by linear interpolation (n >= 1). */
static double quantile(const double *sorted, int n, double q)
{
    double pos = q * (n - 1);
    int lo = (int)floor(pos);
    int hi = lo + 1 < n ? lo + 1 : lo;
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

void dev_summarize(double *samples, int count, dev_latency *out)
{
    out->runs = count;
    if (count <= 0) {
        out->median_ms = out->min_ms = out->max_ms = out->spread_ms = 0.0;
        return;
    }
    qsort(samples, (size_t)count, sizeof samples[0], compare_double);
    out->median_ms = quantile(samples, count, 0.5);
    out->min_ms = samples[0];
    out->max_ms = samples[count - 1];
    out->spread_ms = quantile(samples, count, 0.75) - quantile(samples, count, 0.25);
}

static int sign_of(double v) { return (v > 0) - (v < 0); }

double dev_kendall_tau(const double *x, const double *y, int count)
{
    /* O(n^2): operators number in the tens to hundreds. */
    double concordant = 0, discordant = 0, ties_x = 0, ties_y = 0;
    for (int i = 0; i < count; i++)
        for (int j = i + 1; j < count; j++) {
            int sx = sign_of(x[i] - x[j]), sy = sign_of(y[i] - y[j]);
            if (sx == 0 && sy == 0) continue;
            if (sx == 0) ties_x++;
            else if (sy == 0) ties_y++;
            else if (sx == sy) concordant++;
            else discordant++;
        }
    double n_x = concordant + discordant + ties_y; /* pairs untied in x */
    double n_y = concordant + discordant + ties_x; /* pairs untied in y */
    if (count < 2 || n_x == 0 || n_y == 0) return NAN;
    return (concordant - discordant) / sqrt(n_x * n_y);
}
