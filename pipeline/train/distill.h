/* distill.h: knowledge distillation (Hinton et al. 2015) from a teacher
 * graph, shared by the trainer (finetune) and the search's recovery steps:
 * the teacher, a private copy in evaluation mode, runs on the student's
 * input batch, and the student's gradients are those of (1 - w) x the
 * labels' cross-entropy + w x T^2 x KL(teacher_T || student_T) (nn_loss.h). */
#ifndef DISTILL_H
#define DISTILL_H

#include <stdint.h>

struct ig_graph;

typedef struct {
    struct ig_graph *teacher;   /* the copy, planned for batch             */
    int    input, logits;       /* its nodes                                */
    int    batch, classes;
    float  weight, temperature;
    float *dlogits;             /* (batch, classes) the gradient at the student's logits */
} distill;

/* Copies teacher (finalized, with weights) for batches of batch; checks that
 * it takes the student's input shape (student_input's) to as many classes
 * as student_logits. what names the caller in messages. Returns PL_OK or a
 * negative status (PL_ERR_SHAPE on a mismatch). */
int distill_init(distill *d, const struct ig_graph *teacher, int teacher_input,
                 int teacher_logits, const struct ig_graph *student, int student_input,
                 int student_logits, int batch, double weight, double temperature,
                 const char *what);

/* After ig_forward(student) on a batch with labels (batch): runs the
 * teacher on the same input, seeds the distillation gradient at the
 * student's logits and runs its backward (accumulating into its gradients:
 * zero them first). Returns the loss. */
float distill_backward(distill *d, struct ig_graph *student, int student_input,
                       int student_logits, const int32_t *labels);

void distill_free(distill *d);

#endif
