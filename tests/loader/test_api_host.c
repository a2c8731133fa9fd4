/* The public C API of libcorral, part two: what a host lends and drives —
 * capabilities completed now or later, corral_get() caching, capacity,
 * per-call limits, tails, logs, driving the loop from an external poll(),
 * and the outbound handler. Every case frees everything it creates.
 */
#include "api_helpers.h"

/* ---- capabilities --------------------------------------------------------- */

struct cap_state {
    int calls;
    char method[64];
    char args[256];
    char worker_id[64];
    corral_call *pending;
    const char *mode; /* "return", "later", "throw", "throw-noname", "bad-json", "undefined" */
};

static void cap_fn(corral_call *call, void *ud) {
    struct cap_state *s = ud;
    s->calls++;
    size_t len = 0;
    const char *a = corral_call_args_json(call, &len);
    snprintf(s->args, sizeof s->args, "%.*s", (int)len, a ? a : "");
    copy_str(s->method, sizeof s->method, corral_call_method(call));
    copy_str(s->worker_id, sizeof s->worker_id, corral_call_worker_id(call));
    if (strcmp(s->mode, "later") == 0) {
        s->pending = call;
    } else if (strcmp(s->mode, "throw") == 0) {
        corral_call_throw(call, "NotFoundError", "no such key: k");
    } else if (strcmp(s->mode, "throw-noname") == 0) {
        corral_call_throw(call, NULL, "plain failure");
    } else if (strcmp(s->mode, "bad-json") == 0) {
        CHECK_EQ_INT(corral_call_return_json(call, "{nope", 5), CORRAL_EINVAL);
    } else if (strcmp(s->mode, "undefined") == 0) {
        corral_call_return_json(call, NULL, 0);
    } else {
        corral_call_return_json(call, "{\"v\": [1, \"two\"]}", 17);
    }
}

static const char cap_src[] =
    "export default {\n"
    "  async get(k, env) { return await env.KV.get(k, { deep: [1n, new Date(0)] }); },\n"
    "  async caught(k, env) { try { await env.KV.get(k); return 'no error'; }\n"
    "    catch (e) { return [e instanceof Error, e.name, e.message]; } },\n"
    "  async typeofResult(k, env) { return typeof (await env.KV.get(k)); },\n"
    "  async unknown(k, env) { try { await env.KV.nope(k); return 'no error'; }\n"
    "    catch (e) { return e.name + ': ' + e.message; } },\n"
    "  keys(x, env) { return [typeof env.KV, typeof env.KV.get]; },\n"
    "};\n";

static corral_worker *cap_worker(corral_loader *l, struct cap_state *s) {
    corral_error err = {0};
    corral_capability *cap = corral_capability_new(l, "KV");
    CHECK_EQ_INT(corral_capability_add_method(cap, "get", cap_fn, s, &err), CORRAL_OK);
    CHECK_EQ_INT(corral_capability_add_method(cap, "", cap_fn, s, &err), CORRAL_EINVAL);
    CHECK_EQ_STR(err.name, "TypeError");
    CHECK_EQ_INT(corral_capability_add_method(cap, "put", NULL, s, &err), CORRAL_EINVAL);
    corral_code *c = code_with(cap_src);
    CHECK_EQ_INT(corral_code_bind_capability(c, "KV", cap), CORRAL_OK);
    CHECK_EQ_INT(corral_code_bind_capability(c, "X", NULL), CORRAL_EINVAL);
    corral_capability_release(cap); /* the code keeps it alive */
    corral_worker *w = corral_load(l, c, &err);
    corral_code_free(c);
    if (!w) CHECK_FAIL_AT("%s: %s", err.name, err.message);
    return w;
}

TEST(capability_completes_synchronously) {
    corral_loader *l = new_loader();
    struct cap_state s = {0};
    s.mode = "return";
    corral_worker *w = cap_worker(l, &s);
    struct res r;
    if (w) invoke(l, w, "get", "[\"k\"]", &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK_EQ_STR(r.value, "{\"v\":[1,\"two\"]}");
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_STR(s.method, "get");
    CHECK_EQ_STR(s.args, "[\"k\",{\"deep\":[\"1\",\"1970-01-01T00:00:00.000Z\"]}]");
    CHECK(s.worker_id[0] != 0);
    if (w) invoke(l, w, "keys", "[0]", &r);
    CHECK_EQ_STR(r.value, "[\"object\",\"function\"]");
    s.mode = "undefined";
    if (w) invoke(l, w, "typeofResult", "[\"k\"]", &r);
    CHECK_EQ_STR(r.value, "\"undefined\"");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(capability_completes_later) {
    corral_loader *l = new_loader();
    struct cap_state s = {0};
    s.mode = "later";
    corral_worker *w = cap_worker(l, &s);
    struct res r;
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(corral_invoke(w, NULL, "get", "[\"k\"]", on_done, &r), CORRAL_OK);
    for (int i = 0; i < 10; i++) CHECK(corral_loader_step(l, 0) > 0);
    CHECK(s.pending != NULL);
    CHECK(!r.done);
    /* the host's own loop answers some time later */
    if (s.pending) CHECK_EQ_INT(corral_call_return_json(s.pending, "\"late answer\"", 13), CORRAL_OK);
    s.pending = NULL;
    wait_done(l, &r);
    CHECK_EQ_STR(r.value, "\"late answer\"");
    CHECK_EQ_INT(corral_loader_step(l, 0), 0);
    /* completing later by throwing */
    memset(&r, 0, sizeof r);
    corral_invoke(w, NULL, "caught", "[\"k\"]", on_done, &r);
    for (int i = 0; i < 5; i++) corral_loader_step(l, 0);
    CHECK(!r.done);
    if (s.pending) corral_call_throw(s.pending, "TimeoutError", "backend slow");
    s.pending = NULL;
    wait_done(l, &r);
    CHECK_EQ_STR(r.value, "[true,\"TimeoutError\",\"backend slow\"]");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(capability_late_answer_after_invocation_ended) {
    /* Completing a call whose invocation has already ended is safe. */
    corral_loader *l = new_loader();
    struct cap_state s = {0};
    s.mode = "later";
    corral_worker *w = cap_worker(l, &s);
    struct res r;
    memset(&r, 0, sizeof r);
    corral_invoke_options io = {0};
    io.limits.wall_ms = 30;
    CHECK_EQ_INT(corral_invoke(w, &io, "get", "[\"k\"]", on_done, &r), CORRAL_OK);
    for (int i = 0; i < 200 && !r.done; i++) corral_loader_step(l, 10);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEEDED_WALL);
    CHECK_EQ_STR(r.error_name, "WallTimeLimitError");
    CHECK(s.pending != NULL);
    if (s.pending) CHECK_EQ_INT(corral_call_return_json(s.pending, "1", 1), CORRAL_OK);
    s.pending = NULL;
    corral_loader_step(l, 0);
    CHECK_EQ_INT(r.calls, 1);
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(capability_throws) {
    corral_loader *l = new_loader();
    struct cap_state s = {0};
    s.mode = "throw";
    corral_worker *w = cap_worker(l, &s);
    struct res r;
    if (w) invoke(l, w, "caught", "[\"k\"]", &r);
    CHECK_EQ_STR(r.value, "[true,\"NotFoundError\",\"no such key: k\"]");
    s.mode = "throw-noname";
    if (w) invoke(l, w, "caught", "[\"k\"]", &r);
    CHECK_EQ_STR(r.value, "[true,\"Error\",\"plain failure\"]");
    /* uncaught: the invocation's error */
    s.mode = "throw";
    if (w) invoke(l, w, "get", "[\"k\"]", &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEPTION);
    CHECK_EQ_STR(r.error_name, "NotFoundError");
    CHECK_EQ_STR(r.error_message, "no such key: k");
    /* invalid JSON from the host becomes a TypeError in the sandbox */
    s.mode = "bad-json";
    if (w) invoke(l, w, "caught", "[\"k\"]", &r);
    CHECK_EQ_STR(r.value, "[true,\"TypeError\",\"The host returned invalid JSON.\"]");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(capability_unknown_method) {
    corral_loader *l = new_loader();
    struct cap_state s = {0};
    s.mode = "return";
    corral_worker *w = cap_worker(l, &s);
    struct res r;
    if (w) invoke(l, w, "unknown", "[\"k\"]", &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK_EQ_STR(r.value, "\"TypeError: The RPC receiver does not implement the method \\\"nope\\\".\"");
    CHECK_EQ_INT(s.calls, 0);
    corral_worker_release(w);
    corral_loader_free(l);
}

/* ---- corral_get() --------------------------------------------------------- */

struct factory_state {
    int calls;
    int fail;
};

static corral_code *counter_factory(void *ud, corral_error *err) {
    struct factory_state *f = ud;
    f->calls++;
    if (f->fail) {
        snprintf(err->name, sizeof err->name, "Error");
        snprintf(err->message, sizeof err->message, "Code loader failed!");
        return NULL;
    }
    return code_with("let n = 0; export default { inc() { return ++n; } }");
}

static corral_code *empty_factory(void *ud, corral_error *err) {
    struct factory_state *f = ud;
    f->calls++;
    return corral_code_new(); /* no modules: fails validation */
}

static int get_inc(corral_loader *l, const char *id, struct factory_state *f, struct res *r) {
    corral_worker *w = corral_get(l, id, counter_factory, f);
    CHECK(w != NULL);
    invoke(l, w, "inc", NULL, r);
    corral_worker_release(w);
    return r->outcome == CORRAL_OUTCOME_OK ? atoi(r->value) : -1;
}

TEST(get_caches_by_id) {
    corral_loader *l = new_loader();
    struct factory_state f = {0};
    struct res r;
    CHECK_EQ_INT(get_inc(l, "counter:v1", &f, &r), 1);
    CHECK_EQ_INT(get_inc(l, "counter:v1", &f, &r), 2);
    CHECK_EQ_INT(get_inc(l, "counter:v1", &f, &r), 3);
    CHECK_EQ_INT(f.calls, 1);
    CHECK_EQ_STR(r.worker_id, "counter:v1");
    CHECK_EQ_INT(get_inc(l, "counter:v2", &f, &r), 1);
    CHECK_EQ_INT(f.calls, 2);
    /* one stub, several calls */
    corral_worker *w = corral_get(l, "counter:v1", counter_factory, &f);
    invoke(l, w, "inc", NULL, &r);
    CHECK_EQ_STR(r.value, "4");
    invoke(l, w, "inc", NULL, &r);
    CHECK_EQ_STR(r.value, "5");
    corral_worker_release(w);
    CHECK_EQ_INT(f.calls, 2);
    /* id NULL: fresh every time */
    CHECK_EQ_INT(get_inc(l, NULL, &f, &r), 1);
    CHECK_EQ_INT(get_inc(l, NULL, &f, &r), 1);
    CHECK_EQ_INT(f.calls, 4);
    corral_stats st;
    corral_loader_stats(l, &st);
    CHECK_EQ_INT(st.cached_workers, 2);
    corral_loader_free(l);
}

TEST(get_cache_eviction) {
    corral_options o;
    corral_options_default(&o);
    o.today = "2025-06-01";
    o.cache_capacity = 2;
    o.isolation = CORRAL_ISOLATION_INLINE;
    corral_loader *l = corral_loader_new(&o, NULL);
    struct factory_state fa = {0}, fb = {0}, fc = {0};
    struct res r;
    CHECK_EQ_INT(get_inc(l, "a", &fa, &r), 1);
    CHECK_EQ_INT(get_inc(l, "b", &fb, &r), 1);
    CHECK_EQ_INT(get_inc(l, "a", &fa, &r), 2); /* a is now the most recent */
    CHECK_EQ_INT(get_inc(l, "c", &fc, &r), 1); /* evicts b */
    corral_stats st;
    corral_loader_stats(l, &st);
    CHECK_EQ_INT(st.cached_workers, 2);
    CHECK(st.evictions >= 1);
    CHECK_EQ_INT(get_inc(l, "a", &fa, &r), 3); /* still cached */
    CHECK_EQ_INT(fa.calls, 1);
    CHECK_EQ_INT(get_inc(l, "b", &fb, &r), 1); /* rebuilt: fresh module state */
    CHECK_EQ_INT(fb.calls, 2);
    corral_loader_free(l);
}

TEST(get_factory_failure) {
    corral_loader *l = new_loader();
    struct factory_state f = {0};
    f.fail = 1;
    corral_worker *w = corral_get(l, "bad", counter_factory, &f);
    CHECK(w != NULL); /* a stub at once */
    struct res r;
    for (int i = 0; i < 2; i++) {
        invoke(l, w, "inc", NULL, &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEPTION);
        CHECK_EQ_STR(r.error_name, "Error");
        CHECK_EQ_STR(r.error_message, "Code loader failed!");
    }
    corral_worker_release(w);
    /* a validation error of the returned code surfaces per call too */
    struct factory_state e = {0};
    w = corral_get(l, "bad2", empty_factory, &e);
    invoke(l, w, "inc", NULL, &r);
    CHECK_EQ_STR(r.error_name, "TypeError");
    CHECK_EQ_STR(r.error_message, "Dynamic Worker code must contain at least one module.");
    corral_worker_release(w);
    /* once the factory works, the id starts */
    f.fail = 0;
    CHECK_EQ_INT(get_inc(l, "bad", &f, &r), 1);
    corral_loader_free(l);
}

/* ---- capacity and limits --------------------------------------------------- */

TEST(max_sandboxes_refused_with_capacity_error) {
    corral_options o;
    corral_options_default(&o);
    o.today = "2025-06-01";
    o.max_sandboxes = 2;
    corral_loader *l = corral_loader_new(&o, NULL);
    const char *src = "let n = 0; export default { inc() { return ++n; } }";
    corral_worker *a = load_src(l, src), *b = load_src(l, src), *c = load_src(l, src);
    struct res r;
    invoke(l, a, "inc", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    invoke(l, b, "inc", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    corral_stats st;
    corral_loader_stats(l, &st);
    CHECK_EQ_INT(st.live_sandboxes, 2);
    invoke(l, c, "inc", NULL, &r);
    CHECK(r.outcome != CORRAL_OUTCOME_OK);
    CHECK_EQ_STR(r.error_name, "CapacityError");
    CHECK_CONTAINS(r.error_message, "2 live sandboxes");
    /* the live ones carry on */
    invoke(l, a, "inc", NULL, &r);
    CHECK_EQ_STR(r.value, "2");
    /* releasing one frees its sandbox; the refused worker then starts */
    corral_worker_release(b);
    for (int i = 0; i < 5; i++) corral_loader_step(l, 0);
    invoke(l, c, "inc", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK_EQ_STR(r.value, "1");
    corral_worker_release(a);
    corral_worker_release(c);
    corral_loader_free(l);
}

TEST(per_call_limits) {
    corral_loader *l = new_loader();
    corral_worker *w = load_src(l,
        "export default { spin() { for (;;) {} }, hang() { return new Promise(() => {}); },\n"
        "  ok() { return 'fine'; } }");
    struct res r;
    corral_invoke_options io = {0};
    io.limits.cpu_ms = 50;
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(corral_invoke(w, &io, "spin", NULL, on_done, &r), CORRAL_OK);
    wait_done(l, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEEDED_CPU);
    CHECK_EQ_STR(r.error_name, "CpuLimitError");
    CHECK_EQ_STR(r.error_message, "The worker exceeded its CPU time limit of 50 ms.");
    memset(&io, 0, sizeof io);
    io.limits.wall_ms = 40;
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(corral_invoke(w, &io, "hang", NULL, on_done, &r), CORRAL_OK);
    wait_done(l, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEEDED_WALL);
    CHECK_EQ_STR(r.error_name, "WallTimeLimitError");
    CHECK_EQ_STR(r.error_message, "The invocation exceeded its wall-time limit of 40 ms.");
    /* the worker (a fresh sandbox) and the loader carry on */
    invoke(l, w, "ok", NULL, &r);
    CHECK_EQ_STR(r.value, "\"fine\"");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(a_builtin_that_never_polls_is_stopped_again_and_again) {
    /* indexOf over a large string never reaches the interrupt handler: the
     * watchdog's signal jumps out of the turn. Three in a row on one loop
     * thread: each escape must leave that signal deliverable for the next
     * (the jump does not restore the signal mask by itself). */
    corral_loader *l = new_loader();
    corral_worker *w = load_src(l,
        "export default { spin() { const hay = 'a'.repeat(1 << 22), needle = 'a'.repeat(1 << 16) + 'b';\n"
        "  return hay.indexOf(needle); }, ok() { return 'fine'; } }");
    for (int round = 0; round < 3; round++) {
        struct res r;
        corral_invoke_options io = {0};
        io.limits.cpu_ms = 30;
        memset(&r, 0, sizeof r);
        CHECK_EQ_INT(corral_invoke(w, &io, "spin", NULL, on_done, &r), CORRAL_OK);
        wait_done(l, &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEEDED_CPU);
        CHECK_EQ_STR(r.error_name, "CpuLimitError");
    }
    struct res r;
    invoke(l, w, "ok", NULL, &r);
    CHECK_EQ_STR(r.value, "\"fine\"");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(per_call_limits_only_lower) {
    /* WorkerCode sets 60 ms; a call asking for more still gets 60 ms. */
    corral_loader *l = new_loader();
    corral_code *c = code_with("export default { spin() { for (;;) {} } }");
    corral_limits lim = {0};
    lim.cpu_ms = 60;
    corral_code_set_limits(c, &lim);
    corral_worker *w = corral_load(l, c, NULL);
    corral_code_free(c);
    corral_invoke_options io = {0};
    io.limits.cpu_ms = 100000;
    struct res r;
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(corral_invoke(w, &io, "spin", NULL, on_done, &r), CORRAL_OK);
    wait_done(l, &r);
    CHECK_EQ_STR(r.error_name, "CpuLimitError");
    CHECK_EQ_STR(r.error_message, "The worker exceeded its CPU time limit of 60 ms.");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(memory_limit_from_loader_options) {
    corral_options o;
    corral_options_default(&o);
    o.today = "2025-06-01";
    o.limits.memory_bytes = 16u << 20;
    corral_loader *l = corral_loader_new(&o, NULL);
    corral_worker *w = load_src(l, "export default { grow() { const a = []; for (;;) a.push({ x: [1, 2] }); } }");
    struct res r;
    if (w) invoke(l, w, "grow", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEEDED_MEMORY);
    CHECK_EQ_STR(r.error_name, "MemoryLimitError");
    CHECK_EQ_STR(r.error_message, "The worker exceeded its memory limit of 16777216 bytes.");
    corral_worker_release(w);
    corral_loader_free(l);
}

/* ---- tails, logs, unhandled rejections -------------------------------------- */

#define MAX_EVENTS 8
struct tail_state {
    int n;
    struct res ev[MAX_EVENTS];
};

static void on_tail(const corral_result *x, void *ud) {
    struct tail_state *t = ud;
    if (t->n < MAX_EVENTS) copy_result(&t->ev[t->n], x);
    t->n++;
}

TEST(tail_receives_every_invocation) {
    corral_loader *l = new_loader();
    struct tail_state t = {0};
    corral_loader_set_tail(l, on_tail, &t);
    corral_code *c = code_with(
        "export default { async parent(x, env) {\n"
        "  console.log('parent says', x);\n"
        "  const w = env.LOADER.load({ compatibilityDate: '2025-06-01', mainModule: 'c.js',\n"
        "    modules: { 'c.js': \"export default { child(v) { console.warn('child got', v); return v * 2; },\"\n"
        "                       + \" boom() { throw new Error('child failed'); } }\" } });\n"
        "  const v = await w.getEntrypoint().child(x);\n"
        "  try { await w.getEntrypoint().boom(); } catch (e) {}\n"
        "  return v;\n"
        "} }");
    CHECK_EQ_INT(corral_code_bind_loader(c, "LOADER"), CORRAL_OK);
    corral_worker *w = corral_load(l, c, NULL);
    corral_code_free(c);
    struct res r;
    if (w) invoke(l, w, "parent", "[21]", &r);
    CHECK_EQ_STR(r.value, "42");
    corral_loader_step(l, 0);
    CHECK_EQ_INT(t.n, 3);
    int child = -1, boom = -1, parent = -1;
    for (int i = 0; i < t.n && i < MAX_EVENTS; i++) {
        if (strcmp(t.ev[i].method, "child") == 0) child = i;
        if (strcmp(t.ev[i].method, "boom") == 0) boom = i;
        if (strcmp(t.ev[i].method, "parent") == 0) parent = i;
    }
    CHECK(child >= 0 && boom >= 0 && parent >= 0);
    if (child >= 0) {
        CHECK_EQ_INT(t.ev[child].outcome, CORRAL_OUTCOME_OK);
        CHECK_EQ_STR(t.ev[child].value, "42");
        CHECK_EQ_INT(t.ev[child].log_count, 1);
        CHECK_EQ_INT(t.ev[child].levels[0], CORRAL_LOG_WARN);
        CHECK_EQ_STR(t.ev[child].logs[0], "child got 21");
        CHECK_CONTAINS(t.ev[child].worker_id, "load:");
    }
    if (boom >= 0) {
        CHECK_EQ_INT(t.ev[boom].outcome, CORRAL_OUTCOME_EXCEPTION);
        CHECK_EQ_STR(t.ev[boom].error_message, "child failed");
    }
    if (parent >= 0) {
        CHECK_EQ_INT(parent, 2); /* the outer invocation ends last */
        CHECK_EQ_INT(t.ev[parent].outcome, CORRAL_OUTCOME_OK);
        CHECK_EQ_INT(t.ev[parent].log_count, 1);
        CHECK_EQ_STR(t.ev[parent].logs[0], "parent says 21");
    }
    /* the tail also sees failed host invocations */
    if (w) invoke(l, w, "nope", NULL, &r);
    corral_loader_step(l, 0);
    CHECK_EQ_INT(t.n, 4);
    if (t.n == 4) CHECK_EQ_INT(t.ev[3].outcome, CORRAL_OUTCOME_EXCEPTION);
    corral_loader_set_tail(l, NULL, NULL);
    if (w) invoke(l, w, "parent", "[1]", &r);
    CHECK_EQ_INT(t.n, 4);
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(logs_with_levels) {
    struct res r;
    run_once("export default { f() {\n"
             "  console.debug('d', 1); console.info('i'); console.log('l', { a: [1, 'x'], b: null });\n"
             "  console.warn('w'); console.error('e', new Error('oops').message); return 1; } }",
             "f", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK_EQ_INT(r.log_count, 5);
    CHECK_EQ_INT(r.levels[0], CORRAL_LOG_DEBUG);
    CHECK_EQ_INT(r.levels[1], CORRAL_LOG_INFO);
    CHECK_EQ_INT(r.levels[2], CORRAL_LOG_LOG);
    CHECK_EQ_INT(r.levels[3], CORRAL_LOG_WARN);
    CHECK_EQ_INT(r.levels[4], CORRAL_LOG_ERROR);
    CHECK_EQ_STR(r.logs[0], "d 1");
    CHECK_EQ_STR(r.logs[1], "i");
    CHECK_CONTAINS(r.logs[2], "l {");
    CHECK(strstr(r.logs[2], "[object Object]") == NULL);
    CHECK_EQ_STR(r.logs[3], "w");
    CHECK_EQ_STR(r.logs[4], "e oops");
    /* logs are kept when the call fails too */
    run_once("export default { f() { console.log('before'); throw new Error('after'); } }", "f", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEPTION);
    CHECK_EQ_INT(r.log_count, 1);
    CHECK_EQ_STR(r.logs[0], "before");
}

TEST(log_budget_truncates) {
    corral_loader *l = new_loader();
    corral_code *c = code_with("export default { f() { for (let i = 0; i < 1000; i++) console.log('x'.repeat(100)); return 'done'; } }");
    corral_limits lim = {0};
    lim.log_bytes = 1000;
    corral_code_set_limits(c, &lim);
    corral_worker *w = corral_load(l, c, NULL);
    corral_code_free(c);
    struct res r;
    memset(&r, 0, sizeof r);
    if (w) invoke(l, w, "f", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK); /* not an error */
    CHECK_EQ_STR(r.value, "\"done\"");
    CHECK(r.log_count < 1000);
    corral_worker_release(w);
    corral_loader_free(l);
}

static void on_done_trunc(const corral_result *x, void *ud) {
    int *t = ud;
    *t = x->logs_truncated ? 1 : 0;
}

TEST(log_budget_flag) {
    corral_loader *l = new_loader();
    corral_code *c = code_with("export default { f() { for (let i = 0; i < 1000; i++) console.log('x'.repeat(100)); } }");
    corral_limits lim = {0};
    lim.log_bytes = 1000;
    corral_code_set_limits(c, &lim);
    corral_worker *w = corral_load(l, c, NULL);
    corral_code_free(c);
    int t = -1;
    corral_invoke(w, NULL, "f", NULL, on_done_trunc, &t);
    for (int i = 0; i < 200 && t < 0; i++) corral_loader_step(l, 20);
    CHECK_EQ_INT(t, 1);
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(unhandled_rejection_counted) {
    struct res r;
    run_once("export default { async f() { Promise.reject(new Error('nobody listens'));\n"
             "  Promise.reject(new Error('nor here')); return 'fine'; } }",
             "f", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK_EQ_STR(r.value, "\"fine\"");
    CHECK_EQ_INT(r.unhandled, 2);
    int errors = 0;
    for (size_t i = 0; i < r.log_count && i < MAX_LOGS; i++)
        if (r.levels[i] == CORRAL_LOG_ERROR && strstr(r.logs[i], "nobody listens")) errors++;
    CHECK_EQ_INT(errors, 1);
    /* a rejection handled before the queue drains is not counted */
    run_once("export default { async f() { const p = Promise.reject(new Error('x')); await null;\n"
             "  p.catch(() => {}); return 'fine'; } }",
             "f", NULL, &r);
    CHECK_EQ_INT(r.unhandled, 0);
}

/* ---- driving the loop from an external poll loop --------------------------- */

TEST(external_poll_loop) {
    corral_loader *l = new_loader();
    int fd = corral_loader_fd(l);
    CHECK(fd >= 0);
    CHECK_EQ_INT(corral_loader_timeout(l), -1);
    corral_worker *w = load_src(l,
        "export default { async f() { await new Promise((r) => setTimeout(r, 30)); return 'woke'; } }");
    struct res r;
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(corral_invoke(w, NULL, "f", NULL, on_done, &r), CORRAL_OK);
    int saw_timeout = 0, steps = 0;
    for (int i = 0; i < 1000 && !r.done; i++) {
        int t = corral_loader_timeout(l);
        if (t > 0 && t <= 60000) saw_timeout = 1;
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, t < 0 || t > 100 ? 100 : t);
        CHECK(corral_loader_step(l, 0) >= 0);
        steps++;
    }
    CHECK(r.done);
    CHECK_EQ_STR(r.value, "\"woke\"");
    CHECK(saw_timeout);
    CHECK(steps >= 2);
    /* idle again: nothing pending (the wall timer ended with its invocation) */
    CHECK_EQ_INT(corral_loader_step(l, 0), 0);
    CHECK_EQ_INT(corral_loader_timeout(l), -1);
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(fd_readable_when_work_is_queued) {
    corral_loader *l = new_loader();
    int fd = corral_loader_fd(l);
    corral_worker *w = load_src(l, "export default { f() { return 1; } }");
    struct res r;
    memset(&r, 0, sizeof r);
    corral_invoke(w, NULL, "f", NULL, on_done, &r);
    CHECK(!r.done); /* never called from inside corral_invoke */
    struct pollfd p = {fd, POLLIN, 0};
    int n = poll(&p, 1, corral_loader_timeout(l) < 0 ? 1000 : corral_loader_timeout(l));
    int readable = n == 1 && (p.revents & POLLIN);
    for (int i = 0; i < 100 && !r.done; i++) corral_loader_step(l, 0);
    CHECK(r.done);
    /* either the fd was readable or a timer said when to step */
    CHECK(readable || corral_loader_timeout(l) >= 0);
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(loader_run_blocks_until_idle) {
    corral_loader *l = new_loader();
    corral_worker *w = load_src(l, "export default { async f() { await new Promise((r) => setTimeout(r, 10)); return 2; } }");
    struct res a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    corral_invoke(w, NULL, "f", NULL, on_done, &a);
    corral_invoke(w, NULL, "f", NULL, on_done, &b);
    CHECK_EQ_INT(corral_loader_run(l), CORRAL_OK);
    CHECK(a.done && b.done);
    CHECK_EQ_STR(a.value, "2");
    CHECK_EQ_STR(b.value, "2");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(free_with_pending_work) {
    /* Freeing the loader drops pending operations without calling `done`. */
    corral_loader *l = new_loader();
    struct cap_state s = {0};
    s.mode = "later";
    corral_worker *w = cap_worker(l, &s);
    corral_worker *w2 = load_src(l, "export default { f() { return new Promise((r) => setTimeout(r, 10000)); } }");
    struct res r, r2;
    memset(&r, 0, sizeof r);
    memset(&r2, 0, sizeof r2);
    corral_invoke(w, NULL, "get", "[\"k\"]", on_done, &r);
    corral_invoke(w2, NULL, "f", NULL, on_done, &r2);
    for (int i = 0; i < 10; i++) corral_loader_step(l, 0);
    CHECK(s.pending != NULL);
    corral_worker_release(w);
    corral_worker_release(w2);
    corral_loader_free(l);
    CHECK_EQ_INT(r.calls, 0);
    CHECK_EQ_INT(r2.calls, 0);
}

/* ---- outbound ------------------------------------------------------------- */

struct ob_state {
    int calls;
    char method[16];
    char url[256];
    char headers[512];
    char body[256];
    size_t body_len;
    corral_outbound_call *pending;
    const char *mode; /* "respond", "fail", "later" */
};

static void on_outbound(corral_outbound_call *call, const corral_request *req, void *ud) {
    struct ob_state *s = ud;
    s->calls++;
    copy_str(s->method, sizeof s->method, req->method);
    copy_str(s->url, sizeof s->url, req->url);
    s->headers[0] = 0;
    for (size_t i = 0; i < req->header_count; i++) {
        size_t n = strlen(s->headers);
        snprintf(s->headers + n, sizeof s->headers - n, "%s=%s;", req->headers[i].name,
                 req->headers[i].value);
    }
    s->body_len = req->body_len;
    snprintf(s->body, sizeof s->body, "%.*s", (int)req->body_len, req->body ? (const char *)req->body : "");
    if (strcmp(s->mode, "fail") == 0) {
        corral_outbound_fail(call, "connection refused by the host");
    } else if (strcmp(s->mode, "later") == 0) {
        s->pending = call;
    } else {
        static const corral_header hs[] = {{"Content-Type", "text/plain"}, {"X-Upstream", "host"}};
        corral_outbound_respond(call, 201, hs, 2, (const uint8_t *)"from the host", 13);
    }
}

static const char fetcher_src[] =
    "export default { async go() {\n"
    "  try {\n"
    "    const r = await fetch('https://api.example.com/v1/items?x=1', { method: 'POST',\n"
    "      headers: { 'X-Token': 'abc', 'Content-Type': 'application/json' }, body: JSON.stringify({ a: 1 }) });\n"
    "    return [r.status, r.headers.get('x-upstream'), await r.text()];\n"
    "  } catch (e) { return e.name + ': ' + e.message; }\n"
    "} }";

static corral_worker *fetcher(corral_loader *l, int host) {
    corral_code *c = code_with(fetcher_src);
    if (host) corral_code_set_outbound(c, CORRAL_OUTBOUND_HOST);
    corral_worker *w = corral_load(l, c, NULL);
    corral_code_free(c);
    return w;
}

TEST(outbound_handler_respond) {
    corral_loader *l = new_loader();
    struct ob_state s = {0};
    s.mode = "respond";
    corral_loader_set_outbound(l, on_outbound, &s);
    corral_worker *w = fetcher(l, 1);
    struct res r;
    if (w) invoke(l, w, "go", NULL, &r);
    CHECK_EQ_STR(r.value, "[201,\"host\",\"from the host\"]");
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_STR(s.method, "POST");
    CHECK_EQ_STR(s.url, "https://api.example.com/v1/items?x=1");
    CHECK_CONTAINS(s.headers, "x-token=abc;");
    CHECK_CONTAINS(s.headers, "content-type=application/json;");
    CHECK_EQ_STR(s.body, "{\"a\":1}");
    CHECK_EQ_INT(s.body_len, 7);
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(outbound_handler_fail_and_later) {
    corral_loader *l = new_loader();
    struct ob_state s = {0};
    s.mode = "fail";
    corral_loader_set_outbound(l, on_outbound, &s);
    corral_worker *w = fetcher(l, 1);
    struct res r;
    if (w) invoke(l, w, "go", NULL, &r);
    CHECK_EQ_STR(r.value, "\"TypeError: connection refused by the host\"");
    s.mode = "later";
    memset(&r, 0, sizeof r);
    corral_invoke(w, NULL, "go", NULL, on_done, &r);
    for (int i = 0; i < 10; i++) corral_loader_step(l, 0);
    CHECK(!r.done);
    CHECK(s.pending != NULL);
    if (s.pending) corral_outbound_respond(s.pending, 204, NULL, 0, NULL, 0);
    s.pending = NULL;
    wait_done(l, &r);
    CHECK_EQ_STR(r.value, "[204,null,\"\"]");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(outbound_blocked_by_default) {
    static const char blocked[] =
        "\"Error: This worker is not permitted to access the internet via global functions like "
        "fetch(). It must use capabilities (such as bindings in 'env') to talk to the outside "
        "world.\"";
    corral_loader *l = new_loader();
    struct ob_state s = {0};
    s.mode = "respond";
    /* no handler, default outbound */
    corral_worker *w = fetcher(l, 0);
    struct res r;
    if (w) invoke(l, w, "go", NULL, &r);
    CHECK_EQ_STR(r.value, blocked);
    corral_worker_release(w);
    /* a handler is installed, but this worker's outbound is BLOCK */
    corral_loader_set_outbound(l, on_outbound, &s);
    w = fetcher(l, 0);
    if (w) invoke(l, w, "go", NULL, &r);
    CHECK_EQ_STR(r.value, blocked);
    CHECK_EQ_INT(s.calls, 0);
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(outbound_host_mode_without_handler) {
    corral_loader *l = new_loader();
    corral_worker *w = fetcher(l, 1);
    struct res r;
    if (w) invoke(l, w, "go", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK(r.value[0] == '"'); /* a caught error, not a crash */
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(allow_net_reports_clearly) {
    corral_loader *l = new_loader();
    corral_error err = {0};
    int st = corral_loader_allow_net(l, "example.com", &err);
    if (st != CORRAL_OK) {
        CHECK(st < 0);
        CHECK(err.name[0] != 0);
        CHECK(err.message[0] != 0);
    }
    corral_loader_free(l);
}

TEST(json_module_with_invalid_json) {
    /* The source of a JSON module is JSON text; invalid text is a startup
     * error (SyntaxError) on each call, and the worker never runs. */
    corral_loader *l = new_loader();
    corral_code *c = code_with("import j from './data.json'; export default { f() { return j; } }");
    corral_code_add_module(c, "data.json", CORRAL_MODULE_JSON, "{\"a\": 1,}", 9);
    corral_error err = {0};
    corral_worker *w = corral_load(l, c, &err);
    corral_code_free(c);
    CHECK(w != NULL);
    struct res r;
    for (int i = 0; w && i < 2; i++) {
        invoke(l, w, "f", NULL, &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEPTION);
        CHECK_EQ_STR(r.error_name, "SyntaxError");
    }
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(code_from_json_data_base64_invalid) {
    corral_error err = {0};
    const char *j = "{\"modules\": {\"d.bin\": {\"data\": \"not base64!\"}}}";
    corral_code *c = corral_code_from_json(j, strlen(j), &err);
    CHECK(c == NULL);
    corral_code_free(c);
    CHECK_EQ_STR(err.name, "TypeError");
    CHECK_EQ_STR(err.message, "Module 'd.bin': 'data' must be base64 text or an array of bytes.");
}

TEST(code_from_json_nul_in_a_module_name_is_refused_by_name) {
    /* JSON can carry "\u0000"; a C string would end there and load module
     * "a" instead of refusing "a\0b.js". The JSON parser already refuses
     * it in an object key, before the loader's own check. */
    corral_loader *l = new_loader();
    corral_error err = {0};
    const char *j = "{\"compatibilityDate\": \"2025-06-01\", \"mainModule\": \"m.js\", \"modules\": "
                    "{\"m.js\": \"export default {}\", \"a\\u0000b.js\": \"export default 1\"}}";
    corral_code *c = corral_code_from_json(j, strlen(j), &err);
    corral_worker *w = c ? corral_load(l, c, &err) : NULL;
    CHECK(w == NULL);
    CHECK_EQ_STR(err.name, "TypeError");
    CHECK_CONTAINS(err.message, "NUL byte in object key not supported");
    corral_worker_release(w);
    corral_code_free(c);
    corral_loader_free(l);
}
