/* pl_args.h: the command-line options the resumable stage mains share
 * (train, search, finetune): `--checkpoint PATH` (default: the artifact's
 * path with ".ckpt.h5" for ".h5") and a stop-after flag for tests. */
#ifndef PL_ARGS_H
#define PL_ARGS_H

#include <stddef.h>

typedef struct {
    char path[1100];   /* the checkpoint's path                        */
    int  stop_after;   /* > 0: stop after this many units (tests)       */
} pl_resume_args;

/* Parses argv[first..argc) for --checkpoint PATH and `stop_flag` N (e.g.
 * "--stop-after-epoch"); artifact names the default checkpoint. Returns 0,
 * or -1 on an unknown option or a bad number (the caller prints usage). */
int pl_parse_resume_args(int argc, char **argv, int first, const char *stop_flag,
                         const char *artifact, pl_resume_args *out);

#endif
