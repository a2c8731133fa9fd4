/* Helpers shared by the public-API tests (test_api.c, test_api_host.c):
 * a result copied out of its callback, loaders and workers made in one
 * line, and waiting for an invocation from the loop. Static inline, so a
 * test file that leaves one unused gets no warning.
 */
#ifndef CORRAL_TESTS_API_HELPERS_H
#define CORRAL_TESTS_API_HELPERS_H

#include <poll.h>
#include <stdint.h>

#include "check.h"
#include "corral.h"

/* ---- helpers ------------------------------------------------------------- */

#define MAX_LOGS 16
#define MAX_HEADERS 16

/* A copy of one corral_result (its pointers die with the callback). */
struct res {
    int done;
    int calls;
    corral_outcome outcome;
    int has_value;
    char value[4096];
    int status;
    size_t header_count;
    char hname[MAX_HEADERS][64];
    char hvalue[MAX_HEADERS][256];
    char body[4096];
    size_t body_len;
    char error_name[64];
    char error_message[1024];
    char worker_id[64];
    char entrypoint[64];
    char method[64];
    size_t log_count;
    corral_log_level levels[MAX_LOGS];
    char logs[MAX_LOGS][256];
    size_t unhandled;
};

static inline void copy_str(char *dst, size_t n, const char *s) { snprintf(dst, n, "%s", s ? s : ""); }

static inline void copy_result(struct res *r, const corral_result *x) {
    r->calls++;
    r->done = 1;
    r->outcome = x->outcome;
    r->has_value = x->value_json != NULL;
    copy_str(r->value, sizeof r->value, x->value_json);
    r->status = x->status;
    r->header_count = x->header_count;
    for (size_t i = 0; i < x->header_count && i < MAX_HEADERS; i++) {
        copy_str(r->hname[i], sizeof r->hname[i], x->headers[i].name);
        copy_str(r->hvalue[i], sizeof r->hvalue[i], x->headers[i].value);
    }
    r->body_len = x->body_len;
    if (x->body) {
        size_t n = x->body_len < sizeof r->body - 1 ? x->body_len : sizeof r->body - 1;
        memcpy(r->body, x->body, n);
        r->body[n] = 0;
    }
    copy_str(r->error_name, sizeof r->error_name, x->error_name);
    copy_str(r->error_message, sizeof r->error_message, x->error_message);
    copy_str(r->worker_id, sizeof r->worker_id, x->worker_id);
    copy_str(r->entrypoint, sizeof r->entrypoint, x->entrypoint);
    copy_str(r->method, sizeof r->method, x->method);
    r->log_count = x->log_count;
    for (size_t i = 0; i < x->log_count && i < MAX_LOGS; i++) {
        r->levels[i] = x->logs[i].level;
        copy_str(r->logs[i], sizeof r->logs[i], x->logs[i].text);
    }
    r->unhandled = x->unhandled_rejections;
}

static inline void on_done(const corral_result *x, void *ud) { copy_result(ud, x); }

/* Steps until r->done (or a bounded number of steps, so a bug fails the
 * case instead of hanging the suite). */
static inline void wait_done(corral_loader *l, struct res *r) {
    for (int i = 0; i < 2000 && !r->done; i++) {
        if (corral_loader_step(l, 50) < 0) break;
    }
}

/* A loader with default options in one isolation mode (workers: how many
 * worker processes in the jailed modes; 0 = one per CPU). NULL, with the
 * case failed and the reason printed, when it cannot start. */
static inline corral_loader *new_loader_in(corral_isolation mode, size_t workers) {
    corral_error err = {0};
    corral_options o;
    corral_options_default(&o);
    o.today = "2025-06-01";
    o.isolation = mode;
    o.isolation_workers = workers;
    corral_loader *l = corral_loader_new(&o, &err);
    if (!l) CHECK_FAIL_AT("corral_loader_new: %s: %s", err.name, err.message);
    return l;
}

/* The loader's own behaviour, in this process; the jailed modes run the
 * same cases through tests/jail and tests/run.sh. */
static inline corral_loader *new_loader(void) { return new_loader_in(CORRAL_ISOLATION_INLINE, 0); }

static inline corral_code *code_with(const char *src) {
    corral_code *c = corral_code_new();
    corral_code_set_compatibility_date(c, "2025-06-01");
    corral_code_set_main_module(c, "main.js");
    corral_code_add_module(c, "main.js", CORRAL_MODULE_INFER, src, strlen(src));
    return c;
}

static inline corral_worker *load_src(corral_loader *l, const char *src) {
    corral_error err = {0};
    corral_code *c = code_with(src);
    corral_worker *w = corral_load(l, c, &err);
    corral_code_free(c);
    if (!w) CHECK_FAIL_AT("corral_load: %s: %s", err.name, err.message);
    return w;
}

/* Invokes `method` and waits for the answer. */
static inline void invoke(corral_loader *l, corral_worker *w, const char *method, const char *args,
                   struct res *r) {
    memset(r, 0, sizeof *r);
    CHECK_EQ_INT(corral_invoke(w, NULL, method, args, on_done, r), CORRAL_OK);
    wait_done(l, r);
    CHECK(r->done);
}

/* Loads `src`, calls `method` once and tears everything down. */
static inline void run_once(const char *src, const char *method, const char *args, struct res *r) {
    corral_loader *l = new_loader();
    corral_worker *w = load_src(l, src);
    if (w) invoke(l, w, method, args, r);
    corral_worker_release(w);
    corral_loader_free(l);
}

/* Validation of one WorkerCode: the expected error name and message. */
static inline void expect_load_error(corral_loader *l, corral_code *c, int status, const char *name,
                              const char *message) {
    corral_error err = {0};
    corral_worker *w = corral_load(l, c, &err);
    CHECK(w == NULL);
    corral_worker_release(w);
    CHECK_EQ_INT(err.status, status);
    CHECK_EQ_STR(err.name, name);
    CHECK_EQ_STR(err.message, message);
}


#endif
