/* test_nsga2.c: the NSGA-II machinery: constrained domination (feasibility
 * first, then violation, then Pareto; equal points never dominate), fast
 * non-dominated sorting on a hand-made set with known fronts and against a
 * naive longest-chain ranking on 200 random sets, crowding distances on a
 * hand example (per-front normalisation, infinite boundaries), elitist
 * survival (whole fronts, then the most crowded; keep == n and keep == 0),
 * the binary tournament (the better of the two drawn, all indices reachable,
 * same seed same sequence), the feasible first front and the knee point. */
#include "check.h"
#include "nsga2.h"
#include "pl_mem.h"

#include <gsl/gsl_rng.h>
#include <string.h>

static nsga2_fitness fit2(double a, double b, double violation)
{
    nsga2_fitness f;
    memset(&f, 0, sizeof f);
    f.obj[0] = a;
    f.obj[1] = b;
    f.violation = violation;
    f.rank = -1;
    f.crowding = -1;
    return f;
}

static void test_dominates(void)
{
    nsga2_fitness good = fit2(10, 10, 0), bad = fit2(0, 0, 1);
    CHECK(nsga2_dominates(&good, &bad, 2) == 1, "feasible dominates infeasible despite objectives");
    CHECK(nsga2_dominates(&bad, &good, 2) == 0, "infeasible never dominates feasible");

    nsga2_fitness v1 = fit2(9, 9, 0.5), v2 = fit2(0, 0, 2);
    CHECK(nsga2_dominates(&v1, &v2, 2) == 1, "smaller violation dominates");
    CHECK(nsga2_dominates(&v2, &v1, 2) == 0, "larger violation does not dominate");
    nsga2_fitness v3 = fit2(0, 0, 0.5);
    CHECK(!nsga2_dominates(&v1, &v3, 2) && !nsga2_dominates(&v3, &v1, 2),
          "equal violations: neither dominates, whatever the objectives");

    nsga2_fitness a = fit2(1, 2, 0), b = fit2(2, 3, 0), c = fit2(1, 3, 0), d = fit2(2, 2, 0);
    CHECK(nsga2_dominates(&a, &b, 2) && !nsga2_dominates(&b, &a, 2), "Pareto: better in both");
    CHECK(nsga2_dominates(&a, &c, 2) && !nsga2_dominates(&c, &a, 2), "Pareto: equal in one, better in the other");
    CHECK(!nsga2_dominates(&c, &d, 2) && !nsga2_dominates(&d, &c, 2), "Pareto: trade-off, neither");
    nsga2_fitness a2 = a;
    CHECK(!nsga2_dominates(&a, &a2, 2), "equal objectives do not dominate");
    CHECK(nsga2_dominates(&a, &c, 1) == 0, "only the first n_obj objectives count");

    nsga2_fitness p = fit2(1, 1, 0), q = fit2(1, 1, 0);
    p.obj[2] = 0;
    q.obj[2] = 1;
    CHECK(nsga2_dominates(&p, &q, 3) && !nsga2_dominates(&p, &q, 2), "third objective");
}

/* Known fronts: 0 = {(1,5),(2,3),(4,1)}, 1 = {(2,6),(3,4),(5,2)},
 * 2 = {(4,7),(6,6)}, 3 = {infeasible (0,0)}. Stored shuffled. */
#define HAND_N 9
static const double hand_xy[HAND_N][3] = {
    {3, 4, 0}, {6, 6, 0}, {1, 5, 0}, {0, 0, 1}, {5, 2, 0}, {2, 3, 0}, {4, 7, 0}, {2, 6, 0}, {4, 1, 0},
};
static const int hand_rank[HAND_N] = {1, 2, 0, 3, 1, 0, 2, 1, 0};

static void hand_set(nsga2_fitness *f)
{
    for (int i = 0; i < HAND_N; i++) f[i] = fit2(hand_xy[i][0], hand_xy[i][1], hand_xy[i][2]);
}

static void test_sort_hand(void)
{
    nsga2_fitness f[HAND_N];
    hand_set(f);
    int fronts = nsga2_sort(f, HAND_N, 2, NULL);
    CHECK(fronts == 4, "hand set: %d fronts, want 4", fronts);
    int ok = 1;
    for (int i = 0; i < HAND_N; i++)
        if (f[i].rank != hand_rank[i]) {
            ok = 0;
            fprintf(stderr, "  individual %d: rank %d, want %d\n", i, f[i].rank, hand_rank[i]);
        }
    CHECK(ok, "hand set ranks");

    CHECK(nsga2_sort(f, 0, 2, NULL) == 0, "empty set: no front");
    nsga2_fitness one = fit2(5, 5, 3);
    CHECK(nsga2_sort(&one, 1, 2, NULL) == 1 && one.rank == 0, "a single (infeasible) individual is front 0");

    int front[HAND_N];
    int m = nsga2_front(f, HAND_N, front);
    CHECK(m == 3 && front[0] == 2 && front[1] == 5 && front[2] == 8, "feasible first front, index order");
}

/* Naive rank: the longest chain of dominators above i (memoised). */
static int naive_rank(const nsga2_fitness *f, int n, int n_obj, int i, int *memo)
{
    if (memo[i] >= 0) return memo[i];
    int r = 0;
    for (int j = 0; j < n; j++) {
        if (j != i && nsga2_dominates(&f[j], &f[i], n_obj)) {
            int rj = naive_rank(f, n, n_obj, j, memo) + 1;
            if (rj > r) r = rj;
        }
    }
    return memo[i] = r;
}

static void test_sort_random(void)
{
    enum { MAX_N = 90 };
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 7);
    nsga2_fitness f[MAX_N];
    int memo[MAX_N];
    void *work = pl_xmalloc(nsga2_work_size(MAX_N));
    int bad_sets = 0, bad_fronts = 0, bad_nondom = 0;
    for (int set = 0; set < 200; set++) {
        int n = 1 + (int)gsl_rng_uniform_int(r, MAX_N);
        int n_obj = 1 + set % NSGA2_MAX_OBJ;
        int grid = 2 + (int)gsl_rng_uniform_int(r, 8); /* small grids make ties */
        for (int i = 0; i < n; i++) {
            memset(&f[i], 0, sizeof f[i]);
            for (int k = 0; k < NSGA2_MAX_OBJ; k++) f[i].obj[k] = (double)gsl_rng_uniform_int(r, (unsigned long)grid);
            unsigned long v = gsl_rng_uniform_int(r, 6);
            f[i].violation = v < 4 ? 0.0 : 0.5 * (double)(v - 3);
            memo[i] = -1;
        }
        int fronts = nsga2_sort(f, n, n_obj, set % 2 ? work : NULL);
        int max_rank = -1, mismatch = 0;
        for (int i = 0; i < n; i++) {
            if (f[i].rank != naive_rank(f, n, n_obj, i, memo)) mismatch = 1;
            if (f[i].rank > max_rank) max_rank = f[i].rank;
        }
        bad_sets += mismatch;
        bad_fronts += fronts != max_rank + 1;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if (f[i].rank == f[j].rank && nsga2_dominates(&f[i], &f[j], n_obj)) bad_nondom++;
    }
    CHECK(bad_sets == 0, "random sets: %d of 200 with a rank unlike the naive one", bad_sets);
    CHECK(bad_fronts == 0, "random sets: %d with a front count unlike max rank + 1", bad_fronts);
    CHECK(bad_nondom == 0, "random sets: %d dominations within one front", bad_nondom);
    pl_free(work);
    gsl_rng_free(r);
}

/* Front 0: (0,10) (1,6) (2,4) (6,1) (10,0), ranges 10 and 10:
 *   (1,6): 2/10 + 6/10 = 0.8; (2,4): 5/10 + 5/10 = 1.0; (6,1): 8/10 + 4/10 = 1.2
 * Front 1: (1,12) (3,8) (21,2): the middle one (20/20 + 10/10) = 2.0.
 * Front 2: (30,30) alone. Stored shuffled. */
#define CROWD_N 9
static const double crowd_xy[CROWD_N][2] = {
    {3, 8}, {6, 1}, {0, 10}, {30, 30}, {21, 2}, {2, 4}, {10, 0}, {1, 12}, {1, 6},
};
static const int crowd_rank[CROWD_N] = {1, 0, 0, 2, 1, 0, 0, 1, 0};
static const double crowd_dist[CROWD_N] = {2.0, 1.2, INFINITY, INFINITY, INFINITY, 1.0, INFINITY, INFINITY, 0.8};

static void crowd_set(nsga2_fitness *f)
{
    for (int i = 0; i < CROWD_N; i++) f[i] = fit2(crowd_xy[i][0], crowd_xy[i][1], 0);
}

static void test_crowding(void)
{
    nsga2_fitness f[CROWD_N];
    crowd_set(f);
    CHECK(nsga2_sort(f, CROWD_N, 2, NULL) == 3, "crowding set: 3 fronts");
    for (int i = 0; i < CROWD_N; i++) CHECK(f[i].rank == crowd_rank[i], "crowding set: rank of %d", i);
    nsga2_crowding(f, CROWD_N, 2, NULL);
    for (int i = 0; i < CROWD_N; i++) {
        if (isinf(crowd_dist[i]))
            CHECK(isinf(f[i].crowding) && f[i].crowding > 0, "crowding of %d: %g, want inf", i, f[i].crowding);
        else
            CHECK_CLOSE(f[i].crowding, crowd_dist[i], 1e-12, 1e-12, "crowding distance");
    }

    /* Scaling one objective does not change normalised distances. */
    for (int i = 0; i < CROWD_N; i++) f[i].obj[0] *= 1000;
    nsga2_crowding(f, CROWD_N, 2, NULL);
    CHECK_CLOSE(f[8].crowding, 0.8, 1e-12, 1e-12, "crowding after scaling objective 0");

    /* Two members: both infinite; a constant objective adds nothing. */
    nsga2_fitness g[4] = {fit2(0, 5, 0), fit2(1, 5, 0), fit2(2, 5, 0), fit2(3, 5, 0)};
    for (int i = 0; i < 4; i++) g[i].rank = 0;
    nsga2_crowding(g, 4, 2, NULL);
    CHECK(isinf(g[0].crowding) && isinf(g[3].crowding), "constant objective 1: ends infinite");
    CHECK_CLOSE(g[1].crowding, 2.0 / 3.0, 1e-12, 1e-12, "constant objective 1: interior");
    CHECK_CLOSE(g[2].crowding, 2.0 / 3.0, 1e-12, 1e-12, "constant objective 1: interior");
    g[2].rank = g[3].rank = 1;
    nsga2_crowding(g, 4, 2, NULL);
    CHECK(isinf(g[0].crowding) && isinf(g[1].crowding) && isinf(g[2].crowding) && isinf(g[3].crowding),
          "fronts of two: all infinite");

    nsga2_fitness a = fit2(0, 0, 0), b = fit2(0, 0, 0);
    a.rank = 0, b.rank = 1, a.crowding = 0, b.crowding = INFINITY;
    CHECK(nsga2_better(&a, &b) && !nsga2_better(&b, &a), "better: lower rank wins over crowding");
    b.rank = 0;
    CHECK(nsga2_better(&b, &a) && !nsga2_better(&a, &b), "better: same rank, larger crowding");
    a.crowding = INFINITY;
    CHECK(!nsga2_better(&a, &b) && !nsga2_better(&b, &a), "better: full tie is 0 both ways");
}

static void test_survive(void)
{
    nsga2_fitness f[CROWD_N];
    int out[CROWD_N];
    crowd_set(f);
    /* Front 0 = {1, 2, 5, 6, 8}, by crowding: 2 (inf), 6 (inf), 1 (1.2), 5 (1.0), 8 (0.8).
     * Front 1 = {0, 4, 7}; front 2 = {3}. */
    nsga2_survive(f, CROWD_N, 2, 3, out, NULL);
    CHECK(out[0] == 2 && out[1] == 6 && out[2] == 1, "keep 3: the most crowded of front 0: %d %d %d",
          out[0], out[1], out[2]);
    CHECK(isinf(f[2].crowding) && f[3].rank == 2, "survive sets crowding and rank of all");

    void *work = pl_xmalloc(nsga2_work_size(CROWD_N));
    nsga2_survive(f, CROWD_N, 2, 4, out, work);
    CHECK(out[0] == 2 && out[1] == 6 && out[2] == 1 && out[3] == 5, "keep 4 (with a work buffer)");

    nsga2_survive(f, CROWD_N, 2, 5, out, work);
    static const int want5[5] = {1, 2, 5, 6, 8};
    CHECK(memcmp(out, want5, sizeof want5) == 0, "keep 5: exactly front 0, index order");

    nsga2_survive(f, CROWD_N, 2, 7, out, work);
    static const int want7[7] = {1, 2, 5, 6, 8, 4, 7}; /* front 1: 4 and 7 infinite, 0 finite */
    CHECK(memcmp(out, want7, sizeof want7) == 0, "keep 7: front 0 then the ends of front 1");

    nsga2_survive(f, CROWD_N, 2, CROWD_N, out, work);
    static const int want9[CROWD_N] = {1, 2, 5, 6, 8, 0, 4, 7, 3};
    CHECK(memcmp(out, want9, sizeof want9) == 0, "keep == n: all, front by front");

    out[0] = -7;
    nsga2_survive(f, CROWD_N, 2, 0, out, work);
    CHECK(out[0] == -7, "keep 0 writes nothing");

    /* Constraints: infeasible individuals survive only after every feasible one. */
    nsga2_fitness h[HAND_N];
    int hout[HAND_N];
    hand_set(h);
    nsga2_survive(h, HAND_N, 2, HAND_N - 1, hout, work);
    int has_infeasible = 0;
    for (int i = 0; i < HAND_N - 1; i++) has_infeasible |= hout[i] == 3;
    CHECK(!has_infeasible, "keep n-1: the infeasible one is dropped");
    pl_free(work);
}

static void test_tournament(void)
{
    enum { N = 10, DRAWS = 20000 };
    nsga2_fitness f[N];
    for (int i = 0; i < N; i++) {
        f[i] = fit2(0, 0, 0);
        f[i].rank = (i * 7) % 4;
        f[i].crowding = (double)((i * 3) % 5);
    }
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937), *shadow = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 42);
    gsl_rng_set(shadow, 42);
    int wrong = 0, same_index = 0;
    for (int t = 0; t < DRAWS; t++) {
        int got = nsga2_tournament(f, N, r);
        /* Replay the draw: i uniform in [0, N), j uniform among the others. */
        int i = (int)gsl_rng_uniform_int(shadow, N), j = (int)gsl_rng_uniform_int(shadow, N - 1);
        if (j >= i) j++;
        if (i == j) same_index++;
        int want = nsga2_better(&f[j], &f[i]) ? j : i;
        if (got != want) wrong++;
    }
    CHECK(wrong == 0, "tournament: %d of %d draws not the better of the pair", wrong, DRAWS);
    CHECK(same_index == 0, "tournament: distinct indices");

    /* Two individuals: the better always wins, whichever was drawn first. */
    nsga2_fitness two[2] = {fit2(0, 0, 0), fit2(0, 0, 0)};
    two[0].rank = 1, two[1].rank = 0, two[0].crowding = two[1].crowding = 0;
    int always = 1;
    for (int t = 0; t < 200; t++) always &= nsga2_tournament(two, 2, r) == 1;
    CHECK(always, "tournament of two: the better always");
    CHECK(nsga2_tournament(two, 1, r) == 0, "tournament of one: index 0");

    /* Full ties: the first drawn wins, so every index comes up. */
    for (int i = 0; i < N; i++) f[i].rank = 0, f[i].crowding = 1;
    int count[N] = {0};
    int seq_a[1000], seq_b[1000];
    gsl_rng_set(r, 3);
    for (int t = 0; t < 1000; t++) count[seq_a[t] = nsga2_tournament(f, N, r)]++;
    int all = 1;
    for (int i = 0; i < N; i++) all &= count[i] > 50;
    CHECK(all, "tournament under full ties reaches every index");
    gsl_rng_set(r, 3);
    for (int t = 0; t < 1000; t++) seq_b[t] = nsga2_tournament(f, N, r);
    CHECK(memcmp(seq_a, seq_b, sizeof seq_a) == 0, "tournament: same seed, same sequence");
    gsl_rng_free(shadow);
    gsl_rng_free(r);
}

static void test_front_and_knee(void)
{
    /* Only infeasible: no feasible front, though rank 0 exists. */
    nsga2_fitness inf3[3] = {fit2(1, 1, 1), fit2(2, 0, 1), fit2(0, 2, 2)};
    nsga2_sort(inf3, 3, 2, NULL);
    int out[8];
    CHECK(inf3[0].rank == 0 && inf3[1].rank == 0 && nsga2_front(inf3, 3, out) == 0,
          "front: infeasible rank 0 is excluded");

    /* Convex front, normalised: (0,1) (.1,.4) (.2,.2) (.4,.1) (1,0): the elbow is (2,2). */
    nsga2_fitness k[6] = {fit2(4, 1, 0), fit2(0, 10, 0), fit2(10, 0, 0), fit2(2, 2, 0), fit2(1, 4, 0),
                          fit2(0, 0, 3)};
    nsga2_sort(k, 6, 2, NULL);
    int m = nsga2_front(k, 6, out);
    CHECK(m == 5 && out[0] == 0 && out[4] == 4, "front: the 5 feasible, index order");
    CHECK(nsga2_knee(k, out, m) == 3, "knee of a convex front: the elbow (2,2)");
    int rev[5];
    for (int i = 0; i < m; i++) rev[i] = out[m - 1 - i];
    CHECK(nsga2_knee(k, rev, m) == 3, "knee independent of idx order");
    for (int i = 0; i < 5; i++) k[i].obj[0] *= 1e-3, k[i].obj[1] *= 1e6;
    CHECK(nsga2_knee(k, out, m) == 3, "knee invariant to objective scales");

    /* Steep elbow at a different place: (0,10) (1,1) (3,0.5) (10,0). */
    nsga2_fitness e[4] = {fit2(0, 10, 0), fit2(1, 1, 0), fit2(3, 0.5, 0), fit2(10, 0, 0)};
    int ei[4] = {0, 1, 2, 3};
    CHECK(nsga2_knee(e, ei, 4) == 1, "knee of a steep front: (1,1)");

    /* Concave front: no point beyond the line; an extreme (smallest index) wins. */
    nsga2_fitness c[4] = {fit2(5, 9, 0), fit2(0, 10, 0), fit2(9, 5, 0), fit2(10, 0, 0)};
    int ci[4] = {0, 1, 2, 3};
    CHECK(nsga2_knee(c, ci, 4) == 1, "knee of a concave front: extreme A");

    /* m <= 2: the smallest first objective. */
    int two[2] = {2, 3};
    CHECK(nsga2_knee(e, two, 2) == 2, "knee of two points: smallest first objective");
    int one[1] = {3};
    CHECK(nsga2_knee(e, one, 1) == 3, "knee of one point");
}

int main(void)
{
    test_dominates();
    test_sort_hand();
    test_sort_random();
    test_crowding();
    test_survive();
    test_tournament();
    test_front_and_knee();
    return check_summary("test_nsga2");
}
