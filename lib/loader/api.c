/* The public API for capabilities, host calls, workers and invocations:
 * corral_capability_*, corral_call_*, corral_load/get, corral_invoke,
 * corral_fetch and the outbound completions.
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

size_t corral_capability_methods(const corral_capability *c, const char **names, size_t max) {
    for (size_t i = 0; i < c->method_count && i < max; i++) names[i] = c->methods[i].name;
    return c->method_count;
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
    if (call->prev) call->prev->next = call->next;
    else l->host_calls = call->next;
    if (call->next) call->next->prev = call->prev;
    l->host_call_count--;
    struct call_rec *c = ld_call_take(l, call->call_id);
    if (c) ld_answer_to(l, c, ok, p, len, NULL, 0);
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
    struct call_rec *c = ld_call_take(l, oc->rec->id);
    l->host_calls_pending--;
    if (c && p) ld_answer_to(l, c, 1, p, len, NULL, 0);
    free(p);
    free(oc);
    return CORRAL_OK;
}

int corral_outbound_fail(corral_outbound_call *oc, const char *message) {
    corral_loader *l = oc->l;
    struct call_rec *c = ld_call_take(l, oc->rec->id);
    l->host_calls_pending--;
    if (c) ld_answer_error(l, c, "TypeError", message ? message : "fetch failed");
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
        struct cref *c = ld_cref_new(CREF_CAPABILITY);
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
    struct worker *w = ld_worker_new(l, id);
    if (!w) {
        wc_free(wc);
        return NULL;
    }
    w->code = wc;
    char *env_text = json_dumps(code->env, JSON_COMPACT);
    size_t env_len = env_text ? strlen(env_text) : 0;
    free(env_text);
    wc->env_size = env_len; /* validated against limits.env_bytes as the reference does */
    if (wc_validate(wc, &l->limits, l->today, err) < 0 || host_env_payload((corral_code *)code, w, err) < 0) {
        w->code = NULL;
        wc_free(wc);
        ld_worker_unref(w);
        return NULL;
    }
    w->code = NULL;
    enum wc_outbound ob = wc->outbound;
    wc->outbound = WC_OUTBOUND_BLOCK;
    ld_worker_set_code(w, wc, NULL, err);
    w->outbound = (int)ob;
    return w;
}

corral_worker *corral_load(corral_loader *l, const corral_code *code, corral_error *err) {
    struct worker *w = worker_from_code(l, code, NULL, err);
    if (!w) return NULL;
    corral_worker *s = calloc(1, sizeof *s);
    if (!s) {
        ld_worker_unref(w);
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
        w = ld_worker_new(l, id);
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
    if (s->w) ld_worker_unref(s->w);
    free(s->id);
    free(s);
}

struct abort_task {
    struct worker *w;
    char message[512];
};

static void run_abort(corral_loader *l, void *arg) {
    struct abort_task *t = arg;
    if (!l->closing) ld_abort_worker(l, t->w, t->message);
    ld_worker_unref(t->w);
    free(t);
}

int corral_worker_abort(corral_worker *s, const char *message) {
    if (!s) return CORRAL_EINVAL;
    struct worker *w = s->w ? s->w : ld_cache_find(s->l, s->id);
    if (!w) return CORRAL_OK; /* nothing of it is running */
    struct abort_task *t = malloc(sizeof *t);
    if (!t) return CORRAL_ENOMEM;
    t->w = w;
    snprintf(t->message, sizeof t->message, "%s",
             message && *message ? message : "The invocation was aborted by its host.");
    w->refs++;
    /* Deferred to the loop: the host may call this from a capability
     * callback, while one of the worker's own turns is on the stack. */
    if (ld_post(s->l, run_abort, t) < 0) {
        ld_worker_unref(w);
        free(t);
        return CORRAL_ENOMEM;
    }
    return CORRAL_OK;
}

static struct worker *resolve_stub(corral_worker *s) {
    corral_loader *l = s->l;
    if (s->w) {
        s->w->refs++;
        return s->w;
    }
    struct worker *w = ld_cache_find(l, s->id);
    if (w) {
        ld_lru_touch(l, w);
        w->refs++;
        return w;
    }
    w = worker_via_factory(l, s->id, s->factory, s->userdata);
    if (!w) return NULL;
    if (w->state != W_FAILED) ld_cache_insert(l, w);
    return w;
}

static int start_invocation(corral_worker *s, const corral_invoke_options *opts,
                            const char *method, const uint8_t *args, size_t args_len, int is_fetch,
                            corral_done_fn done, void *ud) {
    corral_loader *l = s->l;
    struct worker *w = resolve_stub(s);
    if (!w) return CORRAL_ENOMEM;
    struct cref *e = ld_cref_new(CREF_ENTRY);
    if (!e) {
        ld_worker_unref(w);
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
            ld_cref_unref(e);
            return CORRAL_EINVAL;
        }
    }
    struct call_rec *c = ld_call_new(l);
    if (!c) {
        ld_cref_unref(e);
        return CORRAL_ENOMEM;
    }
    c->to_host = 1;
    c->invocation = c->id;
    struct invocation *inv = ld_inv_new(l, w, e->entry, method, &e->limits, c->id);
    if (!inv) {
        ld_call_take(l, c->id);
        free(c);
        ld_cref_unref(e);
        return CORRAL_ENOMEM;
    }
    inv->from_host = 1;
    inv->is_fetch = is_fetch;
    inv->done = done;
    inv->userdata = ud;
    ld_route_call(l, NULL, 0, c->id, e, method, args, args_len, NULL, 0, c);
    ld_cref_unref(e);
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
    return ld_net_enable(l, allow, err);
}

