/* distill.c: knowledge distillation from a teacher graph (see distill.h). */
#include "distill.h"
#include "ig.h"
#include "nn_loss.h"
#include "pl_err.h"
#include "pl_mem.h"

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
    d->dlogits = pl_xmalloc((size_t)batch * classes * sizeof(float));
    int rc = ig_graph_plan_inference(d->teacher, batch);
    if (rc < 0) distill_free(d);
    return rc;
}

float distill_backward(distill *d, ig_graph *student, int student_input, int student_logits,
                       const int32_t *labels)
{
    const ig_shape *in = &student->nodes[student_input].shape;
    memcpy(ig_value(d->teacher, d->input), ig_value(student, student_input),
           (size_t)d->batch * in->c * in->h * in->w * sizeof(float));
    ig_forward(d->teacher, NULL);
    float loss = nn_distill_forward_backward(d->dlogits, ig_value(student, student_logits),
                                             ig_value(d->teacher, d->logits), labels, d->batch,
                                             d->classes, d->weight, d->temperature);
    ig_seed_gradient(student, student_logits, d->dlogits);
    ig_backward(student, student_logits);
    return loss;
}

void distill_free(distill *d)
{
    ig_graph_free(d->teacher);
    pl_free(d->dlogits);
    memset(d, 0, sizeof *d);
}
