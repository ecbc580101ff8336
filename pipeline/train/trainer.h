/* trainer.h: the train stage's work: train the experiment's model on its
 * dataset with SGD, checkpoint after every epoch, resume from the last
 * checkpoint, and write the baseline artifact (gos.baseline), with the
 * model's logits on every training image when the data is not augmented
 * (for distillation from it without running it).
 *
 * Determinism: data order, augmentation and dropout are counter-based
 * functions of (seed, epoch/step), so a run resumed from a checkpoint (which
 * stores parameters, batch-norm statistics, optimizer velocity and the step)
 * produces the same result as an uninterrupted one (with one thread; more
 * threads may reassociate sgemm sums). */
#ifndef TRAINER_H
#define TRAINER_H

#include "cfg.h"

#include <stdint.h>

struct ig_graph;

typedef struct {
    const cfg_experiment *cfg;
    /* What is trained: NULL builds cfg->model from scratch (the train
     * stage); else a copy of this graph with its weights (finetune), whose
     * input and logits nodes are given and which may already end in its
     * softmax_xent node. */
    const struct ig_graph *initial;
    int initial_input, initial_logits;
    /* Distillation (distill_weight > 0): the teacher (finalized, with
     * weights; its input and logits nodes given) runs in evaluation mode on
     * every training batch, and the loss mixes the labels' cross-entropy
     * with the KL divergence to its softened outputs (nn_loss.h). */
    const struct ig_graph *teacher;
    int teacher_input, teacher_logits;
    double distill_weight, distill_temperature;
    /* The teacher's logits on every training image (teacher_rows, classes),
     * e.g. from train_read_logits, or NULL: read instead of running the
     * teacher (distill.h; a table of another row count is not used). */
    const float *teacher_table;
    int64_t teacher_rows;
    /* The recipe: NULL is cfg->train. */
    const cfg_train *recipe;
    /* Names: the stage ("train") for messages, provenance and the
     * checkpoint's fingerprint, and the artifact's schema ("gos.baseline"). */
    const char *stage;
    const char *schema;
    const char *artifact_path;   /* where gos.baseline goes                     */
    const char *checkpoint_path; /* gos.checkpoint, read if present and made
                                    for the same fingerprint of this stage
                                    (train or finetune); NULL: no
                                    checkpoints (and no stop_after_epoch)     */
    int stop_after_epoch;        /* > 0: stop once this epoch is checkpointed  */
    int progress;                /* 1: a live progress line on stderr          */
} train_options;

typedef struct {
    int    epochs_done;          /* epochs finished when train_run returned    */
    int    resumed_from;         /* epochs restored from a checkpoint, or 0    */
    int    stopped_early;        /* 1: stop_after_epoch ended the run          */
    double test_accuracy;        /* in [0, 1]; valid when !stopped_early       */
    double val_accuracy;
    double train_seconds;
    double images_per_second;
} train_result;

/* Runs the stage. Returns PL_OK, or a negative status with a message (data
 * errors name the file, a non-finite loss names the epoch and step, I/O
 * errors the artifact). The artifact is complete or absent. */
int train_run(const train_options *opt, train_result *result);

/* The baseline's logits on its training images (/data/train_logits, which
 * the train stage writes when data.augment is false): *table (rows,
 * classes), to free with pl_free, or NULL with *rows 0 when the artifact
 * has none. Returns PL_OK, or a negative status naming the file and the
 * dataset (a shape other than (/metrics@train_images, /data@classes), a
 * value not finite). */
int train_read_logits(const char *baseline_path, float **table, int64_t *rows);

#endif
