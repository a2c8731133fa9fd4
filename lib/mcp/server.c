/* The MCP server's protocol core: sessions, the lifecycle state machine,
 * method dispatch and tool calls (see server.h for the behaviour and the
 * choices made where the specification leaves room, server_internal.h for
 * how transports plug in).
 *
 * The core never does I/O. A transport hands it a parsed message or batch
 * inside an *exchange*; the core answers each request through the exchange
 * (streamed to the transport at once, or collected into one answer) and
 * tells the transport when the exchange is over. A tools/call keeps its
 * exchange open until the host finishes it; a cancelled call releases the
 * exchange without an answer. Sessions and exchanges are reference counted
 * so that a session ending (stdio EOF, HTTP DELETE, a client too slow to
 * read, the server being freed) in the middle of a batch or with calls in
 * flight leaves nothing dangling: its calls are detached at once, and the
 * host's later mcp_call_finish() then only frees the call.
 */
#include "mcp/server_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codemode/codemode.h"

struct mcp_call {
    mcp_session *sess;    /* NULL once detached (cancelled, session ended) */
    mcp_exchange *ex;     /* holds one reference while attached */
    mcp_call *prev, *next;
    json_t *id, *token;
    char *name;
    unsigned long long progress;
    int cancelled;
};

static const char *const protocols[] = {"2025-06-18", "2025-03-26", "2024-11-05"};
static const char *const levels[] = {"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"};
enum { N_LEVELS = sizeof levels / sizeof levels[0], LEVEL_INFO = 1 };

int srv_protocol_supported(const char *version) {
    for (size_t i = 0; i < sizeof protocols / sizeof protocols[0]; i++)
        if (strcmp(version, protocols[i]) == 0) return 1;
    return 0;
}

static int level_index(const char *name) {
    for (int i = 0; name && i < N_LEVELS; i++)
        if (strcmp(name, levels[i]) == 0) return i;
    return -1;
}

/* ---- server ------------------------------------------------------------ */

mcp_server *mcp_server_new(net_reactor *r, const mcp_server_host *host, void *ud, const char *name,
                           const char *version) {
    mcp_server *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->r = r;
    if (host) s->host = *host;
    s->ud = ud;
    s->name = strdup(name ? name : "corral");
    s->version = strdup(version ? version : "0");
    s->http_limits = (mcp_http_limits){
        .max_header_bytes = 64 * 1024,
        .max_body_bytes = MCP_MAX_MESSAGE,
        .idle_ms = 60000,
        .request_ms = 30000,
        .max_connections = 256,
        .max_sessions = 256,
        .keepalive_ms = 15000,
    };
    if (!s->name || !s->version) {
        mcp_server_free(s);
        return NULL;
    }
    return s;
}

void mcp_server_free(mcp_server *s) {
    if (!s) return;
    while (s->sessions) srv_session_end(s->sessions, 0);
    srv_stdio_free(s);
    srv_http_free(s);
    for (size_t i = 0; i < s->n_origins; i++) free(s->origins[i]);
    free(s->origins);
    free(s->name);
    free(s->version);
    free(s->instructions);
    free(s);
}

int mcp_server_set_instructions(mcp_server *s, const char *instructions) {
    char *copy = NULL;
    if (instructions && !(copy = strdup(instructions))) return -1;
    free(s->instructions);
    s->instructions = copy;
    return 0;
}

void mcp_server_set_http_limits(mcp_server *s, const mcp_http_limits *lim) {
    mcp_http_limits *d = &s->http_limits;
    if (lim->max_header_bytes) d->max_header_bytes = lim->max_header_bytes;
    if (lim->max_body_bytes) d->max_body_bytes = lim->max_body_bytes;
    if (lim->idle_ms) d->idle_ms = lim->idle_ms;
    if (lim->request_ms) d->request_ms = lim->request_ms;
    if (lim->max_connections) d->max_connections = lim->max_connections;
    if (lim->max_sessions) d->max_sessions = lim->max_sessions;
    if (lim->keepalive_ms) d->keepalive_ms = lim->keepalive_ms;
    srv_http_limits_changed(s);
}

int mcp_server_allow_origin(mcp_server *s, const char *origin) {
    char **o = realloc(s->origins, (s->n_origins + 1) * sizeof *o);
    if (!o) return -1;
    s->origins = o;
    if (!(o[s->n_origins] = strdup(origin))) return -1;
    s->n_origins++;
    return 0;
}

size_t mcp_server_session_count(const mcp_server *s) { return s->n_sessions; }

/* ---- printing ------------------------------------------------------------ */

char *srv_error_text(json_t *id, int code, const char *message, size_t *len) {
    json_t *m = jsonrpc_error(id, code, message);
    char *t = m ? jsonrpc_dump(m, len) : NULL;
    json_decref(m);
    return t;
}

/* Prints a message; one that cannot be printed becomes an internal error
 * for the same id (when it has one). */
static char *print(json_t *m, size_t *len) {
    char *t = jsonrpc_dump(m, len);
    if (t) return t;
    json_t *id = json_object_get(m, "id");
    return srv_error_text(id, JSONRPC_INTERNAL_ERROR, "Internal error: the response could not be printed as JSON",
                          len);
}

/* A name from the client quoted in an error: at most 200 bytes, cut on a
 * UTF-8 boundary so the message stays valid JSON text. */
static void quote_name(char *out, size_t outlen, const char *prefix, const char *name) {
    size_t n = strlen(name), max = 200;
    if (n > max) {
        n = max;
        while (n && ((unsigned char)name[n] & 0xC0) == 0x80) n--;
    }
    snprintf(out, outlen, "%s%.*s%s", prefix, (int)n, name, strlen(name) > n ? "..." : "");
}

/* ---- sessions ------------------------------------------------------------ */

mcp_session *srv_session_new(mcp_server *srv, const srv_transport *tp, void *tp_data) {
    mcp_session *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->srv = srv;
    s->refs = 1;
    s->state = SESS_NEW;
    s->version = protocols[0];
    s->log_level = -1;
    s->tp = tp;
    s->tp_data = tp_data;
    s->next = srv->sessions;
    srv->sessions = s;
    srv->n_sessions++;
    return s;
}

void srv_session_ref(mcp_session *s) { s->refs++; }

void srv_session_unref(mcp_session *s) {
    if (--s->refs == 0) free(s);
}

static void exchange_release(mcp_exchange *ex);

/* Takes the call off its session and releases its exchange, unanswered. */
static void call_detach(mcp_call *c) {
    mcp_session *s = c->sess;
    if (!s) return;
    if (c->prev) c->prev->next = c->next;
    else s->calls = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->sess = NULL;
    mcp_exchange *ex = c->ex;
    c->ex = NULL;
    exchange_release(ex);
}

/* The client cancelled, or the session ended: no response will be sent.
 * The host hears of it last, since its cancel_tool may finish (free) the
 * call at once. */
static void call_cancel(mcp_call *c, int tell_host) {
    mcp_server *srv = c->sess->srv;
    c->cancelled = 1;
    call_detach(c);
    if (tell_host && srv->host.cancel_tool) srv->host.cancel_tool(c, srv->ud);
}

void srv_session_end(mcp_session *s, int cancel_host) {
    if (s->ended) return;
    s->ended = 1;
    mcp_server *srv = s->srv;
    for (mcp_session **p = &srv->sessions; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            srv->n_sessions--;
            break;
        }
    }
    s->next = NULL;
    while (s->calls) call_cancel(s->calls, cancel_host);
    if (s->tp->ended) s->tp->ended(s);
    srv_session_unref(s);
}

void srv_send_error(mcp_session *s, int code, const char *message) {
    if (s->ended) return;
    size_t len;
    char *t = srv_error_text(NULL, code, message, &len);
    if (t) s->tp->send(s, NULL, t, len);
    free(t);
}

void mcp_server_tools_changed(mcp_server *srv) {
    json_t *note = jsonrpc_notification("notifications/tools/list_changed", NULL);
    size_t len;
    char *t = note ? jsonrpc_dump(note, &len) : NULL;
    json_decref(note);
    if (!t) return;
    /* A send may end a session (stdio too slow to read): walk a snapshot. */
    size_t n = 0;
    mcp_session **snap = malloc((srv->n_sessions + 1) * sizeof *snap);
    for (mcp_session *s = srv->sessions; snap && s; s = s->next) {
        srv_session_ref(s);
        snap[n++] = s;
    }
    for (size_t i = 0; i < n; i++) {
        if (!snap[i]->ended && snap[i]->state != SESS_NEW) snap[i]->tp->send(snap[i], NULL, t, len);
        srv_session_unref(snap[i]);
    }
    free(snap);
    free(t);
}

/* ---- exchanges ----------------------------------------------------------- */

mcp_exchange *srv_exchange_new(mcp_session *s, int batch, int collect, int quiet, void *tp_data) {
    mcp_exchange *ex = calloc(1, sizeof *ex);
    if (!ex) return NULL;
    if (collect && !(ex->answers = json_array())) {
        free(ex);
        return NULL;
    }
    ex->sess = s;
    ex->refs = 1;
    ex->batch = batch;
    ex->collect = collect;
    ex->quiet = quiet;
    ex->tp_data = tp_data;
    srv_session_ref(s);
    return ex;
}

static void exchange_release(mcp_exchange *ex) {
    if (--ex->refs) return;
    mcp_session *s = ex->sess;
    char *text = NULL;
    size_t len = 0;
    if (!s->ended && ex->collect && json_array_size(ex->answers)) {
        json_t *a = ex->batch ? ex->answers : json_array_get(ex->answers, 0);
        text = jsonrpc_dump(a, &len);
        if (!text)
            text = srv_error_text(NULL, JSONRPC_INTERNAL_ERROR, "Internal error: the answer could not be printed", &len);
    }
    s->tp->done(s, ex, text, len);
    free(text);
    json_decref(ex->answers);
    free(ex);
    srv_session_unref(s);
}

/* Answers one request of the exchange (msg stolen). */
static void answer(mcp_exchange *ex, json_t *msg) {
    mcp_session *s = ex->sess;
    if (msg && !s->ended) {
        if (ex->collect) {
            json_array_append(ex->answers, msg);
        } else {
            size_t len;
            char *t = print(msg, &len);
            if (t) s->tp->send(s, ex, t, len);
            free(t);
        }
    }
    json_decref(msg);
}

static void answer_error(mcp_exchange *ex, json_t *id, int code, const char *message) {
    answer(ex, jsonrpc_error(id, code, message));
}

/* ---- methods ------------------------------------------------------------- */

static void do_initialize(mcp_exchange *ex, json_t *id, json_t *params) {
    mcp_session *s = ex->sess;
    mcp_server *srv = s->srv;
    if (ex->batch) {
        answer_error(ex, id, JSONRPC_INVALID_REQUEST, "Invalid Request: initialize must not be part of a batch");
        return;
    }
    if (s->state != SESS_NEW) {
        answer_error(ex, id, JSONRPC_INVALID_REQUEST, "Invalid Request: the session is already initialized");
        return;
    }
    json_t *pv = json_object_get(params, "protocolVersion");
    if (!json_is_string(pv)) {
        answer_error(ex, id, JSONRPC_INVALID_PARAMS,
                     "Invalid params: initialize needs params.protocolVersion (a string)");
        return;
    }
    const char *want = json_string_value(pv);
    s->version = protocols[0];
    for (size_t i = 0; i < sizeof protocols / sizeof protocols[0]; i++)
        if (strcmp(want, protocols[i]) == 0) s->version = protocols[i];
    json_t *r = json_pack("{s:s,s:{s:{s:b},s:{}},s:{s:s,s:s}}", "protocolVersion", s->version, "capabilities", "tools",
                          "listChanged", 1, "logging", "serverInfo", "name", srv->name, "version", srv->version);
    if (r && srv->instructions) json_object_set_new(r, "instructions", json_string(srv->instructions));
    if (!r) {
        answer_error(ex, id, JSONRPC_INTERNAL_ERROR, "Internal error: out of memory");
        return;
    }
    s->state = SESS_READY;
    answer(ex, jsonrpc_result(id, r));
}

static void do_tools_list(mcp_exchange *ex, json_t *id) {
    mcp_server *srv = ex->sess->srv;
    json_t *tools = srv->host.list_tools ? srv->host.list_tools(srv->ud) : json_array();
    if (!json_is_array(tools)) {
        json_decref(tools);
        answer_error(ex, id, JSONRPC_INTERNAL_ERROR, "Internal error: the tool list is not available");
        return;
    }
    json_t *r = json_pack("{s:o}", "tools", tools);
    if (!r) answer_error(ex, id, JSONRPC_INTERNAL_ERROR, "Internal error: out of memory");
    else answer(ex, jsonrpc_result(id, r));
}

static mcp_call *find_call(mcp_session *s, json_t *id) {
    for (mcp_call *c = s->calls; c; c = c->next)
        if (json_equal(c->id, id)) return c;
    return NULL;
}

static void do_tools_call(mcp_exchange *ex, json_t *id, json_t *params) {
    mcp_session *s = ex->sess;
    mcp_server *srv = s->srv;
    json_t *jname = json_object_get(params, "name");
    const char *name = json_string_value(jname);
    if (!name || strlen(name) != json_string_length(jname)) {
        answer_error(ex, id, JSONRPC_INVALID_PARAMS, "Invalid params: tools/call needs params.name (a string)");
        return;
    }
    json_t *args = json_object_get(params, "arguments");
    if (args && !json_is_null(args) && !json_is_object(args)) {
        answer_error(ex, id, JSONRPC_INVALID_PARAMS, "Invalid params: params.arguments must be an object");
        return;
    }
    if (find_call(s, id)) {
        answer_error(ex, id, JSONRPC_INVALID_REQUEST,
                     "Invalid Request: this id is already used by a tools/call still in flight");
        return;
    }
    if (!srv->host.call_tool) {
        answer_error(ex, id, JSONRPC_INTERNAL_ERROR, "Internal error: this server runs no tools");
        return;
    }
    mcp_call *c = calloc(1, sizeof *c);
    json_t *own_args = json_is_object(args) ? json_incref(args) : json_object();
    if (!c || !own_args || !(c->name = strdup(name))) {
        free(c);
        json_decref(own_args);
        answer_error(ex, id, JSONRPC_INTERNAL_ERROR, "Internal error: out of memory");
        return;
    }
    c->id = json_incref(id);
    json_t *token = json_object_get(json_object_get(params, "_meta"), "progressToken");
    if (json_is_string(token) || json_is_number(token)) c->token = json_incref(token);
    c->sess = s;
    c->ex = ex;
    ex->refs++;
    c->next = s->calls;
    if (s->calls) s->calls->prev = c;
    s->calls = c;
    /* `name` and `own_args` live in this dispatch, not in the call, so the
     * host may finish (free) the call inside call_tool and still read them. */
    srv->host.call_tool(c, name, own_args, srv->ud);
    json_decref(own_args);
}

static void do_set_level(mcp_exchange *ex, json_t *id, json_t *params) {
    int lvl = level_index(json_string_value(json_object_get(params, "level")));
    if (lvl < 0) {
        answer_error(ex, id, JSONRPC_INVALID_PARAMS,
                     "Invalid params: params.level must be one of debug, info, notice, warning, error, critical, "
                     "alert, emergency");
        return;
    }
    ex->sess->log_level = lvl;
    answer(ex, jsonrpc_result(id, NULL));
}

static void handle_request(mcp_exchange *ex, const jsonrpc_msg *m) {
    mcp_session *s = ex->sess;
    const char *method = m->method;
    json_t *params = m->params;
    if (json_is_array(params)) {
        answer_error(ex, m->id, JSONRPC_INVALID_PARAMS, "Invalid params: MCP params must be an object");
        return;
    }
    if (strcmp(method, "ping") == 0) {
        answer(ex, jsonrpc_result(m->id, NULL));
    } else if (strcmp(method, "initialize") == 0) {
        do_initialize(ex, m->id, params);
    } else if (s->state == SESS_NEW) {
        answer_error(ex, m->id, JSONRPC_INVALID_REQUEST,
                     "Invalid Request: the server is not initialized (send initialize first)");
    } else if (strcmp(method, "tools/list") == 0) {
        do_tools_list(ex, m->id);
    } else if (strcmp(method, "tools/call") == 0) {
        do_tools_call(ex, m->id, params);
    } else if (strcmp(method, "logging/setLevel") == 0) {
        do_set_level(ex, m->id, params);
    } else {
        char msg[300];
        quote_name(msg, sizeof msg, "Method not found: ", method);
        answer_error(ex, m->id, JSONRPC_METHOD_NOT_FOUND, msg);
    }
}

static void handle_notification(mcp_exchange *ex, const jsonrpc_msg *m) {
    mcp_session *s = ex->sess;
    if (strcmp(m->method, "notifications/initialized") == 0) {
        if (s->state == SESS_READY) s->state = SESS_INITIALIZED;
    } else if (strcmp(m->method, "notifications/cancelled") == 0) {
        json_t *rid = json_object_get(m->params, "requestId");
        mcp_call *c = rid ? find_call(s, rid) : NULL;
        if (c) call_cancel(c, 1);
    }
    /* Every other notification (progress, roots/list_changed, ...) needs
     * nothing from this server. */
}

static void handle_message(mcp_exchange *ex, json_t *m) {
    jsonrpc_msg msg;
    switch (jsonrpc_classify(m, &msg)) {
    case JSONRPC_REQUEST:
        handle_request(ex, &msg);
        break;
    case JSONRPC_NOTIFICATION:
        handle_notification(ex, &msg);
        break;
    case JSONRPC_RESPONSE:
        break; /* we send no requests, so nothing waits for an answer */
    case JSONRPC_INVALID:
        answer_error(ex, msg.id, msg.error_code, msg.error_text);
        break;
    }
}

void srv_dispatch(mcp_exchange *ex, json_t *root) {
    if (json_is_array(root) && json_array_size(root)) {
        ex->batch = 1;
        for (size_t i = 0; i < json_array_size(root) && !ex->sess->ended; i++)
            handle_message(ex, json_array_get(root, i));
    } else if (json_is_array(root)) {
        ex->batch = 0;
        answer_error(ex, NULL, JSONRPC_INVALID_REQUEST, "Invalid Request: an empty batch");
    } else {
        ex->batch = 0;
        handle_message(ex, root);
    }
    exchange_release(ex);
}

/* ---- calls --------------------------------------------------------------- */

const char *mcp_call_tool_name(const mcp_call *c) { return c->name; }
int mcp_call_has_progress(const mcp_call *c) { return c->token != NULL; }
int mcp_call_cancelled(const mcp_call *c) { return c->cancelled || !c->sess; }

/* A notification that travels with the call, when it still can. */
static void call_notify(mcp_call *c, json_t *n) {
    mcp_session *s = c->sess;
    if (n && s && !s->ended && !c->ex->quiet) {
        size_t len;
        char *t = jsonrpc_dump(n, &len);
        if (t) s->tp->send(s, c->ex, t, len);
        free(t);
    }
    json_decref(n);
}

void mcp_call_progress(mcp_call *c, const char *message) {
    if (!c->token || !c->sess) return;
    c->progress++;
    json_t *p = json_pack("{s:O,s:I}", "progressToken", c->token, "progress", (json_int_t)c->progress);
    if (p && message) json_object_set_new(p, "message", json_string(message));
    call_notify(c, p ? jsonrpc_notification("notifications/progress", p) : NULL);
}

int mcp_call_wants_log(const mcp_call *c, const char *level) {
    if (!c->sess || c->sess->ended || c->sess->log_level < 0 || c->ex->quiet) return 0;
    int lvl = level_index(level);
    return (lvl < 0 ? LEVEL_INFO : lvl) >= c->sess->log_level;
}

int mcp_call_log(mcp_call *c, const char *level, const char *text) {
    if (!mcp_call_wants_log(c, level)) return 0;
    int lvl = level_index(level);
    if (lvl < 0) lvl = LEVEL_INFO;
    json_t *data = json_string(text ? text : "");
    if (!data && text) {
        char *fixed = cm_utf8_repair(text);
        data = fixed ? json_string(fixed) : NULL;
        free(fixed);
    }
    if (!data) return 0;
    json_t *p = json_pack("{s:s,s:s,s:o}", "level", levels[lvl], "logger", c->name, "data", data);
    if (!p) return 0;
    call_notify(c, jsonrpc_notification("notifications/message", p));
    return 1;
}

static void call_free(mcp_call *c) {
    json_decref(c->id);
    json_decref(c->token);
    free(c->name);
    free(c);
}

/* Answers and frees the call (msg stolen). */
static void call_complete(mcp_call *c, json_t *msg) {
    if (c->sess) {
        mcp_exchange *ex = c->ex;
        ex->refs++; /* answer before the detach may end the exchange */
        call_detach(c);
        answer(ex, msg);
        exchange_release(ex);
    } else {
        json_decref(msg);
    }
    call_free(c);
}

void mcp_call_finish(mcp_call *c, json_t *result) {
    if (!c->sess) {
        json_decref(result);
        call_free(c);
        return;
    }
    json_t *msg;
    if (json_is_object(result)) {
        msg = jsonrpc_result(c->id, result);
    } else {
        json_decref(result);
        msg = jsonrpc_error(c->id, JSONRPC_INTERNAL_ERROR, "Internal error: the tool returned no result");
    }
    call_complete(c, msg);
}

void mcp_call_fail(mcp_call *c, int code, const char *message) {
    json_t *msg = NULL;
    if (c->sess) {
        msg = jsonrpc_error(c->id, code, message ? message : "Internal error");
        if (!msg) msg = jsonrpc_error(c->id, code, "(the error message was not valid UTF-8)");
    }
    call_complete(c, msg);
}
