/* A small HTTP/1.1 server on the reactor (see httpd.h).
 *
 * Each connection is a little state machine: HEAD (reading a request's
 * head), BODY (reading its Content-Length body), HANDLER (the handler owns
 * the request and has not answered yet), RESPONDED (a whole answer is being
 * written), STREAM (the handler writes a chunked stream) and LINGER (an
 * error answer was written and the connection is closing: what the client
 * still sends is read and dropped for a moment, so that closing with unread
 * input does not reset the connection before the client has read the
 * answer). Requests are read whole before the handler sees them; while the
 * handler works, input is still read (up to a bound) so that a client that
 * goes away is noticed.
 *
 * Closing a connection never frees it on the spot: it is unwatched, its
 * descriptor closed, and the memory put on a list freed at the start of the
 * next reactor callback of this server. A handler holding a connection
 * pointer (an MCP exchange waiting for a tool) can therefore call into a
 * connection that died under it: every call on a dead connection is a no-op
 * that fails.
 *
 * One timer per connection does all the timing: idle keep-alive, the
 * deadline for a request to arrive, a write that makes no progress, the
 * heartbeat of a quiet stream, the end of lingering.
 */
#include "mcp/httpd.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define PATH_MAX_BYTES 2048
#define LINGER_MS 2000
#define LINGER_MAX_BYTES (1u << 20)

enum { CS_HEAD, CS_BODY, CS_HANDLER, CS_RESPONDED, CS_STREAM, CS_LINGER };
enum { T_NONE, T_IDLE, T_REQUEST, T_WRITE, T_HEARTBEAT, T_LINGER, T_RESUME };

struct httpd_conn {
    httpd *h;
    httpd_conn *prev, *next;
    int fd;
    int state, dead;
    int keep_alive, close_after, chunked, peer_eof, in_process;
    int minor, is_head;         /* of the request being answered */
    char *in;
    size_t in_len, in_cap, scan, head_len, body_len, lingered;
    char *out;
    size_t out_off, out_len, out_cap;
    uint64_t timer;
    int timer_kind;
    char *heartbeat;
    unsigned heartbeat_ms;
    httpd_close_fn on_close;
    void *on_close_ud;
    httpd_request req;
    httpd_header hdrs[HTTPD_MAX_HEADERS];
    char path[PATH_MAX_BYTES];
};

struct httpd {
    net_reactor *r;
    int fd;
    httpd_config cfg;
    httpd_handler handler;
    void *ud;
    httpd_conn *conns, *graveyard;
    unsigned n_conns;
    uint64_t accept_timer;
};

/* ---- parsing ------------------------------------------------------------- */

static int is_tchar(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

size_t httpd_head_end(const char *buf, size_t len, size_t *scan) {
    size_t i = *scan;
    for (; i < len; i++) {
        if (buf[i] != '\n') continue;
        /* "\n\n" or "\n\r\n" ends the head. */
        if (i + 1 < len && buf[i + 1] == '\n') return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
        if (i + 2 >= len) break; /* not enough bytes after this newline yet */
    }
    *scan = i;
    return 0;
}

/* The next line of the head: NUL-terminates it in place (dropping "\r\n" or
 * "\n") and returns it, or NULL when a bare CR or a NUL sits inside. */
static char *next_line(char **p, char *end) {
    char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
    if (!nl) return NULL;
    char *e = nl;
    if (e > s && e[-1] == '\r') e--;
    for (char *q = s; q < e; q++)
        if (*q == '\r' || *q == '\0') return NULL;
    *e = '\0';
    *p = nl + 1;
    return s;
}

int httpd_parse_head(char *buf, size_t len, httpd_request *req, httpd_header *hdrs, size_t max_hdrs, char *pathbuf,
                     size_t pathlen) {
    memset(req, 0, sizeof *req);
    req->headers = hdrs;
    char *p = buf, *end = buf + len;
    char *line = next_line(&p, end);
    if (!line) return 400;
    /* method SP target SP HTTP/1.x */
    char *sp1 = strchr(line, ' ');
    if (!sp1 || sp1 == line) return 400;
    *sp1 = '\0';
    for (char *q = line; *q; q++)
        if (!is_tchar((unsigned char)*q)) return 400;
    char *target = sp1 + 1, *sp2 = strchr(target, ' ');
    if (!sp2 || sp2 == target) return 400;
    *sp2 = '\0';
    for (char *q = target; *q; q++)
        if ((unsigned char)*q <= 0x20 || *q == 0x7f) return 400;
    const char *ver = sp2 + 1;
    if (strncmp(ver, "HTTP/", 5) != 0) return 400;
    if (!(ver[5] >= '0' && ver[5] <= '9' && ver[6] == '.' && ver[7] >= '0' && ver[7] <= '9' && ver[8] == '\0'))
        return 400;
    if (ver[5] != '1') return 505;
    req->method = line;
    req->target = target;
    req->minor = ver[7] == '0' ? 0 : 1;
    size_t plen = strcspn(target, "?#");
    if (plen >= pathlen) return 414;
    memcpy(pathbuf, target, plen);
    pathbuf[plen] = '\0';
    req->path = pathbuf;
    for (;;) {
        line = next_line(&p, end);
        if (!line) return 400;
        if (!*line) break; /* the blank line */
        if (*line == ' ' || *line == '\t') return 400; /* obsolete line folding */
        char *colon = strchr(line, ':');
        if (!colon || colon == line) return 400;
        for (char *q = line; q < colon; q++)
            if (!is_tchar((unsigned char)*q)) return 400;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        char *ve = v + strlen(v);
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) *--ve = '\0';
        for (char *q = v; q < ve; q++)
            if ((unsigned char)*q < 0x20 && *q != '\t') return 400;
        if (*v && (unsigned char)*v == 0x7f) return 400;
        if (req->n_headers == max_hdrs) return 431;
        hdrs[req->n_headers++] = (httpd_header){line, v};
    }
    return p == end ? 0 : 400;
}

const char *httpd_header_get(const httpd_request *req, const char *name) {
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0) return req->headers[i].value;
    return NULL;
}

int httpd_has_token(const char *value, const char *token) {
    size_t tl = strlen(token);
    const char *p = value;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ';' && *e != ' ' && *e != '\t') e++;
        if ((size_t)(e - p) == tl && strncasecmp(p, token, tl) == 0) return 1;
        p = strchr(e, ',');
    }
    return 0;
}

int httpd_body_length(const httpd_request *req, size_t max, size_t *len) {
    *len = 0;
    int seen = 0;
    size_t n = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *name = req->headers[i].name, *v = req->headers[i].value;
        if (strcasecmp(name, "Transfer-Encoding") == 0) return 411;
        if (strcasecmp(name, "Content-Length") != 0) continue;
        if (!*v) return 400;
        size_t x = 0;
        for (const char *q = v; *q; q++) {
            if (*q < '0' || *q > '9') return 400;
            if (x > (SIZE_MAX - 9) / 10) return 413;
            x = x * 10 + (size_t)(*q - '0');
        }
        if (seen && x != n) return 400;
        seen = 1;
        n = x;
    }
    if (n > max) return 413;
    *len = n;
    return 0;
}

const char *httpd_status_text(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* ---- connections --------------------------------------------------------- */

static void conn_io(net_reactor *r, int fd, unsigned events, void *ud);
static void conn_timer(net_reactor *r, void *ud);
static void process(httpd_conn *c);
static int flush(httpd_conn *c);

static void sweep(httpd *h) {
    while (h->graveyard) {
        httpd_conn *c = h->graveyard;
        h->graveyard = c->next;
        free(c->in);
        free(c->out);
        free(c->heartbeat);
        free(c);
    }
}

static void set_timer(httpd_conn *c, int kind, unsigned ms) {
    if (c->timer) net_reactor_cancel_timer(c->h->r, c->timer);
    c->timer = 0;
    c->timer_kind = T_NONE;
    if (kind == T_NONE) return;
    c->timer = net_reactor_timer(c->h->r, ms, conn_timer, c);
    if (c->timer) c->timer_kind = kind;
}

static void conn_close(httpd_conn *c) {
    if (c->dead) return;
    httpd *h = c->h;
    c->dead = 1;
    set_timer(c, T_NONE, 0);
    net_reactor_unwatch(h->r, c->fd);
    close(c->fd);
    c->fd = -1;
    if (c->prev) c->prev->next = c->next;
    else h->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = NULL;
    c->next = h->graveyard;
    h->graveyard = c;
    h->n_conns--;
    httpd_close_fn fn = c->on_close;
    c->on_close = NULL;
    if (fn) fn(c, c->on_close_ud);
}

static size_t max_input(const httpd_conn *c) { return c->h->cfg.max_header_bytes + c->h->cfg.max_body_bytes + 4096; }

static int wants_read(const httpd_conn *c) {
    if (c->state == CS_LINGER) return 1;
    return !c->peer_eof && c->in_len < max_input(c);
}

static void update_watch(httpd_conn *c) {
    if (c->dead) return;
    unsigned ev = (wants_read(c) ? NET_READ : 0) | (c->out_off < c->out_len ? NET_WRITE : 0);
    if (net_reactor_watch(c->h->r, c->fd, ev, conn_io, c) < 0) conn_close(c);
}

/* Picks the timer the connection's state calls for; `progress` restarts a
 * write or heartbeat timer that is already running. */
static void rearm(httpd_conn *c, int progress) {
    if (c->dead) return;
    const httpd_config *cfg = &c->h->cfg;
    int kind = T_NONE;
    unsigned ms = 0;
    if (c->state == CS_LINGER) return; /* its timer is set once */
    if (c->out_off < c->out_len) {
        kind = T_WRITE;
        ms = cfg->request_ms;
    } else if (c->state == CS_HEAD && c->in_len == 0) {
        kind = T_IDLE;
        ms = cfg->idle_ms;
    } else if (c->state == CS_HEAD || c->state == CS_BODY) {
        kind = T_REQUEST;
        ms = cfg->request_ms;
    } else if (c->state == CS_STREAM && c->heartbeat) {
        kind = T_HEARTBEAT;
        ms = c->heartbeat_ms;
    }
    if (kind == c->timer_kind && c->timer && !(progress && (kind == T_WRITE || kind == T_HEARTBEAT))) return;
    set_timer(c, kind, ms);
}

static int queue(httpd_conn *c, const char *data, size_t len) {
    if (c->dead) return -1;
    size_t waiting = c->out_len - c->out_off;
    if (waiting + len > HTTPD_MAX_OUTPUT) {
        fprintf(stderr, "corral mcp: http: a client is not reading (%zu bytes waiting, limit %u); connection dropped\n",
                waiting + len, HTTPD_MAX_OUTPUT);
        conn_close(c);
        return -1;
    }
    if (c->out_off && c->out_len + len > c->out_cap) {
        memmove(c->out, c->out + c->out_off, waiting);
        c->out_len = waiting;
        c->out_off = 0;
    }
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len) cap *= 2;
        char *b = realloc(c->out, cap);
        if (!b) {
            conn_close(c);
            return -1;
        }
        c->out = b;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return 0;
}

static void begin_linger(httpd_conn *c) {
    shutdown(c->fd, SHUT_WR);
    c->state = CS_LINGER;
    c->lingered = 0;
    set_timer(c, T_LINGER, LINGER_MS);
    update_watch(c);
}

/* The whole answer has been written. */
static void response_done(httpd_conn *c) {
    if (c->close_after) {
        if (c->peer_eof) conn_close(c);
        else begin_linger(c);
        return;
    }
    if (c->peer_eof && !c->in_len) {
        conn_close(c);
        return;
    }
    c->state = CS_HEAD;
    free(c->heartbeat);
    c->heartbeat = NULL;
    /* Pipelined input waiting: read it from a fresh callback, not from
     * inside whatever code answered (possibly a host's timer). */
    if (!c->in_process && c->in_len) set_timer(c, T_RESUME, 0);
    else rearm(c, 0);
    update_watch(c);
}

/* Writes what the socket takes. Returns 0, or -1 when the connection died. */
static int flush(httpd_conn *c) {
    int progressed = 0;
    while (!c->dead && c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_off += (size_t)n;
            progressed = 1;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        conn_close(c);
        return -1;
    }
    if (c->dead) return -1;
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        if (c->out_cap > (1u << 20)) {
            free(c->out);
            c->out = NULL;
            c->out_cap = 0;
        }
        if (c->state == CS_RESPONDED) {
            response_done(c);
            return c->dead ? -1 : 0;
        }
    }
    rearm(c, progressed);
    update_watch(c);
    return 0;
}

static int write_head(httpd_conn *c, int status, const char *extra, const char *ctype, const char *framing) {
    char head[1024];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n%s%s%s%s%s", status,
                     httpd_status_text(status), ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
                     framing, c->close_after ? "Connection: close\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof head) return -1;
    if (queue(c, head, (size_t)n) < 0) return -1;
    if (extra && queue(c, extra, strlen(extra)) < 0) return -1;
    return queue(c, "\r\n", 2);
}

int httpd_respond(httpd_conn *c, int status, const char *extra_headers, const char *ctype, const char *body,
                  size_t len, int close_after) {
    if (c->dead || (c->state != CS_HANDLER && c->state != CS_HEAD && c->state != CS_BODY)) return -1;
    c->on_close = NULL;
    if (close_after || !c->keep_alive) c->close_after = 1;
    char framing[64];
    snprintf(framing, sizeof framing, "Content-Length: %zu\r\n", len);
    if (write_head(c, status, extra_headers, ctype, framing) < 0) return -1;
    if (len && !c->is_head && queue(c, body, len) < 0) return -1;
    c->state = CS_RESPONDED;
    return flush(c);
}

int httpd_stream_begin(httpd_conn *c, int status, const char *extra_headers, const char *ctype,
                       const char *heartbeat, unsigned heartbeat_ms) {
    if (c->dead || c->state != CS_HANDLER) return -1;
    c->chunked = c->minor >= 1;
    if (!c->chunked) c->close_after = 1;
    if (write_head(c, status, extra_headers, ctype, c->chunked ? "Transfer-Encoding: chunked\r\n" : "") < 0)
        return -1;
    c->state = CS_STREAM;
    if (heartbeat && heartbeat_ms) {
        c->heartbeat = strdup(heartbeat);
        c->heartbeat_ms = heartbeat_ms;
    }
    return flush(c);
}

static int stream_queue(httpd_conn *c, const char *data, size_t len) {
    if (!len) return 0;
    if (c->chunked) {
        char size[32];
        int n = snprintf(size, sizeof size, "%zx\r\n", len);
        if (queue(c, size, (size_t)n) < 0 || queue(c, data, len) < 0 || queue(c, "\r\n", 2) < 0) return -1;
        return 0;
    }
    return queue(c, data, len);
}

int httpd_stream_write(httpd_conn *c, const char *data, size_t len) {
    if (c->dead || c->state != CS_STREAM) return -1;
    if (stream_queue(c, data, len) < 0) return -1;
    return flush(c);
}

void httpd_stream_end(httpd_conn *c) {
    if (c->dead || c->state != CS_STREAM) return;
    c->on_close = NULL;
    if (c->chunked && queue(c, "0\r\n\r\n", 5) < 0) return;
    c->state = CS_RESPONDED;
    flush(c);
}

void httpd_conn_on_close(httpd_conn *c, httpd_close_fn fn, void *ud) {
    if (c->dead) return;
    c->on_close = fn;
    c->on_close_ud = ud;
}

/* Refuses the request being read, then closes. */
static void fail(httpd_conn *c, int status) {
    char body[128];
    int n = snprintf(body, sizeof body, "%d %s\n", status, httpd_status_text(status));
    c->keep_alive = 0;
    httpd_respond(c, status, NULL, "text/plain", body, (size_t)n, 1);
}

static void conn_timer(net_reactor *r, void *ud) {
    httpd_conn *c = ud;
    sweep(c->h);
    int kind = c->timer_kind;
    c->timer = 0;
    c->timer_kind = T_NONE;
    switch (kind) {
    case T_IDLE:
    case T_WRITE:
    case T_LINGER:
        conn_close(c);
        break;
    case T_REQUEST:
        if (c->state == CS_HEAD || c->state == CS_BODY) fail(c, 408);
        else rearm(c, 0);
        break;
    case T_HEARTBEAT:
        if (c->state == CS_STREAM && c->heartbeat) httpd_stream_write(c, c->heartbeat, strlen(c->heartbeat));
        break;
    case T_RESUME:
        process(c);
        break;
    }
}

/* Reads what is there. Returns -1 when the connection died. */
static int read_in(httpd_conn *c) {
    if (c->state == CS_LINGER) {
        char junk[16384];
        for (;;) {
            ssize_t n = recv(c->fd, junk, sizeof junk, MSG_DONTWAIT);
            if (n > 0 && (c->lingered += (size_t)n) <= LINGER_MAX_BYTES) continue;
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
            conn_close(c);
            return -1;
        }
    }
    size_t cap_in = max_input(c);
    while (c->in_len < cap_in) {
        if (c->in_cap - c->in_len < 16384) {
            size_t cap = c->in_cap ? c->in_cap * 2 : 16384;
            while (cap - c->in_len < 16384) cap *= 2;
            char *b = realloc(c->in, cap);
            if (!b) {
                conn_close(c);
                return -1;
            }
            c->in = b;
            c->in_cap = cap;
        }
        size_t room = c->in_cap - c->in_len;
        if (room > cap_in - c->in_len) room = cap_in - c->in_len;
        ssize_t n = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (n < 0) {
            conn_close(c);
            return -1;
        }
        c->peer_eof = 1;
        return 0;
    }
    return 0;
}

static void start_request(httpd_conn *c) {
    httpd *h = c->h;
    c->is_head = 0;
    int status = httpd_parse_head(c->in, c->head_len, &c->req, c->hdrs, HTTPD_MAX_HEADERS, c->path, sizeof c->path);
    if (!status) status = httpd_body_length(&c->req, h->cfg.max_body_bytes, &c->body_len);
    if (status) {
        fail(c, status);
        return;
    }
    c->minor = c->req.minor;
    c->is_head = strcmp(c->req.method, "HEAD") == 0;
    const char *conn = httpd_header_get(&c->req, "Connection");
    c->keep_alive = c->req.minor >= 1 ? !(conn && httpd_has_token(conn, "close"))
                                      : (conn && httpd_has_token(conn, "keep-alive"));
    c->close_after = 0;
    c->state = CS_BODY;
    const char *expect = httpd_header_get(&c->req, "Expect");
    if (c->body_len && c->in_len < c->head_len + c->body_len && expect && strcasecmp(expect, "100-continue") == 0 &&
        c->req.minor >= 1 && queue(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0)
        flush(c);
}

static void process(httpd_conn *c) {
    httpd *h = c->h;
    c->in_process++;
    while (!c->dead) {
        if (c->state == CS_HEAD) {
            /* Blank lines before a request line are allowed (RFC 9112 2.2). */
            size_t skip = 0;
            while (c->scan == 0 && skip < c->in_len && (c->in[skip] == '\r' || c->in[skip] == '\n')) skip++;
            if (skip) {
                memmove(c->in, c->in + skip, c->in_len - skip);
                c->in_len -= skip;
            }
            if (c->in_len == 0) {
                if (c->peer_eof) conn_close(c);
                break;
            }
            c->head_len = httpd_head_end(c->in, c->in_len, &c->scan);
            if (!c->head_len || c->head_len > h->cfg.max_header_bytes) {
                if (c->head_len || c->in_len > h->cfg.max_header_bytes) fail(c, 431);
                else if (c->peer_eof) conn_close(c);
                break;
            }
            c->scan = 0;
            start_request(c);
            continue;
        }
        if (c->state == CS_BODY) {
            if (c->in_len < c->head_len + c->body_len) {
                if (c->peer_eof) conn_close(c);
                break;
            }
            size_t used = c->head_len + c->body_len;
            c->req.body = c->in + c->head_len;
            c->req.body_len = c->body_len;
            c->state = CS_HANDLER;
            set_timer(c, T_NONE, 0);
            h->handler(c, &c->req, h->ud);
            if (c->dead) break;
            memmove(c->in, c->in + used, c->in_len - used);
            c->in_len -= used;
            c->head_len = c->body_len = 0;
            c->req.body = NULL;
            c->req.body_len = 0;
            continue;
        }
        if ((c->state == CS_HANDLER || c->state == CS_STREAM) && c->peer_eof) {
            conn_close(c); /* the client went away */
            break;
        }
        break;
    }
    c->in_process--;
    if (c->dead) return;
    if (c->state == CS_HEAD && c->in_len && c->timer_kind == T_RESUME) return;
    rearm(c, 0);
    update_watch(c);
}

static void conn_io(net_reactor *r, int fd, unsigned events, void *ud) {
    httpd_conn *c = ud;
    sweep(c->h);
    if (c->out_off < c->out_len && (events & (NET_WRITE | NET_ERROR | NET_HANGUP)) && flush(c) < 0) return;
    if (c->dead) return;
    if (wants_read(c)) {
        if ((events & (NET_READ | NET_HANGUP | NET_ERROR)) && read_in(c) < 0) return;
    } else if (events & (NET_HANGUP | NET_ERROR)) {
        conn_close(c);
        return;
    }
    if (c->state != CS_LINGER) process(c);
    else update_watch(c);
}

/* ---- the listener -------------------------------------------------------- */

static void accept_ready(net_reactor *r, int fd, unsigned events, void *ud);

static void accept_resume(net_reactor *r, void *ud) {
    httpd *h = ud;
    h->accept_timer = 0;
    net_reactor_watch(r, h->fd, NET_READ, accept_ready, h);
}

static void accept_ready(net_reactor *r, int fd, unsigned events, void *ud) {
    httpd *h = ud;
    sweep(h);
    for (int i = 0; i < 64; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: stop accepting for a moment rather than spin. */
                net_reactor_unwatch(r, fd);
                h->accept_timer = net_reactor_timer(r, 100, accept_resume, h);
            }
            return;
        }
        if (h->n_conns >= h->cfg.max_connections) {
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            ssize_t n = send(cfd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)n;
            close(cfd);
            continue;
        }
        httpd_conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(cfd);
            continue;
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->h = h;
        c->fd = cfd;
        c->state = CS_HEAD;
        c->minor = 1;
        c->next = h->conns;
        if (h->conns) h->conns->prev = c;
        h->conns = c;
        h->n_conns++;
        rearm(c, 0);
        update_watch(c);
    }
}

/* A listening socket on the first address of the family (IPv4 or not)
 * that takes one, or -1 with the last error in *saved. */
static int listen_first(struct addrinfo *ai, int ipv4, int *saved) {
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        if ((a->ai_family == AF_INET) != ipv4) continue;
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            *saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 128) == 0) return fd;
        *saved = errno;
        close(fd);
    }
    return -1;
}

httpd *httpd_new(net_reactor *r, const char *host, int port, const httpd_config *cfg, httpd_handler handler,
                 void *ud, int *bound_port, char *err, size_t errlen) {
    if (!host) host = "127.0.0.1";
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    /* "[::1]" as written in URLs. */
    char hostbuf[256];
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof hostbuf) {
        memcpy(hostbuf, host + 1, hl - 2);
        hostbuf[hl - 2] = '\0';
        host = hostbuf;
    }
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai) {
        snprintf(err, errlen, "cannot resolve the address to listen on, %s: %s", host, gai_strerror(gai));
        return NULL;
    }
    /* IPv4 addresses first: "localhost" then listens where clients that
     * write 127.0.0.1 (most of them) connect. */
    int saved = 0, fd = listen_first(ai, 1, &saved);
    if (fd < 0) fd = listen_first(ai, 0, &saved);
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s port %d: %s", host, port, strerror(saved));
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int actual = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        actual = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                : ((struct sockaddr_in *)&ss)->sin_port);
    httpd *h = calloc(1, sizeof *h);
    if (!h) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->r = r;
    h->fd = fd;
    h->cfg = *cfg;
    h->handler = handler;
    h->ud = ud;
    if (net_reactor_watch(r, fd, NET_READ, accept_ready, h) < 0) {
        snprintf(err, errlen, "cannot watch the listening socket: %s", strerror(errno));
        close(fd);
        free(h);
        return NULL;
    }
    if (bound_port) *bound_port = actual;
    return h;
}

void httpd_set_config(httpd *h, const httpd_config *cfg) { h->cfg = *cfg; }

void httpd_free(httpd *h) {
    if (!h) return;
    while (h->conns) {
        h->conns->on_close = NULL;
        conn_close(h->conns);
    }
    sweep(h);
    if (h->accept_timer) net_reactor_cancel_timer(h->r, h->accept_timer);
    net_reactor_unwatch(h->r, h->fd);
    close(h->fd);
    free(h);
}
