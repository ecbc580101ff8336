/* lr_schedule.h: learning-rate schedules by step: constant, step decay and
 * cosine annealing, each with an optional linear warm-up.
 *
 *   warm-up (step < warmup_steps): base * (f + (1 - f) * step / warmup_steps),
 *                                  f = warmup_start_factor
 *   constant: base
 *   step:     base * gamma ^ floor((step - warmup) / step_size)
 *   cosine:   min + (base - min) * (1 + cos(pi * t / T)) / 2,
 *             t = step - warmup, T = total_steps - warmup (t clamped to T) */
#ifndef LR_SCHEDULE_H
#define LR_SCHEDULE_H

typedef enum { LR_CONSTANT, LR_STEP, LR_COSINE } lr_kind;

typedef struct {
    lr_kind kind;
    float   base_lr;
    int     warmup_steps;        /* 0: no warm-up                          */
    float   warmup_start_factor; /* fraction of base_lr at step 0          */
    int     step_size;           /* LR_STEP: steps between decays          */
    float   gamma;               /* LR_STEP: decay factor                  */
    float   min_lr;              /* LR_COSINE: final learning rate         */
    int     total_steps;         /* LR_COSINE: length of the schedule      */
} lr_schedule;

/* Returns PL_OK or PL_ERR_INVAL with a message naming the bad field. */
int lr_schedule_check(const lr_schedule *s);

/* The learning rate for step (0-based). */
float lr_schedule_at(const lr_schedule *s, int step);

/* "constant", "step", "cosine"; and back (returns -1 when unknown). */
const char *lr_kind_name(lr_kind kind);
int lr_kind_from_name(const char *name);

#endif
