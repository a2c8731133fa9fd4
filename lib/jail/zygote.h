/* The zygote: a jailed, pre-initialised process that forks workers.
 *
 * Starting a worker with jail_spawn costs a fork of the host, every
 * namespace, a pivot into the empty root and a seccomp compile — about
 * 2 ms, and the worker begins as a copy of the host's address space. A
 * supervisor instead starts one zygote through jail_spawn (under the
 * zygote policy, in the same namespaces and empty root as its workers),
 * and asks it for workers: a worker is then a fork of a small process that
 * already holds QuickJS with the built-in JavaScript evaluated (a spare
 * runtime every child inherits), plus the worker rlimits and a filter
 * compiled once. See docs/jail.md ("The zygote").
 *
 * The zygote never runs sandbox code and only talks to its supervisor, so
 * the supervisor trusts what it says about its own children (their exit
 * statuses) but nothing a worker says. A worker's pid as the supervisor
 * sees it comes from the kernel (SO_PASSCRED on the worker's first
 * message), never from the zygote or the worker.
 */
#ifndef CORRAL_JAIL_ZYGOTE_H
#define CORRAL_JAIL_ZYGOTE_H

#include <stdint.h>
#include <sys/types.h>

#include "corral.h"
#include "jail/jail.h"

struct jail_zygote;

/* Starts a zygote. NULL with *err set when it could not jail itself. */
struct jail_zygote *jail_zygote_start(corral_error *err);
/* Closes its socket (the zygote exits, and every worker it made dies with
 * it: they are in its PID namespace, and each has PR_SET_PDEATHSIG) and
 * reaps it. `died`: its socket already said it is gone, so wait up to
 * 200 ms for its own exit before killing. Returns the wait status, or -1. */
int jail_zygote_free(struct jail_zygote *z, int died);

/* The socket to watch: readable when a child's exit status arrives or the
 * zygote died. */
int jail_zygote_fd(const struct jail_zygote *z);
/* The zygote's own jail, as jail_spawn reported it. */
const struct jail_report *jail_zygote_report(const struct jail_zygote *z);
pid_t jail_zygote_pid(const struct jail_zygote *z);

struct jail_zygote_spawn {
    int fd;                         /* the worker's end of its socket; the caller closes its copy */
    uint64_t token;                 /* names the child in jail_zygote_kill and exit reports */
    int prewarm;                    /* the worker keeps a spare runtime for its next sandbox */
    unsigned spin_us;               /* the worker's busy-polling (struct jail_in.spin_us) */
    void (*test_hook)(uint64_t what); /* test builds: run by the worker on JD_HOOK */
};
/* Asks for a worker. The worker's first message on its socket is
 * JAIL_WORKER_HELLO (read it with jail_worker_hello); a fork that failed
 * shows as the socket closing. Returns 0, or -1 when the zygote is gone. */
int jail_zygote_spawn(struct jail_zygote *z, const struct jail_zygote_spawn *req);
/* SIGKILLs the child with this token, if it still lives. The zygote only
 * reaps a child it has reported, so a token never names a reused pid. */
int jail_zygote_kill(struct jail_zygote *z, uint64_t token);
/* Reads the exit reports that have arrived, waiting up to timeout_ms for
 * the first (0: none). Returns how many were read, or -1 once the zygote
 * has died (its socket closed). */
int jail_zygote_read(struct jail_zygote *z, int timeout_ms,
                     void (*exited)(void *ud, uint64_t token, int status), void *ud);

/* The worker's first message, sent by the child before it reads anything. */
#define JAIL_WORKER_HELLO 0x4f4c4c4548524f43ull /* "CORHELLO" */
/* Reads it from a socket with SO_PASSCRED set, within timeout_ms, and
 * returns the worker's pid in the caller's PID namespace (from the kernel's
 * credentials), or -1 (errno ETIMEDOUT, EPIPE for a closed socket, EPROTO
 * for anything but the hello). Turns SO_PASSCRED off again. */
pid_t jail_worker_hello(int fd, int timeout_ms);

#endif
