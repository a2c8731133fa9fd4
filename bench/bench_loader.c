/* bench_loader.c — end-to-end benchmarks of the Worker Loader through the
 * public API only (include/corral.h). Prints a Markdown table; it never
 * asserts on time. See docs/benchmarks.md.
 *
 *   make bench && build/release/bench/bench_loader [--quick] [--big]
 *
 * --quick   fewer iterations (a smoke run, a few seconds)
 * --big     also run capacity at 50,000 live sandboxes, the target (~8 GB RSS)
 */
#include <corral.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Utilities                                                                */
/* ------------------------------------------------------------------------ */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Resident set size in bytes, from /proc/self/statm. */
static size_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* A "Key:   123 kB" line of a /proc file, in bytes (0 if absent). */
static size_t proc_kb(const char *path, const char *key) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[256];
    size_t klen = strlen(key), v = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = (size_t)strtoull(line + klen + 1, NULL, 10) * 1024;
            break;
        }
    }
    fclose(f);
    return v;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double pct_us(const uint64_t *sorted, size_t n, double p) {
    if (!n) return 0;
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return (double)sorted[k - 1] / 1000.0;
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_loader: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* Problems found while measuring (wrong results, leaks). Printed after the
 * table; they never stop the run. */
static char g_problems[8192];
static void problem(const char *fmt, ...) {
    size_t used = strlen(g_problems);
    if (used + 2 >= sizeof g_problems) return;
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(g_problems + used, sizeof g_problems - used, "- ");
    if (n > 0) used += (size_t)n;
    vsnprintf(g_problems + used, sizeof g_problems - used, fmt, ap);
    va_end(ap);
    used = strlen(g_problems);
    if (used + 1 < sizeof g_problems) strcat(g_problems, "\n");
}

/* Table rows are collected and printed at the end, after the header. */
#define MAX_ROWS 32
static struct row {
    char what[160], p50[48], p99[48], target[48], note[1600];
} g_rows[MAX_ROWS];
static size_t g_nrows;

static void row(const char *what, const char *p50, const char *p99, const char *target,
                const char *note_fmt, ...) {
    if (g_nrows == MAX_ROWS) return;
    struct row *r = &g_rows[g_nrows++];
    snprintf(r->what, sizeof r->what, "%s", what);
    snprintf(r->p50, sizeof r->p50, "%s", p50);
    snprintf(r->p99, sizeof r->p99, "%s", p99);
    snprintf(r->target, sizeof r->target, "%s", target);
    va_list ap;
    va_start(ap, note_fmt);
    vsnprintf(r->note, sizeof r->note, note_fmt, ap);
    va_end(ap);
}

static char *fmt(char *buf, size_t n, const char *f, double v) {
    snprintf(buf, n, f, v);
    return buf;
}

/* Runs fn(arg) in a forked child and copies the rows and problems it adds
 * back. Memory is measured this way: in one process, memory that glibc keeps
 * after an earlier test freed its sandboxes would be reused by the next test
 * and hide its growth. The children are forked before any sandbox exists. */
static void run_isolated(void (*fn)(void *), void *arg, void *out, size_t out_len) {
    int fd[2];
    if (pipe(fd) < 0) die("pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fd[0]);
        size_t before = g_nrows;
        fn(arg);
        size_t added = g_nrows - before;
        if (write(fd[1], &added, sizeof added) < 0 ||
            write(fd[1], &g_rows[before], added * sizeof g_rows[0]) < 0 ||
            write(fd[1], g_problems, sizeof g_problems) < 0 ||
            (out_len && write(fd[1], out, out_len) < 0))
            _exit(2);
        _exit(0);
    }
    close(fd[1]);
    FILE *f = fdopen(fd[0], "r");
    size_t added = 0;
    static char probs[sizeof g_problems];
    int ok = fread(&added, sizeof added, 1, f) == 1 && g_nrows + added <= MAX_ROWS &&
             fread(&g_rows[g_nrows], sizeof g_rows[0], added, f) == added &&
             fread(probs, sizeof probs, 1, f) == 1 && (!out_len || fread(out, out_len, 1, f) == 1);
    fclose(f);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!ok || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        problem("an isolated benchmark child failed (wait status %d)%s", st,
                WIFSIGNALED(st) ? " — killed by a signal (crash?)" : "");
        return;
    }
    g_nrows += added;
    /* The child's problem list started as a copy of ours: keep its tail. */
    size_t have = strlen(g_problems);
    if (strlen(probs) > have)
        strncat(g_problems, probs + have, sizeof g_problems - have - 1);
}

/* ------------------------------------------------------------------------ */
/* Workers and calls                                                        */
/* ------------------------------------------------------------------------ */

static const char PING_SRC[] = "export default { ping(x) { return x + 1 } }\n";

static const char ECHO_SRC[] =
    "export default {\n"
    "  async run(n, env) {\n"
    "    let s = 0;\n"
    "    for (let i = 0; i < n; i++) s += await env.CAP.echo(i);\n"
    "    return s;\n"
    "  }\n"
    "}\n";

static const char HOLD_SRC[] =
    "export default {\n"
    "  async hold(env) { return (await env.HOLD.wait()) + 1 }\n"
    "}\n";

static corral_code *make_code(const char *src, const char *cap_name, corral_capability *cap) {
    corral_code *c = corral_code_new();
    if (!c) die("corral_code_new failed");
    if (corral_code_set_compatibility_date(c, "2025-01-01") < 0 ||
        corral_code_set_main_module(c, "main.js") < 0 ||
        corral_code_add_module(c, "main.js", CORRAL_MODULE_JS, src, strlen(src)) < 0)
        die("building WorkerCode failed");
    if (cap && corral_code_bind_capability(c, cap_name, cap) < 0)
        die("binding capability %s failed", cap_name);
    return c;
}

/* The outcome of one invocation, copied out of the callback. */
struct done {
    int called;
    corral_outcome outcome;
    char value[64];
    char err_name[64];
    char err_msg[512];
};

static void on_done(const corral_result *r, void *ud) {
    struct done *d = ud;
    d->called++;
    d->outcome = r->outcome;
    snprintf(d->value, sizeof d->value, "%s", r->value_json ? r->value_json : "undefined");
    snprintf(d->err_name, sizeof d->err_name, "%s", r->error_name ? r->error_name : "");
    snprintf(d->err_msg, sizeof d->err_msg, "%s", r->error_message ? r->error_message : "");
}

/* Invokes `method` and drives the loader until `done` fires. */
static void invoke_sync(corral_loader *l, corral_worker *w, const char *method, const char *args,
                        struct done *d) {
    memset(d, 0, sizeof *d);
    int rc = corral_invoke(w, NULL, method, args, on_done, d);
    if (rc < 0) die("corral_invoke(%s) returned %d", method, rc);
    while (!d->called) {
        int p = corral_loader_step(l, -1);
        if (p < 0) die("corral_loader_step returned %d", p);
        if (p == 0 && !d->called) die("loader idle but %s never completed", method);
    }
}

static int check_done(const struct done *d, const char *expect, const char *what) {
    if (d->called != 1 || d->outcome != CORRAL_OUTCOME_OK || strcmp(d->value, expect) != 0) {
        problem("%s: expected ok %s, got called=%d outcome=%s value=%s error=%s: %s", what, expect,
                d->called, corral_outcome_name(d->outcome), d->value, d->err_name, d->err_msg);
        return -1;
    }
    return 0;
}

/* Runs ready work without blocking. corral_loader_run() is not used: after
 * an invocation ends, its wall-time timer stays armed (and counted as
 * pending) for limits.wall_ms, so run() would block ~60 s per call — see
 * docs/benchmarks.md, "Problems found". */
static void drain(corral_loader *l) {
    for (int i = 0; i < 4; i++) corral_loader_step(l, 0);
}

/* Steps until ds[0..n) have all completed, or ~10 s pass. */
static void drive_until_done(corral_loader *l, const struct done *ds, size_t n) {
    uint64_t limit = now_ns() + 10000000000ull;
    size_t k = 0;
    while (now_ns() < limit) {
        while (k < n && ds[k].called) k++;
        if (k == n) return;
        corral_loader_step(l, 10);
    }
}

static corral_loader *new_loader_prewarming(size_t max_sandboxes, int prewarm) {
    corral_options o;
    corral_options_default(&o);
    if (prewarm >= 0) o.prewarm_sandboxes = (unsigned)prewarm;
    o.limits.calls = 1000000; /* item 3 makes 10,000 capability calls in one invocation */
    /* The sandbox core's own figures (issue #2); what the jailed modes add
     * is bench_isolation's table. */
    o.isolation = CORRAL_ISOLATION_INLINE;
    if (max_sandboxes) o.max_sandboxes = max_sandboxes;
    corral_error e;
    memset(&e, 0, sizeof e);
    corral_loader *l = corral_loader_new(&o, &e);
    if (!l) die("corral_loader_new: %s: %s", e.name, e.message);
    return l;
}

static corral_loader *new_loader(size_t max_sandboxes) { return new_loader_prewarming(max_sandboxes, -1); }

/* ------------------------------------------------------------------------ */
/* 1 + 5: cold load + first invoke                                          */
/* ------------------------------------------------------------------------ */

static uint64_t cold_once(corral_loader *l, const corral_code *code, int *bad) {
    struct done d;
    corral_error e;
    uint64_t t0 = now_ns();
    corral_worker *w = corral_load(l, code, &e);
    if (!w) die("corral_load: %s: %s", e.name, e.message);
    memset(&d, 0, sizeof d);
    int rc = corral_invoke(w, NULL, "ping", "[41]", on_done, &d);
    if (rc < 0) die("corral_invoke(ping) returned %d", rc);
    while (!d.called && corral_loader_step(l, -1) >= 0) {
    }
    corral_worker_release(w);
    uint64_t t = now_ns() - t0;
    if (d.called != 1 || d.outcome != CORRAL_OUTCOME_OK || strcmp(d.value, "42") != 0) {
        if (!*bad)
            problem("cold ping: expected ok 42, got called=%d outcome=%s value=%s error=%s: %s",
                    d.called, corral_outcome_name(d.outcome), d.value, d.err_name, d.err_msg);
        (*bad)++;
    }
    return t;
}

/* n cold executions, gap_ns apart (0: back to back); their times, sorted. */
static uint64_t *cold_loop(corral_loader *l, const corral_code *code, int n, long gap_ns, int *bad) {
    uint64_t *t = malloc(sizeof *t * (size_t)n);
    if (!t) die("out of memory");
    for (int i = 0; i < n; i++) {
        if (gap_ns) {
            struct timespec gap = {0, gap_ns};
            nanosleep(&gap, NULL);
        }
        t[i] = cold_once(l, code, bad);
    }
    qsort(t, (size_t)n, sizeof *t, cmp_u64);
    return t;
}

static void bench_cold(int iters, double sustained_s) {
    corral_loader *l = new_loader(0);
    corral_code *code = make_code(PING_SRC, NULL, NULL);
    int bad = 0;
    for (int i = 0; i < 100; i++) cold_once(l, code, &bad); /* warm-up */

    size_t rss0 = rss_bytes();
    uint64_t *t = malloc(sizeof *t * (size_t)iters);
    if (!t) die("out of memory");
    uint64_t all0 = now_ns();
    for (int i = 0; i < iters; i++) t[i] = cold_once(l, code, &bad);
    uint64_t all = now_ns() - all0;
    size_t rss1 = rss_bytes();
    qsort(t, (size_t)iters, sizeof *t, cmp_u64);

    char a[48], b[48];
    row("1. cold `corral_load` + first `corral_invoke` (ping), released, back to back", fmt(a, sizeof a, "%.1f µs", pct_us(t, (size_t)iters, 50)),
        fmt(b, sizeof b, "%.1f µs", pct_us(t, (size_t)iters, 99)), "≤ 150 µs p50",
        "%d iterations after 100 warm-up; mean %.1f µs, max %.1f µs; RSS drift over the loop %+.0f KB%s",
        iters, (double)all / iters / 1000.0, (double)t[iters - 1] / 1000.0,
        ((double)rss1 - (double)rss0) / 1024.0, bad ? " — WRONG RESULTS, see problems" : "");

    /* 1b: the same with requests 200 µs apart, as a server sees them: the
     * prewarm thread has time to keep fresh sandboxes ready. */
    int spaced = iters / 2;
    uint64_t *ts = cold_loop(l, code, spaced, 200000, &bad);
    row("1b. cold load + first invoke, requests 200 µs apart (prewarmed sandboxes)",
        fmt(a, sizeof a, "%.1f µs", pct_us(ts, (size_t)spaced, 50)),
        fmt(b, sizeof b, "%.1f µs", pct_us(ts, (size_t)spaced, 99)), "≤ 150 µs p50",
        "%d iterations; corral_options.prewarm_sandboxes = 4 (the default): fresh sandboxes "
        "built and used ones freed on a helper thread%s",
        spaced, bad ? " — WRONG RESULTS, see problems" : "");
    free(ts);

    /* 1c: every sandbox built on the caller's thread, none ahead of time:
     * what a cold load costs when nothing was prepared. */
    {
        corral_loader *l0 = new_loader_prewarming(0, 0);
        for (int i = 0; i < 50; i++) cold_once(l0, code, &bad);
        int n0 = iters / 2;
        uint64_t *t0s = cold_loop(l0, code, n0, 0, &bad);
        row("1c. cold load + first invoke, no prewarming (every sandbox built and freed inline)",
            fmt(a, sizeof a, "%.1f µs", pct_us(t0s, (size_t)n0, 50)),
            fmt(b, sizeof b, "%.1f µs", pct_us(t0s, (size_t)n0, 99)), "—",
            "%d iterations; corral_options.prewarm_sandboxes = 0: a fresh QuickJS runtime and "
            "context with corral's globals per load, on the calling thread%s",
            n0, bad ? " — WRONG RESULTS, see problems" : "");
        free(t0s);
        corral_loader_free(l0);
    }

    int pending = corral_loader_step(l, 0);
    if (pending > 0)
        problem("corral_loader_step() reports %d pending operations after %d invocations that "
                "all completed (nothing is outstanding): each finished invocation's wall-time "
                "timer stays armed for limits.wall_ms (60 s), so corral_loader_run() blocks "
                "~60 s after any call, and every step walks all stale timers",
                pending, iters + 100);
    corral_stats st;
    corral_loader_stats(l, &st);
    if (st.live_sandboxes != 0)
        problem("cold loop: %zu sandboxes still live after every worker was released and the "
                "loader ran dry",
                st.live_sandboxes);

    /* 5: sustained. */
    uint64_t count = 0, s0 = now_ns(), span = (uint64_t)(sustained_s * 1e9);
    uint64_t el;
    size_t rss2 = rss_bytes();
    do {
        cold_once(l, code, &bad);
        count++;
    } while ((el = now_ns() - s0) < span);
    size_t rss3 = rss_bytes();
    char c[48];
    row("5. sustained cold executions (load + invoke + release), one thread",
        fmt(c, sizeof c, "%.0f /s", (double)count / ((double)el / 1e9)), "—", "—",
        "%llu executions in %.2f s on one core; RSS drift %+.0f KB",
        (unsigned long long)count, (double)el / 1e9, ((double)rss3 - (double)rss2) / 1024.0);

    corral_loader_stats(l, &st);
    fprintf(stderr, "cold: created=%llu invocations=%llu live=%zu\n",
            (unsigned long long)st.sandboxes_created, (unsigned long long)st.invocations,
            st.live_sandboxes);
    free(t);
    corral_code_free(code);
    corral_loader_free(l);
}

/* ------------------------------------------------------------------------ */
/* 2: memory per live idle sandbox                                          */
/* ------------------------------------------------------------------------ */

static void bench_idle_memory(int n) {
    corral_loader *l = new_loader(0);
    corral_code *code = make_code(PING_SRC, NULL, NULL);
    corral_worker **ws = calloc((size_t)n, sizeof *ws);
    if (!ws) die("out of memory");
    /* Warm up allocator and runtime so the baseline includes one-time costs. */
    int bad = 0;
    for (int i = 0; i < 20; i++) cold_once(l, code, &bad);

    size_t rss0 = rss_bytes();
    uint64_t t0 = now_ns();
    int wrong = 0;
    for (int i = 0; i < n; i++) {
        corral_error e;
        ws[i] = corral_load(l, code, &e);
        if (!ws[i]) die("corral_load #%d: %s: %s", i, e.name, e.message);
        struct done d;
        invoke_sync(l, ws[i], "ping", "[1]", &d);
        if (strcmp(d.value, "2") != 0 && !wrong++) check_done(&d, "2", "idle sandbox ping");
    }
    uint64_t el = now_ns() - t0;
    size_t rss1 = rss_bytes();
    corral_stats st;
    corral_loader_stats(l, &st);
    if (st.live_sandboxes != (size_t)n)
        problem("idle memory: expected %d live sandboxes, stats say %zu", n, st.live_sandboxes);

    double per = ((double)rss1 - (double)rss0) / n;
    char a[48];
    row("2. memory per live idle sandbox (ping module, one call done)", fmt(a, sizeof a, "%.1f KB", per / 1024.0),
        "—", "≤ 150 KB",
        "RSS growth %.1f MB over %d live workers (stats.live_sandboxes = %zu); built in %.0f ms",
        ((double)rss1 - (double)rss0) / 1048576.0, n, st.live_sandboxes, (double)el / 1e6);

    for (int i = 0; i < n; i++) corral_worker_release(ws[i]);
    drain(l);
    corral_loader_stats(l, &st);
    size_t rss2 = rss_bytes();
    fprintf(stderr, "idle: after release live=%zu rss %+.1f MB vs baseline\n", st.live_sandboxes,
            ((double)rss2 - (double)rss0) / 1048576.0);
    if (st.live_sandboxes != 0)
        problem("idle memory: %zu sandboxes still live after releasing all %d workers",
                st.live_sandboxes, n);
    free(ws);
    corral_code_free(code);
    corral_loader_free(l);
}

/* ------------------------------------------------------------------------ */
/* 3: capability round trip                                                 */
/* ------------------------------------------------------------------------ */

static uint64_t g_echo_calls;

/* echo(x) → x: returns the single argument, completing synchronously. */
static void echo_fn(corral_call *call, void *ud) {
    (void)ud;
    size_t len = 0;
    const char *a = corral_call_args_json(call, &len);
    g_echo_calls++;
    /* a is "[<value>]": strip the brackets. */
    if (a && len >= 2 && a[0] == '[' && a[len - 1] == ']')
        corral_call_return_json(call, a + 1, len - 2);
    else
        corral_call_throw(call, "TypeError", "echo: unexpected arguments");
}

static void bench_capability(int n, int reps) {
    corral_loader *l = new_loader(0);
    corral_capability *cap = corral_capability_new(l, "Echo");
    corral_error e;
    if (corral_capability_add_method(cap, "echo", echo_fn, NULL, &e) < 0)
        die("add_method: %s: %s", e.name, e.message);
    corral_code *code = make_code(ECHO_SRC, "CAP", cap);
    corral_worker *w = corral_load(l, code, &e);
    if (!w) die("corral_load(echo): %s: %s", e.name, e.message);

    char args[32], expect[32];
    struct done d;
    invoke_sync(l, w, "run", "[100]", &d); /* warm-up, also starts the sandbox */
    check_done(&d, "4950", "capability warm-up");

    snprintf(args, sizeof args, "[%d]", n);
    snprintf(expect, sizeof expect, "%lld", (long long)n * (n - 1) / 2);
    uint64_t *t = malloc(sizeof *t * (size_t)reps);
    for (int r = 0; r < reps; r++) {
        g_echo_calls = 0;
        uint64_t t0 = now_ns();
        invoke_sync(l, w, "run", args, &d);
        t[r] = now_ns() - t0;
        check_done(&d, expect, "capability loop");
        if (g_echo_calls != (uint64_t)n)
            problem("capability loop: host saw %llu calls, expected %d",
                    (unsigned long long)g_echo_calls, n);
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_u64);
    char a[48], b[48];
    row("3. capability round trip: `await env.CAP.echo(i)` → C → back (per call)",
        fmt(a, sizeof a, "%.2f µs", pct_us(t, (size_t)reps, 50) / n),
        fmt(b, sizeof b, "%.2f µs", pct_us(t, (size_t)reps, 99) / n), "≤ 2 µs",
        "N = %d calls in one invocation, C callback completes synchronously with "
        "`corral_call_return_json`; p50/p99 over %d invocations of total/N",
        n, reps);
    free(t);
    corral_worker_release(w);
    corral_code_free(code);
    corral_capability_release(cap);
    drain(l);
    corral_loader_free(l);
}

/* ------------------------------------------------------------------------ */
/* 4: cached corral_get                                                     */
/* ------------------------------------------------------------------------ */

static int g_factory_calls;

static corral_code *ping_factory(void *ud, corral_error *err) {
    (void)ud;
    (void)err;
    g_factory_calls++;
    return make_code(PING_SRC, NULL, NULL);
}

static void bench_cached_get(int iters) {
    corral_loader *l = new_loader(0);
    struct done d;
    corral_worker *w = corral_get(l, "bench-cached", ping_factory, NULL);
    if (!w) die("corral_get returned NULL");
    invoke_sync(l, w, "ping", "[1]", &d); /* warms the cache */
    check_done(&d, "2", "cached get warm-up");
    corral_worker_release(w);

    uint64_t *t = malloc(sizeof *t * (size_t)iters);
    int wrong = 0;
    for (int i = 0; i < iters; i++) {
        uint64_t t0 = now_ns();
        w = corral_get(l, "bench-cached", ping_factory, NULL);
        invoke_sync(l, w, "ping", "[1]", &d);
        corral_worker_release(w);
        t[i] = now_ns() - t0;
        if (strcmp(d.value, "2") != 0 && !wrong++) check_done(&d, "2", "cached get");
    }
    /* Median of the first and last tenth, before sorting: drift within the run. */
    size_t tenth = (size_t)iters / 10 ? (size_t)iters / 10 : 1;
    uint64_t *head = malloc(sizeof *head * tenth), *tail = malloc(sizeof *tail * tenth);
    memcpy(head, t, sizeof *head * tenth);
    memcpy(tail, t + iters - tenth, sizeof *tail * tenth);
    qsort(head, tenth, sizeof *head, cmp_u64);
    qsort(tail, tenth, sizeof *tail, cmp_u64);
    double head_p50 = pct_us(head, tenth, 50), tail_p50 = pct_us(tail, tenth, 50);
    free(head);
    free(tail);
    qsort(t, (size_t)iters, sizeof *t, cmp_u64);
    corral_stats st;
    corral_loader_stats(l, &st);
    char a[48], b[48];
    row("4. cached `corral_get(id)` + invoke (ping), stub released each time",
        fmt(a, sizeof a, "%.1f µs", pct_us(t, (size_t)iters, 50)),
        fmt(b, sizeof b, "%.1f µs", pct_us(t, (size_t)iters, 99)), "≤ 20 µs",
        "%d calls after one warming call; factory called %d time(s); sandboxes created %llu; "
        "p50 of first tenth %.1f µs, of last tenth %.1f µs; loader pending count at end %d",
        iters, g_factory_calls, (unsigned long long)st.sandboxes_created, head_p50, tail_p50,
        corral_loader_step(l, 0));
    if (g_factory_calls != 1)
        problem("cached get: factory called %d times for one id (expected 1)", g_factory_calls);
    if (st.sandboxes_created != 1)
        problem("cached get: %llu sandboxes created for one cached id (expected 1)",
                (unsigned long long)st.sandboxes_created);

    /* The same with the stub kept: the pure call cost. */
    w = corral_get(l, "bench-cached", ping_factory, NULL);
    for (int i = 0; i < iters; i++) {
        uint64_t t0 = now_ns();
        invoke_sync(l, w, "ping", "[1]", &d);
        t[i] = now_ns() - t0;
    }
    corral_worker_release(w);
    qsort(t, (size_t)iters, sizeof *t, cmp_u64);
    row("4b. warm invoke on a held stub (ping)", fmt(a, sizeof a, "%.1f µs", pct_us(t, (size_t)iters, 50)),
        fmt(b, sizeof b, "%.1f µs", pct_us(t, (size_t)iters, 99)), "—",
        "for reference: the call alone, without `corral_get`/release", iters);
    free(t);
    drain(l);
    corral_loader_free(l);
}

/* ------------------------------------------------------------------------ */
/* 6: capacity with calls held open                                         */
/* ------------------------------------------------------------------------ */

static corral_call **g_held;
static size_t g_nheld, g_held_cap;

static void hold_fn(corral_call *call, void *ud) {
    (void)ud;
    if (g_nheld == g_held_cap) {
        size_t nc = g_held_cap ? g_held_cap * 2 : 1024;
        corral_call **p = realloc(g_held, nc * sizeof *p);
        if (!p) die("out of memory");
        g_held = p;
        g_held_cap = nc;
    }
    g_held[g_nheld++] = call;
}

struct cap_result {
    size_t live;
    double rss_per;      /* bytes per live sandbox */
    double build_ms;
    int refused;         /* the one past capacity was refused */
    char refusal[1200];
    int completed_ok;
    size_t live_after;
    size_t hwm;          /* the child's VmHWM after the run */
    double step_us;      /* one corral_loader_step(l, 0) with no ready work, at capacity */
};

static void bench_capacity(size_t n, struct cap_result *cr) {
    memset(cr, 0, sizeof *cr);
    g_nheld = 0;
    corral_loader *l = new_loader(n);
    corral_capability *cap = corral_capability_new(l, "Hold");
    corral_error e;
    if (corral_capability_add_method(cap, "wait", hold_fn, NULL, &e) < 0)
        die("add_method: %s: %s", e.name, e.message);
    corral_code *code = make_code(HOLD_SRC, "HOLD", cap);
    corral_worker **ws = calloc(n + 1, sizeof *ws);
    struct done *ds = calloc(n + 1, sizeof *ds);
    if (!ws || !ds) die("out of memory");

    size_t rss0 = rss_bytes();
    uint64_t t0 = now_ns();
    size_t i;
    for (i = 0; i < n; i++) {
        ws[i] = corral_load(l, code, &e);
        if (!ws[i]) die("corral_load #%zu: %s: %s", i, e.name, e.message);
        if (corral_invoke(ws[i], NULL, "hold", NULL, on_done, &ds[i]) < 0)
            die("corral_invoke(hold) #%zu failed", i);
        while (g_nheld < i + 1 && !ds[i].called) corral_loader_step(l, 0);
        if (ds[i].called) {
            snprintf(cr->refusal, sizeof cr->refusal, "sandbox #%zu ended early: %s: %s", i,
                     ds[i].err_name, ds[i].err_msg);
            problem("capacity %zu: %s", n, cr->refusal);
            break;
        }
    }
    cr->build_ms = (double)(now_ns() - t0) / 1e6;
    size_t rss1 = rss_bytes();
    corral_stats st;
    corral_loader_stats(l, &st);
    cr->live = st.live_sandboxes;
    cr->rss_per = ((double)rss1 - (double)rss0) / (double)(i ? i : 1);

    /* The cost of a step with nothing ready, with every sandbox holding a call. */
    uint64_t s0 = now_ns();
    for (int k = 0; k < 100; k++) corral_loader_step(l, 0);
    cr->step_us = (double)(now_ns() - s0) / 100 / 1000.0;

    /* One past capacity. */
    if (i == n) {
        ws[n] = corral_load(l, code, &e);
        if (!ws[n]) {
            cr->refused = 1;
            snprintf(cr->refusal, sizeof cr->refusal, "corral_load refused: status %d, %s: %s",
                     e.status, e.name, e.message);
        } else {
            struct done *d = &ds[n];
            if (corral_invoke(ws[n], NULL, "hold", NULL, on_done, d) < 0) {
                cr->refused = 1;
                snprintf(cr->refusal, sizeof cr->refusal, "corral_invoke returned < 0");
            } else {
                for (int k = 0; k < 1000 && !d->called && g_nheld == n; k++)
                    corral_loader_step(l, 0);
                if (d->called && d->outcome != CORRAL_OUTCOME_OK) {
                    cr->refused = 1;
                    snprintf(cr->refusal, sizeof cr->refusal, "outcome %s, %s: %s",
                             corral_outcome_name(d->outcome), d->err_name, d->err_msg);
                } else {
                    snprintf(cr->refusal, sizeof cr->refusal,
                             "NOT refused (called=%d, held calls=%zu)", d->called, g_nheld);
                    problem("capacity %zu: sandbox #%zu past max_sandboxes was not refused", n,
                            n + 1);
                }
            }
        }
    }

    /* Complete every held call, then drain. */
    size_t held = g_nheld;
    for (size_t k = 0; k < held; k++) corral_call_return_json(g_held[k], "41", 2);
    drive_until_done(l, ds, i);
    for (size_t k = 0; k < i; k++)
        if (ds[k].called == 1 && ds[k].outcome == CORRAL_OUTCOME_OK && !strcmp(ds[k].value, "42"))
            cr->completed_ok++;
    if (cr->completed_ok != (int)i)
        problem("capacity %zu: only %d of %zu held invocations completed with 42 after their "
                "calls were answered (first bad: %s)",
                n, cr->completed_ok, i, "see stderr");
    for (size_t k = 0; k <= n; k++)
        if (ws[k]) corral_worker_release(ws[k]);
    drain(l);
    corral_loader_stats(l, &st);
    cr->live_after = st.live_sandboxes;
    cr->hwm = proc_kb("/proc/self/status", "VmHWM");
    if (st.live_sandboxes)
        problem("capacity %zu: %zu sandboxes still live after release", n, st.live_sandboxes);
    corral_code_free(code);
    corral_capability_release(cap);
    corral_loader_free(l);
    free(ws);
    free(ds);
}

static void report_capacity(size_t n, const struct cap_result *cr, size_t memtotal) {
    if (!cr->live) return;
    char what[160], a[48];
    snprintf(what, sizeof what, "6. capacity at max_sandboxes = %zu, each awaiting a held capability call", n);
    double extrap = cr->rss_per > 0 ? (double)memtotal / cr->rss_per : 0;
    row(what, fmt(a, sizeof a, "%.1f KB/sandbox", cr->rss_per / 1024.0), "—", "≥ 50,000 live on 24 GB",
        "%zu live (measured), built in %.0f ms (%.2f ms/sandbox); an idle `corral_loader_step(l, 0)` "
        "at capacity takes %.1f µs; process peak RSS (VmHWM) %.0f MB; #%zu %s: %s; "
        "then all %d held calls answered → ok, %zu live after release. "
        "**Extrapolation** (not measured): MemTotal %.1f GiB / %.1f KB ≈ %.0f live sandboxes",
        cr->live, cr->build_ms, cr->build_ms / (double)cr->live, cr->step_us,
        (double)cr->hwm / 1048576.0, n + 1,
        cr->refused ? "refused" : "NOT refused", cr->refusal, cr->completed_ok, cr->live_after,
        (double)memtotal / 1073741824.0, cr->rss_per / 1024.0, extrap);
}

/* ------------------------------------------------------------------------ */

static void idle_child(void *arg) { bench_idle_memory(*(int *)arg); }

struct cap_job {
    size_t n;
    size_t memtotal;
    struct cap_result res;
};

static void capacity_child(void *arg) {
    struct cap_job *j = arg;
    bench_capacity(j->n, &j->res);
    report_capacity(j->n, &j->res, j->memtotal);
}

/* Rows sort by their leading item number ("4b" after "4"). */
static int cmp_row(const void *a, const void *b) {
    const struct row *x = a, *y = b;
    long nx = strtol(x->what, NULL, 10), ny = strtol(y->what, NULL, 10);
    if (nx != ny) return nx < ny ? -1 : 1;
    return strcmp(x->what, y->what);
}

static void print_header(void) {
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *p = strchr(line, ':');
                if (p) {
                    p++;
                    while (*p == ' ' || *p == '\t') p++;
                    p[strcspn(p, "\n")] = 0;
                    snprintf(model, sizeof model, "%s", p);
                }
                break;
            }
        }
        fclose(f);
    }
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm);
    printf("## corral %s loader benchmarks\n\n", CORRAL_VERSION);
    printf("- date: %s\n", date);
    printf("- machine: nproc %ld, %s, MemTotal %.1f GiB\n", sysconf(_SC_NPROCESSORS_ONLN), model,
           (double)proc_kb("/proc/meminfo", "MemTotal") / (1024.0 * 1024 * 1024));
    printf("- single-threaded; times from CLOCK_MONOTONIC, wall clock (shared machine: expect noise)\n\n");
}

int main(int argc, char **argv) {
    int quick = 0, big = 0;
    const char *only = NULL; /* one measurement alone, for a profiler */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--big")) big = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else die("usage: %s [--quick] [--big] [--only cold|capability|get]", argv[0]);
    }
    if (only) {
        if (!strcmp(only, "cold")) bench_cold(quick ? 200 : 2000, quick ? 0.3 : 2.0);
        else if (!strcmp(only, "capability")) bench_capability(10000, quick ? 3 : 15);
        else if (!strcmp(only, "get")) bench_cached_get(quick ? 500 : 5000);
        else die("--only: unknown measurement %s (cold, capability or get)", only);
        for (size_t i = 0; i < g_nrows; i++)
            printf("%s: p50 %s, p99 %s\n", g_rows[i].what, g_rows[i].p50, g_rows[i].p99);
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    uint64_t start = now_ns();
    print_header();

    size_t memtotal = proc_kb("/proc/meminfo", "MemTotal");

    /* Memory first, each in its own child forked from a clean process. */
    fprintf(stderr, "[2] idle memory (1000 sandboxes) ...\n");
    int idle_n = 1000;
    run_isolated(idle_child, &idle_n, NULL, 0);
    fprintf(stderr, "[6] capacity 2000 ...\n");
    struct cap_job job = {2000, memtotal, {0}};
    run_isolated(capacity_child, &job, &job.res, sizeof job.res);
    size_t small_hwm = job.res.hwm;
    double per = job.res.rss_per;

    /* The target, 50,000 live, only if it fits in what is free now. */
    size_t avail = proc_kb("/proc/meminfo", "MemAvailable");
    double need = per * 50000.0;
    if (big && per > 0 && need < (double)avail * 0.6) {
        fprintf(stderr, "[6b] capacity 50000 (needs ~%.0f MB) ...\n", need / 1048576.0);
        struct cap_job big_job = {50000, memtotal, {0}};
        run_isolated(capacity_child, &big_job, &big_job.res, sizeof big_job.res);
    } else if (big) {
        fprintf(stderr, "skipping 50000: needs ~%.0f MB, MemAvailable %.0f MB\n",
                need / 1048576.0, (double)avail / 1048576.0);
    }

    fprintf(stderr, "[1,5] cold load + invoke ...\n");
    bench_cold(quick ? 200 : 2000, quick ? 0.3 : 2.0);
    fprintf(stderr, "[3] capability round trip ...\n");
    bench_capability(10000, quick ? 3 : 15);
    fprintf(stderr, "[4] cached get ...\n");
    bench_cached_get(quick ? 500 : 5000);

    /* Table in item order. */
    qsort(g_rows, g_nrows, sizeof g_rows[0], cmp_row);

    printf("| measurement | p50 | p99 | target | note |\n");
    printf("|---|---|---|---|---|\n");
    for (size_t i = 0; i < g_nrows; i++)
        printf("| %s | %s | %s | %s | %s |\n", g_rows[i].what, g_rows[i].p50, g_rows[i].p99,
               g_rows[i].target, g_rows[i].note);
    printf("\nPeak RSS (VmHWM) of the 2000-sandbox child: %.1f MB. Total bench time %.1f s.\n",
           (double)small_hwm / 1048576.0, (double)(now_ns() - start) / 1e9);
    if (g_problems[0]) printf("\n### Problems observed\n\n%s", g_problems);
    else printf("\nNo wrong results, leaked sandboxes or missing refusals observed.\n");
    return 0;
}
