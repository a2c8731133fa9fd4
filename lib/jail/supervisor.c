/* The supervisor: jailed worker processes, which sandbox goes to which, and
 * the remote sandbox — the engine's downcalls sent over a worker's socket
 * and its upcalls checked and handed to the loader's struct engine_host.
 *
 * Shape. The loader's loop is single-threaded and its turns are
 * synchronous, so the supervisor needs no threads of its own: a turn sends
 * one message and then reads the worker's upcalls (with a deadline) until
 * TURN_DONE, answering the ones that return a value. While no turn runs,
 * worker sockets sit in the loader's epoll set, so a worker that dies (or
 * speaks out of turn) wakes the loop and jail_supervisor_poll() reaps it.
 *
 * Trust. A worker is assumed compromised. Every message goes through the
 * fuzzed wire decoder with size bounds (channel.c); it must name the
 * sandbox whose turn is running; every field has its type and range
 * checked; payloads are validated against their cap lists before anything
 * routes them; a workercode it sends is validated again here (wc_validate)
 * exactly as a C host's would be. Ids that name the loader's own records
 * (import indexes, call ids, invocations, timers) are checked by the loader
 * against the sandbox they came from. Anything else — a malformed frame, a
 * sandbox id it was never given, a message between turns — ends the
 * worker with a log line; the sandboxes it held fail with
 * SandboxCrashedError. No worker behaviour makes the supervisor abort.
 *
 * Faults. The CPU budget of a turn is the worker's thread time, enforced by
 * the engine's interrupt handler inside the worker; the supervisor waits
 * for it on the wall clock with a grace period on top, and kills the
 * worker when code never yields to the interrupt handler (CpuLimitError
 * for that sandbox, SandboxCrashedError for the others it shared the
 * worker with). A dead worker is reaped through its keeper process, whose
 * exit status repeats the worker's, so the error names the signal.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/workercode.h"
#include "jail/jail.h"
#include "jail/proto.h"
#include "jail/supervisor.h"
#include "jail/zygote.h"

struct jail_proc;

struct jail_sandbox {
    struct jail_supervisor *s;
    struct jail_proc *p;            /* NULL once its worker is gone */
    uint64_t id;                    /* issued by us, unique within the worker */
    void *host_data;
    corral_limits limits;           /* for validating workercode it sends */
    char today[11];
    uint64_t budget_ns;
    uint64_t cur_inv;
    enum sandbox_kill killed;
    char why[256];
    uint64_t mem_used, turn_cpu_ns;
    /* NEW is not waited for: its answer is read with the first turn's
     * (new_pending until then), which saves a round trip per sandbox. When
     * the worker could not create it, new_err says why and every turn ends
     * at once. */
    int new_pending, new_failed;
    corral_error new_err;
    /* START is not sent on its own either: it waits here for the first
     * turn that follows it (the loader starts a sandbox to deliver a call
     * to it) and leaves with it, so a cold execution wakes the worker once.
     * start_pending: sent, its TURN_DONE not read yet; start_kill: how
     * that TURN_DONE said the start ended. */
    struct jail_out start_held;
    int start_is_held, start_pending;
    uint64_t start_budget_ns;
    enum sandbox_kill start_kill;
    int lost_pending, lost_reported;
    struct jail_sandbox *next, *prev;           /* in its worker */
    struct jail_sandbox *lost_next;
};

struct jail_proc {
    struct jail_supervisor *s;
    pid_t pid;                      /* what we wait for and kill (the keeper); 0: the zygote's child */
    uint64_t token;                 /* names it to the zygote */
    int exit_status, has_status;    /* reported by the zygote before we asked */
    pid_t worker_pid;               /* the jailed process itself, for /proc */
    clockid_t cpu_clock;            /* its CPU-time clock, if readable */
    int has_clock;
    int fd;
    char *tenant;                   /* TENANT mode's key */
    int dedicated;                  /* PROCESS mode: ends with its sandbox */
    int draining;                   /* takes no new sandbox; ends when empty */
    size_t live;
    uint64_t created, heap;
    uint64_t next_sb;
    size_t news_pending;            /* its sandboxes with NEW unanswered */
    struct jail_sandbox *in_turn;
    struct jail_sandbox *sandboxes;
    struct jail_in in;
    /* NEW waits here to leave with the turn that follows it (START, sent
     * by the loader straight after), so the worker wakes once for both. */
    struct jail_batch held;
    struct jail_proc *next, *prev;
};

/* A worker asked of the zygote but not yet claimed. */
struct jail_pending {
    int fd;                         /* our end; -1 when there is none */
    uint64_t token;
};

struct jail_supervisor {
    struct jail_supervisor_config cfg;
    void (*test_hook)(uint64_t what);
    /* Workers are forked by the zygote; without one (it could not start),
     * each is started by jail_spawn from this process. */
    struct jail_zygote *zygote;
    int zygote_failed;
    uint64_t next_token;
    struct jail_pending ahead;      /* PROCESS mode: the next worker, already forking */
    char zygote_death[120];         /* how the last zygote found dead ended */
    struct jail_proc *procs;
    size_t proc_count;
    struct jail_sandbox *lost;
    struct jail_supervisor_stats stats;
};

enum end_why { END_QUIET, END_DIED, END_VIOLATION, END_CPU };

/* How long a turn runs before the supervisor reads its worker's CPU clock
 * (run_turn). */
#define CPU_BASELINE_NS 1000000

/* CPU time the worker process has used (0 without its clock). */
static uint64_t proc_cpu_ns(const struct jail_proc *p) {
    struct timespec ts;
    if (!p->has_clock || clock_gettime(p->cpu_clock, &ts) < 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}


/* ---- worker processes ----------------------------------------------------- */

static void warm_before_seccomp(void *arg, const struct jail_report *so_far) {
    (void)arg;
    (void)so_far;
    jail_settle_libc();
}

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...) {
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "corral: %s\n", buf);
}

static void proc_add(struct jail_supervisor *s, struct jail_proc *p, int fd);

static void watch(struct jail_supervisor *s, int fd, int on) {
    if (s->cfg.epfd < 0) return;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(s->cfg.epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, on ? &ev : NULL);
}

/* The zygote: started with the supervisor (jail_supervisor_new says why),
 * and again after one died. A zygote that cannot start is reported once
 * and workers are then spawned directly, under the same jail. */
static struct jail_zygote *zygote(struct jail_supervisor *s) {
    if (s->zygote || s->zygote_failed) return s->zygote;
    corral_error err = {0};
    s->zygote = jail_zygote_start(&err);
    if (!s->zygote) {
        s->zygote_failed = 1;
        log_line("no zygote (%s); worker processes start without one", err.message);
        return NULL;
    }
    watch(s, jail_zygote_fd(s->zygote), 1);
    s->stats.zygotes_started++;
    return s->zygote;
}

/* Ends the zygote; `died`: it was found gone, which is logged with how it
 * ended and kept for the errors of the workers that went with it. */
static void zygote_end(struct jail_supervisor *s, int died) {
    if (!s->zygote) return;
    if (s->ahead.fd >= 0) {
        close(s->ahead.fd);
        s->ahead.fd = -1;
    }
    watch(s, jail_zygote_fd(s->zygote), 0);
    int st = jail_zygote_free(s->zygote, died);
    s->zygote = NULL;
    if (died) {
        jail_describe_status(st, s->zygote_death, sizeof s->zygote_death);
        log_line("the zygote process died (%s); its workers ended with it", s->zygote_death);
    }
}

/* How long a new worker has to say hello: a fork, rlimits and a filter
 * take well under a millisecond; this only bounds a zygote that is stuck. */
#define HELLO_TIMEOUT_MS 5000

/* Asks the zygote for a worker without waiting for it. */
static int zygote_request(struct jail_supervisor *s, struct jail_pending *out) {
    struct jail_zygote *z = zygote(s);
    if (!z) return -1;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return -1;
    int on = 1;
    setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    struct jail_zygote_spawn req = {.fd = sv[1], .token = ++s->next_token, .test_hook = s->test_hook,
                                    .spin_us = s->cfg.spin_us,
                                    .prewarm = s->cfg.mode != CORRAL_ISOLATION_PROCESS};
    int rc = jail_zygote_spawn(z, &req);
    close(sv[1]);
    if (rc < 0) {
        close(sv[0]);
        zygote_end(s, 1);
        return -1;
    }
    out->fd = sv[0];
    out->token = req.token;
    return 0;
}

/* A worker from the zygote, on the socket returned in *fd. In process
 * mode the next one is asked for when an execution ends (maybe_retire),
 * so a worker is still fresh and never reused, but rarely waited for.
 * Returns 0; -1 without a zygote; -2 when the child never said hello
 * (errno says why). */
static int spawn_from_zygote(struct jail_supervisor *s, struct jail_proc *p, int *fd) {
    struct jail_pending take = s->ahead;
    s->ahead.fd = -1;
    /* A zygote found dead here is replaced once before giving up on it. */
    if (take.fd < 0 && zygote_request(s, &take) < 0 && zygote_request(s, &take) < 0) return -1;
    pid_t pid = jail_worker_hello(take.fd, HELLO_TIMEOUT_MS);
    if (pid < 0) {
        int saved = errno;
        if (s->zygote) jail_zygote_kill(s->zygote, take.token);
        close(take.fd);
        errno = saved;
        return -2;
    }
    p->token = take.token;
    p->worker_pid = pid;
    *fd = take.fd;
    return 0;
}

/* Without a zygote: a worker started by jail_spawn from this process,
 * under the same jail. Returns 0 with *fd set, or -1 with *err. */
static int spawn_direct(struct jail_supervisor *s, struct jail_proc *p, int *fd, corral_error *err) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        corral_error_set(err, CORRAL_EBUSY, "Error", "Could not create a worker socket: %s",
                         strerror(errno));
        return -1;
    }
    struct jail_config jc;
    jail_config_default(&jc);
    jc.keep_fds[0] = sv[1];
    jc.keep_fd_count = 1;
    jc.before_seccomp = warm_before_seccomp;
    jail_config_add_inherited_address_space(&jc);
    /* A dedicated worker holds one sandbox: a spare runtime would be waste. */
    struct jail_worker_args args = {.fd = sv[1], .test_hook = s->test_hook, .spin_us = s->cfg.spin_us,
                                    .prewarm = s->cfg.mode != CORRAL_ISOLATION_PROCESS};
    struct jail_report rep;
    pid_t pid = jail_spawn(jail_worker_main, &args, &jc, &rep);
    int spawn_errno = errno;
    close(sv[1]);
    if (pid < 0 || !rep.ok) {
        jail_spawn_failed(pid, spawn_errno, &rep, "a worker process", "A worker process", err);
        close(sv[0]);
        return -1;
    }
    p->pid = pid;
    p->worker_pid = rep.worker_pid;
    *fd = sv[0];
    return 0;
}

void jail_spawn_failed(pid_t pid, int spawn_errno, const struct jail_report *rep, const char *who,
                       const char *Who, corral_error *err) {
    jail_reap(pid, 0);
    if (pid < 0)
        corral_error_set(err, CORRAL_EBUSY, "Error", "Could not start %s: %s", who,
                         strerror(spawn_errno));
    else
        corral_error_set(err, CORRAL_EINVAL, "Error",
                         "%s could not jail itself (seccomp: %s; no_new_privs: %s).", Who,
                         rep->layer[JAIL_SECCOMP].detail, rep->layer[JAIL_NO_NEW_PRIVS].detail);
}

static struct jail_proc *proc_spawn(struct jail_supervisor *s, const char *tenant,
                                    corral_error *err) {
    struct jail_proc *p = calloc(1, sizeof *p);
    if (!p || (tenant && !(p->tenant = strdup(tenant)))) {
        free(p);
        corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory starting a worker.");
        return NULL;
    }
    int fd = -1;
    int rc = spawn_from_zygote(s, p, &fd);
    if (rc == -2)
        corral_error_set(err, CORRAL_EBUSY, "Error",
                         "A worker process did not start: the zygote's child %s.",
                         errno == ETIMEDOUT ? "did not answer within 5 s" : "ended before it was ready");
    else if (rc == 0)
        s->stats.workers_from_zygote++;
    else
        rc = spawn_direct(s, p, &fd, err);
    if (rc != 0) {
        free(p->tenant);
        free(p);
        return NULL;
    }
    p->has_clock = clock_getcpuclockid(p->worker_pid, &p->cpu_clock) == 0;
    proc_add(s, p, fd);
    return p;
}

static void proc_add(struct jail_supervisor *s, struct jail_proc *p, int fd) {
    p->s = s;
    p->fd = fd;
    p->in.spin_us = s->cfg.spin_us;
    watch(s, fd, 1);
    p->next = s->procs;
    if (s->procs) s->procs->prev = p;
    s->procs = p;
    s->proc_count++;
    s->stats.workers_started++;
}

int jail_supervisor_adopt(struct jail_supervisor *s, int fd) {
    struct jail_proc *p = calloc(1, sizeof *p);
    if (!p) return -1;
    proc_add(s, p, fd);
    return 0;
}

/* Exit reports from the zygote: the one being waited for, or one kept on
 * its worker for when that worker's socket is seen closing. */
struct status_wait {
    struct jail_supervisor *s;
    uint64_t token;             /* 0: nobody waits */
    int status, found;
};

static void on_exited(void *ud, uint64_t token, int status) {
    struct status_wait *w = ud;
    if (w->token && token == w->token) {
        w->status = status;
        w->found = 1;
        return;
    }
    for (struct jail_proc *p = w->s->procs; p; p = p->next)
        if (p->token == token) {
            p->exit_status = status;
            p->has_status = 1;
        }
}

#define STATUS_UNKNOWN (-1)
#define STATUS_ZYGOTE_DIED (-2)

/* The wait status of a worker the zygote forked. One whose socket closed
 * (died) gets 200 ms for the zygote's report; every other is killed
 * through the zygote without waiting: its status does not matter. */
static int reap_zygote_child(struct jail_proc *p, int wait_first) {
    struct jail_supervisor *s = p->s;
    if (p->has_status) return p->exit_status;
    if (!s->zygote) return STATUS_ZYGOTE_DIED;
    struct status_wait w = {.s = s, .token = wait_first ? p->token : 0};
    int64_t deadline = jail_mono_ns() + 200 * 1000000ll;
    while (wait_first && !w.found) {
        int64_t left = (deadline - jail_mono_ns()) / 1000000;
        if (left <= 0) break;
        if (jail_zygote_read(s->zygote, (int)left, on_exited, &w) < 0) {
            zygote_end(s, 1);
            return STATUS_ZYGOTE_DIED;
        }
    }
    if (w.found) return w.status;
    jail_zygote_kill(s->zygote, p->token);
    return STATUS_UNKNOWN;
}

/* Sends a message to p, after whatever was held for it (one sendmmsg). */
static int proc_send(struct jail_proc *p, struct jail_out *o) {
    if (!p->held.count) return jail_out_send(o, p->fd);
    if (jail_out_post(o, &p->held, p->fd) < 0) return -1;
    return jail_batch_flush(&p->held, p->fd);
}

static void proc_end(struct jail_proc *p, enum end_why why, const char *detail) {
    struct jail_supervisor *s = p->s;
    jail_batch_discard(&p->held);
    watch(s, p->fd, 0);
    close(p->fd);
    /* jail_reap leaves a pid of 0 (a worker adopted from elsewhere) to its
     * starter. */
    int st = p->token ? reap_zygote_child(p, why == END_DIED) : jail_reap(p->pid, why == END_DIED);
    char msg[256];
    if (why == END_VIOLATION) {
        snprintf(msg, sizeof msg,
                 "The sandbox's worker process broke the supervisor's protocol (%s) and was "
                 "ended.",
                 detail);
        log_line("ended worker process %d: it broke the protocol (%s)", (int)p->worker_pid, detail);
        s->stats.workers_crashed++;
    } else if (why == END_CPU) {
        snprintf(msg, sizeof msg,
                 "The sandbox's worker process was ended because a sandbox in it ran past its "
                 "CPU time limit without yielding.");
        s->stats.cpu_kills++;
    } else if (st >= 0 && WIFSIGNALED(st)) {
        char how[120];
        snprintf(msg, sizeof msg, "The sandbox's worker process died (%s).",
                 jail_describe_status(st, how, sizeof how));
        if (why == END_DIED) s->stats.workers_crashed++;
    } else if (st >= 0 && WIFEXITED(st)) {
        snprintf(msg, sizeof msg, "The sandbox's worker process exited unexpectedly (status %d).",
                 WEXITSTATUS(st));
        if (why == END_DIED) s->stats.workers_crashed++;
    } else if (st == STATUS_ZYGOTE_DIED) {
        snprintf(msg, sizeof msg,
                 "The sandbox's worker process ended with the zygote that forked it, which died "
                 "(%s).",
                 s->zygote_death);
        if (why == END_DIED) s->stats.workers_crashed++;
    } else {
        snprintf(msg, sizeof msg, "The sandbox's worker process died (its status is unknown).");
        if (why == END_DIED) s->stats.workers_crashed++;
    }
    while (p->sandboxes) {
        struct jail_sandbox *r = p->sandboxes;
        p->sandboxes = r->next;
        r->next = r->prev = NULL;
        r->p = NULL;
        snprintf(r->why, sizeof r->why, "%s", msg);
        if (r == p->in_turn) {
            r->killed = why == END_CPU ? SANDBOX_KILL_CPU : SANDBOX_KILL_CRASHED;
        } else if (!r->killed || r->killed == SANDBOX_KILL_CRASHED) {
            r->killed = SANDBOX_KILL_CRASHED;
            r->lost_pending = 1;
            r->lost_next = s->lost;
            s->lost = r;
        }
    }
    if (p->prev) p->prev->next = p->next;
    else s->procs = p->next;
    if (p->next) p->next->prev = p->prev;
    s->proc_count--;
    jail_in_free(&p->in);
    free(p->tenant);
    free(p);
}

static size_t pool_size(const struct jail_supervisor *s) {
    if (s->cfg.pool_size) return s->cfg.pool_size;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

static int same_key(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static struct jail_proc *pick(struct jail_supervisor *s, const char *tenant, corral_error *err) {
    if (s->cfg.mode == CORRAL_ISOLATION_PROCESS) {
        struct jail_proc *p = proc_spawn(s, NULL, err);
        if (p) p->dedicated = 1;
        return p;
    }
    const char *key = s->cfg.mode == CORRAL_ISOLATION_TENANT ? (tenant ? tenant : "") : NULL;
    struct jail_proc *best = NULL;
    size_t count = 0;
    for (struct jail_proc *p = s->procs; p; p = p->next) {
        if (p->dedicated || p->draining || !same_key(p->tenant, key)) continue;
        count++;
        if (!best || p->live < best->live) best = p;
    }
    if (!best || (best->live > 0 && count < pool_size(s))) {
        corral_error spawn_err;
        struct jail_proc *n = proc_spawn(s, key, &spawn_err);
        if (n) return n;
        if (!best) *err = spawn_err;
    }
    return best;
}

/* Ends a worker that has nothing left to run once it is empty. */
static void maybe_retire(struct jail_proc *p) {
    if (p->live || p->in_turn || !(p->dedicated || p->draining)) return;
    if (p->draining) p->s->stats.workers_recycled++;
    struct jail_supervisor *s = p->s;
    int dedicated = p->dedicated;
    proc_end(p, END_QUIET, NULL);
    /* PROCESS mode asks for the next worker now, when an execution has
     * ended, so that its fork and jail are done while the host is between
     * executions rather than competing with this one for the CPU. */
    if (dedicated && s->ahead.fd < 0) zygote_request(s, &s->ahead);
}

/* ---- supervisor ----------------------------------------------------------- */

struct jail_supervisor *jail_supervisor_new(const struct jail_supervisor_config *cfg,
                                            corral_error *err) {
    if (cfg->mode != CORRAL_ISOLATION_POOL && cfg->mode != CORRAL_ISOLATION_TENANT &&
        cfg->mode != CORRAL_ISOLATION_PROCESS) {
        corral_error_set(err, CORRAL_EINVAL, "TypeError", "Not a jailed isolation mode: %d.",
                         (int)cfg->mode);
        return NULL;
    }
    struct jail_supervisor *s = calloc(1, sizeof *s);
    if (!s) {
        corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory.");
        return NULL;
    }
    s->cfg = *cfg;
    s->ahead.fd = -1;
    if (!s->cfg.max_sandboxes_per_worker) s->cfg.max_sandboxes_per_worker = 1000;
    if (!s->cfg.max_worker_memory) s->cfg.max_worker_memory = (uint64_t)512 << 20;
    if (!s->cfg.grace_ms) s->cfg.grace_ms = 100;
    /* Now, not at the first sandbox: the zygote (and every worker) holds a
     * copy of this process's memory as it is at this moment, so a host
     * that creates its loader before it reads secrets keeps them out. */
    zygote(s);
    return s;
}

void jail_supervisor_free(struct jail_supervisor *s) {
    if (!s) return;
    while (s->procs) proc_end(s->procs, END_QUIET, NULL);
    zygote_end(s, 0); /* and the worker asked for ahead, which dies with it */
    free(s);
}

int jail_supervisor_pending(const struct jail_supervisor *s) { return s->lost != NULL; }

void jail_supervisor_poll(struct jail_supervisor *s, void (*lost)(void *ud, void *host_data),
                          void *ud) {
    /* One poll for the zygote's socket (slot 0) and every idle worker's:
     * this runs at the end of every loader step. */
    size_t n = 1;
    /* It runs every step: no allocation for a pool of usual size. */
    struct pollfd fds_small[33];
    struct jail_proc *who_small[33];
    int small = s->proc_count + 1 <= 33;
    struct pollfd *fds = small ? fds_small : calloc(s->proc_count + 1, sizeof *fds);
    struct jail_proc **who = small ? who_small : calloc(s->proc_count + 1, sizeof *who);
    if (fds) fds[0] = (struct pollfd){.fd = s->zygote ? jail_zygote_fd(s->zygote) : -1, .events = POLLIN};
    for (struct jail_proc *p = s->procs; fds && who && p; p = p->next) {
        if (p->in_turn) continue;
        fds[n] = (struct pollfd){.fd = p->fd, .events = POLLIN};
        who[n++] = p;
    }
    int ready = fds && who ? poll(fds, n, 0) : 0;
    if (ready > 0 && fds[0].revents && s->zygote) {
        struct status_wait w = {.s = s};
        /* A dead zygote took its workers with it; their sockets say so
         * below, and the next worker starts a new zygote. */
        if (jail_zygote_read(s->zygote, 0, on_exited, &w) < 0) zygote_end(s, 1);
    }
    if (ready > 0) {
        for (size_t i = 1; i < n; i++) {
            if (!fds[i].revents) continue;
            struct jail_proc *p = who[i];
            long r = jail_in_recv(&p->in, p->fd, 0, JAIL_MSG_MAX_BYTES);
            if (r == -2) continue; /* part of a message: read on when the rest comes */
            struct jail_fields f;
            if (r == 0) {
                proc_end(p, END_DIED, NULL);
            } else if (r > 0 && jail_fields_parse(&f, p->in.buf, (size_t)r) == 0) {
                jail_fields_free(&f);
                proc_end(p, END_VIOLATION, "a message while no turn was running");
            } else {
                proc_end(p, END_VIOLATION, "a malformed frame");
            }
        }
    }
    if (!small) {
        free(fds);
        free(who);
    }
    while (s->lost) {
        struct jail_sandbox *r = s->lost;
        s->lost = r->lost_next;
        r->lost_pending = 0;
        r->lost_reported = 1;
        if (lost) lost(ud, r->host_data);
    }
}

void jail_supervisor_stats(const struct jail_supervisor *s, struct jail_supervisor_stats *out) {
    *out = s->stats;
    out->workers = s->proc_count;
}

size_t jail_supervisor_describe(const struct jail_supervisor *s, char *buf, size_t len) {
    static const char *names[] = {"pool", "tenant", "process"};
    const char *mode = s->cfg.mode == CORRAL_ISOLATION_TENANT    ? names[1]
                       : s->cfg.mode == CORRAL_ISOLATION_PROCESS ? names[2]
                                                                 : names[0];
    if (!s->zygote) {
        return (size_t)snprintf(buf, len,
                                "isolation %s: jailed worker processes started one by one (%s)", mode,
                                s->zygote_failed ? "the zygote could not start" : "no zygote yet");
    }
    const struct jail_report *rep = jail_zygote_report(s->zygote);
    char on[200] = "", off[200] = "";
    size_t a = 0, b = 0;
    for (int i = 0; i < JAIL_LAYER_COUNT; i++) {
        const char *name = jail_layer_name((enum jail_layer)i);
        if (rep->layer[i].active && a < sizeof on)
            a += (size_t)snprintf(on + a, sizeof on - a, "%s%s", a ? " " : "", name);
        else if (!rep->layer[i].active && b < sizeof off)
            b += (size_t)snprintf(off + b, sizeof off - b, "%s%s", b ? " " : "", name);
    }
    return (size_t)snprintf(buf, len,
                            "isolation %s: jailed worker processes forked by a zygote; jail layers "
                            "active: %s; refused: %s",
                            mode, on, b ? off : "none");
}

pid_t jail_supervisor_zygote_pid(const struct jail_supervisor *s) {
    return s->zygote ? jail_zygote_pid(s->zygote) : 0;
}

size_t jail_supervisor_worker_pids(const struct jail_supervisor *s, pid_t *out, size_t max) {
    size_t n = 0;
    for (struct jail_proc *p = s->procs; p; p = p->next, n++)
        if (n < max) out[n] = p->worker_pid;
    return n;
}

void jail_supervisor_set_test_hook(struct jail_supervisor *s, void (*fn)(uint64_t what)) {
    s->test_hook = fn;
}

void jail_supervisor_hook(struct jail_supervisor *s, uint64_t what) {
    for (struct jail_proc *p = s->procs; p; p = p->next) {
        struct jail_out o;
        jail_out_begin(&o, JD_HOOK);
        jail_out_u64(&o, what);
        proc_send(p, &o);
    }
}

/* ---- answering upcalls ---------------------------------------------------- */

/* The host's callback may have ended the worker (a nested failure): then
 * there is nobody to answer. */
static void reply(struct jail_sandbox *r, int64_t v, uint64_t aux, const corral_error *e) {
    if (!r->p) return;
    struct jail_out o;
    jail_out_begin(&o, JD_REPLY);
    jail_out_i64(&o, v);
    jail_out_u64(&o, aux);
    jail_out_error(&o, e);
    proc_send(r->p, &o);
}

/* A cap list the worker wrote: kind, flags, id per entry. NULL (and *bad)
 * on anything the wire format does not allow. */
static struct wire_cap *get_wire_caps(struct jail_fields *f, size_t *n) {
    *n = jail_get_count(f, 3);
    if (f->bad || *n > WIRE_MAX_CAPS) {
        f->bad = 1;
        return NULL;
    }
    struct wire_cap *caps = calloc(*n ? *n : 1, sizeof *caps);
    if (!caps) {
        f->bad = 1;
        return NULL;
    }
    for (size_t i = 0; i < *n; i++) {
        uint64_t kind = jail_get_u64(f), flags = jail_get_u64(f);
        caps[i].id = jail_get_u64(f);
        if ((kind != WIRE_CAP_EXPORT && kind != WIRE_CAP_IMPORT) ||
            (flags & ~(uint64_t)WIRE_CAP_F_ALL))
            f->bad = 1;
        caps[i].kind = (uint8_t)kind;
        caps[i].flags = (uint8_t)flags;
    }
    return caps;
}

static int payload_ok(const uint8_t *p, size_t len, size_t ncaps) {
    struct wire_limits lim = {.cap_count = ncaps};
    return p && wire_validate(p, len, &lim) == WIRE_OK;
}

/* A workercode from the worker, rebuilt and validated as a host's would be. */
static struct workercode *get_code(struct jail_sandbox *r, struct jail_fields *f,
                                   corral_error *err) {
    size_t len;
    const uint8_t *b = jail_get_bytes(f, &len);
    if (!b) return NULL;
    struct workercode *c = jail_code_decode(b, len, 0);
    if (!c) {
        f->bad = 1;
        return NULL;
    }
    if (wc_validate(c, &r->limits, r->today, err) < 0) {
        wc_free(c);
        return NULL;
    }
    return c;
}

/* Serves one upcall of r's turn. Returns 0, or -1 with *what set when the
 * worker broke the protocol. */
static int dispatch(struct jail_sandbox *r, uint64_t kind, struct jail_fields *f,
                    const char **what) {
    const struct engine_host *h = r->s->cfg.host;
    void *hd = r->host_data;
    r->cur_inv = jail_get_u64(f);
    corral_error err = {0};
    *what = "a malformed upcall";
    switch (kind) {
    case JU_SEND: {
        struct wire_msg m = {0};
        uint64_t mk = jail_get_u64(f);
        m.id = jail_get_u64(f);
        m.target = jail_get_u64(f);
        m.name = (const char *)jail_get_bytes(f, &m.name_len);
        m.payload = jail_get_bytes(f, &m.payload_len);
        m.caps = get_wire_caps(f, &m.cap_count);
        int carries = mk == WIRE_MSG_CALL || mk == WIRE_MSG_RETURN || mk == WIRE_MSG_THROW;
        if (f->bad || f->next != f->count || mk < 1 || mk > WIRE_MSG_KIND_MAX ||
            (m.name && (mk != WIRE_MSG_CALL || m.name_len > WIRE_MAX_NAME ||
                        memchr(m.name, 0, m.name_len))) ||
            (carries ? !payload_ok(m.payload, m.payload_len, m.cap_count)
                     : (m.payload || m.cap_count))) {
            free(m.caps);
            *what = "a malformed message";
            return -1;
        }
        m.kind = (uint8_t)mk;
        h->send(hd, NULL, &m);
        free(m.caps);
        return 0;
    }
    case JU_LOAD: {
        struct workercode *c = get_code(r, f, &err);
        if (f->bad || f->next != f->count) {
            wc_free(c);
            return -1;
        }
        int64_t v = c ? h->load(hd, NULL, c, &err) : -1;
        reply(r, v, 0, &err);
        return 0;
    }
    case JU_GET: {
        char *id = jail_get_str(f);
        if (f->bad || f->next != f->count) {
            free(id);
            return -1;
        }
        int need = 0;
        int64_t v = h->get(hd, NULL, id, &need, &err);
        free(id);
        reply(r, v, (uint64_t)need, &err);
        return 0;
    }
    case JU_PROVIDE: {
        uint64_t handle = jail_get_u64(f);
        corral_error bad = {0};
        struct workercode *c = jail_get_null(f) ? NULL : get_code(r, f, &bad);
        corral_error failure;
        jail_get_error(f, &failure);
        if (f->bad || f->next != f->count) {
            wc_free(c);
            return -1;
        }
        if (!c && bad.name[0]) failure = bad;
        if (!c && !failure.name[0]) snprintf(failure.name, sizeof failure.name, "Error");
        h->provide(hd, NULL, handle, c, c ? NULL : &failure);
        return 0;
    }
    case JU_ENTRYPOINT: {
        uint64_t handle = jail_get_u64(f);
        char *name = jail_get_str(f);
        size_t pl;
        const uint8_t *props = jail_get_bytes(f, &pl);
        uint64_t has_limits = jail_get_u64(f);
        corral_limits lim;
        jail_get_limits(f, &lim);
        size_t ncaps;
        struct wire_cap *caps = get_wire_caps(f, &ncaps);
        if (f->bad || f->next != f->count || !name || (props && !payload_ok(props, pl, ncaps)) ||
            (!props && ncaps)) {
            free(name);
            free(caps);
            return -1;
        }
        uint8_t flags = 0;
        int64_t v = h->entrypoint(hd, NULL, handle, name, props, pl, caps, ncaps,
                                  has_limits ? &lim : NULL, &flags, &err);
        free(name);
        free(caps);
        reply(r, v, flags, &err);
        return 0;
    }
    case JU_LOG: {
        uint64_t level = jail_get_u64(f);
        size_t len;
        const uint8_t *text = jail_get_bytes(f, &len);
        if (f->bad || f->next != f->count || !text || level > CORRAL_LOG_ERROR) return -1;
        h->log(hd, NULL, (corral_log_level)level, (const char *)text, len);
        return 0;
    }
    case JU_TIMER_SET: {
        uint64_t id = jail_get_u64(f);
        double delay = jail_get_f64(f);
        if (f->bad || f->next != f->count || !isfinite(delay) || delay < 0) return -1;
        h->timer_set(hd, NULL, id, delay);
        return 0;
    }
    case JU_TIMER_CLEAR: {
        uint64_t id = jail_get_u64(f);
        if (f->bad || f->next != f->count) return -1;
        h->timer_clear(hd, NULL, id);
        return 0;
    }
    case JU_FETCH: {
        uint64_t id = jail_get_u64(f);
        size_t len;
        const uint8_t *req = jail_get_bytes(f, &len);
        if (f->bad || f->next != f->count || !payload_ok(req, len, 0)) return -1;
        int v = h->fetch(hd, NULL, id, req, len, &err);
        reply(r, v, 0, &err);
        return 0;
    }
    case JU_WAIT_UNTIL: {
        uint64_t inv = jail_get_u64(f);
        int64_t delta = jail_get_i64(f);
        if (f->bad || f->next != f->count || (delta != 1 && delta != -1)) return -1;
        h->wait_until(hd, NULL, inv, (int)delta);
        return 0;
    }
    case JU_IMPORT_FLAGS: {
        uint64_t index = jail_get_u64(f);
        if (f->bad || f->next != f->count) return -1;
        reply(r, 0, h->import_flags(hd, NULL, index), NULL);
        return 0;
    }
    case JU_UNHANDLED: {
        char *text = jail_get_str(f);
        if (f->bad || f->next != f->count) {
            free(text);
            return -1;
        }
        h->unhandled_rejection(hd, NULL, text);
        free(text);
        return 0;
    }
    default: *what = "an unknown message kind"; return -1;
    }
}

/* ---- turns ---------------------------------------------------------------- */

/* Reads one message from p within timeout_ms: its fields and kind, after
 * checking that it names sandbox `id`. Returns 1; 2 on timeout (p is left
 * to the caller); or 0 having ended p. */
static int read_msg(struct jail_proc *p, uint64_t id, int timeout_ms, struct jail_fields *f,
                    uint64_t *kind) {
    long n = jail_in_recv(&p->in, p->fd, timeout_ms, JAIL_MSG_MAX_BYTES);
    if (n == -2) return 2;
    if (n == 0) {
        proc_end(p, END_DIED, NULL);
        return 0;
    }
    if (n < 0 || jail_fields_parse(f, p->in.buf, (size_t)n) < 0) {
        proc_end(p, END_VIOLATION, "a malformed frame");
        return 0;
    }
    *kind = jail_get_u64(f);
    uint64_t sb = jail_get_u64(f);
    if (f->bad || sb != id) {
        jail_fields_free(f);
        proc_end(p, END_VIOLATION, f->bad ? "a malformed frame" : "a sandbox id it was not given");
        return 0;
    }
    return 1;
}

static int take_new_done(struct jail_sandbox *r, struct jail_fields *f);
static void await_new(struct jail_sandbox *r);

/* The wall time a turn may take before its CPU clock is consulted: its
 * budget plus the grace period (a huge budget kept from overflowing). */
static int64_t turn_window(uint64_t budget_ns, int64_t grace_ns) {
    return (int64_t)(budget_ns > INT64_MAX / 2 ? INT64_MAX / 2 : budget_ns) + grace_ns;
}

/* Sends a turn's message and serves the worker until TURN_DONE. */
static void run_turn(struct jail_sandbox *r, struct jail_out *o) {
    struct jail_proc *p = r->p;
    /* The loader starts each sandbox right after NEW, so another sandbox's
     * NEW is rarely still unanswered; its answer comes first if it is. */
    if (p && p->news_pending > (size_t)r->new_pending) {
        for (struct jail_sandbox *q = p->sandboxes; q && r->p; q = q->next)
            if (q != r && q->new_pending) await_new(q);
        p = r->p;
    }
    if (!p || r->killed) {
        jail_out_free(o);
        if (!r->killed) r->killed = SANDBOX_KILL_CRASHED;
        return;
    }
    if (p->in_turn) {
        /* The loader never nests turns; a nested one would deadlock the
         * worker, so it is refused rather than sent. */
        jail_out_free(o);
        r->killed = SANDBOX_KILL_CRASHED;
        snprintf(r->why, sizeof r->why, "A turn was started inside another turn of its worker.");
        return;
    }
    p->in_turn = r;
    /* The budget of what runs first: START's when it goes along; the
     * turn's own once START has ended (the clocks start over then). */
    uint64_t budget_ns = r->budget_ns;
    if (r->start_is_held) {
        r->start_is_held = 0;
        r->start_pending = 1;
        budget_ns = r->start_budget_ns;
        if (jail_out_post(&r->start_held, &p->held, p->fd) < 0) {
            jail_out_free(o);
            proc_end(p, END_DIED, NULL);
            return;
        }
    }
    if (proc_send(p, o) < 0) {
        proc_end(p, END_DIED, NULL);
        return;
    }
    jail_in_sent(&p->in);
    /* Time the worker spends waiting for our answers (the host's callbacks)
     * is not its CPU: only time spent waiting on the socket counts. When
     * that runs out, the worker's own CPU clock decides: a worker that was
     * merely descheduled on a busy machine gets the rest of its budget. The
     * clock is also read every 256 upcalls, so a worker streaming cheap
     * upcalls (each answered at once) cannot stretch its turn either.
     * Reading another process's clock is a system call, and most turns
     * end within a millisecond, so the starting reading is taken only once
     * a turn has lasted CPU_BASELINE_NS, less the time gone by then as if
     * the worker had run throughout: its count can only come out higher,
     * by at most that millisecond against the grace period's 100. */
    int64_t turn_t0 = jail_mono_ns();
    uint64_t cpu0 = 0;
    int have_cpu0 = 0;
    int64_t grace_ns = (int64_t)r->s->cfg.grace_ms * 1000000;
    int64_t left = turn_window(budget_ns, grace_ns);
    for (unsigned count = 1;; count++) {
        struct jail_fields f;
        uint64_t kind;
        int64_t t0 = jail_mono_ns();
        int64_t wait_ns = have_cpu0 ? left : CPU_BASELINE_NS - (t0 - turn_t0);
        if (wait_ns > left) wait_ns = left;
        int64_t wait_ms = wait_ns > 0 ? (wait_ns + 999999) / 1000000 : 0;
        int got = read_msg(p, r->id, wait_ms < INT32_MAX ? (int)wait_ms : INT32_MAX, &f, &kind);
        if (!got) return;
        int64_t t1 = jail_mono_ns();
        left -= t1 - t0;
        if (!have_cpu0 && (got == 2 || t1 - turn_t0 >= CPU_BASELINE_NS)) {
            uint64_t now = proc_cpu_ns(p), gone = (uint64_t)(t1 - turn_t0);
            cpu0 = now > gone ? now - gone : 0;
            have_cpu0 = 1;
            if (got == 2 && left > 0) continue;
        }
        uint64_t used = 0;
        if (have_cpu0 && (got == 2 || count % 256 == 0)) {
            uint64_t now = proc_cpu_ns(p);
            used = now > cpu0 ? now - cpu0 : 0;
        }
        if (got == 1 && p->has_clock && used > budget_ns + (uint64_t)grace_ns) {
            jail_fields_free(&f);
            proc_end(p, END_CPU, NULL);
            return;
        }
        if (got == 2) {
            if (p->has_clock && used < budget_ns) {
                left = (int64_t)(budget_ns - used) + grace_ns;
                continue;
            }
            proc_end(p, END_CPU, NULL);
            return;
        }
        if (kind == JU_NEW_DONE && r->new_pending) {
            int bad = take_new_done(r, &f) < 0;
            jail_fields_free(&f);
            if (bad) {
                proc_end(p, END_VIOLATION, "a malformed answer to NEW");
                return;
            }
            continue;
        }
        if (kind == JU_TURN_DONE) {
            uint64_t killed = jail_get_u64(&f);
            uint64_t mem = jail_get_u64(&f);
            r->turn_cpu_ns = jail_get_u64(&f);
            /* The worker's heap is the sum its sandboxes report (each is
             * bounded by its own limit); RLIMIT_AS backs the estimate. */
            p->heap = p->heap - r->mem_used + mem;
            r->mem_used = mem;
            int bad = f.bad || f.next != f.count || killed > SANDBOX_KILL_DISCARDED;
            jail_fields_free(&f);
            if (bad) {
                proc_end(p, END_VIOLATION, "a malformed end of turn");
                return;
            }
            if (r->start_pending) {
                /* The end of START, sent with this turn: the worker ends
                 * the turn at once if the start was killed. */
                r->start_pending = 0;
                r->start_kill = (enum sandbox_kill)killed;
                if (killed) r->killed = (enum sandbox_kill)killed;
                budget_ns = r->budget_ns;
                left = turn_window(budget_ns, grace_ns);
                turn_t0 = jail_mono_ns();
                have_cpu0 = 0;
                continue;
            }
            /* Nothing may follow the end of a turn, not even in the same
             * packed datagram. */
            if (jail_in_buffered(&p->in)) {
                proc_end(p, END_VIOLATION, "a message after the end of its turn");
                return;
            }
            p->in_turn = NULL;
            if (killed) r->killed = (enum sandbox_kill)killed;
            if (p->heap > r->s->cfg.max_worker_memory) p->draining = 1;
            return;
        }
        const char *what;
        int rc = dispatch(r, kind, &f, &what);
        jail_fields_free(&f);
        if (!r->p) return; /* ended while the host ran its callback */
        if (rc < 0) {
            proc_end(p, END_VIOLATION, what);
            return;
        }
    }
}

static void unlink_lost(struct jail_sandbox *r) {
    if (!r->lost_pending) return;
    struct jail_sandbox **pp = &r->s->lost;
    while (*pp && *pp != r) pp = &(*pp)->lost_next;
    if (*pp) *pp = r->lost_next;
    r->lost_pending = 0;
}

static void sandbox_drop(struct jail_sandbox *r, int tell);

struct jail_sandbox *jail_sandbox_new(struct jail_supervisor *s, const char *tenant,
                                      const struct sandbox_config *cfg, corral_error *err) {
    struct jail_proc *p = pick(s, tenant, err);
    if (!p) return NULL;
    struct jail_sandbox *r = calloc(1, sizeof *r);
    if (!r) {
        corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory creating a sandbox.");
        maybe_retire(p);
        return NULL;
    }
    r->s = s;
    r->p = p;
    r->id = ++p->next_sb;
    r->host_data = cfg->host_data;
    r->limits = cfg->limits;
    snprintf(r->today, sizeof r->today, "%s", cfg->today ? cfg->today : "2999-12-31");
    struct jail_out o;
    jail_out_begin(&o, JD_NEW);
    jail_out_u64(&o, r->id);
    jail_out_u64(&o, cfg->memory_bytes);
    jail_out_u64(&o, cfg->stack_bytes);
    jail_out_u64(&o, cfg->arg_bytes);
    jail_out_u64(&o, cfg->result_bytes);
    jail_out_str(&o, cfg->worker_id);
    jail_out_str(&o, cfg->today);
    jail_out_limits(&o, &cfg->limits);
    r->next = p->sandboxes;
    if (p->sandboxes) p->sandboxes->prev = r;
    p->sandboxes = r;
    p->live++;
    p->created++;
    if (p->created >= s->cfg.max_sandboxes_per_worker) p->draining = 1;
    if (jail_out_post(&o, &p->held, p->fd) < 0) {
        proc_end(p, END_DIED, NULL);
        /* The worker died on the way: the sandbox never existed for anyone. */
        corral_error_set(err, CORRAL_EBUSY, "SandboxCrashedError", "%s", r->why);
        unlink_lost(r);
        free(r);
        return NULL;
    }
    r->new_pending = 1;
    p->news_pending++;
    return r;
}

/* Takes NEW's answer (its fields after the sandbox id): 0, or -1 when the
 * answer is malformed (the worker is then ended). */
static int take_new_done(struct jail_sandbox *r, struct jail_fields *f) {
    r->new_pending = 0;
    r->p->news_pending--;
    uint64_t ok = jail_get_u64(f);
    corral_error e;
    memset(&e, 0, sizeof e);
    jail_get_error(f, &e);
    if (f->bad || f->next != f->count) return -1;
    if (!ok) {
        r->new_failed = 1;
        r->new_err = e;
        if (!r->new_err.name[0])
            corral_error_set(&r->new_err, CORRAL_ENOMEM, "Error", "The sandbox could not be created.");
    }
    return 0;
}

/* Waits for NEW's answer outside a turn (a sandbox freed before it ever
 * started), so that it cannot arrive in another sandbox's turn. */
static void await_new(struct jail_sandbox *r) {
    struct jail_proc *p = r->p;
    if (!r->new_pending || !p) return;
    if (p->held.count && jail_batch_flush(&p->held, p->fd) < 0) {
        proc_end(p, END_DIED, NULL);
        return;
    }
    struct jail_fields f;
    uint64_t kind = 0;
    int got = read_msg(p, r->id, 10000, &f, &kind);
    if (got == 2) {
        proc_end(p, END_VIOLATION, "no answer to NEW in time");
    } else if (got) {
        int bad = kind != JU_NEW_DONE || take_new_done(r, &f) < 0;
        jail_fields_free(&f);
        if (bad) proc_end(p, END_VIOLATION, "a malformed answer to NEW");
        else if (jail_in_buffered(&p->in))
            proc_end(p, END_VIOLATION, "a message while no turn was running");
    }
}

const corral_error *jail_sandbox_start_error(const struct jail_sandbox *r) {
    return r->new_failed ? &r->new_err : NULL;
}

/* Takes r off its worker (which may then retire) and frees it; with
 * tell, the worker frees its side too. */
static void sandbox_drop(struct jail_sandbox *r, int tell) {
    if (r->start_is_held) {
        jail_out_free(&r->start_held);
        r->start_is_held = 0;
    }
    /* First: a worker ended while we wait lists r as lost, and r must
     * leave that list before it is freed. */
    if (tell) await_new(r);
    unlink_lost(r);
    struct jail_proc *p = r->p;
    if (p) {
        if (tell) {
            struct jail_out o;
            jail_out_begin(&o, JD_FREE);
            jail_out_u64(&o, r->id);
            proc_send(p, &o);
        }
        if (r->prev) r->prev->next = r->next;
        else p->sandboxes = r->next;
        if (r->next) r->next->prev = r->prev;
        p->live--;
        p->heap -= r->mem_used;
        if (p->in_turn == r) p->in_turn = NULL;
        maybe_retire(p);
    }
    free(r);
}

void jail_sandbox_free(struct jail_sandbox *r) {
    if (r) sandbox_drop(r, 1);
}

void jail_sandbox_set_cpu_budget(struct jail_sandbox *r, uint64_t budget_ns) {
    r->budget_ns = budget_ns;
}

/* Import indexes travel with their flags, which never change for an
 * index, so the worker can build stubs for them without asking back (an
 * IMPORT_FLAGS upcall is a round trip inside the turn). */
static void out_idx(struct jail_out *o, struct jail_sandbox *r, const uint64_t *idx, size_t n) {
    const struct engine_host *h = r->s->cfg.host;
    jail_out_u64(o, n);
    for (size_t i = 0; i < n; i++) {
        jail_out_u64(o, idx[i]);
        jail_out_u64(o, h->import_flags(r->host_data, NULL, idx[i]));
    }
}

static void turn_begin(struct jail_out *o, enum jail_down kind, struct jail_sandbox *r) {
    jail_out_begin(o, kind);
    jail_out_u64(o, r->id);
    jail_out_u64(o, r->budget_ns);
}

int jail_sandbox_start(struct jail_sandbox *r, const struct workercode *code, const uint8_t *env,
                       size_t env_len, const uint64_t *env_caps, size_t env_cap_count) {
    uint8_t *bytes;
    size_t len;
    if (r->start_is_held || r->start_pending || jail_code_encode(code, &bytes, &len) < 0) {
        r->killed = SANDBOX_KILL_MEMORY;
        return -1;
    }
    struct jail_out o;
    turn_begin(&o, JD_START, r);
    jail_out_bytes(&o, bytes, len);
    free(bytes);
    if (env) jail_out_bytes(&o, env, env_len);
    else jail_out_null(&o);
    out_idx(&o, r, env_caps, env_cap_count);
    r->start_held = o;
    r->start_is_held = 1;
    r->start_budget_ns = r->budget_ns;
    return 0;
}

enum sandbox_kill jail_sandbox_start_kill(const struct jail_sandbox *r) {
    return r->start_is_held || r->start_pending ? SANDBOX_KILL_NONE : r->start_kill;
}

static void out_envelope(struct jail_out *o, const struct wire_msg *m) {
    jail_out_u64(o, m->kind);
    jail_out_u64(o, m->id);
    jail_out_u64(o, m->target);
    if (m->name) jail_out_bytes(o, m->name, m->name_len);
    else jail_out_null(o);
    if (m->payload) jail_out_bytes(o, m->payload, m->payload_len);
    else jail_out_null(o);
}

void jail_sandbox_deliver(struct jail_sandbox *r, const struct wire_msg *m, const uint64_t *caps) {
    struct jail_out o;
    turn_begin(&o, JD_DELIVER, r);
    out_envelope(&o, m);
    out_idx(&o, r, caps, m->cap_count);
    run_turn(r, &o);
}

void jail_sandbox_deliver_entry(struct jail_sandbox *r, const char *name, const uint8_t *props,
                                size_t props_len, const uint64_t *props_caps, size_t props_cap_count,
                                const struct wire_msg *m, const uint64_t *caps) {
    struct jail_out o;
    turn_begin(&o, JD_DELIVER_ENTRY, r);
    jail_out_str(&o, name);
    if (props) jail_out_bytes(&o, props, props_len);
    else jail_out_null(&o);
    out_idx(&o, r, props_caps, props_cap_count);
    out_envelope(&o, m);
    out_idx(&o, r, caps, m->cap_count);
    run_turn(r, &o);
}

void jail_sandbox_release_export(struct jail_sandbox *r, uint64_t export_id) {
    if (!r->p) return;
    struct jail_out o;
    jail_out_begin(&o, JD_RELEASE_EXPORT);
    jail_out_u64(&o, r->id);
    jail_out_u64(&o, export_id);
    proc_send(r->p, &o);
}

void jail_sandbox_fire_timer(struct jail_sandbox *r, uint64_t timer_id) {
    struct jail_out o;
    turn_begin(&o, JD_FIRE_TIMER, r);
    jail_out_u64(&o, timer_id);
    run_turn(r, &o);
}

void jail_sandbox_fetch_done(struct jail_sandbox *r, uint64_t fetch_id, int ok,
                             const uint8_t *payload, size_t len, const uint64_t *caps,
                             size_t cap_count) {
    struct jail_out o;
    turn_begin(&o, JD_FETCH_DONE, r);
    jail_out_u64(&o, fetch_id);
    jail_out_u64(&o, ok != 0);
    if (payload) jail_out_bytes(&o, payload, len);
    else jail_out_null(&o);
    out_idx(&o, r, caps, cap_count);
    run_turn(r, &o);
}

void jail_sandbox_kill(struct jail_sandbox *r, enum sandbox_kill why) {
    if (!r->killed) r->killed = why;
}

enum sandbox_kill jail_sandbox_killed(const struct jail_sandbox *r) { return r->killed; }

const char *jail_sandbox_crash_message(const struct jail_sandbox *r) {
    return r->why[0] ? r->why : "The sandbox's worker process died.";
}

uint64_t jail_sandbox_invocation(const struct jail_sandbox *r) { return r->cur_inv; }

uint64_t jail_sandbox_turn_cpu_ns(const struct jail_sandbox *r) { return r->turn_cpu_ns; }

size_t jail_sandbox_memory_used(const struct jail_sandbox *r) { return (size_t)r->mem_used; }

pid_t jail_sandbox_pid(const struct jail_sandbox *r) { return r->p ? r->p->worker_pid : 0; }
