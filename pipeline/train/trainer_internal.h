/* trainer_internal.h: the train stage's state, shared by trainer.c (data,
 * graph, epoch loop) and train_io.c (checkpoints and the baseline artifact). */
#ifndef TRAINER_INTERNAL_H
#define TRAINER_INTERNAL_H

#include "distill.h"
#include "ds_experiment.h"
#include "ig.h"
#include "lr_schedule.h"
#include "models.h"
#include "opt_sgd.h"
#include "trainer.h"

#include <stdint.h>

typedef struct {
    const train_options  *opt;
    const cfg_experiment *cfg;
    const cfg_train      *recipe; /* opt->recipe or &cfg->train                  */
    const char           *stage;  /* opt->stage or "train"                       */
    char  *fingerprint;        /* cfg_fingerprint(cfg, stage), owned             */
    char   start_time[32];

    ds_experiment data;        /* the splits, at the model's input size          */

    ig_graph   *g;
    model_nodes nodes;
    int         loss_node;
    int         batch;         /* training batch size                            */
    int         distilling;    /* 1: the loss is distillation's (distill)        */
    distill     distill;
    int32_t    *order;         /* (train.n) this epoch's order                   */
    int32_t    *labels;        /* (batch)                                        */

    opt_sgd     sgd;
    lr_schedule schedule;
    int         steps_per_epoch;
    int64_t     step;          /* optimizer steps taken                          */

    int     epochs_done;
    double *curve_loss, *curve_acc, *curve_val_loss, *curve_val_acc, *curve_lr,
           *curve_seconds;     /* (epochs) each                                  */
    double  train_seconds;     /* time spent in training steps                   */
    int64_t images_trained;
    float  *train_logits;      /* (train.n, classes) the trained model's, for
                                  /data/train_logits; NULL: not written         */
} trainer;

/* Restores parameters, batch-norm state, optimizer velocity, step and curves
 * from opt->checkpoint_path when it exists and was made for the same train
 * fingerprint and graph. Returns 1 when resumed, 0 when there was nothing
 * (or nothing compatible) to resume, or a negative status. */
int train_checkpoint_load(trainer *t);

/* Writes the checkpoint atomically. */
int train_checkpoint_save(trainer *t);

/* Writes the gos.baseline artifact atomically (the validation accuracy is
 * the last epoch's). */
int train_write_baseline(trainer *t, double test_loss, double test_accuracy);

#endif
