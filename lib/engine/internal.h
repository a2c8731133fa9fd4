/* What the engine's own files share about a sandbox: the struct itself and
 * the helpers that cross files (value conversion, stubs, the runtime's
 * JavaScript half). Nothing outside lib/engine includes this.
 */
#ifndef CORRAL_ENGINE_INTERNAL_H
#define CORRAL_ENGINE_INTERNAL_H

#include <stdatomic.h>

#include "engine/engine.h"
#include "engine/heap.h"
#include "engine/workercode.h"
#include "quickjs.h"

enum sb_export_kind { SB_EXPORT_FREE = 0, SB_EXPORT_OBJECT, SB_EXPORT_ENTRYPOINT };

struct sb_export {
    enum sb_export_kind kind;
    JSValue obj;                /* OBJECT: the function or RpcTarget */
    char *name;                 /* ENTRYPOINT: export name ("default" ...) */
    JSValue props;              /* ENTRYPOINT: decoded ctx.props */
    uint64_t next_free;
};

struct sb_pending {
    uint64_t id;                /* 0 = free slot */
    JSValue resolve, reject;
    uint64_t invocation;        /* the invocation that made the call */
    int is_fetch;               /* a global fetch() (host->fetch), not an RPC call */
};

#define SB_MAX_TIMERS 65536

struct sb_timer {
    uint64_t id;
    JSValue fn;
    int repeat;
    uint64_t invocation;
    double interval;
};

struct sandbox {
    JSRuntime *rt;
    JSContext *ctx;
    const struct engine_host *host;
    void *host_data;
    char *worker_id;
    struct workercode *code;    /* the module map, for the module loader */
    uint64_t arg_bytes, result_bytes;
    int closing;                /* being freed: finalizers must not send */
    int no_stubs;               /* structuredClone: functions are not cloneable */
    int measuring;              /* encoding only to measure: export nothing */
    uint64_t current_invocation;/* token of the invocation whose turn is running */

    JSValue api;                /* the runtime's internal object (js/runtime.js) */
    /* Promise.prototype.then as the engine made it, taken before any
     * JavaScript ran: what corral itself waits on promises with, so sandbox
     * code that replaces the prototype's `then` cannot keep an answer from
     * being sent, or send two (sb_when_settled). */
    JSValue promise_then;
    /* The engine's Object.prototype, compared by address only (the context
     * holds it): an object whose prototype is this one or null is plain
     * data, with no RpcTarget or uncloneable class in its chain, which the
     * encoder would otherwise ask the runtime's JavaScript about. Its own
     * prototype is immutable, so no sandbox can change what this means. */
    void *object_proto;
    JSValue env;
    JSValue ns;                 /* main module namespace once evaluated */
    JSValue start_promise;      /* pending top-level evaluation */

    struct sb_export *exports;
    size_t export_count, export_cap;
    uint64_t export_free;       /* 1-based index of a free slot, 0 if none */

    struct sb_pending *pending;
    size_t pending_cap;
    uint64_t next_call_id;

    struct sb_timer *timers;
    size_t timer_count, timer_cap;
    uint64_t next_timer_id;

    JSValue *rejections;        /* promises rejected with no handler this turn */
    size_t rejection_count, rejection_cap;

    _Atomic int killed;         /* enum sandbox_kill */
    _Atomic uint64_t cpu_deadline_ns;
    /* sandbox_turn_clock_*: the budget, when the turn began (wall), and
     * the thread's CPU time then (0 until it is read). */
    uint64_t turn_budget_ns, turn_wall0_ns, turn_cpu0_ns;
    struct sb_heap heap;        /* where the runtime allocates (heap.c) */
    JSValue cjs_cache;          /* module name -> module.exports */
    char today[11];
    double start_mono_ms;       /* performance.now()'s zero */
    double time_origin_ms;      /* performance.timeOrigin */
    /* Math.random's xorshift128+ state, seeded from getrandom for every
     * sandbox (sb_reset_clocks_and_seed): QuickJS seeds from the clock, so
     * runtimes built in the same microsecond — or forked from one zygote
     * spare — would share a sequence. */
    uint64_t random_state[2];
    /* Answers wait here until the job queue has drained, so rejections
     * left unhandled by the turn are reported before the call completes. */
    struct sb_answer { uint64_t id; int ok; uint8_t *payload; size_t len; struct wire_cap *caps;
                       size_t cap_count; } *answers;
    size_t answer_count, answer_cap;
    uint64_t *releases;         /* imports to release at the end of the turn (stub.c) */
    size_t release_count, release_cap;
    corral_limits limits;
    uint64_t memory_limit;
    struct sb_web *web;         /* the web globals not loaded yet (lazy.c) */
    const JSMallocState *mstate;/* the runtime's allocation counters */
};

/* Calls on_ok or on_err once when value settles, through the engine's own
 * Promise.prototype.then and Promise (never the sandbox's prototype or
 * species, which its code may have replaced). ours: value is a promise the
 * engine made for corral, never seen by sandbox code; otherwise (a value
 * the sandbox handed over) it is first resolved into a promise of ours. */
void sb_when_settled(struct sandbox *sb, JSValueConst value, JSValueConst on_ok, JSValueConst on_err,
                     int ours);

/* class ids, filled once per process */
extern JSClassID corral_stub_class_id;
extern JSClassID corral_handle_class_id;

/* Small helpers QuickJS (Bellard's) lacks. Array indexes stay below 2^32. */
static inline int sb_length(JSContext *ctx, JSValueConst obj, int64_t *out) {
    JSValue v = JS_GetPropertyStr(ctx, obj, "length");
    if (JS_IsException(v)) return -1;
    int r = JS_ToInt64(ctx, out, v);
    JS_FreeValue(ctx, v);
    if (*out < 0) *out = 0;
    if (*out > 0xffffffffLL) *out = 0xffffffffLL;
    return r;
}

/* sandbox.c */
void sb_drop_side_buffers(struct sandbox *sb);

/* value.c */
/* Encodes v as a payload for `purpose` (limits differ for args and
 * results). On failure throws a JS exception (DataCloneError, size limit)
 * and returns NULL. caps receives the cap list (malloc'd). */
uint8_t *sb_encode(struct sandbox *sb, JSValueConst v, uint64_t limit, const char *limit_name,
                   size_t *len, struct wire_cap **caps, size_t *cap_count);
/* The same for a call's arguments, as the array they would make. */
uint8_t *sb_encode_args(struct sandbox *sb, int argc, JSValueConst *argv, uint64_t limit,
                        const char *limit_name, size_t *len, struct wire_cap **caps,
                        size_t *cap_count);
/* Decodes a payload; stubs index `caps` (import indexes of this sandbox). */
JSValue sb_decode(struct sandbox *sb, const uint8_t *p, size_t len, const uint64_t *caps,
                  size_t cap_count);
JSValue sb_throw_named(JSContext *ctx, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sb_init_class_ids(JSContext *ctx);

/* modcache.c */
/* Compiles module `name` from src (len bytes followed by a NUL) in ctx, or
 * reads it from the process's compiled-module cache. With `resolve`, a
 * module read from the cache has its imports loaded as a compiled one
 * would (the main module); the module loader passes 0 and QuickJS loads
 * them. A module value, or JS_EXCEPTION. */
JSValue sb_compile_module(JSContext *ctx, const char *name, const uint8_t *src, size_t len,
                          int resolve);

/* stub.c */
void sb_register_classes(JSRuntime *rt);
/* A stub for import `index` of this sandbox; flags are WIRE_CAP_F_*. */
JSValue sb_new_stub(struct sandbox *sb, uint64_t index, uint8_t flags);
/* If v is a stub: its import index and flags. */
int sb_stub_info(JSValueConst v, uint64_t *index, uint8_t *flags);
uint64_t sb_add_export(struct sandbox *sb, JSValueConst obj);
void sb_flush_releases(struct sandbox *sb);
JSValue sb_rpc_call(struct sandbox *sb, uint64_t target, const char *method, int argc,
                    JSValueConst *argv);

/* lazy.c: the web globals (the parts in js/web/), each loaded on first use. */
/* Defines every web global on the global object as an accessor that loads
 * its part; keeps `native` for the parts' installers. -1 with an exception. */
int sb_web_install(struct sandbox *sb, JSValueConst native);
/* A function web(name[, peek]) for js/runtime.js: the real web global. */
JSValue sb_web_lookup_fn(struct sandbox *sb);
/* Drops the references kept for the parts; before the context is freed. */
void sb_web_free(struct sandbox *sb);

#endif
