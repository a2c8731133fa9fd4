/* bench_codemode.c — the Code Mode executor through the public API: a cold
 * corral_execute() of a program with no tool calls (the "≤ 200 µs
 * p50 in-process" target), written as statements and as the async arrow
 * function models usually send, the same with one tool call to a C capability,
 * and a program making 20 sequential tool calls, each in-process (inline)
 * and in the default jailed pool, side by side. Prints a Markdown table and
 * never asserts on time. The MCP-level comparison (code mode against direct
 * client calls to a real upstream) is bench/mcp/run.sh.
 *
 *   make bench && build/release/bench/bench_codemode [--quick]
 */
#include <corral.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *sorted, size_t n, double p) {
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return (double)sorted[k - 1] / 1000.0;
}

struct outcome {
    int done, failed;
};

static void on_exec(const corral_exec_result *r, void *ud) {
    struct outcome *o = ud;
    o->done = 1;
    o->failed = r->error != NULL;
    if (r->error) fprintf(stderr, "bench_codemode: the program failed: %s\n", r->error);
}

static void echo(corral_call *call, void *ud) {
    size_t n;
    const char *args = corral_call_args_json(call, &n);
    corral_call_return_json(call, args, n);
}

/* Runs `code` n times; gap_us > 0 spaces the runs as requests arriving apart
 * would be. Returns the sorted times in ns (caller frees). */
static uint64_t *measure(corral_loader *l, const char *code, const corral_provider *p, size_t np,
                         size_t n, unsigned gap_us) {
    uint64_t *t = calloc(n, sizeof *t);
    for (size_t i = 0; t && i < n; i++) {
        if (gap_us) usleep(gap_us);
        struct outcome o = {0};
        uint64_t t0 = now_ns();
        if (corral_execute(l, code, p, np, NULL, on_exec, &o) != CORRAL_OK) exit(1);
        while (!o.done) corral_loader_step(l, -1);
        t[i] = now_ns() - t0;
        if (o.failed) exit(1);
    }
    if (t) qsort(t, n, sizeof *t, cmp_u64);
    return t;
}

static void row(const char *what, const char *mode, uint64_t *t, size_t n, const char *target,
                const char *note) {
    printf("| %s | %s | %.1f µs | %.1f µs | %s | %zu runs; %s |\n", what, mode, pct_us(t, n, 50),
           pct_us(t, n, 99), target, n, note);
    free(t);
}

static void bench_mode(const char *mode, corral_isolation iso, size_t n) {
    corral_options o;
    corral_options_default(&o);
    o.isolation = iso;
    corral_error err;
    corral_loader *l = corral_loader_new(&o, &err);
    if (!l) {
        fprintf(stderr, "bench_codemode: %s: %s\n", err.name, err.message);
        exit(1);
    }
    corral_capability *cap = corral_capability_new(l, "codemode");
    corral_capability_add_method(cap, "echo", echo, NULL, NULL);
    corral_provider p = {"codemode", cap};
    free(measure(l, "return 1", NULL, 0, 50, 0)); /* warm-up */
    row("cold `corral_execute()`, no tool calls, back to back", mode, measure(l, "return 1", NULL, 0, n, 0),
        n, "≤ 200 µs p50 (inline)", "normalize + module build + fresh sandbox + run + free, one thread");
    row("cold `corral_execute()`, no tool calls, 200 µs apart", mode,
        measure(l, "return 1", NULL, 0, n / 2, 200), n / 2, "≤ 200 µs p50 (inline)",
        "prewarmed sandboxes have time to refill");
    row("cold `corral_execute()`, no tool calls, an `async () => {…}` program", mode,
        measure(l, "async () => { const x = 1; return x; }", NULL, 0, n, 0), n, "≤ 200 µs p50 (inline)",
        "the usual shape: used as it is, with no parse check on the host");
    row("cold `corral_execute()`, one tool call (C capability)", mode,
        measure(l, "return await codemode.echo({x: 1})", &p, 1, n, 0), n, "—", "the tool answers at once");
    row("program making 20 sequential tool calls (C capability)", mode,
        measure(l, "let s = 0; for (let i = 0; i < 20; i++) s += (await codemode.echo({i})).i; return s", &p, 1,
                n / 2, 0),
        n / 2, "—", "whole program, cold");
    corral_capability_release(cap);
    corral_loader_free(l);
}

int main(int argc, char **argv) {
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    size_t n = quick ? 200 : 2000;
    printf("| measurement | isolation | p50 | p99 | target | note |\n|---|---|---|---|---|---|\n");
    bench_mode("inline", CORRAL_ISOLATION_INLINE, n);
    bench_mode("pool (default)", CORRAL_ISOLATION_POOL, n);
    return 0;
}
