/* distill.h: knowledge distillation (Hinton et al. 2015) from a teacher
 * graph, shared by the trainer (finetune) and the search's recovery steps:
 * the teacher, a private copy in evaluation mode, runs on the student's
 * input batch, and the student's gradients are those of (1 - w) x the
 * labels' cross-entropy + w x T^2 x KL(teacher_T || student_T) (nn_loss.h).
 * With a table of the teacher's logits on every training image (the
 * baseline's /data/train_logits, written when the data is not augmented),
 * a batch's rows are read from it instead of running the teacher, once the
 * first batch has shown that they are its outputs on these inputs. */
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
    const float *table;         /* (table_rows, classes) or NULL; borrowed  */
    int    table_rows;
    int    table_checked;       /* 1: the first batch matched the teacher   */
    float *rows_logits;         /* (batch, classes) a batch's rows of table */
    const char *what;           /* the caller, for messages                 */
} distill;

/* Copies teacher (finalized, with weights) for batches of batch; checks that
 * it takes the student's input shape (student_input's) to as many classes
 * as student_logits. what names the caller in messages. Returns PL_OK or a
 * negative status (PL_ERR_SHAPE on a mismatch). */
int distill_init(distill *d, const struct ig_graph *teacher, int teacher_input,
                 int teacher_logits, const struct ig_graph *student, int student_input,
                 int student_logits, int batch, double weight, double temperature,
                 const char *what);

/* Reads the teacher's logits from table (rows, classes; borrowed: it must
 * outlive d) for batches whose training-image indices are given. The first
 * such batch runs the teacher too and compares: when any logit differs by
 * more than DISTILL_TABLE_TOLERANCE of the batch's largest, the table was
 * made from other data (another split, normalization or input size), and d
 * says so on stdout and runs the teacher on every batch instead. */
#define DISTILL_TABLE_TOLERANCE 1e-3
/* Returns 1 when attached; 0 when the table's row count is not the number
 * of training images n (another split): d says so on stdout and runs the
 * teacher. */
int distill_use_table(distill *d, const float *table, int64_t rows, int n);

/* After ig_forward(student) on a batch with labels (batch) and, for the
 * table, the training-image index of each example (rows; NULL: run the
 * teacher): takes the teacher's logits on the same input, seeds the
 * distillation gradient at the student's logits and runs its backward
 * (accumulating into its gradients: zero them first). Returns the loss. */
float distill_backward(distill *d, struct ig_graph *student, int student_input,
                       int student_logits, const int32_t *labels, const int32_t *rows);

void distill_free(distill *d);

#endif
