/* Invocations: one call on a worker's entrypoint, with its limits, CPU
 * account, console lines and outcome, and the corral_result the caller and
 * the tail receive when it ends. Also the limit defaults and how limits
 * combine (an inner level can only lower one).
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
void ld_limits_lower(corral_limits *out, const corral_limits *inner) {
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
    o->prewarm_sandboxes = 4;
    o->busy_poll_us = 50;
}

const char *corral_outcome_name(corral_outcome o) {
    static const char *names[] = {"ok", "exception", "exceededCpu", "exceededMemory",
                                  "exceededWall", "exceededLimit", "canceled", "internal",
                                  "crashed"};
    return (unsigned)o < 9 ? names[o] : "internal";
}

const char *corral_log_level_name(corral_log_level l) {
    static const char *names[] = {"debug", "info", "log", "warn", "error"};
    return (unsigned)l < 5 ? names[l] : "log";
}

/* ---- invocations --------------------------------------------------------- */

struct invocation *ld_inv_find(corral_loader *l, uint64_t id) {
    return ld_idmap_get(&l->inv_ids, id);
}

/* Each line is charged its length plus one (the newline it is printed
 * with), so a flood of empty lines meets the limit too instead of growing
 * the list without bound. A line is handed to the invocation's log hook as
 * it is kept, so hosts can stream console output while the code runs. */
void ld_inv_log(struct invocation *inv, corral_log_level level, const char *text, size_t len) {
    if (inv->logs_truncated) return;
    if (inv->log_bytes + len + 1 > inv->limits.log_bytes) {
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
    inv->logs[inv->log_count++] = (corral_log_line){level, ld_real_ms(), copy};
    inv->log_bytes += len + 1;
    if (inv->log_hook) inv->log_hook(level, copy, strlen(copy), inv->log_hook_ud);
}

int ld_inv_set_log_hook(corral_loader *l, corral_done_fn done, void *userdata, ld_log_hook_fn fn,
                        void *ud) {
    for (struct invocation *inv = l ? l->invocations : NULL; inv; inv = inv->next_all) {
        if (!inv->from_host || inv->finished || inv->done != done || inv->userdata != userdata)
            continue;
        inv->log_hook = fn;
        inv->log_hook_ud = ud;
        return CORRAL_OK;
    }
    return CORRAL_EINVAL;
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


/* Records how an invocation ended from the payload its sandbox answered. */
void ld_inv_answer(corral_loader *l, struct invocation *inv, int ok, const uint8_t *p,
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
    if (inv->wait_until <= 0) ld_inv_finish(l, inv);
}

void ld_inv_fail(corral_loader *l, struct invocation *inv, corral_outcome o, const char *name,
                     const char *fmt, ...) {
    if (inv->answered) {
        if (!inv->finished) ld_inv_finish(l, inv);
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    inv->answered = 1;
    inv_set_error(inv, o, name, msg, NULL);
    ld_inv_finish(l, inv);
}

/* Fills r from inv. What it allocates (the value's JSON, or the response
 * read from the payload) is handed back for the caller to free after the
 * callbacks. */
static void result_fill(struct invocation *inv, corral_result *r, char **json_out,
                        struct ld_http_msg *response) {
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
    r->wall_ms = ld_mono_ms() - inv->wall_start_ms;
    if (inv->outcome != CORRAL_OUTCOME_OK || !inv->payload) return;
    if (inv->is_fetch) {
        /* A packed Response: {status, statusText, headers: [[k, v]], body: bytes} */
        if (ld_http_msg_read(inv->payload, inv->payload_len, inv->payload_caps, response) < 0) {
            /* Never a status 0 with no headers that looks like success. */
            r->outcome = CORRAL_OUTCOME_EXCEPTION;
            r->error_name = "TypeError";
            /* The message lives in *json_out, freed after the callbacks. */
            const char *why = response->why ? response->why : "it is not a packed HTTP message";
            if (asprintf(json_out, "The worker's response could not be handed to the host: %s.", why) < 0)
                *json_out = NULL;
            r->error_message = *json_out ? *json_out : "The worker's response could not be handed to the host.";
            return;
        }
        r->status = response->status;
        r->status_text = response->status_text ? response->status_text : "";
        r->headers = response->headers;
        r->header_count = response->header_count;
        r->body = response->body ? response->body : (const uint8_t *)"";
        r->body_len = response->body_len;
        return;
    }
    if (inv->payload_len >= 2 && inv->payload[1] == WIRE_UNDEFINED) return;
    int st;
    struct wire_limits lim = {.cap_count = inv->payload_caps};
    *json_out = wire_to_json(inv->payload, inv->payload_len, &lim, 64u << 20, &st);
    r->value_json = *json_out;
}

void ld_inv_unlink_active(struct invocation *inv) {
    if (!inv->w) return;
    for (struct invocation **p = &inv->w->active; *p; p = &(*p)->next_active) {
        if (*p == inv) {
            *p = inv->next_active;
            break;
        }
    }
}

void ld_inv_destroy(corral_loader *l, struct invocation *inv) {
    ld_timer_cancel(l, inv->wall_timer);
    inv->wall_timer = NULL;
    ld_idmap_take(&l->inv_ids, inv->id);
    if (inv->prev_all) inv->prev_all->next_all = inv->next_all;
    else l->invocations = inv->next_all;
    if (inv->next_all) inv->next_all->prev_all = inv->prev_all;
    l->inv_live--;
    ld_inv_unlink_active(inv);
    for (size_t i = 0; i < inv->log_count; i++) free((char *)inv->logs[i].text);
    free(inv->logs);
    free(inv->payload);
    free(inv->error_name);
    free(inv->error_message);
    free(inv->error_stack);
    free(inv->entrypoint);
    free(inv->method);
    if (inv->w) ld_worker_unref(inv->w);
    free(inv);
}

void ld_inv_finish(corral_loader *l, struct invocation *inv) {
    if (inv->finished) return;
    inv->finished = 1;
    ld_inv_unlink_active(inv);
    char *json = NULL;
    struct ld_http_msg response;
    memset(&response, 0, sizeof response);
    corral_result r;
    result_fill(inv, &r, &json, &response);
    if (l->tail_fn) l->tail_fn(&r, l->tail_ud);
    if (inv->w && inv->w->tail_count) ld_deliver_tails(l, inv, &r);
    if (inv->from_host && inv->done) inv->done(&r, inv->userdata);
    free(json);
    ld_http_msg_free(&response);
    ld_inv_destroy(l, inv);
}

