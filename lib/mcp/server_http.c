/* The MCP server's streamable HTTP transport (MCP 2025-03-26 and later):
 * one endpoint, /mcp, on the small HTTP server of httpd.c.
 *
 *   POST   a JSON-RPC message or batch. Only notifications or responses:
 *          202 and no body. With requests: the answers as application/json
 *          (one object, or an array for a batch), or, when the client's
 *          Accept lists text/event-stream, as an SSE stream that also
 *          carries the progress and log notifications of its calls and
 *          ends once every request is answered.
 *   GET    with Accept: text/event-stream, the session's stream for
 *          messages not tied to a request (tools/list_changed); a second
 *          GET replaces the first. Otherwise 405.
 *   DELETE ends the session; its calls in flight are cancelled.
 *
 * Sessions: `initialize` without an Mcp-Session-Id header creates one (the
 * id, 128 random bits in hex, comes back in that header); every other
 * request needs the header: 400 without it, 404 for a session that does not
 * exist (never did, was deleted, or was evicted: past max_sessions the least
 * recently used session with no call in flight goes).
 *
 * Checks made on every request, in this order: Origin (403 unless absent or
 * a loopback origin or one the host allowed — against DNS rebinding), the
 * bearer token when one is set (401), the path (404), MCP-Protocol-Version
 * when present (400 if not a revision we speak), then the method (405).
 * Error answers carry a JSON-RPC error object with id null, as the official
 * SDK's do.
 */
#include "mcp/server_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "mcp/httpd.h"

#define SESSION_ID_BYTES 16
#define SSE_HEARTBEAT ": keepalive\n\n"

struct srv_http {
    mcp_server *srv;
    httpd *h;
    char *token;
};

/* A session's transport side (mcp_session.tp_data). */
struct http_sess {
    char id[SESSION_ID_BYTES * 2 + 1];
    httpd_conn *stream;      /* the GET stream, if open */
    uint64_t last_used;
};

/* One POST that owes answers (mcp_exchange.tp_data). */
struct http_ex {
    httpd_conn *conn;        /* NULL once the connection died */
    int sse, started;        /* answering as SSE; its head has been sent */
    int dispatching, over;   /* inside srv_dispatch; done() ran */
};

static const srv_transport http_transport;

/* ---- answers ------------------------------------------------------------- */

static void session_header(char *buf, size_t len, mcp_session *s) {
    struct http_sess *hs = s && !s->ended && s->state != SESS_NEW ? s->tp_data : NULL;
    if (hs) snprintf(buf, len, "Mcp-Session-Id: %s\r\n", hs->id);
    else buf[0] = '\0';
}

static void reply_error(httpd_conn *c, int status, int code, const char *message, const char *extra) {
    size_t len = 0;
    char *body = srv_error_text(NULL, code, message, &len);
    httpd_respond(c, status, extra, "application/json", body ? body : "", body ? len : 0, 0);
    free(body);
}

static int sse_write(httpd_conn *c, const char *text, size_t len) {
    static const char pre[] = "event: message\ndata: ";
    size_t n = sizeof pre - 1 + len + 2;
    char *buf = malloc(n);
    if (!buf) return -1;
    memcpy(buf, pre, sizeof pre - 1);
    memcpy(buf + sizeof pre - 1, text, len);
    memcpy(buf + n - 2, "\n\n", 2);
    int rc = httpd_stream_write(c, buf, n);
    free(buf);
    return rc;
}

static void start_sse(struct http_ex *hx, mcp_session *s) {
    char extra[128], hdr[96];
    session_header(hdr, sizeof hdr, s);
    snprintf(extra, sizeof extra, "Cache-Control: no-cache\r\n%s", hdr);
    hx->started = 1;
    httpd_stream_begin(hx->conn, 200, extra, "text/event-stream", SSE_HEARTBEAT, s->srv->http_limits.keepalive_ms);
}

static void http_send(mcp_session *s, mcp_exchange *ex, const char *text, size_t len) {
    if (!ex) {
        struct http_sess *hs = s->tp_data;
        if (hs && hs->stream) sse_write(hs->stream, text, len);
        return;
    }
    struct http_ex *hx = ex->tp_data;
    if (!hx || !hx->conn || !hx->sse) return;
    if (!hx->started) start_sse(hx, s);
    if (hx->conn) sse_write(hx->conn, text, len);
}

static void http_done(mcp_session *s, mcp_exchange *ex, const char *text, size_t len) {
    struct http_ex *hx = ex->tp_data;
    if (!hx) return;
    httpd_conn *c = hx->conn;
    if (c) {
        httpd_conn_on_close(c, NULL, NULL);
        if (hx->started) {
            httpd_stream_end(c);
        } else if (text) {
            char hdr[96];
            session_header(hdr, sizeof hdr, s);
            httpd_respond(c, 200, hdr, "application/json", text, len, 0);
        } else if (s->ended) {
            reply_error(c, 404, -32001, "Session not found: the session ended before the answer", NULL);
        } else {
            /* Every request in it was cancelled: nothing is owed. */
            httpd_respond(c, 202, NULL, NULL, NULL, 0, 0);
        }
    }
    hx->conn = NULL;
    hx->over = 1;
    if (!hx->dispatching) free(hx);
}

static void http_ended(mcp_session *s) {
    struct http_sess *hs = s->tp_data;
    if (!hs) return;
    if (hs->stream) {
        httpd_conn_on_close(hs->stream, NULL, NULL);
        httpd_stream_end(hs->stream);
    }
    free(hs);
    s->tp_data = NULL;
}

static const srv_transport http_transport = {http_send, http_done, http_ended};

static void exchange_conn_gone(httpd_conn *c, void *ud) {
    struct http_ex *hx = ud;
    hx->conn = NULL;
}

static void stream_conn_gone(httpd_conn *c, void *ud) {
    struct http_sess *hs = ud;
    if (hs->stream == c) hs->stream = NULL;
}

/* ---- checks -------------------------------------------------------------- */

/* http(s)://localhost|127.0.0.1|[::1] with any port, or an allowed origin. */
static int origin_allowed(const mcp_server *srv, const char *origin) {
    for (size_t i = 0; i < srv->n_origins; i++)
        if (strcasecmp(origin, srv->origins[i]) == 0) return 1;
    const char *p = origin;
    if (strncasecmp(p, "http://", 7) == 0) p += 7;
    else if (strncasecmp(p, "https://", 8) == 0) p += 8;
    else return 0;
    static const char *const hosts[] = {"localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(hosts[i]);
        if (strncasecmp(p, hosts[i], n) != 0) continue;
        const char *q = p + n;
        if (*q == '\0') return 1;
        if (*q != ':' || !q[1]) return 0;
        for (q++; *q; q++)
            if (*q < '0' || *q > '9') return 0;
        return 1;
    }
    return 0;
}

/* Compares in time that depends only on the expected token's length. */
static int token_equal(const char *got, size_t got_len, const char *want, size_t want_len) {
    unsigned char d = got_len != want_len;
    for (size_t i = 0; i < want_len; i++) d |= (unsigned char)((i < got_len ? got[i] : 0) ^ want[i]);
    return d == 0;
}

static int authorized(const struct srv_http *sh, const httpd_request *req) {
    const char *a = httpd_header_get(req, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0) return 0;
    a += 7;
    while (*a == ' ') a++;
    return token_equal(a, strlen(a), sh->token, strlen(sh->token));
}

static int media_type_is(const char *value, const char *type) {
    size_t n = strcspn(value, ";");
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t')) n--;
    return n == strlen(type) && strncasecmp(value, type, n) == 0;
}

/* ---- sessions ------------------------------------------------------------ */

static mcp_session *find_session(mcp_server *srv, const char *id) {
    size_t n = strlen(id);
    mcp_session *found = NULL;
    for (mcp_session *s = srv->sessions; s; s = s->next) {
        if (s->tp != &http_transport || !s->tp_data) continue;
        const struct http_sess *hs = s->tp_data;
        if (token_equal(id, n, hs->id, sizeof hs->id - 1)) found = s;
    }
    return found;
}

static int random_bytes(unsigned char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r > 0) got += (size_t)r;
        else if (r < 0 && errno != EINTR) return -1;
    }
    return 0;
}

/* Makes room under max_sessions: evicts the least recently used session
 * with no call in flight, preferring one without a GET stream. */
static int make_room(mcp_server *srv) {
    size_t n = 0;
    for (mcp_session *s = srv->sessions; s; s = s->next)
        if (s->tp == &http_transport) n++;
    if (n < srv->http_limits.max_sessions) return 0;
    mcp_session *victim = NULL;
    for (int pass = 0; pass < 2 && !victim; pass++) {
        for (mcp_session *s = srv->sessions; s; s = s->next) {
            const struct http_sess *hs = s->tp_data;
            if (s->tp != &http_transport || !hs || s->calls || (pass == 0 && hs->stream)) continue;
            if (!victim || hs->last_used < ((const struct http_sess *)victim->tp_data)->last_used) victim = s;
        }
    }
    if (!victim) return -1;
    srv_session_end(victim, 1);
    return 0;
}

static mcp_session *new_session(mcp_server *srv) {
    if (make_room(srv) < 0) return NULL;
    struct http_sess *hs = calloc(1, sizeof *hs);
    unsigned char raw[SESSION_ID_BYTES];
    if (!hs || random_bytes(raw, sizeof raw) < 0) {
        free(hs);
        return NULL;
    }
    for (size_t i = 0; i < sizeof raw; i++) snprintf(hs->id + 2 * i, 3, "%02x", raw[i]);
    hs->last_used = net_now_ms();
    mcp_session *s = srv_session_new(srv, &http_transport, hs);
    if (!s) free(hs);
    return s;
}

/* The session named by the request's header, or NULL after answering 400
 * (no header) or 404 (no such session). */
static mcp_session *request_session(mcp_server *srv, httpd_conn *c, const httpd_request *req) {
    const char *sid = httpd_header_get(req, "Mcp-Session-Id");
    if (!sid) {
        reply_error(c, 400, -32000, "Bad Request: Mcp-Session-Id header is required", NULL);
        return NULL;
    }
    mcp_session *s = find_session(srv, sid);
    if (!s) {
        reply_error(c, 404, -32001, "Session not found", NULL);
        return NULL;
    }
    ((struct http_sess *)s->tp_data)->last_used = net_now_ms();
    return s;
}

/* ---- methods ------------------------------------------------------------- */

/* Does the message (or batch) owe an answer? Requests and invalid messages
 * do; notifications and responses do not. */
static int needs_answer(json_t *root) {
    if (!json_is_array(root)) {
        jsonrpc_msg m;
        jsonrpc_kind k = jsonrpc_classify(root, &m);
        return k == JSONRPC_REQUEST || k == JSONRPC_INVALID;
    }
    if (json_array_size(root) == 0) return 1;
    for (size_t i = 0; i < json_array_size(root); i++)
        if (needs_answer(json_array_get(root, i))) return 1;
    return 0;
}

static int is_initialize(json_t *root) {
    jsonrpc_msg m;
    return jsonrpc_classify(root, &m) == JSONRPC_REQUEST && strcmp(m.method, "initialize") == 0;
}

static void do_post(struct srv_http *sh, httpd_conn *c, const httpd_request *req) {
    mcp_server *srv = sh->srv;
    const char *ctype = httpd_header_get(req, "Content-Type");
    if (ctype && !media_type_is(ctype, "application/json")) {
        reply_error(c, 415, -32000, "Unsupported Media Type: Content-Type must be application/json", NULL);
        return;
    }
    char err[300];
    json_t *root = jsonrpc_parse(req->body, req->body_len, err, sizeof err);
    if (!root) {
        reply_error(c, 400, JSONRPC_PARSE_ERROR, err, NULL);
        return;
    }
    mcp_session *s;
    int created = 0;
    if (!httpd_header_get(req, "Mcp-Session-Id") && is_initialize(root)) {
        s = new_session(srv);
        if (!s) {
            reply_error(c, 503, -32000, "Service Unavailable: too many sessions with calls in flight", NULL);
            json_decref(root);
            return;
        }
        created = 1;
    } else if (!(s = request_session(srv, c, req))) {
        json_decref(root);
        return;
    }
    srv_session_ref(s);
    if (!needs_answer(root)) {
        mcp_exchange *ex = srv_exchange_new(s, 0, 0, 1, NULL);
        if (ex) {
            srv_dispatch(ex, root);
            httpd_respond(c, 202, NULL, NULL, NULL, 0, 0);
        } else {
            reply_error(c, 500, JSONRPC_INTERNAL_ERROR, "Internal error: out of memory", NULL);
        }
    } else {
        const char *accept = httpd_header_get(req, "Accept");
        struct http_ex *hx = calloc(1, sizeof *hx);
        int sse = accept && httpd_has_token(accept, "text/event-stream");
        mcp_exchange *ex = hx ? srv_exchange_new(s, 0, !sse, !sse, hx) : NULL;
        if (!ex) {
            free(hx);
            reply_error(c, 500, JSONRPC_INTERNAL_ERROR, "Internal error: out of memory", NULL);
        } else {
            hx->conn = c;
            hx->sse = sse;
            hx->dispatching = 1;
            httpd_conn_on_close(c, exchange_conn_gone, hx);
            srv_dispatch(ex, root);
            hx->dispatching = 0;
            /* Still waiting for a tool: send the head now (with heartbeats),
             * so the client is not left without a response head meanwhile. */
            if (!hx->over && hx->sse && !hx->started && hx->conn) start_sse(hx, s);
            if (hx->over) free(hx);
        }
    }
    /* An initialize that failed leaves no session behind. */
    if (created && s->state == SESS_NEW) srv_session_end(s, 1);
    srv_session_unref(s);
    json_decref(root);
}

static void do_get(struct srv_http *sh, httpd_conn *c, const httpd_request *req) {
    const char *accept = httpd_header_get(req, "Accept");
    if (!accept || !httpd_has_token(accept, "text/event-stream")) {
        reply_error(c, 405, -32000, "Method Not Allowed: GET /mcp opens an SSE stream (Accept: text/event-stream)",
                    "Allow: GET, POST, DELETE\r\n");
        return;
    }
    mcp_session *s = request_session(sh->srv, c, req);
    if (!s) return;
    struct http_sess *hs = s->tp_data;
    if (hs->stream) {
        httpd_conn *old = hs->stream;
        hs->stream = NULL;
        httpd_conn_on_close(old, NULL, NULL);
        httpd_stream_end(old);
    }
    char extra[160];
    snprintf(extra, sizeof extra, "Cache-Control: no-cache\r\nMcp-Session-Id: %s\r\n", hs->id);
    hs->stream = c;
    httpd_conn_on_close(c, stream_conn_gone, hs);
    if (httpd_stream_begin(c, 200, extra, "text/event-stream", SSE_HEARTBEAT, sh->srv->http_limits.keepalive_ms) < 0 &&
        hs->stream == c)
        hs->stream = NULL;
}

static void do_delete(struct srv_http *sh, httpd_conn *c, const httpd_request *req) {
    mcp_session *s = request_session(sh->srv, c, req);
    if (!s) return;
    srv_session_end(s, 1);
    httpd_respond(c, 200, NULL, NULL, NULL, 0, 0);
}

static void handle(httpd_conn *c, const httpd_request *req, void *ud) {
    struct srv_http *sh = ud;
    const char *origin = httpd_header_get(req, "Origin");
    if (origin && !origin_allowed(sh->srv, origin)) {
        reply_error(c, 403, -32000, "Forbidden: this Origin may not use the server", NULL);
        return;
    }
    if (sh->token && !authorized(sh, req)) {
        reply_error(c, 401, -32000, "Unauthorized: a valid Authorization: Bearer token is required",
                    "WWW-Authenticate: Bearer\r\n");
        return;
    }
    if (strcmp(req->path, "/mcp") != 0) {
        reply_error(c, 404, -32000, "Not Found: the MCP endpoint is /mcp", NULL);
        return;
    }
    const char *pv = httpd_header_get(req, "MCP-Protocol-Version");
    if (pv && !srv_protocol_supported(pv)) {
        reply_error(c, 400, -32000,
                    "Bad Request: unsupported MCP-Protocol-Version (supported: 2025-06-18, 2025-03-26, 2024-11-05)",
                    NULL);
        return;
    }
    if (strcmp(req->method, "POST") == 0) do_post(sh, c, req);
    else if (strcmp(req->method, "GET") == 0) do_get(sh, c, req);
    else if (strcmp(req->method, "DELETE") == 0) do_delete(sh, c, req);
    else reply_error(c, 405, -32000, "Method Not Allowed", "Allow: GET, POST, DELETE\r\n");
}

/* ---- setup --------------------------------------------------------------- */

static httpd_config config_of(const mcp_server *srv) {
    const mcp_http_limits *l = &srv->http_limits;
    return (httpd_config){l->max_header_bytes, l->max_body_bytes, l->idle_ms, l->request_ms, l->max_connections};
}

void srv_http_limits_changed(mcp_server *srv) {
    if (srv->http) {
        httpd_config cfg = config_of(srv);
        httpd_set_config(srv->http->h, &cfg);
    }
}

int mcp_server_serve_http(mcp_server *srv, const char *host, int port, const char *bearer_token, int *bound_port,
                          char *err, size_t errlen) {
    if (srv->http) {
        snprintf(err, errlen, "this server already serves HTTP");
        return -1;
    }
    struct srv_http *sh = calloc(1, sizeof *sh);
    if (!sh || (bearer_token && *bearer_token && !(sh->token = strdup(bearer_token)))) {
        free(sh);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    sh->srv = srv;
    httpd_config cfg = config_of(srv);
    sh->h = httpd_new(srv->r, host, port, &cfg, handle, sh, bound_port, err, errlen);
    if (!sh->h) {
        free(sh->token);
        free(sh);
        return -1;
    }
    srv->http = sh;
    return 0;
}

void srv_http_free(mcp_server *srv) {
    struct srv_http *sh = srv->http;
    if (!sh) return;
    httpd_free(sh->h);
    free(sh->token);
    free(sh);
    srv->http = NULL;
}
