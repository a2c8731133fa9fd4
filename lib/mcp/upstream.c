/* lib/mcp/upstream.c — the protocol core of an upstream MCP client: the
 * lifecycle (initialize, initialized, tools/list, restart with backoff),
 * JSON-RPC request bookkeeping, call timeouts and cancellation, and the
 * answers to requests the upstream sends us.
 *
 * The transports (upstream_stdio.c, upstream_http.c) only move messages, so
 * everything an MCP client must get right lives here once. Every request,
 * including the internal initialize and tools/list, is a mcp_upstream_req in
 * the `pending` list with its own reactor timer; a call that cannot be sent
 * (upstream down, message too large) becomes a `deferred` request whose
 * failure is delivered by a 0 ms timer, so a done callback never runs inside
 * the mcp_upstream_call() that caused it.
 *
 * Failing many requests at once (the upstream died, or is being freed) pops
 * them one at a time from the head of the list: a done callback may cancel
 * other requests or start new ones, and each pop sees the list as it is now.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corral.h"
#include "mcp/upstream_internal.h"

enum { ST_IDLE, ST_STARTING, ST_READY, ST_DOWN, ST_CLOSING };
enum { REQ_CALL, REQ_INIT, REQ_LIST, REQ_DEFERRED };

#define HANDSHAKE_TIMEOUT_MS 30000u
#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 10000u
#define HEALTHY_MS 10000u
#define MAX_LIST_PAGES 100u
#define MAX_TOOLS 10000u
#define MAX_MALFORMED_NOTES 5u
#define PROTOCOL_VERSION "2025-06-18"

static const char *const known_versions[] = {"2025-06-18", "2025-03-26", "2024-11-05"};

struct mcp_upstream_req {
    mcp_upstream *u;
    struct mcp_upstream_req *prev, *next, **head;
    int64_t id;
    int kind;
    char *tool, *error;
    uint64_t timeout_ms, timer;
    mcp_upstream_done_fn done;
    void *ud;
};

/* ---- small helpers -------------------------------------------------------- */

/* The upstream's stderr sink, made on first use. */
static mcp_stderr_sink *errsink(mcp_upstream *u) {
    if (!u->errsink) {
        char prefix[96];
        snprintf(prefix, sizeof prefix, "[%.80s] ", u->spec.name);
        u->errsink = mcp_stderr_sink_new(u->r, 2, prefix);
    }
    return u->errsink;
}

void mcp_upstream_stderr_line(mcp_upstream *u, const char *text, size_t len) {
    mcp_stderr_sink_line(errsink(u), text, len);
}

void mcp_upstream_log(mcp_upstream *u, const char *fmt, ...) {
    char line[MCP_STDERR_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t len = m < 0 ? 0 : (size_t)m < sizeof line ? (size_t)m : sizeof line - 1;
    mcp_stderr_sink_line(errsink(u), line, len);
}

void mcp_upstream_malformed(mcp_upstream *u, const char *what) {
    if (u->malformed_notes >= MAX_MALFORMED_NOTES) return;
    if (++u->malformed_notes == MAX_MALFORMED_NOTES)
        mcp_upstream_log(u, "ignored a malformed message (%s); further ones are not reported", what);
    else
        mcp_upstream_log(u, "ignored a malformed message (%s)", what);
}

static void set_error(mcp_upstream *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(mcp_upstream *u, const char *fmt, ...) {
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    free(u->error);
    u->error = s;
}

static void req_link(struct mcp_upstream_req **head, struct mcp_upstream_req *q) {
    q->head = head;
    q->prev = NULL;
    q->next = *head;
    if (*head) (*head)->prev = q;
    *head = q;
}

static void req_unlink(struct mcp_upstream_req *q) {
    if (!q->head) return;
    if (q->prev) q->prev->next = q->next;
    else *q->head = q->next;
    if (q->next) q->next->prev = q->prev;
    q->head = NULL;
    q->prev = q->next = NULL;
}

static void req_free(struct mcp_upstream_req *q) {
    req_unlink(q);
    if (q->timer) net_reactor_cancel_timer(q->u->r, q->timer);
    free(q->tool);
    free(q->error);
    free(q);
}

static struct mcp_upstream_req *req_find(mcp_upstream *u, int64_t id) {
    for (struct mcp_upstream_req *q = u->pending; q; q = q->next)
        if (q->id == id) return q;
    return NULL;
}

/* Serializes and hands one message to the transport. 0, or -1 with err. */
static int send_json(mcp_upstream *u, json_t *msg, int64_t id, char *err, size_t errlen) {
    char *s = json_dumps(msg, JSON_COMPACT);
    if (!s) {
        snprintf(err, errlen, "out of memory (or arguments that cannot be encoded as JSON)");
        return -1;
    }
    size_t len = strlen(s);
    int rc = -1;
    if (len > MCP_UPSTREAM_MAX_MESSAGE)
        snprintf(err, errlen, "message is %zu bytes, limit %u", len, MCP_UPSTREAM_MAX_MESSAGE);
    else
        rc = u->ops->send(u, s, len, id, err, errlen);
    free(s);
    return rc;
}

static void send_notification(mcp_upstream *u, const char *method, json_t *params /* stolen */) {
    json_t *m = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
    if (m && params) json_object_set_new(m, "params", params);
    else json_decref(params);
    char err[256];
    if (m && send_json(u, m, 0, err, sizeof err) < 0) mcp_upstream_log(u, "could not send %s: %s", method, err);
    json_decref(m);
}

static void send_cancelled(mcp_upstream *u, int64_t id, const char *reason) {
    if (u->state != ST_READY) return;
    send_notification(u, "notifications/cancelled",
                      json_pack("{s:I, s:s}", "requestId", (json_int_t)id, "reason", reason));
}

/* ---- lifecycle ------------------------------------------------------------ */

static void attempt(net_reactor *r, void *ud);
static void start_listing(mcp_upstream *u);

/* Fails every pending request with `why` (internal ones are just dropped). */
static void fail_pending(mcp_upstream *u, const char *why) {
    while (u->pending) {
        struct mcp_upstream_req *q = u->pending;
        req_unlink(q);
        if (q->kind == REQ_CALL && q->done) q->done(NULL, why, q->ud);
        req_free(q);
    }
}

static void go_down(mcp_upstream *u) {
    uint64_t now = net_now_ms();
    int was_ready = u->state == ST_READY;
    if (was_ready && now - u->ready_since >= HEALTHY_MS) u->backoff_ms = BACKOFF_MIN_MS;
    u->state = ST_DOWN;
    free(u->protocol_version);
    u->protocol_version = NULL;
    json_decref(u->tools_staging);
    u->tools_staging = NULL;
    u->listing = u->relist = 0;
    uint64_t delay = u->backoff_ms;
    u->backoff_ms = u->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : u->backoff_ms * 2;
    u->restart_timer = net_reactor_timer(u->r, delay, attempt, u);
    /* A command that keeps failing the same way is reported once, not at
     * every attempt. */
    if (was_ready || !u->logged_error || !u->error || strcmp(u->logged_error, u->error) != 0) {
        mcp_upstream_log(u, "%s; restarting in %llu ms",
                         u->error ? u->error : "stopped", (unsigned long long)delay);
        free(u->logged_error);
        u->logged_error = u->error ? strdup(u->error) : NULL;
    }
    /* The error may be replaced by a callback below (a later failure); keep
     * our own copy for the requests. */
    char *why = strdup(u->error ? u->error : "upstream stopped");
    fail_pending(u, why ? why : "upstream stopped");
    free(why);
    if (was_ready && u->on_event && u->state == ST_DOWN) u->on_event(u, u->ud);
}

/* A failure detected by the core (bad handshake, timeout): the transport is
 * closed first, then the upstream goes down like after a crash. */
static void fail_connection(mcp_upstream *u) {
    u->ops->close(u, 0);
    go_down(u);
}

void mcp_upstream_on_down(mcp_upstream *u, const char *why) {
    if (u->state != ST_STARTING && u->state != ST_READY) return;
    set_error(u, "upstream \"%s\" %s", u->spec.name, why);
    go_down(u);
}

static struct mcp_upstream_req *req_new(mcp_upstream *u, int kind) {
    struct mcp_upstream_req *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->u = u;
    q->kind = kind;
    return q;
}

static void internal_timeout(net_reactor *r, void *ud) {
    struct mcp_upstream_req *q = ud;
    mcp_upstream *u = q->u;
    q->timer = 0;
    set_error(u, "upstream \"%s\" did not answer %s within %u ms", u->spec.name,
              q->kind == REQ_INIT ? "initialize" : "tools/list", HANDSHAKE_TIMEOUT_MS);
    req_free(q);
    fail_connection(u);
}

/* Sends an internal request (initialize, tools/list); on failure the
 * connection is failed. */
static void send_internal(mcp_upstream *u, int kind, const char *method, json_t *params /* stolen */) {
    struct mcp_upstream_req *q = req_new(u, kind);
    json_t *m = q ? json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", (json_int_t)(u->next_id + 1),
                              "method", method, "params", params)
                  : (json_decref(params), NULL);
    char err[256] = "out of memory";
    if (!q || !m) {
        free(q);
        json_decref(m);
        set_error(u, "upstream \"%s\" %s failed: out of memory", u->spec.name, method);
        fail_connection(u);
        return;
    }
    q->id = ++u->next_id;
    if (send_json(u, m, q->id, err, sizeof err) < 0) {
        json_decref(m);
        free(q);
        set_error(u, "upstream \"%s\" %s failed: %s", u->spec.name, method, err);
        fail_connection(u);
        return;
    }
    json_decref(m);
    req_link(&u->pending, q);
    q->timer = net_reactor_timer(u->r, HANDSHAKE_TIMEOUT_MS, internal_timeout, q);
}

static void attempt(net_reactor *r, void *ud) {
    mcp_upstream *u = ud;
    u->restart_timer = 0;
    char err[512];
    u->state = ST_STARTING;
    if (u->ops->open(u, err, sizeof err) < 0) {
        set_error(u, "upstream \"%s\" %s", u->spec.name, err);
        go_down(u);
        return;
    }
    json_t *params = json_pack("{s:s, s:{}, s:{s:s, s:s}}", "protocolVersion", PROTOCOL_VERSION,
                               "capabilities", "clientInfo", "name", "corral", "version", CORRAL_VERSION);
    send_internal(u, REQ_INIT, "initialize", params);
}

static void on_init_result(mcp_upstream *u, json_t *result) {
    const char *v = json_string_value(json_object_get(result, "protocolVersion"));
    size_t i;
    for (i = 0; v && i < sizeof known_versions / sizeof *known_versions; i++)
        if (strcmp(v, known_versions[i]) == 0) break;
    if (!v || i == sizeof known_versions / sizeof *known_versions) {
        set_error(u, "upstream \"%s\" answered initialize with protocol version %s%.64s%s (corral speaks "
                  "2025-06-18, 2025-03-26 and 2024-11-05)",
                  u->spec.name, v ? "\"" : "", v ? v : "(none)", v ? "\"" : "");
        fail_connection(u);
        return;
    }
    free(u->protocol_version);
    u->protocol_version = strdup(v);
    send_notification(u, "notifications/initialized", NULL);
    start_listing(u);
}

static void request_page(mcp_upstream *u, const char *cursor) {
    json_t *params = cursor ? json_pack("{s:s}", "cursor", cursor) : json_object();
    send_internal(u, REQ_LIST, "tools/list", params);
}

static void start_listing(mcp_upstream *u) {
    if (u->listing) {
        u->relist = 1;
        return;
    }
    json_decref(u->tools_staging);
    u->tools_staging = json_array();
    u->listing = 1;
    u->relist = 0;
    u->list_pages = 0;
    request_page(u, NULL);
}

/* A copy of the fields of a Tool corral uses, or NULL (with a note) when the
 * entry is not a usable tool. `names` holds the names taken so far (a hash,
 * so a listing of many tools stays linear). */
static json_t *clean_tool(mcp_upstream *u, json_t *t, json_t *names) {
    const char *name = json_string_value(json_object_get(t, "name"));
    if (!json_is_object(t) || !name || !*name) {
        mcp_upstream_malformed(u, "a tools/list entry without a name");
        return NULL;
    }
    if (json_object_get(names, name)) {
        mcp_upstream_log(u, "tools/list names \"%.100s\" twice; the first one is used", name);
        return NULL;
    }
    json_t *schema = json_object_get(t, "inputSchema");
    json_t *out = json_pack("{s:s}", "name", name);
    if (!out || json_object_set_new(names, name, json_true()) < 0) {
        json_decref(out);
        return NULL;
    }
    json_t *d = json_object_get(t, "description");
    if (json_is_string(d)) json_object_set(out, "description", d);
    if (json_is_object(schema)) json_object_set(out, "inputSchema", schema);
    else json_object_set_new(out, "inputSchema", json_pack("{s:s}", "type", "object"));
    json_t *os = json_object_get(t, "outputSchema");
    if (json_is_object(os)) json_object_set(out, "outputSchema", os);
    return out;
}

static void on_list_result(mcp_upstream *u, json_t *result) {
    json_t *tools = json_object_get(result, "tools");
    if (!json_is_array(tools)) {
        mcp_upstream_malformed(u, "tools/list result without a tools array");
        tools = NULL;
    }
    json_t *names = json_object();
    size_t i;
    json_t *t;
    json_array_foreach(u->tools_staging, i, t) {
        json_object_set_new(names, json_string_value(json_object_get(t, "name")), json_true());
    }
    json_array_foreach(tools, i, t) {
        if (json_array_size(u->tools_staging) >= MAX_TOOLS) {
            mcp_upstream_log(u, "lists more than %u tools; the rest are ignored", MAX_TOOLS);
            break;
        }
        json_t *c = clean_tool(u, t, names);
        if (c) json_array_append_new(u->tools_staging, c);
    }
    json_decref(names);
    const char *cursor = json_string_value(json_object_get(result, "nextCursor"));
    if (cursor && ++u->list_pages < MAX_LIST_PAGES && json_array_size(u->tools_staging) < MAX_TOOLS) {
        request_page(u, cursor);
        return;
    }
    if (cursor && u->list_pages >= MAX_LIST_PAGES)
        mcp_upstream_log(u, "tools/list has more than %u pages; the rest are ignored", MAX_LIST_PAGES);
    json_decref(u->tools);
    u->tools = u->tools_staging;
    u->tools_staging = NULL;
    u->listing = 0;
    if (u->state == ST_STARTING) {
        u->state = ST_READY;
        u->ready_since = net_now_ms();
        free(u->error);
        u->error = NULL;
    }
    if (u->relist) start_listing(u);
    if (u->on_event) u->on_event(u, u->ud);
}

/* A JSON-RPC error object as "message (code N)". */
static void describe_error(json_t *e, char *buf, size_t len) {
    const char *m = json_string_value(json_object_get(e, "message"));
    json_t *code = json_object_get(e, "code");
    if (json_is_integer(code))
        snprintf(buf, len, "%.1000s (code %lld)", m ? m : "no message", (long long)json_integer_value(code));
    else
        snprintf(buf, len, "%.1000s", m ? m : "malformed error object");
}

static void on_response(mcp_upstream *u, json_t *msg) {
    json_t *idj = json_object_get(msg, "id");
    if (!json_is_integer(idj)) {
        mcp_upstream_malformed(u, "a response whose id corral never sent");
        return;
    }
    struct mcp_upstream_req *q = req_find(u, json_integer_value(idj));
    if (!q) return; /* a late answer to a cancelled or timed-out request */
    json_t *result = json_object_get(msg, "result"), *error = json_object_get(msg, "error");
    req_unlink(q);
    char buf[1200];
    if (q->kind == REQ_CALL) {
        if (json_is_object(result)) {
            q->done(result, NULL, q->ud);
        } else {
            char why[1100];
            if (error) describe_error(error, why, sizeof why);
            else snprintf(why, sizeof why, "a response without a result object");
            snprintf(buf, sizeof buf, "upstream \"%s\" tool \"%s\" failed: %s", u->spec.name, q->tool, why);
            q->done(NULL, buf, q->ud);
        }
        req_free(q);
        return;
    }
    int kind = q->kind;
    req_free(q);
    if (!json_is_object(result)) {
        if (error) describe_error(error, buf, sizeof buf);
        else snprintf(buf, sizeof buf, "a response without a result object");
        if (kind == REQ_LIST && u->state == ST_READY) {
            /* A failed refresh keeps the tools we had. */
            mcp_upstream_log(u, "tools/list failed: %s", buf);
            json_decref(u->tools_staging);
            u->tools_staging = NULL;
            u->listing = 0;
            return;
        }
        set_error(u, "upstream \"%s\" %s failed: %s", u->spec.name,
                  kind == REQ_INIT ? "initialize" : "tools/list", buf);
        fail_connection(u);
        return;
    }
    if (kind == REQ_INIT) on_init_result(u, result);
    else on_list_result(u, result);
}

static void on_request(mcp_upstream *u, json_t *msg, const char *method) {
    json_t *id = json_object_get(msg, "id");
    json_t *reply;
    if (strcmp(method, "ping") == 0)
        reply = json_pack("{s:s, s:O, s:{}}", "jsonrpc", "2.0", "id", id, "result");
    else
        reply = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id, "error", "code", -32601,
                          "message", "Method not found");
    char err[256];
    if (reply && send_json(u, reply, 0, err, sizeof err) < 0)
        mcp_upstream_log(u, "could not answer %s: %s", method, err);
    json_decref(reply);
}

static void on_notification(mcp_upstream *u, json_t *msg, const char *method) {
    if (strcmp(method, "notifications/tools/list_changed") == 0) {
        if (u->state == ST_READY) start_listing(u);
        return;
    }
    if (strcmp(method, "notifications/message") == 0) {
        json_t *p = json_object_get(msg, "params");
        const char *level = json_string_value(json_object_get(p, "level"));
        json_t *data = json_object_get(p, "data");
        char *text = json_is_string(data) ? strdup(json_string_value(data))
                                          : json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
        mcp_upstream_log(u, "%s: %.1000s", level ? level : "log", text ? text : "");
        free(text);
    }
    /* progress and other notifications carry nothing corral uses. */
}

void mcp_upstream_on_message(mcp_upstream *u, json_t *msg) {
    if (json_is_array(msg)) {
        size_t i;
        json_t *m;
        json_array_foreach(msg, i, m) {
            if (json_is_array(m)) mcp_upstream_malformed(u, "a nested batch");
            else mcp_upstream_on_message(u, m);
            if (u->state != ST_STARTING && u->state != ST_READY) return;
        }
        return;
    }
    if (!json_is_object(msg)) {
        mcp_upstream_malformed(u, "not a JSON object");
        return;
    }
    json_t *method = json_object_get(msg, "method");
    if (method) {
        if (!json_is_string(method)) {
            mcp_upstream_malformed(u, "a method that is not a string");
            return;
        }
        json_t *id = json_object_get(msg, "id");
        if (id && !json_is_null(id)) on_request(u, msg, json_string_value(method));
        else on_notification(u, msg, json_string_value(method));
        return;
    }
    if (json_object_get(msg, "id") && (json_object_get(msg, "result") || json_object_get(msg, "error"))) {
        on_response(u, msg);
        return;
    }
    mcp_upstream_malformed(u, "neither a request, a notification nor a response");
}

void mcp_upstream_on_send_failed(mcp_upstream *u, int64_t id, const char *why) {
    struct mcp_upstream_req *q = req_find(u, id);
    if (!q) return;
    if (q->kind != REQ_CALL) {
        set_error(u, "upstream \"%s\" %s failed: %s", u->spec.name,
                  q->kind == REQ_INIT ? "initialize" : "tools/list", why);
        req_free(q);
        fail_connection(u);
        return;
    }
    char buf[1400];
    snprintf(buf, sizeof buf, "upstream \"%s\" tool \"%s\" failed: %.1200s", u->spec.name, q->tool, why);
    req_unlink(q);
    q->done(NULL, buf, q->ud);
    req_free(q);
}

/* ---- public API ----------------------------------------------------------- */

static int copy_strv(char ***dst, size_t *dn, char *const *src, size_t n) {
    *dn = 0;
    *dst = NULL;
    if (!src) return 0;
    char **v = calloc(n + 1, sizeof *v);
    if (!v) return -1;
    *dst = v;
    for (size_t i = 0; i < n; i++) {
        if (!(v[i] = strdup(src[i]))) return -1;
        *dn = i + 1;
    }
    return 0;
}

mcp_upstream *mcp_upstream_new(net_reactor *r, const mcp_upstream_spec *spec,
                               mcp_upstream_event_fn on_tools_changed, void *ud) {
    if (!spec || !spec->name || (!spec->url && (!spec->argv || !spec->argc))) return NULL;
    mcp_upstream *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->r = r;
    u->on_event = on_tools_changed;
    u->ud = ud;
    u->backoff_ms = BACKOFF_MIN_MS;
    u->ops = spec->url ? &mcp_upstream_http_ops : &mcp_upstream_stdio_ops;
    u->spec.name = strdup(spec->name);
    u->spec.url = spec->url ? strdup(spec->url) : NULL;
    u->tools = json_array();
    if (!u->spec.name || (spec->url && !u->spec.url) || !u->tools ||
        copy_strv(&u->spec.argv, &u->spec.argc, spec->url ? NULL : spec->argv, spec->argc) < 0 ||
        copy_strv(&u->spec.env, &u->spec.envc, spec->env, spec->envc) < 0 ||
        copy_strv(&u->spec.headers, &u->spec.headerc, spec->headers, spec->headerc) < 0) {
        mcp_upstream_spec_clear(&u->spec);
        json_decref(u->tools);
        free(u);
        return NULL;
    }
    return u;
}

void mcp_upstream_stop_begin(mcp_upstream *u) {
    if (u) mcp_upstream_stdio_signal_stop(u);
}

void mcp_upstream_free(mcp_upstream *u) {
    if (!u) return;
    u->state = ST_CLOSING;
    u->ops->close(u, 1);
    if (u->restart_timer) net_reactor_cancel_timer(u->r, u->restart_timer);
    char *why = NULL;
    if (asprintf(&why, "upstream \"%s\" was shut down", u->spec.name) < 0) why = NULL;
    fail_pending(u, why ? why : "upstream was shut down");
    while (u->deferred) {
        struct mcp_upstream_req *q = u->deferred;
        req_unlink(q);
        q->done(NULL, q->error ? q->error : why, q->ud);
        req_free(q);
    }
    free(why);
    json_decref(u->tools);
    json_decref(u->tools_staging);
    free(u->error);
    free(u->logged_error);
    free(u->protocol_version);
    mcp_stderr_sink_free(u->errsink);
    mcp_upstream_spec_clear(&u->spec);
    free(u);
}

int mcp_upstream_start(mcp_upstream *u) {
    if (u->started) return -1;
    u->started = 1;
    u->state = ST_STARTING;
    /* From a timer, so that a failure to spawn is reported from the reactor
     * like every other event, never from inside this call. */
    u->restart_timer = net_reactor_timer(u->r, 0, attempt, u);
    if (!u->restart_timer) {
        u->state = ST_IDLE;
        u->started = 0;
        return -1;
    }
    return 0;
}

int mcp_upstream_ready(const mcp_upstream *u) {
    return u->state == ST_READY ? 1 : u->state == ST_STARTING ? 0 : -1;
}

const char *mcp_upstream_error(const mcp_upstream *u) {
    if (!u->error && u->state == ST_IDLE) return "upstream not started";
    return u->error;
}

const char *mcp_upstream_name(const mcp_upstream *u) { return u->spec.name; }
const char *mcp_upstream_protocol_version(const mcp_upstream *u) {
    return u->state == ST_READY ? u->protocol_version : NULL;
}
const json_t *mcp_upstream_tools(const mcp_upstream *u) { return u->tools; }

static void call_timeout(net_reactor *r, void *ud) {
    struct mcp_upstream_req *q = ud;
    mcp_upstream *u = q->u;
    q->timer = 0;
    req_unlink(q);
    if (u->ops->abandon) u->ops->abandon(u, q->id);
    send_cancelled(u, q->id, "timed out");
    char buf[512];
    snprintf(buf, sizeof buf, "upstream \"%s\" tool \"%s\" timed out after %llu ms", u->spec.name, q->tool,
             (unsigned long long)q->timeout_ms);
    q->done(NULL, buf, q->ud);
    req_free(q);
}

static void deferred_fire(net_reactor *r, void *ud) {
    struct mcp_upstream_req *q = ud;
    q->timer = 0;
    req_unlink(q);
    q->done(NULL, q->error ? q->error : "out of memory", q->ud);
    req_free(q);
}

mcp_upstream_req *mcp_upstream_call(mcp_upstream *u, const char *tool, json_t *arguments,
                                    uint64_t timeout_ms, mcp_upstream_done_fn done, void *ud) {
    if (!done || !tool || u->state == ST_CLOSING) return NULL;
    struct mcp_upstream_req *q = req_new(u, REQ_CALL);
    if (!q) return NULL;
    q->done = done;
    q->ud = ud;
    q->timeout_ms = timeout_ms;
    q->tool = strdup(tool);
    if (!q->tool) {
        free(q);
        return NULL;
    }
    char err[512] = "";
    if (u->state != ST_READY) {
        const char *cause = u->state == ST_STARTING ? "is starting" : u->error ? u->error : "is not running";
        /* u->error already begins with `upstream "NAME"`. */
        int n = u->state != ST_STARTING && u->error
                    ? asprintf(&q->error, "%s; tool \"%s\" is unavailable until it restarts", cause, tool)
                    : asprintf(&q->error, "upstream \"%s\" %s; tool \"%s\" is unavailable", u->spec.name,
                               cause, tool);
        if (n < 0) q->error = NULL;
    } else {
        int64_t id = u->next_id + 1;
        json_t *args = arguments ? json_incref(arguments) : json_object();
        json_t *m = json_pack("{s:s, s:I, s:s, s:{s:s, s:o}}", "jsonrpc", "2.0", "id", (json_int_t)id,
                              "method", "tools/call", "params", "name", tool, "arguments", args);
        if (!m) snprintf(err, sizeof err, "out of memory");
        else if (send_json(u, m, id, err, sizeof err) == 0) {
            json_decref(m);
            u->next_id = id;
            q->id = id;
            req_link(&u->pending, q);
            if (timeout_ms) q->timer = net_reactor_timer(u->r, timeout_ms, call_timeout, q);
            return q;
        }
        json_decref(m);
        if (asprintf(&q->error, "upstream \"%s\" tool \"%s\" failed: %s", u->spec.name, tool, err) < 0)
            q->error = NULL;
    }
    q->kind = REQ_DEFERRED;
    req_link(&u->deferred, q);
    q->timer = net_reactor_timer(u->r, 0, deferred_fire, q);
    if (!q->timer) {
        req_free(q);
        return NULL;
    }
    return q;
}

void mcp_upstream_cancel(mcp_upstream_req *q) {
    if (!q) return;
    if (q->kind == REQ_CALL && q->head) {
        if (q->u->ops->abandon) q->u->ops->abandon(q->u, q->id);
        send_cancelled(q->u, q->id, "cancelled by the client");
    }
    req_free(q);
}

int mcp_upstreams_wait_ready(net_reactor *r, mcp_upstream **ups, size_t n, uint64_t timeout_ms) {
    uint64_t deadline = net_now_ms() + timeout_ms;
    for (;;) {
        int ready = 0, waiting = 0;
        for (size_t i = 0; i < n; i++) {
            int s = mcp_upstream_ready(ups[i]);
            ready += s == 1;
            waiting += s == 0;
        }
        uint64_t now = net_now_ms();
        if (!waiting || now >= deadline || net_reactor_stopped(r)) return ready;
        if (net_reactor_run_once(r, (int)(deadline - now > 1000 ? 1000 : deadline - now)) < 0) return ready;
    }
}
