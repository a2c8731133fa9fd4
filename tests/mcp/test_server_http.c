/* The MCP server (lib/mcp/server.h) over streamable HTTP, driven in process:
 * the server listens on an ephemeral loopback port and the test is the
 * client, with real TCP sockets and a tiny HTTP/1.1 client written here,
 * running the reactor while it waits. The fake tool host is in
 * server_fixture.h. */
#include "check.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_fixture.h"

struct hfx {
    struct host h;
    net_reactor *r;
    mcp_server *s;
    int port;
};

static void hfx_start_with(struct hfx *f, const char *token, const mcp_http_limits *lim) {
    memset(f, 0, sizeof *f);
    f->r = net_reactor_new(NULL);
    f->h.r = f->r;
    f->s = mcp_server_new(f->r, &fake_host, &f->h, "http-test", "9.9");
    if (lim) mcp_server_set_http_limits(f->s, lim);
    char err[200] = "";
    CHECK_EQ_INT(mcp_server_serve_http(f->s, "127.0.0.1", 0, token, &f->port, err, sizeof err), 0);
    if (err[0]) CHECK_FAIL_AT("serve_http: %s", err);
    CHECK(f->port > 0);
}

static void hfx_start(struct hfx *f) { hfx_start_with(f, NULL, NULL); }

static void hfx_stop(struct hfx *f) {
    mcp_server_free(f->s);
    host_drain(&f->h);
    net_reactor_free(f->r);
}

static void hfx_pump(struct hfx *f, int ms) {
    uint64_t end = net_now_ms() + (uint64_t)ms;
    while (net_now_ms() < end) net_reactor_run_once(f->r, 2);
}

/* ---- a tiny HTTP/1.1 client ------------------------------------------------ */

enum { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_EOF };

struct hc {
    struct hfx *f;
    int fd, eof;
    char *raw;            /* received, not yet consumed */
    size_t raw_len, raw_cap;
    /* the response being read */
    int status, mode, done, need_crlf;
    char head[8192];
    size_t want;          /* BODY_LENGTH: bytes left; BODY_CHUNKED: bytes left in this chunk */
    char *body;
    size_t body_len, body_cap, body_off;
};

static struct hc *hc_open(struct hfx *f) {
    struct hc *c = calloc(1, sizeof *c);
    c->f = f;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(c->fd, (struct sockaddr *)&a, sizeof a) == 0);
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    return c;
}

static void hc_close(struct hc *c) {
    if (!c) return;
    close(c->fd);
    free(c->raw);
    free(c->body);
    free(c);
}

static void hc_fill(struct hc *c) {
    net_reactor_run_once(c->f->r, 2);
    for (;;) {
        if (c->raw_cap - c->raw_len < 65536) {
            c->raw_cap = c->raw_cap ? c->raw_cap * 2 : 131072;
            c->raw = realloc(c->raw, c->raw_cap);
        }
        ssize_t n = recv(c->fd, c->raw + c->raw_len, c->raw_cap - c->raw_len, 0);
        if (n > 0) {
            c->raw_len += (size_t)n;
            continue;
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) c->eof = 1;
        return;
    }
}

static void hc_write(struct hc *c, const char *data, size_t len) {
    while (len) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        } else if (n < 0 && errno != EAGAIN) {
            return; /* the server closed on us; the response says why */
        } else {
            hc_fill(c);
        }
    }
}

static void hc_send(struct hc *c, const char *method, const char *path, const char *headers, const char *body) {
    char head[4096];
    int n;
    if (body)
        n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     method, path, headers ? headers : "", strlen(body));
    else
        n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", method, path,
                     headers ? headers : "");
    hc_write(c, head, (size_t)n);
    if (body) hc_write(c, body, strlen(body));
}

static void consume(struct hc *c, size_t n) {
    memmove(c->raw, c->raw + n, c->raw_len - n);
    c->raw_len -= n;
}

static void body_append(struct hc *c, const char *p, size_t n) {
    if (c->body_len + n + 1 > c->body_cap) {
        c->body_cap = (c->body_len + n + 1) * 2;
        c->body = realloc(c->body, c->body_cap);
    }
    memcpy(c->body + c->body_len, p, n);
    c->body_len += n;
    c->body[c->body_len] = '\0';
}

static const char *hc_header(struct hc *c, const char *name, char *out, size_t outlen) {
    size_t nl = strlen(name);
    for (const char *p = strstr(c->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ') v++;
            size_t vl = strcspn(v, "\r");
            snprintf(out, outlen, "%.*s", (int)vl, v);
            return out;
        }
    }
    return NULL;
}

/* Reads the next response head (1xx included). Returns the status, 0 on
 * timeout or EOF. */
static int hc_head(struct hc *c, int timeout_ms) {
    uint64_t end = net_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        char *e = c->raw ? memmem(c->raw, c->raw_len, "\r\n\r\n", 4) : NULL;
        if (e) {
            size_t n = (size_t)(e - c->raw) + 4;
            snprintf(c->head, sizeof c->head, "%.*s", (int)n, c->raw);
            consume(c, n);
            c->status = atoi(c->head + 9);
            c->body_len = c->body_off = 0;
            c->done = c->need_crlf = 0;
            char v[64];
            if (c->status < 200) c->mode = BODY_NONE;
            else if (hc_header(c, "Transfer-Encoding", v, sizeof v)) c->mode = BODY_CHUNKED, c->want = 0;
            else if (hc_header(c, "Content-Length", v, sizeof v)) c->mode = BODY_LENGTH, c->want = strtoul(v, 0, 10);
            else c->mode = BODY_EOF;
            if (c->mode == BODY_NONE || (c->mode == BODY_LENGTH && c->want == 0)) c->done = 1;
            if (c->body) c->body[0] = '\0';
            return c->status;
        }
        if (c->eof || net_now_ms() >= end) return 0;
        hc_fill(c);
    }
}

/* Moves body bytes from raw to body. Sets done at the end of the body. */
static void hc_decode(struct hc *c) {
    while (!c->done && c->raw_len) {
        if (c->mode == BODY_LENGTH || c->mode == BODY_EOF) {
            size_t n = c->mode == BODY_EOF || c->raw_len < c->want ? c->raw_len : c->want;
            body_append(c, c->raw, n);
            consume(c, n);
            if (c->mode == BODY_LENGTH && (c->want -= n) == 0) c->done = 1;
            continue;
        }
        if (c->want) { /* inside a chunk */
            size_t n = c->raw_len < c->want ? c->raw_len : c->want;
            body_append(c, c->raw, n);
            consume(c, n);
            if ((c->want -= n) == 0) c->need_crlf = 1;
            continue;
        }
        if (c->need_crlf) { /* the "\r\n" after a chunk's data */
            if (c->raw_len < 2) return;
            consume(c, 2);
            c->need_crlf = 0;
            continue;
        }
        char *e = memmem(c->raw, c->raw_len, "\r\n", 2);
        if (!e) return;
        size_t size = strtoul(c->raw, NULL, 16);
        consume(c, (size_t)(e - c->raw) + 2);
        if (size == 0) {
            c->done = 1;
            if (c->raw_len >= 2 && c->raw[0] == '\r') consume(c, 2);
            return;
        }
        c->want = size;
    }
    if (c->mode == BODY_EOF && c->eof) c->done = 1;
}

/* Reads a whole response: status, or 0 on timeout. Body in c->body. */
static int hc_response(struct hc *c, int timeout_ms) {
    int st = hc_head(c, timeout_ms);
    if (!st) return 0;
    uint64_t end = net_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        hc_decode(c);
        if (c->done) return st;
        if (net_now_ms() >= end) return 0;
        if (c->eof) {
            c->done = 1;
            return c->mode == BODY_EOF ? st : 0;
        }
        hc_fill(c);
    }
}

/* The next SSE event's data as JSON from a streamed body; NULL at the end
 * of the stream or on timeout. Comments (heartbeats) are counted. */
static int sse_comments;
static json_t *hc_event(struct hc *c, int timeout_ms) {
    if (!c->status && !hc_head(c, timeout_ms)) return NULL;
    uint64_t end = net_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        hc_decode(c);
        char *base = c->body ? c->body + c->body_off : NULL;
        char *e = base ? strstr(base, "\n\n") : NULL;
        if (e) {
            *e = '\0';
            char *ev = base;
            c->body_off += (size_t)(e - base) + 2;
            if (ev[0] == ':') {
                sse_comments++;
                continue;
            }
            char *data = strstr(ev, "data: ");
            if (!data) CHECK_FAIL_AT("event without data: %s", ev);
            if (!strstr(ev, "event: message")) CHECK_FAIL_AT("event without its type: %s", ev);
            return data ? json_loads(data + 6, 0, NULL) : NULL;
        }
        if (c->done || c->eof || net_now_ms() >= end) return NULL;
        hc_fill(c);
    }
}

/* ---- MCP helpers ------------------------------------------------------------- */

#define ACCEPT_BOTH "Accept: application/json, text/event-stream\r\n"
#define ACCEPT_JSON "Accept: application/json\r\n"
#define INIT_BODY                                                                                           \
    "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\"," \
    "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}"

/* One request on a fresh connection; returns the connection for reading. */
static struct hc *post(struct hfx *f, const char *sid, const char *extra, const char *body) {
    char headers[1024];
    snprintf(headers, sizeof headers, "%s%s%s%s", extra ? extra : ACCEPT_JSON, sid ? "Mcp-Session-Id: " : "",
             sid ? sid : "", sid ? "\r\n" : "");
    struct hc *c = hc_open(f);
    hc_send(c, "POST", "/mcp", headers, body);
    return c;
}

/* POST and read a JSON answer (NULL when there is no JSON body). */
static json_t *post_json(struct hfx *f, const char *sid, const char *body, int *status) {
    struct hc *c = post(f, sid, ACCEPT_JSON, body);
    *status = hc_response(c, 3000);
    json_t *v = c->body_len ? json_loads(c->body, 0, NULL) : NULL;
    hc_close(c);
    return v;
}

/* initialize + notifications/initialized; the session id into sid. */
static void http_init(struct hfx *f, char *sid, size_t sidlen) {
    struct hc *c = post(f, NULL, ACCEPT_JSON, INIT_BODY);
    CHECK_EQ_INT(hc_response(c, 3000), 200);
    if (!hc_header(c, "Mcp-Session-Id", sid, sidlen)) {
        CHECK_FAIL_AT("no Mcp-Session-Id in %s", c->head);
        sid[0] = '\0';
    }
    hc_close(c);
    c = post(f, sid, ACCEPT_JSON, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    CHECK_EQ_INT(hc_response(c, 3000), 202);
    CHECK_EQ_INT(c->body_len, 0);
    hc_close(c);
}

static int status_of(struct hfx *f, const char *method, const char *path, const char *headers, const char *body) {
    struct hc *c = hc_open(f);
    hc_send(c, method, path, headers, body);
    int st = hc_response(c, 3000);
    hc_close(c);
    return st;
}

/* ---- sessions -------------------------------------------------------------- */

TEST(http_initialize_json) {
    struct hfx f;
    hfx_start(&f);
    struct hc *c = post(&f, NULL, ACCEPT_JSON, INIT_BODY);
    CHECK_EQ_INT(hc_response(c, 3000), 200);
    char v[128];
    CHECK_EQ_STR(hc_header(c, "Content-Type", v, sizeof v), "application/json");
    const char *sid = hc_header(c, "Mcp-Session-Id", v, sizeof v);
    CHECK(sid && strlen(sid) == 32);
    for (const char *p = sid; p && *p; p++) CHECK(isxdigit((unsigned char)*p));
    json_t *r = json_loads(c->body, 0, NULL);
    CHECK_EQ_STR(jstr(r, "result.protocolVersion"), "2025-06-18");
    CHECK_EQ_STR(jstr(r, "result.serverInfo.name"), "http-test");
    json_decref(r);
    hc_close(c);
    CHECK_EQ_INT(mcp_server_session_count(f.s), 1);
    hfx_stop(&f);
}

TEST(http_initialize_sse) {
    struct hfx f;
    hfx_start(&f);
    struct hc *c = post(&f, NULL, ACCEPT_BOTH, INIT_BODY);
    CHECK_EQ_INT(hc_head(c, 3000), 200);
    char v[128];
    CHECK_EQ_STR(hc_header(c, "Content-Type", v, sizeof v), "text/event-stream");
    CHECK(hc_header(c, "Mcp-Session-Id", v, sizeof v) != NULL);
    json_t *r = hc_event(c, 3000);
    CHECK_EQ_INT(jint(r, "id"), 0);
    CHECK_EQ_STR(jstr(r, "result.protocolVersion"), "2025-06-18");
    json_decref(r);
    CHECK(hc_event(c, 3000) == NULL);
    CHECK(c->done); /* the stream ends once every request is answered */
    hc_close(c);
    hfx_stop(&f);
}

TEST(http_notifications_get_202) {
    struct hfx f;
    hfx_start(&f);
    char sid[64];
    http_init(&f, sid, sizeof sid);
    struct hc *c = post(&f, sid, ACCEPT_BOTH,
                        "[{\"jsonrpc\":\"2.0\",\"method\":\"x\"},{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{}}]");
    CHECK_EQ_INT(hc_response(c, 3000), 202);
    CHECK_EQ_INT(c->body_len, 0);
    hc_close(c);
    hfx_stop(&f);
}

TEST(http_session_id_required_and_checked) {
    struct hfx f;
    hfx_start(&f);
    char sid[64];
    http_init(&f, sid, sizeof sid);
    int st;
    json_t *r = post_json(&f, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", &st);
    CHECK_EQ_INT(st, 400);
    CHECK_EQ_INT(jint(r, "error.code"), -32000);
    CHECK_CONTAINS(jstr(r, "error.message"), "Mcp-Session-Id");
    json_decref(r);
    r = post_json(&f, "0123456789abcdef0123456789abcdef", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}",
                  &st);
    CHECK_EQ_INT(st, 404);
    CHECK_EQ_INT(jint(r, "error.code"), -32001);
    json_decref(r);
    r = post_json(&f, sid, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", &st);
    CHECK_EQ_INT(st, 200);
    CHECK_EQ_INT(json_array_size(jpath(r, "result.tools")), 2);
    json_decref(r);
    /* A second initialize on the session is refused by the protocol. */
    r = post_json(&f, sid, INIT_BODY, &st);
    CHECK_EQ_INT(st, 200);
    CHECK_EQ_INT(jint(r, "error.code"), JSONRPC_INVALID_REQUEST);
    json_decref(r);
    hfx_stop(&f);
}

TEST(http_failed_initialize_leaves_no_session) {
    struct hfx f;
    hfx_start(&f);
    struct hc *c = post(&f, NULL, ACCEPT_BOTH, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{}}");
    CHECK_EQ_INT(hc_head(c, 3000), 200);
    char v[64];
    CHECK(hc_header(c, "Mcp-Session-Id", v, sizeof v) == NULL);
    json_t *r = hc_event(c, 3000);
    CHECK_EQ_INT(jint(r, "error.code"), JSONRPC_INVALID_PARAMS);
    json_decref(r);
    hc_close(c);
    CHECK_EQ_INT(mcp_server_session_count(f.s), 0);
    hfx_stop(&f);
}

TEST(http_delete_ends_the_session_and_cancels_its_calls) {
    struct hfx f;
    hfx_start(&f);
    char sid[64], hdr[128];
    http_init(&f, sid, sizeof sid);
    struct hc *call = post(&f, sid, ACCEPT_JSON,
                           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"hold\"}}");
    hfx_pump(&f, 20);
    CHECK_EQ_INT(f.h.n_held, 1);
    snprintf(hdr, sizeof hdr, "Mcp-Session-Id: %s\r\n", sid);
    CHECK_EQ_INT(status_of(&f, "DELETE", "/mcp", hdr, NULL), 200);
    CHECK_EQ_INT(f.h.cancels, 1);
    CHECK_EQ_INT(f.h.n_held, 0);
    CHECK_EQ_INT(mcp_server_session_count(f.s), 0);
    /* The waiting POST learns that its session is gone. */
    CHECK_EQ_INT(hc_response(call, 3000), 404);
    hc_close(call);
    int st;
    json_t *r = post_json(&f, sid, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}", &st);
    CHECK_EQ_INT(st, 404);
    json_decref(r);
    CHECK_EQ_INT(status_of(&f, "DELETE", "/mcp", hdr, NULL), 404);
    CHECK_EQ_INT(status_of(&f, "DELETE", "/mcp", NULL, NULL), 400);
    hfx_stop(&f);
}

TEST(http_two_sessions_run_concurrently) {
    struct hfx f;
    hfx_start(&f);
    char a[64], b[64];
    http_init(&f, a, sizeof a);
    http_init(&f, b, sizeof b);
    CHECK(strcmp(a, b) != 0);
    CHECK_EQ_INT(mcp_server_session_count(f.s), 2);
    /* Session a asks for warnings; b asks for nothing. */
    int st;
    json_decref(post_json(&f, a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\",\"params\":{\"level\":"
                                 "\"warning\"}}", &st));
    CHECK_EQ_INT(st, 200);
    struct hc *ca = post(&f, a, ACCEPT_BOTH, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":"
                                             "{\"name\":\"later\",\"arguments\":{\"ms\":60}}}");
    struct hc *cb = post(&f, b, ACCEPT_BOTH, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":"
                                             "{\"name\":\"progress\"}}");
    json_t *rb = hc_event(cb, 3000); /* b's call is shorter and logs nothing to b */
    CHECK_EQ_INT(jint(rb, "id"), 7);
    CHECK_EQ_STR(jstr(rb, "result.content.0.text"), "progressed");
    json_decref(rb);
    CHECK(!ca->done);
    json_t *ra = hc_event(ca, 3000);
    CHECK_EQ_INT(jint(ra, "id"), 7);
    CHECK_EQ_STR(jstr(ra, "result.content.0.text"), "done later");
    json_decref(ra);
    hc_close(ca);
    hc_close(cb);
    /* The same tool in session a does send its logs there. */
    struct hc *c = post(&f, a, ACCEPT_BOTH, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":"
                                            "{\"name\":\"progress\"}}");
    json_t *l = hc_event(c, 3000);
    CHECK_EQ_STR(jstr(l, "method"), "notifications/message");
    CHECK_EQ_STR(jstr(l, "params.level"), "warning");
    json_decref(l);
    hc_close(c);
    hfx_stop(&f);
}

TEST(http_session_eviction_past_the_limit) {
    struct hfx f;
    mcp_http_limits lim = {.max_sessions = 2};
    hfx_start_with(&f, NULL, &lim);
    char a[64], b[64], c[64];
    http_init(&f, a, sizeof a);
    http_init(&f, b, sizeof b);
    hfx_pump(&f, 3);
    int st;
    json_decref(post_json(&f, a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &st)); /* a is now fresher */
    http_init(&f, c, sizeof c);
    CHECK_EQ_INT(mcp_server_session_count(f.s), 2);
    json_decref(post_json(&f, b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &st));
    CHECK_EQ_INT(st, 404);
    json_decref(post_json(&f, a, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &st));
    CHECK_EQ_INT(st, 200);
    hfx_stop(&f);
}

/* ---- answers: JSON, SSE, progress, cancel, batches -------------------------- */

TEST(http_json_answer_waits_for_an_async_call) {
    struct hfx f;
    hfx_start(&f);
    char sid[64];
    http_init(&f, sid, sizeof sid);
    int st;
    json_t *r = post_json(&f, sid, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"tools/call\",\"params\":{\"name\":"
                                   "\"later\",\"arguments\":{\"ms\":30}}}", &st);
    CHECK_EQ_INT(st, 200);
    CHECK_EQ_STR(jstr(r, "id"), "x");
    CHECK_EQ_STR(jstr(r, "result.content.0.text"), "done later");
    json_decref(r);
    hfx_stop(&f);
}

TEST(http_sse_carries_progress_then_the_result) {
    struct hfx f;
    hfx_start(&f);
    char sid[64];
    http_init(&f, sid, sizeof sid);
    struct hc *c = post(&f, sid, ACCEPT_BOTH, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{"
                                              "\"name\":\"progress\",\"_meta\":{\"progressToken\":\"p\"}}}");
    CHECK_EQ_INT(hc_head(c, 3000), 200);
    json_t *p1 = hc_event(c, 3000), *p2 = hc_event(c, 3000), *r = hc_event(c, 3000);
    CHECK_EQ_STR(jstr(p1, "method"), "notifications/progress");
    CHECK_EQ_INT(jint(p1, "params.progress"), 1);
    CHECK_EQ_INT(jint(p2, "params.progress"), 2);
    CHECK_EQ_INT(jint(r, "id"), 3);
    CHECK(hc_event(c, 3000) == NULL);
    CHECK(c->done);
    json_decref(p1);
    json_decref(p2);
    json_decref(r);
    hc_close(c);
    hfx_stop(&f);
}

TEST(http_json_answer_carries_no_notifications) {
    struct hfx f;
    hfx_start(&f);
    char sid[64];
    http_init(&f, sid, sizeof sid);
    int st;
    json_decref(post_json(&f, sid, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\",\"params\":{"
                                   "\"level\":\"debug\"}}", &st));
    json_t *r = post_json(&f, sid, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{"
                                   "\"name\":\"progress\",\"_meta\":{\"progressToken\":\"p\"}}}", &st);
    CHECK_EQ_INT(st, 200);
    CHECK(json_is_object(r));
    CHECK_EQ_INT(jint(r, "id"), 3);
    json_decref(r);
    hfx_stop(&f);
}

TEST(http_cancel_leaves_the_post_without_an_answer) {
    struct hfx f;
    hfx_start(&f);
    char sid[64];
    http_init(&f, sid, sizeof sid);
    struct hc *cj = post(&f, sid, ACCEPT_JSON,
                         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"hold\"}}");
    struct hc *cs = post(&f, sid, ACCEPT_BOTH,
                         "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"hold\"}}");
    CHECK_EQ_INT(hc_head(cs, 3000), 200); /* the SSE head goes out while the call runs */
    hfx_pump(&f, 10);
    CHECK_EQ_INT(f.h.n_held, 2);
    struct hc *n = post(&f, sid, ACCEPT_JSON, "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
                                              "{\"requestId\":1}},{\"jsonrpc\":\"2.0\",\"method\":"
                                              "\"notifications/cancelled\",\"params\":{\"requestId\":2}}]");
    CHECK_EQ_INT(hc_response(n, 3000), 202);
    hc_close(n);
    CHECK_EQ_INT(f.h.cancels, 2);
    CHECK_EQ_INT(hc_response(cj, 3000), 202);
    CHECK_EQ_INT(cj->body_len, 0);
    CHECK(hc_event(cs, 3000) == NULL); /* the stream ends with no events */
    CHECK(cs->done);
    hc_close(cj);
    hc_close(cs);
    hfx_stop(&f);
}

TEST(http_batch_gets_an_array) {
    struct hfx f;
    hfx_start(&f);
    char sid[64];
    http_init(&f, sid, sizeof sid);
    int st;
    json_t *r = post_json(&f, sid, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},{\"jsonrpc\":\"2.0\",\"id\":2,"
                                   "\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}]", &st);
    CHECK_EQ_INT(st, 200);
    CHECK_EQ_INT(json_array_size(r), 2);
    CHECK_EQ_INT(jint(r, "1.id"), 2);
    json_decref(r);
    /* As SSE, each answer is an event of its own. */
    struct hc *c = post(&f, sid, ACCEPT_BOTH, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},{\"jsonrpc\":\"2.0\","
                                              "\"id\":2,\"method\":\"ping\"}]");
    json_t *e1 = hc_event(c, 3000), *e2 = hc_event(c, 3000);
    CHECK_EQ_INT(jint(e1, "id"), 1);
    CHECK_EQ_INT(jint(e2, "id"), 2);
    json_decref(e1);
    json_decref(e2);
    hc_close(c);
    hfx_stop(&f);
}

TEST(http_parse_error_is_400) {
    struct hfx f;
    hfx_start(&f);
    int st;
    json_t *r = post_json(&f, NULL, "{nope", &st);
    CHECK_EQ_INT(st, 400);
    CHECK_EQ_INT(jint(r, "error.code"), JSONRPC_PARSE_ERROR);
    CHECK(json_is_null(jpath(r, "id")));
    json_decref(r);
    hfx_stop(&f);
}

/* ---- the GET stream ------------------------------------------------------------ */

TEST(http_get_stream_receives_list_changed) {
    struct hfx f;
    hfx_start(&f);
    char sid[64], hdr[256];
    http_init(&f, sid, sizeof sid);
    snprintf(hdr, sizeof hdr, "Accept: text/event-stream\r\nMcp-Session-Id: %s\r\n", sid);
    struct hc *g = hc_open(&f);
    hc_send(g, "GET", "/mcp", hdr, NULL);
    CHECK_EQ_INT(hc_head(g, 3000), 200);
    char v[64];
    CHECK_EQ_STR(hc_header(g, "Content-Type", v, sizeof v), "text/event-stream");
    mcp_server_tools_changed(f.s);
    json_t *n = hc_event(g, 3000);
    CHECK_EQ_STR(jstr(n, "method"), "notifications/tools/list_changed");
    json_decref(n);
    /* A second GET replaces the first, whose stream ends. */
    struct hc *g2 = hc_open(&f);
    hc_send(g2, "GET", "/mcp", hdr, NULL);
    CHECK_EQ_INT(hc_head(g2, 3000), 200);
    CHECK(hc_event(g, 3000) == NULL);
    CHECK(g->done);
    mcp_server_tools_changed(f.s);
    n = hc_event(g2, 3000);
    CHECK_EQ_STR(jstr(n, "method"), "notifications/tools/list_changed");
    json_decref(n);
    hc_close(g);
    hc_close(g2);
    hfx_stop(&f);
}

TEST(http_get_stream_heartbeat) {
    struct hfx f;
    mcp_http_limits lim = {.keepalive_ms = 20};
    hfx_start_with(&f, NULL, &lim);
    char sid[64], hdr[256];
    http_init(&f, sid, sizeof sid);
    snprintf(hdr, sizeof hdr, "Accept: text/event-stream\r\nMcp-Session-Id: %s\r\n", sid);
    struct hc *g = hc_open(&f);
    hc_send(g, "GET", "/mcp", hdr, NULL);
    CHECK_EQ_INT(hc_head(g, 3000), 200);
    sse_comments = 0;
    CHECK(hc_event(g, 300) == NULL);
    CHECK(sse_comments >= 2);
    hc_close(g);
    hfx_stop(&f);
}

TEST(http_get_needs_event_stream_accept) {
    struct hfx f;
    hfx_start(&f);
    char sid[64], hdr[256];
    http_init(&f, sid, sizeof sid);
    snprintf(hdr, sizeof hdr, "Accept: application/json\r\nMcp-Session-Id: %s\r\n", sid);
    CHECK_EQ_INT(status_of(&f, "GET", "/mcp", hdr, NULL), 405);
    CHECK_EQ_INT(status_of(&f, "GET", "/mcp", "Accept: text/event-stream\r\n", NULL), 400);
    hfx_stop(&f);
}

/* ---- checks on every request ---------------------------------------------------- */

TEST(http_origin_check) {
    struct hfx f;
    hfx_start(&f);
    static const char *const good[] = {"http://localhost", "http://localhost:3000", "https://127.0.0.1:8443",
                                       "http://[::1]:80", "HTTP://LOCALHOST:1"};
    static const char *const bad[] = {"http://evil.example", "http://localhost.evil.example", "null",
                                      "http://127.0.0.1:80/x", "ftp://localhost", "http://localhost:"};
    char hdr[256];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(hdr, sizeof hdr, ACCEPT_JSON "Origin: %s\r\n", good[i]);
        int st = status_of(&f, "POST", "/mcp", hdr, INIT_BODY);
        if (st != 200) CHECK_FAIL_AT("origin %s: %d", good[i], st);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(hdr, sizeof hdr, ACCEPT_JSON "Origin: %s\r\n", bad[i]);
        int st = status_of(&f, "POST", "/mcp", hdr, INIT_BODY);
        if (st != 403) CHECK_FAIL_AT("origin %s: %d", bad[i], st);
    }
    CHECK_EQ_INT(mcp_server_allow_origin(f.s, "https://app.example.com"), 0);
    CHECK_EQ_INT(status_of(&f, "POST", "/mcp", ACCEPT_JSON "Origin: https://app.example.com\r\n", INIT_BODY), 200);
    hfx_stop(&f);
}

TEST(http_bearer_token) {
    struct hfx f;
    hfx_start_with(&f, "s3cret-token", NULL);
    struct hc *c = post(&f, NULL, ACCEPT_JSON, INIT_BODY);
    CHECK_EQ_INT(hc_response(c, 3000), 401);
    char v[64];
    CHECK_EQ_STR(hc_header(c, "WWW-Authenticate", v, sizeof v), "Bearer");
    hc_close(c);
    CHECK_EQ_INT(status_of(&f, "POST", "/mcp", ACCEPT_JSON "Authorization: Bearer wrong\r\n", INIT_BODY), 401);
    CHECK_EQ_INT(status_of(&f, "POST", "/mcp", ACCEPT_JSON "Authorization: Bearer s3cret-toke\r\n", INIT_BODY), 401);
    CHECK_EQ_INT(status_of(&f, "POST", "/mcp", ACCEPT_JSON "Authorization: Bearer s3cret-token2\r\n", INIT_BODY), 401);
    CHECK_EQ_INT(status_of(&f, "POST", "/mcp", ACCEPT_JSON "Authorization: Basic s3cret-token\r\n", INIT_BODY), 401);
    CHECK_EQ_INT(status_of(&f, "POST", "/mcp", ACCEPT_JSON "Authorization: Bearer s3cret-token\r\n", INIT_BODY), 200);
    CHECK_EQ_INT(status_of(&f, "POST", "/mcp", ACCEPT_JSON "Authorization: bearer s3cret-token\r\n", INIT_BODY), 200);
    /* Even other paths need the token first. */
    CHECK_EQ_INT(status_of(&f, "GET", "/other", NULL, NULL), 401);
    hfx_stop(&f);
}

TEST(http_other_paths_and_methods) {
    struct hfx f;
    hfx_start(&f);
    CHECK_EQ_INT(status_of(&f, "POST", "/", ACCEPT_JSON, INIT_BODY), 404);
    CHECK_EQ_INT(status_of(&f, "GET", "/mcp/x", NULL, NULL), 404);
    CHECK_EQ_INT(status_of(&f, "POST", "/mcp?x=1", ACCEPT_JSON, INIT_BODY), 200);
    struct hc *c = hc_open(&f);
    hc_send(c, "PUT", "/mcp", NULL, "{}");
    CHECK_EQ_INT(hc_response(c, 3000), 405);
    char v[64];
    CHECK_EQ_STR(hc_header(c, "Allow", v, sizeof v), "GET, POST, DELETE");
    hc_close(c);
    hfx_stop(&f);
}

TEST(http_protocol_version_header) {
    struct hfx f;
    hfx_start(&f);
    char sid[64], hdr[256];
    http_init(&f, sid, sizeof sid);
    snprintf(hdr, sizeof hdr, ACCEPT_JSON "MCP-Protocol-Version: 1999-01-01\r\nMcp-Session-Id: %s\r\n", sid);
    CHECK_EQ_INT(status_of(&f, "POST", "/mcp", hdr, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"), 400);
    snprintf(hdr, sizeof hdr, ACCEPT_JSON "MCP-Protocol-Version: 2025-03-26\r\nMcp-Session-Id: %s\r\n", sid);
    CHECK_EQ_INT(status_of(&f, "POST", "/mcp", hdr, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"), 200);
    hfx_stop(&f);
}

TEST(http_wrong_content_type_is_415) {
    struct hfx f;
    hfx_start(&f);
    struct hc *c = hc_open(&f);
    const char *req = "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}";
    hc_write(c, req, strlen(req));
    CHECK_EQ_INT(hc_response(c, 3000), 415);
    hc_close(c);
    c = hc_open(&f);
    req = "POST /mcp HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nContent-Type: application/json; charset=utf-8\r\n"
          "Content-Length: 220\r\n\r\n";
    char body[221];
    snprintf(body, sizeof body, "%-220s", INIT_BODY);
    hc_write(c, req, strlen(req));
    hc_write(c, body, 220);
    CHECK_EQ_INT(hc_response(c, 3000), 200);
    hc_close(c);
    hfx_stop(&f);
}

/* ---- HTTP itself ------------------------------------------------------------------ */

TEST(http_body_too_large_is_413) {
    struct hfx f;
    hfx_start(&f);
    struct hc *c = hc_open(&f);
    const char *req = "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 16777217\r\n\r\n";
    hc_write(c, req, strlen(req));
    hc_write(c, "{\"jsonrpc\":", 11); /* the client starts sending; the server answers without reading it all */
    CHECK_EQ_INT(hc_response(c, 3000), 413);
    hc_close(c);
    hfx_stop(&f);
}

TEST(http_head_too_large_is_431) {
    struct hfx f;
    mcp_http_limits lim = {.max_header_bytes = 1024};
    hfx_start_with(&f, NULL, &lim);
    char big[2048];
    memset(big, 'a', sizeof big);
    memcpy(big, "X-Big: ", 7);
    memcpy(big + sizeof big - 3, "\r\n", 3);
    CHECK_EQ_INT(status_of(&f, "GET", "/mcp", big, NULL), 431);
    hfx_stop(&f);
}

TEST(http_chunked_request_body_is_411) {
    struct hfx f;
    hfx_start(&f);
    struct hc *c = hc_open(&f);
    const char *req = "POST /mcp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
    hc_write(c, req, strlen(req));
    CHECK_EQ_INT(hc_response(c, 3000), 411);
    hc_close(c);
    hfx_stop(&f);
}

TEST(http_malformed_request_is_400) {
    struct hfx f;
    hfx_start(&f);
    struct hc *c = hc_open(&f);
    hc_write(c, "BLAH\r\n\r\n", 8);
    CHECK_EQ_INT(hc_response(c, 3000), 400);
    hfx_pump(&f, 5);
    hc_fill(c);
    CHECK(c->eof); /* and the connection is closed */
    hc_close(c);
    c = hc_open(&f);
    hc_write(c, "GET /mcp HTTP/3.0\r\n\r\n", 21);
    CHECK_EQ_INT(hc_response(c, 3000), 505);
    hc_close(c);
    hfx_stop(&f);
}

TEST(http_keep_alive_and_pipelining) {
    struct hfx f;
    hfx_start(&f);
    char sid[64];
    http_init(&f, sid, sizeof sid);
    char hdr[128];
    snprintf(hdr, sizeof hdr, ACCEPT_JSON "Mcp-Session-Id: %s\r\n", sid);
    struct hc *c = hc_open(&f);
    /* Two requests written at once, the first one slow: answers in order. */
    hc_send(c, "POST", "/mcp", hdr, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
                                    "\"later\",\"arguments\":{\"ms\":30}}}");
    hc_send(c, "POST", "/mcp", hdr, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
    CHECK_EQ_INT(hc_response(c, 3000), 200);
    json_t *r = json_loads(c->body, 0, NULL);
    CHECK_EQ_INT(jint(r, "id"), 1);
    json_decref(r);
    CHECK_EQ_INT(hc_response(c, 3000), 200);
    r = json_loads(c->body, 0, NULL);
    CHECK_EQ_INT(jint(r, "id"), 2);
    json_decref(r);
    /* And the connection still serves more. */
    hc_send(c, "POST", "/mcp", hdr, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
    CHECK_EQ_INT(hc_response(c, 3000), 200);
    hc_close(c);
    hfx_stop(&f);
}

TEST(http_connection_close_is_honoured) {
    struct hfx f;
    hfx_start(&f);
    struct hc *c = hc_open(&f);
    hc_send(c, "POST", "/mcp", ACCEPT_JSON "Connection: close\r\n", INIT_BODY);
    CHECK_EQ_INT(hc_response(c, 3000), 200);
    char v[32];
    CHECK_EQ_STR(hc_header(c, "Connection", v, sizeof v), "close");
    for (int i = 0; i < 100 && !c->eof; i++) hc_fill(c);
    CHECK(c->eof);
    hc_close(c);
    hfx_stop(&f);
}

TEST(http_expect_100_continue) {
    struct hfx f;
    hfx_start(&f);
    struct hc *c = hc_open(&f);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "POST /mcp HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nContent-Type: application/json\r\n"
                     "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
                     strlen(INIT_BODY));
    hc_write(c, head, (size_t)n);
    CHECK_EQ_INT(hc_head(c, 3000), 100);
    hc_write(c, INIT_BODY, strlen(INIT_BODY));
    CHECK_EQ_INT(hc_response(c, 3000), 200);
    hc_close(c);
    hfx_stop(&f);
}

TEST(http_idle_and_slow_request_timeouts) {
    struct hfx f;
    mcp_http_limits lim = {.idle_ms = 30, .request_ms = 60};
    hfx_start_with(&f, NULL, &lim);
    struct hc *idle = hc_open(&f);
    struct hc *slow = hc_open(&f);
    hc_write(slow, "POST /mcp HTTP/1.1\r\nHost: x\r\n", 29);
    for (int i = 0; i < 200 && !(idle->eof && slow->eof); i++) {
        hc_fill(idle);
        hc_fill(slow);
    }
    CHECK(idle->eof);
    CHECK_EQ_INT(hc_head(slow, 100), 408);
    hc_close(idle);
    hc_close(slow);
    hfx_stop(&f);
}

TEST(http_connection_limit_is_503) {
    struct hfx f;
    mcp_http_limits lim = {.max_connections = 2};
    hfx_start_with(&f, NULL, &lim);
    struct hc *a = hc_open(&f), *b = hc_open(&f);
    hfx_pump(&f, 10);
    struct hc *c = hc_open(&f);
    CHECK_EQ_INT(hc_response(c, 3000), 503);
    hc_close(a);
    hc_close(b);
    hc_close(c);
    hfx_pump(&f, 10);
    CHECK_EQ_INT(status_of(&f, "POST", "/mcp", ACCEPT_JSON, INIT_BODY), 200);
    hfx_stop(&f);
}

TEST(http_client_gone_mid_call_is_harmless) {
    struct hfx f;
    hfx_start(&f);
    char sid[64];
    http_init(&f, sid, sizeof sid);
    struct hc *c = post(&f, sid, ACCEPT_JSON, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{"
                                              "\"name\":\"later\",\"arguments\":{\"ms\":30}}}");
    hfx_pump(&f, 5);
    hc_close(c);
    hfx_pump(&f, 60); /* the call finishes with nobody to answer */
    CHECK_EQ_INT(f.h.timers_pending, 0);
    CHECK_EQ_INT(f.h.cancels, 0); /* a disconnect is not a cancel */
    int st;
    json_t *r = post_json(&f, sid, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}", &st);
    CHECK_EQ_INT(st, 200);
    json_decref(r);
    hfx_stop(&f);
}

TEST(http_free_with_streams_and_calls_open) {
    struct hfx f;
    hfx_start(&f);
    char sid[64], hdr[256];
    http_init(&f, sid, sizeof sid);
    snprintf(hdr, sizeof hdr, "Accept: text/event-stream\r\nMcp-Session-Id: %s\r\n", sid);
    struct hc *g = hc_open(&f);
    hc_send(g, "GET", "/mcp", hdr, NULL);
    CHECK_EQ_INT(hc_head(g, 3000), 200);
    struct hc *c = post(&f, sid, ACCEPT_BOTH,
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"hold\"}}");
    hfx_pump(&f, 10);
    hfx_stop(&f); /* frees the server with a stream and a held call; drain finishes the call */
    hc_close(g);
    hc_close(c);
}

TEST(http_listen_errors) {
    struct hfx f;
    hfx_start(&f);
    net_reactor *r = net_reactor_new(NULL);
    mcp_server *s = mcp_server_new(r, &fake_host, &f.h, "x", "1");
    char err[200];
    CHECK_EQ_INT(mcp_server_serve_http(s, "127.0.0.1", f.port, NULL, NULL, err, sizeof err), -1);
    CHECK_CONTAINS(err, "cannot listen");
    CHECK_EQ_INT(mcp_server_serve_http(s, "no.such.host.invalid", 0, NULL, NULL, err, sizeof err), -1);
    CHECK_CONTAINS(err, "no.such.host.invalid");
    int port = 0;
    CHECK_EQ_INT(mcp_server_serve_http(s, "[::1]", 0, NULL, &port, err, sizeof err) == 0 || port == 0, 1);
    mcp_server_free(s);
    net_reactor_free(r);
    hfx_stop(&f);
}

TEST(http_sse_head_and_heartbeats_while_a_call_runs) {
    struct hfx f;
    mcp_http_limits lim = {.keepalive_ms = 15};
    hfx_start_with(&f, NULL, &lim);
    char sid[64];
    http_init(&f, sid, sizeof sid);
    struct hc *c = post(&f, sid, ACCEPT_BOTH, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{"
                                              "\"name\":\"later\",\"arguments\":{\"ms\":300}}}");
    CHECK_EQ_INT(hc_head(c, 200), 200); /* long before the call ends */
    sse_comments = 0;
    json_t *r = hc_event(c, 3000);
    CHECK_EQ_INT(jint(r, "id"), 1);
    CHECK(sse_comments >= 2);
    json_decref(r);
    hc_close(c);
    hfx_stop(&f);
}

TEST(http_1_0_and_head_requests) {
    struct hfx f;
    hfx_start(&f);
    struct hc *c = hc_open(&f);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "POST /mcp HTTP/1.0\r\nAccept: application/json\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     strlen(INIT_BODY), INIT_BODY);
    hc_write(c, req, (size_t)n);
    CHECK_EQ_INT(hc_response(c, 3000), 200);
    json_t *r = json_loads(c->body, 0, NULL);
    CHECK_EQ_STR(jstr(r, "result.protocolVersion"), "2025-06-18");
    json_decref(r);
    for (int i = 0; i < 100 && !c->eof; i++) hc_fill(c);
    CHECK(c->eof); /* HTTP/1.0 without keep-alive: closed after the answer */
    hc_close(c);
    /* HEAD gets a status and headers but no body. */
    c = hc_open(&f);
    hc_write(c, "HEAD /mcp HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 62);
    CHECK_EQ_INT(hc_head(c, 3000), 405);
    c->done = 1; /* no body follows a HEAD answer, whatever Content-Length says */
    CHECK_EQ_INT(hc_response(c, 3000), 404);
    hc_close(c);
    hfx_stop(&f);
}

TEST(http_tools_changed_without_a_stream_is_dropped) {
    struct hfx f;
    hfx_start(&f);
    char sid[64];
    http_init(&f, sid, sizeof sid);
    mcp_server_tools_changed(f.s); /* nowhere to send it: no GET stream */
    int st;
    json_t *r = post_json(&f, sid, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &st);
    CHECK_EQ_INT(st, 200);
    CHECK_EQ_INT(jint(r, "id"), 1);
    json_decref(r);
    hfx_stop(&f);
}
