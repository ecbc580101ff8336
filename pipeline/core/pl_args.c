/* pl_args.c: the resumable stages' shared options (see pl_args.h). */
#include "pl_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pl_parse_resume_args(int argc, char **argv, int first, const char *stop_flag,
                         const char *artifact, pl_resume_args *out)
{
    const char *checkpoint = NULL;
    out->stop_after = 0;
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--checkpoint") == 0 && i + 1 < argc) {
            checkpoint = argv[++i];
        } else if (strcmp(argv[i], stop_flag) == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n <= 0 || n > 1000000) return -1;
            out->stop_after = (int)n;
        } else {
            return -1;
        }
    }
    size_t n = strlen(artifact);
    if (checkpoint)
        snprintf(out->path, sizeof out->path, "%s", checkpoint);
    else if (n > 3 && strcmp(artifact + n - 3, ".h5") == 0)
        snprintf(out->path, sizeof out->path, "%.*s.ckpt.h5", (int)(n - 3), artifact);
    else
        snprintf(out->path, sizeof out->path, "%s.ckpt", artifact);
    return 0;
}
