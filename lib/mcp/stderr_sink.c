/* The sink behind lib/mcp's stderr lines (stderr_sink.h).
 *
 * Setting O_NONBLOCK on descriptor 2 itself would change the open file
 * description corral shares with its parent and siblings (a shell's terminal
 * would start failing their writes with EAGAIN), so a sink writes through a
 * description of its own where it can:
 *  - a pipe or a character device (a terminal, /dev/null) is opened afresh
 *    through /proc/self/fd/N with O_NONBLOCK: the same pipe or device,
 *    through a description nobody else uses;
 *  - a socket is written with send(MSG_DONTWAIT) on a duplicate (a
 *    duplicate, so the reactor can watch it without clashing with another
 *    watcher of the same number);
 *  - a regular file or block device never blocks for long and cannot be
 *    watched by epoll: it is written directly;
 *  - anything else (no /proc) is written only when poll() says there is
 *    room, which a process filling the same pipe in between could still
 *    defeat: the one window left open without /proc.
 *
 * Each write carries whole lines and at most PIPE_BUF bytes, and no line is
 * longer than that, so on a pipe (where such writes are atomic) lines of
 * different sinks never interleave mid-line. SIGPIPE is blocked around each
 * write and discarded; a stderr whose reader is gone turns the sink off.
 */
#include "mcp/stderr_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codemode/codemode.h"

#define PREFIX_MAX 128u
#define CUT_MARK " [corral: line cut at 2048 bytes]"
#define FINAL_FLUSH_MS 100

enum sink_mode { SINK_OFF, SINK_DIRECT, SINK_PRIVATE, SINK_SOCKET, SINK_POLL };

struct mcp_stderr_sink {
    net_reactor *r;
    int fd;
    int own_fd;                     /* fd was opened or duplicated here */
    int watching;
    enum sink_mode mode;
    char prefix[PREFIX_MAX];
    char *q;                        /* queued bytes: whole lines */
    size_t qoff, qlen, qcap;
    unsigned long long dropped, dropped_noted;
};

_Static_assert(PREFIX_MAX + MCP_STDERR_LINE_MAX + sizeof CUT_MARK + 1 <= PIPE_BUF,
               "a line must fit one atomic pipe write");

static void open_target(mcp_stderr_sink *k, int fd) {
    struct stat st;
    k->fd = -1;
    k->mode = SINK_OFF;
    if (fstat(fd, &st) < 0) return;
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
        k->fd = fd;
        k->mode = SINK_DIRECT;
        return;
    }
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        int own = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (own >= 0) {
            k->fd = own;
            k->own_fd = 1;
            k->mode = SINK_PRIVATE;
            return;
        }
    }
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (dup_fd < 0) return;
    k->fd = dup_fd;
    k->own_fd = 1;
    k->mode = S_ISSOCK(st.st_mode) ? SINK_SOCKET : SINK_POLL;
}

mcp_stderr_sink *mcp_stderr_sink_new(net_reactor *r, int fd, const char *prefix) {
    mcp_stderr_sink *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->r = r;
    snprintf(k->prefix, sizeof k->prefix, "%s", prefix ? prefix : "");
    open_target(k, fd);
    return k;
}

/* One write that never blocks: bytes written, or -1 with errno (EAGAIN when
 * stderr has no room now). */
static ssize_t put(mcp_stderr_sink *k, const char *p, size_t n) {
    switch (k->mode) {
    case SINK_SOCKET: return send(k->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    case SINK_POLL: {
        struct pollfd pf = {.fd = k->fd, .events = POLLOUT};
        if (poll(&pf, 1, 0) <= 0 || !(pf.revents & POLLOUT)) {
            if (pf.revents & (POLLERR | POLLHUP | POLLNVAL)) {
                errno = EPIPE;
                return -1;
            }
            errno = EAGAIN;
            return -1;
        }
        return write(k->fd, p, n);
    }
    case SINK_DIRECT:
    case SINK_PRIVATE: return write(k->fd, p, n);
    case SINK_OFF: break;
    }
    errno = EBADF;
    return -1;
}

static void on_writable(net_reactor *r, int fd, unsigned events, void *ud);

static void set_watch(mcp_stderr_sink *k, int want) {
    if (want == k->watching || k->mode == SINK_DIRECT || k->mode == SINK_OFF || !k->r) return;
    if (want) k->watching = net_reactor_watch(k->r, k->fd, NET_WRITE, on_writable, k) == 0;
    else {
        net_reactor_unwatch(k->r, k->fd);
        k->watching = 0;
    }
}

static void turn_off(mcp_stderr_sink *k) {
    set_watch(k, 0);
    k->mode = SINK_OFF;
    k->qoff = k->qlen = 0;
}

/* The longest run of whole queued lines within PIPE_BUF bytes. */
static size_t next_chunk(const mcp_stderr_sink *k) {
    const char *p = k->q + k->qoff;
    size_t limit = k->qlen < PIPE_BUF ? k->qlen : PIPE_BUF;
    size_t end = 0;
    for (size_t i = 0; i < limit; i++)
        if (p[i] == '\n') end = i + 1;
    return end ? end : limit;
}

static void append(mcp_stderr_sink *k, const char *p, size_t n) {
    if (k->qoff && k->qoff + k->qlen + n > k->qcap) {
        memmove(k->q, k->q + k->qoff, k->qlen);
        k->qoff = 0;
    }
    if (k->qoff + k->qlen + n > k->qcap) {
        size_t cap = k->qcap ? k->qcap : 4096;
        while (cap < k->qlen + n) cap *= 2;
        char *q = realloc(k->q, cap);
        if (!q) {
            k->dropped++;
            return;
        }
        k->q = q;
        k->qcap = cap;
    }
    memcpy(k->q + k->qoff + k->qlen, p, n);
    k->qlen += n;
}

static void queue_drop_note(mcp_stderr_sink *k) {
    char note[PREFIX_MAX + 256];
    int n = snprintf(note, sizeof note,
                     "%s[corral] %llu line%s dropped: corral's stderr was not taking them fast "
                     "enough (at most %u bytes wait for it)\n",
                     k->prefix, k->dropped - k->dropped_noted,
                     k->dropped - k->dropped_noted == 1 ? " was" : "s were",
                     (unsigned)MCP_STDERR_QUEUE_MAX);
    k->dropped_noted = k->dropped;
    if (n > 0) append(k, note, (size_t)n < sizeof note ? (size_t)n : sizeof note - 1);
}

void mcp_sigpipe_hold(sigset_t *old) {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, old);
}

void mcp_sigpipe_release(const sigset_t *old, int raised) {
    /* Discard the SIGPIPE the write raised, unless one was already held
     * back before it (that one is not ours to take). */
    if (raised && !sigismember(old, SIGPIPE)) {
        sigset_t pipe_set, pend;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        struct timespec zero = {0, 0};
        sigpending(&pend);
        if (sigismember(&pend, SIGPIPE)) sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* Writes queued lines until stderr pushes back; then waits for NET_WRITE. */
static void flush(mcp_stderr_sink *k) {
    sigset_t old;
    mcp_sigpipe_hold(&old);
    int broken = 0;
    for (int noted = 0;;) {
        while (k->qlen) {
            size_t n = next_chunk(k);
            ssize_t w = put(k, k->q + k->qoff, n);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            if (w <= 0) {
                broken = 1;
                break;
            }
            k->qoff += (size_t)w;
            k->qlen -= (size_t)w;
        }
        if (broken || k->qlen || noted || k->dropped == k->dropped_noted) break;
        queue_drop_note(k);
        noted = 1;
    }
    if (k->qlen == 0) k->qoff = 0;
    if (broken) turn_off(k);
    else set_watch(k, k->qlen != 0);
    mcp_sigpipe_release(&old, broken);
}

static void on_writable(net_reactor *r, int fd, unsigned events, void *ud) {
    mcp_stderr_sink *k = ud;
    if (events & NET_ERROR) {
        turn_off(k);
        return;
    }
    flush(k);
}

/* Escapes what a terminal would act on, and bytes that are not UTF-8;
 * returns the bytes written to out (at most cap) and sets *cut when text did
 * not fit. */
static size_t sanitize(const char *text, size_t len, char *out, size_t cap, int *cut) {
    size_t o = 0;
    *cut = 0;
    for (size_t i = 0; i < len;) {
        const unsigned char *s = (const unsigned char *)text + i;
        size_t k = cm_utf8_valid_len(s, len - i);
        int plain = k > 1 || (k == 1 && (s[0] >= 0x20 || s[0] == '\t') && s[0] != 0x7f);
        size_t need = plain ? k : 4;
        if (o + need > cap) {
            *cut = 1;
            break;
        }
        if (plain) {
            memcpy(out + o, s, k);
            i += k;
        } else {
            snprintf(out + o, 5, "\\x%02x", s[0]);
            i++;
        }
        o += need;
    }
    return o;
}

void mcp_stderr_sink_line(mcp_stderr_sink *k, const char *text, size_t len) {
    if (!k || k->mode == SINK_OFF) return;
    char line[PIPE_BUF];
    size_t n = strlen(k->prefix);
    memcpy(line, k->prefix, n);
    int cut;
    n += sanitize(text ? text : "", text ? len : 0, line + n, MCP_STDERR_LINE_MAX, &cut);
    if (cut) {
        memcpy(line + n, CUT_MARK, sizeof CUT_MARK - 1);
        n += sizeof CUT_MARK - 1;
    }
    line[n++] = '\n';
    if (k->qlen + n > MCP_STDERR_QUEUE_MAX) {
        k->dropped++;
        return;
    }
    append(k, line, n);
    flush(k);
}

unsigned long long mcp_stderr_sink_dropped(const mcp_stderr_sink *k) { return k ? k->dropped : 0; }

void mcp_stderr_sink_free(mcp_stderr_sink *k) {
    if (!k) return;
    set_watch(k, 0);
    /* A short grace for a reader that is merely slow; shutdown must not wait
     * on one that stopped. */
    for (int waited = 0; k->mode != SINK_OFF && k->qlen && waited < FINAL_FLUSH_MS; waited += 10) {
        flush(k);
        set_watch(k, 0);
        if (!k->qlen || k->mode == SINK_OFF) break;
        struct pollfd pf = {.fd = k->fd, .events = POLLOUT};
        poll(&pf, 1, 10);
    }
    if (k->own_fd) close(k->fd);
    free(k->q);
    free(k);
}
