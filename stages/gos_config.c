/* gos_config.c: the config tool, a thin main over pipeline/config.
 *
 *   gos_config check FILE                validate; exit 0, or print the error, exit 1
 *   gos_config resolve FILE              print every key's resolved value
 *   gos_config fingerprint FILE STAGE    print the text a stage's staleness hangs on
 *   gos_config schema                    print the schema as Markdown (schemas/config.md)
 *   gos_config sweep FILE [DIR]          write the variant experiments of a sweep into DIR
 *                                        (default experiments) and print their names
 *
 * Exit status: 0 success, 1 an error in the config (or output), 2 bad usage. */
#include "cfg.h"
#include "cfg_sweep.h"
#include "pl_mem.h"
#include "pl_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fputs("usage: gos_config check FILE\n"
          "       gos_config resolve FILE\n"
          "       gos_config fingerprint FILE STAGE\n"
          "       gos_config schema\n"
          "       gos_config sweep FILE [DIR]\n",
          stderr);
    return 2;
}

static int report(int rc)
{
    fprintf(stderr, "gos_config: %s\n", pl_last_error());
    return rc < 0 ? 1 : 0;
}

/* Prints text to stdout; 1 when writing fails (e.g. a closed pipe). */
static int print_text(const char *text)
{
    if (fputs(text, stdout) == EOF || fflush(stdout) != 0) {
        fprintf(stderr, "gos_config: cannot write to stdout\n");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage();
    const char *command = argv[1];

    if (strcmp(command, "schema") == 0) {
        if (argc != 2) return usage();
        int rc = cfg_schema_markdown(stdout);
        if (rc < 0 || fflush(stdout) != 0) return report(rc < 0 ? rc : PL_ERR_IO);
        return 0;
    }

    if (strcmp(command, "sweep") == 0) {
        if (argc != 3 && argc != 4) return usage();
        char **names;
        int count;
        int rc = cfg_sweep_generate(argv[2], argc == 4 ? argv[3] : "experiments", &names, &count);
        if (rc < 0) return report(rc);
        for (int i = 0; i < count; i++) {
            printf("%s\n", names[i]);
            pl_free(names[i]);
        }
        pl_free(names);
        return fflush(stdout) != 0;
    }

    int wants_stage = strcmp(command, "fingerprint") == 0;
    if (strcmp(command, "check") != 0 && strcmp(command, "resolve") != 0 && !wants_stage)
        return usage();
    if (argc != (wants_stage ? 4 : 3)) return usage();

    cfg_experiment e;
    int rc = cfg_load(&e, argv[2]);
    if (rc < 0) return report(rc);

    int status = 0;
    if (strcmp(command, "resolve") == 0) {
        status = print_text(e.resolved_text);
    } else if (wants_stage) {
        char *text = NULL;
        rc = cfg_fingerprint(&e, argv[3], &text);
        status = rc < 0 ? report(rc) : print_text(text);
        free(text);
    }
    cfg_destroy(&e);
    return status;
}
