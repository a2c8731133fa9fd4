/* Putting a process in the jail: the fixed order of the layers
 * (jail_apply), the process tree that makes a worker PID 1 of its own
 * namespace (jail_spawn), and the small layers that need no file of their
 * own — closing descriptors, no_new_privs and dropping capabilities.
 *
 * Every step records its outcome in a struct jail_report instead of
 * failing, because the namespaces a machine allows vary (containers, CI,
 * hardened kernels) and an operator must be told what protects them rather
 * than get no sandbox at all. Two layers are not optional: no_new_privs
 * (without it an unprivileged process cannot load a seccomp filter, and a
 * setuid program could undo the jail) and the seccomp filter itself. When
 * either fails the worker exits before it runs anything.
 *
 * jail_spawn reports back over a SOCK_SEQPACKET pair made before the fork:
 * one fixed-size message per event, so the caller reads whole messages and
 * learns both the worker's pid (from the keeper, which sees it in the
 * caller's PID namespace) and the report (from the worker, sent after the
 * filter is loaded — `sendto` is on the allow-list).
 */
#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <malloc.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/heap.h"
#include "jail/jail.h"

void jail_config_default(struct jail_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->policy = JAIL_POLICY_WORKER;
    cfg->namespaces = JAIL_NS_ALL;
    cfg->empty_root = 1;
    cfg->address_space_bytes = JAIL_DEFAULT_AS_BYTES;
    cfg->cpu_seconds = JAIL_DEFAULT_CPU_SECONDS;
}

/* ---- descriptors ---- */

static int is_kept(int fd, const int *keep, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (keep[i] == fd) return 1;
    return 0;
}

/* The fallback for kernels before 5.9: list /proc/self/fd first (reading
 * it while closing would skip entries), or walk up to RLIMIT_NOFILE when
 * /proc is not mounted. */
static void close_fds_slow(const int *keep, size_t n) {
    int fds[1024];
    size_t count = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        int own = dirfd(d);
        struct dirent *e;
        while ((e = readdir(d)) && count < sizeof fds / sizeof fds[0]) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
            int fd = atoi(e->d_name);
            if (fd != own && !is_kept(fd, keep, n)) fds[count++] = fd;
        }
        closedir(d);
        for (size_t i = 0; i < count; i++) close(fds[i]);
        if (count < sizeof fds / sizeof fds[0]) return;
    }
    struct rlimit rl;
    long max = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < max)
        max = (long)rl.rlim_cur;
    for (int fd = 0; fd < max; fd++)
        if (!is_kept(fd, keep, n)) close(fd);
}

void jail_close_fds(const int *keep, size_t keep_count, struct jail_layer_result *out) {
    /* Sorted, so the gaps between kept descriptors are ranges to close. */
    int k[JAIL_MAX_KEEP_FDS + 1];
    size_t n = 0;
    for (size_t i = 0; i < keep_count && n < sizeof k / sizeof k[0]; i++) {
        if (keep[i] < 0 || is_kept(keep[i], k, n)) continue;
        size_t j = n++;
        while (j > 0 && k[j - 1] > keep[i]) {
            k[j] = k[j - 1];
            j--;
        }
        k[j] = keep[i];
    }
    unsigned lo = 0;
    int slow = 0;
    for (size_t i = 0; i <= n && !slow; i++) {
        unsigned hi = i < n ? (unsigned)k[i] : ~0u;
        if (hi > lo && syscall(SYS_close_range, lo, i < n ? hi - 1 : hi, 0) != 0) slow = 1;
        if (i < n) lo = (unsigned)k[i] + 1;
    }
    if (slow) close_fds_slow(k, n);
    char kept[64] = "";
    size_t off = 0;
    for (size_t i = 0; i < n && off < sizeof kept; i++)
        off += (size_t)snprintf(kept + off, sizeof kept - off, "%s%d", i ? "," : "", k[i]);
    jail_result_set(out, 1, 0, "every descriptor closed but {%s}%s", kept,
                    slow ? " (without close_range)" : "");
}

/* ---- privileges ---- */

int jail_no_new_privs(struct jail_layer_result *out) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        jail_result_set(out, 0, errno, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
        return -1;
    }
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
        jail_result_set(out, 0, EINVAL, "PR_GET_NO_NEW_PRIVS does not read back 1");
        return -1;
    }
    jail_result_set(out, 1, 0, "execve can never grant privileges (setuid bits, file capabilities)");
    return 0;
}

int jail_drop_caps(struct jail_layer_result *out) {
    /* The bounding set first: dropping from it needs CAP_SETPCAP, which the
     * capset below removes. A cap beyond the kernel's last reads EINVAL. */
    int bounding_err = 0;
    for (int cap = 0; cap < 64; cap++) {
        int has = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (has < 0) break;
        if (has == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) bounding_err = errno;
    }
    /* Ambient capabilities would survive an execve; EINVAL before 4.3. */
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
    memset(d, 0, sizeof d);
    if (syscall(SYS_capset, &h, d) != 0) {
        jail_result_set(out, 0, errno, "capset(empty): %s", strerror(errno));
        return -1;
    }
    if (syscall(SYS_capget, &h, d) != 0) {
        jail_result_set(out, 0, errno, "capget: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
        if (d[i].effective || d[i].permitted || d[i].inheritable) {
            jail_result_set(out, 0, EPERM, "capget still shows capabilities after capset");
            return -1;
        }
    }
    if (bounding_err)
        jail_result_set(out, 1, bounding_err, "effective, permitted, inheritable and ambient empty; bounding set kept: %s",
                        strerror(bounding_err));
    else
        jail_result_set(out, 1, 0, "effective, permitted, inheritable, ambient and bounding sets empty");
    return 0;
}

/* ---- the order ---- */

/* Everything after the namespaces. extra_keep is jail_spawn's report
 * channel (or -1). */
static void lockdown(const struct jail_config *cfg, struct jail_report *rep, int extra_keep) {
    struct jail_layer_result *L = rep->layer;
    int keep[JAIL_MAX_KEEP_FDS + 1];
    size_t n = 0;
    for (size_t i = 0; i < cfg->keep_fd_count && i < JAIL_MAX_KEEP_FDS; i++) keep[n++] = cfg->keep_fds[i];
    if (extra_keep >= 0) keep[n++] = extra_keep;
    jail_close_fds(keep, n, &L[JAIL_FDS]);

    if (!cfg->empty_root)
        jail_result_set(&L[JAIL_EMPTY_ROOT], 0, 0, "not requested");
    else if (!L[JAIL_MOUNT_NS].active)
        jail_result_set(&L[JAIL_EMPTY_ROOT], 0, L[JAIL_MOUNT_NS].err,
                        "unavailable: needs the mount namespace (a chroot would change the host's view)");
    else
        jail_empty_root(&L[JAIL_EMPTY_ROOT]);

    jail_rlimits_apply(cfg, &L[JAIL_RLIMITS]);
    int nnp = jail_no_new_privs(&L[JAIL_NO_NEW_PRIVS]);
    jail_drop_caps(&L[JAIL_CAPS]);
    if (cfg->before_seccomp) cfg->before_seccomp(cfg->before_seccomp_arg, rep);
    int sc = -1;
    if (nnp == 0)
        sc = jail_seccomp_apply(cfg->policy, &L[JAIL_SECCOMP]);
    else
        jail_result_set(&L[JAIL_SECCOMP], 0, EPERM, "not loaded: no_new_privs did not take effect");
    rep->ok = nnp == 0 && sc == 0;
}

int jail_apply(const struct jail_config *cfg, struct jail_report *out) {
    struct jail_config def;
    if (!cfg) {
        jail_config_default(&def);
        cfg = &def;
    }
    memset(out, 0, sizeof *out);
    out->worker_pid = getpid();
    jail_unshare(cfg, 0, out);
    lockdown(cfg, out, -1);
    return out->ok ? 0 : -1;
}

/* ---- jail_spawn ---- */

void jail_exit(int code) {
    for (;;) syscall(SYS_exit_group, code);
}

void jail_settle_libc(void) {
    tzset();
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

void jail_give_back_memory(size_t above) {
    heap_pool_drain();
    if (above) {
        struct mallinfo2 mi = mallinfo2();
        if (mi.fordblks + mi.fsmblks <= above) return;
    }
    malloc_trim(0);
}

/* Placed by the linker around the executable's writable data. */
extern char __data_start[], _end[];

/* The stack a worker uses below the frame that prefaults it. */
#define PREFAULT_STACK_BYTES (64u << 10)

void jail_prefault_inherited(void) {
    populate_writable(__data_start, (size_t)(_end - __data_start));
    char here;
    uintptr_t top = (uintptr_t)&here;
    if (top > PREFAULT_STACK_BYTES)
        populate_writable((void *)(top - PREFAULT_STACK_BYTES), PREFAULT_STACK_BYTES);
}

int jail_reap(pid_t pid, int wait_first) {
    int st = -1;
    if (pid <= 0) return -1;
    for (int i = 0; wait_first && i < 200; i++) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return st;
        if (r < 0 && errno != EINTR) return -1;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    for (;;) {
        pid_t r = waitpid(pid, &st, 0);
        if (r == pid) return st;
        if (r < 0 && errno != EINTR) return -1;
    }
}

static const char *signal_cause(int sig) {
    switch (sig) {
    case SIGSYS: return "a forbidden system call";
    case SIGKILL: return "killed";
    case SIGSEGV: return "a memory access fault";
    case SIGBUS: return "a bus error";
    case SIGABRT: return "aborted";
    case SIGFPE: return "an arithmetic fault";
    case SIGILL: return "an illegal instruction";
    case SIGXCPU: return "its CPU time limit";
    default: return "a signal";
    }
}

const char *jail_describe_status(int status, char *buf, size_t len) {
    if (status >= 0 && WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *abbrev = sigabbrev_np(sig);
        snprintf(buf, len, "signal %d, SIG%s: %s", sig, abbrev ? abbrev : "?",
                 signal_cause(sig));
    } else if (status >= 0 && WIFEXITED(status)) {
        snprintf(buf, len, "exit status %d%s", WEXITSTATUS(status),
                 WEXITSTATUS(status) == JAIL_EXIT_FAILED ? " (its jail failed)" : "");
    } else {
        snprintf(buf, len, "status unknown");
    }
    return buf;
}

enum { MSG_PID = 1, MSG_REPORT = 2 };

struct spawn_msg {
    int kind;
    pid_t pid;
    struct jail_report report;
};

/* The keeper: outside the new PID namespace, it only waits for the worker
 * and then ends the same way, so the caller's waitpid sees the worker's
 * fate. It holds nothing: every descriptor is closed. */
static void keeper(pid_t worker, int chan) {
    struct spawn_msg m;
    memset(&m, 0, sizeof m);
    m.kind = MSG_PID;
    m.pid = worker;
    send(chan, &m, sizeof m, MSG_NOSIGNAL);
    syscall(SYS_close_range, 0u, ~0u, 0);
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int st;
    while (waitpid(worker, &st, 0) < 0) {
        if (errno != EINTR) _exit(JAIL_EXIT_FAILED);
    }
    if (WIFEXITED(st)) _exit(WEXITSTATUS(st));
    int sig = WTERMSIG(st);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    _exit(128 + sig);
}

static void spawn_child(int (*fn)(void *), void *arg, const struct jail_config *cfg, int chan,
                        pid_t parent) {
    /* Dies with the caller; the check closes the race with its exit. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent) _exit(JAIL_EXIT_FAILED);
    /* A caller that ignores SIGCHLD would make the keeper's waitpid fail
     * (children reaped automatically). */
    signal(SIGCHLD, SIG_DFL);
    struct spawn_msg m;
    memset(&m, 0, sizeof m);
    struct jail_report *rep = &m.report;
    jail_unshare(cfg, 1, rep);
    if (rep->layer[JAIL_PID_NS].active) {
        pid_t w = fork();
        if (w > 0) keeper(w, chan);
        if (w < 0)
            jail_result_set(&rep->layer[JAIL_PID_NS], 0, errno,
                            "new namespace, but forking its first process failed: %s", strerror(errno));
        else
            /* The worker's parent is the keeper, outside its namespace
             * (getppid() reads 0), which dies only when killed. */
            prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    }
    lockdown(cfg, rep, chan);
    m.kind = MSG_REPORT;
    send(chan, &m, sizeof m, MSG_NOSIGNAL);
    close(chan);
    if (!rep->ok) jail_exit(JAIL_EXIT_FAILED);
    jail_exit(fn(arg));
}

pid_t jail_spawn(int (*fn)(void *arg), void *arg, const struct jail_config *cfg, struct jail_report *report) {
    struct jail_config def;
    if (!cfg) {
        jail_config_default(&def);
        cfg = &def;
    }
    memset(report, 0, sizeof *report);
    if (cfg->keep_fd_count > JAIL_MAX_KEEP_FDS) {
        errno = EINVAL;
        return -1;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(sv[0]);
        close(sv[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        spawn_child(fn, arg, cfg, sv[1], parent);
    }
    close(sv[1]);
    struct spawn_msg m;
    int have_report = 0;
    pid_t inner = 0;
    for (;;) {
        ssize_t got = recv(sv[0], &m, sizeof m, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got != (ssize_t)sizeof m) break; /* EOF: both ends closed (or died) */
        if (m.kind == MSG_PID) inner = m.pid;
        if (m.kind == MSG_REPORT) {
            *report = m.report;
            have_report = 1;
        }
        if (have_report && (inner || !report->layer[JAIL_PID_NS].active)) break;
    }
    close(sv[0]);
    if (!have_report) {
        /* Both ends closed without a report: the jailed process is gone,
         * and its keeper (or itself) exits right behind it. Waiting here is
         * short, tells the operator why, and (WNOWAIT) leaves the exit to
         * be reaped by the caller as before. */
        siginfo_t info;
        memset(&info, 0, sizeof info);
        int st = -1;
        while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {}
        if (info.si_pid == pid)
            st = info.si_code == CLD_EXITED ? (info.si_status & 0xff) << 8 : info.si_status & 0x7f;
        char how[120];
        report->ok = 0;
        jail_result_set(&report->layer[JAIL_SECCOMP], 0, ECHILD,
                        "the jailed process ended before it reported (%s)",
                        jail_describe_status(st, how, sizeof how));
    }
    report->worker_pid = inner ? inner : pid;
    return pid;
}
