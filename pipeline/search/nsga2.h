/* nsga2.h: the NSGA-II machinery of the search stage (Deb et al. 2002), as a
 * small pure library over an array of fitness records.
 *
 * Minimisation of n_obj <= NSGA2_MAX_OBJ objectives under one constraint
 * violation value (>= 0, 0 = feasible), with Deb's constrained domination:
 * a feasible individual dominates an infeasible one; of two infeasible ones
 * the one with the smaller violation dominates (equal violations: neither);
 * of two feasible ones ordinary Pareto dominance decides.
 *
 * Everything is deterministic: every tie is broken by the individual's index
 * (its position in the array), and the only randomness is the gsl_rng passed
 * to nsga2_tournament. Nothing here allocates except where a `work` argument
 * is NULL (see nsga2_work_size). Objectives and violations must not be NaN
 * (PL_ASSERT); objectives may be +-INFINITY. */
#ifndef NSGA2_H
#define NSGA2_H

#include <gsl/gsl_rng.h>
#include <stddef.h>

#define NSGA2_MAX_OBJ 4

typedef struct {
    double obj[NSGA2_MAX_OBJ]; /* objectives, minimised; [n_obj, 4) unused      */
    double violation;          /* >= 0, 0 feasible                              */
    int    rank;               /* front index, 0 = best; set by nsga2_sort      */
    double crowding;           /* set by nsga2_crowding; INFINITY at boundaries */
} nsga2_fitness;

/* Bytes of the work buffer that nsga2_sort, nsga2_crowding and nsga2_survive
 * need for n individuals (one buffer serves all three): about n*n/8 + 16*n.
 * The buffer must be aligned to 8 bytes (pl_xmalloc gives 64). Passing
 * work = NULL instead makes the function allocate it with pl_xmalloc and free
 * it before returning. */
size_t nsga2_work_size(int n);

/* Constrained domination: 1 when a dominates b, else 0. Equal objectives
 * (both feasible) or equal violations (both infeasible) do not dominate. */
int nsga2_dominates(const nsga2_fitness *a, const nsga2_fitness *b, int n_obj);

/* Fast non-dominated sorting of f[0..n): sets every f[i].rank (0 = first
 * front) and returns the number of fronts (0 when n == 0). The rank of an
 * individual is 1 + the largest rank of those dominating it (0 when none).
 * O(n_obj n^2) time; work: nsga2_work_size(n) bytes or NULL. */
int nsga2_sort(nsga2_fitness *f, int n, int n_obj, void *work);

/* Crowding distance of every individual within its front (f[i].rank, as
 * nsga2_sort set it): for each objective the front is sorted by it (ties by
 * index), its two extreme members get INFINITY, each interior member adds
 * (next - previous) / (front's max - min of that objective); an objective
 * with zero or infinite range adds nothing to the interior members. A front
 * of one or two members is all INFINITY. Sets f[i].crowding for all i.
 * work: nsga2_work_size(n) bytes or NULL. */
void nsga2_crowding(nsga2_fitness *f, int n, int n_obj, void *work);

/* Crowded comparison: 1 when a is better than b (lower rank, or the same rank
 * and a larger crowding distance), else 0 (also on a full tie). */
int nsga2_better(const nsga2_fitness *a, const nsga2_fitness *b);

/* Binary tournament over f[0..n), n >= 1: draws an index i uniformly, then a
 * different index j uniformly (two gsl_rng_uniform_int calls), and returns j
 * when it is better (nsga2_better) than i, else i (so a full tie returns the
 * first drawn). n == 1 returns 0 without drawing. Uses rank and crowding. */
int nsga2_tournament(const nsga2_fitness *f, int n, gsl_rng *r);

/* Elitist survival: from n candidates (parents + offspring) chooses keep
 * (0 <= keep <= n) of them. Calls nsga2_sort and nsga2_crowding on f (so rank
 * and crowding of all n are set, relative to the whole set), then writes to
 * out[0..keep) whole fronts in rank order (each in index order) and, from the
 * first front that does not fit, its members by descending crowding (ties by
 * index). work: nsga2_work_size(n) bytes or NULL. */
void nsga2_survive(nsga2_fitness *f, int n, int n_obj, int keep, int *out, void *work);

/* The feasible first front: the indices i with rank 0 and violation 0, in
 * index order, written to out (room for n); returns their count (0 when no
 * individual is feasible). Needs the ranks from nsga2_sort. */
int nsga2_front(const nsga2_fitness *f, int n, int *out);

/* Knee point of a 2-objective front given as indices idx[0..m), m >= 1.
 * Both objectives are normalised to [0, 1] over the m points; A is the point
 * with the smallest first objective, B the one with the smallest second
 * (ties: the other objective, then the index). Returns the point farthest
 * from the line AB on the side of the ideal point (0, 0), i.e. the largest
 * signed distance towards the ideal (on a convex front: the elbow; on a
 * straight or concave one the point nearest the line, A or B at worst).
 * Ties go to the smaller index. With m <= 2, or when A == B, returns A.
 * Returns an element of idx. */
int nsga2_knee(const nsga2_fitness *f, const int *idx, int m);

#endif
