/* lib/mcp/upstream_stdio.c — the stdio transport of an upstream MCP server:
 * a child process that reads JSON-RPC messages on stdin and writes them on
 * stdout, one per line, and talks to humans on stderr.
 *
 * Spawning uses posix_spawnp: the child gets the three pipe ends as 0/1/2
 * and nothing else (every descriptor of ours is close-on-exec, and
 * closefrom(3) catches any a host left open), default signal dispositions, an
 * empty signal mask and its own process group, so that stopping it also
 * stops whatever it started. An exec failure (no such command) comes back
 * from posix_spawnp itself, so it is reported with errno, not discovered as
 * an early exit.
 *
 * The child is reaped through a pidfd watched by the reactor: only our own
 * child is ever waited for, and no SIGCHLD handler is installed that could
 * steal the statuses of processes the loader or the jail starts. Kernels
 * without pidfd_open (before 5.3) fall back to polling waitpid(WNOHANG) on a
 * timer. Exit is what marks the upstream down; when its stdout closes but it
 * lingers, it is killed after a grace period so the exit comes promptly.
 *
 * Writes go through a bounded buffer flushed on NET_WRITE; SIGPIPE from a
 * child that closed its stdin is blocked around each write and discarded
 * rather than ignored process-wide. Lines are bounded at
 * MCP_UPSTREAM_MAX_MESSAGE; stderr is read as fast as the child writes it
 * and forwarded a line at a time, prefixed with the upstream's name, through
 * a sink that never blocks on corral's own stderr (stderr_sink.h): a line
 * over MCP_STDERR_LINE_MAX is cut, and lines corral's stderr cannot take
 * are dropped with a note rather than stalling tool calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mcp/upstream_internal.h"

extern char **environ;

#define MAX_QUEUED (64u * 1024u * 1024u)
#define LINGER_MS 2000u
#define TERM_GRACE_MS 500
#define POLL_EXIT_MS 100u

struct mcp_stdio {
    pid_t pid;
    int pidfd, in_fd, out_fd, err_fd;
    char *obuf;
    size_t olen, ocap;
    char *ibuf;
    size_t ilen, icap;
    int discarding;
    char ebuf[MCP_STDERR_LINE_MAX + 1];
    size_t elen;
    int eskipping;                  /* the rest of an over-long stderr line */
    uint64_t poll_timer, linger_timer;
};

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* corral's environment with the spec's K=V entries added or replacing. */
static char **child_env(const mcp_upstream_spec *spec) {
    size_t n = 0;
    while (environ && environ[n]) n++;
    char **env = calloc(n + spec->envc + 1, sizeof *env);
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        int replaced = 0;
        for (size_t j = 0; j < spec->envc && !replaced; j++)
            replaced = strncmp(spec->env[j], environ[i], klen) == 0 && spec->env[j][klen] == '=';
        if (!replaced) env[k++] = environ[i];
    }
    for (size_t j = 0; j < spec->envc; j++) env[k++] = spec->env[j];
    env[k] = NULL;
    return env;
}

static void close_fd(mcp_upstream *u, int *fd) {
    if (*fd < 0) return;
    net_reactor_unwatch(u->r, *fd);
    close(*fd);
    *fd = -1;
}

/* Waits up to ms for the child to exit; 1 if it did (and was reaped). The
 * pidfd wakes us at once when it exits; waitpid is still retried in small
 * steps, since the pidfd may turn readable a moment before the child can be
 * reaped. */
static int wait_exit(struct mcp_stdio *s, int ms, int *status) {
    uint64_t end = net_now_ms() + (uint64_t)ms;
    for (;;) {
        if (waitpid(s->pid, status, WNOHANG) == s->pid) return 1;
        uint64_t now = net_now_ms();
        if (now >= end) return 0;
        int step = end - now < 10 ? (int)(end - now) : 10;
        if (s->pidfd >= 0) {
            struct pollfd p = {.fd = s->pidfd, .events = POLLIN};
            if (poll(&p, 1, step) > 0) {
                struct timespec ts = {0, 1000000L};
                nanosleep(&ts, NULL);
            }
        } else {
            struct timespec ts = {0, (long)step * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
}

/* Frees the transport state; the child must already be reaped or be
 * stopped here (final: SIGTERM first, then SIGKILL). */
static void teardown(mcp_upstream *u, int stop_child, int final) {
    struct mcp_stdio *s = u->stdio;
    if (!s) return;
    u->stdio = NULL;
    u->conn_gen++;
    close_fd(u, &s->in_fd);
    close_fd(u, &s->out_fd);
    close_fd(u, &s->err_fd);
    if (s->poll_timer) net_reactor_cancel_timer(u->r, s->poll_timer);
    if (s->linger_timer) net_reactor_cancel_timer(u->r, s->linger_timer);
    if (stop_child && s->pid > 0) {
        int status;
        int gone = 0;
        if (final) {
            /* stdin is closed above: well-behaved servers exit on EOF. */
            kill(-s->pid, SIGTERM);
            gone = wait_exit(s, TERM_GRACE_MS, &status);
        }
        if (!gone) {
            kill(-s->pid, SIGKILL);
            if (!wait_exit(s, 2000, &status))
                mcp_upstream_log(u, "process %d did not exit after SIGKILL; left unreaped", (int)s->pid);
        }
    }
    close_fd(u, &s->pidfd);
    free(s->obuf);
    free(s->ibuf);
    free(s);
}

void mcp_upstream_stdio_signal_stop(mcp_upstream *u) {
    struct mcp_stdio *s = u->stdio;
    if (!s || s->pid <= 0) return;
    close_fd(u, &s->in_fd);
    kill(-s->pid, SIGTERM);
}

static void flush_stderr_line(mcp_upstream *u, struct mcp_stdio *s) {
    size_t n = s->elen;
    if (n && s->ebuf[n - 1] == '\r') n--;
    mcp_upstream_stderr_line(u, s->ebuf, n);
    s->elen = 0;
}

/* Forwards stderr a line at a time. A line longer than the sink keeps is
 * passed on once it is one byte too long (the sink then cuts it with a
 * marker) and the rest of it, up to its newline, is skipped. */
static void on_stderr(net_reactor *r, int fd, unsigned events, void *ud) {
    mcp_upstream *u = ud;
    struct mcp_stdio *s = u->stdio;
    char buf[4096];
    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            if (s->elen) flush_stderr_line(u, s);
            close_fd(u, &s->err_fd);
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                if (!s->eskipping) flush_stderr_line(u, s);
                s->eskipping = 0;
                continue;
            }
            if (s->eskipping) continue;
            s->ebuf[s->elen++] = buf[i];
            if (s->elen == sizeof s->ebuf) {
                flush_stderr_line(u, s);
                s->eskipping = 1;
            }
        }
    }
}

/* Parses one complete line and hands it to the core. Returns 0, or -1 when
 * the transport was torn down meanwhile (s is gone). */
static int deliver_line(mcp_upstream *u, char *line, size_t len) {
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) len--;
    size_t start = 0;
    while (start < len && (line[start] == ' ' || line[start] == '\t')) start++;
    if (start == len) return 0;
    json_error_t je;
    json_t *msg = json_loadb(line + start, len - start, 0, &je);
    if (!msg) {
        char what[160];
        int show = len - start > 60 ? 60 : (int)(len - start);
        snprintf(what, sizeof what, "not JSON: \"%.*s%s\"", show, line + start, len - start > 60 ? "..." : "");
        for (char *c = what; *c; c++)
            if ((unsigned char)*c < 0x20) *c = '?';
        mcp_upstream_malformed(u, what);
        return 0;
    }
    unsigned gen = u->conn_gen;
    mcp_upstream_on_message(u, msg);
    json_decref(msg);
    return gen == u->conn_gen ? 0 : -1;
}

/* Splits what was read into lines; -1 when the transport went away. */
static int take_input(mcp_upstream *u, struct mcp_stdio *s, const char *p, size_t n) {
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t chunk = nl ? (size_t)(nl - p) : n;
        if (s->discarding) {
            if (nl) s->discarding = 0;
        } else if (s->ilen + chunk > MCP_UPSTREAM_MAX_MESSAGE) {
            char what[96];
            snprintf(what, sizeof what, "a line over the %u-byte message limit", MCP_UPSTREAM_MAX_MESSAGE);
            mcp_upstream_malformed(u, what);
            free(s->ibuf);
            s->ibuf = NULL;
            s->ilen = s->icap = 0;
            s->discarding = !nl;
        } else if (nl && s->ilen == 0) {
            /* The common case: a whole line inside one read, parsed in place. */
            char *line = malloc(chunk + 1);
            if (!line) return 0;
            memcpy(line, p, chunk);
            int rc = deliver_line(u, line, chunk);
            free(line);
            if (rc < 0) return -1;
        } else {
            if (s->ilen + chunk + 1 > s->icap) {
                size_t cap = s->icap ? s->icap : 4096;
                while (cap < s->ilen + chunk + 1) cap *= 2;
                char *b = realloc(s->ibuf, cap);
                if (!b) return 0;
                s->ibuf = b;
                s->icap = cap;
            }
            memcpy(s->ibuf + s->ilen, p, chunk);
            s->ilen += chunk;
            if (nl) {
                char *line = s->ibuf;
                size_t len = s->ilen;
                s->ibuf = NULL;
                s->ilen = s->icap = 0;
                int rc = deliver_line(u, line, len);
                free(line);
                if (rc < 0) return -1;
            }
        }
        if (!nl) break;
        n -= chunk + 1;
        p = nl + 1;
    }
    return 0;
}

/* Reads what stdout has; returns 1 at end of file, -1 when the transport
 * went away, 0 otherwise. */
static int drain_stdout(mcp_upstream *u, struct mcp_stdio *s, int rounds) {
    char buf[65536];
    while (rounds-- > 0) {
        ssize_t n = read(s->out_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 0;
        if (n <= 0) return 1;
        if (take_input(u, s, buf, (size_t)n) < 0) return -1;
    }
    return 0;
}

static void describe_status(int status, char *buf, size_t len) {
    if (WIFEXITED(status)) snprintf(buf, len, "exited (status %d)", WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
    else snprintf(buf, len, "stopped (wait status %d)", status);
}

/* The child exited: read what it wrote before exiting, then report. */
static void child_exited(mcp_upstream *u, struct mcp_stdio *s, int status) {
    s->pid = -1;
    if (s->out_fd >= 0 && drain_stdout(u, s, 256) < 0) return;
    if (s->err_fd >= 0) on_stderr(u->r, s->err_fd, NET_READ, u);
    char why[128];
    describe_status(status, why, sizeof why);
    teardown(u, 0, 0);
    mcp_upstream_on_down(u, why);
}

/* Reaps our child if it has exited. Kills the rest of its process group
 * first, while the group id cannot have been reused, so that grandchildren
 * holding the pipes do not outlive it. */
static void try_reap(mcp_upstream *u, struct mcp_stdio *s) {
    siginfo_t si = {0};
    if (waitid(P_PID, (id_t)s->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != s->pid) return;
    kill(-s->pid, SIGKILL);
    int status;
    if (waitpid(s->pid, &status, WNOHANG) != s->pid) return;
    child_exited(u, s, status);
}

static void on_pidfd(net_reactor *r, int fd, unsigned events, void *ud) {
    mcp_upstream *u = ud;
    try_reap(u, u->stdio);
}

static void poll_exit(net_reactor *r, void *ud) {
    mcp_upstream *u = ud;
    struct mcp_stdio *s = u->stdio;
    s->poll_timer = 0;
    unsigned gen = u->conn_gen;
    try_reap(u, s);
    if (gen == u->conn_gen) s->poll_timer = net_reactor_timer(r, POLL_EXIT_MS, poll_exit, u);
}

static void linger_expired(net_reactor *r, void *ud) {
    mcp_upstream *u = ud;
    struct mcp_stdio *s = u->stdio;
    s->linger_timer = 0;
    mcp_upstream_log(u, "closed its stdout but kept running; killing it");
    if (s->pid > 0) kill(-s->pid, SIGKILL);
}

static void on_stdout(net_reactor *r, int fd, unsigned events, void *ud) {
    mcp_upstream *u = ud;
    struct mcp_stdio *s = u->stdio;
    int rc = drain_stdout(u, s, 16);
    if (rc != 1) return;
    close_fd(u, &s->out_fd);
    /* No more messages can come; the exit (reported by the pidfd) normally
     * follows at once. */
    if (!s->linger_timer) s->linger_timer = net_reactor_timer(r, LINGER_MS, linger_expired, u);
}

/* Writes what is queued without ever raising SIGPIPE in corral. */
static void flush_out(mcp_upstream *u, struct mcp_stdio *s) {
    sigset_t old;
    mcp_sigpipe_hold(&old);
    size_t off = 0;
    int broken = 0;
    while (off < s->olen) {
        ssize_t n = write(s->in_fd, s->obuf + off, s->olen - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n <= 0) {
            broken = 1;
            break;
        }
        off += (size_t)n;
    }
    /* The child stopped reading: its exit is reported by the pidfd. */
    if (broken) off = s->olen;
    mcp_sigpipe_release(&old, broken);
    memmove(s->obuf, s->obuf + off, s->olen - off);
    s->olen -= off;
    if (broken) close_fd(u, &s->in_fd);
}

static void on_stdin_writable(net_reactor *r, int fd, unsigned events, void *ud) {
    mcp_upstream *u = ud;
    struct mcp_stdio *s = u->stdio;
    flush_out(u, s);
    if (s->in_fd >= 0 && s->olen == 0) net_reactor_watch(r, s->in_fd, 0, on_stdin_writable, u);
}

static int stdio_send(mcp_upstream *u, const char *data, size_t len, int64_t id, char *err, size_t errlen) {
    struct mcp_stdio *s = u->stdio;
    if (!s || s->in_fd < 0) {
        snprintf(err, errlen, "its stdin is closed");
        return -1;
    }
    if (s->olen + len + 1 > MAX_QUEUED) {
        snprintf(err, errlen, "%zu bytes already queued for its stdin, limit %u (it is not reading)", s->olen,
                 MAX_QUEUED);
        return -1;
    }
    if (s->olen + len + 1 > s->ocap) {
        size_t cap = s->ocap ? s->ocap : 4096;
        while (cap < s->olen + len + 1) cap *= 2;
        char *b = realloc(s->obuf, cap);
        if (!b) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        s->obuf = b;
        s->ocap = cap;
    }
    int was_empty = s->olen == 0;
    memcpy(s->obuf + s->olen, data, len);
    s->obuf[s->olen + len] = '\n';
    s->olen += len + 1;
    if (was_empty) {
        flush_out(u, s);
        if (s->in_fd >= 0 && s->olen) net_reactor_watch(u->r, s->in_fd, NET_WRITE, on_stdin_writable, u);
    }
    return 0;
}

static int stdio_open(mcp_upstream *u, char *err, size_t errlen) {
    int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
    struct mcp_stdio *s = calloc(1, sizeof *s);
    char **env = child_env(&u->spec);
    int rc = -1, spawn_err = 0;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int have_fa = 0, have_attr = 0;
    if (!s || !env) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    s->pid = -1;
    s->pidfd = s->in_fd = s->out_fd = s->err_fd = -1;
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "cannot create pipes: %s", strerror(errno));
        goto out;
    }
    have_fa = posix_spawn_file_actions_init(&fa) == 0;
    have_attr = posix_spawnattr_init(&attr) == 0;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    if (!have_fa || !have_attr || posix_spawn_file_actions_adddup2(&fa, in[0], 0) ||
        posix_spawn_file_actions_adddup2(&fa, out[1], 1) || posix_spawn_file_actions_adddup2(&fa, er[1], 2) ||
        posix_spawn_file_actions_addclosefrom_np(&fa, 3) ||
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) ||
        posix_spawnattr_setpgroup(&attr, 0) || posix_spawnattr_setsigmask(&attr, &none) ||
        posix_spawnattr_setsigdefault(&attr, &all)) {
        snprintf(err, errlen, "cannot prepare to spawn: out of memory");
        goto out;
    }
    spawn_err = posix_spawnp(&s->pid, u->spec.argv[0], &fa, &attr, u->spec.argv, env);
    if (spawn_err) {
        s->pid = -1;
        snprintf(err, errlen, "cannot run \"%.200s\": %s", u->spec.argv[0], strerror(spawn_err));
        goto out;
    }
    s->in_fd = in[1];
    s->out_fd = out[0];
    s->err_fd = er[0];
    in[1] = out[0] = er[0] = -1;
    set_nonblock(s->in_fd);
    set_nonblock(s->out_fd);
    set_nonblock(s->err_fd);
    u->stdio = s;
    s->pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
    if (s->pidfd < 0 || net_reactor_watch(u->r, s->pidfd, NET_READ, on_pidfd, u) < 0) {
        if (s->pidfd >= 0) close(s->pidfd);
        s->pidfd = -1;
        s->poll_timer = net_reactor_timer(u->r, POLL_EXIT_MS, poll_exit, u);
    }
    if (net_reactor_watch(u->r, s->out_fd, NET_READ, on_stdout, u) < 0 ||
        net_reactor_watch(u->r, s->err_fd, NET_READ, on_stderr, u) < 0) {
        snprintf(err, errlen, "cannot watch its pipes: %s", strerror(errno));
        teardown(u, 1, 0);
        s = NULL;
        goto out;
    }
    s = NULL;
    rc = 0;
out:
    if (have_fa) posix_spawn_file_actions_destroy(&fa);
    if (have_attr) posix_spawnattr_destroy(&attr);
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0) close(in[i]);
        if (out[i] >= 0) close(out[i]);
        if (er[i] >= 0) close(er[i]);
    }
    free(env);
    free(s);
    return rc;
}

static void stdio_close(mcp_upstream *u, int final) { teardown(u, 1, final); }

const struct mcp_transport_ops mcp_upstream_stdio_ops = {stdio_open, stdio_send, stdio_close, NULL};
