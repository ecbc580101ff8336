/* check_artifact.c: validates artifacts against their schemas.
 *
 *   build/check_artifact FILE...
 *
 * For each file prints "FILE: ok (gos.baseline v2)" on stdout, or the error
 * (naming the file and the offending dataset or attribute) on stderr. Exits
 * 0 when every file is valid, 1 when any is not, 2 on a usage error. The
 * checks are those every reader runs (h5io_check): see schemas/artifacts.md. */
#include "h5io.h"
#include "pl_err.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: check_artifact FILE...\n"
                 "Validates each HDF5 artifact against its schema (schemas/artifacts.md).\n"
                 "Known schemas:");
    for (int i = 0; i < h5io_schema_count(); i++)
        fprintf(out, " %s v%lld", h5io_schema_at(i)->name, (long long)h5io_schema_at(i)->version);
    fprintf(out, "\nExit status: 0 all valid, 1 some invalid, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        char schema[64];
        if (h5io_check(argv[i], schema, sizeof schema) < 0) {
            fprintf(stderr, "%s\n", pl_last_error());
            failed = 1;
            continue;
        }
        printf("%s: ok (%s v%lld)\n", argv[i], schema,
               (long long)h5io_schema_find(schema)->version);
    }
    return failed;
}
