/* Calls across the sandbox boundary: outgoing calls on stubs, incoming
 * calls on entrypoints and exported objects, their answers, timers and
 * fetch completions — every way the host re-enters a sandbox.
 *
 * Each entry point from the host runs one *turn*: it does its work, then
 * drains the promise job queue, so by the time control returns to the host
 * the sandbox is quiescent and its unhandled rejections have been reported.
 * Outgoing calls never re-enter the sandbox synchronously: their answers
 * arrive in later turns, which keeps the ordering the same in-process and
 * across a jailed worker's socket.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/natives.h"

static struct sb_pending *pending_add(struct sandbox *sb) {
    for (size_t i = 0; i < sb->pending_cap; i++)
        if (!sb->pending[i].id) return &sb->pending[i];
    size_t ncap = sb->pending_cap ? sb->pending_cap * 2 : 8;
    struct sb_pending *n = realloc(sb->pending, ncap * sizeof *n);
    if (!n) return NULL;
    memset(n + sb->pending_cap, 0, (ncap - sb->pending_cap) * sizeof *n);
    struct sb_pending *slot = &n[sb->pending_cap];
    sb->pending = n;
    sb->pending_cap = ncap;
    return slot;
}

static struct sb_pending *pending_find(struct sandbox *sb, uint64_t id) {
    for (size_t i = 0; i < sb->pending_cap; i++)
        if (sb->pending[i].id == id) return &sb->pending[i];
    return NULL;
}

static JSValue new_pending(struct sandbox *sb, uint64_t *id_out, int is_fetch) {
    struct sb_pending *p = pending_add(sb);
    if (!p) return JS_ThrowOutOfMemory(sb->ctx);
    JSValue funcs[2];
    JSValue promise = JS_NewPromiseCapability(sb->ctx, funcs);
    if (JS_IsException(promise)) return promise;
    p->id = sb->next_call_id++;
    p->resolve = funcs[0];
    p->reject = funcs[1];
    p->is_fetch = is_fetch;
    p->invocation = sb->current_invocation;
    *id_out = p->id;
    return promise;
}

JSValue sb_rpc_call(struct sandbox *sb, uint64_t target, const char *method, int argc,
                    JSValueConst *argv) {
    JSContext *ctx = sb->ctx;
    size_t len, ncaps;
    struct wire_cap *caps;
    uint8_t *payload =
        sb_encode_args(sb, argc, argv, sb->arg_bytes, "ArgumentSizeLimitError", &len, &caps, &ncaps);
    if (!payload) {
        /* Calls are asynchronous: a value that cannot cross rejects the
         * returned promise rather than throwing at the call site. */
        JSValue err = JS_GetException(ctx);
        JSValue funcs[2];
        JSValue p = JS_NewPromiseCapability(ctx, funcs);
        if (!JS_IsException(p)) {
            JSValue r = JS_Call(ctx, funcs[1], JS_UNDEFINED, 1, (JSValueConst *)&err);
            JS_FreeValue(ctx, r);
            JS_FreeValue(ctx, funcs[0]);
            JS_FreeValue(ctx, funcs[1]);
        }
        JS_FreeValue(ctx, err);
        return p;
    }
    uint64_t id;
    JSValue promise = new_pending(sb, &id, 0);
    if (!JS_IsException(promise)) {
        struct wire_msg m = {.kind = WIRE_MSG_CALL, .id = id, .target = target,
                             .name = method, .name_len = method ? strlen(method) : 0,
                             .caps = caps, .cap_count = ncaps, .payload = payload,
                             .payload_len = len};
        sb->host->send(sb->host_data, sb, &m);
    }
    free(payload);
    free(caps);
    return promise;
}

/* ---- answering incoming calls ------------------------------------------- */

static void send_answer(struct sandbox *sb, uint64_t id, int ok, JSValueConst v) {
    size_t len = 0, ncaps = 0;
    struct wire_cap *caps = NULL;
    uint8_t *payload = sb_encode(sb, v, ok ? sb->result_bytes : sb->arg_bytes,
                                 ok ? "ResultSizeLimitError" : "ArgumentSizeLimitError", &len,
                                 &caps, &ncaps);
    if (!payload) {
        /* The value itself could not cross: answer with why. */
        ok = 0;
        JSValue err = JS_GetException(sb->ctx);
        /* Bounded too: what was thrown may be the sandbox's own value (a
         * getter that throws), as large as it likes. */
        payload = sb_encode(sb, err, sb->arg_bytes, NULL, &len, &caps, &ncaps);
        JS_FreeValue(sb->ctx, err);
        if (!payload) {
            JS_FreeValue(sb->ctx, JS_GetException(sb->ctx));
            payload = engine_error_payload("Error", "The result could not be serialized.", NULL,
                                           &len);
            caps = NULL;
            ncaps = 0;
        }
    }
    if (sb->answer_count == sb->answer_cap) {
        size_t ncap = sb->answer_cap ? sb->answer_cap * 2 : 4;
        struct sb_answer *n = realloc(sb->answers, ncap * sizeof *n);
        if (!n) {
            free(payload);
            free(caps);
            return;
        }
        sb->answers = n;
        sb->answer_cap = ncap;
    }
    sb->answers[sb->answer_count++] =
        (struct sb_answer){.id = id, .ok = ok, .payload = payload, .len = len, .caps = caps,
                           .cap_count = ncaps};
}

void sb_flush_answers(struct sandbox *sb) {
    for (size_t i = 0; i < sb->answer_count; i++) {
        struct sb_answer *a = &sb->answers[i];
        struct wire_msg m = {.kind = a->ok ? WIRE_MSG_RETURN : WIRE_MSG_THROW, .id = a->id,
                             .caps = a->caps, .cap_count = a->cap_count, .payload = a->payload,
                             .payload_len = a->len};
        if (!sb->closing) sb->host->send(sb->host_data, sb, &m);
        free(a->payload);
        free(a->caps);
    }
    sb->answer_count = 0;
}

static JSValue on_settled(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv,
                          int magic, JSValue *data) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = JS_GetContextOpaque(ctx);
    double id;
    JS_ToFloat64(ctx, &id, data[0]);
    send_answer(sb, (uint64_t)id, magic, argc > 0 ? argv[0] : JS_UNDEFINED);
    return JS_UNDEFINED;
}

static void answer_when_settled(struct sandbox *sb, uint64_t id, JSValue promise) {
    JSContext *ctx = sb->ctx;
    JSValue idv = JS_NewFloat64(ctx, (double)id);
    JSValue res = JS_NewCFunctionData(ctx, on_settled, 1, 1, 1, (JSValueConst *)&idv);
    JSValue rej = JS_NewCFunctionData(ctx, on_settled, 1, 0, 1, (JSValueConst *)&idv);
    sb_when_settled(sb, promise, res, rej, 1);
    JS_FreeValue(ctx, res);
    JS_FreeValue(ctx, rej);
    JS_FreeValue(ctx, idv);
    JS_FreeValue(ctx, promise);
}

static void deliver_call(struct sandbox *sb, const struct wire_msg *m, const uint64_t *caps) {
    JSContext *ctx = sb->ctx;
    struct sb_export *e = (m->target >= 1 && m->target <= sb->export_count)
                              ? &sb->exports[m->target - 1]
                              : NULL;
    if (!e || e->kind == SB_EXPORT_FREE) {
        sb_throw_named(ctx, "Error", "The object this stub pointed to no longer exists.");
        JSValue err = JS_GetException(ctx);
        send_answer(sb, m->id, 0, err);
        JS_FreeValue(ctx, err);
        return;
    }
    JSValue args = sb_decode(sb, m->payload, m->payload_len, caps, m->cap_count);
    if (JS_IsException(args)) {
        JSValue err = JS_GetException(ctx);
        send_answer(sb, m->id, 0, err);
        JS_FreeValue(ctx, err);
        return;
    }
    JSValue method = m->name ? JS_NewStringLen(ctx, m->name, m->name_len) : JS_NULL;
    JSValue promise;
    if (e->kind == SB_EXPORT_ENTRYPOINT) {
        sb->current_invocation = m->id;
        JSValue f = JS_GetPropertyStr(ctx, sb->api, "callEntrypoint");
        JSValue argv[7] = {sb->start_promise, JS_NewString(ctx, e->name), e->props, method, args,
                           sb->env, JS_NewFloat64(ctx, (double)m->id)};
        promise = ENGINE_JS(JS_Call(ctx, f, JS_UNDEFINED, 7, argv));
        JS_FreeValue(ctx, f);
        JS_FreeValue(ctx, argv[1]);
        JS_FreeValue(ctx, argv[6]);
    } else {
        JSValue f = JS_GetPropertyStr(ctx, sb->api, "callObject");
        JSValue argv[3] = {e->obj, method, args};
        promise = ENGINE_JS(JS_Call(ctx, f, JS_UNDEFINED, 3, argv));
        JS_FreeValue(ctx, f);
    }
    JS_FreeValue(ctx, method);
    JS_FreeValue(ctx, args);
    if (JS_IsException(promise)) {
        if (sandbox_killed(sb)) return;
        JSValue err = JS_GetException(ctx);
        send_answer(sb, m->id, 0, err);
        JS_FreeValue(ctx, err);
        return;
    }
    answer_when_settled(sb, m->id, promise);
}

static void deliver_answer(struct sandbox *sb, const struct wire_msg *m, const uint64_t *caps) {
    JSContext *ctx = sb->ctx;
    struct sb_pending *p = pending_find(sb, m->id);
    if (!p) return; /* an answer to nothing we asked: ignore */
    JSValue resolve = p->resolve, reject = p->reject;
    sb->current_invocation = p->invocation;
    p->id = 0;
    JSValue v = sb_decode(sb, m->payload, m->payload_len, caps, m->cap_count);
    int ok = m->kind == WIRE_MSG_RETURN;
    if (JS_IsException(v)) {
        v = JS_GetException(ctx);
        ok = 0;
    }
    JSValue r = JS_Call(ctx, ok ? resolve : reject, JS_UNDEFINED, 1, (JSValueConst *)&v);
    JS_FreeValue(ctx, r);
    JS_FreeValue(ctx, v);
    JS_FreeValue(ctx, resolve);
    JS_FreeValue(ctx, reject);
}

void sandbox_release_export(struct sandbox *sb, uint64_t id) {
    if (id < 1 || id > sb->export_count) return;
    struct sb_export *e = &sb->exports[id - 1];
    if (e->kind == SB_EXPORT_FREE) return;
    if (e->kind == SB_EXPORT_OBJECT) JS_FreeValue(sb->ctx, e->obj);
    if (e->kind == SB_EXPORT_ENTRYPOINT) JS_FreeValue(sb->ctx, e->props);
    free(e->name);
    memset(e, 0, sizeof *e);
    e->next_free = sb->export_free;
    sb->export_free = id;
}

void sandbox_deliver(struct sandbox *sb, const struct wire_msg *m, const uint64_t *caps) {
    if (sandbox_killed(sb)) return;
    JS_UpdateStackTop(sb->rt);
    switch (m->kind) {
    case WIRE_MSG_CALL: deliver_call(sb, m, caps); break;
    case WIRE_MSG_RETURN:
    case WIRE_MSG_THROW: deliver_answer(sb, m, caps); break;
    case WIRE_MSG_RELEASE: sandbox_release_export(sb, m->target); break;
    default: break;
    }
    sandbox_run_jobs(sb);
}

int64_t sandbox_export_entrypoint(struct sandbox *sb, const char *name, const uint8_t *props,
                                  size_t props_len, const uint64_t *caps, size_t cap_count) {
    JSValue pv = JS_UNDEFINED;
    if (props && props_len) {
        pv = sb_decode(sb, props, props_len, caps, cap_count);
        if (JS_IsException(pv)) {
            JS_FreeValue(sb->ctx, JS_GetException(sb->ctx));
            return -1;
        }
    }
    /* The slot is taken as an object export, then turned into an entrypoint. */
    uint64_t id = sb_add_export(sb, JS_NULL);
    if (!id) {
        JS_FreeValue(sb->ctx, pv);
        JS_FreeValue(sb->ctx, JS_GetException(sb->ctx));
        return -1;
    }
    struct sb_export *e = &sb->exports[id - 1];
    e->kind = SB_EXPORT_ENTRYPOINT;
    e->obj = JS_UNDEFINED;
    e->name = strdup(name ? name : "default");
    e->props = pv;
    return (int64_t)id;
}

/* ---- timers and fetch ---------------------------------------------------- */

/* Timers live in an open-addressing table keyed by id (ids are never 0),
 * so setting, clearing and firing cost the same with one timer or a
 * million. Deletion shifts later entries back: no tombstones. */
static size_t timer_slot(uint64_t id, size_t cap) {
    id *= 0x9e3779b97f4a7c15ULL;
    return (size_t)(id >> 20) & (cap - 1);
}

static struct sb_timer *timer_find(struct sandbox *sb, uint64_t id) {
    if (!sb->timer_cap) return NULL;
    for (size_t i = timer_slot(id, sb->timer_cap); sb->timers[i].id; i = (i + 1) & (sb->timer_cap - 1))
        if (sb->timers[i].id == id) return &sb->timers[i];
    return NULL;
}

static int timer_grow(struct sandbox *sb) {
    size_t ncap = sb->timer_cap ? sb->timer_cap * 2 : 16;
    struct sb_timer *n = calloc(ncap, sizeof *n);
    if (!n) return -1;
    for (size_t i = 0; i < sb->timer_cap; i++) {
        if (!sb->timers[i].id) continue;
        size_t j = timer_slot(sb->timers[i].id, ncap);
        while (n[j].id) j = (j + 1) & (ncap - 1);
        n[j] = sb->timers[i];
    }
    free(sb->timers);
    sb->timers = n;
    sb->timer_cap = ncap;
    return 0;
}

static void timer_remove(struct sandbox *sb, struct sb_timer *t) {
    size_t hole = (size_t)(t - sb->timers), cap = sb->timer_cap;
    memset(t, 0, sizeof *t);
    sb->timer_count--;
    for (size_t j = (hole + 1) & (cap - 1); sb->timers[j].id; j = (j + 1) & (cap - 1)) {
        size_t home = timer_slot(sb->timers[j].id, cap);
        int movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            sb->timers[hole] = sb->timers[j];
            memset(&sb->timers[j], 0, sizeof sb->timers[j]);
            hole = j;
        }
    }
}

JSValue sb_timer_set(struct sandbox *sb, JSValueConst fn, double delay, int repeat) {
    /* Timers hold host memory outside the sandbox's heap limit, so their
     * number is bounded on its own. */
    if (sb->timer_count >= SB_MAX_TIMERS)
        return JS_ThrowRangeError(sb->ctx,
                                  "Too many timers: a worker may have at most %d pending timers.",
                                  SB_MAX_TIMERS);
    if ((sb->timer_count + 1) * 4 > sb->timer_cap * 3 && timer_grow(sb) < 0)
        return JS_ThrowOutOfMemory(sb->ctx);
    if (!(delay >= 0)) delay = 0;
    uint64_t id = sb->next_timer_id++;
    size_t i = timer_slot(id, sb->timer_cap);
    while (sb->timers[i].id) i = (i + 1) & (sb->timer_cap - 1);
    struct sb_timer *t = &sb->timers[i];
    t->id = id;
    t->fn = JS_DupValue(sb->ctx, fn);
    t->repeat = repeat;
    t->interval = delay;
    t->invocation = sb->current_invocation;
    sb->timer_count++;
    sb->host->timer_set(sb->host_data, sb, id, delay);
    return JS_NewFloat64(sb->ctx, (double)id);
}

void sb_timer_clear(struct sandbox *sb, uint64_t id) {
    struct sb_timer *t = timer_find(sb, id);
    if (!t) return;
    JS_FreeValue(sb->ctx, t->fn);
    timer_remove(sb, t);
    sb->host->timer_clear(sb->host_data, sb, id);
}

void sb_free_timers(struct sandbox *sb) {
    for (size_t i = 0; i < sb->timer_cap; i++)
        if (sb->timers[i].id) JS_FreeValue(sb->ctx, sb->timers[i].fn);
}

void sandbox_fire_timer(struct sandbox *sb, uint64_t id) {
    if (sandbox_killed(sb)) return;
    struct sb_timer *t = timer_find(sb, id);
    if (t) {
        JSValue fn = JS_DupValue(sb->ctx, t->fn);
        sb->current_invocation = t->invocation;
        if (t->repeat) {
            sb->host->timer_set(sb->host_data, sb, id, t->interval);
        } else {
            JS_FreeValue(sb->ctx, t->fn);
            timer_remove(sb, t);
        }
        JS_UpdateStackTop(sb->rt);
        JSValue r = ENGINE_JS(JS_Call(sb->ctx, fn, JS_UNDEFINED, 0, NULL));
        JS_FreeValue(sb->ctx, fn);
        if (JS_IsException(r)) {
            JSValue e = JS_GetException(sb->ctx);
            if (!sandbox_killed(sb)) {
                char *text = sb_describe(sb, e);
                if (text) {
                    sb->host->log(sb->host_data, sb, CORRAL_LOG_ERROR, text, strlen(text));
                    sb->host->unhandled_rejection(sb->host_data, sb, NULL);
                }
                free(text);
            }
            JS_FreeValue(sb->ctx, e);
        }
        JS_FreeValue(sb->ctx, r);
        sandbox_run_jobs(sb);
        return;
    }
}

JSValue sb_fetch(struct sandbox *sb, JSValueConst request) {
    size_t len, ncaps;
    struct wire_cap *caps;
    sb->no_stubs = 1;
    uint8_t *payload = sb_encode(sb, request, sb->arg_bytes, "ArgumentSizeLimitError", &len, &caps,
                                 &ncaps);
    sb->no_stubs = 0;
    if (!payload) return JS_EXCEPTION;
    free(caps);
    uint64_t id;
    JSValue promise = new_pending(sb, &id, 1);
    if (JS_IsException(promise)) {
        free(payload);
        return promise;
    }
    corral_error err = {0};
    if (sb->host->fetch(sb->host_data, sb, id, payload, len, &err) < 0) {
        struct sb_pending *p = pending_find(sb, id);
        JSValue ev = JS_NewError(sb->ctx);
        JS_DefinePropertyValueStr(sb->ctx, ev, "message", JS_NewString(sb->ctx, err.message),
                                  JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
        if (strcmp(err.name, "Error") != 0)
            JS_DefinePropertyValueStr(sb->ctx, ev, "name", JS_NewString(sb->ctx, err.name),
                                      JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
        JSValue r = JS_Call(sb->ctx, p->reject, JS_UNDEFINED, 1, (JSValueConst *)&ev);
        JS_FreeValue(sb->ctx, r);
        JS_FreeValue(sb->ctx, ev);
        JS_FreeValue(sb->ctx, p->resolve);
        JS_FreeValue(sb->ctx, p->reject);
        p->id = 0;
    }
    free(payload);
    return promise;
}

void sandbox_fetch_done(struct sandbox *sb, uint64_t fetch_id, int ok, const uint8_t *payload,
                        size_t len, const uint64_t *caps, size_t cap_count) {
    if (sandbox_killed(sb)) return;
    struct wire_msg m = {.kind = ok ? WIRE_MSG_RETURN : WIRE_MSG_THROW, .id = fetch_id,
                         .payload = payload, .payload_len = len, .cap_count = cap_count};
    JS_UpdateStackTop(sb->rt);
    deliver_answer(sb, &m, caps);
    sandbox_run_jobs(sb);
}
