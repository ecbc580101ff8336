/* lr_schedule.c: constant, step and cosine learning-rate schedules with a
 * linear warm-up (formulas in lr_schedule.h). */
#include "lr_schedule.h"
#include "pl_err.h"

#include <math.h>
#include <string.h>

int lr_schedule_check(const lr_schedule *s)
{
    if (!(s->base_lr > 0.0f) || !isfinite(s->base_lr))
        PL_FAIL(PL_ERR_INVAL, "lr: base_lr must be > 0 (got %g)", (double)s->base_lr);
    if (s->warmup_steps < 0)
        PL_FAIL(PL_ERR_INVAL, "lr: warmup_steps must be >= 0 (got %d)", s->warmup_steps);
    if (s->warmup_steps > 0 && !(s->warmup_start_factor >= 0.0f && s->warmup_start_factor <= 1.0f))
        PL_FAIL(PL_ERR_INVAL, "lr: warmup_start_factor must be in [0, 1] (got %g)",
                (double)s->warmup_start_factor);
    switch (s->kind) {
    case LR_CONSTANT: break;
    case LR_STEP:
        if (s->step_size <= 0)
            PL_FAIL(PL_ERR_INVAL, "lr: step_size must be > 0 (got %d)", s->step_size);
        if (!(s->gamma > 0.0f && s->gamma <= 1.0f))
            PL_FAIL(PL_ERR_INVAL, "lr: gamma must be in (0, 1] (got %g)", (double)s->gamma);
        break;
    case LR_COSINE:
        if (s->total_steps <= s->warmup_steps)
            PL_FAIL(PL_ERR_INVAL, "lr: total_steps (%d) must exceed warmup_steps (%d)",
                    s->total_steps, s->warmup_steps);
        if (!(s->min_lr >= 0.0f && s->min_lr <= s->base_lr))
            PL_FAIL(PL_ERR_INVAL, "lr: min_lr must be in [0, base_lr] (got %g)", (double)s->min_lr);
        break;
    default: PL_FAIL(PL_ERR_INVAL, "lr: unknown schedule kind %d", (int)s->kind);
    }
    return PL_OK;
}

float lr_schedule_at(const lr_schedule *s, int step)
{
    if (step < s->warmup_steps) {
        double f = s->warmup_start_factor;
        return (float)(s->base_lr * (f + (1.0 - f) * step / s->warmup_steps));
    }
    int t = step - s->warmup_steps;
    switch (s->kind) {
    case LR_STEP: return (float)(s->base_lr * pow(s->gamma, t / s->step_size));
    case LR_COSINE: {
        int T = s->total_steps - s->warmup_steps;
        if (t > T) t = T;
        const double pi = 3.14159265358979323846;
        return (float)(s->min_lr + (s->base_lr - s->min_lr) * 0.5 * (1.0 + cos(pi * t / T)));
    }
    case LR_CONSTANT:
    default: return s->base_lr;
    }
}

const char *lr_kind_name(lr_kind kind)
{
    switch (kind) {
    case LR_CONSTANT: return "constant";
    case LR_STEP:     return "step";
    case LR_COSINE:   return "cosine";
    default:          return "?";
    }
}

int lr_kind_from_name(const char *name)
{
    if (strcmp(name, "constant") == 0) return LR_CONSTANT;
    if (strcmp(name, "step") == 0) return LR_STEP;
    if (strcmp(name, "cosine") == 0) return LR_COSINE;
    return -1;
}
