/* finetune.c: the finetune stage. Trains the adapted model of the search
 * artifact end to end (SGD, the train section's recipe with the finetune
 * section's epochs and learning rate), optionally distilling the baseline
 * model's outputs (finetune.distill_weight; read from its stored logits on
 * the training images when it has them), checkpointing after every epoch
 * and resuming from the checkpoint after a kill, and writes the adapted
 * artifact (gos.adapted: the layout of gos.baseline).
 *
 *   finetune EXPERIMENT.cfg ADAPTED.h5 SEARCH.h5 BASELINE.h5 [--checkpoint PATH]
 *            [--stop-after-epoch N]
 *
 * Exit status: 0 done (or stopped as asked), 1 error, 2 usage. */
#include "cfg.h"
#include "h5io.h"
#include "ig.h"
#include "pl_args.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "trainer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(void)
{
    fprintf(stderr, "usage: finetune EXPERIMENT.cfg ADAPTED.h5 SEARCH.h5 BASELINE.h5 "
                    "[--checkpoint PATH] [--stop-after-epoch N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 5) return usage();
    const char *cfg_path = argv[1], *artifact = argv[2], *search = argv[3], *baseline = argv[4];
    pl_resume_args resume;
    if (pl_parse_resume_args(argc, argv, 5, "--stop-after-epoch", artifact, &resume) < 0)
        return usage();
    const char *checkpoint = resume.path;
    int stop_after = resume.stop_after;
    cfg_experiment *cfg = cfg_new();
    ig_graph *g = NULL, *teacher = NULL;
    int input_node = -1, logits_node = -1, teacher_input = -1, teacher_logits = -1;
    float *teacher_table = NULL;
    int64_t teacher_rows = 0;
    int rc = cfg_load(cfg, cfg_path);
    if (rc == PL_OK) rc = h5io_read_model(search, "gos.search", "/summary", &g, &input_node,
                                             &logits_node);
    if (rc == PL_OK && cfg->finetune.distill_weight > 0)
        rc = h5io_read_model(baseline, "gos.baseline", "/data", &teacher, &teacher_input,
                             &teacher_logits);
    if (rc == PL_OK && teacher) rc = train_read_logits(baseline, &teacher_table, &teacher_rows);
    if (rc == PL_OK) {
        /* The train recipe with the finetune section's schedule. */
        cfg_train recipe = cfg->train;
        recipe.epochs = cfg->finetune.epochs;
        recipe.lr = cfg->finetune.lr;
        snprintf(recipe.schedule, sizeof recipe.schedule, "%s", cfg->finetune.schedule);
        recipe.min_lr = cfg->finetune.min_lr;
        recipe.warmup_epochs = cfg->finetune.warmup_epochs;
        int progress = strcmp(cfg->train.progress, "always") == 0 ||
                       (strcmp(cfg->train.progress, "auto") == 0 && isatty(STDERR_FILENO) &&
                        !getenv("CI"));
        train_options opt = {.cfg = cfg, .initial = g, .initial_input = input_node,
                             .initial_logits = logits_node, .recipe = &recipe,
                             .stage = "finetune", .schema = "gos.adapted",
                             .artifact_path = artifact, .checkpoint_path = checkpoint,
                             .stop_after_epoch = stop_after, .progress = progress,
                             .teacher = teacher, .teacher_input = teacher_input,
                             .teacher_logits = teacher_logits,
                             .teacher_table = teacher_table, .teacher_rows = teacher_rows,
                             .distill_weight = cfg->finetune.distill_weight,
                             .distill_temperature = cfg->finetune.distill_temperature};
        train_result result;
        rc = train_run(&opt, &result);
    }
    if (rc < 0) fprintf(stderr, "finetune: error: %s\n", pl_last_error());
    ig_graph_free(g);
    ig_graph_free(teacher);
    pl_free(teacher_table);
    cfg_delete(cfg);
    return rc < 0 ? 1 : 0;
}
