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

int gen_read_dag_table(h5io_reader *h, const char *file, const char *group, gen_dag **out,
                       int *count)
{
    *out = NULL;
    *count = 0;
    char path[256];
#define AT(name) (snprintf(path, sizeof path, "%s/%s", group, name), path)
    char **ops = NULL;
    int64_t n_rows = 0, dims[H5IO_MAX_RANK];
    int rank;
    int32_t *inputs = NULL, *attrs = NULL, *cols[3] = {NULL, NULL, NULL};
    float *fattrs = NULL;
    int64_t *first = NULL;
    int rc = h5io_read_strings(h, AT("opcodes"), &ops, &n_rows);
    if (rc == PL_OK) rc = h5io_read_i32_alloc(h, AT("inputs"), &inputs, &rank, dims);
    if (rc == PL_OK) rc = h5io_read_i32_alloc(h, AT("attrs"), &attrs, &rank, dims);
    if (rc == PL_OK) rc = h5io_read_f32_alloc(h, AT("fattrs"), &fattrs, &rank, dims);
    if (rc == PL_OK) rc = h5io_read_i64_alloc(h, AT("first"), &first, &rank, dims);
    int64_t n = rc == PL_OK ? dims[0] : 0;
    static const char *const col_names[3] = {"n_nodes", "n_inputs", "output"};
    for (int j = 0; j < 3 && rc == PL_OK; j++) rc = h5io_read_i32_alloc(h, AT(col_names[j]), &cols[j], &rank, dims);
#undef AT
    gen_dag *dags = rc == PL_OK ? pl_xcalloc((size_t)n + 1, sizeof *dags) : NULL;
    for (int64_t c = 0; c < n && rc == PL_OK; c++) {
        gen_dag *d = &dags[c];
        int nn = cols[0][c];
        if (nn == 0) { /* an empty DAG (a search step still under way) */
            d->output = -1;
            continue;
        }
        if (nn < 1 || nn > GEN_MAX_NODES || first[c] < 0 || first[c] + nn > n_rows ||
            cols[1][c] < 1 || cols[1][c] > nn || cols[2][c] < 0 || cols[2][c] >= nn) {
            rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__, "%s: %s: DAG %lld is inconsistent",
                          file, group, (long long)c);
            break;
        }
        d->n_nodes = nn;
        d->n_inputs = cols[1][c];
        d->output = cols[2][c];
        for (int i = 0; i < nn && rc == PL_OK; i++) {
            int64_t row = first[c] + i;
            ig_node *nd = &d->nodes[i];
            nd->op = ig_opcode_from_name(ops[row]);
            nd->operator_id = -1;
            if (nd->op < 0) {
                rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__, "%s: %s/opcodes[%lld]: unknown "
                              "instruction '%s'", file, group, (long long)row, ops[row]);
                break;
            }
            for (int k = 0; k < IG_MAX_IN; k++) {
                int32_t in = inputs[row * IG_MAX_IN + k];
                if (in < 0) break;
                if (in >= i) {
                    rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__, "%s: %s/inputs[%lld]: input "
                                  "%d is not an earlier node", file, group, (long long)row, in);
                    break;
                }
                nd->in[nd->n_in++] = in;
            }
            memcpy(nd->attr, attrs + row * IG_N_ATTR, sizeof nd->attr);
            memcpy(nd->fattr, fattrs + row * IG_N_FATTR, sizeof nd->fattr);
        }
    }
    h5io_free_strings(ops, n_rows);
    void *all[] = {inputs, attrs, fattrs, first, cols[0], cols[1], cols[2]};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pl_free(all[i]);
    if (rc < 0) {
        pl_free(dags);
        return rc;
    }
    *out = dags;
    *count = (int)n;
    return PL_OK;
}
