/* nsga2.c: constrained domination, fast non-dominated sorting, crowding
 * distance, crowded comparison and binary tournament, elitist survival, the
 * feasible first front and its knee point (see nsga2.h).
 *
 * Work buffer layout (one buffer of nsga2_work_size(n) bytes, reused):
 *   sorting   the domination bit matrix (row i: whom i dominates, n rows of
 *             ceil(n/64) words), the domination counts (n ints) and the queue
 *             of individuals in front order (n ints);
 *   crowding  the individuals grouped by rank in index order (n ints), the
 *             fronts' start offsets (n + 1 ints), and a front's members being
 *             sorted plus the merge sort's scratch (2 n ints). nsga2_survive
 *             reads the grouping that crowding leaves behind.
 * Sorting within a front is a bottom-up merge sort under a total order (the
 * key, then the index), so the result never depends on the sort's stability. */
#include "nsga2.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static size_t words_per_row(int n) { return ((size_t)n + 63) / 64; }

size_t nsga2_work_size(int n)
{
    PL_ASSERT(n >= 0);
    size_t un = (size_t)n;
    size_t sort = un * words_per_row(n) * sizeof(uint64_t) + 2 * un * sizeof(int);
    size_t crowd = (4 * un + 1) * sizeof(int);
    size_t s = sort > crowd ? sort : crowd;
    return (s + 63) / 64 * 64;
}

/* The dominance test without the argument checks, for the O(n^2) loop. */
static inline int dominates(const nsga2_fitness *a, const nsga2_fitness *b, int n_obj)
{
    if (a->violation > 0 || b->violation > 0) {
        if (b->violation > 0 && a->violation == 0) return 1;
        if (a->violation > 0 && b->violation == 0) return 0;
        return a->violation < b->violation;
    }
    int better = 0;
    for (int k = 0; k < n_obj; k++) {
        if (a->obj[k] > b->obj[k]) return 0;
        if (a->obj[k] < b->obj[k]) better = 1;
    }
    return better;
}

int nsga2_dominates(const nsga2_fitness *a, const nsga2_fitness *b, int n_obj)
{
    PL_ASSERT(n_obj >= 1 && n_obj <= NSGA2_MAX_OBJ);
    return dominates(a, b, n_obj);
}

int nsga2_sort(nsga2_fitness *f, int n, int n_obj, void *work)
{
    PL_ASSERT(n >= 0 && n_obj >= 1 && n_obj <= NSGA2_MAX_OBJ);
    if (n == 0) return 0;
    for (int i = 0; i < n; i++) {
        PL_ASSERT(f[i].violation >= 0); /* also rejects NaN */
        for (int k = 0; k < n_obj; k++) PL_ASSERT(!isnan(f[i].obj[k]));
    }
    void *own = NULL;
    if (!work) work = own = pl_xmalloc(nsga2_work_size(n));
    PL_ASSERT(((uintptr_t)work & 7) == 0);

    size_t W = words_per_row(n);
    uint64_t *bits = work;
    int *cnt = (int *)(bits + (size_t)n * W);
    int *queue = cnt + n;
    memset(bits, 0, (size_t)n * W * sizeof *bits);
    memset(cnt, 0, (size_t)n * sizeof *cnt);

    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            if (dominates(&f[i], &f[j], n_obj)) {
                bits[(size_t)i * W + (size_t)j / 64] |= (uint64_t)1 << (j % 64);
                cnt[j]++;
            } else if (dominates(&f[j], &f[i], n_obj)) {
                bits[(size_t)j * W + (size_t)i / 64] |= (uint64_t)1 << (i % 64);
                cnt[i]++;
            }
        }
    }

    int head = 0, tail = 0;
    for (int i = 0; i < n; i++) {
        if (cnt[i] == 0) {
            f[i].rank = 0;
            queue[tail++] = i;
        }
    }
    int fronts = 0;
    while (head < tail) {
        int end = tail;
        for (; head < end; head++) {
            const uint64_t *row = bits + (size_t)queue[head] * W;
            for (size_t w = 0; w < W; w++) {
                uint64_t b = row[w];
                while (b) {
                    int q = (int)(w * 64) + __builtin_ctzll(b);
                    b &= b - 1;
                    if (--cnt[q] == 0) {
                        f[q].rank = fronts + 1;
                        queue[tail++] = q;
                    }
                }
            }
        }
        fronts++;
    }
    PL_ASSERT(tail == n); /* domination is acyclic */
    pl_free(own);
    return fronts;
}

/* ---- sorting indices ------------------------------------------------------ */

typedef struct {
    const nsga2_fitness *f;
    int                  k; /* objective, or -1: by descending crowding */
} order_ctx;

/* x before y: a strict total order (the key, then the index). */
static inline int before(const order_ctx *c, int x, int y)
{
    double a, b;
    if (c->k >= 0) {
        a = c->f[x].obj[c->k];
        b = c->f[y].obj[c->k];
    } else {
        a = -c->f[x].crowding;
        b = -c->f[y].crowding;
    }
    return a < b || (a == b && x < y);
}

/* Bottom-up merge sort of a[0..m) with tmp[0..m) as scratch. */
static void sort_indices(int *a, int *tmp, int m, const order_ctx *c)
{
    int *src = a, *dst = tmp;
    for (int width = 1; width < m; width *= 2) {
        for (int lo = 0; lo < m; lo += 2 * width) {
            int mid = lo + width < m ? lo + width : m;
            int hi = lo + 2 * width < m ? lo + 2 * width : m;
            int i = lo, j = mid, o = lo;
            while (i < mid && j < hi) dst[o++] = before(c, src[j], src[i]) ? src[j++] : src[i++];
            while (i < mid) dst[o++] = src[i++];
            while (j < hi) dst[o++] = src[j++];
        }
        int *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, (size_t)m * sizeof *a);
}

/* ---- crowding ------------------------------------------------------------- */

/* Groups the individuals by rank into order[] (index order within a front),
 * front r being order[start[r] .. start[r+1]); returns the number of fronts. */
static int group_by_rank(const nsga2_fitness *f, int n, int *order, int *start)
{
    int fronts = 0;
    for (int i = 0; i < n; i++) {
        PL_ASSERT(f[i].rank >= 0 && f[i].rank < n);
        if (f[i].rank + 1 > fronts) fronts = f[i].rank + 1;
    }
    memset(start, 0, (size_t)(fronts + 1) * sizeof *start);
    for (int i = 0; i < n; i++) start[f[i].rank + 1]++;
    for (int r = 0; r < fronts; r++) start[r + 1] += start[r];
    /* Fill using start[r] as the cursor, then shift back. */
    for (int i = 0; i < n; i++) order[start[f[i].rank]++] = i;
    for (int r = fronts; r > 0; r--) start[r] = start[r - 1];
    start[0] = 0;
    return fronts;
}

static int crowding_impl(nsga2_fitness *f, int n, int n_obj, int *iw)
{
    int *order = iw, *start = iw + n, *a = start + n + 1, *tmp = a + n;
    int fronts = group_by_rank(f, n, order, start);
    for (int r = 0; r < fronts; r++) {
        const int *mem = order + start[r];
        int m = start[r + 1] - start[r];
        if (m <= 2) {
            for (int i = 0; i < m; i++) f[mem[i]].crowding = INFINITY;
            continue;
        }
        for (int i = 0; i < m; i++) f[mem[i]].crowding = 0;
        for (int k = 0; k < n_obj; k++) {
            order_ctx c = {f, k};
            memcpy(a, mem, (size_t)m * sizeof *a);
            sort_indices(a, tmp, m, &c);
            f[a[0]].crowding = INFINITY;
            f[a[m - 1]].crowding = INFINITY;
            double range = f[a[m - 1]].obj[k] - f[a[0]].obj[k];
            if (!(range > 0) || !isfinite(range)) continue;
            for (int i = 1; i < m - 1; i++)
                f[a[i]].crowding += (f[a[i + 1]].obj[k] - f[a[i - 1]].obj[k]) / range;
        }
    }
    return fronts;
}

void nsga2_crowding(nsga2_fitness *f, int n, int n_obj, void *work)
{
    PL_ASSERT(n >= 0 && n_obj >= 1 && n_obj <= NSGA2_MAX_OBJ);
    if (n == 0) return;
    void *own = NULL;
    if (!work) work = own = pl_xmalloc(nsga2_work_size(n));
    crowding_impl(f, n, n_obj, work);
    pl_free(own);
}

/* ---- selection ------------------------------------------------------------ */

int nsga2_better(const nsga2_fitness *a, const nsga2_fitness *b)
{
    if (a->rank != b->rank) return a->rank < b->rank;
    return a->crowding > b->crowding;
}

int nsga2_tournament(const nsga2_fitness *f, int n, gsl_rng *r)
{
    PL_ASSERT(n >= 1);
    if (n == 1) return 0;
    int i = (int)gsl_rng_uniform_int(r, (unsigned long)n);
    int j = (int)gsl_rng_uniform_int(r, (unsigned long)n - 1);
    if (j >= i) j++;
    return nsga2_better(&f[j], &f[i]) ? j : i;
}

void nsga2_survive(nsga2_fitness *f, int n, int n_obj, int keep, int *out, void *work)
{
    PL_ASSERT(n >= 0 && keep >= 0 && keep <= n);
    if (n == 0) return;
    void *own = NULL;
    if (!work) work = own = pl_xmalloc(nsga2_work_size(n));
    nsga2_sort(f, n, n_obj, work);
    int *iw = work;
    int fronts = crowding_impl(f, n, n_obj, iw);
    const int *order = iw, *start = iw + n;
    int *a = iw + 2 * n + 1, *tmp = a + n;

    int taken = 0;
    for (int r = 0; r < fronts && taken < keep; r++) {
        int m = start[r + 1] - start[r];
        if (taken + m <= keep) {
            memcpy(out + taken, order + start[r], (size_t)m * sizeof *out);
            taken += m;
        } else {
            order_ctx c = {f, -1};
            memcpy(a, order + start[r], (size_t)m * sizeof *a);
            sort_indices(a, tmp, m, &c);
            memcpy(out + taken, a, (size_t)(keep - taken) * sizeof *out);
            taken = keep;
        }
    }
    PL_ASSERT(taken == keep);
    pl_free(own);
}

/* ---- the result ----------------------------------------------------------- */

int nsga2_front(const nsga2_fitness *f, int n, int *out)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (f[i].rank == 0 && f[i].violation == 0) out[m++] = i;
    return m;
}

/* (x - lo) / (hi - lo), or 0 when the range is zero or not finite. */
static double normalise(double x, double lo, double hi)
{
    double range = hi - lo;
    if (!(range > 0) || !isfinite(range)) return 0;
    return (x - lo) / range;
}

/* p before q as an extreme of objective k: smaller obj[k], then smaller other
 * objective, then smaller index. */
static int extreme_before(const nsga2_fitness *f, int p, int q, int k)
{
    int o = 1 - k;
    if (f[p].obj[k] != f[q].obj[k]) return f[p].obj[k] < f[q].obj[k];
    if (f[p].obj[o] != f[q].obj[o]) return f[p].obj[o] < f[q].obj[o];
    return p < q;
}

int nsga2_knee(const nsga2_fitness *f, const int *idx, int m)
{
    PL_ASSERT(m >= 1);
    int A = idx[0], B = idx[0];
    double lo[2] = {f[idx[0]].obj[0], f[idx[0]].obj[1]}, hi[2] = {lo[0], lo[1]};
    for (int i = 1; i < m; i++) {
        int p = idx[i];
        if (extreme_before(f, p, A, 0)) A = p;
        if (extreme_before(f, p, B, 1)) B = p;
        for (int k = 0; k < 2; k++) {
            if (f[p].obj[k] < lo[k]) lo[k] = f[p].obj[k];
            if (f[p].obj[k] > hi[k]) hi[k] = f[p].obj[k];
        }
    }
    if (m <= 2 || A == B) return A;
    double ax = normalise(f[A].obj[0], lo[0], hi[0]), ay = normalise(f[A].obj[1], lo[1], hi[1]);
    double bx = normalise(f[B].obj[0], lo[0], hi[0]), by = normalise(f[B].obj[1], lo[1], hi[1]);
    double dx = bx - ax, dy = by - ay, len = hypot(dx, dy);
    if (!(len > 0)) return A;
    /* A = (0, ay), B = (bx, 0): the ideal (0, 0) gives a cross product
     * dx * (0 - ay) - dy * (0 - ax) <= 0, so the distance towards it is the
     * negated cross product over |AB|. */
    int best = A;
    double best_d = -INFINITY;
    for (int i = 0; i < m; i++) {
        int p = idx[i];
        double px = normalise(f[p].obj[0], lo[0], hi[0]), py = normalise(f[p].obj[1], lo[1], hi[1]);
        double d = -(dx * (py - ay) - dy * (px - ax)) / len;
        if (d > best_d || (d == best_d && p < best)) {
            best = p;
            best_d = d;
        }
    }
    return best;
}
