/* The jail, proved from inside and outside jailed children: each layer's
 * effect where this machine allows it, and an explicit refusal in the
 * report where it does not (these tests run as root in a VM here, as an
 * unprivileged user or in a restrictive container elsewhere). Forbidden
 * system calls must end the child with SIGSYS, /proc/PID/status of a live
 * worker must show "Seccomp: 2" and "NoNewPrivs: 1", and the zygote policy
 * must allow fork while the worker policy it adds in a child forbids it.
 *
 * Jailed children do as little as possible and leave through _exit (the
 * harness's exit handlers and the sanitizers' leak check must not run
 * under the filter); results come back over a socket pair made before the
 * jail and kept open through it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "corral.h"
#include "jail/jail.h"

/* ---- helpers ---- */

static int wait_status(pid_t pid) {
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return st;
}

static int died_of_sigsys(int st) {
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS;
}

/* A jail with every layer, keeping one end of a fresh socket pair; *mine
 * is the test's end. */
static void full_config(struct jail_config *cfg, int sv[2]) {
    jail_config_default(cfg);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) sv[0] = sv[1] = -1;
    cfg->keep_fds[0] = sv[1];
    cfg->keep_fd_count = 1;
}

/* The smallest jail: no namespaces, no empty root. */
static void minimal_config(struct jail_config *cfg, int sv[2]) {
    full_config(cfg, sv);
    cfg->namespaces = 0;
    cfg->empty_root = 0;
}

static int kept_fd; /* the child's end, as the jailed fn sees it (copied by fork) */

static int read_all(int fd, void *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    return 0;
}

static char *proc_status(pid_t pid, char *buf, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    buf[0] = 0;
    if (fd < 0) return buf;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

static int ns_differs(pid_t pid, const char *name) {
    char a[64], b[64], la[64] = "", lb[64] = "";
    snprintf(a, sizeof a, "/proc/self/ns/%s", name);
    snprintf(b, sizeof b, "/proc/%d/ns/%s", (int)pid, name);
    ssize_t na = readlink(a, la, sizeof la - 1);
    ssize_t nb = readlink(b, lb, sizeof lb - 1);
    return na > 0 && nb > 0 && strcmp(la, lb) != 0;
}

/* jailed fns: each ends the child with its return value */
static int fn_wait_then_exit(void *arg) {
    (void)arg;
    char c;
    return read(kept_fd, &c, 1) == 1 ? 0 : 1;
}

static int fn_return_7(void *arg) {
    (void)arg;
    return 7;
}

/* ---- the rlimit table ---- */

TEST(rlimit_table_has_the_documented_values) {
    struct jail_config cfg;
    jail_config_default(&cfg);
    struct jail_rlimit t[16];
    size_t n = jail_rlimits_table(&cfg, t, 16);
    CHECK_EQ_INT(n, 8);
    const struct {
        int resource;
        uint64_t value;
    } want[] = {
        {RLIMIT_AS, JAIL_DEFAULT_AS_BYTES}, {RLIMIT_CPU, 60},  {RLIMIT_CORE, 0},    {RLIMIT_NPROC, 0},
        {RLIMIT_FSIZE, 0},                  {RLIMIT_NOFILE, 16}, {RLIMIT_MEMLOCK, 0}, {RLIMIT_MSGQUEUE, 0},
    };
    for (size_t i = 0; i < 8 && i < n; i++) {
        CHECK_EQ_INT(t[i].resource, want[i].resource);
        CHECK_EQ_INT(t[i].value, want[i].value);
        CHECK(t[i].name && strncmp(t[i].name, "RLIMIT_", 7) == 0);
    }
#if !defined(__SANITIZE_ADDRESS__)
    CHECK_EQ_INT(JAIL_DEFAULT_AS_BYTES, 1ull << 30);
#endif
    cfg.address_space_bytes = 256u << 20;
    cfg.cpu_seconds = 5;
    cfg.policy = JAIL_POLICY_ZYGOTE;
    jail_rlimits_table(&cfg, t, 16);
    CHECK_EQ_INT(t[0].value, 256u << 20);
    /* The zygote forks, and runs no sandbox code: no CPU backstop that
     * would end every worker it made. */
    CHECK(t[1].resource == RLIMIT_CPU && t[1].value == JAIL_UNLIMITED);
    CHECK(t[3].resource == RLIMIT_NPROC && t[3].value == JAIL_UNLIMITED);
    cfg.policy = JAIL_POLICY_WORKER;
    jail_rlimits_table(&cfg, t, 16);
    CHECK_EQ_INT(t[1].value, 5);
    /* Zero means the default, not "no limit". */
    cfg.address_space_bytes = 0;
    cfg.cpu_seconds = 0;
    jail_rlimits_table(&cfg, t, 16);
    CHECK_EQ_INT(t[0].value, JAIL_DEFAULT_AS_BYTES);
    CHECK_EQ_INT(t[1].value, JAIL_DEFAULT_CPU_SECONDS);
}

TEST(layer_names_are_distinct) {
    for (int i = 0; i < JAIL_LAYER_COUNT; i++) {
        CHECK(jail_layer_name((enum jail_layer)i) != NULL);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(jail_layer_name((enum jail_layer)i), jail_layer_name((enum jail_layer)j)) != 0);
    }
    CHECK(jail_layer_name(JAIL_LAYER_COUNT) == NULL);
    CHECK_EQ_STR(jail_layer_name(JAIL_SECCOMP), "seccomp");
}

/* ---- every layer, from inside ---- */

struct inside {
    int pid, uid;
    int only_lo;
    char hostname[32];
    int stray_errno, passwd_errno, proc_errno, dev_errno;
    int rlimits_ok;
    char rlimit_bad[48];
    int fork_errno;
    int nnp;
    int caps_empty, bounding_empty;
    int exec_map_errno;
};

static int stray_fd;

static void look_inside(void *arg, const struct jail_report *so_far) {
    const struct jail_config *cfg = arg;
    (void)so_far;
    struct inside in;
    memset(&in, 0, sizeof in);
    in.pid = getpid();
    in.uid = (int)getuid();
    struct if_nameindex *ifs = if_nameindex();
    in.only_lo = ifs && ifs[0].if_index && strcmp(ifs[0].if_name, "lo") == 0 && !ifs[1].if_index;
    if (ifs) if_freenameindex(ifs);
    gethostname(in.hostname, sizeof in.hostname - 1);
    in.stray_errno = fcntl(stray_fd, F_GETFD) < 0 ? errno : 0;
    in.passwd_errno = access("/etc/passwd", F_OK) ? errno : 0;
    in.proc_errno = access("/proc/self/status", F_OK) ? errno : 0;
    in.dev_errno = access("/dev/null", F_OK) ? errno : 0;
    struct jail_rlimit t[16];
    size_t n = jail_rlimits_table(cfg, t, 16);
    in.rlimits_ok = 1;
    for (size_t i = 0; i < n; i++) {
        struct rlimit rl;
        if (t[i].value == JAIL_UNLIMITED) continue;
        if (getrlimit(t[i].resource, &rl) != 0 || rl.rlim_cur != rl.rlim_max || rl.rlim_max > t[i].value) {
            in.rlimits_ok = 0;
            snprintf(in.rlimit_bad, sizeof in.rlimit_bad, "%s", t[i].name);
        }
    }
    pid_t p = fork();
    if (p == 0) _exit(0);
    in.fork_errno = p < 0 ? errno : 0;
    if (p > 0) waitpid(p, NULL, 0);
    in.nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0xff, sizeof d);
    in.caps_empty = syscall(SYS_capget, &h, d) == 0 && !(d[0].effective | d[0].permitted | d[0].inheritable |
                                                         d[1].effective | d[1].permitted | d[1].inheritable);
    in.bounding_empty = prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) == 0 &&
                        prctl(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0) == 0;
    if (write(kept_fd, &in, sizeof in) != (ssize_t)sizeof in) jail_exit(99);
}

TEST(every_layer_takes_effect_or_reports_why_not) {
    struct jail_config cfg;
    int sv[2];
    full_config(&cfg, sv);
    int extra[2];
    CHECK(pipe2(extra, O_CLOEXEC) == 0);
    stray_fd = extra[0]; /* open before the jail, not on the keep list */
    kept_fd = sv[1];
    cfg.before_seccomp = look_inside;
    cfg.before_seccomp_arg = &cfg;
    struct jail_report rep;
    pid_t pid = jail_spawn(fn_wait_then_exit, NULL, &cfg, &rep);
    close(sv[1]);
    close(extra[0]);
    close(extra[1]);
    CHECK(pid > 0);
    if (pid <= 0) return;
    CHECK_EQ_INT(rep.ok, 1);
    struct inside in;
    memset(&in, 0, sizeof in);
    CHECK_EQ_INT(read_all(sv[0], &in, sizeof in), 0);
    pid_t w = rep.worker_pid;
    static const char *const ns_file[] = {"user", "pid", "net", "mnt", "ipc", "uts"};
    for (int i = JAIL_USER_NS; i <= JAIL_UTS_NS; i++) {
        const struct jail_layer_result *r = &rep.layer[i];
        CHECK(r->detail[0] != 0);
        if (r->active) {
            if (!ns_differs(w, ns_file[i])) CHECK_FAIL_AT("%s reported active, but the worker shares ours", ns_file[i]);
        } else {
            /* Refused: the errno and the reason are in the report. */
            CHECK(r->err != 0);
            CHECK_CONTAINS(r->detail, "refused");
        }
    }
    if (rep.layer[JAIL_USER_NS].active) CHECK_EQ_INT(in.uid, 0);
    if (rep.layer[JAIL_PID_NS].active) {
        CHECK_EQ_INT(in.pid, 1);
        CHECK(w != pid); /* the keeper is what we wait for */
    }
    if (rep.layer[JAIL_NET_NS].active) CHECK_EQ_INT(in.only_lo, 1);
    if (rep.layer[JAIL_UTS_NS].active) CHECK_EQ_STR(in.hostname, "sandbox");
    CHECK_EQ_INT(rep.layer[JAIL_FDS].active, 1);
    CHECK_EQ_INT(in.stray_errno, EBADF);
    if (rep.layer[JAIL_MOUNT_NS].active) {
        CHECK_EQ_INT(rep.layer[JAIL_EMPTY_ROOT].active, 1);
        CHECK_EQ_INT(in.passwd_errno, ENOENT);
        CHECK_EQ_INT(in.proc_errno, ENOENT);
        CHECK_EQ_INT(in.dev_errno, ENOENT);
    } else {
        CHECK_EQ_INT(rep.layer[JAIL_EMPTY_ROOT].active, 0);
        CHECK_CONTAINS(rep.layer[JAIL_EMPTY_ROOT].detail, "mount namespace");
    }
    CHECK_EQ_INT(rep.layer[JAIL_RLIMITS].active, 1);
    if (!in.rlimits_ok) CHECK_FAIL_AT("%s does not read back", in.rlimit_bad);
    /* RLIMIT_NPROC binds unless the real uid is host root (kernel exemption). */
    if (getuid() != 0) CHECK_EQ_INT(in.fork_errno, EAGAIN);
    CHECK_EQ_INT(in.nnp, 1);
    CHECK_EQ_INT(rep.layer[JAIL_CAPS].active, 1);
    CHECK_EQ_INT(in.caps_empty, 1);
    if (rep.layer[JAIL_CAPS].err == 0) CHECK_EQ_INT(in.bounding_empty, 1);
    CHECK_EQ_INT(rep.layer[JAIL_SECCOMP].active, 1);
    CHECK(write(sv[0], "g", 1) == 1);
    int st = wait_status(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(sv[0]);
}

/* ---- seccomp ---- */

static int fn_socket(void *arg) {
    (void)arg;
    syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    return 0;
}
static int fn_open_passwd(void *arg) {
    (void)arg;
    syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
    return 0;
}
static int fn_fork(void *arg) {
    (void)arg;
    syscall(SYS_fork);
    return 0;
}
static int fn_exec_mapping(void *arg) {
    (void)arg;
    syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return 0;
}
static int fn_mprotect_exec(void *arg) {
    (void)arg;
    static char page[8192] __attribute__((aligned(4096)));
    syscall(SYS_mprotect, page, 4096, PROT_READ | PROT_EXEC);
    return 0;
}
static int fn_kill_parent(void *arg) {
    (void)arg;
    syscall(SYS_kill, 1, SIGKILL);
    return 0;
}

static void expect_sigsys(int (*fn)(void *), const char *what, int full) {
    struct jail_config cfg;
    int sv[2];
    if (full)
        full_config(&cfg, sv);
    else
        minimal_config(&cfg, sv);
    struct jail_report rep;
    pid_t pid = jail_spawn(fn, NULL, &cfg, &rep);
    close(sv[0]);
    close(sv[1]);
    CHECK(pid > 0);
    if (pid <= 0) return;
    CHECK_EQ_INT(rep.ok, 1);
    int st = wait_status(pid);
    if (!died_of_sigsys(st)) CHECK_FAIL_AT("%s: status 0x%x, want SIGSYS", what, st);
}

TEST(forbidden_calls_die_of_sigsys) {
    for (int full = 0; full <= 1; full++) {
        expect_sigsys(fn_socket, "socket()", full);
        expect_sigsys(fn_open_passwd, "openat(/etc/passwd)", full);
        expect_sigsys(fn_fork, "fork()", full);
        expect_sigsys(fn_exec_mapping, "mmap(PROT_EXEC)", full);
        expect_sigsys(fn_mprotect_exec, "mprotect(PROT_EXEC)", full);
        expect_sigsys(fn_kill_parent, "kill()", full);
    }
}

TEST(proc_status_of_a_live_worker_shows_the_filter) {
    for (int full = 0; full <= 1; full++) {
        struct jail_config cfg;
        int sv[2];
        if (full)
            full_config(&cfg, sv);
        else
            minimal_config(&cfg, sv);
        kept_fd = sv[1];
        struct jail_report rep;
        pid_t pid = jail_spawn(fn_wait_then_exit, NULL, &cfg, &rep);
        close(sv[1]);
        CHECK(pid > 0);
        if (pid <= 0) continue;
        char buf[8192];
        proc_status(rep.worker_pid, buf, sizeof buf);
        CHECK_CONTAINS(buf, "\nSeccomp:\t2\n");
        CHECK_CONTAINS(buf, "\nNoNewPrivs:\t1\n");
        CHECK_CONTAINS(buf, "\nCapEff:\t0000000000000000\n");
        CHECK_CONTAINS(buf, "\nCapPrm:\t0000000000000000\n");
        CHECK(write(sv[0], "g", 1) == 1);
        int st = wait_status(pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        close(sv[0]);
    }
}

/* The allowed calls are enough to compute and answer on the socket, and a
 * descriptor the jail closed stays closed (write answers EBADF). */
static int fn_compute_and_answer(void *arg) {
    (void)arg;
    uint64_t sum = 0;
    size_t n = 1 << 20;
    uint32_t *v = malloc(n * sizeof *v); /* big enough for mmap */
    if (!v) return 2;
    for (size_t i = 0; i < n; i++) v[i] = (uint32_t)(i * 2654435761u);
    for (size_t i = 0; i < n; i++) sum += v[i] % 1000;
    free(v);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    uint8_t rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) return 3;
    int stray_closed = write(stray_fd, "x", 1) < 0 && errno == EBADF;
    char msg[96];
    int len = snprintf(msg, sizeof msg, "sum=%llu stray_closed=%d", (unsigned long long)sum, stray_closed);
    if (write(kept_fd, msg, (size_t)len) != len) return 4;
    return 0;
}

TEST(allowed_calls_compute_and_write_to_the_socket) {
    uint64_t want = 0;
    for (size_t i = 0; i < (1u << 20); i++) want += (uint32_t)(i * 2654435761u) % 1000;
    char expect[96];
    snprintf(expect, sizeof expect, "sum=%llu stray_closed=1", (unsigned long long)want);
    for (int full = 0; full <= 1; full++) {
        struct jail_config cfg;
        int sv[2], extra[2];
        if (full)
            full_config(&cfg, sv);
        else
            minimal_config(&cfg, sv);
        CHECK(pipe2(extra, O_CLOEXEC) == 0);
        stray_fd = extra[1];
        kept_fd = sv[1];
        struct jail_report rep;
        pid_t pid = jail_spawn(fn_compute_and_answer, NULL, &cfg, &rep);
        close(sv[1]);
        close(extra[0]);
        close(extra[1]);
        CHECK(pid > 0);
        if (pid <= 0) continue;
        int st = wait_status(pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) CHECK_FAIL_AT("full=%d: status 0x%x", full, st);
        char got[96] = "";
        ssize_t n = read(sv[0], got, sizeof got - 1);
        got[n > 0 ? n : 0] = 0;
        CHECK_EQ_STR(got, expect);
        close(sv[0]);
    }
}

/* ---- the zygote policy ---- */

/* The zygote forks; its child adds the worker policy, says so, and forks
 * again, which must kill it. Returns 0 when all of that happened. */
static int fn_zygote(void *arg) {
    (void)arg;
    pid_t c = fork();
    if (c < 0) return 10;
    if (c == 0) {
        struct jail_config w;
        struct jail_layer_result r;
        jail_config_default(&w);
        if (jail_rlimits_apply(&w, &r) != 0) jail_exit(11);
        if (jail_seccomp_apply(JAIL_POLICY_WORKER, &r) != 0) jail_exit(12);
        if (write(kept_fd, "L", 1) != 1) jail_exit(13);
        syscall(SYS_fork);
        jail_exit(14);
    }
    int st;
    if (waitpid(c, &st, 0) != c) return 15;
    if (!died_of_sigsys(st)) return 16;
    /* a second worker, to show the zygote goes on forking */
    c = fork();
    if (c < 0) return 17;
    if (c == 0) jail_exit(5);
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 5) return 18;
    return 0;
}

static int fn_zygote_new_ns(void *arg) {
    (void)arg;
    syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), 0, 0, 0, 0);
    return 0;
}

TEST(zygote_policy_forks_and_its_workers_cannot) {
    struct jail_config cfg;
    int sv[2];
    full_config(&cfg, sv);
    cfg.policy = JAIL_POLICY_ZYGOTE;
    kept_fd = sv[1];
    struct jail_report rep;
    pid_t pid = jail_spawn(fn_zygote, NULL, &cfg, &rep);
    close(sv[1]);
    CHECK(pid > 0);
    if (pid <= 0) return;
    CHECK_EQ_INT(rep.ok, 1);
    CHECK_CONTAINS(rep.layer[JAIL_SECCOMP].detail, "zygote");
    int st = wait_status(pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) CHECK_FAIL_AT("zygote round: status 0x%x", st);
    char loaded = 0;
    CHECK(read(sv[0], &loaded, 1) == 1 && loaded == 'L'); /* the worker filter was in place */
    close(sv[0]);
}

TEST(zygote_policy_refuses_new_namespaces) {
    struct jail_config cfg;
    int sv[2];
    minimal_config(&cfg, sv);
    cfg.policy = JAIL_POLICY_ZYGOTE;
    struct jail_report rep;
    pid_t pid = jail_spawn(fn_zygote_new_ns, NULL, &cfg, &rep);
    close(sv[0]);
    close(sv[1]);
    CHECK(pid > 0);
    if (pid <= 0) return;
    CHECK(died_of_sigsys(wait_status(pid)));
}

/* ---- the process tree ---- */

TEST(exit_code_and_kill_reach_the_caller) {
    struct jail_config cfg;
    int sv[2];
    full_config(&cfg, sv);
    struct jail_report rep;
    pid_t pid = jail_spawn(fn_return_7, NULL, &cfg, &rep);
    CHECK(pid > 0);
    int st = wait_status(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7);

    /* SIGKILL on the pid we hold ends the worker too (PR_SET_PDEATHSIG). */
    kept_fd = sv[1];
    pid = jail_spawn(fn_wait_then_exit, NULL, &cfg, &rep);
    CHECK(pid > 0);
    if (pid <= 0) return;
    pid_t w = rep.worker_pid;
    CHECK(kill(pid, SIGKILL) == 0);
    st = wait_status(pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    int gone = 0;
    for (int i = 0; i < 200 && !gone; i++) {
        char buf[4096];
        /* gone, or a zombie waiting for the namespace's reaper */
        gone = kill(w, 0) != 0 || strstr(proc_status(w, buf, sizeof buf), "State:\tZ") != NULL;
        if (!gone) usleep(5000);
    }
    CHECK(gone);
    close(sv[0]);
    close(sv[1]);
}

TEST(too_many_kept_descriptors_are_refused) {
    struct jail_config cfg;
    jail_config_default(&cfg);
    cfg.keep_fd_count = JAIL_MAX_KEEP_FDS + 1;
    struct jail_report rep;
    errno = 0;
    CHECK_EQ_INT(jail_spawn(fn_return_7, NULL, &cfg, &rep), -1);
    CHECK_EQ_INT(errno, EINVAL);
}

/* jail_apply in a process the test forked itself: no PID namespace (it
 * says why), everything else as jail_spawn. */
TEST(jail_apply_in_a_forked_child) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct jail_config cfg;
        jail_config_default(&cfg);
        cfg.keep_fds[0] = sv[1];
        cfg.keep_fd_count = 1;
        struct jail_report rep;
        int rc = jail_apply(&cfg, &rep);
        rep.ok = rc == 0 ? rep.ok : -1;
        if (write(sv[1], &rep, sizeof rep) != (ssize_t)sizeof rep) jail_exit(2);
        syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
        jail_exit(3);
    }
    close(sv[1]);
    struct jail_report rep;
    memset(&rep, 0, sizeof rep);
    CHECK_EQ_INT(read_all(sv[0], &rep, sizeof rep), 0);
    close(sv[0]);
    CHECK_EQ_INT(rep.ok, 1);
    CHECK_EQ_INT(rep.layer[JAIL_PID_NS].active, 0);
    CHECK_CONTAINS(rep.layer[JAIL_PID_NS].detail, "jail_spawn");
    CHECK_EQ_INT(rep.layer[JAIL_SECCOMP].active, 1);
    CHECK(died_of_sigsys(wait_status(pid)));
}

/* A machine that refuses namespaces (a container's seccomp profile, as
 * Docker's default one does) still gets the minimum jail, and the report
 * names each refusal with its errno. The refusal is staged in a child
 * under a filter that fails unshare with EPERM. */
TEST(refused_namespaces_are_reported_and_the_minimum_jail_holds) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 0) != 0 ||
            seccomp_load(ctx) != 0)
            jail_exit(2);
        seccomp_release(ctx);
        struct jail_config cfg;
        int inner[2];
        full_config(&cfg, inner);
        struct jail_report rep;
        pid_t w = jail_spawn(fn_socket, NULL, &cfg, &rep);
        int st = w > 0 ? wait_status(w) : 0;
        rep.worker_pid = died_of_sigsys(st); /* reused as the verdict */
        if (write(sv[1], &rep, sizeof rep) != (ssize_t)sizeof rep) jail_exit(3);
        jail_exit(0);
    }
    close(sv[1]);
    struct jail_report rep;
    memset(&rep, 0, sizeof rep);
    CHECK_EQ_INT(read_all(sv[0], &rep, sizeof rep), 0);
    close(sv[0]);
    CHECK_EQ_INT(wait_status(pid), 0);
    for (int i = JAIL_USER_NS; i <= JAIL_UTS_NS; i++) {
        CHECK_EQ_INT(rep.layer[i].active, 0);
        CHECK_EQ_INT(rep.layer[i].err, EPERM);
        CHECK_CONTAINS(rep.layer[i].detail, "refused: Operation not permitted");
    }
    CHECK_EQ_INT(rep.layer[JAIL_EMPTY_ROOT].active, 0);
    CHECK_CONTAINS(rep.layer[JAIL_EMPTY_ROOT].detail, "needs the mount namespace");
    CHECK_EQ_INT(rep.ok, 1);
    CHECK_EQ_INT(rep.layer[JAIL_RLIMITS].active, 1);
    CHECK_EQ_INT(rep.layer[JAIL_NO_NEW_PRIVS].active, 1);
    CHECK_EQ_INT(rep.layer[JAIL_SECCOMP].active, 1);
    CHECK_EQ_INT(rep.worker_pid, 1); /* the worker died of SIGSYS on socket() */
}

/* ---- the public probe behind `corral doctor` ---- */

TEST(corral_jail_probe_reports_every_layer) {
    corral_jail_layer layers[CORRAL_JAIL_MAX_LAYERS];
    size_t n = 0;
    corral_error err;
    CHECK_EQ_INT(corral_jail_probe(layers, CORRAL_JAIL_MAX_LAYERS, &n, &err), CORRAL_OK);
    CHECK_EQ_INT(n, 13);
    const char *names[] = {"user-ns", "pid-ns", "net-ns", "mount-ns", "ipc-ns", "uts-ns", "close-fds",
                           "empty-root", "rlimits", "no-new-privs", "caps-dropped", "seccomp", "seccomp-zygote"};
    int required = 0;
    for (size_t i = 0; i < n && i < 13; i++) {
        CHECK_EQ_STR(layers[i].name, names[i]);
        CHECK(layers[i].detail[0] != 0);
        if (layers[i].available) {
            if (layers[i].self_test != 1) CHECK_FAIL_AT("%s: self-test failed: %s", layers[i].name, layers[i].detail);
        } else {
            CHECK_EQ_INT(layers[i].self_test, -1);
        }
        required += layers[i].required;
    }
    CHECK_EQ_INT(required, 3);
    /* The minimum jail must work wherever these tests run. */
    CHECK_EQ_INT(layers[8].available && layers[9].available && layers[11].available, 1);

    /* A short array gets the first rows. */
    CHECK_EQ_INT(corral_jail_probe(layers, 2, &n, NULL), CORRAL_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(layers[1].name, "pid-ns");
    CHECK_EQ_INT(corral_jail_probe(NULL, 2, &n, &err), CORRAL_EINVAL);
    CHECK_EQ_INT(err.status, CORRAL_EINVAL);
    CHECK_EQ_INT(corral_jail_probe(layers, 2, NULL, NULL), CORRAL_EINVAL);
}

/* A caller that ignores SIGCHLD when it spawns: the keeper must not
 * inherit that, or its waitpid would fail with ECHILD and it could not
 * pass the worker's exit status on. The caller restores SIGCHLD while the
 * worker sleeps, then waits for the keeper as usual. */
static int fn_sleep_then_7(void *arg) {
    (void)arg;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return 7;
}

TEST(a_caller_ignoring_sigchld_still_gets_the_status) {
    struct sigaction ign, old;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGCHLD, &ign, &old);
    struct jail_config cfg;
    int sv[2];
    minimal_config(&cfg, sv);
    cfg.namespaces = JAIL_NS_USER | JAIL_NS_PID; /* a keeper, where the machine allows one */
    struct jail_report rep;
    pid_t pid = jail_spawn(fn_sleep_then_7, NULL, &cfg, &rep);
    sigaction(SIGCHLD, &old, NULL);
    close(sv[0]);
    close(sv[1]);
    CHECK(pid > 0);
    if (pid <= 0) return;
    int st = wait_status(pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 7) CHECK_FAIL_AT("status 0x%x, want exit 7", st);
}
