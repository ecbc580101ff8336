/* train.c: the train stage. Trains the experiment's model and writes its
 * baseline artifact (gos.baseline), checkpointing after every epoch and
 * resuming from the checkpoint after a kill.
 *
 *   train EXPERIMENT.cfg BASELINE.h5 [--checkpoint PATH] [--stop-after-epoch N]
 *
 * The checkpoint defaults to BASELINE.h5 with ".ckpt" before the extension.
 * Exit status: 0 done (or stopped as asked), 1 error, 2 usage. */
#include "cfg.h"
#include "pl_args.h"
#include "pl_err.h"
#include "trainer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(void)
{
    fprintf(stderr, "usage: train EXPERIMENT.cfg BASELINE.h5 [--checkpoint PATH] "
                    "[--stop-after-epoch N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3) return usage();
    const char *cfg_path = argv[1], *artifact = argv[2];
    pl_resume_args resume;
    if (pl_parse_resume_args(argc, argv, 3, "--stop-after-epoch", artifact, &resume) < 0)
        return usage();
    const char *checkpoint = resume.path;
    int stop_after = resume.stop_after;

    cfg_experiment *cfg = cfg_new();
    if (cfg_load(cfg, cfg_path) < 0) {
        fprintf(stderr, "train: error: %s\n", pl_last_error());
        return 1;
    }
    int progress = strcmp(cfg->train.progress, "always") == 0 ||
                   (strcmp(cfg->train.progress, "auto") == 0 && isatty(STDERR_FILENO) &&
                    !getenv("CI"));
    train_options opt = {.cfg = cfg, .artifact_path = artifact, .checkpoint_path = checkpoint,
                         .stop_after_epoch = stop_after, .progress = progress};
    train_result result;
    int rc = train_run(&opt, &result);
    if (rc < 0) fprintf(stderr, "train: error: %s\n", pl_last_error());
    cfg_delete(cfg);
    return rc < 0 ? 1 : 0;
}
