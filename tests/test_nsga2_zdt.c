/* test_nsga2_zdt.c: the NSGA-II machinery (nsga2.h) end to end on two known
 * bi-objective problems. A real-coded NSGA-II is assembled from the library's
 * pieces (nsga2_tournament picks the parents, nsga2_survive keeps the best N
 * of parents + offspring) and variation operators written here (Deb's SBX
 * crossover, eta 15, probability 0.9; Deb's polynomial mutation, eta 20,
 * probability 1/n per variable), all driven by one seeded gsl_rng mt19937.
 *
 *   ZDT1 (30 variables in [0,1], unconstrained): the hypervolume of the final
 *   first front w.r.t. (1.1, 1.1) is within 3% of the true front's, which is
 *   derived analytically below (and checked against a numerical quadrature).
 *
 *   BNH (Binh and Korn; 2 variables, 2 constraints): the final population is
 *   all feasible and its front's hypervolume w.r.t. (140, 50) is within 3% of
 *   that of a reference front found by a dense grid search over the variables
 *   (itself checked against a quadrature along the known Pareto set).
 *
 * Each run is repeated with the same seed: the final hypervolume must be
 * bitwise equal (the library breaks every tie by index; nothing else is
 * random). The achieved and reference hypervolumes are printed. */
#include "check.h"
#include "nsga2.h"
#include "pl_mem.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VARS 30
#define SBX_ETA 15.0
#define SBX_PROB 0.9
#define PM_ETA 20.0
#define REL_TOL 0.03

typedef struct {
    const char *name;
    int n_var;
    double lo[MAX_VARS], hi[MAX_VARS];
    /* Writes the two objectives and the constraint violation (>= 0). */
    void (*eval)(const double *x, int n_var, double *obj, double *violation);
} problem;

/* ---- the problems ---------------------------------------------------------- */

/* ZDT1: f1 = x1, g = 1 + 9 sum_{i>=2} x_i / (n-1), f2 = g (1 - sqrt(f1 / g)).
 * Pareto front: g = 1 (x_i = 0 for i >= 2), f2 = 1 - sqrt(f1), f1 in [0,1]. */
static void zdt1_eval(const double *x, int n_var, double *obj, double *violation)
{
    double s = 0;
    for (int i = 1; i < n_var; i++) s += x[i];
    double g = 1.0 + 9.0 * s / (n_var - 1);
    obj[0] = x[0];
    obj[1] = g * (1.0 - sqrt(x[0] / g));
    *violation = 0;
}

/* BNH: f1 = 4 x1^2 + 4 x2^2, f2 = (x1-5)^2 + (x2-5)^2, x1 in [0,5], x2 in [0,3],
 * g1 = (x1-5)^2 + x2^2 <= 25, g2 = (x1-8)^2 + (x2+3)^2 >= 7.7; the violation
 * is the sum of the positive parts. */
static double bnh_violation(double x1, double x2)
{
    double g1 = (x1 - 5) * (x1 - 5) + x2 * x2 - 25.0;
    double g2 = 7.7 - ((x1 - 8) * (x1 - 8) + (x2 + 3) * (x2 + 3));
    return (g1 > 0 ? g1 : 0) + (g2 > 0 ? g2 : 0);
}

static void bnh_objectives(double x1, double x2, double *obj)
{
    obj[0] = 4 * x1 * x1 + 4 * x2 * x2;
    obj[1] = (x1 - 5) * (x1 - 5) + (x2 - 5) * (x2 - 5);
}

static void bnh_eval(const double *x, int n_var, double *obj, double *violation)
{
    (void)n_var;
    bnh_objectives(x[0], x[1], obj);
    *violation = bnh_violation(x[0], x[1]);
}

/* ---- 2-D hypervolume --------------------------------------------------------- */

typedef struct {
    double a, b;
} pt2;

static int pt2_cmp(const void *pa, const void *pb)
{
    const pt2 *p = pa, *q = pb;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    if (p->b != q->b) return p->b < q->b ? -1 : 1;
    return 0;
}

/* Hypervolume (area, both objectives minimised) dominated by p[0..m) and
 * bounded by the reference (r1, r2). Dominated points and points not strictly
 * better than the reference in both objectives add nothing, so any point set
 * may be passed. Sorts p in place. Sweep by ascending f1: each point that
 * lowers the best f2 so far adds the strip (r1 - f1) x (best - f2). */
static double hv2(pt2 *p, int m, double r1, double r2)
{
    qsort(p, (size_t)m, sizeof *p, pt2_cmp);
    double hv = 0, best = r2;
    for (int i = 0; i < m; i++) {
        if (p[i].a >= r1) break;
        if (p[i].b < best) {
            hv += (r1 - p[i].a) * (best - p[i].b);
            best = p[i].b;
        }
    }
    return hv;
}

/* Hypervolume of the feasible first front of f[0..n) (ranks from nsga2_sort). */
static double front_hv(const nsga2_fitness *f, int n, double r1, double r2, int *front_size)
{
    int *idx = pl_xmalloc((size_t)n * sizeof *idx);
    pt2 *p = pl_xmalloc((size_t)n * sizeof *p);
    int m = nsga2_front(f, n, idx);
    for (int i = 0; i < m; i++) p[i] = (pt2){f[idx[i]].obj[0], f[idx[i]].obj[1]};
    double hv = hv2(p, m, r1, r2);
    if (front_size) *front_size = m;
    pl_free(p);
    pl_free(idx);
    return hv;
}

/* ---- variation operators (Deb's bounded SBX and polynomial mutation) --------- */

static double sbx_betaq(double beta, double u)
{
    double alpha = 2.0 - pow(beta, -(SBX_ETA + 1.0));
    if (u <= 1.0 / alpha) return pow(u * alpha, 1.0 / (SBX_ETA + 1.0));
    return pow(1.0 / (2.0 - u * alpha), 1.0 / (SBX_ETA + 1.0));
}

static double clamp(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Simulated binary crossover: with probability SBX_PROB the pair is crossed,
 * each variable then with probability 1/2, the spread bounded so that the
 * children stay in [lo, hi]; otherwise the children are copies. */
static void sbx(const problem *pb, const double *p1, const double *p2, double *c1, double *c2, gsl_rng *r)
{
    memcpy(c1, p1, (size_t)pb->n_var * sizeof *c1);
    memcpy(c2, p2, (size_t)pb->n_var * sizeof *c2);
    if (gsl_rng_uniform(r) > SBX_PROB) return;
    for (int j = 0; j < pb->n_var; j++) {
        if (gsl_rng_uniform(r) > 0.5) continue;
        if (fabs(p1[j] - p2[j]) <= 1e-14) continue;
        double y1 = fmin(p1[j], p2[j]), y2 = fmax(p1[j], p2[j]);
        double lo = pb->lo[j], hi = pb->hi[j], u = gsl_rng_uniform(r);
        double bq1 = sbx_betaq(1.0 + 2.0 * (y1 - lo) / (y2 - y1), u);
        double bq2 = sbx_betaq(1.0 + 2.0 * (hi - y2) / (y2 - y1), u);
        double a = clamp(0.5 * ((y1 + y2) - bq1 * (y2 - y1)), lo, hi);
        double b = clamp(0.5 * ((y1 + y2) + bq2 * (y2 - y1)), lo, hi);
        if (gsl_rng_uniform(r) <= 0.5) c1[j] = b, c2[j] = a;
        else c1[j] = a, c2[j] = b;
    }
}

/* Polynomial mutation, each variable with probability 1/n_var. */
static void poly_mutate(const problem *pb, double *x, gsl_rng *r)
{
    double pm = 1.0 / pb->n_var, mpow = 1.0 / (PM_ETA + 1.0);
    for (int j = 0; j < pb->n_var; j++) {
        if (gsl_rng_uniform(r) > pm) continue;
        double lo = pb->lo[j], hi = pb->hi[j], y = x[j];
        double d1 = (y - lo) / (hi - lo), d2 = (hi - y) / (hi - lo), u = gsl_rng_uniform(r), dq;
        if (u <= 0.5) {
            double v = 2.0 * u + (1.0 - 2.0 * u) * pow(1.0 - d1, PM_ETA + 1.0);
            dq = pow(v, mpow) - 1.0;
        } else {
            double v = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * pow(1.0 - d2, PM_ETA + 1.0);
            dq = 1.0 - pow(v, mpow);
        }
        x[j] = clamp(y + dq * (hi - lo), lo, hi);
    }
}

/* ---- the algorithm ----------------------------------------------------------- */

/* Runs NSGA-II with population n (even) for gens generations. On return
 * fit[0..n) and xs[0..n*n_var) hold the final population, fit ranked by
 * nsga2_sort over that population alone. */
static void nsga2_run(const problem *pb, int n, int gens, unsigned long seed, nsga2_fitness *fit, double *xs)
{
    int nv = pb->n_var, n2 = 2 * n;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    double *rx = pl_xmalloc((size_t)n2 * nv * sizeof *rx); /* parents then offspring */
    nsga2_fitness *rf = pl_xmalloc((size_t)n2 * sizeof *rf);
    int *keep = pl_xmalloc((size_t)n * sizeof *keep);
    void *work = pl_xmalloc(nsga2_work_size(n2));

    for (int i = 0; i < n; i++) {
        memset(&rf[i], 0, sizeof rf[i]);
        for (int j = 0; j < nv; j++) rx[i * nv + j] = pb->lo[j] + (pb->hi[j] - pb->lo[j]) * gsl_rng_uniform(r);
        pb->eval(rx + i * nv, nv, rf[i].obj, &rf[i].violation);
    }
    /* Rank and crowding of the initial population, for the first tournaments. */
    nsga2_sort(rf, n, 2, work);
    nsga2_crowding(rf, n, 2, work);

    for (int g = 0; g < gens; g++) {
        for (int k = n; k < n2; k += 2) {
            int a = nsga2_tournament(rf, n, r), b = nsga2_tournament(rf, n, r);
            double *c1 = rx + k * nv, *c2 = rx + (k + 1) * nv;
            sbx(pb, rx + a * nv, rx + b * nv, c1, c2, r);
            poly_mutate(pb, c1, r);
            poly_mutate(pb, c2, r);
            for (int c = k; c < k + 2; c++) {
                memset(&rf[c], 0, sizeof rf[c]);
                pb->eval(rx + c * nv, nv, rf[c].obj, &rf[c].violation);
            }
        }
        /* Elitist survival over parents + offspring; the survivors keep the
         * rank and crowding computed over the combined set (Deb et al. 2002). */
        nsga2_survive(rf, n2, 2, n, keep, work);
        for (int i = 0; i < n; i++) {
            fit[i] = rf[keep[i]];
            memcpy(xs + i * nv, rx + keep[i] * nv, (size_t)nv * sizeof *xs);
        }
        memcpy(rf, fit, (size_t)n * sizeof *rf);
        memcpy(rx, xs, (size_t)n * nv * sizeof *rx);
    }
    memcpy(fit, rf, (size_t)n * sizeof *fit);
    memcpy(xs, rx, (size_t)n * nv * sizeof *xs);
    nsga2_sort(fit, n, 2, work);

    pl_free(work);
    pl_free(keep);
    pl_free(rf);
    pl_free(rx);
    gsl_rng_free(r);
}

/* ---- ZDT1 -------------------------------------------------------------------- */

#define POP 100
#define ZDT_GENS 250
#define ZDT_R 1.1

/* True hypervolume of ZDT1's front f2 = 1 - sqrt(f1), f1 in [0,1], w.r.t.
 * (r1, r2) with r1, r2 >= 1. The dominated region within the box, sliced at
 * f1 = a: for a in [0,1] its height is r2 - (1 - sqrt(a)); for a in [1, r1]
 * the front's end point (1, 0) dominates the full height r2. So
 *   HV = int_0^1 (r2 - 1 + sqrt(a)) da + (r1 - 1) r2
 *      = (r2 - 1) + 2/3 + (r1 - 1) r2,
 * for (1.1, 1.1): 0.1 + 2/3 + 0.11 = 263/300 = 0.876666... */
static double zdt1_true_hv(double r1, double r2) { return (r2 - 1.0) + 2.0 / 3.0 + (r1 - 1.0) * r2; }

/* The same by the midpoint rule over f1 in [0, r1] (check of the derivation). */
static double zdt1_quadrature_hv(double r1, double r2, int steps)
{
    double h = r1 / steps, hv = 0;
    for (int i = 0; i < steps; i++) {
        double a = (i + 0.5) * h, f2 = a < 1.0 ? 1.0 - sqrt(a) : 0.0;
        hv += (r2 - f2) * h;
    }
    return hv;
}

static void test_zdt1(void)
{
    problem pb = {.name = "ZDT1", .n_var = 30, .eval = zdt1_eval};
    for (int j = 0; j < pb.n_var; j++) pb.lo[j] = 0, pb.hi[j] = 1;

    double want = zdt1_true_hv(ZDT_R, ZDT_R);
    CHECK_CLOSE(want, 263.0 / 300.0, 1e-15, 0, "ZDT1 true hypervolume, closed form");
    CHECK_CLOSE(zdt1_quadrature_hv(ZDT_R, ZDT_R, 1000000), want, 1e-7, 0,
                "ZDT1 true hypervolume, closed form vs quadrature");

    nsga2_fitness *fit = pl_xmalloc(POP * sizeof *fit);
    double *xs = pl_xmalloc((size_t)POP * pb.n_var * sizeof *xs);
    int m;
    nsga2_run(&pb, POP, ZDT_GENS, 1, fit, xs);
    double hv = front_hv(fit, POP, ZDT_R, ZDT_R, &m);

    /* How far the front is from the true one: max over it of f2 - (1 - sqrt(f1)). */
    double gap = 0;
    int idx[POP];
    int mf = nsga2_front(fit, POP, idx);
    for (int i = 0; i < mf; i++) gap = fmax(gap, fit[idx[i]].obj[1] - (1.0 - sqrt(fit[idx[i]].obj[0])));

    printf("ZDT1: %d generations, front of %d, hypervolume %.6f, true %.6f (ratio %.4f), max gap to front %.2e\n",
           ZDT_GENS, m, hv, want, hv / want, gap);
    CHECK(fabs(hv - want) <= REL_TOL * want, "ZDT1: hypervolume %.6f not within 3%% of the true %.6f", hv, want);
    CHECK(m >= POP / 2, "ZDT1: first front of only %d of %d", m, POP);

    /* Determinism: same seed, same final hypervolume and population, exactly. */
    nsga2_fitness *fit2 = pl_xmalloc(POP * sizeof *fit2);
    double *xs2 = pl_xmalloc((size_t)POP * pb.n_var * sizeof *xs2);
    nsga2_run(&pb, POP, ZDT_GENS, 1, fit2, xs2);
    double hv_again = front_hv(fit2, POP, ZDT_R, ZDT_R, NULL);
    CHECK(hv_again == hv, "ZDT1: same seed, hypervolume %.17g then %.17g", hv, hv_again);
    CHECK(memcmp(xs, xs2, (size_t)POP * pb.n_var * sizeof *xs) == 0, "ZDT1: same seed, same final population");

    /* A different seed gives a different run (the seed is actually used). */
    nsga2_run(&pb, POP, ZDT_GENS, 2, fit2, xs2);
    double hv_other = front_hv(fit2, POP, ZDT_R, ZDT_R, NULL);
    printf("ZDT1: seed 2 hypervolume %.6f (ratio %.4f)\n", hv_other, hv_other / want);
    CHECK(hv_other != hv, "ZDT1: seed 2 gives the same hypervolume as seed 1");
    CHECK(fabs(hv_other - want) <= REL_TOL * want, "ZDT1 seed 2: hypervolume %.6f not within 3%% of %.6f",
          hv_other, want);

    pl_free(xs2);
    pl_free(fit2);
    pl_free(xs);
    pl_free(fit);
}

/* ---- BNH --------------------------------------------------------------------- */

#define BNH_GENS 200
#define BNH_R1 140.0
#define BNH_R2 50.0
#define BNH_GRID 400 /* intervals per variable: (BNH_GRID + 1)^2 points */

/* Reference: every feasible point of a (BNH_GRID+1)^2 grid over the box; hv2
 * keeps only the non-dominated ones (its sweep skips dominated points). */
static double bnh_grid_hv(int *n_front)
{
    int side = BNH_GRID + 1, m = 0;
    pt2 *p = pl_xmalloc((size_t)side * side * sizeof *p);
    for (int i = 0; i < side; i++)
        for (int j = 0; j < side; j++) {
            double x1 = 5.0 * i / BNH_GRID, x2 = 3.0 * j / BNH_GRID, obj[2];
            if (bnh_violation(x1, x2) > 0) continue;
            bnh_objectives(x1, x2, obj);
            p[m++] = (pt2){obj[0], obj[1]};
        }
    double hv = hv2(p, m, BNH_R1, BNH_R2);
    /* Count the non-dominated points (p is now sorted by f1, then f2). */
    int k = 0;
    double best = INFINITY;
    for (int i = 0; i < m; i++)
        if (p[i].b < best) best = p[i].b, k++;
    *n_front = k;
    pl_free(p);
    return hv;
}

/* Cross-check of the grid: BNH's Pareto set is x1 = x2 = t in [0,3] (f1 = 8t^2,
 * f2 = 2(5-t)^2, f1 up to 72), then x2 = 3, x1 = s in [3,5] (f1 = 4s^2 + 36,
 * f2 = (s-5)^2 + 4, f1 up to 136). Midpoint rule over f1 in [0, r1] of
 * r2 - front(f1), the front being f2 = 4 beyond f1 = 136. */
static double bnh_quadrature_hv(int steps)
{
    double h = BNH_R1 / steps, hv = 0;
    for (int i = 0; i < steps; i++) {
        double a = (i + 0.5) * h, f2;
        if (a <= 72.0) {
            double t = sqrt(a / 8.0);
            f2 = 2.0 * (5.0 - t) * (5.0 - t);
        } else if (a <= 136.0) {
            double s = sqrt((a - 36.0) / 4.0);
            f2 = (s - 5.0) * (s - 5.0) + 4.0;
        } else {
            f2 = 4.0;
        }
        hv += (BNH_R2 - f2) * h;
    }
    return hv;
}

static void test_bnh(void)
{
    problem pb = {.name = "BNH", .n_var = 2, .lo = {0, 0}, .hi = {5, 3}, .eval = bnh_eval};
    int n_ref;
    double want = bnh_grid_hv(&n_ref);
    double exact = bnh_quadrature_hv(1000000);
    CHECK(want <= exact * (1 + 1e-9) && want >= exact * 0.995,
          "BNH: grid reference %.6f not just below the quadrature's %.6f", want, exact);

    nsga2_fitness fit[POP], fit2[POP];
    double xs[POP * 2], xs2[POP * 2];
    nsga2_run(&pb, POP, BNH_GENS, 1, fit, xs);
    int feasible = 0;
    for (int i = 0; i < POP; i++) feasible += fit[i].violation == 0;
    int m;
    double hv = front_hv(fit, POP, BNH_R1, BNH_R2, &m);
    printf("BNH: %d generations, %d of %d feasible, front of %d, hypervolume %.4f, "
           "grid reference %.4f (front of %d, ratio %.4f), quadrature %.4f\n",
           BNH_GENS, feasible, POP, m, hv, want, n_ref, hv / want, exact);
    CHECK(feasible == POP, "BNH: %d of %d final individuals feasible", feasible, POP);
    CHECK(fabs(hv - want) <= REL_TOL * want, "BNH: hypervolume %.4f not within 3%% of the grid's %.4f", hv, want);

    nsga2_run(&pb, POP, BNH_GENS, 1, fit2, xs2);
    double hv_again = front_hv(fit2, POP, BNH_R1, BNH_R2, NULL);
    CHECK(hv_again == hv, "BNH: same seed, hypervolume %.17g then %.17g", hv, hv_again);
    CHECK(memcmp(xs, xs2, sizeof xs) == 0, "BNH: same seed, same final population");
}

int main(void)
{
    test_zdt1();
    test_bnh();
    return check_summary("test_nsga2_zdt");
}
