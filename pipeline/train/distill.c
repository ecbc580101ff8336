/* distill.c: knowledge distillation from a teacher graph (see distill.h). */
#include "distill.h"
#include "ig.h"
#include "nn_loss.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int distill_init(distill *d, const ig_graph *teacher, int teacher_input, int teacher_logits,
                 const ig_graph *student, int student_input, int student_logits, int batch,
                 double weight, double temperature, const char *what)
{
    memset(d, 0, sizeof *d);
    PL_ASSERT(weight > 0 && weight <= 1 && temperature > 0 && batch >= 1);
    const ig_shape *tin = &teacher->nodes[teacher_input].shape;
    const ig_shape *sin = &student->nodes[student_input].shape;
    int classes = student->nodes[student_logits].shape.c;
    if (tin->c != sin->c || tin->h != sin->h || tin->w != sin->w ||
        teacher->nodes[teacher_logits].shape.c != classes)
        PL_FAIL(PL_ERR_SHAPE, "%s: the teacher takes (%d,%d,%d) inputs to %d classes, the "
                "student (%d,%d,%d) to %d", what, tin->c, tin->h, tin->w,
                teacher->nodes[teacher_logits].shape.c, sin->c, sin->h, sin->w, classes);
    if (classes > NN_DISTILL_MAX_K)
        PL_FAIL(PL_ERR_SHAPE, "%s: distillation over %d classes (at most %d)", what, classes,
                NN_DISTILL_MAX_K);
    d->teacher = ig_graph_copy(teacher, -1, NULL);
    if (!d->teacher) return PL_ERR_INVAL; /* the message is recorded */
    d->input = teacher_input;
    d->logits = teacher_logits;
    d->batch = batch;
    d->classes = classes;
    d->weight = (float)weight;
    d->temperature = (float)temperature;
    d->what = what;
    d->dlogits = pl_xmalloc((size_t)batch * classes * sizeof(float));
    d->rows_logits = pl_xmalloc((size_t)batch * classes * sizeof(float));
    int rc = ig_graph_plan_inference(d->teacher, batch);
    if (rc < 0) distill_free(d);
    return rc;
}

int distill_use_table(distill *d, const float *table, int64_t rows, int n)
{
    if (rows != n) {
        printf("%s: the baseline's stored logits cover %lld training images, not these %d: "
               "it runs on every batch instead\n", d->what, (long long)rows, n);
        fflush(stdout);
        return 0;
    }
    d->table = table;
    d->table_rows = n;
    d->table_checked = 0;
    return 1;
}

/* The teacher's logits for the current batch of the student. */
static const float *run_teacher(distill *d, const ig_graph *student, int student_input)
{
    const ig_shape *in = &student->nodes[student_input].shape;
    memcpy(ig_value(d->teacher, d->input), ig_value(student, student_input),
           (size_t)d->batch * in->c * in->h * in->w * sizeof(float));
    ig_forward(d->teacher, NULL);
    return ig_value(d->teacher, d->logits);
}

/* The teacher's logits for the batch from the table's rows, or NULL when
 * there is nothing to read (no table, or no rows). The first batch runs the
 * teacher to check the rows; when they differ, the table is dropped and
 * the teacher's own logits are returned. */
static const float *table_logits(distill *d, const ig_graph *student, int student_input,
                                 const int32_t *rows)
{
    if (!d->table || !rows) return NULL;
    const size_t K = (size_t)d->classes;
    for (int i = 0; i < d->batch; i++) {
        PL_ASSERT(rows[i] >= 0 && rows[i] < d->table_rows);
        memcpy(d->rows_logits + i * K, d->table + (size_t)rows[i] * K, K * sizeof(float));
    }
    if (d->table_checked) return d->rows_logits;
    const float *ran = run_teacher(d, student, student_input);
    double scale = 0, diff = 0;
    for (size_t j = 0; j < (size_t)d->batch * K; j++) {
        scale = fmax(scale, fabs(ran[j]));
        diff = fmax(diff, fabs((double)ran[j] - d->rows_logits[j]));
    }
    if (diff <= DISTILL_TABLE_TOLERANCE * fmax(scale, 1.0)) {
        d->table_checked = 1;
        return d->rows_logits;
    }
    printf("%s: the baseline's stored training logits are not its outputs on these images "
           "(max |difference| %.3g against logits up to %.3g): it runs on every batch "
           "instead\n", d->what, diff, scale);
    fflush(stdout);
    d->table = NULL;
    return ran;
}

float distill_backward(distill *d, ig_graph *student, int student_input, int student_logits,
                       const int32_t *labels, const int32_t *rows)
{
    const float *teacher_logits = table_logits(d, student, student_input, rows);
    if (!teacher_logits) teacher_logits = run_teacher(d, student, student_input);
    float loss = nn_distill_forward_backward(d->dlogits, ig_value(student, student_logits),
                                             teacher_logits, labels, d->batch, d->classes,
                                             d->weight, d->temperature);
    ig_seed_gradient(student, student_logits, d->dlogits);
    ig_backward(student, student_logits);
    return loss;
}

void distill_free(distill *d)
{
    ig_graph_free(d->teacher);
    pl_free(d->dlogits);
    pl_free(d->rows_logits);
    memset(d, 0, sizeof *d);
}
