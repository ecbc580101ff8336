/* bench_util.h: helpers the benchmark programs share (header-only): a
 * monotonic clock, the median of samples, deterministic fill, and the CPU
 * used by other processes while a row was measured (the "oth" column). */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Monotonic wall clock, seconds. */
static inline double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of count samples (sorts them in place); 0 when there are none. */
static inline double median_of(double *values, int count)
{
    if (count == 0) return 0.0;
    qsort(values, (size_t)count, sizeof values[0], compare_double);
    return count % 2 ? values[count / 2] : 0.5 * (values[count / 2 - 1] + values[count / 2]);
}

/* Deterministic values in [-1, 1) from a seeded LCG. */
static inline void fill_random(float *x, size_t n, unsigned seed)
{
    unsigned state = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        state = state * 1664525u + 1013904223u;
        x[i] = (float)((state >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

typedef struct {
    double wall, busy, self;
} load_mark;

/* Wall clock, seconds the machine has been busy (/proc/stat: all but idle and
 * iowait, hypervisor steal included) and CPU seconds this process has used. */
static inline load_mark load_mark_now(void)
{
    load_mark m = {now_seconds(), 0, 0};
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                    &v[4], &v[5], &v[6], &v[7]) == 8)
        m.busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
    if (f) fclose(f);
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    m.self = (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
             1e-6 * (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
    return m;
}

/* Cores' worth of CPU used since the mark by other processes (less
 * excluded_cpu seconds: the torch script's) and the hypervisor. */
static inline double others_since(const load_mark *m, double excluded_cpu)
{
    load_mark now = load_mark_now();
    double others = (now.busy - m->busy) - (now.self - m->self) - excluded_cpu;
    return others > 0 ? others / (now.wall - m->wall) : 0.0;
}

#endif
