/* corral.h — the one public header of libcorral.
 *
 * corral runs code that arrives at run time (most of it written by language
 * models) in fresh QuickJS sandboxes that can reach nothing except the
 * capabilities their host lends them. It follows Cloudflare's Worker Loader
 * API (Dynamic Workers): a host hands a *loader* some *WorkerCode* and gets a
 * *worker* stub back; it then calls the worker's `fetch` or any RPC method of
 * any entrypoint. Inside the sandbox, capabilities appear as `env` bindings
 * whose methods are host C callbacks, other workers' entrypoints, or a
 * `LOADER` binding through which sandboxed code loads further sandboxes.
 *
 * Threading and the loop. A loader is single-threaded: call every function on
 * one loader from the same thread. libcorral starts helper threads of its
 * own per loader — the CPU watchdog, the sandbox prewarmer, and (with
 * corral_loader_allow_net) the HTTP client — none of which ever calls host
 * code; the watchdog signals the loop thread with SIGRTMIN+7, which the
 * host must leave to corral (docs/limits.md). Work progresses only inside
 * corral_loader_step() / corral_loader_run(); a host with its own event loop
 * polls corral_loader_fd() for readability and calls corral_loader_step(l, 0)
 * when it fires (and at least every corral_loader_timeout() ms). Callbacks
 * (capability methods, completions, tails, outbound) are made from inside
 * those calls, never from another thread.
 *
 * Ownership. Objects returned by *_new / corral_load / corral_get belong to the
 * caller until passed to the matching *_free / *_release. Strings passed in
 * are copied. Pointers inside a corral_result are valid only during the
 * callback that receives it.
 *
 * Errors. Functions that can fail take a `corral_error *` (may be NULL) and
 * return NULL or a negative corral_status. An error always has a `name` a
 * program may compare (TypeError, CpuLimitError, ...) and a `message` a person
 * can act on, naming the offending value and the limit that was hit.
 */
#ifndef CORRAL_H
#define CORRAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CORRAL_VERSION "0.1.0"
#define CORRAL_VERSION_NUM 0x000100

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum corral_status {
    CORRAL_OK = 0,
    CORRAL_EINVAL = -1,     /* the input was wrong (bad WorkerCode, bad JSON, bad name) */
    CORRAL_ENOMEM = -2,     /* memory ran out on the host side */
    CORRAL_ELIMIT = -3,     /* a configured limit was hit */
    CORRAL_EBUSY = -4,      /* capacity is full: retry later */
    CORRAL_ESTATE = -5,     /* the object is in the wrong state for this call */
} corral_status;

typedef struct corral_error {
    int status;             /* a corral_status */
    char name[64];          /* e.g. "TypeError", "Error", "MemoryLimitError" */
    char message[1024];     /* NUL-terminated; truncated with "..." if longer */
} corral_error;

/* ------------------------------------------------------------------------ */
/* Limits                                                                   */
/* ------------------------------------------------------------------------ */

/* Per-invocation limits. Zero in any field means "not set here": the value
 * comes from the next outer level (call → WorkerCode → loader → built-in
 * default). An inner level can only lower a limit, never raise it. */
typedef struct corral_limits {
    uint64_t cpu_ms;            /* CPU time of one invocation. Default 30000. CpuLimitError */
    uint64_t wall_ms;           /* wall-clock time of one invocation. Default 60000. WallTimeLimitError */
    uint64_t memory_bytes;      /* heap of one sandbox. Default 128 MiB. MemoryLimitError */
    uint64_t stack_bytes;       /* JavaScript stack of one sandbox. Default 512 KiB. RangeError */
    uint64_t module_bytes;      /* sum of module sources. Default 64 MiB (the reference's limit) */
    uint64_t env_bytes;         /* serialized env. Default 1 MiB (the reference's limit) */
    uint64_t arg_bytes;         /* serialized arguments of one call. Default 32 MiB. ArgumentSizeLimitError */
    uint64_t result_bytes;      /* serialized result of one call. Default 32 MiB. ResultSizeLimitError */
    uint64_t subrequests;       /* outbound fetch() per invocation. Default 1000. SubrequestLimitError */
    uint64_t calls;             /* capability calls per invocation. Default 10000. CallLimitError */
    uint64_t log_bytes;         /* console output kept per invocation. Default 256 KiB; then truncated */
} corral_limits;

/* Fills *l with the built-in defaults listed above. */
void corral_limits_default(corral_limits *l);

/* ------------------------------------------------------------------------ */
/* The loader                                                               */
/* ------------------------------------------------------------------------ */

typedef struct corral_loader corral_loader;

/* Where a loader's sandboxes run (docs/jail.md has what each protects
 * against and what it costs). In every jailed mode a sandbox lives in a
 * worker process that has put the whole jail (namespaces, empty root,
 * rlimits, no_new_privs, no capabilities, a seccomp allow-list) around
 * itself before running a byte of sandbox code; everything between it and
 * the host crosses one socket in the wire format, and the host treats
 * every byte from it as hostile. A worker that dies ends the sandboxes it
 * held with SandboxCrashedError (outcome CORRAL_OUTCOME_CRASHED); code that
 * runs past its CPU limit without ever yielding to the engine is stopped by
 * killing its worker (CpuLimitError).
 *
 * Workers are forks of a zygote: a jailed process, started when the loader
 * is created, that holds a ready QuickJS runtime. It keeps a copy of this
 * process's memory as it is when corral_loader_new runs (minus the
 * environment and command line, which it zeroes), so create loaders before
 * reading secrets into memory. */
typedef enum corral_isolation {
    CORRAL_ISOLATION_DEFAULT = 0,   /* POOL */
    /* In this process: no second boundary under the engine. The weaker
     * choice, for embedders that ask for it explicitly and for tests. */
    CORRAL_ISOLATION_INLINE,
    /* A pool of long-lived jailed workers shared by every sandbox, each
     * sandbox still in a fresh QuickJS runtime. */
    CORRAL_ISOLATION_POOL,
    /* Workers keyed by the code's tenant (corral_code_set_tenant, WorkerCode
     * "tenant"): two tenants never share an address space. */
    CORRAL_ISOLATION_TENANT,
    /* A fresh worker for every sandbox, ended with it: for the most hostile
     * code; costs a jailed process start per sandbox. */
    CORRAL_ISOLATION_PROCESS,
} corral_isolation;

/* "inline", "pool", "tenant", "process"; -1 for anything else. */
int corral_isolation_parse(const char *name);

/* The most corral_options.busy_poll_us may ask for: 0.1 s. */
#define CORRAL_BUSY_POLL_MAX_US 100000

typedef struct corral_options {
    corral_limits limits;       /* loader-wide defaults; zero fields take built-in defaults */
    size_t cache_capacity;      /* workers kept by corral_get() ids; LRU beyond. Default 1024 */
    size_t max_sandboxes;       /* live sandboxes at once; more are refused (CORRAL_EBUSY). Default 100000 */
    const char *today;          /* "YYYY-MM-DD" used for compatibility-date checks; NULL = today (UTC) */
    /* Fresh sandboxes kept ready, built (and used ones freed) on a helper
     * thread, so a cold load does not wait for QuickJS to set up a runtime.
     * Each is still used once. Default 4; 0 = no helper thread. */
    size_t prewarm_sandboxes;
    /* Where sandboxes run (corral_isolation above). Default (0): POOL.
     * INLINE must be asked for. `corral` commands take --isolation. */
    corral_isolation isolation;
    /* Jailed modes: worker processes in the pool (and per tenant key);
     * 0 = the number of online CPUs. */
    size_t isolation_workers;
    /* Jailed modes: a pooled worker is replaced after running this many
     * sandboxes; 0 = 1000. */
    uint64_t isolation_worker_sandboxes;
    /* Busy-polling, in µs: before a wait that may sleep (corral_loader_step
     * with a timeout, while the last such wait was this short; and a
     * jailed worker's socket, on both ends, once a few exchanges in a row
     * were answered this fast), keep checking for this long. Waking a
     * sleeping thread costs tens of µs on virtual machines, so a capability
     * or tool call answered within the window returns several times sooner;
     * the price is up to this much CPU per wait while calls come quickly.
     * The first exchanges after a quiet spell never spin: the peer is
     * asleep, and the kernel often wakes it on the spinner's own CPU.
     * Default 50; 0 = always sleep (hosts that value idle CPU most); at
     * most CORRAL_BUSY_POLL_MAX_US (more is taken as that). */
    unsigned busy_poll_us;
} corral_options;

void corral_options_default(corral_options *o);

/* Creates a loader. opts may be NULL for defaults. */
corral_loader *corral_loader_new(const corral_options *opts, corral_error *err);

/* Frees the loader, every sandbox it holds, and every pending operation
 * (their completion callbacks are not called). Capability calls the host has
 * not completed become invalid. */
void corral_loader_free(corral_loader *l);

/* A file descriptor that becomes readable when work arrives from outside a
 * step (a call from the host between steps, a completion posted from
 * another thread, a worker process). Work queued during a step shows in
 * corral_loader_timeout() instead. */
int corral_loader_fd(corral_loader *l);

/* Milliseconds until the loader must be stepped again: 0 when work is
 * already queued, else until its next timer is due, or -1 if none. */
int corral_loader_timeout(corral_loader *l);

/* Runs ready work, waiting up to timeout_ms (0: do not wait, -1: wait until
 * something happens). Returns the number of operations still pending
 * (invocations, timers, capability calls awaiting the host), or a negative
 * corral_status. */
int corral_loader_step(corral_loader *l, int timeout_ms);

/* Runs until no operation is pending. Returns CORRAL_OK. Capability calls the
 * host has not completed keep it waiting, so a host that completes them
 * elsewhere must use corral_loader_step() instead. */
int corral_loader_run(corral_loader *l);

/* ------------------------------------------------------------------------ */
/* Capabilities: host objects lent to sandboxes                              */
/* ------------------------------------------------------------------------ */

typedef struct corral_capability corral_capability;
typedef struct corral_call corral_call;

/* Called when sandbox code calls `env.NAME.method(...)`. The call completes
 * when the host calls corral_call_return_json() or corral_call_throw() on
 * it — during the callback or later (for example from the host's own I/O);
 * until then the sandbox awaits a promise. Every call must be completed
 * exactly once; completing a call whose invocation has already ended is safe
 * (the answer is dropped). */
typedef void (*corral_method_fn)(corral_call *call, void *userdata);

/* Creates a capability object; `name` is used in errors and logs. The
 * capability is reference-counted: WorkerCode that binds it keeps it alive. */
corral_capability *corral_capability_new(corral_loader *l, const char *name);

/* Adds a method. Names must be JavaScript identifiers; methods must be added
 * before the capability is bound. */
int corral_capability_add_method(corral_capability *c, const char *method, corral_method_fn fn,
                                 void *userdata, corral_error *err);

void corral_capability_release(corral_capability *c);

/* The capability's method names, in the order they were added: writes up
 * to `max` borrowed pointers (valid while the capability lives) and
 * returns how many methods there are. */
size_t corral_capability_methods(const corral_capability *c, const char **names, size_t max);

/* The method being called. */
const char *corral_call_method(const corral_call *call);
/* The arguments as a JSON array (see corral_result.value_json for the
 * mapping of non-JSON values). Valid until the call is completed. */
const char *corral_call_args_json(const corral_call *call, size_t *len);
/* The name of the worker that made the call, for logs. */
const char *corral_call_worker_id(const corral_call *call);

/* Completes the call with a JSON value (json may be NULL for undefined). */
int corral_call_return_json(corral_call *call, const char *json, size_t len);
/* Completes the call by throwing `new Error(message)` (with .name = name, or
 * "Error" if NULL) inside the sandbox. */
int corral_call_throw(corral_call *call, const char *name, const char *message);

/* ------------------------------------------------------------------------ */
/* WorkerCode                                                               */
/* ------------------------------------------------------------------------ */

typedef struct corral_code corral_code;

typedef enum corral_module_type {
    CORRAL_MODULE_INFER = 0,    /* a plain string value: type from the name (.js → ES module) */
    CORRAL_MODULE_JS,           /* {js: ...}   ES module */
    CORRAL_MODULE_CJS,          /* {cjs: ...}  CommonJS (module.exports, require) */
    CORRAL_MODULE_TEXT,         /* {text: ...} default export is the string */
    CORRAL_MODULE_DATA,         /* {data: ...} default export is an ArrayBuffer */
    CORRAL_MODULE_JSON,         /* {json: ...} default export is the parsed value (source is JSON text) */
    CORRAL_MODULE_PY,           /* {py: ...}   not supported yet: refused at validation */
    CORRAL_MODULE_WASM,         /* {wasm: ...} not supported yet: refused at validation */
} corral_module_type;

typedef enum corral_outbound {
    CORRAL_OUTBOUND_BLOCK = 0,  /* fetch() throws the reference's "not permitted" error (default) */
    CORRAL_OUTBOUND_HOST,       /* fetch() goes to the loader's outbound handler */
} corral_outbound;

corral_code *corral_code_new(void);
void corral_code_free(corral_code *c);

/* Builds WorkerCode from JSON of the reference's shape:
 * {"compatibilityDate", "compatibilityFlags", "mainModule", "modules", "env",
 *  "limits": {"cpuMs", "subRequests", ...}}. Module values are strings or
 * objects with exactly one of js/cjs/text/data (base64 or array of bytes)/
 * json/py/wasm. Shape errors are reported here; semantic validation happens
 * in corral_load(). */
corral_code *corral_code_from_json(const char *json, size_t len, corral_error *err);

int corral_code_set_compatibility_date(corral_code *c, const char *date);
int corral_code_add_compatibility_flag(corral_code *c, const char *flag);
int corral_code_set_main_module(corral_code *c, const char *name);
int corral_code_add_module(corral_code *c, const char *name, corral_module_type type,
                           const void *source, size_t len);
/* Plain `env` values from a JSON object; merged with bindings below. */
int corral_code_set_env_json(corral_code *c, const char *json, size_t len, corral_error *err);
/* Lends a capability as env[name]. */
int corral_code_bind_capability(corral_code *c, const char *name, corral_capability *cap);
/* Gives the worker a Worker Loader binding env[name] (`env.LOADER.load(code)`,
 * `env.LOADER.get(id, factory)`). Workers it loads live in the same loader. */
int corral_code_bind_loader(corral_code *c, const char *name);
void corral_code_set_outbound(corral_code *c, corral_outbound mode);
void corral_code_set_limits(corral_code *c, const corral_limits *limits);
/* The tenant key (a corral extension, WorkerCode "tenant"): under
 * CORRAL_ISOLATION_TENANT, code of different tenants never shares a worker
 * process. NULL clears it. */
int corral_code_set_tenant(corral_code *c, const char *tenant);

/* ------------------------------------------------------------------------ */
/* Workers                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct corral_worker corral_worker;

/* Validates `code` eagerly (module map, sizes, compatibility date and flags)
 * and returns a stub for a fresh sandbox, or NULL with *err set (TypeError or
 * Error, with the reference's messages). Startup errors of the code itself
 * (syntax, a top-level throw, a missing import) surface on each call. The
 * code is copied; the caller keeps ownership of `code`. */
corral_worker *corral_load(corral_loader *l, const corral_code *code, corral_error *err);

/* Produces WorkerCode for corral_get(); return NULL and set *err to fail. The
 * returned code is freed by the loader. */
typedef corral_code *(*corral_code_factory)(void *userdata, corral_error *err);

/* Returns a stub at once. With a non-NULL id, a cached worker of that id is
 * reused and `factory` is not called; on a miss (or after eviction) the
 * factory is called to start it. With id NULL, every call is a fresh worker.
 * Factory and validation errors surface on each call made on the stub. */
corral_worker *corral_get(corral_loader *l, const char *id, corral_code_factory factory,
                          void *userdata);

/* Drops the host's reference. In-flight calls still complete. */
void corral_worker_release(corral_worker *w);

/* Aborts the worker: on the next loop step, every invocation it is running
 * ends with outcome CORRAL_OUTCOME_CANCELED and error "AbortError"
 * (`message`, or a default when NULL), its sandbox is freed, callers waiting
 * on it get the same error, and a get() id forgets it (the next call builds
 * a fresh one). Safe from inside a capability callback. Loop thread only.
 * Returns CORRAL_OK (also when nothing was running) or CORRAL_ENOMEM. */
int corral_worker_abort(corral_worker *w, const char *message);

typedef struct corral_header {
    const char *name;
    const char *value;
} corral_header;

typedef enum corral_outcome {
    CORRAL_OUTCOME_OK = 0,
    CORRAL_OUTCOME_EXCEPTION,           /* the code threw, or failed to start */
    CORRAL_OUTCOME_EXCEEDED_CPU,
    CORRAL_OUTCOME_EXCEEDED_MEMORY,
    CORRAL_OUTCOME_EXCEEDED_WALL,
    CORRAL_OUTCOME_EXCEEDED_LIMIT,      /* a size, call or subrequest limit */
    CORRAL_OUTCOME_CANCELED,
    CORRAL_OUTCOME_INTERNAL,            /* a fault inside corral; see the message */
    CORRAL_OUTCOME_CRASHED,             /* the sandbox's worker process died (SandboxCrashedError) */
} corral_outcome;

/* "ok", "exception", "exceededCpu", "exceededMemory", "exceededWall",
 * "exceededLimit", "canceled", "internal", "crashed". */
const char *corral_outcome_name(corral_outcome o);

typedef enum corral_log_level {
    CORRAL_LOG_DEBUG = 0,
    CORRAL_LOG_INFO,
    CORRAL_LOG_LOG,
    CORRAL_LOG_WARN,
    CORRAL_LOG_ERROR,
} corral_log_level;

/* "debug", "info", "log", "warn", "error". */
const char *corral_log_level_name(corral_log_level l);

typedef struct corral_log_line {
    corral_log_level level;
    double timestamp_ms;        /* ms since the epoch */
    const char *text;           /* formatted like a console would, NUL-terminated */
} corral_log_line;

/* What one invocation produced: the answer to corral_invoke()/corral_fetch(),
 * and the event a tail receives. Valid only during the callback. */
typedef struct corral_result {
    corral_outcome outcome;
    const char *worker_id;          /* the get() id, or a generated "load:N" */
    const char *entrypoint;         /* "default" or the export name */
    const char *method;             /* "fetch" or the RPC method */

    /* RPC result (outcome OK): JSON text, or NULL when the value was
     * undefined. Mapping of non-JSON values: BigInt → decimal string, Date →
     * ISO string, Map → [[k, v], ...], Set → [...], bytes → base64 string,
     * Error → {"name", "message", "stack"}, a stub → {"$stub": n}. */
    const char *value_json;

    /* fetch() result (outcome OK) */
    int status;
    const char *status_text;
    size_t header_count;
    const corral_header *headers;
    const uint8_t *body;
    size_t body_len;

    /* outcome != OK */
    const char *error_name;         /* e.g. "TypeError", "CpuLimitError" */
    const char *error_message;
    const char *error_stack;        /* may be NULL */

    size_t log_count;
    const corral_log_line *logs;
    int logs_truncated;             /* console output went past limits.log_bytes */
    size_t unhandled_rejections;    /* logged at error level; they do not fail the call */

    double cpu_ms;
    double wall_ms;
} corral_result;

typedef void (*corral_done_fn)(const corral_result *result, void *userdata);

typedef struct corral_invoke_options {
    const char *entrypoint;         /* NULL or "default" = default export */
    const char *props_json;         /* ctx.props for this entrypoint (JSON), or NULL */
    corral_limits limits;           /* can only lower the worker's limits */
} corral_invoke_options;

/* Calls RPC method `method` of an entrypoint with arguments from a JSON
 * array (NULL = no arguments). `done` is called exactly once, from inside
 * corral_loader_step()/run(), unless the loader is freed first. Returns
 * CORRAL_OK or a negative status (then `done` is never called). */
int corral_invoke(corral_worker *w, const corral_invoke_options *opts, const char *method,
                  const char *args_json, corral_done_fn done, void *userdata);

typedef struct corral_request {
    const char *method;             /* NULL = "GET" */
    const char *url;                /* absolute */
    size_t header_count;
    const corral_header *headers;
    const uint8_t *body;
    size_t body_len;
} corral_request;

/* Calls the entrypoint's fetch(request, env, ctx). */
int corral_fetch(corral_worker *w, const corral_invoke_options *opts, const corral_request *req,
                 corral_done_fn done, void *userdata);

/* ------------------------------------------------------------------------ */
/* Outbound network and observability                                       */
/* ------------------------------------------------------------------------ */

typedef struct corral_outbound_call corral_outbound_call;

/* Sees every fetch() made by a worker whose outbound is CORRAL_OUTBOUND_HOST
 * (and by children that inherit it). Complete with
 * corral_outbound_respond() or corral_outbound_fail(), now or later. */
typedef void (*corral_outbound_fn)(corral_outbound_call *call, const corral_request *req,
                                   void *userdata);

void corral_loader_set_outbound(corral_loader *l, corral_outbound_fn fn, void *userdata);

/* Installs corral's own HTTP client (libcurl) as the outbound handler,
 * allowing only `allow` — a comma-separated list of HOST or HOST:PORT
 * entries (IPv6 as [::1]:8080), or "*" for any host. HTTP and HTTPS only;
 * every redirect hop is checked against the list again; credentials are
 * dropped when a hop changes origin; 15 s to connect, 60 s in all, 32 MiB
 * of body (docs/network.md). Returns CORRAL_OK, or CORRAL_EINVAL with *err
 * naming the bad entry (the previous list, if any, stays in force). A
 * second successful call replaces the list. Requests run on a client
 * thread; their answers arrive through the loop like any other. */
int corral_loader_allow_net(corral_loader *l, const char *allow, corral_error *err);

/* Complete an outbound call passed to a corral_outbound_fn: with a response
 * (the worker's fetch() resolves to it) or a failure (fetch() rejects with
 * a TypeError carrying `message`). Exactly once per call, now or later;
 * the call is freed by it. */
int corral_outbound_respond(corral_outbound_call *call, int status, const corral_header *headers,
                            size_t header_count, const uint8_t *body, size_t body_len);
int corral_outbound_fail(corral_outbound_call *call, const char *message);

/* Receives the event of every invocation of every worker in the loader
 * (the host's own calls and the calls workers make on each other). */
typedef void (*corral_tail_fn)(const corral_result *event, void *userdata);
void corral_loader_set_tail(corral_loader *l, corral_tail_fn fn, void *userdata);

/* Counters for monitoring and benchmarks. */
typedef struct corral_stats {
    size_t live_sandboxes;
    size_t cached_workers;
    uint64_t sandboxes_created;
    uint64_t invocations;
    uint64_t evictions;
    /* Sandboxes the CPU backstop had to stop inside a builtin that never
     * checks its CPU deadline (their memory is returned like any other's). */
    uint64_t escaped_sandboxes;
} corral_stats;

void corral_loader_stats(corral_loader *l, corral_stats *out);

/* Writes one NUL-terminated line into buf saying where this loader's
 * sandboxes run and, in the jailed modes, which jail layers are active and
 * which the machine refused ("isolation pool: jailed worker processes
 * forked by a zygote; jail layers active: user-ns pid-ns ... seccomp;
 * refused: none"), for a host's startup log. Returns the length the whole
 * line needs, as snprintf does (0 for NULL arguments). */
size_t corral_loader_describe_isolation(corral_loader *l, char *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* The jail: what protects this machine (docs/jail.md)                      */
/* ------------------------------------------------------------------------ */

/* Enough for every layer corral_jail_probe() reports. */
#define CORRAL_JAIL_MAX_LAYERS 16

/* One layer of the jail around worker processes, as probed on this machine. */
typedef struct corral_jail_layer {
    const char *name;       /* static string: "user-ns", "pid-ns", "net-ns", "mount-ns",
                               "ipc-ns", "uts-ns", "close-fds", "empty-root", "rlimits",
                               "no-new-privs", "caps-dropped", "seccomp", "seccomp-zygote" */
    int available;          /* 1: the layer took effect in a jailed child; 0: refused */
    int self_test;          /* 1: its self-test passed; 0: failed; -1: not run (unavailable) */
    int required;           /* 1: part of the minimum jail (seccomp, no-new-privs, rlimits):
                               workers never run without it */
    char detail[160];       /* NUL-terminated: why it was refused, or what the test saw */
} corral_jail_layer;

/* Probes which jail layers this machine allows and runs a self-test of each
 * in jailed child processes: each layer is applied as a worker would apply
 * it, and its effect is checked from inside (getpid() is 1, no interface
 * but lo, /etc/passwd is gone, capget is empty, a forbidden system call
 * ends the child with SIGSYS, ...) and from outside (/proc/PID/status shows
 * "Seccomp: 2" and "NoNewPrivs: 1"). Fills up to `max` entries of `layers`
 * (the caller's storage; nothing to free) and sets *count to the number
 * written. Returns CORRAL_OK when the probe ran — the layers then say what
 * works, and the minimum jail works when every `required` layer has
 * available == 1 and self_test == 1 — or CORRAL_EINVAL (NULL arguments) or
 * CORRAL_ESTATE (no child process could be started; *err says why). Forks
 * a few short-lived children and waits for them (a few milliseconds);
 * children it did not start are not reaped. */
int corral_jail_probe(corral_jail_layer *layers, size_t max, size_t *count, corral_error *err);

/* ------------------------------------------------------------------------ */
/* Code Mode: run one model-written program against tool providers          */
/* ------------------------------------------------------------------------ */

/* A namespace of tools: inside the program, `<name>.<tool>(...args)` calls
 * method <tool> of `tools` with the arguments (a tool name is sanitized as
 * @cloudflare/codemode does: `my-tool` is called as `ns.my_tool`). */
typedef struct corral_provider {
    const char *name;           /* a JavaScript identifier, not reserved */
    corral_capability *tools;
} corral_provider;

typedef struct corral_exec_result {
    const char *result_json;    /* the program's value as JSON; NULL if undefined or on error */
    const char *error;          /* NULL on success, else the error's message */
    size_t log_count;
    const char *const *logs;    /* console lines: "text", "[warn] text", "[error] text", ... */
    double cpu_ms, wall_ms;
} corral_exec_result;
/* Every string above is valid UTF-8: what JavaScript strings may hold and
 * UTF-8 may not (a lone surrogate) arrives as U+FFFD. */

typedef void (*corral_exec_fn)(const corral_exec_result *r, void *userdata);

/* Runs `code` — a program as a model writes it for Code Mode: an async
 * arrow function, statements, an expression, or any of these in a markdown
 * fence (normalized as the reference's normalizeCode does) — in a fresh
 * sandbox with no network, each provider a global namespace of tool calls.
 * `limits` (may be NULL) can lower the loader's; the wall-time default for
 * programs is 60 s. Provider names are checked first, with the reference's
 * messages ("Provider name \"x\" is reserved", ...): a bad name completes
 * at once with that error and runs nothing. `done` is called exactly once
 * from the loop (not from inside this call). Returns CORRAL_OK, or a
 * negative status (then `done` is never called). The result is truncated
 * as the reference's truncateResult does. */
int corral_execute(corral_loader *l, const char *code, const corral_provider *providers,
                   size_t provider_count, const corral_limits *limits, corral_exec_fn done,
                   void *userdata);

/* A running program started by corral_execute_start(). */
typedef struct corral_execution corral_execution;

/* corral_execute(), and *handle (may be NULL) receives the running program
 * so the host can cancel it. The handle is valid until `done` is called. */
int corral_execute_start(corral_loader *l, const char *code, const corral_provider *providers,
                         size_t provider_count, const corral_limits *limits, corral_exec_fn done,
                         void *userdata, corral_execution **handle);

/* Stops a running program: on the next loop step its sandbox is freed and
 * `done` reports the error "AbortError: <reason>" (a default reason when
 * NULL). Tool calls it left running are answered into the void. Loop thread
 * only; calling it again, or after `done`, is not allowed. */
void corral_execution_cancel(corral_execution *e, const char *reason);

/* ------------------------------------------------------------------------ */
/* Code Mode over MCP: upstream servers and OpenAPI specs as tools          */
/* (docs/mcp.md)                                                            */
/* ------------------------------------------------------------------------ */

/* A Code Mode service: the tools of upstream MCP servers (or one OpenAPI
 * API) lent to model-written programs, served as an MCP server (`corral
 * mcp`) or run one program at a time (`corral exec`). It owns an event loop
 * that drives the loader, the upstream connections and the MCP clients; the
 * functions below run on the thread that created it. */
typedef struct corral_mcp corral_mcp;

typedef struct corral_mcp_options {
    corral_limits limits;           /* per program (zero fields: the loader's; wall 60 s) */
    uint64_t call_timeout_ms;       /* one upstream tool call or API request. Default 60000 */
    long discovery_tokens;          /* when all declarations exceed this many tokens, the
                                       description lists tool names only and programs get
                                       codemode.search()/describe(). Default 4000 */
    const char *description;        /* extra text appended to the tool descriptions, or NULL */
    /* The tenant key every program's sandbox runs under (copied), or NULL.
     * Under CORRAL_ISOLATION_TENANT the loader keeps each tenant's sandboxes
     * in worker processes of their own; in other modes it only labels them.
     * Where sandboxes run at all is the loader's choice (corral_options
     * .isolation, given to corral_loader_new), since one loader may serve
     * several services. */
    const char *tenant;
} corral_mcp_options;

void corral_mcp_options_default(corral_mcp_options *o);

/* A service using loader `l` (which must outlive it). NULL on failure (*err
 * says why). */
corral_mcp *corral_mcp_new(corral_loader *l, const corral_mcp_options *opts, corral_error *err);
/* Stops upstream processes (SIGTERM, then SIGKILL after 500 ms), ends
 * running programs and frees the service. */
void corral_mcp_free(corral_mcp *m);

/* Adds an upstream from "NAME=COMMAND" (split as a shell splits words, no
 * expansion) or "NAME=URL" (streamable HTTP). NAME must be a JavaScript
 * identifier: it is the program's namespace. Before corral_mcp_start(). */
int corral_mcp_add_upstream(corral_mcp *m, const char *spec, corral_error *err);
/* Adds every upstream of an "mcpServers" JSON file (Claude Desktop's and
 * Cursor's format). */
int corral_mcp_add_config(corral_mcp *m, const char *path, corral_error *err);
/* OpenAPI mode instead of upstreams: `spec_path` (JSON or YAML, OpenAPI 3.0
 * or 3.1), requests confined to `base_url`, `headers` ("Name: value", values
 * may name host environment variables as ${VAR}) added on the host side
 * only; their values are redacted from everything a program sees. */
int corral_mcp_set_openapi(corral_mcp *m, const char *spec_path, const char *base_url,
                           const char *const *headers, size_t header_count, corral_error *err);

/* Starts the upstreams and waits (at most timeout_ms) until each has listed
 * its tools. CORRAL_OK when all are ready; otherwise CORRAL_ESTATE and *err
 * names the first that is not (it keeps being restarted in the background). */
int corral_mcp_start(corral_mcp *m, uint64_t timeout_ms, corral_error *err);

/* The TypeScript declarations programs are written against (malloc'd; the
 * caller frees), or NULL when out of memory. */
char *corral_mcp_types(corral_mcp *m);
/* The tools the service exposes as MCP Tool objects, as a JSON array
 * (malloc'd text). */
char *corral_mcp_tools_json(corral_mcp *m);

/* Runs one program through tool `tool` ("code" in upstream mode; "search"
 * or "execute" in OpenAPI mode) and waits for it: `done` is called once
 * before this returns. Returns CORRAL_OK, or a negative status (an unknown
 * tool: CORRAL_EINVAL) when nothing ran. */
int corral_mcp_exec(corral_mcp *m, const char *tool, const char *code, corral_exec_fn done,
                    void *userdata);

/* Serves MCP over newline-delimited JSON-RPC on in_fd/out_fd until in_fd
 * reaches end of file or corral_mcp_stop(). */
int corral_mcp_serve_stdio(corral_mcp *m, int in_fd, int out_fd, corral_error *err);
/* Serves streamable HTTP at http://host:port/mcp (port 0: any free port)
 * until corral_mcp_stop(). `bearer_token` (may be NULL) is then required on
 * every request. `listening` (may be NULL) is called with the bound port
 * once the socket listens. */
int corral_mcp_serve_http(corral_mcp *m, const char *host, int port, const char *bearer_token,
                          void (*listening)(int port, void *userdata), void *userdata,
                          corral_error *err);
/* Makes a serve function return. Safe from a signal handler. */
void corral_mcp_stop(corral_mcp *m);

/* Whether `src` compiles as an ES module (nothing runs): 1 yes, 0 no, -1 out
 * of memory. */
int corral_js_parses(const char *src, size_t len);

#ifdef __cplusplus
}
#endif

#endif
