/* gen_io.c: candidate DAGs in artifacts, as rows of one node table (the
 * layout of gos.graphs' /candidates and gos.search's /chosen,
 * schemas/artifacts.md). */
#include "gen.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <stdio.h>
#include <string.h>

int gen_write_dag_table(h5io_writer *w, const char *group, const gen_dag *dags, int n)
{
    int64_t total = 0;
    for (int c = 0; c < n; c++) total += dags[c].n_nodes;
    const char **ops = pl_xcalloc((size_t)total + 1, sizeof *ops);
    int32_t *inputs = pl_xcalloc((size_t)total * IG_MAX_IN + 1, sizeof *inputs);
    int32_t *attrs = pl_xcalloc((size_t)total * IG_N_ATTR + 1, sizeof *attrs);
    float *fattrs = pl_xcalloc((size_t)total * IG_N_FATTR + 1, sizeof *fattrs);
    int64_t *first = pl_xcalloc((size_t)n + 1, sizeof *first);
    int32_t *cols[3];
    for (int j = 0; j < 3; j++) cols[j] = pl_xcalloc((size_t)n + 1, sizeof(int32_t));
    int64_t row = 0;
    for (int c = 0; c < n; c++) {
        const gen_dag *d = &dags[c];
        first[c] = row;
        cols[0][c] = d->n_nodes, cols[1][c] = d->n_inputs, cols[2][c] = d->output;
        for (int i = 0; i < d->n_nodes; i++, row++) {
            const ig_node *nd = &d->nodes[i];
            ops[row] = ig_opcode_name(nd->op);
            for (int k = 0; k < IG_MAX_IN; k++)
                inputs[row * IG_MAX_IN + k] = k < nd->n_in ? nd->in[k] : -1;
            memcpy(attrs + row * IG_N_ATTR, nd->attr, sizeof nd->attr);
            memcpy(fattrs + row * IG_N_FATTR, nd->fattr, sizeof nd->fattr);
        }
    }
    int64_t di[2] = {total, IG_MAX_IN}, da[2] = {total, IG_N_ATTR}, df[2] = {total, IG_N_FATTR},
            dc[1] = {n};
    char path[256];
    static const char *const col_names[3] = {"n_nodes", "n_inputs", "output"};
#define AT(name) (snprintf(path, sizeof path, "%s/%s", group, name), path)
    int rc = h5io_write_strings(w, AT("opcodes"), ops, total);
    if (rc == PL_OK) rc = h5io_write_i32(w, AT("inputs"), inputs, 2, di);
    if (rc == PL_OK) rc = h5io_write_i32(w, AT("attrs"), attrs, 2, da);
    if (rc == PL_OK) rc = h5io_write_f32(w, AT("fattrs"), fattrs, 2, df);
    if (rc == PL_OK) rc = h5io_write_i64(w, AT("first"), first, 1, dc);
    for (int j = 0; j < 3 && rc == PL_OK; j++) rc = h5io_write_i32(w, AT(col_names[j]), cols[j], 1, dc);
#undef AT
    void *all[] = {ops, inputs, attrs, fattrs, first, cols[0], cols[1], cols[2]};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pl_free(all[i]);
    return rc;
}
