/* corral_jail_probe(): which jail layers this machine allows, each proved
 * by a self-test in a jailed child rather than assumed from a kernel
 * version or a sysctl.
 *
 * Two children are started. The first gets the full worker jail through
 * jail_spawn, exactly as a worker would. Its before_seccomp hook looks at
 * the world from inside (uid, pid, interfaces, hostname, a descriptor that
 * must be gone, files that must be gone, rlimits, a fork that should fail,
 * no_new_privs, capabilities) and writes what it saw to a socket kept open
 * through the jail. The parent then checks from outside what the child
 * cannot see of itself — its namespace links differ from the parent's and
 * /proc/PID/status shows "Seccomp: 2" and "NoNewPrivs: 1" — and finally
 * lets it make a forbidden system call, which must end it with SIGSYS.
 * The second child runs under the zygote policy: it must be able to fork,
 * and its child, once it adds the worker filter, must die on fork.
 *
 * Checks that need system calls the worker filter forbids run in the hook,
 * before the filter: every other layer is already in place there, so they
 * see what sandbox code would see.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "corral.h"
#include "jail/jail.h"

/* What the jailed child saw from inside, before its filter. */
struct inside {
    int uid, gid, pid;
    int only_lo;
    char ifaces[64];
    char hostname[32];
    int stray_errno;        /* fcntl on a descriptor the jail must have closed */
    int passwd_errno;       /* access("/etc/passwd") */
    int proc_errno;         /* access("/proc/self") */
    int rlimits_match;
    char rlimit_detail[80];
    int fork_errno;         /* 0: fork succeeded */
    int nnp;
    int caps_empty;
    int bounding_empty;
};

struct probe_ctx {
    int stray;              /* the parent's end: open before the jail, closed after */
    int res;                /* the child's end, kept open */
    struct jail_config cfg;
};

static void look_inside(void *arg, const struct jail_report *so_far) {
    (void)so_far;
    const struct probe_ctx *c = arg;
    struct inside in;
    memset(&in, 0, sizeof in);
    in.uid = (int)getuid();
    in.gid = (int)getgid();
    in.pid = (int)getpid();

    struct if_nameindex *ifs = if_nameindex();
    size_t count = 0, off = 0;
    for (struct if_nameindex *i = ifs; i && i->if_index; i++, count++) {
        int n = snprintf(in.ifaces + off, sizeof in.ifaces - off, "%s%s", count ? "," : "", i->if_name);
        if (n > 0 && off + (size_t)n < sizeof in.ifaces) off += (size_t)n;
    }
    in.only_lo = ifs && count == 1 && strcmp(ifs[0].if_name, "lo") == 0;
    if (ifs) if_freenameindex(ifs);
    if (!ifs) snprintf(in.ifaces, sizeof in.ifaces, "(if_nameindex: %s)", strerror(errno));

    gethostname(in.hostname, sizeof in.hostname - 1);
    in.stray_errno = fcntl(c->stray, F_GETFD) < 0 ? errno : 0;
    in.passwd_errno = access("/etc/passwd", F_OK) != 0 ? errno : 0;
    in.proc_errno = access("/proc/self", F_OK) != 0 ? errno : 0;

    struct jail_rlimit t[16];
    size_t n = jail_rlimits_table(&c->cfg, t, 16);
    in.rlimits_match = 1;
    for (size_t i = 0; i < n && in.rlimits_match; i++) {
        struct rlimit rl;
        if (t[i].value == JAIL_UNLIMITED) continue;
        /* A limit that was already lower stays lower. */
        if (getrlimit(t[i].resource, &rl) != 0 || rl.rlim_cur != rl.rlim_max || rl.rlim_max > t[i].value) {
            in.rlimits_match = 0;
            snprintf(in.rlimit_detail, sizeof in.rlimit_detail, "%s is %llu/%llu, want %llu", t[i].name,
                     (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
                     (unsigned long long)t[i].value);
        }
    }
    pid_t p = fork();
    if (p == 0) _exit(0);
    in.fork_errno = p < 0 ? errno : 0;
    if (p > 0) waitpid(p, NULL, 0);

    in.nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
    memset(d, 0xff, sizeof d);
    in.caps_empty = syscall(SYS_capget, &h, d) == 0 && !d[0].effective && !d[0].permitted &&
                    !d[0].inheritable && !d[1].effective && !d[1].permitted && !d[1].inheritable;
    in.bounding_empty = 1;
    for (int cap = 0; cap < 64; cap++) {
        int has = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (has < 0) break;
        if (has) in.bounding_empty = 0;
    }
    if (write(c->res, &in, sizeof in) != (ssize_t)sizeof in) jail_exit(JAIL_EXIT_FAILED);
}

/* Under the filter: wait for the parent's go, then make a call the worker
 * policy forbids. Returning at all means the filter let it through. */
static int forbidden_call(void *arg) {
    const struct probe_ctx *c = arg;
    char go;
    if (read(c->res, &go, 1) != 1) return 2;
    syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    return 3;
}

/* The zygote: fork must work; a child that adds the worker filter (and
 * says so on the kept socket, so a death inside the zygote filter cannot
 * pass for success) must die of SIGSYS on its own fork. */
static int zygote_round(void *arg) {
    const int *fds = arg; /* a socket pair, both ends kept: the child writes to [1] */
    pid_t c = fork();
    if (c < 0) return 10;
    if (c == 0) {
        struct jail_config w;
        struct jail_layer_result r;
        jail_config_default(&w);
        if (jail_rlimits_apply(&w, &r) != 0) jail_exit(11);
        if (jail_seccomp_apply(JAIL_POLICY_WORKER, &r) != 0) jail_exit(12);
        if (write(fds[1], "L", 1) != 1) jail_exit(13);
        syscall(SYS_fork);
        jail_exit(14);
    }
    int st;
    if (waitpid(c, &st, 0) != c) return 15;
    char loaded = 0;
    if (recv(fds[0], &loaded, 1, MSG_DONTWAIT) != 1 || loaded != 'L') return 16;
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) return 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 17;
}

/* 1 when /proc/PID/ns/NAME differs from ours: the child is in a new one. */
static int ns_differs(pid_t pid, const char *name) {
    char a[64], b[64], la[64] = "", lb[64] = "";
    snprintf(a, sizeof a, "/proc/self/ns/%s", name);
    snprintf(b, sizeof b, "/proc/%d/ns/%s", (int)pid, name);
    ssize_t na = readlink(a, la, sizeof la - 1);
    ssize_t nb = readlink(b, lb, sizeof lb - 1);
    return na > 0 && nb > 0 && strcmp(la, lb) != 0;
}

/* The value of "Key:" in /proc/PID/status, or -1. */
static int status_field(pid_t pid, const char *key) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    size_t klen = strlen(key);
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') return atoi(line + klen + 1);
    return -1;
}

static void set_detail(corral_jail_layer *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_detail(corral_jail_layer *l, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->detail, sizeof l->detail, fmt, ap);
    va_end(ap);
}

static void error_set(corral_error *err, int status, const char *msg) {
    if (!err) return;
    err->status = status;
    snprintf(err->name, sizeof err->name, "Error");
    snprintf(err->message, sizeof err->message, "%s: %s", msg, strerror(errno));
}

#define ROWS (JAIL_LAYER_COUNT + 1)

int corral_jail_probe(corral_jail_layer *layers, size_t max, size_t *count, corral_error *err) {
    if (!layers || !count) {
        errno = EINVAL;
        error_set(err, CORRAL_EINVAL, "corral_jail_probe: layers and count must not be NULL");
        return CORRAL_EINVAL;
    }
    *count = 0;
    corral_jail_layer rows[ROWS];
    memset(rows, 0, sizeof rows);
    for (int i = 0; i < JAIL_LAYER_COUNT; i++) rows[i].name = jail_layer_name((enum jail_layer)i);
    rows[JAIL_LAYER_COUNT].name = "seccomp-zygote";
    rows[JAIL_RLIMITS].required = rows[JAIL_NO_NEW_PRIVS].required = rows[JAIL_SECCOMP].required = 1;

    /* --- the full worker jail --- */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        error_set(err, CORRAL_ESTATE, "corral_jail_probe: socketpair");
        return CORRAL_ESTATE;
    }
    struct probe_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.stray = sv[0];
    ctx.res = sv[1];
    jail_config_default(&ctx.cfg);
    ctx.cfg.keep_fds[0] = sv[1];
    ctx.cfg.keep_fd_count = 1;
    ctx.cfg.before_seccomp = look_inside;
    ctx.cfg.before_seccomp_arg = &ctx;
    struct jail_report rep;
    pid_t pid = jail_spawn(forbidden_call, &ctx, &ctx.cfg, &rep);
    close(sv[1]);
    if (pid < 0) {
        error_set(err, CORRAL_ESTATE, "corral_jail_probe: fork");
        close(sv[0]);
        return CORRAL_ESTATE;
    }
    struct inside in;
    memset(&in, 0, sizeof in);
    int have_inside = read(sv[0], &in, sizeof in) == (ssize_t)sizeof in;
    pid_t w = rep.worker_pid;
    int outside_seccomp = status_field(w, "Seccomp");
    int outside_nnp = status_field(w, "NoNewPrivs");
    static const char *const ns_files[] = {"user", "pid", "net", "mnt", "ipc", "uts"};
    int ns_new[6];
    for (int i = 0; i < 6; i++) ns_new[i] = ns_differs(w, ns_files[i]);
    /* Let it make the forbidden call. If it is already gone, its status
     * below says why. */
    ssize_t go = write(sv[0], "g", 1);
    (void)go;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    close(sv[0]);
    int sigsys = WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS;

    for (int i = 0; i < JAIL_LAYER_COUNT; i++) {
        rows[i].available = rep.layer[i].active;
        snprintf(rows[i].detail, sizeof rows[i].detail, "%s", rep.layer[i].detail);
    }
    int test[JAIL_LAYER_COUNT];
    test[JAIL_USER_NS] = ns_new[0] && in.uid == 0 && in.gid == 0;
    test[JAIL_PID_NS] = ns_new[1] && in.pid == 1;
    test[JAIL_NET_NS] = ns_new[2] && in.only_lo;
    test[JAIL_MOUNT_NS] = ns_new[3];
    test[JAIL_IPC_NS] = ns_new[4];
    test[JAIL_UTS_NS] = ns_new[5] && strcmp(in.hostname, "sandbox") == 0;
    test[JAIL_FDS] = in.stray_errno == EBADF;
    test[JAIL_EMPTY_ROOT] = in.passwd_errno == ENOENT && in.proc_errno == ENOENT;
    test[JAIL_RLIMITS] = in.rlimits_match;
    test[JAIL_NO_NEW_PRIVS] = in.nnp == 1 && outside_nnp == 1;
    test[JAIL_CAPS] = in.caps_empty && (in.bounding_empty || rep.layer[JAIL_CAPS].err != 0);
    test[JAIL_SECCOMP] = outside_seccomp == 2 && sigsys;
    for (int i = 0; i < JAIL_LAYER_COUNT; i++)
        rows[i].self_test = !rows[i].available ? -1 : have_inside && test[i];

    /* What the tests saw, where it says more than the jail's own report. */
    corral_jail_layer *R = rows;
    if (R[JAIL_USER_NS].self_test == 0)
        set_detail(&R[JAIL_USER_NS], "inside: uid %d gid %d, new namespace: %s", in.uid, in.gid, ns_new[0] ? "yes" : "no");
    if (R[JAIL_PID_NS].self_test == 0) set_detail(&R[JAIL_PID_NS], "inside: getpid() = %d", in.pid);
    if (R[JAIL_NET_NS].available) set_detail(&R[JAIL_NET_NS], "interfaces inside: %s", in.ifaces);
    if (R[JAIL_UTS_NS].self_test == 0) set_detail(&R[JAIL_UTS_NS], "hostname inside: \"%s\"", in.hostname);
    if (R[JAIL_FDS].self_test == 0)
        set_detail(&R[JAIL_FDS], "a descriptor opened before the jail is still open (%s)", strerror(in.stray_errno));
    if (R[JAIL_EMPTY_ROOT].self_test == 0)
        set_detail(&R[JAIL_EMPTY_ROOT], "inside: /etc/passwd %s, /proc %s", in.passwd_errno ? "absent" : "PRESENT",
                   in.proc_errno ? "absent" : "PRESENT");
    if (R[JAIL_RLIMITS].self_test == 0)
        set_detail(&R[JAIL_RLIMITS], "%s", in.rlimit_detail);
    else if (R[JAIL_RLIMITS].self_test == 1)
        set_detail(&R[JAIL_RLIMITS], "%s; read back; fork %s", rep.layer[JAIL_RLIMITS].detail, in.fork_errno == 0
                       ? "still works: the kernel exempts host root from RLIMIT_NPROC (seccomp forbids it)"
                       : "refused (RLIMIT_NPROC 0)");
    if (R[JAIL_NO_NEW_PRIVS].self_test == 0)
        set_detail(&R[JAIL_NO_NEW_PRIVS], "PR_GET_NO_NEW_PRIVS %d, /proc status NoNewPrivs %d", in.nnp, outside_nnp);
    if (R[JAIL_CAPS].self_test == 0) set_detail(&R[JAIL_CAPS], "capget inside is not empty");
    if (R[JAIL_SECCOMP].available) {
        if (sigsys)
            set_detail(&R[JAIL_SECCOMP], "%s; socket() ended the child with SIGSYS", rep.layer[JAIL_SECCOMP].detail);
        else
            set_detail(&R[JAIL_SECCOMP], "socket() did not end the child with SIGSYS (status 0x%x, Seccomp %d)", st,
                       outside_seccomp);
    }

    /* --- the zygote policy --- */
    struct jail_config zc;
    jail_config_default(&zc);
    zc.policy = JAIL_POLICY_ZYGOTE;
    struct jail_report zrep;
    corral_jail_layer *Z = &rows[JAIL_LAYER_COUNT];
    pid_t z = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
        zc.keep_fds[0] = sv[0];
        zc.keep_fds[1] = sv[1];
        zc.keep_fd_count = 2;
        z = jail_spawn(zygote_round, sv, &zc, &zrep);
        close(sv[0]);
        close(sv[1]);
    }
    if (z < 0) {
        set_detail(Z, "could not start the zygote: %s", strerror(errno));
        Z->self_test = -1;
    } else {
        int zst = 0;
        while (waitpid(z, &zst, 0) < 0 && errno == EINTR) {
        }
        Z->available = zrep.ok && zrep.layer[JAIL_SECCOMP].active;
        if (!Z->available) {
            Z->self_test = -1;
            set_detail(Z, "%s", zrep.layer[JAIL_SECCOMP].detail);
        } else if (WIFEXITED(zst) && WEXITSTATUS(zst) == 0) {
            Z->self_test = 1;
            set_detail(Z, "the zygote forked; its child, under the worker filter, died of SIGSYS on fork");
        } else {
            Z->self_test = 0;
            if (WIFSIGNALED(zst))
                set_detail(Z, "the zygote died of signal %d", WTERMSIG(zst));
            else
                set_detail(Z, "the zygote round failed at step %d", WEXITSTATUS(zst));
        }
    }

    size_t n = max < ROWS ? max : ROWS;
    memcpy(layers, rows, n * sizeof rows[0]);
    *count = n;
    return CORRAL_OK;
}
