/* Resource limits of jailed processes: the one place they are set.
 *
 * A worker can only compute and talk on its socket, so most limits are
 * zero: they are a second line behind the seccomp filter (which already
 * forbids fork, open and friends) and the whole defence on a machine where
 * a filter could not be loaded for one call or another. The address space
 * and CPU seconds are backstops behind the engine's own memory and CPU
 * limits: a builtin that never polls the interrupt handler, or an allocator
 * bug, still meets the kernel. Soft and hard are set equal so the limits
 * cannot be raised again; a limit that is already lower than ours is kept.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "jail/jail.h"

size_t jail_rlimits_table(const struct jail_config *cfg, struct jail_rlimit *out, size_t max) {
    uint64_t as = cfg->address_space_bytes ? cfg->address_space_bytes : JAIL_DEFAULT_AS_BYTES;
    uint64_t cpu = cfg->cpu_seconds ? cfg->cpu_seconds : JAIL_DEFAULT_CPU_SECONDS;
    const struct jail_rlimit table[] = {
        /* Address space: the engine's heap limit is per sandbox; this caps
         * the whole process (heaps, stacks, fragmentation) so a worker
         * cannot take the machine's memory. Exceeding it fails mmap/brk,
         * which the engine reports as out of memory. */
        {RLIMIT_AS, "RLIMIT_AS", as},
        /* CPU seconds of the whole process: a hard backstop behind the
         * per-invocation CPU limit and the supervisor's watchdog; at the
         * limit the kernel sends SIGKILL (soft = hard). Not for the
         * zygote: it runs no sandbox code, its fork costs add up over a
         * long life, and its death would end every worker it made. Each
         * worker it forks sets the limit for itself (counted from zero). */
        {RLIMIT_CPU, "RLIMIT_CPU", cfg->policy == JAIL_POLICY_ZYGOTE ? JAIL_UNLIMITED : cpu},
        /* No core files: a crashing worker must not write its memory
         * (other tenants' data in pool mode) anywhere. */
        {RLIMIT_CORE, "RLIMIT_CORE", 0},
        /* No new processes. The count is per real user (per user namespace
         * since Linux 5.14), and the kernel exempts a real uid of host root
         * from it, so it only binds a worker that is not host root; the
         * seccomp filter forbids fork/clone for every worker anyway. The
         * zygote must fork, so it keeps the inherited value. */
        {RLIMIT_NPROC, "RLIMIT_NPROC", cfg->policy == JAIL_POLICY_ZYGOTE ? JAIL_UNLIMITED : 0},
        /* No byte written to any file (there is none to open in the empty
         * root; this covers the machines without one). */
        {RLIMIT_FSIZE, "RLIMIT_FSIZE", 0},
        /* Few descriptors: the socket to the supervisor and some slack; a
         * descriptor flood fails with EMFILE instead of exhausting the
         * system table. */
        {RLIMIT_NOFILE, "RLIMIT_NOFILE", 16},
        /* No locked memory: nothing pins pages the host may need. */
        {RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", 0},
        /* No POSIX message queue bytes (an IPC channel we do not use). */
        {RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE", 0},
    };
    size_t n = sizeof table / sizeof table[0];
    for (size_t i = 0; i < n && i < max; i++) out[i] = table[i];
    return n;
}

void jail_config_add_inherited_address_space(struct jail_config *cfg) {
    uint64_t as = cfg->address_space_bytes ? cfg->address_space_bytes : JAIL_DEFAULT_AS_BYTES;
    if (as == JAIL_UNLIMITED) return;
    FILE *f = fopen("/proc/self/statm", "re");
    if (!f) return;
    unsigned long long pages = 0;
    if (fscanf(f, "%llu", &pages) != 1) pages = 0;
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    if (page > 0) cfg->address_space_bytes = as + pages * (uint64_t)page;
}

int jail_rlimits_apply(const struct jail_config *cfg, struct jail_layer_result *out) {
    struct jail_rlimit t[16];
    size_t n = jail_rlimits_table(cfg, t, 16);
    size_t set = 0;
    char inherited[64] = "";
    for (size_t i = 0; i < n; i++) {
        if (t[i].value == JAIL_UNLIMITED) {
            size_t len = strlen(inherited);
            snprintf(inherited + len, sizeof inherited - len, "%s%s", len ? ", " : "; inherited: ", t[i].name + 7);
            continue;
        }
        struct rlimit cur;
        if (getrlimit(t[i].resource, &cur) != 0) {
            jail_result_set(out, 0, errno, "getrlimit(%s): %s", t[i].name, strerror(errno));
            return -1;
        }
        rlim_t v = (rlim_t)t[i].value;
        if (cur.rlim_max != RLIM_INFINITY && cur.rlim_max < v) v = cur.rlim_max;
        struct rlimit want = {v, v};
        if (setrlimit(t[i].resource, &want) != 0) {
            jail_result_set(out, 0, errno, "setrlimit(%s, %llu): %s", t[i].name,
                            (unsigned long long)v, strerror(errno));
            return -1;
        }
        set++;
    }
    jail_result_set(out, 1, 0, "%zu limits set, soft = hard%s", set, inherited);
    return 0;
}
