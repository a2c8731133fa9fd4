/* The loader: workers, their sandboxes, the router between them, and the
 * loop that drives it all (see loader.h for the shape).
 *
 * Every delivery into a sandbox is a *task* on one FIFO, run from
 * corral_loader_step(): nothing re-enters a sandbox from inside another's
 * turn, so ordering is the same whether the peer is in this process or
 * (later) across a socket. Before each turn the loader sets the sandbox's CPU
 * deadline from the tightest budget among its active invocations, and after
 * it charges the CPU used to each of them; a sandbox that hit its CPU,
 * memory or wall-time limit is discarded and its invocations end with the
 * named limit error.
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

#define LOOPBACK_HANDLE UINT64_MAX

/* ------------------------------------------------------------------------ */

struct corral_capability {
    corral_loader *l;
    int refs;
    char *name;
    struct cap_method { char *name; corral_method_fn fn; void *ud; } *methods;
    size_t method_count;
};

struct corral_call {
    corral_loader *l;
    uint64_t call_id;               /* router call record */
    char *method;
    char *args_json;
    size_t args_len;
    char *worker_id;
    struct corral_call *next;
};

struct corral_worker {
    corral_loader *l;
    struct worker *w;               /* load() or get(NULL): this worker; get(id): resolved per call */
    char *id;
    corral_code_factory factory;
    void *userdata;
};


enum task_kind { T_DELIVER, T_START };

struct task {
    enum task_kind kind;
    struct worker *w;
    uint32_t gen;                   /* T_DELIVER to an OBJECT: the generation it was sent to */
    uint8_t msg_kind;
    uint64_t id, target;
    char *name;
    uint8_t *payload;
    size_t payload_len;
    struct cref **caps;
    size_t cap_count;
    struct cref *entry;             /* a CALL on an entrypoint */
    struct task *next;
};

/* Where an answer to a routed call goes. */
struct call_rec {
    uint64_t id;
    int to_host;                    /* the host asked (corral_invoke/fetch): invocation id */
    struct worker *from;            /* a sandbox asked */
    uint32_t from_gen;
    uint64_t from_call_id;
    uint64_t invocation;            /* the caller's invocation, for limits */
    struct worker *callee;          /* the sandbox answering, if any */
    int is_fetch;                   /* answer goes to sandbox_fetch_done */
    struct call_rec *next;
};

struct timer_ent {
    double due_ms;
    uint64_t seq;
    struct worker *w;               /* NULL: a wall-time limit */
    uint32_t gen;
    uint64_t id;                    /* timer id, or invocation id */
    int dead;
};

struct corral_loader {
    corral_options opts;
    corral_limits limits;
    char today[11];
    int epfd, evfd;
    struct task *head, *tail;
    struct call_rec *calls;
    uint64_t next_call_id;
    struct timer_ent *timers;
    size_t timer_count, timer_cap;
    uint64_t timer_seq;
    struct worker *workers;
    struct worker *lru_head, *lru_tail;  /* most recent first */
    size_t cached;
    struct invocation *invocations;
    struct corral_call *host_calls;
    size_t live_sandboxes;
    uint64_t sandboxes_created, invocation_count, evictions, load_seq;
    corral_outbound_fn outbound;
    void *outbound_ud;
    corral_tail_fn tail_fn;
    void *tail_ud;
    struct engine_host host;
    int host_calls_pending;
};

static double mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static double real_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- limits -------------------------------------------------------------- */

void corral_limits_default(corral_limits *l) {
    l->cpu_ms = 30000;
    l->wall_ms = 60000;
    l->memory_bytes = 128ull << 20;
    l->stack_bytes = 512ull << 10;
    l->module_bytes = 64ull << 20;
    l->env_bytes = 1ull << 20;
    l->arg_bytes = 32ull << 20;
    l->result_bytes = 32ull << 20;
    l->subrequests = 1000;
    l->calls = 10000;
    l->log_bytes = 256ull << 10;
}

/* inner over outer: an inner value can only lower. */
static void limits_lower(corral_limits *out, const corral_limits *inner) {
    uint64_t *o = (uint64_t *)out;
    const uint64_t *in = (const uint64_t *)inner;
    for (size_t i = 0; i < sizeof *out / sizeof(uint64_t); i++)
        if (in[i] && (!o[i] || in[i] < o[i])) o[i] = in[i];
}

void corral_options_default(corral_options *o) {
    memset(o, 0, sizeof *o);
    corral_limits_default(&o->limits);
    o->cache_capacity = 1024;
    o->max_sandboxes = 100000;
}

const char *corral_outcome_name(corral_outcome o) {
    static const char *names[] = {"ok", "exception", "exceededCpu", "exceededMemory",
                                  "exceededWall", "exceededLimit", "canceled", "internal"};
    return (unsigned)o < 8 ? names[o] : "internal";
}

const char *corral_log_level_name(corral_log_level l) {
    static const char *names[] = {"debug", "info", "log", "warn", "error"};
    return (unsigned)l < 5 ? names[l] : "log";
}

/* ---- crefs --------------------------------------------------------------- */

static void worker_unref(struct worker *w);

static struct cref *cref_new(enum cref_kind kind) {
    struct cref *c = calloc(1, sizeof *c);
    if (c) {
        c->kind = kind;
        c->refs = 1;
    }
    return c;
}

static void cref_unref(struct cref *c) {
    if (!c || --c->refs > 0) return;
    if (c->kind == CREF_OBJECT && c->w && c->w->sb && c->w->gen == c->gen)
        sandbox_release_export(c->w->sb, c->obj);
    for (size_t i = 0; i < c->props_cap_count; i++) cref_unref(c->props_caps[i]);
    free(c->props_caps);
    free(c->props);
    free(c->entry);
    if (c->cap) corral_capability_release(c->cap);
    if (c->w) worker_unref(c->w);
    free(c);
}

static int64_t import_add(struct worker *w, struct cref *c) {
    if (w->import_count == w->import_cap) {
        size_t ncap = w->import_cap ? w->import_cap * 2 : 8;
        struct cref **n = realloc(w->imports, ncap * sizeof *n);
        if (!n) return -1;
        w->imports = n;
        w->import_cap = ncap;
    }
    c->refs++;
    w->imports[w->import_count] = c;
    return (int64_t)w->import_count++;
}

static struct cref *import_get(struct worker *w, uint64_t idx) {
    return idx < w->import_count ? w->imports[idx] : NULL;
}

/* A sandbox's cap list, in its own terms, to crefs (each referenced once
 * more). Forged indexes fail. */
static struct cref **caps_from_sandbox(struct worker *w, const struct wire_cap *caps, size_t n,
                                       corral_error *err) {
    struct cref **out = calloc(n ? n : 1, sizeof *out);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        struct cref *c = NULL;
        if (caps[i].kind == WIRE_CAP_IMPORT) {
            c = import_get(w, caps[i].id);
            if (!c) {
                corral_error_set(err, CORRAL_EINVAL, "DataCloneError",
                                 "A message named a stub this worker does not hold.");
                goto fail;
            }
            if (c->flags & WIRE_CAP_F_NO_TRANSFER) {
                corral_error_set(err, CORRAL_EINVAL, "DataCloneError",
                                 "Entrypoints to dynamically-loaded workers cannot be transferred "
                                 "to other Workers.");
                goto fail;
            }
            c->refs++;
        } else if (caps[i].kind == WIRE_CAP_EXPORT) {
            c = cref_new(CREF_OBJECT);
            if (!c) goto fail;
            c->w = w;
            w->refs++;
            c->gen = w->gen;
            c->obj = caps[i].id;
            c->flags = caps[i].flags & WIRE_CAP_F_FUNCTION;
        } else {
            corral_error_set(err, CORRAL_EINVAL, "DataCloneError", "A message had a bad cap.");
            goto fail;
        }
        out[i] = c;
    }
    return out;
fail:
    for (size_t i = 0; i < n; i++) cref_unref(out[i]);
    free(out);
    return NULL;
}

static void crefs_free(struct cref **c, size_t n) {
    for (size_t i = 0; c && i < n; i++) cref_unref(c[i]);
    free(c);
}

/* ---- the loop ------------------------------------------------------------ */

static void wake(corral_loader *l) {
    uint64_t one = 1;
    ssize_t r = write(l->evfd, &one, sizeof one);
    (void)r;
}

static void task_push(corral_loader *l, struct task *t) {
    t->next = NULL;
    if (l->tail) l->tail->next = t;
    else l->head = t;
    l->tail = t;
    wake(l);
}

static void task_free(struct task *t) {
    free(t->name);
    free(t->payload);
    crefs_free(t->caps, t->cap_count);
    if (t->entry) cref_unref(t->entry);
    if (t->w) worker_unref(t->w);
    free(t);
}

static void timer_push(corral_loader *l, struct timer_ent e) {
    if (l->timer_count == l->timer_cap) {
        size_t ncap = l->timer_cap ? l->timer_cap * 2 : 16;
        struct timer_ent *n = realloc(l->timers, ncap * sizeof *n);
        if (!n) return;
        l->timers = n;
        l->timer_cap = ncap;
    }
    e.seq = ++l->timer_seq;
    size_t i = l->timer_count++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        struct timer_ent *pe = &l->timers[p];
        if (pe->due_ms < e.due_ms || (pe->due_ms == e.due_ms && pe->seq < e.seq)) break;
        l->timers[i] = *pe;
        i = p;
    }
    l->timers[i] = e;
}

static struct timer_ent timer_pop(corral_loader *l) {
    struct timer_ent top = l->timers[0];
    struct timer_ent last = l->timers[--l->timer_count];
    size_t i = 0, n = l->timer_count;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && (l->timers[c + 1].due_ms < l->timers[c].due_ms ||
                          (l->timers[c + 1].due_ms == l->timers[c].due_ms &&
                           l->timers[c + 1].seq < l->timers[c].seq)))
            c++;
        if (last.due_ms < l->timers[c].due_ms ||
            (last.due_ms == l->timers[c].due_ms && last.seq < l->timers[c].seq))
            break;
        l->timers[i] = l->timers[c];
        i = c;
    }
    if (n) l->timers[i] = last;
    return top;
}

static size_t live_timers(corral_loader *l) {
    size_t n = 0;
    for (size_t i = 0; i < l->timer_count; i++) n += !l->timers[i].dead;
    return n;
}

/* ---- invocations --------------------------------------------------------- */

static struct invocation *inv_find(corral_loader *l, uint64_t id) {
    for (struct invocation *i = l->invocations; i; i = i->next_all)
        if (i->id == id) return i;
    return NULL;
}

static void inv_log(struct invocation *inv, corral_log_level level, const char *text, size_t len) {
    if (inv->logs_truncated) return;
    if (inv->log_bytes + len > inv->limits.log_bytes) {
        inv->logs_truncated = 1;
        text = "[corral] console output truncated: the log limit was reached";
        len = strlen(text);
        level = CORRAL_LOG_WARN;
    }
    if (inv->log_count == inv->log_cap) {
        size_t ncap = inv->log_cap ? inv->log_cap * 2 : 8;
        corral_log_line *n = realloc(inv->logs, ncap * sizeof *n);
        if (!n) return;
        inv->logs = n;
        inv->log_cap = ncap;
    }
    char *copy = strndup(text, len);
    if (!copy) return;
    inv->logs[inv->log_count++] = (corral_log_line){level, real_ms(), copy};
    inv->log_bytes += len;
}

static void inv_set_error(struct invocation *inv, corral_outcome o, const char *name,
                          const char *message, const char *stack) {
    inv->outcome = o;
    free(inv->error_name);
    free(inv->error_message);
    free(inv->error_stack);
    inv->error_name = strdup(name);
    inv->error_message = strdup(message);
    inv->error_stack = stack ? strdup(stack) : NULL;
}

struct err_fields { char *name, *message, *stack; int depth; int have; };

static int ef_error_begin(void *ud, const char *n, size_t nl, const char *m, size_t ml,
                          const char *s, size_t sl) {
    struct err_fields *f = ud;
    if (f->depth == 0 && !f->have) {
        f->name = strndup(n, nl);
        f->message = strndup(m, ml);
        f->stack = s ? strndup(s, sl) : NULL;
        f->have = 1;
    }
    f->depth++;
    return 0;
}
static int ef_begin(void *ud, uint64_t n) { ((struct err_fields *)ud)->depth++; return 0; }
static int ef_end(void *ud) { ((struct err_fields *)ud)->depth--; return 0; }
static int ef_str(void *ud, const char *s, size_t len) {
    struct err_fields *f = ud;
    if (f->depth == 0 && !f->have) {
        f->name = strdup("Error");
        size_t n = len + 64;
        f->message = malloc(n);
        if (f->message) snprintf(f->message, n, "Uncaught %.*s", (int)len, s);
        f->have = 1;
    }
    return 0;
}

static void inv_finish(corral_loader *l, struct invocation *inv);

/* Records how an invocation ended from the payload its sandbox answered. */
static void inv_answer(corral_loader *l, struct invocation *inv, int ok, const uint8_t *p,
                       size_t len, size_t ncaps) {
    if (inv->answered) return;
    inv->answered = 1;
    if (ok) {
        inv->outcome = CORRAL_OUTCOME_OK;
        inv->payload = malloc(len ? len : 1);
        if (inv->payload) memcpy(inv->payload, p, len);
        inv->payload_len = len;
        inv->payload_caps = ncaps;
    } else {
        struct err_fields f = {0};
        struct wire_visitor v = {.error_begin = ef_error_begin, .error_end = ef_end,
                                 .array_begin = ef_begin, .array_end = ef_end,
                                 .object_begin = ef_begin, .object_end = ef_end,
                                 .map_begin = ef_begin, .map_end = ef_end,
                                 .set_begin = ef_begin, .set_end = ef_end, .string = ef_str};
        struct wire_limits lim = {.cap_count = ncaps};
        wire_decode(p, len, &lim, &v, &f, NULL);
        if (!f.have) {
            int st;
            char *j = wire_to_json(p, len, &lim, 4096, &st);
            f.name = strdup("Error");
            size_t n = (j ? strlen(j) : 0) + 32;
            f.message = malloc(n);
            if (f.message) snprintf(f.message, n, "Uncaught %s", j ? j : "(a value)");
            free(j);
        }
        corral_outcome o = CORRAL_OUTCOME_EXCEPTION;
        if (f.name && (strcmp(f.name, "CallLimitError") == 0 ||
                       strcmp(f.name, "SubrequestLimitError") == 0 ||
                       strcmp(f.name, "ResultSizeLimitError") == 0))
            o = CORRAL_OUTCOME_EXCEEDED_LIMIT;
        inv_set_error(inv, o, f.name ? f.name : "Error", f.message ? f.message : "", f.stack);
        free(f.name);
        free(f.message);
        free(f.stack);
    }
    if (inv->wait_until <= 0) inv_finish(l, inv);
}

static void inv_fail(corral_loader *l, struct invocation *inv, corral_outcome o, const char *name,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void inv_fail(corral_loader *l, struct invocation *inv, corral_outcome o, const char *name,
                     const char *fmt, ...) {
    if (inv->answered) {
        if (!inv->finished) inv_finish(l, inv);
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    inv->answered = 1;
    inv_set_error(inv, o, name, msg, NULL);
    inv_finish(l, inv);
}

static void result_fill(struct invocation *inv, corral_result *r, char **json_out,
                        corral_header **hdrs_out, char **hdr_strings_out) {
    memset(r, 0, sizeof *r);
    r->outcome = inv->outcome;
    r->worker_id = inv->w && inv->w->id ? inv->w->id : "worker";
    r->entrypoint = inv->entrypoint;
    r->method = inv->method;
    r->error_name = inv->error_name;
    r->error_message = inv->error_message;
    r->error_stack = inv->error_stack;
    r->logs = inv->logs;
    r->log_count = inv->log_count;
    r->logs_truncated = inv->logs_truncated;
    r->unhandled_rejections = inv->unhandled;
    r->cpu_ms = (double)inv->cpu_ns / 1e6;
    r->wall_ms = mono_ms() - inv->wall_start_ms;
    if (inv->outcome != CORRAL_OUTCOME_OK || !inv->payload) return;
    int st;
    struct wire_limits lim = {.cap_count = inv->payload_caps};
    char *json = wire_to_json(inv->payload, inv->payload_len, &lim, 64u << 20, &st);
    if (!inv->is_fetch) {
        if (json && strcmp(json, "null") == 0 && inv->payload_len >= 2 &&
            inv->payload[1] == WIRE_UNDEFINED) {
            free(json);
            json = NULL;
        }
        r->value_json = json;
        *json_out = json;
        return;
    }
    /* A packed Response: {status, statusText, headers: [[k, v]], body: bytes} */
    json_error_t je;
    json_t *o = json ? json_loads(json, JSON_DECODE_ANY, &je) : NULL;
    free(json);
    if (!o) return;
    r->status = (int)json_integer_value(json_object_get(o, "status"));
    json_t *hs = json_object_get(o, "headers");
    size_t n = json_array_size(hs);
    corral_header *h = calloc(n ? n : 1, sizeof *h);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(hs, i);
        total += strlen(json_string_value(json_array_get(p, 0)) ?: "") +
                 strlen(json_string_value(json_array_get(p, 1)) ?: "") + 2;
    }
    const char *st_text = json_string_value(json_object_get(o, "statusText")) ?: "";
    const char *b64 = json_string_value(json_object_get(o, "body")) ?: "";
    size_t b64len = strlen(b64);
    char *strings = malloc(total + strlen(st_text) + 1 + b64len + 1);
    if (!h || !strings) {
        free(h);
        free(strings);
        json_decref(o);
        return;
    }
    char *s = strings;
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(hs, i);
        const char *k = json_string_value(json_array_get(p, 0)) ?: "";
        const char *v = json_string_value(json_array_get(p, 1)) ?: "";
        h[i].name = strcpy(s, k);
        s += strlen(k) + 1;
        h[i].value = strcpy(s, v);
        s += strlen(v) + 1;
    }
    r->status_text = strcpy(s, st_text);
    s += strlen(st_text) + 1;
    /* body arrives base64 (the JSON bridge's mapping for bytes) */
    static const signed char dec[256] = {
        ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
        ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15,
        ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
        ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29,
        ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
        ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43,
        ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50,
        ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
        ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64};
    uint8_t *body = (uint8_t *)s;
    size_t bl = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < b64len; i++) {
        int v = dec[(unsigned char)b64[i]];
        if (!v) continue;
        acc = acc << 6 | (uint32_t)(v - 1);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            body[bl++] = (uint8_t)(acc >> bits);
        }
    }
    body[bl] = 0;
    r->body = body;
    r->body_len = bl;
    r->headers = h;
    r->header_count = n;
    *hdrs_out = h;
    *hdr_strings_out = strings;
    json_decref(o);
}

static void inv_unlink_active(struct invocation *inv) {
    if (!inv->w) return;
    for (struct invocation **p = &inv->w->active; *p; p = &(*p)->next_active) {
        if (*p == inv) {
            *p = inv->next_active;
            break;
        }
    }
}

static void inv_destroy(corral_loader *l, struct invocation *inv) {
    for (struct invocation **p = &l->invocations; *p; p = &(*p)->next_all) {
        if (*p == inv) {
            *p = inv->next_all;
            break;
        }
    }
    inv_unlink_active(inv);
    for (size_t i = 0; i < inv->log_count; i++) free((char *)inv->logs[i].text);
    free(inv->logs);
    free(inv->payload);
    free(inv->error_name);
    free(inv->error_message);
    free(inv->error_stack);
    free(inv->entrypoint);
    free(inv->method);
    if (inv->w) worker_unref(inv->w);
    free(inv);
}

static void inv_finish(corral_loader *l, struct invocation *inv) {
    if (inv->finished) return;
    inv->finished = 1;
    inv_unlink_active(inv);
    char *json = NULL, *strings = NULL;
    corral_header *hdrs = NULL;
    corral_result r;
    result_fill(inv, &r, &json, &hdrs, &strings);
    if (l->tail_fn) l->tail_fn(&r, l->tail_ud);
    if (inv->from_host && inv->done) inv->done(&r, inv->userdata);
    free(json);
    free(hdrs);
    free(strings);
    inv_destroy(l, inv);
}

/* ---- workers ------------------------------------------------------------- */

static void worker_discard_sandbox(struct worker *w);

static void lru_unlink(corral_loader *l, struct worker *w) {
    if (w->lru_prev) w->lru_prev->lru_next = w->lru_next;
    else if (l->lru_head == w) l->lru_head = w->lru_next;
    if (w->lru_next) w->lru_next->lru_prev = w->lru_prev;
    else if (l->lru_tail == w) l->lru_tail = w->lru_prev;
    w->lru_prev = w->lru_next = NULL;
}

static void lru_touch(corral_loader *l, struct worker *w) {
    lru_unlink(l, w);
    w->lru_next = l->lru_head;
    if (l->lru_head) l->lru_head->lru_prev = w;
    l->lru_head = w;
    if (!l->lru_tail) l->lru_tail = w;
}

static void cache_remove(corral_loader *l, struct worker *w) {
    if (!w->in_cache) return;
    w->in_cache = 0;
    lru_unlink(l, w);
    l->cached--;
    worker_unref(w);
}

static void worker_free(struct worker *w) {
    corral_loader *l = w->l;
    for (struct worker **p = &l->workers; *p; p = &(*p)->next_all) {
        if (*p == w) {
            *p = w->next_all;
            break;
        }
    }
    worker_discard_sandbox(w);
    while (w->parked) {
        struct task *t = w->parked;
        w->parked = t->next;
        task_free(t);
    }
    crefs_free(w->env_caps, w->env_cap_count);
    if (w->outbound_stub) cref_unref(w->outbound_stub);
    if (w->parent) worker_unref(w->parent);
    wc_free(w->code);
    free(w->imports);
    free(w->id);
    free(w);
}

static void worker_unref(struct worker *w) {
    if (w && --w->refs == 0) worker_free(w);
}

static struct worker *worker_new(corral_loader *l, const char *id) {
    struct worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->l = l;
    w->refs = 1;
    if (id) {
        w->id = strdup(id);
    } else {
        char buf[32];
        snprintf(buf, sizeof buf, "load:%llu", (unsigned long long)++l->load_seq);
        w->id = strdup(buf);
    }
    w->limits = l->limits;
    w->next_all = l->workers;
    l->workers = w;
    return w;
}

static void fail_calls_to(corral_loader *l, struct worker *w, const char *name, const char *msg);

/* Frees the sandbox: every import it held goes, exports die with it. */
static void worker_discard_sandbox(struct worker *w) {
    if (!w->sb) return;
    corral_loader *l = w->l;
    struct sandbox *sb = w->sb;
    w->sb = NULL;
    w->gen++;
    sandbox_free(sb);
    l->live_sandboxes--;
    for (size_t i = 0; i < w->import_count; i++) cref_unref(w->imports[i]);
    w->import_count = 0;
    for (size_t i = 0; i < l->timer_count; i++)
        if (l->timers[i].w == w) l->timers[i].dead = 1;
}

static void apply_code_limits(struct worker *w) {
    limits_lower(&w->limits, &w->code->limits);
}

/* Starts a fresh sandbox for w from its code. */
static int worker_start(struct worker *w, corral_error *err) {
    corral_loader *l = w->l;
    if (l->live_sandboxes >= l->opts.max_sandboxes) {
        corral_error_set(err, CORRAL_EBUSY, "CapacityError",
                         "The loader already holds its maximum of %zu live sandboxes; retry when "
                         "some have finished.",
                         l->opts.max_sandboxes);
        return -1;
    }
    struct sandbox_config cfg = {
        .host = &l->host, .host_data = w, .memory_bytes = w->limits.memory_bytes,
        .stack_bytes = w->limits.stack_bytes, .arg_bytes = w->limits.arg_bytes,
        .result_bytes = w->limits.result_bytes, .worker_id = w->id, .today = l->today,
        .limits = w->limits};
    w->sb = sandbox_new(&cfg, err);
    if (!w->sb) return -1;
    l->live_sandboxes++;
    l->sandboxes_created++;
    uint64_t *idx = calloc(w->env_cap_count ? w->env_cap_count : 1, sizeof *idx);
    if (!idx) {
        worker_discard_sandbox(w);
        corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory starting a worker.");
        return -1;
    }
    for (size_t i = 0; i < w->env_cap_count; i++) {
        int64_t k = import_add(w, w->env_caps[i]);
        idx[i] = k < 0 ? 0 : (uint64_t)k;
    }
    uint64_t deadline = engine_thread_cpu_ns() + w->limits.cpu_ms * 1000000ull;
    sandbox_set_cpu_deadline(w->sb, deadline);
    sandbox_start(w->sb, w->code, w->code->env, w->code->env_len, idx, w->env_cap_count);
    free(idx);
    sandbox_set_cpu_deadline(w->sb, 0);
    enum sandbox_kill k = sandbox_killed(w->sb);
    if (k) {
        worker_discard_sandbox(w);
        if (k == SANDBOX_KILL_MEMORY)
            corral_error_set(err, CORRAL_ELIMIT, "MemoryLimitError",
                             "The worker's startup exceeded the memory limit of %llu bytes.",
                             (unsigned long long)w->limits.memory_bytes);
        else
            corral_error_set(err, CORRAL_ELIMIT, "CpuLimitError",
                             "The worker's startup exceeded the CPU time limit of %llu ms.",
                             (unsigned long long)w->limits.cpu_ms);
        return -1;
    }
    return 0;
}

/* Sets up a worker from validated code; env caps translate from `creator`
 * (a sandbox worker), or from host bindings. */
static int worker_set_code(struct worker *w, struct workercode *code, struct worker *creator,
                           corral_error *err) {
    corral_loader *l = w->l;
    w->code = code;
    apply_code_limits(w);
    if (creator && code->env_cap_count) {
        w->env_caps = caps_from_sandbox(creator, code->env_caps, code->env_cap_count, err);
        if (!w->env_caps) return -1;
        w->env_cap_count = code->env_cap_count;
    }
    if (code->outbound == WC_OUTBOUND_STUB) {
        /* The outbound stub is the last value in the [env, outbound] pair;
         * its cap is the last the encoder added. */
        if (!w->env_cap_count) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError", "globalOutbound is not a stub.");
            return -1;
        }
        w->outbound_stub = w->env_caps[w->env_cap_count - 1];
        w->outbound_stub->refs++;
    }
    if (code->outbound == WC_OUTBOUND_DEFAULT) {
        w->outbound = creator ? WC_OUTBOUND_DEFAULT : WC_OUTBOUND_BLOCK;
        if (creator) {
            w->parent = creator;
            creator->refs++;
        }
    } else {
        w->outbound = (int)code->outbound;
    }
    w->state = W_READY;
    (void)l;
    return 0;
}

/* ---- routing ------------------------------------------------------------- */

static struct call_rec *call_new(corral_loader *l) {
    struct call_rec *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->id = ++l->next_call_id;
    c->next = l->calls;
    l->calls = c;
    return c;
}

static struct call_rec *call_take(corral_loader *l, uint64_t id) {
    for (struct call_rec **p = &l->calls; *p; p = &(*p)->next) {
        if ((*p)->id == id) {
            struct call_rec *c = *p;
            *p = c->next;
            return c;
        }
    }
    return NULL;
}

static void run_turn_begin(struct worker *w, uint64_t *start_cpu) {
    uint64_t now = engine_thread_cpu_ns();
    *start_cpu = now;
    uint64_t budget = 0;
    for (struct invocation *i = w->active; i; i = i->next_active) {
        uint64_t lim = i->limits.cpu_ms * 1000000ull;
        uint64_t left = lim > i->cpu_ns ? lim - i->cpu_ns : 1;
        if (!budget || left < budget) budget = left;
    }
    if (!budget) budget = w->limits.cpu_ms * 1000000ull;
    sandbox_set_cpu_deadline(w->sb, now + budget);
}

static void kill_worker_invocations(corral_loader *l, struct worker *w, enum sandbox_kill k) {
    const char *name = k == SANDBOX_KILL_MEMORY ? "MemoryLimitError"
                       : k == SANDBOX_KILL_WALL ? "WallTimeLimitError"
                                                : "CpuLimitError";
    corral_outcome o = k == SANDBOX_KILL_MEMORY ? CORRAL_OUTCOME_EXCEEDED_MEMORY
                       : k == SANDBOX_KILL_WALL ? CORRAL_OUTCOME_EXCEEDED_WALL
                                                : CORRAL_OUTCOME_EXCEEDED_CPU;
    while (w->active) {
        struct invocation *inv = w->active;
        if (k == SANDBOX_KILL_MEMORY)
            inv_fail(l, inv, o, name, "The worker exceeded its memory limit of %llu bytes.",
                     (unsigned long long)inv->limits.memory_bytes);
        else if (k == SANDBOX_KILL_WALL)
            inv_fail(l, inv, o, name, "The invocation exceeded its wall-time limit of %llu ms.",
                     (unsigned long long)inv->limits.wall_ms);
        else
            inv_fail(l, inv, o, name, "The worker exceeded its CPU time limit of %llu ms.",
                     (unsigned long long)inv->limits.cpu_ms);
        if (w->active == inv) inv_unlink_active(inv);
    }
    char msg[160];
    snprintf(msg, sizeof msg, "The worker was discarded after it exceeded a limit (%s).", name);
    worker_discard_sandbox(w);
    fail_calls_to(l, w, name, msg);
    cache_remove(l, w);
}

static void run_turn_end(corral_loader *l, struct worker *w, uint64_t start_cpu) {
    if (!w->sb) return;
    uint64_t used = engine_thread_cpu_ns() - start_cpu;
    sandbox_set_cpu_deadline(w->sb, 0);
    for (struct invocation *i = w->active; i; i = i->next_active) i->cpu_ns += used;
    enum sandbox_kill k = sandbox_killed(w->sb);
    if (k) kill_worker_invocations(l, w, k);
}

static uint64_t *install_caps(struct worker *w, struct cref **caps, size_t n) {
    uint64_t *idx = calloc(n ? n : 1, sizeof *idx);
    if (!idx) return NULL;
    for (size_t i = 0; i < n; i++) {
        int64_t k = import_add(w, caps[i]);
        if (k < 0) {
            free(idx);
            return NULL;
        }
        idx[i] = (uint64_t)k;
    }
    return idx;
}

static void answer_to(corral_loader *l, struct call_rec *c, int ok, const uint8_t *p, size_t len,
                      struct cref **caps, size_t ncaps);

static void answer_error(corral_loader *l, struct call_rec *c, const char *name,
                         const char *message) {
    size_t len;
    uint8_t *p = engine_error_payload(name, message, NULL, &len);
    if (p) answer_to(l, c, 0, p, len, NULL, 0);
    free(p);
}

/* Delivers an answer to whoever made call c (and frees c). */
static void answer_to(corral_loader *l, struct call_rec *c, int ok, const uint8_t *p, size_t len,
                      struct cref **caps, size_t ncaps) {
    if (c->to_host) {
        struct invocation *inv = inv_find(l, c->invocation);
        if (inv) inv_answer(l, inv, ok, p, len, ncaps);
        free(c);
        return;
    }
    struct worker *w = c->from;
    if (w && w->sb && w->gen == c->from_gen) {
        struct task *t = calloc(1, sizeof *t);
        if (t) {
            t->kind = T_DELIVER;
            t->w = w;
            w->refs++;
            t->gen = w->gen;
            t->msg_kind = c->is_fetch ? (ok ? 0x81 : 0x82) : (ok ? WIRE_MSG_RETURN : WIRE_MSG_THROW);
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
            task_push(l, t);
        }
    }
    if (w) worker_unref(w);
    if (c->callee) worker_unref(c->callee);
    free(c);
}

static void fail_calls_to(corral_loader *l, struct worker *w, const char *name, const char *msg) {
    for (;;) {
        struct call_rec *found = NULL;
        for (struct call_rec *c = l->calls; c; c = c->next)
            if (c->callee == w) found = c;
        if (!found) break;
        call_take(l, found->id);
        answer_error(l, found, name, msg);
    }
}

/* Routes a CALL made by sandbox `from` (or the host, from == NULL) to
 * cref `target`. */
static void route_call(corral_loader *l, struct worker *from, uint64_t from_call_id,
                       uint64_t invocation, struct cref *target, const char *method,
                       const uint8_t *payload, size_t len, struct cref **caps, size_t ncaps,
                       struct call_rec *host_rec);

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
        answer_error(l, c, "TypeError", msg);
        return;
    }
    int st;
    struct wire_limits lim = {.cap_count = ncaps};
    char *json = wire_to_json(payload, len, &lim, 64u << 20, &st);
    if (!json) {
        answer_error(l, c, "DataCloneError", "The arguments could not be converted to JSON.");
        return;
    }
    struct corral_call *call = calloc(1, sizeof *call);
    if (!call) {
        free(json);
        answer_error(l, c, "Error", "Out of memory.");
        return;
    }
    call->l = l;
    call->call_id = c->id;
    call->method = strdup(method);
    call->args_json = json;
    call->args_len = strlen(json);
    call->worker_id = strdup(worker_id ? worker_id : "host");
    call->next = l->host_calls;
    l->host_calls = call;
    /* c stays in l->calls until the host completes */
    c->next = l->calls;
    l->calls = c;
    m->fn(call, m->ud);
}

static struct invocation *inv_new(corral_loader *l, struct worker *w, const char *entry,
                                  const char *method, const corral_limits *extra, uint64_t id) {
    struct invocation *inv = calloc(1, sizeof *inv);
    if (!inv) return NULL;
    inv->w = w;
    w->refs++;
    inv->entrypoint = strdup(entry ? entry : "default");
    inv->method = strdup(method ? method : "(call)");
    inv->limits = w->limits;
    if (extra) limits_lower(&inv->limits, extra);
    inv->wall_start_ms = mono_ms();
    inv->id = id;
    timer_push(l, (struct timer_ent){.due_ms = inv->wall_start_ms + (double)inv->limits.wall_ms,
                                     .w = NULL, .id = id});
    inv->next_all = l->invocations;
    l->invocations = inv;
    inv->next_active = w->active;
    w->active = inv;
    l->invocation_count++;
    return inv;
}

static void route_call(corral_loader *l, struct worker *from, uint64_t from_call_id,
                       uint64_t invocation, struct cref *target, const char *method,
                       const uint8_t *payload, size_t len, struct cref **caps, size_t ncaps,
                       struct call_rec *host_rec) {
    struct call_rec *c = host_rec ? host_rec : call_new(l);
    if (!c) return;
    call_take(l, c->id); /* re-listed below once it has a callee */
    if (!host_rec) {
        c->from = from;
        from->refs++;
        c->from_gen = from->gen;
        c->from_call_id = from_call_id;
        c->invocation = invocation;
    }
    switch (target->kind) {
    case CREF_CAPABILITY:
        capability_call(l, c, target, method, payload, len, ncaps, from ? from->id : NULL);
        return;
    case CREF_HANDLE:
        answer_error(l, c, "TypeError",
                     "A WorkerStub has no RPC methods: call getEntrypoint() first.");
        return;
    case CREF_DEAD:
        answer_error(l, c, "Error", "The object this stub pointed to no longer exists.");
        return;
    case CREF_OBJECT:
    case CREF_ENTRY: break;
    }
    struct worker *w = target->w;
    if (target->kind == CREF_OBJECT && w->gen != target->gen) {
        answer_error(l, c, "Error",
                     "The object this stub pointed to no longer exists (its worker was "
                     "restarted).");
        return;
    }
    struct task *t = calloc(1, sizeof *t);
    if (!t) {
        answer_error(l, c, "Error", "Out of memory.");
        return;
    }
    t->kind = T_DELIVER;
    t->w = w;
    w->refs++;
    t->gen = target->gen;
    t->msg_kind = WIRE_MSG_CALL;
    t->target = target->obj;
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
            struct invocation *inv = inv_new(l, w, target->entry, method, &target->limits, c->id);
            if (inv) {
                inv->is_fetch = method && strcmp(method, "fetch") == 0;
            }
        }
    }
    c->callee = w;
    w->refs++;
    c->next = l->calls;
    l->calls = c;
    t->id = c->id;
    task_push(l, t);
}

/* Runs one delivery task. */
static void run_task(corral_loader *l, struct task *t) {
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
        struct call_rec *c = call_take(l, t->id);
        if (c) answer_error(l, c, w->fail.name, w->fail.message);
        task_free(t);
        return;
    }
    if (t->msg_kind == WIRE_MSG_CALL && !w->sb) {
        if (t->entry) {
            corral_error err = {0};
            if (worker_start(w, &err) < 0) {
                struct call_rec *c = call_take(l, t->id);
                if (c) {
                    struct invocation *inv = inv_find(l, c->id);
                    if (inv && err.status == CORRAL_ELIMIT) {
                        inv_fail(l, inv, strcmp(err.name, "MemoryLimitError") == 0
                                             ? CORRAL_OUTCOME_EXCEEDED_MEMORY
                                             : CORRAL_OUTCOME_EXCEEDED_CPU,
                                 err.name, "%s", err.message);
                    }
                    answer_error(l, c, err.name, err.message);
                }
                task_free(t);
                return;
            }
            t->gen = w->gen;
        } else {
            struct call_rec *c = call_take(l, t->id);
            if (c) answer_error(l, c, "Error", "The object this stub pointed to no longer exists.");
            task_free(t);
            return;
        }
    }
    if (!w->sb || (t->msg_kind != WIRE_MSG_CALL && t->gen != w->gen) ||
        (t->msg_kind == WIRE_MSG_CALL && !t->entry && t->gen != w->gen)) {
        if (t->msg_kind == WIRE_MSG_CALL) {
            struct call_rec *c = call_take(l, t->id);
            if (c) answer_error(l, c, "Error", "The worker this stub pointed to has stopped.");
        }
        task_free(t);
        return;
    }
    uint64_t *idx = install_caps(w, t->caps, t->cap_count);
    uint64_t start;
    run_turn_begin(w, &start);
    if (t->msg_kind == 0x81 || t->msg_kind == 0x82) {
        sandbox_fetch_done(w->sb, t->id, t->msg_kind == 0x81, t->payload, t->payload_len, idx,
                           t->cap_count);
    } else {
        struct wire_msg m = {.kind = t->msg_kind, .id = t->id, .target = t->target,
                             .name = t->name, .name_len = t->name ? strlen(t->name) : 0,
                             .cap_count = t->cap_count, .payload = t->payload,
                             .payload_len = t->payload_len};
        if (t->entry) {
            uint64_t *pidx = install_caps(w, t->entry->props_caps, t->entry->props_cap_count);
            int64_t ex = sandbox_export_entrypoint(w->sb, t->entry->entry, t->entry->props,
                                                   t->entry->props_len, pidx,
                                                   t->entry->props_cap_count);
            free(pidx);
            m.target = ex < 0 ? 0 : (uint64_t)ex;
            sandbox_deliver(w->sb, &m, idx);
            if (ex > 0 && w->sb) sandbox_release_export(w->sb, (uint64_t)ex);
        } else {
            sandbox_deliver(w->sb, &m, idx);
        }
    }
    free(idx);
    run_turn_end(l, w, start);
    task_free(t);
}

/* ---- the engine_host callbacks ------------------------------------------- */

static void h_send(void *host, struct sandbox *sb, const struct wire_msg *m) {
    struct worker *w = host;
    corral_loader *l = w->l;
    if (m->kind == WIRE_MSG_RELEASE) {
        struct cref *c = import_get(w, m->target);
        if (c) {
            w->imports[m->target] = NULL;
            /* keep the slot (indexes are positional); a NULL entry is dead */
            cref_unref(c);
        }
        return;
    }
    if (m->kind == WIRE_MSG_RETURN || m->kind == WIRE_MSG_THROW) {
        struct call_rec *c = call_take(l, m->id);
        if (!c) return;
        corral_error err = {0};
        struct cref **caps = caps_from_sandbox(w, m->caps, m->cap_count, &err);
        if (!caps) {
            answer_error(l, c, err.name[0] ? err.name : "Error", err.message);
            return;
        }
        /* answers to the host: record for the invocation */
        if (c->to_host) {
            struct invocation *inv = inv_find(l, c->invocation);
            if (inv) inv_answer(l, inv, m->kind == WIRE_MSG_RETURN, m->payload, m->payload_len,
                                m->cap_count);
            crefs_free(caps, m->cap_count);
            if (c->callee) worker_unref(c->callee);
            free(c);
            return;
        }
        struct invocation *inv = inv_find(l, c->id);
        if (inv) inv_answer(l, inv, m->kind == WIRE_MSG_RETURN, m->payload, m->payload_len,
                            m->cap_count);
        answer_to(l, c, m->kind == WIRE_MSG_RETURN, m->payload, m->payload_len, caps,
                  m->cap_count);
        crefs_free(caps, m->cap_count);
        return;
    }
    if (m->kind != WIRE_MSG_CALL) return;
    uint64_t invocation = sandbox_current_invocation(sb);
    struct invocation *inv = inv_find(l, invocation);
    struct cref *target = import_get(w, m->target);
    char method[1100];
    snprintf(method, sizeof method, "%.*s", (int)m->name_len, m->name ? m->name : "");
    if (inv && target && target->kind == CREF_CAPABILITY && ++inv->calls > inv->limits.calls) {
        struct call_rec *c = call_new(l);
        call_take(l, c->id);
        c->from = w;
        w->refs++;
        c->from_gen = w->gen;
        c->from_call_id = m->id;
        char msg[256];
        snprintf(msg, sizeof msg, "The invocation made more than %llu capability calls (the calls limit).",
                 (unsigned long long)inv->limits.calls);
        answer_error(l, c, "CallLimitError", msg);
        inv_fail(l, inv, CORRAL_OUTCOME_EXCEEDED_LIMIT, "CallLimitError", "%s", msg);
        return;
    }
    corral_error err = {0};
    struct cref **caps = caps_from_sandbox(w, m->caps, m->cap_count, &err);
    if (!target || !caps) {
        crefs_free(caps, caps ? m->cap_count : 0);
        struct call_rec *c = call_new(l);
        call_take(l, c->id);
        c->from = w;
        w->refs++;
        c->from_gen = w->gen;
        c->from_call_id = m->id;
        answer_error(l, c, err.name[0] ? err.name : "Error",
                     err.message[0] ? err.message : "This stub is not valid in this worker.");
        return;
    }
    route_call(l, w, m->id, invocation, target, m->name ? method : NULL, m->payload,
               m->payload_len, caps, m->cap_count, NULL);
    crefs_free(caps, m->cap_count);
}

static int64_t h_load(void *host, struct sandbox *sb, struct workercode *code, corral_error *err) {
    struct worker *parent = host;
    corral_loader *l = parent->l;
    struct worker *w = worker_new(l, NULL);
    if (!w) {
        wc_free(code);
        return -1;
    }
    w->is_dynamic = 1;
    if (worker_set_code(w, code, parent, err) < 0) {
        worker_unref(w);
        return -1;
    }
    struct cref *c = cref_new(CREF_HANDLE);
    c->w = w; /* takes the worker's first reference */
    int64_t idx = import_add(parent, c);
    cref_unref(c);
    return idx;
}

static struct worker *cache_find(corral_loader *l, const char *id) {
    for (struct worker *w = l->lru_head; w; w = w->lru_next)
        if (w->in_cache && strcmp(w->id, id) == 0) return w;
    return NULL;
}

static void cache_insert(corral_loader *l, struct worker *w) {
    w->in_cache = 1;
    w->refs++;
    lru_touch(l, w);
    l->cached++;
    while (l->cached > l->opts.cache_capacity && l->lru_tail) {
        l->evictions++;
        cache_remove(l, l->lru_tail);
    }
}

static int64_t h_get(void *host, struct sandbox *sb, const char *id, int *need_code,
                     corral_error *err) {
    struct worker *parent = host;
    corral_loader *l = parent->l;
    struct worker *w = id ? cache_find(l, id) : NULL;
    *need_code = 0;
    if (w) {
        lru_touch(l, w);
        w->refs++;
    } else {
        w = worker_new(l, id);
        if (!w) return -1;
        w->is_dynamic = 1;
        w->state = W_WAITING_CODE;
        w->parent = parent;
        parent->refs++;
        if (id) cache_insert(l, w);
        *need_code = 1;
    }
    struct cref *c = cref_new(CREF_HANDLE);
    c->w = w;
    int64_t idx = import_add(parent, c);
    cref_unref(c);
    return idx;
}

static void unpark(corral_loader *l, struct worker *w) {
    while (w->parked) {
        struct task *t = w->parked;
        w->parked = t->next;
        task_push(l, t);
    }
    w->parked_tail = NULL;
}

static void h_provide(void *host, struct sandbox *sb, uint64_t handle, struct workercode *code,
                      const corral_error *failure) {
    struct worker *parent = host;
    corral_loader *l = parent->l;
    struct cref *c = import_get(parent, handle);
    if (!c || c->kind != CREF_HANDLE || c->w->state != W_WAITING_CODE) {
        wc_free(code);
        return;
    }
    struct worker *w = c->w;
    if (w->parent) {
        worker_unref(w->parent);
        w->parent = NULL;
    }
    corral_error err = {0};
    if (!code || worker_set_code(w, code, parent, &err) < 0) {
        w->state = W_FAILED;
        w->fail = code ? err : *failure;
        if (!code && !w->fail.name[0]) strcpy(w->fail.name, "Error");
        cache_remove(l, w);
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
        struct cref *c = import_get(self, handle);
        if (!c || c->kind != CREF_HANDLE) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError", "Not a worker handle.");
            return -1;
        }
        target = c->w;
    }
    struct cref *e = cref_new(CREF_ENTRY);
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
        e->props_caps = caps_from_sandbox(self, caps, cap_count, err);
        if (!e->props_caps) {
            cref_unref(e);
            return -1;
        }
        e->props_cap_count = cap_count;
    }
    int64_t idx = import_add(self, e);
    *flags = e->flags;
    cref_unref(e);
    return idx;
}

static void h_log(void *host, struct sandbox *sb, corral_log_level level, const char *text,
                  size_t len) {
    struct worker *w = host;
    struct invocation *inv = inv_find(w->l, sandbox_current_invocation(sb));
    if (!inv || inv->finished) inv = w->active;
    if (inv) inv_log(inv, level, text, len);
}

static void h_timer_set(void *host, struct sandbox *sb, uint64_t id, double delay_ms) {
    struct worker *w = host;
    for (size_t i = 0; i < w->l->timer_count; i++)
        if (w->l->timers[i].w == w && w->l->timers[i].id == id) w->l->timers[i].dead = 1;
    timer_push(w->l, (struct timer_ent){.due_ms = mono_ms() + delay_ms, .w = w, .gen = w->gen,
                                        .id = id});
}

static void h_timer_clear(void *host, struct sandbox *sb, uint64_t id) {
    struct worker *w = host;
    for (size_t i = 0; i < w->l->timer_count; i++)
        if (w->l->timers[i].w == w && w->l->timers[i].id == id) w->l->timers[i].dead = 1;
}

struct corral_outbound_call {
    corral_loader *l;
    struct call_rec *rec;
};

static const char blocked_msg[] =
    "This worker is not permitted to access the internet via global functions like fetch(). It "
    "must use capabilities (such as bindings in 'env') to talk to the outside world.";

static int h_fetch(void *host, struct sandbox *sb, uint64_t fetch_id, const uint8_t *req,
                   size_t req_len, corral_error *err) {
    struct worker *w = host;
    corral_loader *l = w->l;
    struct invocation *inv = inv_find(l, sandbox_current_invocation(sb));
    if (inv && ++inv->subrequests > inv->limits.subrequests) {
        corral_error_set(err, CORRAL_ELIMIT, "SubrequestLimitError",
                         "The invocation made more than %llu outbound requests (the subRequests "
                         "limit).",
                         (unsigned long long)inv->limits.subrequests);
        inv_fail(l, inv, CORRAL_OUTCOME_EXCEEDED_LIMIT, "SubrequestLimitError", "%s", err->message);
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
        struct call_rec *c = call_new(l);
        call_take(l, c->id);
        c->from = w;
        w->refs++;
        c->from_gen = w->gen;
        c->from_call_id = fetch_id;
        c->is_fetch = 1;
        c->invocation = inv ? inv->id : 0;
        route_call(l, w, fetch_id, c->invocation, o->outbound_stub, "fetch", args, len, NULL, 0, c);
        free(args);
        return 0;
    }
    if (o->outbound == WC_OUTBOUND_HOST && l->outbound) {
        int st;
        struct wire_limits lim = {0};
        char *json = wire_to_json(req, req_len, &lim, 64u << 20, &st);
        json_error_t je;
        json_t *r = json ? json_loads(json, 0, &je) : NULL;
        free(json);
        if (!r) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError", "The request could not be read.");
            return -1;
        }
        json_t *hs = json_object_get(r, "headers");
        size_t n = json_array_size(hs);
        corral_header *h = calloc(n ? n : 1, sizeof *h);
        for (size_t i = 0; h && i < n; i++) {
            h[i].name = json_string_value(json_array_get(json_array_get(hs, i), 0));
            h[i].value = json_string_value(json_array_get(json_array_get(hs, i), 1));
        }
        corral_request rq = {.method = json_string_value(json_object_get(r, "method")),
                             .url = json_string_value(json_object_get(r, "url")),
                             .headers = h, .header_count = n};
        struct corral_outbound_call *oc = calloc(1, sizeof *oc);
        struct call_rec *c = call_new(l);
        c->from = w;
        w->refs++;
        c->from_gen = w->gen;
        c->from_call_id = fetch_id;
        c->is_fetch = 1;
        oc->l = l;
        oc->rec = c;
        l->host_calls_pending++;
        l->outbound(oc, &rq, l->outbound_ud);
        free(h);
        json_decref(r);
        return 0;
    }
    corral_error_set(err, CORRAL_EINVAL, "Error", "%s", blocked_msg);
    return -1;
}

static void h_wait_until(void *host, struct sandbox *sb, uint64_t invocation, int delta) {
    struct worker *w = host;
    struct invocation *inv = inv_find(w->l, invocation);
    if (!inv) return;
    inv->wait_until += delta;
    if (inv->wait_until <= 0 && inv->answered) inv_finish(w->l, inv);
}

static uint8_t h_import_flags(void *host, struct sandbox *sb, uint64_t index) {
    struct cref *c = import_get(host, index);
    return c ? c->flags : 0;
}

static void h_unhandled(void *host, struct sandbox *sb, const char *text) {
    struct worker *w = host;
    struct invocation *inv = inv_find(w->l, sandbox_current_invocation(sb));
    if (!inv || inv->finished) inv = w->active;
    if (!inv) return;
    if (text) {
        size_t n = strlen(text) + 32;
        char *m = malloc(n);
        if (m) {
            snprintf(m, n, "Unhandled rejection: %s", text);
            inv_log(inv, CORRAL_LOG_ERROR, m, strlen(m));
            free(m);
        }
    }
    inv->unhandled++;
}

/* ---- public API: loader ------------------------------------------------- */

corral_loader *corral_loader_new(const corral_options *opts, corral_error *err) {
    corral_loader *l = calloc(1, sizeof *l);
    if (!l) {
        corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory.");
        return NULL;
    }
    corral_options_default(&l->opts);
    if (opts) {
        corral_limits defaults = l->opts.limits;
        l->opts = *opts;
        uint64_t *o = (uint64_t *)&l->opts.limits;
        const uint64_t *d = (const uint64_t *)&defaults;
        for (size_t i = 0; i < sizeof defaults / sizeof(uint64_t); i++)
            if (!o[i]) o[i] = d[i];
        if (!l->opts.cache_capacity) l->opts.cache_capacity = 1024;
        if (!l->opts.max_sandboxes) l->opts.max_sandboxes = 100000;
    }
    l->limits = l->opts.limits;
    if (l->opts.today) snprintf(l->today, sizeof l->today, "%s", l->opts.today);
    else wc_today_utc(l->today);
    l->opts.today = NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->epfd < 0 || l->evfd < 0) {
        corral_error_set(err, CORRAL_EINVAL, "Error", "epoll/eventfd failed: %s", strerror(errno));
        if (l->epfd >= 0) close(l->epfd);
        if (l->evfd >= 0) close(l->evfd);
        free(l);
        return NULL;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->evfd};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev);
    l->host = (struct engine_host){
        .send = h_send, .load = h_load, .get = h_get, .provide = h_provide,
        .entrypoint = h_entrypoint, .log = h_log, .timer_set = h_timer_set,
        .timer_clear = h_timer_clear, .fetch = h_fetch, .wait_until = h_wait_until,
        .unhandled_rejection = h_unhandled, .import_flags = h_import_flags};
    return l;
}

void corral_loader_free(corral_loader *l) {
    if (!l) return;
    while (l->head) {
        struct task *t = l->head;
        l->head = t->next;
        task_free(t);
    }
    l->tail = NULL;
    while (l->invocations) {
        struct invocation *inv = l->invocations;
        inv->done = NULL;
        inv_destroy(l, inv);
    }
    while (l->lru_head) cache_remove(l, l->lru_head);
    while (l->host_calls) {
        struct corral_call *c = l->host_calls;
        l->host_calls = c->next;
        free(c->method);
        free(c->args_json);
        free(c->worker_id);
        free(c);
    }
    /* Break reference cycles: every worker drops its sandbox and imports. */
    for (struct worker *w = l->workers; w; w = w->next_all) {
        w->refs++;
        worker_discard_sandbox(w);
    }
    while (l->calls) {
        struct call_rec *c = l->calls;
        l->calls = c->next;
        if (c->from) worker_unref(c->from);
        if (c->callee) worker_unref(c->callee);
        free(c);
    }
    while (l->workers) {
        struct worker *w = l->workers;
        l->workers = w->next_all;
        w->next_all = NULL;
        /* whatever references remain are cycles among dead workers */
        while (w->parked) {
            struct task *t = w->parked;
            w->parked = t->next;
            t->w = NULL;
            free(t->name);
            free(t->payload);
            free(t->caps);
            free(t);
        }
        for (size_t i = 0; i < w->env_cap_count; i++) free(NULL);
        free(w->env_caps);
        wc_free(w->code);
        free(w->imports);
        free(w->id);
        free(w);
    }
    free(l->timers);
    close(l->epfd);
    close(l->evfd);
    free(l);
}

int corral_loader_fd(corral_loader *l) { return l->epfd; }

int corral_loader_timeout(corral_loader *l) {
    if (l->head) return 0;
    while (l->timer_count && l->timers[0].dead) timer_pop(l);
    if (!l->timer_count) return -1;
    double d = l->timers[0].due_ms - mono_ms();
    return d <= 0 ? 0 : (int)(d + 0.999);
}

static size_t pending_count(corral_loader *l) {
    size_t n = 0;
    for (struct task *t = l->head; t; t = t->next) n++;
    for (struct invocation *i = l->invocations; i; i = i->next_all) n++;
    for (struct corral_call *c = l->host_calls; c; c = c->next) n++;
    n += (size_t)l->host_calls_pending;
    n += live_timers(l);
    return n;
}

static void fire_due_timers(corral_loader *l) {
    double now = mono_ms();
    while (l->timer_count && l->timers[0].due_ms <= now) {
        struct timer_ent e = timer_pop(l);
        if (e.dead) continue;
        if (!e.w) {
            struct invocation *inv = inv_find(l, e.id);
            if (inv && !inv->answered) {
                struct worker *w = inv->w;
                w->refs++;
                if (w->sb) sandbox_kill(w->sb, SANDBOX_KILL_WALL);
                kill_worker_invocations(l, w, SANDBOX_KILL_WALL);
                worker_unref(w);
            }
            continue;
        }
        struct worker *w = e.w;
        if (!w->sb || w->gen != e.gen) continue;
        w->refs++;
        uint64_t start;
        run_turn_begin(w, &start);
        sandbox_fire_timer(w->sb, e.id);
        run_turn_end(l, w, start);
        worker_unref(w);
    }
}

int corral_loader_step(corral_loader *l, int timeout_ms) {
    if (l->head) timeout_ms = 0;
    int due = corral_loader_timeout(l);
    if (due >= 0 && (timeout_ms < 0 || due < timeout_ms)) timeout_ms = due;
    if (timeout_ms != 0) {
        struct epoll_event ev;
        epoll_wait(l->epfd, &ev, 1, timeout_ms);
    }
    uint64_t drain;
    ssize_t r = read(l->evfd, &drain, sizeof drain);
    (void)r;
    /* Run the tasks queued so far; new ones wait for the next step. */
    struct task *batch = l->head;
    l->head = l->tail = NULL;
    while (batch) {
        struct task *t = batch;
        batch = t->next;
        run_task(l, t);
    }
    fire_due_timers(l);
    if (l->head) wake(l);
    return (int)pending_count(l);
}

int corral_loader_run(corral_loader *l) {
    while (corral_loader_step(l, -1) > 0) {
    }
    return CORRAL_OK;
}

void corral_loader_set_outbound(corral_loader *l, corral_outbound_fn fn, void *ud) {
    l->outbound = fn;
    l->outbound_ud = ud;
}

void corral_loader_set_tail(corral_loader *l, corral_tail_fn fn, void *ud) {
    l->tail_fn = fn;
    l->tail_ud = ud;
}

void corral_loader_stats(corral_loader *l, corral_stats *out) {
    out->live_sandboxes = l->live_sandboxes;
    out->cached_workers = l->cached;
    out->sandboxes_created = l->sandboxes_created;
    out->invocations = l->invocation_count;
    out->evictions = l->evictions;
}

/* ---- public API: capabilities ------------------------------------------- */

corral_capability *corral_capability_new(corral_loader *l, const char *name) {
    corral_capability *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->l = l;
    c->refs = 1;
    c->name = strdup(name ? name : "capability");
    return c;
}

void corral_capability_retain_internal(corral_capability *c) { c->refs++; }

int corral_capability_add_method(corral_capability *c, const char *method, corral_method_fn fn,
                                 void *userdata, corral_error *err) {
    if (!method || !*method || !fn) {
        corral_error_set(err, CORRAL_EINVAL, "TypeError", "A method needs a name and a function.");
        return CORRAL_EINVAL;
    }
    struct cap_method *m = realloc(c->methods, (c->method_count + 1) * sizeof *m);
    if (!m) return CORRAL_ENOMEM;
    c->methods = m;
    m[c->method_count].name = strdup(method);
    m[c->method_count].fn = fn;
    m[c->method_count].ud = userdata;
    c->method_count++;
    return CORRAL_OK;
}

void corral_capability_release(corral_capability *c) {
    if (!c || --c->refs > 0) return;
    for (size_t i = 0; i < c->method_count; i++) free(c->methods[i].name);
    free(c->methods);
    free(c->name);
    free(c);
}

const char *corral_call_method(const corral_call *call) { return call->method; }
const char *corral_call_args_json(const corral_call *call, size_t *len) {
    if (len) *len = call->args_len;
    return call->args_json;
}
const char *corral_call_worker_id(const corral_call *call) { return call->worker_id; }

static void call_complete(corral_call *call, int ok, const uint8_t *p, size_t len) {
    corral_loader *l = call->l;
    for (struct corral_call **pp = &l->host_calls; *pp; pp = &(*pp)->next) {
        if (*pp == call) {
            *pp = call->next;
            break;
        }
    }
    struct call_rec *c = call_take(l, call->call_id);
    if (c) answer_to(l, c, ok, p, len, NULL, 0);
    free(call->method);
    free(call->args_json);
    free(call->worker_id);
    free(call);
}

int corral_call_return_json(corral_call *call, const char *json, size_t len) {
    size_t plen;
    int st;
    uint8_t *p;
    if (!json) {
        static const uint8_t undef[2] = {WIRE_VERSION, WIRE_UNDEFINED};
        call_complete(call, 1, undef, 2);
        return CORRAL_OK;
    }
    p = wire_from_json(json, len, 64u << 20, &plen, &st, NULL, 0);
    if (!p) {
        uint8_t *e = engine_error_payload("TypeError", "The host returned invalid JSON.", NULL, &plen);
        call_complete(call, 0, e, plen);
        free(e);
        return CORRAL_EINVAL;
    }
    call_complete(call, 1, p, plen);
    free(p);
    return CORRAL_OK;
}

int corral_call_throw(corral_call *call, const char *name, const char *message) {
    size_t len;
    uint8_t *p = engine_error_payload(name ? name : "Error", message ? message : "", NULL, &len);
    call_complete(call, 0, p, len);
    free(p);
    return CORRAL_OK;
}

int corral_outbound_respond(corral_outbound_call *oc, int status, const corral_header *headers,
                            size_t header_count, const uint8_t *body, size_t body_len) {
    struct wire_buf b;
    wire_buf_init(&b, 0);
    wire_put_header(&b);
    wire_put_object_begin(&b, 5);
    wire_put_key(&b, "status", 6);
    wire_put_number(&b, status);
    wire_put_key(&b, "statusText", 10);
    wire_put_string(&b, "", 0);
    wire_put_key(&b, "url", 3);
    wire_put_string(&b, "", 0);
    wire_put_key(&b, "headers", 7);
    wire_put_array_begin(&b, header_count);
    for (size_t i = 0; i < header_count; i++) {
        wire_put_array_begin(&b, 2);
        wire_put_string(&b, headers[i].name, strlen(headers[i].name));
        wire_put_string(&b, headers[i].value, strlen(headers[i].value));
    }
    wire_put_key(&b, "body", 4);
    wire_put_bytes(&b, WIRE_BYTES_ARRAYBUFFER, body ? (const void *)body : "", body_len);
    size_t len;
    uint8_t *p = wire_buf_take(&b, &len);
    corral_loader *l = oc->l;
    struct call_rec *c = call_take(l, oc->rec->id);
    l->host_calls_pending--;
    if (c && p) answer_to(l, c, 1, p, len, NULL, 0);
    free(p);
    free(oc);
    return CORRAL_OK;
}

int corral_outbound_fail(corral_outbound_call *oc, const char *message) {
    corral_loader *l = oc->l;
    struct call_rec *c = call_take(l, oc->rec->id);
    l->host_calls_pending--;
    if (c) answer_error(l, c, "TypeError", message ? message : "fetch failed");
    free(oc);
    return CORRAL_OK;
}

/* ---- public API: workers and calls -------------------------------------- */

/* env for host-built code: [ {JSON env..., NAME: stub}, null ]. */
static int host_env_payload(corral_code *code, struct worker *w, corral_error *err) {
    struct workercode *wc = w->code;
    size_t nbind = 0;
    for (size_t i = 0; i < wc->binding_count; i++) nbind += !wc->bindings[i].is_loader;
    struct wire_buf b;
    wire_buf_init(&b, 0);
    wire_put_header(&b);
    wire_put_array_begin(&b, 2);
    wire_put_object_begin(&b, json_object_size(code->env) + nbind);
    const char *key;
    json_t *v;
    json_object_foreach(code->env, key, v) {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        size_t plen;
        int st;
        uint8_t *p = text ? wire_from_json(text, strlen(text), 1u << 30, &plen, &st, NULL, 0) : NULL;
        free(text);
        if (!p) {
            wire_buf_free(&b);
            corral_error_set(err, CORRAL_EINVAL, "TypeError", "env.%s could not be encoded.", key);
            return -1;
        }
        wire_put_key(&b, key, strlen(key));
        wire_put_raw(&b, p + 1, plen - 1);
        free(p);
    }
    size_t k = 0;
    w->env_caps = calloc(nbind ? nbind : 1, sizeof *w->env_caps);
    for (size_t i = 0; w->env_caps && i < wc->binding_count; i++) {
        if (wc->bindings[i].is_loader) continue;
        struct cref *c = cref_new(CREF_CAPABILITY);
        if (!c) break;
        c->cap = wc->bindings[i].cap;
        corral_capability_retain_internal(c->cap);
        w->env_caps[k] = c;
        wire_put_key(&b, wc->bindings[i].name, strlen(wc->bindings[i].name));
        wire_put_stub(&b, k);
        k++;
    }
    w->env_cap_count = k;
    wire_put_null(&b);
    if (b.status || k != nbind) {
        wire_buf_free(&b);
        corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory building env.");
        return -1;
    }
    free(wc->env);
    wc->env = wire_buf_take(&b, &wc->env_len);
    return 0;
}

static struct worker *worker_from_code(corral_loader *l, const corral_code *code, const char *id,
                                       corral_error *err) {
    struct workercode *wc = wc_clone(code->wc);
    if (!wc) {
        corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory copying WorkerCode.");
        return NULL;
    }
    if (wc->outbound == WC_OUTBOUND_DEFAULT) wc->outbound = WC_OUTBOUND_BLOCK;
    struct worker *w = worker_new(l, id);
    if (!w) {
        wc_free(wc);
        return NULL;
    }
    w->code = wc;
    char *env_text = json_dumps(code->env, JSON_COMPACT);
    size_t env_len = env_text ? strlen(env_text) : 0;
    free(env_text);
    wc->env_len = env_len; /* validated against limits.env_bytes as the reference does */
    if (wc_validate(wc, &l->limits, l->today, err) < 0 || host_env_payload((corral_code *)code, w, err) < 0) {
        w->code = NULL;
        wc_free(wc);
        worker_unref(w);
        return NULL;
    }
    w->code = NULL;
    wc->outbound_cap = 0;
    enum wc_outbound ob = wc->outbound;
    wc->outbound = WC_OUTBOUND_BLOCK;
    worker_set_code(w, wc, NULL, err);
    w->outbound = (int)ob;
    return w;
}

corral_worker *corral_load(corral_loader *l, const corral_code *code, corral_error *err) {
    struct worker *w = worker_from_code(l, code, NULL, err);
    if (!w) return NULL;
    corral_worker *s = calloc(1, sizeof *s);
    if (!s) {
        worker_unref(w);
        return NULL;
    }
    s->l = l;
    s->w = w;
    return s;
}

static struct worker *worker_via_factory(corral_loader *l, const char *id,
                                         corral_code_factory factory, void *ud) {
    corral_error err = {0};
    corral_code *code = factory(ud, &err);
    struct worker *w = NULL;
    if (code) w = worker_from_code(l, code, id, &err);
    corral_code_free(code);
    if (!w) {
        w = worker_new(l, id);
        if (!w) return NULL;
        w->state = W_FAILED;
        w->fail = err;
        if (!w->fail.name[0]) strcpy(w->fail.name, "Error");
        if (!w->fail.message[0]) strcpy(w->fail.message, "The code factory returned no WorkerCode.");
    }
    return w;
}

corral_worker *corral_get(corral_loader *l, const char *id, corral_code_factory factory,
                          void *userdata) {
    corral_worker *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->l = l;
    s->factory = factory;
    s->userdata = userdata;
    if (id) {
        s->id = strdup(id);
    } else {
        s->w = worker_via_factory(l, NULL, factory, userdata);
    }
    return s;
}

void corral_worker_release(corral_worker *s) {
    if (!s) return;
    if (s->w) worker_unref(s->w);
    free(s->id);
    free(s);
}

static struct worker *resolve_stub(corral_worker *s) {
    corral_loader *l = s->l;
    if (s->w) {
        s->w->refs++;
        return s->w;
    }
    struct worker *w = cache_find(l, s->id);
    if (w) {
        lru_touch(l, w);
        w->refs++;
        return w;
    }
    w = worker_via_factory(l, s->id, s->factory, s->userdata);
    if (!w) return NULL;
    if (w->state != W_FAILED) cache_insert(l, w);
    return w;
}

static int start_invocation(corral_worker *s, const corral_invoke_options *opts,
                            const char *method, const uint8_t *args, size_t args_len, int is_fetch,
                            corral_done_fn done, void *ud) {
    corral_loader *l = s->l;
    struct worker *w = resolve_stub(s);
    if (!w) return CORRAL_ENOMEM;
    struct cref *e = cref_new(CREF_ENTRY);
    if (!e) {
        worker_unref(w);
        return CORRAL_ENOMEM;
    }
    e->w = w; /* takes the reference from resolve_stub */
    e->entry = strdup(opts && opts->entrypoint ? opts->entrypoint : "default");
    if (opts) e->limits = opts->limits;
    if (opts && opts->props_json) {
        int st;
        e->props = wire_from_json(opts->props_json, strlen(opts->props_json), 1u << 30,
                                  &e->props_len, &st, NULL, 0);
        if (!e->props) {
            cref_unref(e);
            return CORRAL_EINVAL;
        }
    }
    struct call_rec *c = call_new(l);
    if (!c) {
        cref_unref(e);
        return CORRAL_ENOMEM;
    }
    c->to_host = 1;
    c->invocation = c->id;
    struct invocation *inv = inv_new(l, w, e->entry, method, &e->limits, c->id);
    if (!inv) {
        call_take(l, c->id);
        free(c);
        cref_unref(e);
        return CORRAL_ENOMEM;
    }
    inv->from_host = 1;
    inv->is_fetch = is_fetch;
    inv->done = done;
    inv->userdata = ud;
    route_call(l, NULL, 0, c->id, e, method, args, args_len, NULL, 0, c);
    cref_unref(e);
    return CORRAL_OK;
}

int corral_invoke(corral_worker *s, const corral_invoke_options *opts, const char *method,
                  const char *args_json, corral_done_fn done, void *userdata) {
    if (!s || !method || !done) return CORRAL_EINVAL;
    const char *json = args_json ? args_json : "[]";
    size_t len;
    int st;
    uint8_t *p = wire_from_json(json, strlen(json), 1u << 30, &len, &st, NULL, 0);
    if (!p || len < 2 || p[1] != WIRE_ARRAY) {
        free(p);
        return CORRAL_EINVAL;
    }
    int r = start_invocation(s, opts, method, p, len, 0, done, userdata);
    free(p);
    return r;
}

int corral_fetch(corral_worker *s, const corral_invoke_options *opts, const corral_request *req,
                 corral_done_fn done, void *userdata) {
    if (!s || !req || !req->url || !done) return CORRAL_EINVAL;
    struct wire_buf b;
    wire_buf_init(&b, 0);
    wire_put_header(&b);
    wire_put_array_begin(&b, 1);
    wire_put_object_begin(&b, 4);
    wire_put_key(&b, "method", 6);
    const char *m = req->method ? req->method : "GET";
    wire_put_string(&b, m, strlen(m));
    wire_put_key(&b, "url", 3);
    wire_put_string(&b, req->url, strlen(req->url));
    wire_put_key(&b, "headers", 7);
    wire_put_array_begin(&b, req->header_count);
    for (size_t i = 0; i < req->header_count; i++) {
        wire_put_array_begin(&b, 2);
        wire_put_string(&b, req->headers[i].name, strlen(req->headers[i].name));
        wire_put_string(&b, req->headers[i].value, strlen(req->headers[i].value));
    }
    wire_put_key(&b, "body", 4);
    if (req->body) wire_put_bytes(&b, WIRE_BYTES_UINT8, req->body, req->body_len);
    else wire_put_null(&b);
    size_t len;
    uint8_t *p = wire_buf_take(&b, &len);
    if (!p) return CORRAL_ENOMEM;
    int r = start_invocation(s, opts, "fetch", p, len, 1, done, userdata);
    free(p);
    return r;
}

int corral_loader_allow_net(corral_loader *l, const char *allow, corral_error *err) {
    corral_error_set(err, CORRAL_EINVAL, "Error",
                     "corral's built-in HTTP client is not available in this build; install an "
                     "outbound handler with corral_loader_set_outbound().");
    return CORRAL_EINVAL;
}
