/* The engine layer: one QuickJS runtime per sandbox, and the glue that turns
 * JavaScript values into wire payloads and back.
 *
 * The engine never knows about processes, caches or other sandboxes. Every
 * effect a sandbox has on the world leaves through `struct engine_host`, a
 * table of callbacks its owner (the loader, in-process; later the jailed
 * worker's side of a socket) implements: sending a wire message, loading a
 * child worker, logging, scheduling a timer, counting a subrequest. That seam
 * is what lets the next layer move sandboxes into other processes without
 * touching this code.
 */
#ifndef CORRAL_ENGINE_H
#define CORRAL_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "corral.h"
#include "wire/wire.h"

struct sandbox;
struct workercode;

/* Why a sandbox was ended from outside or by a limit. */
enum sandbox_kill {
    SANDBOX_KILL_NONE = 0,
    SANDBOX_KILL_CPU,
    SANDBOX_KILL_MEMORY,
    SANDBOX_KILL_WALL,
    SANDBOX_KILL_DISCARDED,
    /* The jailed worker process holding the sandbox died, or was ended for
     * breaking the supervisor's protocol (lib/jail/supervisor.h). Never set
     * by the engine itself. */
    SANDBOX_KILL_CRASHED,
};

struct engine_host {
    /* A message leaving the sandbox (CALL, RETURN, THROW, RELEASE, CANCEL).
     * caps/payload are only valid during the call. For a CALL the host
     * answers later with sandbox_deliver(RETURN/THROW, same id). */
    void (*send)(void *host, struct sandbox *sb, const struct wire_msg *m);
    /* env.LOADER.load(code): the code is validated and owned by the host
     * from here on. Returns the import index of a handle naming the child,
     * or -1 with *err set. */
    int64_t (*load)(void *host, struct sandbox *sb, struct workercode *code, corral_error *err);
    /* env.LOADER.get(id): a handle at once; *need_code = 1 when the sandbox
     * must run the factory and call provide(). id NULL: anonymous. */
    int64_t (*get)(void *host, struct sandbox *sb, const char *id, int *need_code,
                   corral_error *err);
    /* The factory's result for a get() handle: code (owned by the host from
     * here on) or a failure. */
    void (*provide)(void *host, struct sandbox *sb, uint64_t handle, struct workercode *code,
                    const corral_error *failure);
    /* getEntrypoint(name, {props, limits}) on a child handle; or, with
     * handle == UINT64_MAX, ctx.exports.NAME({props}) on this sandbox itself.
     * Returns the import index of an entrypoint stub, or -1 with *err. */
    int64_t (*entrypoint)(void *host, struct sandbox *sb, uint64_t handle, const char *name,
                          const uint8_t *props, size_t props_len, const struct wire_cap *caps,
                          size_t cap_count, const corral_limits *limits, uint8_t *flags,
                          corral_error *err);
    void (*log)(void *host, struct sandbox *sb, corral_log_level level, const char *text,
                size_t len);
    /* Timers: the host calls sandbox_fire_timer(sb, id) when due. */
    void (*timer_set)(void *host, struct sandbox *sb, uint64_t id, double delay_ms);
    void (*timer_clear)(void *host, struct sandbox *sb, uint64_t id);
    /* fetch(): returns 0 and later calls sandbox_fetch_done(), or -1 with
     * *err set when refused right away (blocked network, limits). The
     * request is a payload {method, url, headers, body}. */
    int (*fetch)(void *host, struct sandbox *sb, uint64_t fetch_id, const uint8_t *req,
                 size_t req_len, corral_error *err);
    /* ctx.waitUntil(): one more (+1) or one fewer (-1) promise the
     * invocation must wait for. */
    void (*wait_until)(void *host, struct sandbox *sb, uint64_t invocation, int delta);
    /* The WIRE_CAP_F_* flags of an import (callable, not transferable). */
    uint8_t (*import_flags)(void *host, struct sandbox *sb, uint64_t index);
    /* A rejection nobody handled by the end of a turn. */
    void (*unhandled_rejection)(void *host, struct sandbox *sb, const char *text);
};

struct sandbox_config {
    const struct engine_host *host;
    void *host_data;
    uint64_t memory_bytes;
    uint64_t stack_bytes;
    uint64_t arg_bytes;         /* limit for payloads this sandbox encodes as call args */
    uint64_t result_bytes;      /* limit for payloads this sandbox encodes as results */
    const char *worker_id;
    const char *today;          /* "YYYY-MM-DD" for compatibility-date checks of children */
    corral_limits limits;       /* for validating children's WorkerCode */
};

/* Creates a fresh runtime with the web globals installed. NULL on failure
 * (*err set). */
struct sandbox *sandbox_new(const struct sandbox_config *cfg, corral_error *err);
/* Ends a sandbox by freeing its heap whole (builds with CORRAL_FULL_TEARDOWN
 * free the runtime object by object first, to catch forgotten references). */
void sandbox_free(struct sandbox *sb);
/* Gives a sandbox made ahead of time (sandbox_new on another thread, with a
 * generic config) the configuration of the worker that will use it. Call
 * on the thread that will run it. Returns 0, or -1 with *err if its heap
 * already exceeds cfg's memory limit. */
int sandbox_assign(struct sandbox *sb, const struct sandbox_config *cfg, corral_error *err);

/* Links and evaluates the module map. env is a payload (an object) whose
 * stubs name import indexes 0..n-1 already installed by the host. On
 * failure the error is kept and reported by every later call. Returns 0 or
 * -1. Evaluation may be asynchronous (top-level await): check
 * sandbox_ready(). */
int sandbox_start(struct sandbox *sb, const struct workercode *code, const uint8_t *env,
                  size_t env_len, const uint64_t *env_caps, size_t env_cap_count);

/* An incoming message from the router. For CALL, `target` is the local
 * export id; caps are import indexes in this sandbox's table. For CALLs on
 * an entrypoint export, `invocation` is an opaque token the host gets back
 * in host->send of the matching RETURN/THROW. */
void sandbox_deliver(struct sandbox *sb, const struct wire_msg *m, const uint64_t *caps);

/* Registers an entrypoint export (name + props payload) and returns its
 * local export id, used as a CALL target. */
int64_t sandbox_export_entrypoint(struct sandbox *sb, const char *name, const uint8_t *props,
                                  size_t props_len, const uint64_t *caps, size_t cap_count);
/* Drops an export (the last remote reference went away). */
void sandbox_release_export(struct sandbox *sb, uint64_t export_id);

void sandbox_fire_timer(struct sandbox *sb, uint64_t timer_id);
/* Completes a fetch: ok → payload is the response shape; else a thrown error payload. */
void sandbox_fetch_done(struct sandbox *sb, uint64_t fetch_id, int ok, const uint8_t *payload,
                        size_t len, const uint64_t *caps, size_t cap_count);

/* Runs pending promise jobs. Returns 0, or -1 if the sandbox was killed by a
 * limit during them (see sandbox_killed()). */
int sandbox_run_jobs(struct sandbox *sb);

/* CPU accounting. The host sets the CPU deadline (thread CPU time in ns)
 * before each turn; the interrupt handler stops JavaScript past it. */
void sandbox_set_cpu_deadline(struct sandbox *sb, uint64_t deadline_ns);
/* A turn's CPU clock that reads the thread's CPU time (a system call) only
 * when the turn turns out to need it: when the interrupt handler first
 * polls (the turn has run a while), or when it is about to wait for the
 * host (sandbox_turn_clock_read), whose time is not the sandbox's. Until
 * then the turn's wall time stands for its CPU time, which it can only
 * exceed; the reading, once taken, subtracts the wall time gone by as if
 * all of it had been CPU, so it too can only come out higher. The jailed
 * worker's turns use it: most last microseconds. */
void sandbox_turn_clock_begin(struct sandbox *sb, uint64_t budget_ns);
void sandbox_turn_clock_read(struct sandbox *sb);
/* Ends the turn's clock and deadline; returns the CPU time it used. */
uint64_t sandbox_turn_clock_end(struct sandbox *sb);
enum sandbox_kill sandbox_killed(const struct sandbox *sb);
/* Marks the sandbox dead: JavaScript stops at the next interrupt poll,
 * allocations fail. Safe to call from another thread (the watchdog). */
void sandbox_kill(struct sandbox *sb, enum sandbox_kill why);
size_t sandbox_memory_used(const struct sandbox *sb);
/* Takes the copy-on-write faults of the sandbox's memory now (a fresh
 * worker's inherited spare runtime; heap_prefault). */
void sandbox_prefault(const struct sandbox *sb);
/* The invocation token (router call id) whose turn is running, for logs
 * and limits. */
uint64_t sandbox_current_invocation(const struct sandbox *sb);

/* ---- the compiled-module cache (modcache.c) ---- */

/* At most this many bytes of module text and bytecode are kept per process. */
#define MODCACHE_BYTES (8u << 20)

struct engine_modcache_stats {
    uint64_t hits, misses, admitted, evicted;
    size_t entries, bytes;
};
void engine_modcache_stats(struct engine_modcache_stats *out);
/* Forgets every cached module. A zygote calls it first: it is a copy of
 * the host, whose own sandboxes' code must not reach its workers. */
void engine_modcache_clear(void);

/* ---- the hard backstop (escape.c) ---- */

/* Runs fn(arg) as a guarded turn: engine_escape_request() from another
 * thread, naming the turn number published in *published_turn, makes it
 * return 1 at the next point where the thread is inside QuickJS's own code.
 * The sandbox whose turn was escaped must then be released with
 * sandbox_release_abandoned(), never used or freed otherwise. Returns 0 when
 * fn returned normally. */
int engine_run_guarded(void (*fn)(void *), void *arg, _Atomic uint64_t *published_turn);
void engine_escape_request(uint64_t turn, pthread_t thread);
/* The signal the escape uses (SIGRTMIN+7); installed on first use. */
int engine_escape_signal(void);
/* Releases an escaped sandbox's memory (its heap's chunks and large
 * blocks), without running any of its code or reading its objects. */
void sandbox_release_abandoned(struct sandbox *sb);
/* A guarded turn is escapable only while it runs JavaScript: corral code
 * wraps each call into the engine in ENGINE_JS(), and every function
 * QuickJS calls back into (natives, stub hooks, the module loader, the
 * allocator) opens ENGINE_UNSAFE_SCOPE() at entry, so an escape never
 * lands in corral's code or in libc. */
int engine_unsafe_enter(void);
void engine_unsafe_leave(int *unused);
int engine_js_enter(void);
void engine_js_leave(int saved);
#define ENGINE_UNSAFE_SCOPE() \
    int engine_unsafe_scope_ __attribute__((cleanup(engine_unsafe_leave), unused)) = \
        engine_unsafe_enter()
#define ENGINE_JS(expr)                                 \
    __extension__({                                     \
        int engine_js_saved_ = engine_js_enter();       \
        __typeof__(expr) engine_js_result_ = (expr);    \
        engine_js_leave(engine_js_saved_);              \
        engine_js_result_;                              \
    })

/* Thread CPU time of the calling thread, in ns: a system call (the vDSO
 * does not serve CPU-time clocks). */
uint64_t engine_thread_cpu_ns(void);
/* The same clock, estimated from the monotonic clock (which the vDSO
 * serves) when the last reading on this thread is under 5 µs old: the
 * CPU time elapsed since is at most the wall time elapsed. The estimate
 * is never behind the thread's CPU clock, and ahead of it by at most the
 * time the thread spent descheduled since the last real reading, which is
 * taken at least once a millisecond. For turn boundaries, which a
 * capability round trip crosses several times a microsecond apart. */
uint64_t engine_thread_cpu_ns_cheap(void);
/* CPU time since `start` (a reading of either function), never negative:
 * an estimate may run ahead of a later real reading. */
uint64_t engine_thread_cpu_since(uint64_t start);
/* Drops this thread's last reading. A forked child calls it before its
 * first turn: its CPU clock starts again from zero, and an estimate built
 * on the parent's reading would push its deadlines out by the parent's CPU
 * time. (A fork takes far longer than the 5 µs an estimate may span, so
 * this is a second guard, not the only one.) */
void engine_thread_cpu_forget(void);

/* Builds the wire payload of an Error value: {name, message, stack?}. */
uint8_t *engine_error_payload(const char *name, const char *message, const char *stack,
                              size_t *len);

#endif
