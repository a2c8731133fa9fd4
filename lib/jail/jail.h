/* The jail: what a worker process puts around itself before it runs a byte
 * of sandbox code (issue #3). QuickJS is a large attack surface, so every
 * sandbox keeps a second boundary under the engine: a process that sits in
 * its own namespaces, in an empty root, with no descriptors but its socket,
 * tight resource limits, no capabilities, no way to gain privileges, and a
 * seccomp allow-list that kills it on any system call a worker does not
 * need. This layer knows nothing about JavaScript or the wire format; the
 * supervisor, worker pool and zygote build on it.
 *
 * Layers are applied in one fixed order, each reporting whether it took
 * effect (struct jail_report): namespaces (user first, so an unprivileged
 * caller gains the right to create the others) → close descriptors (while
 * /proc may still be there for the fallback, and before anything could
 * name a host directory through one) → empty root → resource limits →
 * no_new_privs → capabilities dropped → seccomp. Refused layers are
 * reported, not fatal — a machine may refuse namespaces — except
 * no_new_privs and seccomp: without them jail_apply fails and the worker
 * must not run (the minimum jail is seccomp + no_new_privs + rlimits).
 *
 * Linux only. See docs/jail.md for what each layer protects against.
 */
#ifndef CORRAL_JAIL_H
#define CORRAL_JAIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum jail_layer {
    JAIL_USER_NS = 0,
    JAIL_PID_NS,
    JAIL_NET_NS,
    JAIL_MOUNT_NS,
    JAIL_IPC_NS,
    JAIL_UTS_NS,
    JAIL_FDS,           /* every descriptor closed but the allow-list */
    JAIL_EMPTY_ROOT,    /* pivot into an empty read-only tmpfs */
    JAIL_RLIMITS,
    JAIL_NO_NEW_PRIVS,
    JAIL_CAPS,          /* capabilities dropped (sets, bounding, ambient) */
    JAIL_SECCOMP,
    JAIL_LAYER_COUNT
};

/* Bits of jail_config.namespaces. */
#define JAIL_NS_USER (1u << JAIL_USER_NS)
#define JAIL_NS_PID (1u << JAIL_PID_NS)
#define JAIL_NS_NET (1u << JAIL_NET_NS)
#define JAIL_NS_MOUNT (1u << JAIL_MOUNT_NS)
#define JAIL_NS_IPC (1u << JAIL_IPC_NS)
#define JAIL_NS_UTS (1u << JAIL_UTS_NS)
#define JAIL_NS_ALL (JAIL_NS_USER | JAIL_NS_PID | JAIL_NS_NET | JAIL_NS_MOUNT | JAIL_NS_IPC | JAIL_NS_UTS)

/* "user-ns", "pid-ns", ..., "seccomp"; NULL out of range. */
const char *jail_layer_name(enum jail_layer layer);

enum jail_policy {
    /* The strict filter of a worker: compute, talk on the socket, exit. */
    JAIL_POLICY_WORKER = 0,
    /* The zygote's looser filter: the worker's calls plus fork without
     * namespace flags, wait, kill, lowering rlimits and adding the worker
     * filter in each child. RLIMIT_NPROC is left as inherited. */
    JAIL_POLICY_ZYGOTE,
};

/* Leaves RLIMIT_AS or RLIMIT_CPU as inherited (sanitizer builds reserve
 * terabytes of shadow address space, so an RLIMIT_AS would break them). */
#define JAIL_UNLIMITED UINT64_MAX

#if defined(__SANITIZE_ADDRESS__)
/* AddressSanitizer reserves terabytes of shadow address space up front: any
 * RLIMIT_AS would make every later mapping fail, so sanitizer builds leave
 * it unset (docs/jail.md). */
#define JAIL_DEFAULT_AS_BYTES JAIL_UNLIMITED
#else
#define JAIL_DEFAULT_AS_BYTES (1ull << 30)     /* 1 GiB */
#endif
#define JAIL_DEFAULT_CPU_SECONDS 60u
#define JAIL_MAX_KEEP_FDS 8

struct jail_report;

struct jail_config {
    enum jail_policy policy;
    unsigned namespaces;            /* JAIL_NS_* bits to try */
    int empty_root;                 /* pivot into an empty tmpfs (needs the mount namespace) */
    int keep_fds[JAIL_MAX_KEEP_FDS]; /* descriptors that stay open (the supervisor socket) */
    size_t keep_fd_count;
    uint64_t address_space_bytes;   /* RLIMIT_AS; 0 = default, JAIL_UNLIMITED = inherited */
    uint64_t cpu_seconds;           /* RLIMIT_CPU hard backstop; 0 = default, JAIL_UNLIMITED = inherited */
    /* Called in the worker once every layer but seccomp is in place, for
     * self-tests that need system calls the filter forbids (open, socket,
     * fork). Never run sandbox code here: it is not yet under seccomp. */
    void (*before_seccomp)(void *arg, const struct jail_report *so_far);
    void *before_seccomp_arg;
};

/* Every namespace, the empty root, the worker policy, default limits, no
 * descriptor kept. */
void jail_config_default(struct jail_config *cfg);

struct jail_layer_result {
    int active;         /* 1: took effect; 0: not attempted or refused */
    int err;            /* the errno of the refusal, 0 if none */
    char detail[112];   /* what happened, for `corral doctor` and the startup log */
};

struct jail_report {
    struct jail_layer_result layer[JAIL_LAYER_COUNT];
    int ok;             /* no_new_privs and seccomp took effect: the worker may run */
    pid_t worker_pid;   /* jail_spawn: the jailed process as the caller sees it */
};

/* Applies every layer to the calling process, which must be single-threaded
 * and freshly forked. A PID namespace only applies to children of the
 * process that creates it, so jail_apply reports that layer as not applied
 * (use jail_spawn to be PID 1 of one). Returns 0 when the worker may run,
 * -1 when no_new_privs or seccomp did not take effect (see out). */
int jail_apply(const struct jail_config *cfg, struct jail_report *out);

/* Starts fn(arg) in a jailed process and returns once its jail is in place
 * (or has failed). The process tree, when a PID namespace is allowed:
 *
 *     caller ──fork──▶ keeper: unshares the namespaces, forks once more,
 *                        closes every descriptor, waits, and exits the way
 *                        the worker did (the same code or signal)
 *                        └──fork──▶ worker: PID 1 of the new namespace;
 *                                   the rest of the jail, then fn
 *
 * Without a PID namespace the first child is the worker. Either way the
 * returned pid is the one to wait for and to kill (SIGKILL on the keeper
 * kills the worker through PR_SET_PDEATHSIG, and a caller that dies takes
 * both with it); report->worker_pid names the jailed process itself, for
 * /proc. The worker exits with fn's return value, or JAIL_EXIT_FAILED
 * without calling fn when the jail failed (report->ok == 0). Returns -1
 * with errno set when no process could be started. */
#define JAIL_EXIT_FAILED 125
pid_t jail_spawn(int (*fn)(void *arg), void *arg, const struct jail_config *cfg,
                 struct jail_report *report);

/* Settles, while open() is still allowed, what glibc would otherwise read
 * from files on first use under the filter, where any open is SIGSYS:
 *  - the time zone (localtime_r reads the zone file once; in the empty
 *    root this settles on UTC);
 *  - one malloc arena, so an allocation failing in the main arena (at
 *    RLIMIT_AS, say) is an ordinary NULL rather than a retry in a new
 *    arena, which reads /sys to size the arena list;
 *  - no automatic trimming: a process inherits its host's other threads'
 *    arenas, and the first shrink of such a heap in any process reads
 *    /proc/sys/vm/overcommit_memory. Trimming is then explicit
 *    (jail_give_back_memory), through malloc_trim, which never shrinks
 *    those heaps.
 * Called in the before_seccomp hook of every jailed process corral starts. */
void jail_settle_libc(void);
/* Returns the allocator's free memory to the kernel when it holds more
 * than `above` bytes of it (0: always). Safe under the worker filter. */
void jail_give_back_memory(size_t above);
/* In a fresh fork: takes now, in a few system calls, the copy-on-write
 * faults its first work would take one by one (each costs an exception
 * and, on paravirtualised hosts, a trip to the hypervisor): the
 * executable's data and bss, and the top of the stack. Best effort. */
void jail_prefault_inherited(void);

/* Reaps a jailed process started by jail_spawn (the pid it returned) and
 * returns its wait status, or -1. `wait_first`: it is known to be on its
 * way out (its socket closed), so give it up to 200 ms to end by itself,
 * and its status is its own rather than our SIGKILL; otherwise, or after
 * that, it is killed. */
int jail_reap(pid_t pid, int wait_first); /* pid <= 0: nothing to reap, -1 */

/* Says how a process ended, from a wait status, for logs and errors:
 * "signal 31, SIGSYS: a forbidden system call" or "exit status 125 (its
 * jail failed)"; a negative status reads "status unknown". Returns buf. */
const char *jail_describe_status(int status, char *buf, size_t len);

/* Ends a jailed process through the system call itself: no atexit handler
 * of the parent may run in a jailed child, and the sanitizers wrap libc's
 * _exit with code that makes calls the worker filter forbids (sigaltstack).
 * Never returns, but is deliberately not declared noreturn: AddressSanitizer
 * instruments every call to a noreturn function with a sigaltstack query. */
void jail_exit(int code);

/* The steps, in the order jail_apply uses them; each fills the results of
 * its layers. Exposed for the zygote (whose children add only the rlimits
 * and the worker filter) and for the self-tests. */
void jail_unshare(const struct jail_config *cfg, int with_pid, struct jail_report *r);
void jail_close_fds(const int *keep, size_t keep_count, struct jail_layer_result *out);
void jail_empty_root(struct jail_layer_result *out);
int jail_rlimits_apply(const struct jail_config *cfg, struct jail_layer_result *out);
int jail_no_new_privs(struct jail_layer_result *out);
int jail_drop_caps(struct jail_layer_result *out);
int jail_seccomp_apply(enum jail_policy policy, struct jail_layer_result *out);

/* A policy compiled once (libseccomp takes ~0.4 ms per compile) and loaded
 * into many processes: the zygote's workers. The pid that ARGS_SELF rules
 * compare with is left as a stand-in and patched to the loading process's
 * own pid by jail_seccomp_load_compiled. */
struct sock_filter;
struct jail_bpf {
    struct sock_filter *insns;
    size_t count;
    size_t rules;               /* allowed calls, for the report */
    enum jail_policy policy;
};
int jail_seccomp_compile(enum jail_policy policy, struct jail_bpf *bpf, struct jail_layer_result *out);
/* Loads it into the calling process (which has no_new_privs set) through
 * the seccomp system call: stacked on any filter already there. */
int jail_seccomp_load_compiled(const struct jail_bpf *bpf, struct jail_layer_result *out);
void jail_bpf_free(struct jail_bpf *bpf);

/* The resource limits a worker gets under cfg: the one table of them. */
struct jail_rlimit {
    int resource;       /* RLIMIT_* */
    const char *name;   /* "RLIMIT_AS", ... */
    uint64_t value;     /* soft = hard = value; JAIL_UNLIMITED = left as inherited */
};
/* A forked process starts with its parent's whole address space (thread
 * stacks, other threads' malloc arenas): makes cfg's RLIMIT_AS that much
 * plus the budget, so the budget is what the worker may add. Call in the
 * parent, before the fork; without /proc it leaves cfg as it is. */
void jail_config_add_inherited_address_space(struct jail_config *cfg);
/* Fills up to max entries; returns how many the table has. */
size_t jail_rlimits_table(const struct jail_config *cfg, struct jail_rlimit *out, size_t max);

/* Records a layer's outcome: detail is formatted like printf. */
void jail_result_set(struct jail_layer_result *r, int active, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
