/* The MCP server's stdio transport: one session, newline-delimited JSON-RPC
 * messages on in_fd, answers on out_fd, both driven by the reactor.
 *
 * Input is read whenever the reactor says it is readable, split into lines
 * (jsonrpc_lines), and each line is parsed and dispatched at once. Output is
 * appended to one buffer and written as far as the descriptor takes it; the
 * rest waits for NET_WRITE, so a slow client never blocks the reactor. A
 * client that stops reading altogether is cut off when MCP_STDIO_MAX_OUTPUT
 * bytes are waiting.
 *
 * EOF is how an MCP client ends a stdio session (it then waits for the
 * server to exit), so the session ends with it. Closing happens in steps,
 * each in a reactor callback of its own so that no host callback runs
 * inside another host call: EOF (or a read or write error, or the output
 * limit) stops reading; a zero-delay timer then ends the session, which
 * cancels the calls in flight (cancel_tool); what output is left gets up to
 * MCP_STDIO_CLOSE_FLUSH_MS to drain; then on_close.
 *
 * Regular files and /dev/null cannot be watched by epoll; such an in_fd is
 * read in chunks from zero-delay timers, and such an out_fd is written
 * directly (writes to them never wait).
 */
#include "mcp/server_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MCP_STDIO_CLOSE_FLUSH_MS 1000
#define READ_CHUNK 65536
#define READS_PER_TURN 16

struct srv_stdio {
    mcp_server *srv;
    mcp_session *sess;          /* NULL once the session ended */
    int in_fd, out_fd;
    int in_flags, out_flags;    /* to restore; -1: not changed */
    int in_poll, out_poll;      /* epoll can watch them */
    int out_sock;
    int reading;                /* input still wanted */
    int closing, dropped;       /* close started; output thrown away */
    int closed;                 /* on_close called (or not to be called) */
    int stop_lines;             /* tells jsonrpc_lines_feed to stop */
    jsonrpc_lines lines;
    char *out;
    size_t out_off, out_len, out_cap;
    uint64_t read_timer, close_timer;
};

static void update_watch(struct srv_stdio *st);
static void begin_close(struct srv_stdio *st, const char *why, int keep_output);

/* ---- output -------------------------------------------------------------- */

/* Writes what it can. Returns 0, or -1 on a write error (the close has been
 * started). */
static int flush_out(struct srv_stdio *st) {
    while (st->out_off < st->out_len) {
        size_t n = st->out_len - st->out_off;
        ssize_t w = st->out_sock ? send(st->out_fd, st->out + st->out_off, n, MSG_NOSIGNAL | MSG_DONTWAIT)
                                 : write(st->out_fd, st->out + st->out_off, n);
        if (w > 0) {
            st->out_off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && st->out_poll) break;
        char why[160];
        snprintf(why, sizeof why, "writing to the client failed (%s); the session is over",
                 w < 0 ? strerror(errno) : "nothing written");
        st->out_off = st->out_len = 0;
        begin_close(st, why, 0);
        return -1;
    }
    if (st->out_off == st->out_len) {
        st->out_off = st->out_len = 0;
        if (st->out_cap > (1u << 20)) {
            free(st->out);
            st->out = NULL;
            st->out_cap = 0;
        }
    }
    update_watch(st);
    return 0;
}

static void stdio_send(mcp_session *s, mcp_exchange *ex, const char *text, size_t len) {
    struct srv_stdio *st = s->tp_data;
    if (st->dropped) return;
    size_t waiting = st->out_len - st->out_off;
    if (waiting + len + 1 > MCP_STDIO_MAX_OUTPUT) {
        char why[200];
        snprintf(why, sizeof why,
                 "the client is not reading its answers: %zu bytes waiting would exceed the %u-byte limit; "
                 "the session is over",
                 waiting + len + 1, MCP_STDIO_MAX_OUTPUT);
        st->out_off = st->out_len = 0;
        begin_close(st, why, 0);
        return;
    }
    if (st->out_off && st->out_len + len + 1 > st->out_cap) {
        memmove(st->out, st->out + st->out_off, waiting);
        st->out_len = waiting;
        st->out_off = 0;
    }
    if (st->out_len + len + 1 > st->out_cap) {
        size_t cap = st->out_cap ? st->out_cap : 65536;
        while (cap < st->out_len + len + 1) cap *= 2;
        char *b = realloc(st->out, cap);
        if (!b) {
            begin_close(st, "out of memory for the client's answers; the session is over", 0);
            return;
        }
        st->out = b;
        st->out_cap = cap;
    }
    memcpy(st->out + st->out_len, text, len);
    st->out_len += len;
    st->out[st->out_len++] = '\n';
    /* With a write already waiting for NET_WRITE, the reactor will flush. */
    if (waiting == 0 || !st->out_poll) flush_out(st);
}

static void stdio_done(mcp_session *s, mcp_exchange *ex, const char *text, size_t len) {
    if (text && !s->ended) stdio_send(s, ex, text, len);
}

static void stdio_ended(mcp_session *s) {
    struct srv_stdio *st = s->tp_data;
    st->sess = NULL;
    st->reading = 0;
    st->stop_lines = 1;
    update_watch(st);
}

static const srv_transport stdio_transport = {stdio_send, stdio_done, stdio_ended};

/* ---- closing ------------------------------------------------------------- */

static void close_final(struct srv_stdio *st) {
    if (st->close_timer) net_reactor_cancel_timer(st->srv->r, st->close_timer);
    st->close_timer = 0;
    if (st->closed) return;
    st->closed = 1;
    update_watch(st);
    mcp_server *srv = st->srv;
    if (srv->host.on_close) srv->host.on_close(srv->ud);
}

static void close_flush_expired(net_reactor *r, void *ud) {
    struct srv_stdio *st = ud;
    st->close_timer = 0;
    st->dropped = 1;
    st->out_off = st->out_len = 0;
    close_final(st);
}

static void close_step(net_reactor *r, void *ud) {
    struct srv_stdio *st = ud;
    st->close_timer = 0;
    if (st->sess) srv_session_end(st->sess, 1);
    st->dropped = 1; /* the session is over: nothing more is sent */
    if (st->out_off < st->out_len && st->out_poll) {
        st->close_timer = net_reactor_timer(r, MCP_STDIO_CLOSE_FLUSH_MS, close_flush_expired, st);
        if (st->close_timer) return;
    }
    close_final(st);
}

static void begin_close(struct srv_stdio *st, const char *why, int keep_output) {
    if (!keep_output) {
        st->dropped = 1;
        st->out_off = st->out_len = 0;
    }
    if (st->closing) return;
    st->closing = 1;
    if (why) fprintf(stderr, "corral mcp: stdio: %s\n", why);
    st->reading = 0;
    st->stop_lines = 1;
    if (st->read_timer) net_reactor_cancel_timer(st->srv->r, st->read_timer);
    st->read_timer = 0;
    update_watch(st);
    st->close_timer = net_reactor_timer(st->srv->r, 0, close_step, st);
    if (!st->close_timer) close_step(st->srv->r, st);
}

/* ---- input --------------------------------------------------------------- */

static void on_line(void *ud, const char *line, size_t len) {
    struct srv_stdio *st = ud;
    mcp_session *s = st->sess;
    if (!s || s->ended) return;
    if (!line) {
        char msg[160];
        snprintf(msg, sizeof msg, "Invalid Request: a message of %zu bytes exceeds the limit of %u bytes", len,
                 MCP_MAX_MESSAGE);
        srv_send_error(s, JSONRPC_INVALID_REQUEST, msg);
        return;
    }
    if (jsonrpc_blank(line, len)) return;
    char err[300];
    json_t *root = jsonrpc_parse(line, len, err, sizeof err);
    if (!root) {
        srv_send_error(s, JSONRPC_PARSE_ERROR, err);
        return;
    }
    int batch = json_is_array(root) && json_array_size(root) > 0;
    mcp_exchange *ex = srv_exchange_new(s, batch, batch, 0, NULL);
    if (ex) srv_dispatch(ex, root);
    else srv_send_error(s, JSONRPC_INTERNAL_ERROR, "Internal error: out of memory");
    json_decref(root);
}

/* Reads what is there. Returns 1 when input ended. */
static int read_some(struct srv_stdio *st) {
    char buf[READ_CHUNK];
    for (int i = 0; i < READS_PER_TURN && st->reading; i++) {
        ssize_t n = read(st->in_fd, buf, sizeof buf);
        if (n > 0) {
            st->stop_lines = 0;
            if (jsonrpc_lines_feed(&st->lines, buf, (size_t)n, on_line, st, &st->stop_lines) < 0 && st->sess)
                srv_send_error(st->sess, JSONRPC_INTERNAL_ERROR, "Internal error: out of memory for a message");
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (n < 0) fprintf(stderr, "corral mcp: stdio: reading failed (%s)\n", strerror(errno));
        st->stop_lines = 0;
        if (st->reading) jsonrpc_lines_finish(&st->lines, on_line, st);
        begin_close(st, NULL, 1);
        return 1;
    }
    return 0;
}

static void read_file_step(net_reactor *r, void *ud) {
    struct srv_stdio *st = ud;
    st->read_timer = 0;
    if (!st->reading) return;
    if (read_some(st) == 0 && st->reading) st->read_timer = net_reactor_timer(r, 0, read_file_step, st);
}

static void on_io(net_reactor *r, int fd, unsigned events, void *ud) {
    struct srv_stdio *st = ud;
    if (fd == st->out_fd && st->out_off < st->out_len && (events & (NET_WRITE | NET_ERROR | NET_HANGUP))) {
        flush_out(st);
        /* Closing and drained (or failed): the client has had its answers. */
        if (st->closing && !st->sess && st->out_off == st->out_len && !st->closed) {
            close_final(st);
            return;
        }
    }
    if (fd == st->in_fd && st->reading && (events & (NET_READ | NET_HANGUP | NET_ERROR))) read_some(st);
}

static void update_watch(struct srv_stdio *st) {
    net_reactor *r = st->srv->r;
    unsigned in_ev = st->reading && st->in_poll ? NET_READ : 0;
    unsigned out_ev = st->out_off < st->out_len && st->out_poll ? NET_WRITE : 0;
    if (st->in_fd == st->out_fd) {
        if (in_ev | out_ev) net_reactor_watch(r, st->in_fd, in_ev | out_ev, on_io, st);
        else net_reactor_unwatch(r, st->in_fd);
        return;
    }
    if (st->in_poll) {
        if (in_ev) net_reactor_watch(r, st->in_fd, in_ev, on_io, st);
        else net_reactor_unwatch(r, st->in_fd);
    }
    if (st->out_poll) {
        if (out_ev) net_reactor_watch(r, st->out_fd, out_ev, on_io, st);
        else net_reactor_unwatch(r, st->out_fd);
    }
}

/* ---- setup --------------------------------------------------------------- */

static void noop_io(net_reactor *r, int fd, unsigned events, void *ud) {}

/* Can epoll watch fd? (Regular files and some character devices: no.) */
static int pollable(net_reactor *r, int fd) {
    if (net_reactor_watch(r, fd, 0, noop_io, NULL) < 0) return 0;
    net_reactor_unwatch(r, fd);
    return 1;
}

static int set_nonblocking(int fd, int *saved) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    *saved = fl;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
    return 0;
}

int mcp_server_serve_stdio(mcp_server *srv, int in_fd, int out_fd) {
    if (srv->stdio || in_fd < 0 || out_fd < 0) return -1;
    struct srv_stdio *st = calloc(1, sizeof *st);
    if (!st) return -1;
    st->srv = srv;
    st->in_fd = in_fd;
    st->out_fd = out_fd;
    st->in_flags = st->out_flags = -1;
    st->in_poll = pollable(srv->r, in_fd);
    st->out_poll = in_fd == out_fd ? st->in_poll : pollable(srv->r, out_fd);
    struct stat sb;
    st->out_sock = fstat(out_fd, &sb) == 0 && S_ISSOCK(sb.st_mode);
    if (st->in_poll && set_nonblocking(in_fd, &st->in_flags) < 0) goto fail;
    if (st->out_poll && out_fd != in_fd && set_nonblocking(out_fd, &st->out_flags) < 0) goto fail;
    jsonrpc_lines_init(&st->lines, MCP_MAX_MESSAGE);
    st->sess = srv_session_new(srv, &stdio_transport, st);
    if (!st->sess) goto fail;
    srv->stdio = st;
    st->reading = 1;
    if (!st->in_poll) {
        st->read_timer = net_reactor_timer(srv->r, 0, read_file_step, st);
        if (!st->read_timer) goto fail_session;
    }
    update_watch(st);
    return 0;
fail_session:
    srv->stdio = NULL;
    srv_session_end(st->sess, 0);
fail:
    if (st->in_flags >= 0) fcntl(in_fd, F_SETFL, st->in_flags);
    if (st->out_flags >= 0) fcntl(out_fd, F_SETFL, st->out_flags);
    jsonrpc_lines_free(&st->lines);
    free(st);
    return -1;
}

void srv_stdio_free(mcp_server *srv) {
    struct srv_stdio *st = srv->stdio;
    if (!st) return;
    if (st->sess) srv_session_end(st->sess, 0);
    if (st->read_timer) net_reactor_cancel_timer(srv->r, st->read_timer);
    if (st->close_timer) net_reactor_cancel_timer(srv->r, st->close_timer);
    net_reactor_unwatch(srv->r, st->in_fd);
    if (st->out_fd != st->in_fd) net_reactor_unwatch(srv->r, st->out_fd);
    if (st->in_flags >= 0) fcntl(st->in_fd, F_SETFL, st->in_flags);
    if (st->out_flags >= 0) fcntl(st->out_fd, F_SETFL, st->out_flags);
    jsonrpc_lines_free(&st->lines);
    free(st->out);
    free(st);
    srv->stdio = NULL;
}
