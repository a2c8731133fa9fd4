/* A sandbox: one fresh QuickJS runtime and context, the web globals, the
 * module map, and the bridge to its host.
 *
 * Everything is created per sandbox — runtime, context, classes, globals —
 * so two sandboxes share no object, prototype or global. The context gets
 * the ECMAScript intrinsics minus `eval` and string-compiled functions (as
 * in Workers), and no QuickJS std/os modules: all reach to the outside is
 * the `native` table handed to the built-in JavaScript, whose every entry
 * goes through `struct engine_host`.
 *
 * Limits live here because only the engine can enforce them from inside:
 * the allocator refuses past the memory limit (and then marks the sandbox
 * killed, so running out of memory cannot be caught by sandbox code), and
 * the interrupt handler stops JavaScript past the CPU deadline the host
 * sets before each turn. Allocation keeps working after a CPU kill: QuickJS
 * needs a little memory to raise its own "interrupted" error.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "engine/internal.h"
#include "engine/natives.h"

extern const uint32_t corral_js_runtime_size;
extern const uint8_t corral_js_runtime[];

#define CPU_ESTIMATE_GAP_NS 5000ull
#define CPU_REAL_READING_EVERY_NS 1000000ull

static __thread struct {
    uint64_t cpu, wall;  /* the last reading, real or estimated */
    uint64_t real_wall;  /* when the last real one was taken */
} cpu_reading;

static uint64_t timespec_ns(const struct timespec *ts) {
    return (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
}

static uint64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return timespec_ns(&ts);
}

uint64_t engine_thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    uint64_t cpu = timespec_ns(&ts), wall = wall_ns();
    cpu_reading.cpu = cpu;
    cpu_reading.wall = cpu_reading.real_wall = wall;
    return cpu;
}

uint64_t engine_thread_cpu_ns_cheap(void) {
    uint64_t wall = wall_ns();
    if (cpu_reading.real_wall && wall - cpu_reading.wall <= CPU_ESTIMATE_GAP_NS &&
        wall - cpu_reading.real_wall <= CPU_REAL_READING_EVERY_NS) {
        cpu_reading.cpu += wall - cpu_reading.wall;
        cpu_reading.wall = wall;
        return cpu_reading.cpu;
    }
    return engine_thread_cpu_ns();
}

void engine_thread_cpu_forget(void) { memset(&cpu_reading, 0, sizeof cpu_reading); }

uint64_t engine_thread_cpu_since(uint64_t start) {
    uint64_t now = engine_thread_cpu_ns_cheap();
    return now > start ? now - start : 0;
}

/* ---- memory -------------------------------------------------------------- */

/* The runtime allocates from the sandbox's own heap (heap.c). The limit
 * is checked twice: on the live bytes QuickJS counts, as its own allocator
 * would, and on what the heap takes from the system, so fragmenting the
 * free lists cannot carry a sandbox past it either. */
static void *sb_malloc(JSMallocState *s, size_t size) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = s->opaque;
    if (s->malloc_size + size > s->malloc_limit) {
        atomic_store(&sb->killed, SANDBOX_KILL_MEMORY);
        return NULL;
    }
    sb->heap.limit = s->malloc_limit;
    void *p = heap_alloc(&sb->heap, size);
    if (!p) {
        if (sb->heap.refused) atomic_store(&sb->killed, SANDBOX_KILL_MEMORY);
        return NULL;
    }
    /* The runtime's own counters, kept so the heap size can be read in O(1);
     * JS_NewRuntime2's first call passes a copy on its stack, every later
     * one the runtime's. */
    sb->mstate = s;
    s->malloc_count++;
    s->malloc_size += heap_cost(p);
    return p;
}

static void sb_free_mem(JSMallocState *s, void *p) {
    ENGINE_UNSAFE_SCOPE();
    if (!p) return;
    struct sandbox *sb = s->opaque;
    s->malloc_count--;
    s->malloc_size -= heap_cost(p);
    heap_free(&sb->heap, p);
}

static void *sb_realloc(JSMallocState *s, void *p, size_t size) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = s->opaque;
    if (!p) return size ? sb_malloc(s, size) : NULL;
    if (size == 0) {
        sb_free_mem(s, p);
        return NULL;
    }
    size_t old = heap_cost(p);
    if (size > old && s->malloc_size + size - old > s->malloc_limit) {
        atomic_store(&sb->killed, SANDBOX_KILL_MEMORY);
        return NULL;
    }
    sb->heap.limit = s->malloc_limit;
    void *n = heap_realloc(&sb->heap, p, size);
    if (!n) {
        if (sb->heap.refused) atomic_store(&sb->killed, SANDBOX_KILL_MEMORY);
        return NULL;
    }
    s->malloc_size = s->malloc_size - old + heap_cost(n);
    return n;
}

static size_t sb_usable(const void *p) {
    ENGINE_UNSAFE_SCOPE();
    return heap_usable(p);
}

/* For an escaped sandbox: give back its whole heap and every buffer corral
 * kept beside it, without reading anything the runtime wrote. */
void sandbox_release_abandoned(struct sandbox *sb) {
    heap_release(&sb->heap);
    sb_drop_side_buffers(sb);
    free(sb);
}

static const JSMallocFunctions sb_mf = {sb_malloc, sb_free_mem, sb_realloc, sb_usable};

void sandbox_turn_clock_begin(struct sandbox *sb, uint64_t budget_ns) {
    sb->turn_budget_ns = budget_ns ? budget_ns : 1;
    sb->turn_wall0_ns = wall_ns();
    sb->turn_cpu0_ns = 0;
    atomic_store(&sb->cpu_deadline_ns, 0);
}

void sandbox_turn_clock_read(struct sandbox *sb) {
    if (!sb->turn_budget_ns || sb->turn_cpu0_ns) return;
    uint64_t cpu = engine_thread_cpu_ns(), gone = wall_ns() - sb->turn_wall0_ns;
    sb->turn_cpu0_ns = cpu > gone ? cpu - gone : 1;
    atomic_store(&sb->cpu_deadline_ns, sb->turn_cpu0_ns + sb->turn_budget_ns);
}

uint64_t sandbox_turn_clock_end(struct sandbox *sb) {
    uint64_t used;
    if (sb->turn_cpu0_ns) {
        uint64_t cpu = engine_thread_cpu_ns();
        used = cpu > sb->turn_cpu0_ns ? cpu - sb->turn_cpu0_ns : 0;
    } else {
        used = wall_ns() - sb->turn_wall0_ns;
    }
    sb->turn_budget_ns = sb->turn_cpu0_ns = 0;
    atomic_store(&sb->cpu_deadline_ns, 0);
    return used;
}

static int sb_interrupt(JSRuntime *rt, void *opaque) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = opaque;
    if (atomic_load_explicit(&sb->killed, memory_order_relaxed)) return 1;
    sandbox_turn_clock_read(sb); /* a no-op unless a lazy turn clock is unread */
    uint64_t deadline = atomic_load_explicit(&sb->cpu_deadline_ns, memory_order_relaxed);
    if (deadline && engine_thread_cpu_ns() > deadline) {
        atomic_store(&sb->killed, SANDBOX_KILL_CPU);
        return 1;
    }
    return 0;
}

void sandbox_set_cpu_deadline(struct sandbox *sb, uint64_t deadline_ns) {
    atomic_store(&sb->cpu_deadline_ns, deadline_ns);
}

enum sandbox_kill sandbox_killed(const struct sandbox *sb) {
    return (enum sandbox_kill)atomic_load(&((struct sandbox *)sb)->killed);
}

void sandbox_kill(struct sandbox *sb, enum sandbox_kill why) {
    int expected = SANDBOX_KILL_NONE;
    atomic_compare_exchange_strong(&sb->killed, &expected, (int)why);
}

size_t sandbox_memory_used(const struct sandbox *sb) { return (size_t)sb->mstate->malloc_size; }

void sandbox_prefault(const struct sandbox *sb) {
    populate_writable(sb, sizeof *sb);
    heap_prefault(&sb->heap);
}

uint64_t sandbox_current_invocation(const struct sandbox *sb) { return sb->current_invocation; }

/* ---- unhandled rejections ------------------------------------------------ */

static void rejection_tracker(JSContext *ctx, JSValueConst promise, JSValueConst reason,
                              JS_BOOL is_handled, void *opaque) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = opaque;
    if (!is_handled) {
        if (sb->rejection_count == sb->rejection_cap) {
            size_t ncap = sb->rejection_cap ? sb->rejection_cap * 2 : 4;
            JSValue *n = realloc(sb->rejections, ncap * sizeof *n);
            if (!n) return;
            sb->rejections = n;
            sb->rejection_cap = ncap;
        }
        sb->rejections[sb->rejection_count++] = JS_DupValue(ctx, promise);
        return;
    }
    for (size_t i = 0; i < sb->rejection_count; i++) {
        if (JS_VALUE_GET_PTR(sb->rejections[i]) == JS_VALUE_GET_PTR(promise)) {
            JS_FreeValue(ctx, sb->rejections[i]);
            sb->rejections[i] = sb->rejections[--sb->rejection_count];
            return;
        }
    }
}

/* Text for an error value: its stack if it has one, else String(v). */
char *sb_describe(struct sandbox *sb, JSValueConst v) {
    JSContext *ctx = sb->ctx;
    JSValue f = JS_GetPropertyStr(ctx, sb->api, "describeError");
    JSValue s = JS_Call(ctx, f, JS_UNDEFINED, 1, &v);
    JS_FreeValue(ctx, f);
    if (JS_IsException(s)) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        return strdup("(an error that could not be described)");
    }
    const char *c = JS_ToCString(ctx, s);
    char *out = strdup(c ? c : "");
    JS_FreeCString(ctx, c);
    JS_FreeValue(ctx, s);
    return out;
}

/* A failed start is reported by every call; the engine's own promises
 * that carried the same error are not unhandled rejections of the worker. */
static int is_start_error(struct sandbox *sb, JSValueConst reason) {
    if (JS_IsUndefined(sb->start_promise) ||
        JS_PromiseState(sb->ctx, sb->start_promise) != JS_PROMISE_REJECTED)
        return 0;
    JSValue start_err = JS_PromiseResult(sb->ctx, sb->start_promise);
    int same = JS_StrictEq(sb->ctx, start_err, reason);
    JS_FreeValue(sb->ctx, start_err);
    return same;
}

static void report_rejections(struct sandbox *sb) {
    while (sb->rejection_count > 0) {
        JSValue p = sb->rejections[--sb->rejection_count];
        JSValue reason = JS_PromiseResult(sb->ctx, p);
        if (is_start_error(sb, reason)) {
            JS_FreeValue(sb->ctx, reason);
            JS_FreeValue(sb->ctx, p);
            continue;
        }
        char *text = sb_describe(sb, reason);
        JS_FreeValue(sb->ctx, reason);
        JS_FreeValue(sb->ctx, p);
        if (text) sb->host->unhandled_rejection(sb->host_data, sb, text);
        free(text);
    }
}

int sandbox_run_jobs(struct sandbox *sb) {
    JSContext *ctx1;
    for (;;) {
        if (sandbox_killed(sb)) return -1;
        int r = ENGINE_JS(JS_ExecutePendingJob(sb->rt, &ctx1));
        if (r == 0) break;
        if (r < 0) {
            /* A job threw outside any promise (only an uncatchable error
             * does that): the sandbox is being stopped. */
            JS_FreeValue(sb->ctx, JS_GetException(sb->ctx));
            if (sandbox_killed(sb)) return -1;
        }
    }
    report_rejections(sb);
    if (!sandbox_killed(sb)) {
        sb_flush_answers(sb);
        sb_flush_releases(sb);
    }
    return sandbox_killed(sb) ? -1 : 0;
}

/* ---- creation ------------------------------------------------------------ */

static JSValue eval_builtin(JSContext *ctx, const uint8_t *bc, uint32_t len) {
    JSValue obj = JS_ReadObject(ctx, bc, len, JS_READ_OBJ_BYTECODE);
    if (JS_IsException(obj)) return obj;
    return JS_EvalFunction(ctx, obj);
}

static JSValue take_global(JSContext *ctx, const char *name) {
    JSValue g = JS_GetGlobalObject(ctx);
    JSValue v = JS_GetPropertyStr(ctx, g, name);
    JSAtom a = JS_NewAtom(ctx, name);
    JS_DeleteProperty(ctx, g, a, 0);
    JS_FreeAtom(ctx, a);
    JS_FreeValue(ctx, g);
    return v;
}

/* What a sandbox takes from its config, at creation and when a prewarmed
 * one is given to its worker. */
static void copy_config(struct sandbox *sb, const struct sandbox_config *cfg) {
    sb->host = cfg->host;
    sb->host_data = cfg->host_data;
    sb->arg_bytes = cfg->arg_bytes;
    sb->result_bytes = cfg->result_bytes;
    sb->memory_limit = cfg->memory_bytes;
    sb->limits = cfg->limits;
    snprintf(sb->today, sizeof sb->today, "%s", cfg->today ? cfg->today : "2999-12-31");
}

struct sandbox *sandbox_new(const struct sandbox_config *cfg, corral_error *err) {
    struct sandbox *sb = calloc(1, sizeof *sb);
    if (!sb) {
        corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory creating a sandbox.");
        return NULL;
    }
    heap_init(&sb->heap);
    copy_config(sb, cfg);
    sb->worker_id = strdup(cfg->worker_id ? cfg->worker_id : "worker");
    sb->api = sb->env = sb->ns = sb->start_promise = sb->promise_then = JS_UNDEFINED;
    sb->next_call_id = 1;
    sb->next_timer_id = 1;

    /* Built without a memory limit, which is set once the runtime stands:
     * QuickJS does not survive running out of memory while it creates its
     * intrinsics, and a limit below what a runtime needs is refused below
     * with the same error a prewarmed sandbox gets (sandbox_assign). */
    sb->rt = JS_NewRuntime2(&sb_mf, sb);
    if (!sb->rt || !sb->worker_id) goto nomem;
    JS_SetMaxStackSize(sb->rt, cfg->stack_bytes);
    JS_SetInterruptHandler(sb->rt, sb_interrupt, sb);
    JS_SetHostPromiseRejectionTracker(sb->rt, rejection_tracker, sb);
    JS_SetCanBlock(sb->rt, 0);
    sb_register_classes(sb->rt);
    sb_setup_modules(sb);

    sb->ctx = JS_NewContextRaw(sb->rt);
    if (!sb->ctx) goto nomem;
    JSContext *ctx = sb->ctx;
    JS_SetContextOpaque(ctx, sb);
    JS_AddIntrinsicBaseObjects(ctx);
    JS_AddIntrinsicDate(ctx);
    /* The compiler must be present for corral to compile modules; the
     * runtime's JavaScript then removes every way for user code to reach it
     * from strings (eval, the Function constructors), as Workers does. */
    JS_AddIntrinsicEval(ctx);
    JS_AddIntrinsicStringNormalize(ctx);
    JS_AddIntrinsicRegExpCompiler(ctx);
    JS_AddIntrinsicRegExp(ctx);
    JS_AddIntrinsicJSON(ctx);
    JS_AddIntrinsicProxy(ctx);
    JS_AddIntrinsicMapSet(ctx);
    JS_AddIntrinsicTypedArrays(ctx);
    JS_AddIntrinsicPromise(ctx);
    JS_AddIntrinsicWeakRef(ctx);
    sb_init_class_ids(ctx);
    {
        JSValue cap[2];
        JSValue p = JS_NewPromiseCapability(ctx, cap);
        if (JS_IsException(p)) goto js_fail;
        sb->promise_then = JS_GetPropertyStr(ctx, p, "then");
        JS_FreeValue(ctx, p);
        JS_FreeValue(ctx, cap[0]);
        JS_FreeValue(ctx, cap[1]);
        if (!JS_IsFunction(ctx, sb->promise_then)) goto js_fail;
        JSValue o = JS_NewObject(ctx);
        JSValue proto = JS_GetPrototype(ctx, o);
        sb->object_proto = JS_IsObject(proto) ? JS_VALUE_GET_PTR(proto) : NULL;
        JS_FreeValue(ctx, proto);
        JS_FreeValue(ctx, o);
        if (!sb->object_proto) goto js_fail;
    }

    JSValue native = sb_make_natives(sb);
    if (JS_IsException(native)) goto js_fail;
    if (sb_install_math_random(sb) < 0) {
        JS_FreeValue(ctx, native);
        goto js_fail;
    }
    /* The web globals are only accessors until first use (lazy.c); the
     * runtime reaches the real classes through `web`. */
    JSValue web = JS_UNDEFINED;
    JSValue r = JS_UNDEFINED;
    if (sb_web_install(sb, native) < 0 || JS_IsException(web = sb_web_lookup_fn(sb)) ||
        JS_IsException(r = eval_builtin(ctx, corral_js_runtime, corral_js_runtime_size))) {
        JS_FreeValue(ctx, web);
        JS_FreeValue(ctx, native);
        goto js_fail;
    }
    JS_FreeValue(ctx, r);
    JSValue install = take_global(ctx, "__corralInstallRuntime");
    JSValue args[2] = {native, web};
    sb->api = JS_Call(ctx, install, JS_UNDEFINED, 2, args);
    JS_FreeValue(ctx, install);
    JS_FreeValue(ctx, web);
    JS_FreeValue(ctx, native);
    if (JS_IsException(sb->api)) goto js_fail;
    /* What the heap has taken, not only what is live: the limit bounds both. */
    if (cfg->memory_bytes && sb->heap.footprint > cfg->memory_bytes) {
        corral_error_set(err, CORRAL_ELIMIT, "MemoryLimitError",
                         "A sandbox needs more than the memory limit of %llu bytes to start.",
                         (unsigned long long)cfg->memory_bytes);
        sandbox_free(sb);
        return NULL;
    }
    JS_SetMemoryLimit(sb->rt, cfg->memory_bytes ? cfg->memory_bytes : (size_t)-1);
    return sb;

js_fail : {
    JSValue e = JS_GetException(sb->ctx);
    const char *m = JS_ToCString(sb->ctx, e);
    JSValue st = JS_GetPropertyStr(sb->ctx, e, "stack");
    const char *s = JS_ToCString(sb->ctx, st);
    corral_error_set(err, CORRAL_EINVAL, "Error", "The sandbox could not be initialised: %s %s",
                     m ? m : "", s ? s : "");
    JS_FreeCString(sb->ctx, m);
    JS_FreeCString(sb->ctx, s);
    JS_FreeValue(sb->ctx, st);
    JS_FreeValue(sb->ctx, e);
    sandbox_free(sb);
    return NULL;
}
nomem:
    /* The runtime is built before its limit applies: this is the host. */
    corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory creating a sandbox.");
    sandbox_free(sb);
    return NULL;
}

void sb_when_settled(struct sandbox *sb, JSValueConst value, JSValueConst on_ok, JSValueConst on_err,
                     int ours) {
    JSContext *ctx = sb->ctx;
    JSValue p;
    if (ours && JS_PromiseState(ctx, (JSValue)value) != (JSPromiseStateEnum)-1) {
        p = JS_DupValue(ctx, value);
    } else {
        /* The sandbox's own value becomes a promise of ours, as `await`
         * would make it: a thenable's `then` is called once, by the
         * engine, and settles our promise at most once. */
        JSValue cap[2];
        p = JS_NewPromiseCapability(ctx, cap);
        if (!JS_IsException(p)) {
            JSValue r = JS_Call(ctx, cap[0], JS_UNDEFINED, 1, &value);
            JS_FreeValue(ctx, r);
            JS_FreeValue(ctx, cap[0]);
            JS_FreeValue(ctx, cap[1]);
        }
    }
    /* then() looks up p.constructor[Symbol.species], which sandbox code can
     * replace with a getter; an own `constructor` of undefined makes the
     * engine use its own Promise without asking. */
    if (!JS_IsException(p) &&
        JS_DefinePropertyValueStr(ctx, p, "constructor", JS_UNDEFINED, JS_PROP_CONFIGURABLE) < 0) {
        JS_FreeValue(ctx, p);
        p = JS_EXCEPTION;
    }
    if (JS_IsException(p)) {
        /* Out of memory: settle as failed with what the engine raised. */
        JSValue e = JS_GetException(ctx);
        JSValue r = JS_Call(ctx, on_err, JS_UNDEFINED, 1, &e);
        JS_FreeValue(ctx, r);
        JS_FreeValue(ctx, e);
        return;
    }
    JSValue args[2] = {JS_DupValue(ctx, on_ok), JS_DupValue(ctx, on_err)};
    JSValue r = JS_Call(ctx, sb->promise_then, p, 2, (JSValueConst *)args);
    JS_FreeValue(ctx, r);
    JS_FreeValue(ctx, args[0]);
    JS_FreeValue(ctx, args[1]);
    JS_FreeValue(ctx, p);
}

/* The buffers corral keeps beside a runtime (plain malloc, not in the
 * runtime's block list); the JSValues they hold are not touched. */
void sb_drop_side_buffers(struct sandbox *sb) {
    for (size_t i = 0; i < sb->export_count; i++) free(sb->exports[i].name);
    for (size_t i = 0; i < sb->answer_count; i++) {
        free(sb->answers[i].payload);
        free(sb->answers[i].caps);
    }
    free(sb->answers);
    free(sb->releases);
    free(sb->exports);
    free(sb->pending);
    free(sb->timers);
    free(sb->rejections);
    free(sb->worker_id);
    free(sb->web);
}

int sandbox_assign(struct sandbox *sb, const struct sandbox_config *cfg, corral_error *err) {
    copy_config(sb, cfg);
    char *id = strdup(cfg->worker_id ? cfg->worker_id : "worker");
    if (!id) {
        corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory assigning a sandbox.");
        return -1;
    }
    free(sb->worker_id);
    sb->worker_id = id;
    sb_reset_clocks_and_seed(sb);
    JS_UpdateStackTop(sb->rt);
    JS_SetMaxStackSize(sb->rt, cfg->stack_bytes);
    if (cfg->memory_bytes && sb->heap.footprint > cfg->memory_bytes) {
        corral_error_set(err, CORRAL_ELIMIT, "MemoryLimitError",
                         "A sandbox needs more than the memory limit of %llu bytes to start.",
                         (unsigned long long)cfg->memory_bytes);
        return -1;
    }
    JS_SetMemoryLimit(sb->rt, cfg->memory_bytes ? cfg->memory_bytes : (size_t)-1);
    return 0;
}

void sandbox_free(struct sandbox *sb) {
    if (!sb) return;
#ifndef CORRAL_FULL_TEARDOWN
    /* Everything the runtime holds is in its heap, and no finalizer of
     * ours has work left once the sandbox is closing (the router drops its
     * imports at once), so freeing the heap whole is the whole teardown:
     * no garbage collection, no walk over every object. */
    sb->closing = 1;
    sandbox_release_abandoned(sb);
    return;
#endif
    /* It may be freed on another thread than the one that ran it. */
    if (sb->rt) JS_UpdateStackTop(sb->rt);
    sb->closing = 1;
    if (sb->ctx) {
        JSContext *ctx = sb->ctx;
        for (size_t i = 0; i < sb->export_count; i++) {
            struct sb_export *e = &sb->exports[i];
            if (e->kind == SB_EXPORT_OBJECT) JS_FreeValue(ctx, e->obj);
            if (e->kind == SB_EXPORT_ENTRYPOINT) JS_FreeValue(ctx, e->props);
        }
        for (size_t i = 0; i < sb->pending_cap; i++) {
            if (!sb->pending[i].id) continue;
            JS_FreeValue(ctx, sb->pending[i].resolve);
            JS_FreeValue(ctx, sb->pending[i].reject);
        }
        sb_free_timers(sb);
        for (size_t i = 0; i < sb->rejection_count; i++) JS_FreeValue(ctx, sb->rejections[i]);
        sb_flush_answers(sb);
        sb_free_modules(sb);
        JS_FreeValue(ctx, sb->api);
        JS_FreeValue(ctx, sb->env);
        JS_FreeValue(ctx, sb->ns);
        JS_FreeValue(ctx, sb->start_promise);
        JS_FreeValue(ctx, sb->promise_then);
        sb_web_free(sb);
        JS_FreeContext(ctx);
    }
    if (sb->rt) JS_FreeRuntime(sb->rt);
    heap_release(&sb->heap);
    sb_drop_side_buffers(sb);
    free(sb);
}
