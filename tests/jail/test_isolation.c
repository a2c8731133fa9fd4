/* Sandboxes in jailed worker processes (issue #3): the isolation modes end
 * to end through the public API, and the faults the supervisor must turn
 * into clear errors — a worker killed by seccomp, a worker SIGKILLed while
 * it holds 50 executions waiting on the host, code that never yields to
 * the engine's interrupt handler, a worker that breaks the protocol.
 *
 * The faults are staged from inside the worker by a hook that exists only
 * in this test binary (jail_supervisor_set_test_hook): the worker is a fork
 * of this process, so the hook's code is there, and it runs under the
 * worker's full jail. Reaching into the loader for its supervisor (to read
 * worker pids) is the one use of internal headers here.
 */
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "jail/supervisor.h"
#include "loader/api_helpers.h"
#include "loader/loader.h"

static size_t worker_pids(corral_loader *l, pid_t *out, size_t max) {
    return l->sup ? jail_supervisor_worker_pids(l->sup, out, max) : 0;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- a capability the host completes later -------------------------------- */

#define MAX_HELD 64
static corral_call *held[MAX_HELD];
static size_t held_count;

static void cap_echo(corral_call *call, void *ud) {
    (void)ud;
    size_t len;
    const char *args = corral_call_args_json(call, &len);
    corral_call_return_json(call, args, len);
}

static void cap_hold(corral_call *call, void *ud) {
    (void)ud;
    if (held_count < MAX_HELD) held[held_count++] = call;
    else corral_call_throw(call, NULL, "too many");
}

static corral_worker *load_with_cap(corral_loader *l, const char *src, const char *tenant) {
    corral_error err = {0};
    corral_capability *cap = corral_capability_new(l, "HOST");
    corral_capability_add_method(cap, "echo", cap_echo, NULL, &err);
    corral_capability_add_method(cap, "hold", cap_hold, NULL, &err);
    corral_code *c = code_with(src);
    corral_code_bind_capability(c, "HOST", cap);
    if (tenant) corral_code_set_tenant(c, tenant);
    corral_worker *w = corral_load(l, c, &err);
    corral_code_free(c);
    corral_capability_release(cap);
    if (!w) CHECK_FAIL_AT("corral_load: %s: %s", err.name, err.message);
    return w;
}

static const char echo_src[] =
    "export default {\n"
    "  async echo(x, env) { console.log('in', x); return await env.HOST.echo(x, 2); },\n"
    "  async hold(env) { return await env.HOST.hold(); },\n"
    "  add(a, b) { return a + b; },\n"
    "  pid() { return 1; },\n"
    "};\n"
    "export class Unused {}\n";

/* The worker-side hooks (run inside a jailed worker). */
enum { HOOK_FORBIDDEN_CALL = 1, HOOK_GARBAGE = 2, HOOK_UNSOLICITED = 3, HOOK_ABORT = 4,
       HOOK_SECRET_GONE = 5, HOOK_NO_HOST_MODULES = 6 };

/* Where this process keeps an environment secret; a worker sees the same
 * address in its copy of the zygote's memory. */
static char *secret_at;

static void test_hook(uint64_t what) {
    if (what == HOOK_NO_HOST_MODULES) {
        /* The zygote forgot the host's compiled modules: this worker's
         * cache holds only what its own sandboxes compiled twice (none). */
        struct engine_modcache_stats st;
        engine_modcache_stats(&st);
        if (st.entries || st.hits) syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGABRT);
        return;
    }
    if (what == HOOK_SECRET_GONE) {
        extern char **environ;
        /* Still there: end the worker, which the test sees. */
        if (environ || !secret_at || secret_at[0]) syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGABRT);
        return;
    }
    if (what == HOOK_ABORT) {
        /* What abort() and raise() do: tgkill on the worker itself, allowed
         * by its filter, whose own pid was patched in after the zygote's
         * fork. A wrong pid there would end it with SIGSYS instead. (The
         * system call itself, because the sanitizers intercept abort().) */
        syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGABRT);
        return;
    }
    if (what == HOOK_FORBIDDEN_CALL) {
        /* socket() is not on the worker's allow-list: SIGSYS. */
        syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
        return;
    }
    /* The only descriptor a worker has is its socket; find it. */
    for (int fd = 0; fd < 16; fd++) {
        if (what == HOOK_GARBAGE) {
            static const uint8_t junk[] = {0, 0xde, 0xad, 0xbe, 0xef};
            if (send(fd, junk, sizeof junk, MSG_NOSIGNAL) > 0) return;
        } else {
            /* A well-formed message (TURN_DONE for sandbox 1) nobody asked
             * for: fragment flag, version, an array of two BigInts. */
            static const uint8_t msg[] = {0, 0x01, 0x0b, 0x02, 0x07, 0x00, 0x01,
                                          102, 0x07, 0x00, 0x01, 0x01};
            if (send(fd, msg, sizeof msg, MSG_NOSIGNAL) > 0) return;
        }
    }
}

/* ---- the modes ------------------------------------------------------------- */

static void run_modes_case(corral_isolation mode) {
    corral_loader *l = new_loader_in(mode, 2);
    if (!l) return;
    corral_worker *w = load_with_cap(l, echo_src, "t1");
    struct res r;
    if (w) {
        invoke(l, w, "add", "[2, 3]", &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
        CHECK_EQ_STR(r.value, "5");
        invoke(l, w, "echo", "[\"hi\"]", &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
        CHECK_EQ_STR(r.value, "[\"hi\",2]");
        CHECK_EQ_INT(r.log_count, 1);
        CHECK_EQ_STR(r.logs[0], "in hi");
        pid_t pids[8];
        CHECK(worker_pids(l, pids, 8) >= 1);
    }
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(pool_mode_runs_and_calls_capabilities) { run_modes_case(CORRAL_ISOLATION_POOL); }
TEST(process_mode_runs_and_calls_capabilities) { run_modes_case(CORRAL_ISOLATION_PROCESS); }
TEST(tenant_mode_runs_and_calls_capabilities) { run_modes_case(CORRAL_ISOLATION_TENANT); }

TEST(isolation_names_parse) {
    CHECK_EQ_INT(corral_isolation_parse("inline"), CORRAL_ISOLATION_INLINE);
    CHECK_EQ_INT(corral_isolation_parse("pool"), CORRAL_ISOLATION_POOL);
    CHECK_EQ_INT(corral_isolation_parse("tenant"), CORRAL_ISOLATION_TENANT);
    CHECK_EQ_INT(corral_isolation_parse("process"), CORRAL_ISOLATION_PROCESS);
    CHECK_EQ_INT(corral_isolation_parse("Pool"), -1);
    CHECK_EQ_INT(corral_isolation_parse(NULL), -1);
    CHECK_EQ_STR(corral_outcome_name(CORRAL_OUTCOME_CRASHED), "crashed");
}

TEST(inline_mode_has_no_workers) {
    corral_loader *l = new_loader_in(CORRAL_ISOLATION_INLINE, 0);
    if (!l) return;
    corral_worker *w = load_with_cap(l, echo_src, NULL);
    struct res r;
    if (w) invoke(l, w, "add", "[1, 1]", &r);
    CHECK(l->sup == NULL);
    corral_worker_release(w);
    corral_loader_free(l);
}

/* Each sandbox gets a fresh worker in process mode, and it ends with it. */
TEST(process_mode_never_reuses_a_worker) {
    corral_loader *l = new_loader_in(CORRAL_ISOLATION_PROCESS, 0);
    if (!l) return;
    corral_worker *a = load_with_cap(l, echo_src, NULL);
    corral_worker *b = load_with_cap(l, echo_src, NULL);
    struct res r;
    if (a && b) {
        invoke(l, a, "add", "[1, 1]", &r);
        invoke(l, b, "add", "[1, 2]", &r);
        CHECK_EQ_STR(r.value, "3");
        pid_t pids[8];
        CHECK_EQ_INT(worker_pids(l, pids, 8), 2);
    }
    corral_worker_release(a);
    corral_worker_release(b);
    pid_t pids[8];
    CHECK_EQ_INT(worker_pids(l, pids, 8), 0);
    corral_loader_free(l);
}

/* Two tenants never share a worker; one tenant's sandboxes do (pool of 1). */
TEST(tenant_mode_cordons_tenants) {
    corral_loader *l = new_loader_in(CORRAL_ISOLATION_TENANT, 1);
    if (!l) return;
    corral_worker *a1 = load_with_cap(l, echo_src, "alpha");
    corral_worker *a2 = load_with_cap(l, echo_src, "alpha");
    corral_worker *b = load_with_cap(l, echo_src, "beta");
    struct res r;
    if (a1 && a2 && b) {
        invoke(l, a1, "add", "[1, 1]", &r);
        invoke(l, a2, "add", "[1, 1]", &r);
        invoke(l, b, "add", "[1, 1]", &r);
        CHECK_EQ_STR(r.value, "2");
        pid_t pids[8];
        CHECK_EQ_INT(worker_pids(l, pids, 8), 2);
    }
    corral_worker_release(a1);
    corral_worker_release(a2);
    corral_worker_release(b);
    corral_loader_free(l);
}

/* ---- the jail holds in a live worker ---------------------------------------- */

static int status_field(pid_t pid, const char *field, char *out, size_t n) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int found = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            char *v = line + fl + 1;
            while (*v == ' ' || *v == '\t') v++;
            v[strcspn(v, "\n")] = 0;
            snprintf(out, n, "%s", v);
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

TEST(live_worker_is_under_seccomp_and_no_new_privs) {
    corral_loader *l = new_loader_in(CORRAL_ISOLATION_POOL, 1);
    if (!l) return;
    corral_worker *w = load_with_cap(l, echo_src, NULL);
    struct res r;
    if (w) invoke(l, w, "add", "[1, 1]", &r);
    pid_t pids[4];
    size_t n = worker_pids(l, pids, 4);
    CHECK_EQ_INT(n, 1);
    for (size_t i = 0; i < n && i < 4; i++) {
        char v[64];
        CHECK_EQ_INT(status_field(pids[i], "Seccomp", v, sizeof v), 0);
        CHECK_EQ_STR(v, "2");
        CHECK_EQ_INT(status_field(pids[i], "NoNewPrivs", v, sizeof v), 0);
        CHECK_EQ_STR(v, "1");
        CHECK_EQ_INT(status_field(pids[i], "CapEff", v, sizeof v), 0);
        CHECK_EQ_STR(v, "0000000000000000");
    }
    corral_worker_release(w);
    corral_loader_free(l);
}

/* ---- faults ------------------------------------------------------------------ */

/* Steps until every result is in, or the bound passes. */
static void wait_all(corral_loader *l, struct res *rs, size_t n, double bound_ms) {
    double end = now_ms() + bound_ms;
    for (;;) {
        size_t done = 0;
        for (size_t i = 0; i < n; i++) done += rs[i].done;
        if (done == n || now_ms() > end) return;
        corral_loader_step(l, 20);
    }
}

/* A pool of one worker process (with the test hook) running echo_src. */
static corral_loader *one_worker_pool(corral_worker **w) {
    *w = NULL;
    corral_loader *l = new_loader_in(CORRAL_ISOLATION_POOL, 1);
    if (!l) return NULL;
    jail_supervisor_set_test_hook(l->sup, test_hook);
    held_count = 0;
    *w = load_with_cap(l, echo_src, NULL);
    return l;
}

/* Starts w.hold() and steps until its host call is held: an execution
 * waiting on the host, for a fault to interrupt. */
static void start_held(corral_loader *l, corral_worker *w, struct res *r) {
    memset(r, 0, sizeof *r);
    CHECK_EQ_INT(corral_invoke(w, NULL, "hold", NULL, on_done, r), CORRAL_OK);
    for (int i = 0; i < 200 && held_count == 0; i++) corral_loader_step(l, 10);
    CHECK_EQ_INT(held_count, 1);
}

static void complete_held(void) {
    for (size_t i = 0; i < held_count; i++) corral_call_return_json(held[i], "1", 1);
    held_count = 0;
}

TEST(forbidden_syscall_kills_the_worker_and_the_next_execution_succeeds) {
    corral_worker *w;
    corral_loader *l = one_worker_pool(&w);
    if (!l) return;
    struct res r;
    memset(&r, 0, sizeof r);
    if (w) {
        /* An execution waiting on the host when the worker dies. */
        start_held(l, w, &r);
        jail_supervisor_hook(l->sup, HOOK_FORBIDDEN_CALL);
        wait_all(l, &r, 1, 5000);
        CHECK(r.done);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_CRASHED);
        CHECK_EQ_STR(r.error_name, "SandboxCrashedError");
        CHECK_EQ_STR(r.error_message,
                     "The sandbox's worker process died (signal 31, SIGSYS: a forbidden system "
                     "call).");
        /* The host completes its call late: dropped, not a crash. */
        complete_held();
        invoke(l, w, "add", "[20, 22]", &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
        CHECK_EQ_STR(r.value, "42");
        struct jail_supervisor_stats st;
        jail_supervisor_stats(l->sup, &st);
        CHECK_EQ_INT(st.workers_crashed, 1);
        CHECK_EQ_INT(st.workers_started, 2);
    }
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(sigkill_with_50_executions_waiting_on_the_host) {
    corral_loader *l = new_loader_in(CORRAL_ISOLATION_POOL, 1);
    if (!l) return;
    held_count = 0;
    enum { N = 50 };
    corral_worker *ws[N];
    static struct res rs[N];
    memset(rs, 0, sizeof rs);
    for (size_t i = 0; i < N; i++) {
        ws[i] = load_with_cap(l, echo_src, NULL);
        if (ws[i]) CHECK_EQ_INT(corral_invoke(ws[i], NULL, "hold", NULL, on_done, &rs[i]), CORRAL_OK);
    }
    for (int i = 0; i < 500 && held_count < N; i++) corral_loader_step(l, 10);
    CHECK_EQ_INT(held_count, N);
    pid_t pids[4];
    CHECK_EQ_INT(worker_pids(l, pids, 4), 1);
    double t0 = now_ms();
    kill(pids[0], SIGKILL);
    wait_all(l, rs, N, 5000);
    double took = now_ms() - t0;
    CHECK(took < 5000);
    size_t crashed = 0;
    for (size_t i = 0; i < N; i++)
        crashed += rs[i].done && rs[i].outcome == CORRAL_OUTCOME_CRASHED &&
                   strcmp(rs[i].error_message,
                          "The sandbox's worker process died (signal 9, SIGKILL: killed).") == 0;
    CHECK_EQ_INT(crashed, N);
    complete_held();
    /* The pool recovers: every worker runs again, in a new process. */
    struct res r;
    for (size_t i = 0; i < N; i++) {
        if (!ws[i]) continue;
        invoke(l, ws[i], "add", "[1, 2]", &r);
        if (strcmp(r.value, "3") != 0) CHECK_EQ_STR(r.value, "3");
    }
    CHECK_EQ_INT(worker_pids(l, pids, 4), 1);
    CHECK(pids[0] > 0);
    for (size_t i = 0; i < N; i++) corral_worker_release(ws[i]);
    corral_loader_free(l);
}

/* A search that never polls QuickJS's interrupt handler: the supervisor's
 * deadline (the CPU limit plus its grace) is what stops it. */
static const char spin_src[] =
    "export default {\n"
    "  spin() {\n"
    "    const hay = 'a'.repeat(1 << 22), needle = 'a'.repeat(1 << 16) + 'b';\n"
    "    return hay.indexOf(needle);\n"
    "  },\n"
    "  add(a, b) { return a + b; },\n"
    "};\n";

TEST(code_that_never_yields_is_stopped_by_killing_its_worker) {
    corral_loader *l = new_loader_in(CORRAL_ISOLATION_POOL, 1);
    if (!l) return;
    corral_worker *w = load_with_cap(l, spin_src, NULL);
    corral_worker *other = load_with_cap(l, echo_src, NULL);
    struct res r, ro;
    memset(&ro, 0, sizeof ro);
    if (w && other) {
        invoke(l, other, "add", "[1, 1]", &ro);
        held_count = 0;
        memset(&ro, 0, sizeof ro);
        CHECK_EQ_INT(corral_invoke(other, NULL, "hold", NULL, on_done, &ro), CORRAL_OK);
        for (int i = 0; i < 200 && held_count == 0; i++) corral_loader_step(l, 10);
        corral_invoke_options io = {0};
        io.limits.cpu_ms = 50;
        memset(&r, 0, sizeof r);
        double t0 = now_ms();
        CHECK_EQ_INT(corral_invoke(w, &io, "spin", NULL, on_done, &r), CORRAL_OK);
        struct res both[2];
        wait_all(l, &r, 1, 10000);
        double took = now_ms() - t0;
        (void)both;
        CHECK(r.done);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEEDED_CPU);
        CHECK_EQ_STR(r.error_name, "CpuLimitError");
        CHECK(took < 2000);
        /* The sandbox that shared the worker fails with the crash error. */
        wait_all(l, &ro, 1, 2000);
        CHECK_EQ_INT(ro.outcome, CORRAL_OUTCOME_CRASHED);
        CHECK_EQ_STR(ro.error_message,
                     "The sandbox's worker process was ended because a sandbox in it ran past "
                     "its CPU time limit without yielding.");
        complete_held();
        invoke(l, w, "add", "[2, 2]", &r);
        CHECK_EQ_STR(r.value, "4");
        struct jail_supervisor_stats st;
        jail_supervisor_stats(l->sup, &st);
        CHECK_EQ_INT(st.cpu_kills, 1);
    }
    corral_worker_release(w);
    corral_worker_release(other);
    corral_loader_free(l);
}

static void protocol_case(uint64_t hook, const char *detail) {
    corral_worker *w;
    corral_loader *l = one_worker_pool(&w);
    if (!l) return;
    struct res r;
    memset(&r, 0, sizeof r);
    if (w) {
        CHECK_EQ_INT(corral_invoke(w, NULL, "hold", NULL, on_done, &r), CORRAL_OK);
        for (int i = 0; i < 200 && held_count == 0; i++) corral_loader_step(l, 10);
        jail_supervisor_hook(l->sup, hook);
        wait_all(l, &r, 1, 5000);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_CRASHED);
        CHECK_EQ_STR(r.error_name, "SandboxCrashedError");
        char want[256];
        snprintf(want, sizeof want,
                 "The sandbox's worker process broke the supervisor's protocol (%s) and was ended.",
                 detail);
        CHECK_EQ_STR(r.error_message, want);
        complete_held();
        invoke(l, w, "add", "[1, 2]", &r);
        CHECK_EQ_STR(r.value, "3");
    }
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(a_malformed_frame_ends_the_worker) { protocol_case(HOOK_GARBAGE, "a malformed frame"); }
TEST(a_message_out_of_turn_ends_the_worker) {
    protocol_case(HOOK_UNSOLICITED, "a message while no turn was running");
}

TEST(memory_limit_in_a_worker) {
    corral_loader *l = new_loader_in(CORRAL_ISOLATION_POOL, 1);
    if (!l) return;
    corral_worker *w = load_with_cap(
        l,
        "export default { grow() { const a = []; for (;;) a.push(new Array(1e5).fill(1)); },"
        " add(a, b) { return a + b; } };",
        NULL);
    struct res r;
    if (w) {
        corral_invoke_options io = {0};
        io.limits.memory_bytes = 32u << 20;
        memset(&r, 0, sizeof r);
        CHECK_EQ_INT(corral_invoke(w, &io, "grow", NULL, on_done, &r), CORRAL_OK);
        wait_done(l, &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEEDED_MEMORY);
        CHECK_EQ_STR(r.error_name, "MemoryLimitError");
        invoke(l, w, "add", "[1, 2]", &r);
        CHECK_EQ_STR(r.value, "3");
    }
    corral_worker_release(w);
    corral_loader_free(l);
}

/* A pooled worker is replaced after its quota of sandboxes. */
TEST(pool_workers_are_recycled) {
    corral_error err = {0};
    corral_options o;
    corral_options_default(&o);
    o.today = "2025-06-01";
    o.isolation = CORRAL_ISOLATION_POOL;
    o.isolation_workers = 1;
    o.isolation_worker_sandboxes = 3;
    corral_loader *l = corral_loader_new(&o, &err);
    CHECK(l != NULL);
    if (!l) return;
    struct res r;
    for (int i = 0; i < 7; i++) {
        corral_worker *w = load_with_cap(l, echo_src, NULL);
        if (w) invoke(l, w, "add", "[1, 2]", &r);
        CHECK_EQ_STR(r.value, "3");
        corral_worker_release(w);
    }
    struct jail_supervisor_stats st;
    jail_supervisor_stats(l->sup, &st);
    CHECK_EQ_INT(st.workers_started, 3);
    CHECK_EQ_INT(st.workers_recycled, 2);
    corral_loader_free(l);
}

/* A child a sandbox loads runs for its creator's tenant, in its workers. */
TEST(children_run_for_their_creators_tenant) {
    corral_loader *l = new_loader_in(CORRAL_ISOLATION_TENANT, 1);
    if (!l) return;
    corral_error err = {0};
    static const char parent_src[] =
        "export default { async run(env) {\n"
        "  const w = env.LOADER.load({ compatibilityDate: '2025-06-01', mainModule: 'c.js',\n"
        "    modules: { 'c.js': 'export default { f() { return 41 + 1; } }' } });\n"
        "  return await w.getEntrypoint().f();\n"
        "} };\n";
    corral_code *c = code_with(parent_src);
    corral_code_bind_loader(c, "LOADER");
    corral_code_set_tenant(c, "alpha");
    corral_worker *w = corral_load(l, c, &err);
    corral_code_free(c);
    struct res r;
    if (w) {
        invoke(l, w, "run", NULL, &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
        CHECK_EQ_STR(r.value, "42");
        pid_t pids[4];
        CHECK_EQ_INT(worker_pids(l, pids, 4), 1);
    }
    corral_worker_release(w);
    corral_loader_free(l);
}

/* ---- the zygote ---------------------------------------------------------------- */

TEST(workers_are_forked_by_a_jailed_zygote) {
    corral_loader *l = new_loader_in(CORRAL_ISOLATION_TENANT, 1);
    if (!l) return;
    corral_worker *a = load_with_cap(l, echo_src, "a");
    corral_worker *b = load_with_cap(l, echo_src, "b");
    struct res r;
    if (a) invoke(l, a, "add", "[1, 1]", &r);
    if (b) invoke(l, b, "add", "[1, 1]", &r);
    struct jail_supervisor_stats st;
    jail_supervisor_stats(l->sup, &st);
    CHECK_EQ_INT(st.zygotes_started, 1);
    CHECK_EQ_INT(st.workers_from_zygote, 2);
    CHECK_EQ_INT(st.workers_started, 2);
    pid_t z = jail_supervisor_zygote_pid(l->sup);
    CHECK(z > 0);
    char v[64], zs[64];
    CHECK_EQ_INT(status_field(z, "Seccomp", v, sizeof v), 0);
    CHECK_EQ_STR(v, "2");
    CHECK_EQ_INT(status_field(z, "NoNewPrivs", v, sizeof v), 0);
    CHECK_EQ_STR(v, "1");
    CHECK_EQ_INT(status_field(z, "CapEff", v, sizeof v), 0);
    CHECK_EQ_STR(v, "0000000000000000");
    int have_filters = status_field(z, "Seccomp_filters", zs, sizeof zs) == 0;
    pid_t pids[4];
    size_t n = worker_pids(l, pids, 4);
    CHECK_EQ_INT(n, 2);
    for (size_t i = 0; i < n && i < 4; i++) {
        char ppid[32];
        CHECK_EQ_INT(status_field(pids[i], "PPid", ppid, sizeof ppid), 0);
        CHECK_EQ_INT(atoi(ppid), z);
        CHECK_EQ_INT(status_field(pids[i], "Seccomp", v, sizeof v), 0);
        CHECK_EQ_STR(v, "2");
        /* The worker filter stacked on the zygote's (kernels since 5.9
         * count them). */
        if (have_filters) {
            CHECK_EQ_INT(status_field(pids[i], "Seccomp_filters", v, sizeof v), 0);
            CHECK_EQ_INT(atoi(v), atoi(zs) + 1);
        }
    }
    corral_worker_release(a);
    corral_worker_release(b);
    corral_loader_free(l);
}

TEST(abort_in_a_worker_is_reported_as_sigabrt) {
    corral_worker *w;
    corral_loader *l = one_worker_pool(&w);
    if (!l) return;
    struct res r;
    memset(&r, 0, sizeof r);
    if (w) {
        start_held(l, w, &r);
        jail_supervisor_hook(l->sup, HOOK_ABORT);
        wait_all(l, &r, 1, 5000);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_CRASHED);
        CHECK_EQ_STR(r.error_message, "The sandbox's worker process died (signal 6, SIGABRT: aborted).");
        complete_held();
        invoke(l, w, "add", "[1, 2]", &r);
        CHECK_EQ_STR(r.value, "3");
    }
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(a_dead_zygote_fails_its_workers_and_a_new_one_starts) {
    corral_worker *w;
    corral_loader *l = one_worker_pool(&w);
    if (!l) return;
    struct res r;
    memset(&r, 0, sizeof r);
    if (w) {
        start_held(l, w, &r);
        pid_t z = jail_supervisor_zygote_pid(l->sup);
        CHECK(z > 0);
        if (z > 0) kill(z, SIGKILL);
        wait_all(l, &r, 1, 5000);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_CRASHED);
        CHECK_EQ_STR(r.error_name, "SandboxCrashedError");
        complete_held();
        invoke(l, w, "add", "[2, 2]", &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
        CHECK_EQ_STR(r.value, "4");
        struct jail_supervisor_stats st;
        jail_supervisor_stats(l->sup, &st);
        CHECK_EQ_INT(st.zygotes_started, 2);
        CHECK(jail_supervisor_zygote_pid(l->sup) != z);
    }
    corral_worker_release(w);
    corral_loader_free(l);
}

/* Every worker inherits the zygote's spare runtime; handing it to a
 * sandbox must give it its own clocks and its own Math.random seed. */
TEST(inherited_runtimes_get_their_own_seed_and_clocks) {
    corral_loader *l = new_loader_in(CORRAL_ISOLATION_PROCESS, 1);
    if (!l) return;
    static const char src[] =
        "export default { r() { return [Math.random(), performance.timeOrigin, performance.now()]; } };\n";
    double first = -1;
    for (int i = 0; i < 3; i++) {
        struct timespec nap = {0, 5 * 1000000};
        nanosleep(&nap, NULL);
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        double before = (double)rt.tv_sec * 1000.0 + (double)rt.tv_nsec / 1e6;
        corral_worker *w = load_with_cap(l, src, NULL);
        struct res r;
        if (!w) break;
        invoke(l, w, "r", NULL, &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
        double rnd = -1, origin = 0, since = -1;
        CHECK_EQ_INT(sscanf(r.value, "[%lf,%lf,%lf]", &rnd, &origin, &since), 3);
        CHECK(rnd >= 0 && rnd < 1);
        if (i == 0) first = rnd;
        else CHECK(rnd != first);
        /* Set when the sandbox got the runtime, not when the zygote built it. */
        CHECK(origin >= before - 1);
        CHECK(since >= 0);
        corral_worker_release(w);
    }
    corral_loader_free(l);
}

/* A pool of one worker with the test hook: an execution, the hook inside
 * the worker, and another execution, which must find the worker alive. */
static void expect_hook_passes(uint64_t hook) {
    corral_loader *l = new_loader_in(CORRAL_ISOLATION_POOL, 1);
    if (!l) return;
    jail_supervisor_set_test_hook(l->sup, test_hook);
    corral_worker *w = load_with_cap(l, echo_src, NULL);
    struct res r;
    if (w) {
        invoke(l, w, "add", "[1, 1]", &r);
        jail_supervisor_hook(l->sup, hook);
        invoke(l, w, "add", "[2, 3]", &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
        CHECK_EQ_STR(r.value, "5");
        struct jail_supervisor_stats st;
        jail_supervisor_stats(l->sup, &st);
        CHECK_EQ_INT(st.workers_crashed, 0);
    }
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(workers_never_see_the_hosts_environment) {
    setenv("CORRAL_TEST_SECRET", "sk-live-do-not-leak", 1);
    secret_at = getenv("CORRAL_TEST_SECRET");
    expect_hook_passes(HOOK_SECRET_GONE);
    /* The host's own copy is untouched. */
    CHECK_EQ_STR(getenv("CORRAL_TEST_SECRET"), "sk-live-do-not-leak");
    unsetenv("CORRAL_TEST_SECRET");
}

TEST(workers_never_see_the_hosts_compiled_modules) {
    /* The host compiles a module three times in process: now it is cached. */
    static const char host_src[] = "export default { ping() { return 'host-only'; } };";
    corral_loader *in = new_loader();
    if (!in) return;
    engine_modcache_clear();
    for (int i = 0; i < 3; i++) {
        struct res r;
        corral_worker *w = load_src(in, host_src);
        if (w) invoke(in, w, "ping", NULL, &r);
        corral_worker_release(w);
    }
    struct engine_modcache_stats st;
    engine_modcache_stats(&st);
    CHECK_EQ_INT(st.entries, 1);
    CHECK_EQ_INT(st.hits, 1);
    /* A zygote forked now starts with none of it. */
    expect_hook_passes(HOOK_NO_HOST_MODULES);
    /* The host's own cache is untouched. */
    engine_modcache_stats(&st);
    CHECK_EQ_INT(st.entries, 1);
    corral_loader_free(in);
}

TEST(the_default_is_pool_and_the_loader_says_what_protects_it) {
    corral_options o;
    corral_options_default(&o);
    CHECK_EQ_INT(o.isolation, CORRAL_ISOLATION_DEFAULT);
    corral_error err = {0};
    corral_loader *l = corral_loader_new(&o, &err);
    if (!l) {
        CHECK_FAIL_AT("corral_loader_new: %s", err.message);
        return;
    }
    CHECK(l->sup != NULL);
    char line[512];
    size_t need = corral_loader_describe_isolation(l, line, sizeof line);
    CHECK(need > 0 && need < sizeof line);
    static const char head[] =
        "isolation pool: jailed worker processes forked by a zygote; jail layers active: ";
    CHECK(strncmp(line, head, sizeof head - 1) == 0);
    CHECK(strstr(line, "seccomp") != NULL && strstr(line, "no-new-privs") != NULL);
    /* Truncation keeps the snprintf convention. */
    char tiny[8];
    CHECK_EQ_INT(corral_loader_describe_isolation(l, tiny, sizeof tiny), need);
    CHECK_EQ_INT(strlen(tiny), 7);
    corral_loader_free(l);
    l = new_loader_in(CORRAL_ISOLATION_INLINE, 0);
    if (!l) return;
    corral_loader_describe_isolation(l, line, sizeof line);
    CHECK_EQ_STR(line, "isolation inline: sandboxes run inside this process, with no jail under the engine");
    corral_loader_free(l);
}

/* AddressSanitizer replaces glibc's allocator, whose trimming this is about. */
#if !defined(__SANITIZE_ADDRESS__)
/* The resident memory of a process, in KiB, or -1. */
static long rss_kib(pid_t pid) {
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

TEST(a_pool_worker_gives_memory_back_after_a_big_sandbox) {
    /* Workers turn glibc's automatic trimming off (it could open a file
     * under the filter) and trim when idle instead: the memory a big
     * sandbox used must not stay resident in a long-lived worker. */
    corral_loader *l = new_loader_in(CORRAL_ISOLATION_POOL, 1);
    if (!l) return;
    corral_worker *w = load_src(l,
        "export default { grow() { const a = []; for (let i = 0; i < 400000; i++) a.push({ i, s: 'x' + i });"
        " return a.length; } }");
    struct res r;
    invoke(l, w, "grow", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK_EQ_STR(r.value, "400000");
    pid_t pid = 0;
    CHECK_EQ_INT(worker_pids(l, &pid, 1), 1);
    long peak = rss_kib(pid);
    corral_worker_release(w);
    /* The worker trims once it has been idle for a millisecond. */
    long now = peak;
    for (int i = 0; i < 100 && now > peak / 2; i++) {
        corral_loader_step(l, 10);
        now = rss_kib(pid);
    }
    CHECK(peak > 30 * 1024);
    if (!(now >= 0 && now < peak / 2)) CHECK_FAIL_AT("worker RSS %ld KiB after, %ld KiB at peak", now, peak);
    corral_loader_free(l);
}
#endif

TEST(busy_polling_off_or_on_gives_the_same_answers) {
    /* corral_options.busy_poll_us only decides whether a wait spins first:
     * with it off (0), at a large value and past its maximum, a capability
     * loop in a jailed worker answers the same. */
    const unsigned settings[] = {0, 1000, 4000000000u};
    for (size_t k = 0; k < 3; k++) {
        corral_error err = {0};
        corral_options o;
        corral_options_default(&o);
        CHECK_EQ_INT(o.busy_poll_us, 50);
        o.today = "2025-06-01";
        o.isolation = CORRAL_ISOLATION_POOL;
        o.isolation_workers = 1;
        o.busy_poll_us = settings[k];
        corral_loader *l = corral_loader_new(&o, &err);
        if (!l) {
            CHECK_FAIL_AT("corral_loader_new: %s: %s", err.name, err.message);
            continue;
        }
        /* Past the maximum it is taken as the maximum, not as 67 minutes. */
        CHECK(l->opts.busy_poll_us == (settings[k] > CORRAL_BUSY_POLL_MAX_US ? CORRAL_BUSY_POLL_MAX_US
                                                                             : settings[k]));
        corral_worker *w = load_with_cap(l,
            "export default { async run(n, env) { let s = 0;"
            " for (let i = 0; i < n; i++) s += (await env.HOST.echo(i))[0]; return s; } }", NULL);
        struct res r;
        invoke(l, w, "run", "[200]", &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
        CHECK_EQ_STR(r.value, "19900");
        corral_worker_release(w);
        corral_loader_free(l);
    }
}

/* After a sandbox that could not start: the next one runs, nothing is
 * left live, and the loader is freed. */
static void expect_loader_carries_on(corral_loader *l) {
    struct res r;
    corral_worker *ok = load_with_cap(l, echo_src, NULL);
    if (ok) {
        invoke(l, ok, "add", "[2, 3]", &r);
        CHECK_EQ_STR(r.value, "5");
    }
    corral_worker_release(ok);
    corral_stats st;
    corral_loader_stats(l, &st);
    CHECK_EQ_INT(st.live_sandboxes, 0);
    corral_loader_free(l);
}

/* A sandbox whose memory limit is below what a fresh runtime needs cannot
 * be created. A worker process says so with the first turn rather than
 * being waited for (a round trip saved per sandbox), and the first call
 * fails with the same error in every mode; the worker carries on. */
/* Loads src under lim in a loader of one worker, calls add(1, 2) once
 * into r, and checks that the loader carries on afterwards. */
static void first_call_under_limits(corral_isolation mode, const char *src, const corral_limits *lim,
                                    struct res *r) {
    memset(r, 0, sizeof *r);
    corral_loader *l = new_loader_in(mode, 1);
    if (!l) return;
    corral_code *c = code_with(src);
    corral_code_set_limits(c, lim);
    corral_error err = {0};
    corral_worker *w = corral_load(l, c, &err);
    CHECK(w != NULL);
    if (w) {
        CHECK_EQ_INT(corral_invoke(w, NULL, "add", "[1, 2]", on_done, r), CORRAL_OK);
        wait_done(l, r);
    }
    corral_worker_release(w);
    corral_code_free(c);
    expect_loader_carries_on(l);
}

static void too_small_to_start_case(corral_isolation mode) {
    corral_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.memory_bytes = 64u << 10;
    struct res r;
    /* The sandbox starts with the first call, which fails. */
    first_call_under_limits(mode, "export default { add(a, b) { return a + b; } };", &lim, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEEDED_MEMORY);
    CHECK_EQ_STR(r.error_name, "MemoryLimitError");
    CHECK_CONTAINS(r.error_message, "65536 bytes");
}
TEST(too_small_to_start_inline) { too_small_to_start_case(CORRAL_ISOLATION_INLINE); }
TEST(too_small_to_start_pool) { too_small_to_start_case(CORRAL_ISOLATION_POOL); }
TEST(too_small_to_start_process) { too_small_to_start_case(CORRAL_ISOLATION_PROCESS); }

/* A jailed START leaves with the first call's turn (the worker woken once for a
 * cold execution). When the start itself is stopped by a limit, the call
 * fails exactly as it did when START ran alone, and as in-process: the
 * startup's own error, the call's body never run, the worker kept. */
static void startup_limit_case(corral_isolation mode, const char *src, int cpu_ms,
                               corral_outcome outcome, const char *name, const char *message) {
    corral_limits lim;
    memset(&lim, 0, sizeof lim);
    lim.cpu_ms = (uint32_t)cpu_ms;
    lim.memory_bytes = 4u << 20;
    struct res r;
    first_call_under_limits(mode, src, &lim, &r);
    CHECK_EQ_INT(r.outcome, outcome);
    CHECK_EQ_STR(r.error_name, name);
    CHECK_EQ_STR(r.error_message, message);
}

static const char startup_loop_src[] =
    "for (;;) {}\nexport default { add(a, b) { return a + b; } };";
static const char startup_hog_src[] =
    "const hog = []; for (;;) hog.push(new Array(1000).fill(1));\n"
    "export default { add(a, b) { return a + b; } };";

static void startup_limits_in(corral_isolation mode) {
    startup_limit_case(mode, startup_loop_src, 30, CORRAL_OUTCOME_EXCEEDED_CPU, "CpuLimitError",
                       "The worker's startup exceeded the CPU time limit of 30 ms.");
    startup_limit_case(mode, startup_hog_src, 5000, CORRAL_OUTCOME_EXCEEDED_MEMORY,
                       "MemoryLimitError",
                       "The worker's startup exceeded the memory limit of 4194304 bytes.");
}
TEST(a_startup_past_its_limits_fails_the_first_call_inline) { startup_limits_in(CORRAL_ISOLATION_INLINE); }
TEST(a_startup_past_its_limits_fails_the_first_call_pool) { startup_limits_in(CORRAL_ISOLATION_POOL); }
TEST(a_startup_past_its_limits_fails_the_first_call_process) { startup_limits_in(CORRAL_ISOLATION_PROCESS); }
