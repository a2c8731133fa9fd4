/* bench_isolation.c — what the jailed isolation modes cost against inline,
 * side by side in one run (issue #3). Prints a Markdown table; it never
 * asserts on time.
 *
 *   make bench && build/release/bench/bench_isolation [--quick] [--only MODE] [--busy-poll-us N]
 *                                                     [--idle-us N] [--cap-calls N]
 *
 * Rows per mode:
 *   cold execution   load fresh code, call one method, release: p50/p99,
 *                    back to back; and p50 with 2 ms idle before each (what
 *                    an interactive host sees: workers build a spare runtime
 *                    while idle, as the in-process prewarm thread does)
 *   capability call  one env.CAP.echo() round trip from inside a sandbox,
 *                    host answering at once: p50/p99 of per-run means, 200
 *                    calls a run (--cap-calls: more shows the steady state
 *                    of a long loop; --idle-us: another idle spell)
 *   executions/s     cold executions per second, one loader per CPU (thread)
 *   memory/sandbox   host RSS plus the RSS of every worker process, per
 *                    live started sandbox (200 of them)
 * and, in the same run, the floor the jailed modes stand on: a one-byte
 * round trip between two processes over a SOCK_SEQPACKET pair, both
 * blocking, back to back and after the same idle spell, without corral.
 * Targets from the issue: pool adds <= 30 us p50 to a cold execution and
 * <= 15 us to a capability round trip; process cold <= 1 ms p50.
 *
 * The supervisor's worker pids come from the loader's internals (the one
 * reach past include/corral.h), to add the workers' memory.
 */
#include <corral.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jail/supervisor.h"
#include "loader/loader.h"

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_us(uint64_t *v, size_t n, double p) {
    qsort(v, n, sizeof *v, cmp_u64);
    size_t i = (size_t)(p * (double)(n - 1));
    return (double)v[i] / 1000.0;
}

static size_t rss_of(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static size_t total_rss(corral_loader *l) {
    size_t sum = rss_of(getpid());
    if (l->sup) {
        pid_t pids[256];
        size_t n = jail_supervisor_worker_pids(l->sup, pids, 256);
        for (size_t i = 0; i < n && i < 256; i++) sum += rss_of(pids[i]);
    }
    return sum;
}

struct done {
    int done, ok;
};

static void on_done(const corral_result *r, void *ud) {
    struct done *d = ud;
    d->done = 1;
    d->ok = r->outcome == CORRAL_OUTCOME_OK;
}

static void echo_fn(corral_call *call, void *ud) {
    (void)ud;
    size_t len;
    const char *a = corral_call_args_json(call, &len);
    corral_call_return_json(call, a, len);
}

static long busy_poll_us = -1; /* --busy-poll-us; -1: the library's default */
static long idle_us = 2000;    /* --idle-us: the idle spell before each "idle cold" run */
static long cap_calls = 200;   /* --cap-calls: capability round trips per run */

static corral_loader *new_loader(corral_isolation mode) {
    corral_options o;
    corral_options_default(&o);
    o.isolation = mode;
    if (busy_poll_us >= 0) o.busy_poll_us = (unsigned)busy_poll_us;
    corral_error err;
    corral_loader *l = corral_loader_new(&o, &err);
    if (!l) {
        fprintf(stderr, "bench_isolation: %s: %s\n", err.name, err.message);
        exit(1);
    }
    return l;
}

static const char SRC[] =
    "export default {\n"
    "  ping(x) { return x + 1; },\n"
    "  async echo(n, env) { for (let i = 0; i < n; i++) await env.CAP.echo(i); return n; },\n"
    "};\n";

static corral_worker *load(corral_loader *l) {
    corral_error err;
    corral_capability *cap = corral_capability_new(l, "CAP");
    corral_capability_add_method(cap, "echo", echo_fn, NULL, &err);
    corral_code *c = corral_code_new();
    corral_code_set_compatibility_date(c, "2025-06-01");
    corral_code_set_main_module(c, "main.js");
    corral_code_add_module(c, "main.js", CORRAL_MODULE_INFER, SRC, strlen(SRC));
    corral_code_bind_capability(c, "CAP", cap);
    corral_worker *w = corral_load(l, c, &err);
    corral_code_free(c);
    corral_capability_release(cap);
    if (!w) {
        fprintf(stderr, "bench_isolation: load: %s\n", err.message);
        exit(1);
    }
    return w;
}

static int call(corral_loader *l, corral_worker *w, const char *method, const char *args) {
    struct done d = {0};
    if (corral_invoke(w, NULL, method, args, on_done, &d) != CORRAL_OK) return 0;
    while (!d.done) corral_loader_step(l, 100);
    return d.ok;
}

static uint64_t cold_once(corral_loader *l, int *bad) {
    uint64_t t0 = now_ns();
    corral_worker *w = load(l);
    if (!call(l, w, "ping", "[1]")) (*bad)++;
    corral_worker_release(w);
    /* The release is part of the cost: process mode ends a worker here. */
    corral_loader_step(l, 0);
    return now_ns() - t0;
}

struct rate_arg {
    corral_isolation mode;
    double seconds;
    uint64_t count;
    int bad;
};

static void *rate_thread(void *p) {
    struct rate_arg *a = p;
    corral_loader *l = new_loader(a->mode);
    uint64_t end = now_ns() + (uint64_t)(a->seconds * 1e9);
    while (now_ns() < end) {
        cold_once(l, &a->bad);
        a->count++;
    }
    corral_loader_free(l);
    return NULL;
}

static void bench_mode(const char *name, corral_isolation mode, int iters, double seconds) {
    int bad = 0;
    corral_loader *l = new_loader(mode);
    /* Warm-up: the first worker start is not a cold execution's cost. */
    for (int i = 0; i < 5; i++) cold_once(l, &bad);
    uint64_t *t = calloc((size_t)iters, sizeof *t);
    for (int i = 0; i < iters; i++) t[i] = cold_once(l, &bad);
    double c50 = pct_us(t, (size_t)iters, 0.5), c99 = pct_us(t, (size_t)iters, 0.99);
    int idle_iters = iters / 4 > 10 ? iters / 4 : 10;
    for (int i = 0; i < idle_iters; i++) {
        usleep(idle_us);
        t[i] = cold_once(l, &bad);
    }
    double i50 = pct_us(t, (size_t)idle_iters, 0.5);

    char cap_args[32];
    snprintf(cap_args, sizeof cap_args, "[%ld]", cap_calls);
    int runs = iters / 4 > 10 ? iters / 4 : 10;
    corral_worker *w = load(l);
    call(l, w, "echo", "[10]");
    uint64_t *per = calloc((size_t)runs, sizeof *per);
    for (int i = 0; i < runs; i++) {
        uint64_t t0 = now_ns();
        if (!call(l, w, "echo", cap_args)) bad++;
        per[i] = (now_ns() - t0) / (uint64_t)cap_calls;
    }
    double k50 = pct_us(per, (size_t)runs, 0.5), k99 = pct_us(per, (size_t)runs, 0.99);
    corral_worker_release(w);

    enum { LIVE = 200 };
    corral_worker *live[LIVE];
    size_t before = total_rss(l);
    for (int i = 0; i < LIVE; i++) {
        live[i] = load(l);
        if (!call(l, live[i], "ping", "[1]")) bad++;
    }
    size_t after = total_rss(l);
    for (int i = 0; i < LIVE; i++) corral_worker_release(live[i]);
    corral_loader_free(l);

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1) cpus = 1;
    struct rate_arg args[64];
    pthread_t th[64];
    size_t n = (size_t)(cpus < 64 ? cpus : 64);
    for (size_t i = 0; i < n; i++) {
        args[i] = (struct rate_arg){.mode = mode, .seconds = seconds};
        pthread_create(&th[i], NULL, rate_thread, &args[i]);
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        total += args[i].count;
        bad += args[i].bad;
    }
    printf("| %-7s | %9.1f | %9.1f | %9.1f | %8.1f | %8.1f | %10.0f | %9.1f |%s\n", name, c50, c99,
           i50, k50, k99, (double)total / seconds,
           after > before ? (double)(after - before) / LIVE / 1024.0 : 0.0,
           bad ? " (some calls failed)" : "");
    fflush(stdout);
    free(t);
    free(per);
}

/* One row of the OS baseline: n round trips to a child that echoes, each
 * after `idle` µs of sleep. */
static void os_round_trip(const char *label, long idle, int n) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0) return;
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return;
    }
    if (pid == 0) {
        char b[16];
        close(sv[0]);
        for (;;) {
            ssize_t r = recv(sv[1], b, sizeof b, 0);
            if (r <= 0 || send(sv[1], b, (size_t)r, 0) != r) _exit(0);
        }
    }
    close(sv[1]);
    uint64_t *t = calloc((size_t)n, sizeof *t);
    int ok = t != NULL;
    for (int i = -n / 10; ok && i < n; i++) {
        if (idle) {
            struct timespec ts = {idle / 1000000, (idle % 1000000) * 1000};
            nanosleep(&ts, NULL);
        }
        char b = 'x';
        uint64_t t0 = now_ns();
        ok = send(sv[0], &b, 1, 0) == 1 && recv(sv[0], &b, 1, 0) == 1;
        if (i >= 0) t[i] = now_ns() - t0;
    }
    close(sv[0]);
    waitpid(pid, NULL, 0);
    if (ok) {
        printf("| %s | %.1f | %.1f | %.1f |\n", label, pct_us(t, (size_t)n, 0.10),
               pct_us(t, (size_t)n, 0.50), pct_us(t, (size_t)n, 0.90));
    }
    free(t);
}

int main(int argc, char **argv) {
    int quick = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--busy-poll-us") && i + 1 < argc) busy_poll_us = atol(argv[++i]);
        else if (!strcmp(argv[i], "--idle-us") && i + 1 < argc) idle_us = atol(argv[++i]);
        else if (!strcmp(argv[i], "--cap-calls") && i + 1 < argc) cap_calls = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--quick] [--only inline|pool|tenant|process] [--busy-poll-us N] "
                    "[--idle-us N] [--cap-calls N]\n",
                    argv[0]);
            return 2;
        }
    }
    if (cap_calls < 1 || cap_calls > 1000000 || idle_us < 0 || idle_us > 10000000) {
        fprintf(stderr, "bench_isolation: --cap-calls takes 1..1000000, --idle-us 0..10000000\n");
        return 2;
    }
    int iters = quick ? 50 : 400;
    double seconds = quick ? 0.5 : 2.0;
    static const struct {
        const char *name;
        corral_isolation mode;
    } modes[] = {{"inline", CORRAL_ISOLATION_INLINE},
                 {"pool", CORRAL_ISOLATION_POOL},
                 {"tenant", CORRAL_ISOLATION_TENANT},
                 {"process", CORRAL_ISOLATION_PROCESS}};
    int found = 0;
    printf("| mode    | cold p50 µs | cold p99 µs | idle cold p50 µs | cap p50 µs | cap p99 µs | "
           "executions/s | KiB/sandbox |\n");
    printf("|---------|-----------:|-----------:|-----------:|----------:|----------:|-----------:|"
           "----------:|\n");
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (only && strcmp(only, modes[i].name)) continue;
        found = 1;
        int n = modes[i].mode == CORRAL_ISOLATION_PROCESS ? (quick ? 20 : 100) : iters;
        bench_mode(modes[i].name, modes[i].mode, n, seconds);
    }
    if (!found) {
        fprintf(stderr, "--only: unknown mode %s\n", only);
        return 2;
    }
    printf("\n| the floor, without corral: two processes, one SOCK_SEQPACKET round trip | p10 µs | "
           "p50 µs | p90 µs |\n|---|---:|---:|---:|\n");
    os_round_trip("back to back", 0, quick ? 2000 : 20000);
    char label[80];
    snprintf(label, sizeof label, "after %ld µs idle (as idle cold)", idle_us);
    os_round_trip(label, idle_us, quick ? 200 : 1000);
    return 0;
}
