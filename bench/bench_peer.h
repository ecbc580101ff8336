/* bench_peer.h: another framework timing the same models in a co-process
 * (header-only, for bench_models.c): scripts/bench-models-torch.py
 * (PyTorch) and scripts/bench-models-ort.js (ONNX Runtime) run with
 * --serve on pipes and answer the line protocol both document:
 *   load <name> <model> <mode> <size> <batch> <classes>  -> ok <s> | error <msg>
 *   time <threads> <warmup> <lead s> <calls>
 *       -> times <s1,s2,...> <CPU seconds> <BLAS threads> | error <msg>
 * after one "# ..." info line at start. A peer that stops answering is
 * stopped, and the rows after it show gos figures only. */
#ifndef BENCH_PEER_H
#define BENCH_PEER_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    const char *name; /* "torch", "ort": the prefix of its messages */
    pid_t pid;
    FILE *to;         /* requests to the script */
    FILE *from;       /* its answers            */
    int   loaded;     /* the model of the current rows is built there */
} bench_peer;

static inline void peer_stop(bench_peer *p)
{
    if (p->to) fclose(p->to);
    if (p->from) fclose(p->from);
    if (p->pid > 0) waitpid(p->pid, NULL, 0);
    const char *name = p->name;
    memset(p, 0, sizeof *p);
    p->name = name;
}

/* Starts argv (argv[0] looked up on PATH) on pipes and prints its info line
 * as "<name>: ...". Returns 1 when it runs, 0 (with a printed reason) when
 * not; p->name must be set. */
static inline int peer_start(bench_peer *p, const char *const argv[])
{
    const char *name = p->name;
    memset(p, 0, sizeof *p);
    p->name = name;
    int to_child[2] = {-1, -1}, from_child[2] = {-1, -1};
    fflush(stdout);
    /* close-on-exec: a peer started later must not inherit this one's pipe
     * ends, or this one never sees its input end (it waits forever) */
    pid_t pid = pipe2(to_child, O_CLOEXEC) == 0 && pipe2(from_child, O_CLOEXEC) == 0 ? fork() : -1;
    if (pid == 0) {
        dup2(to_child[0], STDIN_FILENO); /* the copies do not close on exec */
        dup2(from_child[1], STDOUT_FILENO);
        execvp(argv[0], (char *const *)argv); /* execvp does not change them */
        _exit(127);
    }
    close(to_child[0]); /* close(-1) after a failed pipe() is harmless */
    close(from_child[1]);
    if (pid < 0) {
        close(to_child[1]);
        close(from_child[0]);
        printf("%s: cannot start %s, no %s figures\n", name, argv[0], name);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN); /* a dead script shows as a failed read */
    p->pid = pid;
    p->to = fdopen(to_child[1], "w");
    p->from = fdopen(from_child[0], "r");
    if (!p->to) close(to_child[1]); /* else the script would wait for input forever */
    if (!p->from) close(from_child[0]);
    char line[512];
    if (!p->to || !p->from || !fgets(line, sizeof line, p->from) || line[0] != '#') {
        printf("%s: %s --serve did not start, no %s figures\n", name, argv[1] ? argv[1] : argv[0],
               name);
        peer_stop(p);
        return 0;
    }
    printf("%s:%s", name, line + 1);
    return 1;
}

/* Whether a Python peer can start: script readable and Debian's
 * /usr/bin/python3 importing `modules` (e.g. "torch, torchvision"); prints
 * the reason as "<name>: ..." when not. */
static inline int peer_python_ready(const char *name, const char *script, const char *modules)
{
    if (access(script, R_OK) != 0) {
        printf("%s: %s not found, no %s figures\n", name, script, name);
        return 0;
    }
    char command[256];
    snprintf(command, sizeof command, "/usr/bin/python3 -c 'import %s' >/dev/null 2>&1", modules);
    if (system(command) != 0) {
        printf("%s: /usr/bin/python3 cannot import %s, no %s figures\n", name, modules, name);
        return 0;
    }
    return 1;
}

/* Sends one request line and reads the answer into line; 0 when the script
 * is gone (then stopped, with a message). */
static inline int peer_request(bench_peer *p, const char *request, char *line, int size)
{
    if (!p->to) return 0;
    fputs(request, p->to);
    if (fflush(p->to) != 0 || !fgets(line, size, p->from)) {
        printf("%s: the script stopped answering, no further comparison\n", p->name);
        peer_stop(p);
        return 0;
    }
    line[strcspn(line, "\n")] = '\0';
    return 1;
}

/* Has the script build a model (mode "train" or "infer"); row names it in
 * the script's messages. */
static inline void peer_load(bench_peer *p, const char *row, const char *model, int training,
                             int size, int batch, int classes)
{
    char request[256], line[512];
    p->loaded = 0;
    snprintf(request, sizeof request, "load\t%.79s\t%.63s\t%s\t%d\t%d\t%d\n", row, model,
             training ? "train" : "infer", size, batch, classes);
    if (!peer_request(p, request, line, (int)sizeof line)) return;
    if (strncmp(line, "ok\t", 3) == 0) p->loaded = 1;
    else printf("%s: %s: %s\n", p->name, model, line);
}

/* Has the script run `warmup` untimed calls, its lead of `lead` seconds and
 * `calls` timed calls at `threads`; appends the seconds to samples (at most
 * capacity in all). Returns the CPU seconds the script reports, or -1 when
 * it failed; *blas_threads receives the BLAS threads it reports. */
static inline double peer_time(bench_peer *p, int threads, int warmup, double lead, int calls,
                               double *samples, int *count, int capacity, int *blas_threads)
{
    char request[96], line[8192];
    if (!p->to || !p->loaded) return -1;
    snprintf(request, sizeof request, "time\t%d\t%d\t%g\t%d\n", threads, warmup, lead, calls);
    if (!peer_request(p, request, line, (int)sizeof line)) return -1;
    if (strncmp(line, "times\t", 6) != 0) {
        printf("%s: %s\n", p->name, line);
        p->loaded = 0;
        return -1;
    }
    char *s = line + 6, *end;
    while (*count < capacity) {
        double v = strtod(s, &end);
        if (end == s) break;
        samples[(*count)++] = v;
        s = end;
        if (*s != ',') break;
        s++;
    }
    char *tab = strchr(s, '\t');
    if (!tab) return 0.0;
    double cpu = strtod(tab + 1, &end);
    if (*end == '\t') *blas_threads = atoi(end + 1);
    return cpu;
}

#endif
