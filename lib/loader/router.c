/* The router: every message a sandbox sends passes through here. Caps in
 * a message are translated from the sender's import table to crefs and
 * installed into the receiver's table, so a sandbox can only name what it
 * holds; calls are recorded so answers find their way back; calls on
 * entrypoints start invocations. The engine_host callbacks are the
 * sandbox's side of that contract.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "loader/code.h"
#include "loader/loader.h"
#include "wire/wire.h"

/* ---- routing ------------------------------------------------------------- */

struct call_rec *ld_call_new(corral_loader *l) {
    struct call_rec *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->id = ++l->next_call_id;
    ld_call_link(l, c);
    return c;
}

struct call_rec *ld_call_from(corral_loader *l, struct worker *w, uint64_t call_id) {
    struct call_rec *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->id = ++l->next_call_id;
    c->from = w;
    w->refs++;
    c->from_gen = w->gen;
    c->from_call_id = call_id;
    return c;
}

void ld_call_link(corral_loader *l, struct call_rec *c) {
    if (ld_idmap_put(&l->call_ids, c->id, c) < 0) return; /* unreachable: its answer is dropped */
    c->prev = NULL;
    c->next = l->calls;
    if (l->calls) l->calls->prev = c;
    l->calls = c;
}

struct call_rec *ld_call_take(corral_loader *l, uint64_t id) {
    struct call_rec *c = ld_idmap_take(&l->call_ids, id);
    if (!c) return NULL;
    if (c->prev) c->prev->next = c->next;
    else l->calls = c->next;
    if (c->next) c->next->prev = c->prev;
    c->next = c->prev = NULL;
    return c;
}

uint64_t ld_run_turn_begin(struct worker *w, uint64_t *start_cpu) {
    uint64_t now = ld_box_cpu_now(w);
    *start_cpu = now;
    uint64_t budget = 0;
    for (struct invocation *i = w->active; i; i = i->next_active) {
        uint64_t lim = i->limits.cpu_ms * 1000000ull;
        uint64_t left = lim > i->cpu_ns ? lim - i->cpu_ns : 1;
        if (!budget || left < budget) budget = left;
    }
    if (!budget) budget = w->limits.cpu_ms * 1000000ull;
    ld_box_set_deadline(w, now + budget);
    return now + budget;
}

/* The jailed worker process holding w's sandbox died: its invocations and
 * callers get SandboxCrashedError naming the cause; the worker restarts
 * from its code on the next call, in a healthy process. */
static void worker_crashed(corral_loader *l, struct worker *w) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s", ld_box_crash_message(w));
    while (w->active) {
        struct invocation *inv = w->active;
        ld_inv_fail(l, inv, CORRAL_OUTCOME_CRASHED, "SandboxCrashedError", "%s", msg);
        if (w->active == inv) ld_inv_unlink_active(inv);
    }
    ld_worker_discard_sandbox(w);
    ld_fail_calls_to(l, w, "SandboxCrashedError", msg);
    ld_cache_remove(l, w);
}

void ld_kill_worker_invocations(corral_loader *l, struct worker *w, enum sandbox_kill k) {
    if (k == SANDBOX_KILL_CRASHED) {
        worker_crashed(l, w);
        return;
    }
    const char *name = k == SANDBOX_KILL_MEMORY ? "MemoryLimitError"
                       : k == SANDBOX_KILL_WALL ? "WallTimeLimitError"
                                                : "CpuLimitError";
    corral_outcome o = k == SANDBOX_KILL_MEMORY ? CORRAL_OUTCOME_EXCEEDED_MEMORY
                       : k == SANDBOX_KILL_WALL ? CORRAL_OUTCOME_EXCEEDED_WALL
                                                : CORRAL_OUTCOME_EXCEEDED_CPU;
    while (w->active) {
        struct invocation *inv = w->active;
        if (k == SANDBOX_KILL_MEMORY)
            ld_inv_fail(l, inv, o, name, "The worker exceeded its memory limit of %llu bytes.",
                     (unsigned long long)inv->limits.memory_bytes);
        else if (k == SANDBOX_KILL_WALL)
            ld_inv_fail(l, inv, o, name, "The invocation exceeded its wall-time limit of %llu ms.",
                     (unsigned long long)inv->limits.wall_ms);
        else
            ld_inv_fail(l, inv, o, name, "The worker exceeded its CPU time limit of %llu ms.",
                     (unsigned long long)inv->limits.cpu_ms);
        if (w->active == inv) ld_inv_unlink_active(inv);
    }
    /* Callers of the worker (a parent awaiting it) get the same named
     * error, with the limit's value, as its own invocations. */
    char msg[160];
    if (k == SANDBOX_KILL_MEMORY)
        snprintf(msg, sizeof msg, "The worker exceeded its memory limit of %llu bytes.",
                 (unsigned long long)w->limits.memory_bytes);
    else if (k == SANDBOX_KILL_WALL)
        snprintf(msg, sizeof msg, "The invocation exceeded its wall-time limit of %llu ms.",
                 (unsigned long long)w->limits.wall_ms);
    else
        snprintf(msg, sizeof msg, "The worker exceeded its CPU time limit of %llu ms.",
                 (unsigned long long)w->limits.cpu_ms);
    ld_worker_discard_sandbox(w);
    ld_fail_calls_to(l, w, name, msg);
    ld_cache_remove(l, w);
}

void ld_abort_worker(corral_loader *l, struct worker *w, const char *message) {
    w->refs++;
    while (w->active) {
        struct invocation *inv = w->active;
        ld_inv_fail(l, inv, CORRAL_OUTCOME_CANCELED, "AbortError", "%s", message);
        if (w->active == inv) ld_inv_unlink_active(inv);
    }
    ld_worker_discard_sandbox(w);
    ld_fail_calls_to(l, w, "AbortError", message);
    ld_cache_remove(l, w);
    ld_worker_unref(w);
}

void ld_run_turn_end(corral_loader *l, struct worker *w, uint64_t start_cpu) {
    if (!ld_box_live(w)) return;
    if (w->sb_escaped) {
        uint64_t used = engine_thread_cpu_since(start_cpu);
        for (struct invocation *i = w->active; i; i = i->next_active) i->cpu_ns += used;
        ld_kill_worker_invocations(l, w, SANDBOX_KILL_CPU);
        return;
    }
    uint64_t used = ld_box_turn_cpu(w, start_cpu);
    ld_box_set_deadline(w, 0);
    for (struct invocation *i = w->active; i; i = i->next_active) i->cpu_ns += used;
    enum sandbox_kill k = ld_box_killed(w);
    if (k) ld_kill_worker_invocations(l, w, k);
}

static uint64_t *install_caps(struct worker *w, struct cref **caps, size_t n) {
    uint64_t *idx = calloc(n ? n : 1, sizeof *idx);
    if (!idx) return NULL;
    for (size_t i = 0; i < n; i++) {
        int64_t k = ld_import_add(w, caps[i]);
        if (k < 0) {
            free(idx);
            return NULL;
        }
        idx[i] = (uint64_t)k;
    }
    return idx;
}


void ld_answer_error(corral_loader *l, struct call_rec *c, const char *name,
                         const char *message) {
    size_t len;
    uint8_t *p = engine_error_payload(name, message, NULL, &len);
    if (p) ld_answer_to(l, c, 0, p, len, NULL, 0);
    free(p);
}

/* Delivers an answer to whoever made call c (and frees c). */
void ld_answer_to(corral_loader *l, struct call_rec *c, int ok, const uint8_t *p, size_t len,
                      struct cref **caps, size_t ncaps) {
    if (c->to_host) {
        struct invocation *inv = ld_inv_find(l, c->invocation);
        if (inv) ld_inv_answer(l, inv, ok, p, len, ncaps);
        free(c);
        return;
    }
    struct worker *w = c->from;
    if (w && ld_box_live(w) && w->gen == c->from_gen) {
        struct task *t = calloc(1, sizeof *t);
        if (t) {
            t->w = w;
            w->refs++;
            t->gen = w->gen;
            t->msg_kind = c->is_fetch ? (ok ? TASK_FETCH_OK : TASK_FETCH_FAILED)
                                     : (ok ? WIRE_MSG_RETURN : WIRE_MSG_THROW);
            t->id = c->from_call_id;
            t->payload = malloc(len ? len : 1);
            if (t->payload) memcpy(t->payload, p, len);
            t->payload_len = len;
            if (ncaps) {
                t->caps = calloc(ncaps, sizeof *t->caps);
                for (size_t i = 0; t->caps && i < ncaps; i++) {
                    t->caps[i] = caps[i];
                    caps[i]->refs++;
                }
                t->cap_count = t->caps ? ncaps : 0;
            }
            ld_task_push(l, t);
        }
    }
    if (w) ld_worker_unref(w);
    if (c->callee) ld_worker_unref(c->callee);
    free(c);
}

void ld_fail_calls_to(corral_loader *l, struct worker *w, const char *name, const char *msg) {
    for (;;) {
        struct call_rec *found = NULL;
        for (struct call_rec *c = l->calls; c; c = c->next)
            if (c->callee == w) found = c;
        if (!found) break;
        ld_call_take(l, found->id);
        ld_answer_error(l, found, name, msg);
    }
}

/* Routes a CALL made by sandbox `from` (or the host, from == NULL) to
 * cref `target`. */

static void capability_call(corral_loader *l, struct call_rec *c, struct cref *target,
                            const char *method, const uint8_t *payload, size_t len, size_t ncaps,
                            const char *worker_id) {
    corral_capability *cap = target->cap;
    struct cap_method *m = NULL;
    for (size_t i = 0; method && i < cap->method_count; i++)
        if (strcmp(cap->methods[i].name, method) == 0) m = &cap->methods[i];
    if (!m) {
        char msg[512];
        snprintf(msg, sizeof msg, "The RPC receiver does not implement the method \"%s\".",
                 method ? method : "(call)");
        ld_answer_error(l, c, "TypeError", msg);
        return;
    }
    int st;
    struct wire_limits lim = {.cap_count = ncaps};
    char *json = wire_to_json(payload, len, &lim, 64u << 20, &st);
    if (!json) {
        ld_answer_error(l, c, "DataCloneError", "The arguments could not be converted to JSON.");
        return;
    }
    struct corral_call *call = calloc(1, sizeof *call);
    if (!call) {
        free(json);
        ld_answer_error(l, c, "Error", "Out of memory.");
        return;
    }
    call->l = l;
    call->call_id = c->id;
    call->method = strdup(method);
    call->args_json = json;
    call->args_len = strlen(json);
    call->worker_id = strdup(worker_id ? worker_id : "host");
    call->next = l->host_calls;
    if (l->host_calls) l->host_calls->prev = call;
    l->host_calls = call;
    l->host_call_count++;
    /* c stays listed until the host completes */
    ld_call_link(l, c);
    m->fn(call, m->ud);
}

struct invocation *ld_inv_new(corral_loader *l, struct worker *w, const char *entry,
                                  const char *method, const corral_limits *extra, uint64_t id) {
    struct invocation *inv = calloc(1, sizeof *inv);
    if (!inv) return NULL;
    inv->w = w;
    w->refs++;
    inv->entrypoint = strdup(entry ? entry : "default");
    inv->method = strdup(method ? method : "(call)");
    inv->limits = w->limits;
    if (extra) ld_limits_lower(&inv->limits, extra);
    inv->wall_start_ms = ld_mono_ms();
    inv->id = id;
    inv->wall_timer = ld_timer_add(l, inv->wall_start_ms + (double)inv->limits.wall_ms, NULL, id);
    if (ld_idmap_put(&l->inv_ids, id, inv) < 0) {
        ld_timer_cancel(l, inv->wall_timer);
        free(inv->entrypoint);
        free(inv->method);
        ld_worker_unref(w);
        free(inv);
        return NULL;
    }
    inv->next_all = l->invocations;
    if (l->invocations) l->invocations->prev_all = inv;
    l->invocations = inv;
    l->inv_live++;
    inv->next_active = w->active;
    w->active = inv;
    l->invocation_count++;
    return inv;
}

void ld_route_call(corral_loader *l, struct worker *from, uint64_t from_call_id,
                       uint64_t invocation, struct cref *target, const char *method,
                       const uint8_t *payload, size_t len, struct cref **caps, size_t ncaps,
                       struct call_rec *host_rec) {
    struct call_rec *c = host_rec ? host_rec : ld_call_from(l, from, from_call_id);
    if (!c) return;
    ld_call_take(l, c->id); /* re-listed below once it has a callee */
    if (!host_rec) c->invocation = invocation;
    switch (target->kind) {
    case CREF_CAPABILITY:
        capability_call(l, c, target, method, payload, len, ncaps, from ? from->id : NULL);
        return;
    case CREF_HANDLE:
        ld_answer_error(l, c, "TypeError",
                     "A WorkerStub has no RPC methods: call getEntrypoint() first.");
        return;
    case CREF_DEAD:
        ld_answer_error(l, c, "Error", "The object this stub pointed to no longer exists.");
        return;
    case CREF_OBJECT:
    case CREF_ENTRY: break;
    }
    struct worker *w = target->w;
    if (target->kind == CREF_OBJECT && w->gen != target->gen) {
        ld_answer_error(l, c, "Error",
                     "The object this stub pointed to no longer exists (its worker was "
                     "restarted).");
        return;
    }
    struct task *t = calloc(1, sizeof *t);
    if (!t) {
        ld_answer_error(l, c, "Error", "Out of memory.");
        return;
    }
    t->w = w;
    w->refs++;
    t->gen = target->gen;
    t->msg_kind = WIRE_MSG_CALL;
    t->target = target->obj;
    if (target->kind == CREF_OBJECT) {
        t->target_ref = target;
        target->refs++;
    }
    t->name = method ? strdup(method) : NULL;
    t->payload = malloc(len ? len : 1);
    if (t->payload && len) memcpy(t->payload, payload, len);
    t->payload_len = len;
    t->caps = calloc(ncaps ? ncaps : 1, sizeof *t->caps);
    for (size_t i = 0; t->caps && i < ncaps; i++) {
        t->caps[i] = caps[i];
        caps[i]->refs++;
    }
    t->cap_count = ncaps;
    if (target->kind == CREF_ENTRY) {
        t->entry = target;
        target->refs++;
        if (!c->to_host) {
            struct invocation *inv = ld_inv_new(l, w, target->entry, method, &target->limits, c->id);
            if (inv) {
                inv->is_fetch = method && strcmp(method, "fetch") == 0;
            }
        }
    }
    c->callee = w;
    w->refs++;
    ld_call_link(l, c);
    t->id = c->id;
    ld_task_push(l, t);
}

struct deliver_turn {
    struct worker *w;
    struct task *t;
    uint64_t *idx;
};

static void deliver_in_turn(void *arg);

/* The call that started a worker whose start failed: answered with why,
 * and its invocation ended with the matching outcome. Frees t. */
static void fail_start(corral_loader *l, struct task *t, const corral_error *err) {
    struct call_rec *c = ld_call_take(l, t->id);
    if (c) {
        struct invocation *inv = ld_inv_find(l, c->id);
        int crashed = strcmp(err->name, "SandboxCrashedError") == 0;
        if (inv && (err->status == CORRAL_ELIMIT || crashed)) {
            ld_inv_fail(l, inv, crashed ? CORRAL_OUTCOME_CRASHED
                                : strcmp(err->name, "MemoryLimitError") == 0
                                    ? CORRAL_OUTCOME_EXCEEDED_MEMORY
                                    : CORRAL_OUTCOME_EXCEEDED_CPU,
                     err->name, "%s", err->message);
        }
        ld_answer_error(l, c, err->name, err->message);
    }
    ld_task_free(t);
}

/* Runs one delivery task. */
void ld_run_task(corral_loader *l, struct task *t) {
    struct worker *w = t->w;
    if (t->msg_kind == WIRE_MSG_CALL && w->state == W_WAITING_CODE) {
        /* park until the factory answers */
        t->next = NULL;
        if (w->parked_tail) w->parked_tail->next = t;
        else w->parked = t;
        w->parked_tail = t;
        return;
    }
    if (t->msg_kind == WIRE_MSG_CALL && w->state == W_FAILED) {
        struct call_rec *c = ld_call_take(l, t->id);
        if (c) ld_answer_error(l, c, w->fail.name, w->fail.message);
        ld_task_free(t);
        return;
    }
    if (t->msg_kind == WIRE_MSG_CALL && !ld_box_live(w)) {
        if (t->entry) {
            corral_error err = {0};
            if (ld_worker_start(w, &err) < 0) {
                fail_start(l, t, &err);
                return;
            }
            t->gen = w->gen;
        } else {
            struct call_rec *c = ld_call_take(l, t->id);
            if (c) ld_answer_error(l, c, "Error", "The object this stub pointed to no longer exists.");
            ld_task_free(t);
            return;
        }
    }
    if (!ld_box_live(w) || (t->msg_kind != WIRE_MSG_CALL && t->gen != w->gen) ||
        (t->msg_kind == WIRE_MSG_CALL && !t->entry && t->gen != w->gen)) {
        if (t->msg_kind == WIRE_MSG_CALL) {
            struct call_rec *c = ld_call_take(l, t->id);
            if (c) ld_answer_error(l, c, "Error", "The worker this stub pointed to has stopped.");
        }
        ld_task_free(t);
        return;
    }
    struct deliver_turn dt = {.w = w, .t = t, .idx = install_caps(w, t->caps, t->cap_count)};
    uint64_t start;
    uint64_t deadline = ld_run_turn_begin(w, &start);
    ld_guarded_turn(l, w, deadline, deliver_in_turn, &dt);
    free(dt.idx);
    if (w->start_unchecked && !ld_box_live(w)) w->start_unchecked = 0;
    if (w->start_unchecked) {
        /* The START sent with this turn failed: the turn ran nothing, and
         * the call fails as it would have before it was sent. */
        corral_error err = {0};
        if (ld_worker_check_start(w, ld_box_start_kill(w), &err) < 0) {
            fail_start(l, t, &err);
            return;
        }
    }
    ld_run_turn_end(l, w, start);
    ld_task_free(t);
}

static void deliver_in_turn(void *arg) {
    struct deliver_turn *dt = arg;
    struct worker *w = dt->w;
    struct task *t = dt->t;
    uint64_t *idx = dt->idx;
    if (t->msg_kind == TASK_FETCH_OK || t->msg_kind == TASK_FETCH_FAILED) {
        ld_box_fetch_done(w, t->id, t->msg_kind == TASK_FETCH_OK, t->payload, t->payload_len, idx,
                          t->cap_count);
    } else {
        struct wire_msg m = {.kind = t->msg_kind, .id = t->id, .target = t->target,
                             .name = t->name, .name_len = t->name ? strlen(t->name) : 0,
                             .cap_count = t->cap_count, .payload = t->payload,
                             .payload_len = t->payload_len};
        if (t->entry) {
            uint64_t *pidx = install_caps(w, t->entry->props_caps, t->entry->props_cap_count);
            ld_box_deliver_entry(w, t->entry, pidx, &m, idx);
        } else {
            ld_box_deliver(w, &m, idx);
        }
    }
}

/* The trace event Workers hands a tail worker's tail(events) handler, one
 * per invocation: outcome, timing, the console lines and the exception. */
static uint8_t *trace_event(const struct invocation *inv, const corral_result *r, size_t *len) {
    struct wire_buf b;
    wire_buf_init(&b, 0);
    wire_put_header(&b);
    wire_put_array_begin(&b, 1); /* the arguments: tail(events) */
    wire_put_array_begin(&b, 1); /* events: one per invocation */
    wire_put_object_begin(&b, 9);
    wire_put_key(&b, "scriptName", 10);
    wire_put_string(&b, r->worker_id, strlen(r->worker_id));
    wire_put_key(&b, "entrypoint", 10);
    wire_put_string(&b, r->entrypoint, strlen(r->entrypoint));
    wire_put_key(&b, "outcome", 7);
    const char *o = corral_outcome_name(r->outcome);
    wire_put_string(&b, o, strlen(o));
    wire_put_key(&b, "eventTimestamp", 14);
    wire_put_number(&b, (double)(int64_t)(ld_real_ms() - r->wall_ms));
    wire_put_key(&b, "event", 5);
    if (inv->is_fetch) {
        wire_put_object_begin(&b, 1);
        wire_put_key(&b, "request", 7);
        wire_put_object_begin(&b, 0);
    } else {
        wire_put_object_begin(&b, 1);
        wire_put_key(&b, "rpcMethod", 9);
        wire_put_string(&b, r->method, strlen(r->method));
    }
    wire_put_key(&b, "logs", 4);
    wire_put_array_begin(&b, r->log_count);
    for (size_t i = 0; i < r->log_count; i++) {
        const char *lv = corral_log_level_name(r->logs[i].level);
        wire_put_object_begin(&b, 3);
        wire_put_key(&b, "level", 5);
        wire_put_string(&b, lv, strlen(lv));
        wire_put_key(&b, "message", 7);
        wire_put_array_begin(&b, 1);
        wire_put_string(&b, r->logs[i].text, strlen(r->logs[i].text));
        wire_put_key(&b, "timestamp", 9);
        wire_put_number(&b, (double)(int64_t)r->logs[i].timestamp_ms);
    }
    wire_put_key(&b, "exceptions", 10);
    if (r->outcome != CORRAL_OUTCOME_OK && r->error_name) {
        wire_put_array_begin(&b, 1);
        wire_put_object_begin(&b, 3);
        wire_put_key(&b, "name", 4);
        wire_put_string(&b, r->error_name, strlen(r->error_name));
        wire_put_key(&b, "message", 7);
        const char *m = r->error_message ? r->error_message : "";
        wire_put_string(&b, m, strlen(m));
        wire_put_key(&b, "timestamp", 9);
        wire_put_number(&b, (double)(int64_t)ld_real_ms());
    } else {
        wire_put_array_begin(&b, 0);
    }
    wire_put_key(&b, "cpuTime", 7);
    wire_put_number(&b, (double)(int64_t)r->cpu_ms);
    wire_put_key(&b, "wallTime", 8);
    wire_put_number(&b, (double)(int64_t)r->wall_ms);
    return wire_buf_take(&b, len);
}

void ld_deliver_tails(corral_loader *l, struct invocation *inv, const corral_result *r) {
    struct worker *w = inv->w;
    size_t len;
    uint8_t *p = trace_event(inv, r, &len);
    if (!p) return;
    for (size_t i = w->env_cap_count - w->tail_count; i < w->env_cap_count; i++) {
        /* Nobody awaits a tail's answer (from is NULL), but the call on the
         * tail's entrypoint is an invocation of its own, with its limits. */
        struct call_rec *c = ld_call_new(l);
        if (!c) break;
        ld_route_call(l, NULL, 0, 0, w->env_caps[i], "tail", p, len, NULL, 0, c);
    }
    free(p);
}

/* ---- the engine_host callbacks ------------------------------------------- */

/* The invocation a callback runs for, if it is one of w's own: a jailed
 * worker names it in each upcall, and may name anything. */
static struct invocation *current_inv(struct worker *w, struct sandbox *sb) {
    struct invocation *inv = ld_inv_find(w->l, ld_box_invocation(w, sb));
    return inv && inv->w == w ? inv : NULL;
}

static void h_send(void *host, struct sandbox *sb, const struct wire_msg *m) {
    struct worker *w = host;
    corral_loader *l = w->l;
    if (m->kind == WIRE_MSG_RELEASE) {
        struct cref *c = ld_import_get(w, m->target);
        if (c) {
            w->imports[m->target] = NULL;
            /* keep the slot (indexes are positional); a NULL entry is dead */
            ld_cref_unref(c);
        }
        return;
    }
    if (m->kind == WIRE_MSG_RETURN || m->kind == WIRE_MSG_THROW) {
        struct call_rec *c = ld_call_take(l, m->id);
        if (!c) return;
        if (c->callee != w) {
            /* Only the sandbox a call was routed to may answer it: a jailed
             * worker naming another sandbox's call id is ignored. */
            ld_call_link(l, c);
            return;
        }
        corral_error err = {0};
        struct cref **caps = ld_caps_from_sandbox(w, m->caps, m->cap_count, &err);
        if (!caps) {
            ld_answer_error(l, c, err.name[0] ? err.name : "Error", err.message);
            return;
        }
        /* answers to the host: record for the invocation */
        if (c->to_host) {
            struct invocation *inv = ld_inv_find(l, c->invocation);
            if (inv) ld_inv_answer(l, inv, m->kind == WIRE_MSG_RETURN, m->payload, m->payload_len,
                                m->cap_count);
            ld_crefs_free(caps, m->cap_count);
            if (c->callee) ld_worker_unref(c->callee);
            free(c);
            return;
        }
        struct invocation *inv = ld_inv_find(l, c->id);
        if (inv) ld_inv_answer(l, inv, m->kind == WIRE_MSG_RETURN, m->payload, m->payload_len,
                            m->cap_count);
        ld_answer_to(l, c, m->kind == WIRE_MSG_RETURN, m->payload, m->payload_len, caps,
                  m->cap_count);
        ld_crefs_free(caps, m->cap_count);
        return;
    }
    if (m->kind != WIRE_MSG_CALL) return;
    struct invocation *inv = current_inv(w, sb);
    uint64_t invocation = inv ? inv->id : 0;
    struct cref *target = ld_import_get(w, m->target);
    /* As "%.*s" would print it (up to a NUL), without printf on every call. */
    char method[1100];
    size_t method_max = m->name_len < sizeof method ? m->name_len : sizeof method - 1;
    size_t method_len = m->name ? strnlen(m->name, method_max) : 0;
    if (method_len) memcpy(method, m->name, method_len);
    method[method_len] = 0;
    if (inv && target && target->kind == CREF_CAPABILITY && ++inv->calls > inv->limits.calls) {
        struct call_rec *c = ld_call_from(l, w, m->id);
        if (!c) return;
        char msg[256];
        snprintf(msg, sizeof msg, "The invocation made more than %llu capability calls (the calls limit).",
                 (unsigned long long)inv->limits.calls);
        ld_answer_error(l, c, "CallLimitError", msg);
        ld_inv_fail(l, inv, CORRAL_OUTCOME_EXCEEDED_LIMIT, "CallLimitError", "%s", msg);
        return;
    }
    corral_error err = {0};
    struct cref **caps = ld_caps_from_sandbox(w, m->caps, m->cap_count, &err);
    if (!target || !caps) {
        ld_crefs_free(caps, caps ? m->cap_count : 0);
        struct call_rec *c = ld_call_from(l, w, m->id);
        if (!c) return;
        ld_answer_error(l, c, err.name[0] ? err.name : "Error",
                     err.message[0] ? err.message : "This stub is not valid in this worker.");
        return;
    }
    ld_route_call(l, w, m->id, invocation, target, m->name ? method : NULL, m->payload,
               m->payload_len, caps, m->cap_count, NULL);
    ld_crefs_free(caps, m->cap_count);
}

static int64_t h_load(void *host, struct sandbox *sb, struct workercode *code, corral_error *err) {
    struct worker *parent = host;
    corral_loader *l = parent->l;
    struct worker *w = ld_worker_new(l, NULL);
    if (!w) {
        wc_free(code);
        return -1;
    }
    w->is_dynamic = 1;
    if (ld_worker_set_code(w, code, parent, err) < 0) {
        ld_worker_unref(w);
        return -1;
    }
    struct cref *c = ld_cref_new(CREF_HANDLE);
    c->w = w; /* takes the worker's first reference */
    int64_t idx = ld_import_add(parent, c);
    ld_cref_unref(c);
    return idx;
}

static int64_t h_get(void *host, struct sandbox *sb, const char *id, int *need_code,
                     corral_error *err) {
    struct worker *parent = host;
    corral_loader *l = parent->l;
    struct worker *w = id ? ld_cache_find(l, id) : NULL;
    *need_code = 0;
    if (w) {
        ld_lru_touch(l, w);
        w->refs++;
    } else {
        w = ld_worker_new(l, id);
        if (!w) return -1;
        w->is_dynamic = 1;
        w->state = W_WAITING_CODE;
        w->parent = parent;
        parent->refs++;
        if (id) ld_cache_insert(l, w);
        *need_code = 1;
    }
    struct cref *c = ld_cref_new(CREF_HANDLE);
    c->w = w;
    int64_t idx = ld_import_add(parent, c);
    ld_cref_unref(c);
    return idx;
}

static void unpark(corral_loader *l, struct worker *w) {
    while (w->parked) {
        struct task *t = w->parked;
        w->parked = t->next;
        ld_task_push(l, t);
    }
    w->parked_tail = NULL;
}

static void h_provide(void *host, struct sandbox *sb, uint64_t handle, struct workercode *code,
                      const corral_error *failure) {
    struct worker *parent = host;
    corral_loader *l = parent->l;
    struct cref *c = ld_import_get(parent, handle);
    if (!c || c->kind != CREF_HANDLE || c->w->state != W_WAITING_CODE) {
        wc_free(code);
        return;
    }
    struct worker *w = c->w;
    if (w->parent) {
        ld_worker_unref(w->parent);
        w->parent = NULL;
    }
    corral_error err = {0};
    if (!code || ld_worker_set_code(w, code, parent, &err) < 0) {
        w->state = W_FAILED;
        w->fail = code ? err : *failure;
        if (!code && !w->fail.name[0]) strcpy(w->fail.name, "Error");
        ld_cache_remove(l, w);
    }
    unpark(l, w);
}

static int64_t h_entrypoint(void *host, struct sandbox *sb, uint64_t handle, const char *name,
                            const uint8_t *props, size_t props_len, const struct wire_cap *caps,
                            size_t cap_count, const corral_limits *limits, uint8_t *flags,
                            corral_error *err) {
    struct worker *self = host;
    struct worker *target;
    if (handle == LOOPBACK_HANDLE) {
        target = self;
    } else {
        struct cref *c = ld_import_get(self, handle);
        if (!c || c->kind != CREF_HANDLE) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError", "Not a worker handle.");
            return -1;
        }
        target = c->w;
    }
    struct cref *e = ld_cref_new(CREF_ENTRY);
    if (!e) return -1;
    e->w = target;
    target->refs++;
    e->entry = strdup(name);
    e->flags = target->is_dynamic && handle != LOOPBACK_HANDLE ? WIRE_CAP_F_NO_TRANSFER : 0;
    if (limits) e->limits = *limits;
    if (props && props_len) {
        e->props = malloc(props_len);
        if (e->props) memcpy(e->props, props, props_len);
        e->props_len = props_len;
        e->props_caps = ld_caps_from_sandbox(self, caps, cap_count, err);
        if (!e->props_caps) {
            ld_cref_unref(e);
            return -1;
        }
        e->props_cap_count = cap_count;
    }
    int64_t idx = ld_import_add(self, e);
    *flags = e->flags;
    ld_cref_unref(e);
    return idx;
}

static void h_log(void *host, struct sandbox *sb, corral_log_level level, const char *text,
                  size_t len) {
    struct worker *w = host;
    struct invocation *inv = current_inv(w, sb);
    if (!inv || inv->finished) inv = w->active;
    if (inv) ld_inv_log(inv, level, text, len);
}

static void h_timer_set(void *host, struct sandbox *sb, uint64_t id, double delay_ms) {
    struct worker *w = host;
    ld_timer_cancel(w->l, ld_timer_find(w, id));
    ld_timer_add(w->l, ld_mono_ms() + delay_ms, w, id);
}

static void h_timer_clear(void *host, struct sandbox *sb, uint64_t id) {
    struct worker *w = host;
    ld_timer_cancel(w->l, ld_timer_find(w, id));
}

static const char blocked_msg[] =
    "This worker is not permitted to access the internet via global functions like fetch(). It "
    "must use capabilities (such as bindings in 'env') to talk to the outside world.";

static int h_fetch(void *host, struct sandbox *sb, uint64_t fetch_id, const uint8_t *req,
                   size_t req_len, corral_error *err) {
    struct worker *w = host;
    corral_loader *l = w->l;
    struct invocation *inv = current_inv(w, sb);
    if (inv && ++inv->subrequests > inv->limits.subrequests) {
        corral_error_set(err, CORRAL_ELIMIT, "SubrequestLimitError",
                         "The invocation made more than %llu outbound requests (the subRequests "
                         "limit).",
                         (unsigned long long)inv->limits.subrequests);
        ld_inv_fail(l, inv, CORRAL_OUTCOME_EXCEEDED_LIMIT, "SubrequestLimitError", "%s", err->message);
        return -1;
    }
    /* Resolve inheritance up the parent chain. */
    struct worker *o = w;
    while (o->outbound == WC_OUTBOUND_DEFAULT && o->parent) o = o->parent;
    if (o->outbound == WC_OUTBOUND_STUB && o->outbound_stub) {
        /* fetch(request) on the gateway: args = [packed request] */
        struct wire_buf b;
        wire_buf_init(&b, 0);
        wire_put_header(&b);
        wire_put_array_begin(&b, 1);
        wire_put_raw(&b, req + 1, req_len - 1);
        size_t len;
        uint8_t *args = wire_buf_take(&b, &len);
        if (!args) {
            corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory.");
            return -1;
        }
        struct call_rec *c = ld_call_from(l, w, fetch_id);
        if (!c) {
            free(args);
            corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory.");
            return -1;
        }
        c->is_fetch = 1;
        c->invocation = inv ? inv->id : 0;
        ld_route_call(l, w, fetch_id, c->invocation, o->outbound_stub, "fetch", args, len, NULL, 0, c);
        free(args);
        return 0;
    }
    if (o->outbound == WC_OUTBOUND_HOST && l->outbound) {
        struct ld_http_msg hm;
        if (ld_http_msg_read(req, req_len, 0, &hm) < 0 || !hm.url) {
            ld_http_msg_free(&hm);
            corral_error_set(err, CORRAL_EINVAL, "TypeError", "The request could not be read.");
            return -1;
        }
        corral_request rq = {.method = hm.method, .url = hm.url, .headers = hm.headers,
                             .header_count = hm.header_count, .body = hm.body,
                             .body_len = hm.body_len};
        struct corral_outbound_call *oc = calloc(1, sizeof *oc);
        struct call_rec *c = oc ? ld_call_from(l, w, fetch_id) : NULL;
        if (!c) {
            free(oc);
            ld_http_msg_free(&hm);
            corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory.");
            return -1;
        }
        ld_call_link(l, c);
        c->is_fetch = 1;
        oc->l = l;
        oc->rec = c;
        l->host_calls_pending++;
        l->outbound(oc, &rq, l->outbound_ud);
        ld_http_msg_free(&hm);
        return 0;
    }
    corral_error_set(err, CORRAL_EINVAL, "Error", "%s", blocked_msg);
    return -1;
}

static void h_wait_until(void *host, struct sandbox *sb, uint64_t invocation, int delta) {
    struct worker *w = host;
    struct invocation *inv = ld_inv_find(w->l, invocation);
    if (!inv || inv->w != w) return;
    inv->wait_until += delta;
    if (inv->wait_until <= 0 && inv->answered) ld_inv_finish(w->l, inv);
}

static uint8_t h_import_flags(void *host, struct sandbox *sb, uint64_t index) {
    struct cref *c = ld_import_get(host, index);
    return c ? c->flags : 0;
}

static void h_unhandled(void *host, struct sandbox *sb, const char *text) {
    struct worker *w = host;
    struct invocation *inv = current_inv(w, sb);
    if (!inv || inv->finished) inv = w->active;
    if (!inv) return;
    if (text) {
        size_t n = strlen(text) + 32;
        char *m = malloc(n);
        if (m) {
            snprintf(m, n, "Unhandled rejection: %s", text);
            ld_inv_log(inv, CORRAL_LOG_ERROR, m, strlen(m));
            free(m);
        }
    }
    inv->unhandled++;
}


const struct engine_host ld_engine_host = {
    .send = h_send, .load = h_load, .get = h_get, .provide = h_provide,
    .entrypoint = h_entrypoint, .log = h_log, .timer_set = h_timer_set,
    .timer_clear = h_timer_clear, .fetch = h_fetch, .wait_until = h_wait_until,
    .unhandled_rejection = h_unhandled, .import_flags = h_import_flags};
