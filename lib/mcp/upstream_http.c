/* lib/mcp/upstream_http.c — the streamable HTTP transport of an upstream MCP
 * server: every JSON-RPC message is one POST to the server's URL, answered
 * with 202 (notifications and responses), one JSON message, or a stream of
 * server-sent events that carries the response to our request, possibly
 * after requests and notifications of the server's own.
 *
 * Transfers run on a curl multi handle driven by the reactor itself (curl's
 * socket and timer callbacks become reactor watches and timers), so no
 * thread is needed and nothing outlives the upstream: closing removes the
 * handles synchronously. Curl's callbacks only buffer and parse; messages
 * are handed to the core after curl_multi_socket_action() has returned, one
 * at a time, checking after each that the transport still exists, because
 * the core may close it (a bad handshake) from inside that delivery.
 *
 * The session id the server assigns in its answer to `initialize` is sent
 * back with every later request, as is MCP-Protocol-Version. A 404 to a
 * request that carried a session id means the session expired: the upstream
 * goes down and the restart opens a new session. `notifications/initialized`
 * is a barrier: later messages wait until its POST finishes, so the server
 * never sees tools/list before it (separate POSTs may otherwise overtake
 * each other). The optional GET stream for unsolicited server messages is
 * not opened: corral needs nothing the server would send there.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcp/upstream_internal.h"

#define CONNECT_TIMEOUT_MS 10000L
#define NOTIFY_TIMEOUT_MS 30000L
#define ERROR_EXCERPT 300u

struct queued {
    struct queued *next;
    char *data;
    size_t len;
    int64_t id;
};

struct xfer {
    struct xfer *next;
    CURL *easy;
    struct curl_slist *hdrs;
    int64_t id;
    int barrier, sent_session;
    long status;
    int sse, got_response, too_big, done, last_cr, abandoned;
    CURLcode result;
    char *session;
    char *buf; /* JSON body, or the current SSE line */
    size_t len, cap;
    char *data; /* SSE: the data of the event being read */
    size_t dlen, dcap;
    json_t *msgs; /* parsed messages waiting for delivery */
    char errbuf[CURL_ERROR_SIZE];
};

struct mcp_http {
    CURLM *multi;
    uint64_t timer;
    struct xfer *xfers;
    struct queued *queue, **queue_tail;
    char *session;
    int barrier, closing;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_rc;
static void curl_init(void) { curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static int grow(char **p, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    char *n = realloc(*p, c);
    if (!n) return -1;
    *p = n;
    *cap = c;
    return 0;
}

/* ---- curl callbacks: buffer and parse only --------------------------------- */

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    struct xfer *x = ud;
    size_t len = size * n;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* A new status line (after 1xx): forget the previous headers. */
        x->sse = 0;
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon) return len;
    size_t klen = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vlen = len - klen - 1;
    while (vlen && (*v == ' ' || *v == '\t')) v++, vlen--;
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ')) vlen--;
    if (klen == 12 && strncasecmp(p, "content-type", 12) == 0)
        x->sse = vlen >= 17 && strncasecmp(v, "text/event-stream", 17) == 0;
    else if (klen == 14 && strncasecmp(p, "mcp-session-id", 14) == 0 && vlen && vlen <= 1024) {
        free(x->session);
        x->session = strndup(v, vlen);
    }
    return len;
}

/* Queues a parsed message; notes whether it is the response we wait for. */
static void take_message(struct xfer *x, json_t *msg) {
    if (!x->msgs) x->msgs = json_array();
    json_t *items = json_is_array(msg) ? msg : NULL;
    size_t i, count = items ? json_array_size(items) : 1;
    for (i = 0; i < count; i++) {
        json_t *m = items ? json_array_get(items, i) : msg;
        json_t *id = json_object_get(m, "id");
        if (x->id && json_is_integer(id) && json_integer_value(id) == x->id && !json_object_get(m, "method"))
            x->got_response = 1;
    }
    if (x->msgs) json_array_append(x->msgs, msg);
}

static void sse_dispatch(struct xfer *x) {
    if (!x->dlen) return;
    json_t *msg = json_loadb(x->data, x->dlen, 0, NULL);
    x->dlen = 0;
    if (msg) take_message(x, msg);
    else if (x->msgs || (x->msgs = json_array())) json_array_append_new(x->msgs, json_string("\x01malformed"));
    json_decref(msg);
}

/* One line of an event stream (without its end of line). */
static int sse_line(struct xfer *x, const char *line, size_t len) {
    if (len == 0) {
        sse_dispatch(x);
        return 0;
    }
    if (len < 5 || strncmp(line, "data:", 5) != 0) return 0; /* event:, id:, retry:, comments */
    const char *v = line + 5;
    size_t vlen = len - 5;
    if (vlen && *v == ' ') v++, vlen--;
    if (x->dlen + vlen + 1 > MCP_UPSTREAM_MAX_MESSAGE) {
        x->too_big = 1;
        return -1;
    }
    if (grow(&x->data, &x->dcap, x->dlen + vlen + 2) < 0) return -1;
    if (x->dlen) x->data[x->dlen++] = '\n';
    memcpy(x->data + x->dlen, v, vlen);
    x->dlen += vlen;
    return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    struct xfer *x = ud;
    size_t len = size * n;
    if (!x->status) curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->status < 200 || x->status > 299) {
        /* Keep the start of an error page for the message. */
        size_t room = x->len < ERROR_EXCERPT ? ERROR_EXCERPT - x->len : 0;
        size_t take = len < room ? len : room;
        if (take && grow(&x->buf, &x->cap, x->len + take + 1) == 0) {
            memcpy(x->buf + x->len, p, take);
            x->len += take;
        }
        return len;
    }
    if (!x->sse) {
        if (x->len + len > MCP_UPSTREAM_MAX_MESSAGE) {
            x->too_big = 1;
            return 0;
        }
        if (grow(&x->buf, &x->cap, x->len + len + 1) < 0) return 0;
        memcpy(x->buf + x->len, p, len);
        x->len += len;
        return len;
    }
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c == '\n' && x->last_cr) {
            x->last_cr = 0; /* the \n of a \r\n */
            continue;
        }
        x->last_cr = c == '\r';
        if (c == '\n' || c == '\r') {
            if (sse_line(x, x->buf, x->len) < 0) return 0;
            x->len = 0;
            if (x->got_response) return 0; /* done: the server may keep the stream open */
            continue;
        }
        if (x->len + 1 > MCP_UPSTREAM_MAX_MESSAGE) {
            x->too_big = 1;
            return 0;
        }
        if (grow(&x->buf, &x->cap, x->len + 2) < 0) return 0;
        x->buf[x->len++] = c;
    }
    return len;
}

/* ---- the reactor side ------------------------------------------------------ */

static void process(mcp_upstream *u);

static void on_sock(net_reactor *r, int fd, unsigned events, void *ud) {
    mcp_upstream *u = ud;
    int flags = (events & (NET_READ | NET_HANGUP) ? CURL_CSELECT_IN : 0) | (events & NET_WRITE ? CURL_CSELECT_OUT : 0) |
                (events & NET_ERROR ? CURL_CSELECT_ERR : 0);
    int running;
    curl_multi_socket_action(u->http->multi, fd, flags, &running);
    process(u);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
    mcp_upstream *u = userp;
    if (what == CURL_POLL_REMOVE) {
        net_reactor_unwatch(u->r, s);
        return 0;
    }
    unsigned ev = (what & CURL_POLL_IN ? NET_READ : 0) | (what & CURL_POLL_OUT ? NET_WRITE : 0);
    net_reactor_watch(u->r, s, ev, on_sock, u);
    return 0;
}

static void on_curl_timer(net_reactor *r, void *ud) {
    mcp_upstream *u = ud;
    u->http->timer = 0;
    int running;
    curl_multi_socket_action(u->http->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    process(u);
}

static int timer_cb(CURLM *m, long ms, void *userp) {
    mcp_upstream *u = userp;
    struct mcp_http *h = u->http;
    if (h->timer) net_reactor_cancel_timer(u->r, h->timer);
    h->timer = 0;
    if (ms >= 0 && !h->closing) h->timer = net_reactor_timer(u->r, (uint64_t)ms, on_curl_timer, u);
    return 0;
}

static void xfer_free(mcp_upstream *u, struct xfer *x) {
    if (x->easy) {
        curl_multi_remove_handle(u->http->multi, x->easy);
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->hdrs);
    json_decref(x->msgs);
    free(x->session);
    free(x->buf);
    free(x->data);
    free(x);
}

static int start_xfer(mcp_upstream *u, const char *data, size_t len, int64_t id, char *err, size_t errlen) {
    struct mcp_http *h = u->http;
    struct xfer *x = calloc(1, sizeof *x);
    if (!x || !(x->easy = curl_easy_init())) {
        free(x);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    x->id = id;
    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/json");
    l = l ? curl_slist_append(l, "Accept: application/json, text/event-stream") : NULL;
    for (size_t i = 0; l && i < u->spec.headerc; i++) l = curl_slist_append(l, u->spec.headers[i]);
    char line[1100];
    if (l && h->session) {
        snprintf(line, sizeof line, "Mcp-Session-Id: %s", h->session);
        l = curl_slist_append(l, line);
        x->sent_session = 1;
    }
    if (l && u->protocol_version) {
        snprintf(line, sizeof line, "MCP-Protocol-Version: %s", u->protocol_version);
        l = curl_slist_append(l, line);
    }
    x->hdrs = l;
    CURL *e = x->easy;
    if (!l || curl_easy_setopt(e, CURLOPT_URL, u->spec.url) != CURLE_OK) {
        snprintf(err, errlen, l ? "invalid URL \"%.200s\"" : "out of memory", u->spec.url);
        xfer_free(u, x);
        return -1;
    }
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, data);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "corral/" CORRAL_VERSION);
    if (!id) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, NOTIFY_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        snprintf(err, errlen, "cannot start the HTTP request");
        xfer_free(u, x);
        return -1;
    }
    x->next = h->xfers;
    h->xfers = x;
    return 0;
}

static int http_send(mcp_upstream *u, const char *data, size_t len, int64_t id, char *err, size_t errlen) {
    struct mcp_http *h = u->http;
    if (!h) {
        snprintf(err, errlen, "not connected");
        return -1;
    }
    int barrier = !id && strstr(data, "\"notifications/initialized\"") != NULL;
    if (h->barrier) {
        struct queued *q = calloc(1, sizeof *q);
        if (!q || !(q->data = malloc(len + 1))) {
            free(q);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        memcpy(q->data, data, len);
        q->data[len] = '\0';
        q->len = len;
        q->id = id;
        *h->queue_tail = q;
        h->queue_tail = &q->next;
        return 0;
    }
    if (start_xfer(u, data, len, id, err, errlen) < 0) return -1;
    if (barrier) {
        h->barrier = 1;
        h->xfers->barrier = 1;
    }
    return 0;
}

/* Starts the messages held back by the barrier. A failure fails its request
 * (reported after, since the core may close us). */
static void release_queue(mcp_upstream *u) {
    struct mcp_http *h = u->http;
    h->barrier = 0;
    while (h->queue && !h->barrier) {
        struct queued *q = h->queue;
        h->queue = q->next;
        if (!h->queue) h->queue_tail = &h->queue;
        char err[256];
        int rc = start_xfer(u, q->data, q->len, q->id, err, sizeof err);
        int64_t id = q->id;
        free(q->data);
        free(q);
        if (rc < 0 && id) {
            unsigned gen = u->conn_gen;
            mcp_upstream_on_send_failed(u, id, err);
            if (gen != u->conn_gen) return;
        }
    }
}

static struct xfer *unlink_xfer(struct mcp_http *h, struct xfer *x) {
    for (struct xfer **p = &h->xfers; *p; p = &(*p)->next) {
        if (*p == x) {
            *p = x->next;
            break;
        }
    }
    return x;
}

/* Delivers one queued message; returns 1 if one was delivered, -1 when the
 * transport went away, 0 when nothing was waiting. */
static int deliver_one(mcp_upstream *u) {
    struct mcp_http *h = u->http;
    for (struct xfer *x = h->xfers; x; x = x->next) {
        if (!json_array_size(x->msgs)) continue;
        if (x->session && !h->session) h->session = strdup(x->session);
        json_t *m = json_incref(json_array_get(x->msgs, 0));
        json_array_remove(x->msgs, 0);
        unsigned gen = u->conn_gen;
        if (json_is_string(m)) mcp_upstream_malformed(u, "an event that is not JSON");
        else mcp_upstream_on_message(u, m);
        json_decref(m);
        return gen == u->conn_gen ? 1 : -1;
    }
    return 0;
}

/* A finished transfer: parse a JSON body, then report what went wrong. */
static int finish(mcp_upstream *u, struct xfer *x) {
    struct mcp_http *h = u->http;
    if (!x->status) curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    int ok_status = x->status >= 200 && x->status <= 299;
    if (ok_status && !x->sse && x->len && !x->too_big) {
        json_t *m = json_loadb(x->buf, x->len, 0, NULL);
        if (m) take_message(x, m);
        else mcp_upstream_malformed(u, "a response body that is not JSON");
        json_decref(m);
        x->len = 0;
    }
    if (ok_status && x->sse) sse_dispatch(x); /* a last event without its blank line */
    x->done = 2;
    int r;
    while ((r = deliver_one(u)) == 1) {
    }
    if (r < 0) return -1;
    unlink_xfer(h, x);
    if (x->abandoned) {
        /* Its request was cancelled while we delivered: nobody waits. */
        int barrier_done = x->barrier;
        xfer_free(u, x);
        if (barrier_done) release_queue(u);
        return u->http ? 0 : -1;
    }
    char why[600] = "";
    if (x->session && !h->session) h->session = strdup(x->session);
    if (x->status == 404 && x->sent_session) {
        xfer_free(u, x);
        u->ops->close(u, 0);
        mcp_upstream_on_down(u, "ended the HTTP session (404); starting a new one");
        return -1;
    }
    if (x->result != CURLE_OK && !x->got_response && !x->too_big && !x->status) {
        int conn = x->result == CURLE_COULDNT_CONNECT || x->result == CURLE_COULDNT_RESOLVE_HOST ||
                   x->result == CURLE_COULDNT_RESOLVE_PROXY || x->result == CURLE_OPERATION_TIMEDOUT;
        snprintf(why, sizeof why, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result));
        if (conn && x->id) {
            xfer_free(u, x);
            char msg[700];
            snprintf(msg, sizeof msg, "is unreachable at %.300s: %s", u->spec.url, why);
            u->ops->close(u, 0);
            mcp_upstream_on_down(u, msg);
            return -1;
        }
    } else if (x->too_big) {
        snprintf(why, sizeof why, "the HTTP response exceeds the %u-byte message limit", MCP_UPSTREAM_MAX_MESSAGE);
    } else if (!ok_status) {
        size_t n = x->len;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)x->buf[i] < 0x20) x->buf[i] = ' ';
        snprintf(why, sizeof why, "HTTP status %ld%s%.*s", x->status, n ? ": " : "", (int)n, x->buf ? x->buf : "");
    } else if (x->id && !x->got_response) {
        snprintf(why, sizeof why, "the HTTP response (status %ld) did not contain the JSON-RPC response",
                 x->status);
    }
    int64_t id = x->id;
    int barrier = x->barrier;
    xfer_free(u, x);
    unsigned gen = u->conn_gen;
    if (why[0] && id) mcp_upstream_on_send_failed(u, id, why);
    else if (why[0]) mcp_upstream_log(u, "a notification POST failed: %s", why);
    if (gen != u->conn_gen) return -1;
    if (barrier) release_queue(u);
    return gen == u->conn_gen ? 0 : -1;
}

static void process(mcp_upstream *u) {
    for (;;) {
        struct mcp_http *h = u->http;
        if (!h) return;
        int r = deliver_one(u);
        if (r < 0) return;
        if (r == 1) continue;
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(h->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            char *priv = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            struct xfer *x = (struct xfer *)priv;
            if (x) {
                x->done = 1;
                x->result = m->data.result;
            }
        }
        struct xfer *x = h->xfers;
        while (x && x->done != 1) x = x->next;
        if (!x) return;
        if (finish(u, x) < 0) return;
    }
}

static int http_open(mcp_upstream *u, char *err, size_t errlen) {
    pthread_once(&curl_once, curl_init);
    struct mcp_http *h = calloc(1, sizeof *h);
    if (curl_rc != CURLE_OK || !h || !(h->multi = curl_multi_init())) {
        free(h);
        snprintf(err, errlen, "cannot initialise libcurl");
        return -1;
    }
    h->queue_tail = &h->queue;
    u->http = h;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, u);
    return 0;
}

/* Aborts the transfer of a request nobody waits for any more. A transfer
 * that finish() is working on (done == 2) is only marked: finish() holds it
 * across callbacks and frees it itself. */
static void http_abandon(mcp_upstream *u, int64_t id) {
    struct mcp_http *h = u->http;
    if (!h || !id) return;
    for (struct xfer *x = h->xfers; x; x = x->next) {
        if (x->id != id) continue;
        x->abandoned = 1;
        if (x->done == 2 || x->barrier) return;
        unlink_xfer(h, x);
        xfer_free(u, x);
        return;
    }
    /* Still held back by the barrier: drop it from the queue. */
    for (struct queued **p = &h->queue; *p; p = &(*p)->next) {
        struct queued *q = *p;
        if (q->id != id) continue;
        *p = q->next;
        if (!*p) h->queue_tail = p;
        free(q->data);
        free(q);
        return;
    }
}

static void http_close(mcp_upstream *u, int final) {
    struct mcp_http *h = u->http;
    if (!h) return;
    u->conn_gen++;
    h->closing = 1;
    while (h->xfers) {
        struct xfer *x = h->xfers;
        h->xfers = x->next;
        xfer_free(u, x);
    }
    curl_multi_cleanup(h->multi);
    if (h->timer) net_reactor_cancel_timer(u->r, h->timer);
    while (h->queue) {
        struct queued *q = h->queue;
        h->queue = q->next;
        free(q->data);
        free(q);
    }
    free(h->session);
    free(h);
    u->http = NULL;
}

const struct mcp_transport_ops mcp_upstream_http_ops = {http_open, http_send, http_close, http_abandon};
