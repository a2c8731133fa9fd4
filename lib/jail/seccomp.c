/* The seccomp-bpf policies of jailed processes: the one reviewed file that
 * says which system calls a worker (and the zygote) may make.
 *
 * The default action is SCMP_ACT_KILL_PROCESS: a call not listed here ends
 * the whole process with SIGSYS, which the supervisor reports as a crash.
 * Killing rather than failing with EPERM is deliberate — a compromised
 * engine probing the kernel gets one try, and a legitimate worker that
 * needs a new call fails loudly in the tests instead of limping on.
 *
 * The worker computes and talks on its one socket, so the list is memory,
 * futexes, clocks, reading and writing descriptors it already holds, and
 * exiting. Nothing here opens anything: no open/openat, socket, connect,
 * accept, pipe, dup, execve, ptrace, mount, bpf, io_uring, keyctl or
 * userfaultfd; no fstat/newfstatat either — the worker does not use stdio
 * (glibc's stdio would fstat a stream on first use) and path-taking stat
 * calls would let it probe the file system on a machine without an empty
 * root. Arguments are restricted where libseccomp can check them cheaply:
 * no PROT_EXEC mappings (QuickJS has no JIT, so executable memory is only
 * ever an attacker's), signals only to the worker itself. The descriptor
 * of read/write is not restricted: the jail closes every descriptor but
 * the socket before the filter is loaded and the filter forbids creating
 * new ones, so the socket is the only thing these calls can reach (a
 * descriptor received with SCM_RIGHTS is the one exception; the supervisor
 * never sends one).
 *
 * The zygote (a pre-initialised worker template that forks workers) needs
 * a looser filter: fork without namespace flags, wait for and kill its
 * children, lower rlimits and add the worker filter in each child.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "jail/jail.h"

#define W (1u << JAIL_POLICY_WORKER)
#define Z (1u << JAIL_POLICY_ZYGOTE)

/* How a rule restricts the arguments of its call. */
enum arg_rule {
    ARGS_ANY = 0,
    ARGS_NO_EXEC,       /* arg 2 (prot) has no PROT_EXEC */
    ARGS_SELF,          /* arg 0 (tgid) is the process that loaded the filter */
    ARGS_NO_NEW_NS,     /* arg 0 (clone flags) has no CLONE_NEW* bit */
    ARGS_ONE_PID,       /* arg 0 (pid) >= 0: never another process group, never everyone */
    ARGS_PRCTL_OK,      /* arg 0 is one of the prctl options the zygote uses */
    ARGS_ENOSYS,        /* not killed: fails with ENOSYS so libc falls back */
};

struct allowed_call {
    int nr;             /* SCMP_SYS(): negative when the call does not exist on this arch */
    unsigned policies;  /* W, Z */
    enum arg_rule args;
    const char *why;
};

static const struct allowed_call allowed[] = {
    /* --- the socket to the supervisor: the worker's only door --- */
    {SCMP_SYS(read), W | Z, ARGS_ANY, "receive requests and capability answers on the socket"},
    {SCMP_SYS(write), W | Z, ARGS_ANY, "send results, calls and logs on the socket"},
    {SCMP_SYS(readv), W | Z, ARGS_ANY, "scatter reads of a framed message"},
    {SCMP_SYS(writev), W | Z, ARGS_ANY, "a message header and payload in one call"},
    {SCMP_SYS(recvmsg), W | Z, ARGS_ANY, "the socket API form of read"},
    {SCMP_SYS(sendmsg), W | Z, ARGS_ANY, "the socket API form of write"},
    {SCMP_SYS(sendmmsg), W | Z, ARGS_ANY, "upcalls that need no answer leave together at the end of a turn"},
    {SCMP_SYS(recvfrom), W | Z, ARGS_ANY, "recv() is recvfrom on most architectures"},
    {SCMP_SYS(sendto), W | Z, ARGS_ANY, "send() is sendto on most architectures"},
    {SCMP_SYS(close), W | Z, ARGS_ANY, "closing the socket on exit; cannot open anything"},
    {SCMP_SYS(poll), W | Z, ARGS_ANY, "the worker loop waits for its socket with a timeout"},
    {SCMP_SYS(ppoll), W | Z, ARGS_ANY, "poll on architectures without poll (and glibc's choice)"},
    {SCMP_SYS(epoll_wait), W | Z, ARGS_ANY, "a loop built on an epoll set created before the filter"},
    {SCMP_SYS(epoll_pwait), W | Z, ARGS_ANY, "epoll_wait on architectures without it"},

    /* --- memory: QuickJS's heap through malloc --- */
    {SCMP_SYS(brk), W | Z, ARGS_ANY, "malloc grows the main arena"},
    {SCMP_SYS(mmap), W | Z, ARGS_NO_EXEC, "malloc's large blocks and new arenas; never executable"},
    {SCMP_SYS(munmap), W | Z, ARGS_ANY, "free of large blocks"},
    {SCMP_SYS(mremap), W | Z, ARGS_ANY, "realloc of large blocks (keeps the protection it had)"},
    {SCMP_SYS(mprotect), W | Z, ARGS_NO_EXEC, "malloc commits arena pages; never to executable"},
    {SCMP_SYS(madvise), W | Z, ARGS_ANY, "malloc returns freed pages (MADV_DONTNEED)"},

    /* --- time, sleep and synchronisation --- */
    {SCMP_SYS(futex), W | Z, ARGS_ANY, "glibc locks (malloc, stdio-free but still locked paths)"},
    {SCMP_SYS(clock_gettime), W | Z, ARGS_ANY,
     "Date.now and CPU accounting: the vDSO serves most clocks, but CPU-time clocks and a "
     "missing vDSO fall through to the system call"},
    {SCMP_SYS(clock_getres), W | Z, ARGS_ANY, "the vDSO's fallback for the clock resolution"},
    {SCMP_SYS(gettimeofday), W | Z, ARGS_ANY, "the vDSO's fallback for the wall clock"},
    {SCMP_SYS(clock_nanosleep), W | Z, ARGS_ANY, "timers: sleeping until the next one is due"},
    {SCMP_SYS(nanosleep), W | Z, ARGS_ANY, "the same, through the older call"},
    {SCMP_SYS(restart_syscall), W | Z, ARGS_ANY, "the kernel restarts an interrupted sleep with it"},
    {SCMP_SYS(sched_yield), W | Z, ARGS_ANY, "spin-then-yield in glibc's locks"},
    {SCMP_SYS(getrandom), W | Z, ARGS_ANY, "crypto.getRandomValues and Math.random seeding"},

    /* --- identity and signals, for glibc's own use --- */
    {SCMP_SYS(getpid), W | Z, ARGS_ANY, "raise() and abort() name the process"},
    {SCMP_SYS(gettid), W | Z, ARGS_ANY, "raise() and abort() name the thread"},
    {SCMP_SYS(tgkill), W, ARGS_SELF, "abort() and raise() signal the worker itself only"},
    {SCMP_SYS(tgkill), Z, ARGS_ANY,
     "abort() in the zygote and in a new worker before its own filter narrows this to itself "
     "(kill already reaches any of the zygote's processes)"},
    {SCMP_SYS(rt_sigprocmask), W | Z, ARGS_ANY, "abort() and glibc's internal signal blocking"},
    {SCMP_SYS(rt_sigreturn), W | Z, ARGS_ANY, "returning from any signal handler installed before the jail"},

    /* --- leaving --- */
    {SCMP_SYS(exit), W | Z, ARGS_ANY, "a thread ends"},
    {SCMP_SYS(exit_group), W | Z, ARGS_ANY, "the worker ends (_exit)"},

    /* --- the zygote only: make workers --- */
    {SCMP_SYS(clone), Z, ARGS_NO_NEW_NS, "fork a worker; never into new namespaces"},
    {SCMP_SYS(clone3), Z, ARGS_ENOSYS,
     "its flags sit in memory the filter cannot read, so it fails with ENOSYS and glibc falls back to clone"},
    {SCMP_SYS(fork), Z, ARGS_ANY, "fork a worker (x86-64 has the old call)"},
    {SCMP_SYS(set_robust_list), Z, ARGS_ANY, "glibc's fork registers the child's robust futex list"},
    {SCMP_SYS(wait4), Z, ARGS_ANY, "reap workers"},
    {SCMP_SYS(waitid), Z, ARGS_ANY, "reap workers"},
    {SCMP_SYS(kill), Z, ARGS_ONE_PID, "end a worker; never another process group or every process"},
    {SCMP_SYS(getppid), Z, ARGS_ANY, "a new worker checks that the zygote still lives"},
    {SCMP_SYS(prctl), Z, ARGS_PRCTL_OK, "a new worker sets PR_SET_PDEATHSIG and no_new_privs"},
    {SCMP_SYS(prlimit64), Z, ARGS_ANY, "a new worker lowers its rlimits (raising needs a capability it lacks)"},
    {SCMP_SYS(setrlimit), Z, ARGS_ANY, "the same, through the older call"},
    {SCMP_SYS(getrlimit), Z, ARGS_ANY, "the same, through the older call"},
    {SCMP_SYS(seccomp), Z, ARGS_ANY, "a new worker adds the worker filter; filters only ever narrow"},
    {SCMP_SYS(close_range), Z, ARGS_ANY, "a new worker closes the zygote's descriptors it must not keep"},
    {SCMP_SYS(rt_sigaction), Z, ARGS_ANY, "a new worker resets the zygote's signal handlers"},
};

/* prctl options the zygote may use (ARGS_PRCTL_OK). */
static const int zygote_prctls[] = {PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS, PR_SET_PDEATHSIG};

#define NEW_NS_FLAGS                                                                               \
    (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |      \
     CLONE_NEWCGROUP)

/* arg0 == v, compared as 32 bits (pid_t and int options). Spelled out
 * because libseccomp's one-datum macro leaves datum_b to the compiler. */
static struct scmp_arg_cmp arg0_eq32(uint32_t v) {
    return (struct scmp_arg_cmp){.arg = 0, .op = SCMP_CMP_EQ, .datum_a = v, .datum_b = 0};
}

static int add_rule(scmp_filter_ctx ctx, const struct allowed_call *c, pid_t self) {
    switch (c->args) {
    case ARGS_ANY:
        return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, c->nr, 0);
    case ARGS_NO_EXEC:
        return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, c->nr, 1, SCMP_A2_32(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    case ARGS_SELF:
        return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, c->nr, 1, arg0_eq32((uint32_t)self));
    case ARGS_NO_NEW_NS:
        return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, c->nr, 1,
                                SCMP_A0_64(SCMP_CMP_MASKED_EQ, (uint64_t)NEW_NS_FLAGS, 0));
    case ARGS_ONE_PID:
        /* pid_t is 32 bits: the sign bit clear. libseccomp takes one
         * comparison per argument, so pid 0 (the caller's own process
         * group: the zygote and its workers, in their PID namespace)
         * stays allowed; -1 (every process) and -PGID do not. */
        return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, c->nr, 1, SCMP_A0_32(SCMP_CMP_MASKED_EQ, 0x80000000u, 0));
    case ARGS_PRCTL_OK:
        for (size_t i = 0; i < sizeof zygote_prctls / sizeof zygote_prctls[0]; i++) {
            int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, c->nr, 1,
                                      arg0_eq32((uint32_t)zygote_prctls[i]));
            if (rc < 0) return rc;
        }
        return 0;
    case ARGS_ENOSYS:
        return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), c->nr, 0);
    }
    return -EINVAL;
}

/* Builds the filter of a policy; self is the pid ARGS_SELF rules compare
 * with. Returns NULL with out filled on failure. */
static scmp_filter_ctx build_filter(enum jail_policy policy, pid_t self, size_t *rules,
                                    struct jail_layer_result *out) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!ctx) {
        jail_result_set(out, 0, ENOMEM, "seccomp_init failed");
        return NULL;
    }
    /* no_new_privs is a layer of its own, set (and required) just before. */
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    *rules = 0;
    for (size_t i = 0; rc == 0 && i < sizeof allowed / sizeof allowed[0]; i++) {
        const struct allowed_call *c = &allowed[i];
        if (!(c->policies & (1u << policy))) continue;
        if (c->nr < 0) continue; /* not a system call on this architecture */
        rc = add_rule(ctx, c, self);
        if (rc < 0) {
            char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, c->nr);
            jail_result_set(out, 0, -rc, "seccomp_rule_add(%s): %s", name ? name : "?", strerror(-rc));
            free(name);
            seccomp_release(ctx);
            return NULL;
        }
        (*rules)++;
    }
    if (rc < 0) {
        jail_result_set(out, 0, -rc, "seccomp_attr_set: %s", strerror(-rc));
        seccomp_release(ctx);
        return NULL;
    }
    return ctx;
}

static const char *policy_name(enum jail_policy policy) {
    return policy == JAIL_POLICY_ZYGOTE ? "zygote" : "worker";
}

int jail_seccomp_apply(enum jail_policy policy, struct jail_layer_result *out) {
    size_t rules;
    scmp_filter_ctx ctx = build_filter(policy, getpid(), &rules, out);
    if (!ctx) return -1;
    int rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc < 0) {
        jail_result_set(out, 0, -rc, "seccomp_load(%s policy): %s", policy_name(policy), strerror(-rc));
        return -1;
    }
    jail_result_set(out, 1, 0, "%s allow-list of %zu calls, others kill the process",
                    policy_name(policy), rules);
    return 0;
}

/* ---- compiled once, loaded many times (the zygote's workers) ---- */

/* Stands for the loading process's pid in a compiled filter. Not a pid
 * (above any pid_max) and unlike every other constant the filters compare
 * with (call numbers, the audit arch, PROT_EXEC, CLONE_NEW* masks, prctl
 * options), so the one JEQ that holds it is found and patched. */
#define SELF_SENTINEL 0x7EC0C0DEu

int jail_seccomp_compile(enum jail_policy policy, struct jail_bpf *bpf, struct jail_layer_result *out) {
    memset(bpf, 0, sizeof *bpf);
    size_t rules;
    scmp_filter_ctx ctx = build_filter(policy, (pid_t)SELF_SENTINEL, &rules, out);
    if (!ctx) return -1;
    /* libseccomp 2.5 exports only to a descriptor. The program is a few
     * hundred instructions, far below a pipe's buffer, so the write never
     * blocks before the read. */
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        jail_result_set(out, 0, errno, "pipe for the compiled filter: %s", strerror(errno));
        seccomp_release(ctx);
        return -1;
    }
    int rc = seccomp_export_bpf(ctx, p[1]);
    seccomp_release(ctx);
    close(p[1]);
    size_t cap = 4096, len = 0;
    uint8_t *buf = rc == 0 ? malloc(cap) : NULL;
    while (buf) {
        if (len == cap) {
            uint8_t *n = cap < (1u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!n) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = n;
            cap *= 2;
        }
        ssize_t got = read(p[0], buf + len, cap - len);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        len += (size_t)got;
    }
    close(p[0]);
    size_t count = len / sizeof(struct sock_filter);
    if (!buf || len % sizeof(struct sock_filter) || count == 0 || count > BPF_MAXINSNS) {
        free(buf);
        jail_result_set(out, 0, rc < 0 ? -rc : EINVAL, "seccomp_export_bpf(%s policy) gave %zu bytes",
                        policy_name(policy), len);
        return -1;
    }
    bpf->insns = (struct sock_filter *)buf;
    bpf->count = count;
    bpf->rules = rules;
    bpf->policy = policy;
    jail_result_set(out, 1, 0, "%s allow-list of %zu calls compiled (%zu instructions)",
                    policy_name(policy), rules, count);
    return 0;
}

int jail_seccomp_load_compiled(const struct jail_bpf *bpf, struct jail_layer_result *out) {
    struct sock_filter prog[BPF_MAXINSNS];
    if (!bpf->insns || bpf->count == 0 || bpf->count > BPF_MAXINSNS) {
        jail_result_set(out, 0, EINVAL, "no compiled filter");
        return -1;
    }
    memcpy(prog, bpf->insns, bpf->count * sizeof prog[0]);
    uint32_t self = (uint32_t)getpid();
    size_t patched = 0;
    for (size_t i = 0; i < bpf->count; i++) {
        if (prog[i].code == (BPF_JMP | BPF_JEQ | BPF_K) && prog[i].k == SELF_SENTINEL) {
            prog[i].k = self;
            patched++;
        }
    }
    /* The worker policy has ARGS_SELF rules; a filter that still named the
     * sentinel's stand-in, or none, would be wrong either way. */
    if (bpf->policy == JAIL_POLICY_WORKER && patched == 0) {
        jail_result_set(out, 0, EINVAL, "the compiled filter has no self comparison to patch");
        return -1;
    }
    struct sock_fprog fprog = {.len = (unsigned short)bpf->count, .filter = prog};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
        jail_result_set(out, 0, errno, "seccomp(SET_MODE_FILTER, %s policy): %s",
                        policy_name(bpf->policy), strerror(errno));
        return -1;
    }
    jail_result_set(out, 1, 0, "%s allow-list of %zu calls, others kill the process",
                    policy_name(bpf->policy), bpf->rules);
    return 0;
}

void jail_bpf_free(struct jail_bpf *bpf) {
    free(bpf->insns);
    memset(bpf, 0, sizeof *bpf);
}
