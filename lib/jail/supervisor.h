/* The supervisor: sandboxes that live in jailed worker processes, driven
 * through the same operations as the engine's in-process sandboxes.
 *
 * The loader owns one supervisor when its isolation mode is not inline. A
 * struct jail_sandbox stands for a sandbox inside a worker: every
 * jail_sandbox_* call is the sandbox_* function of lib/engine/engine.h
 * carried over the worker's socket (proto.h), and every callback the
 * sandbox makes comes back as an upcall that the supervisor validates and
 * hands to the same struct engine_host the loader gives local sandboxes
 * (with a NULL sandbox pointer: the loader asks jail_sandbox_invocation()
 * for the invocation instead). A turn is synchronous, as it is in-process:
 * the call returns once the worker says the turn is over, or once the
 * supervisor has ended the worker — because the turn ran past its CPU
 * budget plus a grace period (the hard CPU limit), because the worker broke
 * the protocol, or because it died.
 *
 * Which worker a new sandbox goes to is the isolation mode's choice
 * (corral_isolation): a pool shared by every sandbox, a worker per tenant
 * key, or a fresh worker per sandbox that ends with it. Workers are jailed
 * with every layer of lib/jail before they run sandbox code.
 */
#ifndef CORRAL_JAIL_SUPERVISOR_H
#define CORRAL_JAIL_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "corral.h"
#include "engine/engine.h"
#include "jail/jail.h"

struct jail_supervisor;
struct jail_sandbox;
struct workercode;

struct jail_supervisor_config {
    corral_isolation mode;          /* POOL, TENANT or PROCESS */
    size_t pool_size;               /* workers in the pool (and per tenant); 0 = online CPUs */
    uint64_t max_sandboxes_per_worker; /* recycle a worker after this many sandboxes; 0 = 1000 */
    uint64_t max_worker_memory;     /* recycle once its heap passes this; 0 = 512 MiB */
    uint64_t grace_ms;              /* past a turn's CPU budget before the worker is killed; 0 = 100 */
    int epfd;                       /* an epoll set that wakes the owner's loop (or -1) */
    unsigned spin_us;               /* busy-polling on turn sockets (struct jail_in.spin_us) */
    const struct engine_host *host; /* where upcalls go; host_data is the sandbox's */
};

struct jail_supervisor *jail_supervisor_new(const struct jail_supervisor_config *cfg,
                                            corral_error *err);
/* Ends every worker. Sandboxes still held must be freed first. */
void jail_supervisor_free(struct jail_supervisor *s);

/* Reaps workers that died or spoke out of turn while idle. Each sandbox
 * they held is marked crashed (jail_sandbox_killed() says so) and
 * reported to lost(ud, host_data) once; the owner ends its invocations.
 * Call from the owner's loop, never inside a turn. */
void jail_supervisor_poll(struct jail_supervisor *s, void (*lost)(void *ud, void *host_data),
                          void *ud);
/* Whether poll has sandboxes to report without waiting for the socket
 * (workers that died during another sandbox's turn). */
int jail_supervisor_pending(const struct jail_supervisor *s);

struct jail_supervisor_stats {
    size_t workers;                 /* live worker processes */
    uint64_t workers_started, workers_crashed, workers_recycled, cpu_kills;
    uint64_t zygotes_started, workers_from_zygote;
};
void jail_supervisor_stats(const struct jail_supervisor *s, struct jail_supervisor_stats *out);
/* One line saying where sandboxes run and which jail layers protect them
 * (for a startup log); snprintf's return convention. */
size_t jail_supervisor_describe(const struct jail_supervisor *s, char *buf, size_t len);
/* The zygote's jailed process as this process sees it; 0 while there is
 * none (not started yet, or it could not start). */
pid_t jail_supervisor_zygote_pid(const struct jail_supervisor *s);
/* The pids of live workers as this process sees them (for /proc), up to
 * max; returns how many there are. */
size_t jail_supervisor_worker_pids(const struct jail_supervisor *s, pid_t *out, size_t max);
/* Serves sandboxes over a socket whose other end the caller runs (it
 * speaks proto.h as a worker would): for the fuzzer and for tests that play
 * a hostile worker. The supervisor owns fd from here on; the process, if
 * any, is the caller's to reap. The adopted worker takes the pool's next
 * sandbox. Returns 0, or -1 with no memory. */
int jail_supervisor_adopt(struct jail_supervisor *s, int fd);
/* Tests only: fn runs inside workers started from now on whenever
 * jail_supervisor_hook() is sent to them, under the full jail (the test
 * binary uses it to make a worker issue a forbidden system call). */
void jail_supervisor_set_test_hook(struct jail_supervisor *s, void (*fn)(uint64_t what));
void jail_supervisor_hook(struct jail_supervisor *s, uint64_t what);

/* ---- sandboxes in workers: the engine's downcalls ------------------------ */

/* sandbox_new in a worker chosen for `tenant` (NULL: none). */
struct jail_sandbox *jail_sandbox_new(struct jail_supervisor *s, const char *tenant,
                                      const struct sandbox_config *cfg, corral_error *err);
void jail_sandbox_free(struct jail_sandbox *r);
/* Why the worker could not create r (NULL while it did, or has not said):
 * known once the first turn has run. jail_sandbox_new does not wait for
 * the worker, so a creation failure surfaces from the first turn, which
 * then ends at once with the sandbox killed. */
const corral_error *jail_sandbox_start_error(const struct jail_sandbox *r);
/* The CPU budget (ns of the worker's thread time) of the next turn. */
void jail_sandbox_set_cpu_budget(struct jail_sandbox *r, uint64_t budget_ns);
/* Prepares START, which leaves with the next turn (the loader starts a
 * sandbox to deliver a call to it): one round trip for both. Returns 0,
 * or -1 when the message could not be built. How the start ended is known
 * once that turn has run: jail_sandbox_start_kill, and
 * jail_sandbox_start_error for a sandbox the worker could not create. */
int jail_sandbox_start(struct jail_sandbox *r, const struct workercode *code, const uint8_t *env,
                       size_t env_len, const uint64_t *env_caps, size_t env_cap_count);
/* The limit (or crash) that ended START; SANDBOX_KILL_NONE while it ran
 * to its end or has not run yet. The turn sent with it then ended at once
 * in the worker, without running anything. */
enum sandbox_kill jail_sandbox_start_kill(const struct jail_sandbox *r);
void jail_sandbox_deliver(struct jail_sandbox *r, const struct wire_msg *m, const uint64_t *caps);
/* sandbox_export_entrypoint + sandbox_deliver(CALL on it) +
 * sandbox_release_export, in one turn and one message. */
void jail_sandbox_deliver_entry(struct jail_sandbox *r, const char *name, const uint8_t *props,
                                size_t props_len, const uint64_t *props_caps, size_t props_cap_count,
                                const struct wire_msg *m, const uint64_t *caps);
void jail_sandbox_release_export(struct jail_sandbox *r, uint64_t export_id);
void jail_sandbox_fire_timer(struct jail_sandbox *r, uint64_t timer_id);
void jail_sandbox_fetch_done(struct jail_sandbox *r, uint64_t fetch_id, int ok,
                             const uint8_t *payload, size_t len, const uint64_t *caps,
                             size_t cap_count);
/* Marks the sandbox ended (the wall-time limit): later turns are refused. */
void jail_sandbox_kill(struct jail_sandbox *r, enum sandbox_kill why);
enum sandbox_kill jail_sandbox_killed(const struct jail_sandbox *r);
/* Why a SANDBOX_KILL_CRASHED sandbox was lost ("The sandbox's worker
 * process died (signal 31, SIGSYS: a forbidden system call)."). */
const char *jail_sandbox_crash_message(const struct jail_sandbox *r);
/* The invocation the worker said its current upcall runs for. */
uint64_t jail_sandbox_invocation(const struct jail_sandbox *r);
/* Worker CPU time of the last turn, and heap in use after it. */
uint64_t jail_sandbox_turn_cpu_ns(const struct jail_sandbox *r);
size_t jail_sandbox_memory_used(const struct jail_sandbox *r);
/* The worker process holding it, as this process sees it (0 if gone). */
pid_t jail_sandbox_pid(const struct jail_sandbox *r);

/* ---- the worker side (worker_main.c) ------------------------------------ */

/* After jail_spawn of `who` ("a worker process"; `Who` begins a sentence)
 * returned pid < 0 (with spawn_errno) or a report that is not ok: reaps
 * what started and sets err to say which. */
void jail_spawn_failed(pid_t pid, int spawn_errno, const struct jail_report *rep, const char *who,
                       const char *Who, corral_error *err);

struct jail_worker_args {
    int fd;                         /* the socket to the supervisor */
    int prewarm;                    /* keep a spare runtime for the next sandbox */
    unsigned spin_us;               /* busy-polling on its socket (struct jail_in.spin_us) */
    void (*test_hook)(uint64_t what);
    /* A runtime built before the fork (the zygote's, inherited copy-on-
     * write), handed to the first sandbox; NULL for none. */
    struct sandbox *spare;
};
/* The jailed worker's loop: serves downcalls on args->fd until the socket
 * closes. Returns the exit code. */
int jail_worker_main(void *args);
/* Builds a runtime with the worker's host callbacks and generic limits, for
 * the zygote to keep so that every worker it forks inherits it as a spare
 * (sandbox_assign gives it the real limits, clocks and random seed). */
struct sandbox *jail_worker_prepare_spare(void);

#endif
