/* The zygote process and the supervisor's handle on it (zygote.h).
 *
 * Protocol. One SOCK_SEQPACKET pair; every message is one fixed-size
 * struct zmsg. The supervisor sends SPAWN (with the worker's socket end
 * attached as SCM_RIGHTS) and KILL; the zygote sends EXITED when it has
 * reaped a child. Requests get no answer: a worker proves it started by
 * its own first message (the hello), and a failed fork shows as its
 * socket closing, so the supervisor never waits on the zygote to start a
 * worker and the zygote never blocks on the supervisor.
 *
 * Children. The zygote keeps a table of live children (pid, token). KILL
 * names a token, never a pid, and a child leaves the table only when it is
 * reaped, so a kill can never reach a reused pid. SIGCHLD interrupts the
 * zygote's ppoll (blocked otherwise), and every pass reaps what it can.
 *
 * A new worker, still under the zygote's filter: dies with the zygote
 * (PR_SET_PDEATHSIG, checked against a race), resets the zygote's signal
 * handling, closes the zygote's socket (its only other descriptor), sets the worker
 * rlimits, loads the worker filter compiled once in the supervisor
 * (inherited through both forks) with its own pid patched in, sends the
 * hello and enters jail_worker_main with the zygote's spare runtime.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/workercode.h"
#include "jail/supervisor.h"
#include "jail/zygote.h"

enum { ZM_SPAWN = 1, ZM_KILL = 2, ZM_EXITED = 3 };

struct zmsg {
    uint32_t kind;
    int32_t status;             /* EXITED: the wait status */
    uint64_t token;
    uint64_t prewarm;           /* SPAWN */
    uint64_t spin_us;           /* SPAWN */
    uint64_t test_hook;         /* SPAWN: a function of this same image, or 0 */
};

/* What the zygote is started with. */
struct zygote_args {
    int fd;
    /* RLIMIT_AS for itself and each worker: the address space it inherits
     * from the host (thread stacks, other threads' malloc arenas) plus the
     * worker budget, so a host that has reserved much does not leave its
     * workers without room. */
    uint64_t address_space_bytes;
};

struct jail_zygote {
    pid_t pid;                  /* what we wait for and kill (the keeper) */
    int fd;
    int dead;
    struct jail_report report;
};

/* The worker filter, compiled once per process before the first zygote is
 * forked, so every zygote inherits it. */
static struct jail_bpf worker_bpf;
static struct jail_layer_result worker_bpf_result;
static pthread_once_t worker_bpf_once = PTHREAD_ONCE_INIT;

static void compile_worker_bpf(void) {
    jail_seccomp_compile(JAIL_POLICY_WORKER, &worker_bpf, &worker_bpf_result);
}

/* ---- inside the zygote ---------------------------------------------------- */

struct zygote_child {
    pid_t pid;
    uint64_t token;
};

struct zygote_state {
    int fd;
    uint64_t address_space_bytes;
    pid_t self;
    struct sandbox *spare;
    struct zygote_child *kids;
    size_t count, cap;
};

static void zygote_on_sigchld(int sig) { (void)sig; }

static void zygote_send(struct zygote_state *zs, const struct zmsg *m) {
    /* The supervisor reads these promptly; a full socket means it is gone
     * or wedged, and the report is dropped rather than blocking the zygote. */
    send(zs->fd, m, sizeof *m, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void zygote_reap(struct zygote_state *zs) {
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0) return;
        for (size_t i = 0; i < zs->count; i++) {
            if (zs->kids[i].pid != pid) continue;
            struct zmsg m = {.kind = ZM_EXITED, .status = st, .token = zs->kids[i].token};
            zs->kids[i] = zs->kids[--zs->count];
            zygote_send(zs, &m);
            break;
        }
    }
}

static void worker_child(struct zygote_state *zs, int wfd, const struct zmsg *req) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != zs->self) jail_exit(JAIL_EXIT_FAILED);
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGCHLD, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* The zygote holds no descriptor but its socket (its jail closed the
     * rest, and it closes each worker's end once forked), so this leaves
     * the worker with exactly one. */
    close(zs->fd);
    struct jail_layer_result res;
    struct jail_config cfg;
    jail_config_default(&cfg);
    cfg.address_space_bytes = zs->address_space_bytes;
    if (jail_rlimits_apply(&cfg, &res) != 0) jail_exit(JAIL_EXIT_FAILED);
    if (jail_seccomp_load_compiled(&worker_bpf, &res) != 0) jail_exit(JAIL_EXIT_FAILED);
    uint64_t hello = JAIL_WORKER_HELLO;
    if (send(wfd, &hello, sizeof hello, MSG_NOSIGNAL) != (ssize_t)sizeof hello)
        jail_exit(JAIL_EXIT_FAILED);
    struct jail_worker_args args = {
        .fd = wfd,
        .prewarm = req->prewarm != 0,
        .spin_us = (unsigned)req->spin_us, /* the loader bounded it (CORRAL_BUSY_POLL_MAX_US) */
        .test_hook = (void (*)(uint64_t))(uintptr_t)req->test_hook,
        .spare = zs->spare,
    };
    jail_exit(jail_worker_main(&args));
}

static void zygote_spawn(struct zygote_state *zs, int wfd, const struct zmsg *req) {
    if (zs->count == zs->cap) {
        size_t cap = zs->cap ? zs->cap * 2 : 32;
        struct zygote_child *n = realloc(zs->kids, cap * sizeof *n);
        if (!n) {
            close(wfd); /* the supervisor sees the socket close: no worker */
            return;
        }
        zs->kids = n;
        zs->cap = cap;
    }
    pid_t pid = fork();
    if (pid == 0) worker_child(zs, wfd, req);
    close(wfd);
    if (pid > 0) zs->kids[zs->count++] = (struct zygote_child){pid, req->token};
}

static void zygote_kill(struct zygote_state *zs, uint64_t token) {
    for (size_t i = 0; i < zs->count; i++)
        if (zs->kids[i].token == token) kill(zs->kids[i].pid, SIGKILL);
}

/* One message from the supervisor, with at most one descriptor. */
static int zygote_recv(struct zygote_state *zs, struct zmsg *m, int *passed) {
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {m, sizeof *m};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                        .msg_controllen = sizeof ctl.buf};
    *passed = -1;
    ssize_t n = recvmsg(zs->fd, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0) return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (n == 0) return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t fds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < fds; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (*passed < 0) *passed = fd;
            else close(fd);
        }
    }
    if (n != (ssize_t)sizeof *m || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        if (*passed >= 0) close(*passed);
        *passed = -1;
        return 0;
    }
    return 1;
}

/* The zygote is a fork of the host, so it holds a copy of whatever the host
 * had in memory when its loader was created; every worker inherits that.
 * The environment and the command line are where hosts most often keep
 * secrets (API keys, tokens), and are found without knowing the host: the
 * kernel lays out the argument strings and then the environment strings
 * one after another at the top of the stack. Both are zeroed here, before
 * any worker exists. */
static void scrub_arguments_and_environment(void) {
    extern char **environ;
    char *args = program_invocation_name;
    char *env_start = environ && environ[0] ? environ[0] : NULL;
    if (args && env_start && env_start > args && (size_t)(env_start - args) <= (1u << 21))
        memset(args, 0, (size_t)(env_start - args));
    for (char **e = environ; e && *e; e++) memset(*e, 0, strlen(*e));
    environ = NULL;
}

static int zygote_main(void *arg) {
    const struct zygote_args *za = arg;
    struct zygote_state zs = {.fd = za->fd, .self = getpid(),
                              .address_space_bytes = za->address_space_bytes};
    scrub_arguments_and_environment();
    /* The host's compiled modules (its inline sandboxes' code) stay with
     * the host. */
    engine_modcache_clear();
    /* Every fork copies the page tables of what the zygote has touched,
     * and the zygote began as a copy of the host: give back the free
     * memory the host's allocator was keeping, so workers start smaller. */
    jail_give_back_memory(0);
    sigset_t chld, wait_mask;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &wait_mask);
    sigdelset(&wait_mask, SIGCHLD);
    struct sigaction sa = {.sa_handler = zygote_on_sigchld, .sa_flags = SA_NOCLDSTOP};
    sigaction(SIGCHLD, &sa, NULL);
    /* What makes a worker cheap: QuickJS and the built-in JavaScript,
     * ready in memory every fork inherits. Without it (out of memory)
     * workers build their own. */
    zs.spare = jail_worker_prepare_spare();
    for (;;) {
        struct pollfd p = {.fd = zs.fd, .events = POLLIN};
        int r = ppoll(&p, 1, NULL, &wait_mask);
        zygote_reap(&zs);
        if (r <= 0) continue;
        if (p.revents & POLLIN) {
            struct zmsg m;
            int wfd;
            int got = zygote_recv(&zs, &m, &wfd);
            if (got < 0) return 0;
            if (got == 0) continue;
            if (m.kind == ZM_SPAWN && wfd >= 0) zygote_spawn(&zs, wfd, &m);
            else if (wfd >= 0) close(wfd);
            if (m.kind == ZM_KILL) zygote_kill(&zs, m.token);
        } else if (p.revents & (POLLHUP | POLLERR)) {
            return 0;
        }
    }
}

/* ---- the supervisor's side ------------------------------------------------ */

static void zygote_before_seccomp(void *arg, const struct jail_report *so_far) {
    (void)arg;
    (void)so_far;
    /* Once for every worker it forks. */
    jail_settle_libc();
}

struct jail_zygote *jail_zygote_start(corral_error *err) {
    pthread_once(&worker_bpf_once, compile_worker_bpf);
    if (!worker_bpf.insns) {
        corral_error_set(err, CORRAL_EINVAL, "Error", "The worker seccomp filter could not be compiled: %s",
                         worker_bpf_result.detail);
        return NULL;
    }
    struct jail_zygote *z = calloc(1, sizeof *z);
    int sv[2];
    if (!z || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        corral_error_set(err, CORRAL_EBUSY, "Error", "Could not start the zygote: %s",
                         z ? strerror(errno) : "out of memory");
        free(z);
        return NULL;
    }
    struct jail_config jc;
    jail_config_default(&jc);
    jc.policy = JAIL_POLICY_ZYGOTE;
    jc.keep_fds[0] = sv[1];
    jc.keep_fd_count = 1;
    jc.before_seccomp = zygote_before_seccomp;
    jail_config_add_inherited_address_space(&jc);
    struct zygote_args za = {.fd = sv[1], .address_space_bytes = jc.address_space_bytes};
    pid_t pid = jail_spawn(zygote_main, &za, &jc, &z->report);
    int spawn_errno = errno;
    close(sv[1]);
    if (pid < 0 || !z->report.ok) {
        jail_spawn_failed(pid, spawn_errno, &z->report, "the zygote", "The zygote", err);
        close(sv[0]);
        free(z);
        return NULL;
    }
    z->pid = pid;
    z->fd = sv[0];
    return z;
}

int jail_zygote_free(struct jail_zygote *z, int died) {
    if (!z) return -1;
    close(z->fd);
    /* The zygote exits when its socket closes; the kill covers one that
     * is stuck, and the keeper passes it on. One that died is given a
     * moment for its keeper to follow, so the status is its own and not
     * our kill. */
    int st = jail_reap(z->pid, died);
    free(z);
    return st;
}

int jail_zygote_fd(const struct jail_zygote *z) { return z->fd; }
const struct jail_report *jail_zygote_report(const struct jail_zygote *z) { return &z->report; }
pid_t jail_zygote_pid(const struct jail_zygote *z) { return z->report.worker_pid; }

static int zygote_send_request(struct jail_zygote *z, const struct zmsg *m, int fd) {
    if (z->dead) return -1;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {(void *)m, sizeof *m};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&ctl, 0, sizeof ctl);
        mh.msg_control = ctl.buf;
        mh.msg_controllen = sizeof ctl.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    for (;;) {
        ssize_t n = sendmsg(z->fd, &mh, MSG_NOSIGNAL);
        if (n == (ssize_t)sizeof *m) return 0;
        if (n < 0 && errno == EINTR) continue;
        z->dead = 1;
        return -1;
    }
}

int jail_zygote_spawn(struct jail_zygote *z, const struct jail_zygote_spawn *req) {
    struct zmsg m = {.kind = ZM_SPAWN, .token = req->token, .prewarm = (uint64_t)req->prewarm,
                     .spin_us = req->spin_us, .test_hook = (uint64_t)(uintptr_t)req->test_hook};
    return zygote_send_request(z, &m, req->fd);
}

int jail_zygote_kill(struct jail_zygote *z, uint64_t token) {
    struct zmsg m = {.kind = ZM_KILL, .token = token};
    return zygote_send_request(z, &m, -1);
}

int jail_zygote_read(struct jail_zygote *z, int timeout_ms,
                     void (*exited)(void *ud, uint64_t token, int status), void *ud) {
    int count = 0;
    while (!z->dead) {
        struct pollfd p = {.fd = z->fd, .events = POLLIN};
        int r = poll(&p, 1, count ? 0 : timeout_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        struct zmsg m;
        ssize_t n = recv(z->fd, &m, sizeof m, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) {
            z->dead = 1;
            break;
        }
        /* The zygote sends nothing else; a short or unknown message is
         * ignored rather than trusted. */
        if (n == (ssize_t)sizeof m && m.kind == ZM_EXITED) {
            count++;
            if (exited) exited(ud, m.token, m.status);
        }
    }
    return z->dead ? -1 : count;
}

pid_t jail_worker_hello(int fd, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r;
    while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {}
    if (r == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    uint64_t hello = 0;
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {&hello, sizeof hello};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                        .msg_controllen = sizeof ctl.buf};
    ssize_t n;
    while ((n = recvmsg(fd, &mh, MSG_DONTWAIT)) < 0 && errno == EINTR) {}
    int off = 0;
    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &off, sizeof off);
    if (n <= 0) {
        errno = EPIPE;
        return -1;
    }
    pid_t pid = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
            c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof cred);
            pid = cred.pid;
        }
    }
    if (n != (ssize_t)sizeof hello || hello != JAIL_WORKER_HELLO || pid <= 0) {
        errno = EPROTO;
        return -1;
    }
    return pid;
}
