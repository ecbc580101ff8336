/* report.c: the tables and plots of every experiment in a results folder
 * (`make tables`, issue 8).
 *
 *   build/report [RESULTS [EXPERIMENT...]]   (default: results, all)
 *
 * Named experiments: the tables and plots cover those and the sweep
 * variants alone (`make paper` names its grid, so other experiments left in
 * RESULTS, e.g. quickstart, stay out of the grid's average and minimum).
 *
 * Reads RESULTS/NAME/{validate,search,graphs}.h5 of every experiment folder
 * (not store, tables, plots), any of which may be missing (noted), and writes
 * RESULTS/tables/{models,sparsity,replacements}.{md,csv,tex}, a
 * RESULTS/tables/sweep_SWEEP.{md,csv,tex} per sweep (the folders SWEEP@VARIANT
 * of `make sweep`, which are not rows of the models table) and, when gnuplot
 * is installed, the PNGs under RESULTS/plots/ (pipeline/report/report.h).
 * Notes go to stderr; the files written to stdout. Exits 0 on success, 1 on
 * an error (a corrupt artifact names its file), 2 on a usage error. */
#include "h5io.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: report [RESULTS [EXPERIMENT...]]\n"
                 "Writes RESULTS/tables/{models,sparsity,replacements}.{md,csv,tex},\n"
                 "RESULTS/tables/sweep_SWEEP.{md,csv,tex} for the sweep variants (folders\n"
                 "SWEEP@VARIANT) and, with gnuplot (or $GOS_GNUPLOT; GOS_GNUPLOT=none skips),\n"
                 "RESULTS/plots/*.png from every RESULTS/NAME/{validate,search,graphs}.h5.\n"
                 "RESULTS defaults to results. Named experiments: only those and the sweep\n"
                 "variants.\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++)
        if (argv[i][0] == '-') {
            usage(stderr);
            return 2;
        }
    const char *results = argc >= 2 ? argv[1] : "results";
    rp_results r;
    int rc = rp_scan(results, stderr, &r);
    if (rc == PL_OK && argc > 2) rp_results_keep(&r, argv + 2, argc - 2, stderr);
    size_t n = strlen(results) + 16;
    char *tables = pl_xmalloc(n), *plots = pl_xmalloc(n);
    snprintf(tables, n, "%s/tables", results);
    snprintf(plots, n, "%s/plots", results);
    if (rc == PL_OK) {
        if (r.n == 0) fprintf(stderr, "report: no experiments under %s\n", results);
        rc = rp_write_tables(&r, tables, stderr);
    }
    if (rc == PL_OK) {
        int with_validate = 0, with_search = 0, with_graphs = 0, variants = 0;
        for (int i = 0; i < r.n; i++) {
            with_validate += r.exps[i].validate != NULL;
            with_search += r.exps[i].search != NULL;
            with_graphs += r.exps[i].graphs != NULL;
            variants += r.exps[i].validate && rp_is_sweep_variant(r.exps[i].name);
        }
        printf("report: %d experiment%s: %s/{models,sparsity,replacements}.{md,csv,tex} "
               "(%d validated, %d searched, %d with a sparsity study)\n", r.n,
               r.n == 1 ? "" : "s", tables, with_validate, with_search, with_graphs);
        if (variants)
            printf("report: %d validated sweep variant%s: %s/sweep_SWEEP.{md,csv,tex}\n",
                   variants, variants == 1 ? "" : "s", tables);
        int skipped = 0;
        rc = rp_write_plots(&r, plots, stderr, &skipped);
        const char *chosen = getenv("GOS_GNUPLOT");
        if (rc == PL_OK && skipped && chosen && !strcmp(chosen, "none"))
            fprintf(stderr, "report: GOS_GNUPLOT=none: no plots\n");
        else if (rc == PL_OK && skipped)
            fprintf(stderr, "report: gnuplot is not installed: no plots (Debian's gnuplot-nox; "
                            "`make tables` installs it as root)\n");
        else if (rc == PL_OK)
            printf("report: plots in %s/\n", plots);
    }
    if (rc < 0) fprintf(stderr, "report: error: %s\n", pl_last_error());
    rp_results_free(&r);
    pl_free(tables);
    pl_free(plots);
    return rc < 0 ? 1 : 0;
}
