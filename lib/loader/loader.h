/* The loader's internal structures: workers, capability references, the
 * task queue and invocations. Shared by the loader's files only.
 *
 * The loader is the router of the in-process design: every message between
 * a sandbox and anything else passes through it as wire bytes plus a cap
 * list, and it alone maps a sandbox's import indexes to what they name
 * (struct cref). A sandbox can only name what is in its own import table,
 * so it cannot forge a reference; the jailed-worker design keeps this same
 * router in the supervisor and moves only the sandboxes.
 */
#ifndef CORRAL_LOADER_H
#define CORRAL_LOADER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "corral.h"
#include "engine/engine.h"
#include "engine/workercode.h"
#include "loader/code.h"

struct worker;
struct jail_sandbox;
struct jail_supervisor;

/* idmap.c: nonzero ids to pointers. */
struct idmap {
    uint64_t *keys;
    void **vals;
    size_t cap, count;
};
int ld_idmap_put(struct idmap *m, uint64_t key, void *val);
void *ld_idmap_get(const struct idmap *m, uint64_t key);
void *ld_idmap_take(struct idmap *m, uint64_t key);
void ld_idmap_free(struct idmap *m);

enum cref_kind { CREF_OBJECT, CREF_ENTRY, CREF_CAPABILITY, CREF_HANDLE, CREF_DEAD };

/* What an import index names. Shared by every table that holds it. */
struct cref {
    int refs;
    enum cref_kind kind;
    uint8_t flags;                  /* WIRE_CAP_F_* */
    struct worker *w;               /* OBJECT, ENTRY, HANDLE */
    uint32_t gen;                   /* OBJECT: the sandbox generation the export lives in */
    uint64_t obj;                   /* OBJECT: export id */
    char *entry;                    /* ENTRY: entrypoint name */
    uint8_t *props;                 /* ENTRY: props payload */
    size_t props_len;
    struct cref **props_caps;
    size_t props_cap_count;
    corral_limits limits;           /* ENTRY: getEntrypoint() limits */
    corral_capability *cap;         /* CAPABILITY */
};

enum worker_state { W_WAITING_CODE, W_READY, W_FAILED };

struct task;

struct invocation {
    uint64_t id;                    /* router call id; also the sandbox's invocation token */
    struct worker *w;
    char *entrypoint, *method;
    int from_host;                  /* answered through done/userdata */
    int is_fetch;
    corral_done_fn done;
    void *userdata;
    corral_limits limits;
    uint64_t cpu_ns;
    double wall_start_ms;
    uint64_t calls, subrequests;
    int answered, finished;
    int wait_until;
    struct timer_node *wall_timer;
    /* outcome */
    corral_outcome outcome;
    uint8_t *payload;               /* the answer */
    size_t payload_len;
    size_t payload_caps;
    char *error_name, *error_message, *error_stack;
    corral_log_line *logs;
    size_t log_count, log_cap, log_bytes;
    int logs_truncated;
    ld_log_hook_fn log_hook;        /* sees each kept line as it is logged (code.h) */
    void *log_hook_ud;
    size_t unhandled;
    struct invocation *next_active; /* in w->active */
    struct invocation *next_all, *prev_all; /* in the loader's list */
};

struct worker {
    corral_loader *l;
    int refs;
    char *id;
    struct workercode *code;
    enum worker_state state;
    corral_error fail;
    struct sandbox *sb;             /* in this process (inline), or */
    struct jail_sandbox *rsb;       /* in a jailed worker process (box.c) */
    int sb_escaped;                 /* sb was escaped by the watchdog: abandon, never free */
    int start_unchecked;            /* a jailed START not yet run (ld_worker_check_start) */
    uint32_t gen;
    int is_dynamic;
    struct cref **imports;
    size_t import_count, import_cap;
    struct cref **env_caps;         /* env stubs, installed at 0..n-1 at every start */
    size_t env_cap_count;
    struct cref *outbound_stub;
    size_t tail_count;              /* tails: the last tail_count entries of env_caps */
    struct worker *parent;          /* for inherited outbound */
    int outbound;                   /* enum wc_outbound, resolved */
    corral_limits limits;
    struct invocation *active;
    struct timer_node *timers;      /* this worker's sandbox timers */
    struct idmap timer_ids;         /* their ids -> nodes */
    struct task *parked, *parked_tail;
    int in_cache;
    struct worker *lru_prev, *lru_next;
    uint64_t id_hash;               /* of id, for the cache index */
    struct worker *hash_next;       /* workers whose ids hash alike */
    struct worker *next_all, *prev_all;
};

/* ---- shared between the loader's files ---------------------------------- */


struct corral_capability {
    corral_loader *l;
    int refs;
    char *name;
    struct cap_method { char *name; corral_method_fn fn; void *ud; } *methods;
    size_t method_count;
};

struct corral_call {
    corral_loader *l;
    uint64_t call_id;               /* router call record */
    char *method;
    char *args_json;
    size_t args_len;
    char *worker_id;
    struct corral_call *next, *prev;
};

struct corral_worker {
    corral_loader *l;
    struct worker *w;               /* load() or get(NULL): this worker; get(id): resolved per call */
    char *id;
    corral_code_factory factory;
    void *userdata;
};


/* A task's msg_kind is a wire message kind, or one of these for answers to
 * a sandbox's own fetch() (which resolve a pending fetch, not an RPC). */
#define TASK_FETCH_OK 0x81
#define TASK_FETCH_FAILED 0x82

/* A task's msg_kind is a wire message kind, or one of these for answers to
 * a sandbox's own fetch() (which resolve a pending fetch, not an RPC). */
#define TASK_FETCH_OK 0x81
#define TASK_FETCH_FAILED 0x82

struct task {
    struct worker *w;
    uint32_t gen;                   /* T_DELIVER to an OBJECT: the generation it was sent to */
    uint8_t msg_kind;
    uint64_t id, target;
    char *name;
    uint8_t *payload;
    size_t payload_len;
    struct cref **caps;
    size_t cap_count;
    struct cref *entry;             /* a CALL on an entrypoint */
    struct cref *target_ref;        /* a CALL on an object: kept so a RELEASE racing the call
                                     * cannot drop the export before it is delivered */
    struct task *next;
};

/* Where an answer to a routed call goes. */
struct call_rec {
    uint64_t id;
    int to_host;                    /* the host asked (corral_invoke/fetch): invocation id */
    struct worker *from;            /* a sandbox asked */
    uint32_t from_gen;
    uint64_t from_call_id;
    uint64_t invocation;            /* the caller's invocation, for limits */
    struct worker *callee;          /* the sandbox answering, if any */
    int is_fetch;                   /* answer goes to sandbox_fetch_done */
    struct call_rec *next, *prev;
};

struct timer_node {
    double due_ms;
    uint64_t seq;                   /* ties fire in the order they were set */
    struct worker *w;               /* NULL: an invocation's wall-time limit */
    uint32_t gen;
    uint64_t id;                    /* the sandbox's timer id, or the invocation id */
    size_t heap_index;
    struct timer_node *wnext, *wprev;
};

struct corral_loader {
    corral_options opts;
    corral_limits limits;
    char today[11];
    int epfd, evfd;
    struct task *head, *tail;
    struct call_rec *calls;         /* every routed call awaiting its answer */
    struct idmap call_ids;          /* id -> call_rec */
    struct idmap inv_ids;           /* id -> invocation */
    struct idmap cache_ids;         /* hash of a get() id -> first cached worker with it */
    int closing;                    /* corral_loader_free is tearing down */
    int in_step;                    /* corral_loader_step is running */
    double last_wait_ms;            /* how long the last sleeping wait took (busy_poll_us) */
    double box_polled_ms;           /* when the workers' sockets were last looked at */
    size_t task_count, inv_live, host_call_count;
    uint64_t next_call_id;
    struct timer_node **timers;     /* a min-heap (timers.c) */
    size_t timer_count, timer_cap;
    uint64_t timer_seq;
    struct worker *workers;
    struct worker *lru_head, *lru_tail;  /* most recent first */
    size_t cached;
    struct invocation *invocations;
    struct corral_call *host_calls;
    size_t live_sandboxes;
    uint64_t sandboxes_created, invocation_count, evictions, load_seq;
    corral_outbound_fn outbound;
    void *outbound_ud;
    corral_tail_fn tail_fn;
    void *tail_ud;
    struct engine_host host;
    int host_calls_pending;
    /* Work posted from other threads (ld_post), run on the loop thread. */
    pthread_mutex_t post_lock;
    struct posted { void (*fn)(corral_loader *, void *); void *arg; struct posted *next; } *posted,
        *posted_tail;
    int held;                       /* external operations in flight (ld_hold) */
    _Atomic int signaled;           /* the eventfd has been written since it was drained */
    void *net;                      /* the built-in HTTP client, if enabled */
    void (*net_free)(void *net);
    /* The watchdog (watchdog.c). */
    pthread_t wd_thread, wd_loop_thread;
    pthread_mutex_t wd_lock;
    pthread_cond_t wd_cond;
    int wd_running, wd_stop;
    _Atomic uint64_t wd_turn;       /* the guarded turn running now, 0 if none */
    _Atomic uint64_t wd_deadline_ns;/* its CPU deadline on the loop thread's clock */
    uint64_t escaped_sandboxes;
    struct prewarm *prewarm;        /* prewarm.c, once started */
    struct jail_supervisor *sup;    /* box.c: the jailed workers, unless inline */
};


struct corral_outbound_call {
    corral_loader *l;
    struct call_rec *rec;
};

#define LOOPBACK_HANDLE UINT64_MAX

extern const struct engine_host ld_engine_host;

/* Runs fn(l, arg) on the loop thread during a later corral_loader_step().
 * The only loader function that may be called from another thread.
 * Returns 0, or -1 if memory ran out (fn is then not called). */
int ld_post(corral_loader *l, void (*fn)(corral_loader *l, void *arg), void *arg);
/* Counts an operation in flight outside the loader (an HTTP request), so
 * corral_loader_run() waits for it. Loop thread only. */
void ld_hold(corral_loader *l, int delta);
/* lib/net/http.c: installs the built-in HTTP client as the outbound
 * handler, allowing only the hosts in `allow`. */
int ld_net_enable(corral_loader *l, const char *allow, corral_error *err);
double ld_mono_ms(void);
double ld_real_ms(void);
void ld_limits_lower(corral_limits *out, const corral_limits *inner);
struct cref **ld_caps_from_sandbox(struct worker *w, const struct wire_cap *caps, size_t n,
                                       corral_error *err);
struct cref *ld_cref_new(enum cref_kind kind);
void ld_cref_unref(struct cref *c);
void ld_crefs_free(struct cref **c, size_t n);
int64_t ld_import_add(struct worker *w, struct cref *c);
struct cref *ld_import_get(struct worker *w, uint64_t idx);
void ld_task_free(struct task *t);
void ld_task_push(corral_loader *l, struct task *t);
/* watchdog.c: runs fn(arg) as one turn of w's sandbox under the CPU
 * backstop. Returns 1 if the watchdog had to escape it (w->sb_escaped is
 * then set and the caller must end w's invocations with CpuLimitError). */
int ld_guarded_turn(corral_loader *l, struct worker *w, uint64_t deadline_ns,
                    void (*fn)(void *), void *arg);
void ld_watchdog_stop(corral_loader *l);
/* Starts one of corral's helper threads (watchdog, prewarmer, HTTP client)
 * with the backstop's signal blocked. Returns pthread_create's result. */
int ld_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

/* prewarm.c: a fresh sandbox made ahead of time (to be sandbox_assign()ed),
 * or NULL; a used sandbox handed to the helper thread to free; stopping the
 * thread frees whatever it holds. */
struct sandbox *ld_prewarm_take(corral_loader *l);
void ld_prewarm_retire(corral_loader *l, struct sandbox *sb);
void ld_prewarm_stop(corral_loader *l);

/* box.c: a worker's sandbox, in this process or in a jailed worker; the
 * rest of the loader uses only these. ld_box_live: it has one. */
int ld_box_live(const struct worker *w);
int ld_box_new(struct worker *w, const struct sandbox_config *cfg, corral_error *err);
void ld_box_discard(struct worker *w);
void ld_box_set_deadline(struct worker *w, uint64_t deadline_ns);
/* The CPU clock a turn's deadline is set on: the loop thread's in
 * process; 0 for a jailed worker, whose own clock counts from the start
 * of its turn (so a deadline there is the budget itself), and whose CPU
 * this thread's clock, a system call when not read lately, says nothing of. */
uint64_t ld_box_cpu_now(const struct worker *w);
/* CPU time of the turn that started at start_cpu (our thread's clock). */
uint64_t ld_box_turn_cpu(const struct worker *w, uint64_t start_cpu);
enum sandbox_kill ld_box_killed(const struct worker *w);
void ld_box_kill(struct worker *w, enum sandbox_kill why);
/* SandboxCrashedError's message for a SANDBOX_KILL_CRASHED sandbox. */
const char *ld_box_crash_message(const struct worker *w);
/* Why a worker process could not create the sandbox, once its first turn
 * has run; NULL in-process (creation failures come from ld_box_new). */
const corral_error *ld_box_start_error(const struct worker *w);
/* How a jailed START ended (SANDBOX_KILL_NONE: well, or not yet run). */
enum sandbox_kill ld_box_start_kill(const struct worker *w);
/* The invocation a host callback runs for (sb: the callback's argument). */
uint64_t ld_box_invocation(const struct worker *w, const struct sandbox *sb);
void ld_box_start(struct worker *w, const uint64_t *env_idx);
void ld_box_deliver(struct worker *w, const struct wire_msg *m, const uint64_t *caps);
/* A CALL on an entrypoint: export it, deliver, release the export.
 * Takes props_idx (freed before the delivery, which an escape may cut
 * short). */
void ld_box_deliver_entry(struct worker *w, const struct cref *entry, uint64_t *props_idx,
                          struct wire_msg *m, const uint64_t *caps);
void ld_box_release_export(struct worker *w, uint64_t export_id);
void ld_box_fire_timer(struct worker *w, uint64_t timer_id);
void ld_box_fetch_done(struct worker *w, uint64_t fetch_id, int ok, const uint8_t *payload,
                       size_t len, const uint64_t *caps, size_t cap_count);
/* The supervisor: started by corral_loader_new for the jailed modes;
 * ld_box_poll reaps dead workers (ending their sandboxes' invocations)
 * and returns nonzero when it has more to report at once. The workers'
 * sockets are in the loop's epoll set, so a step whose wait found nothing
 * passes quiet: nothing to look at. A step that did not wait looks at
 * most once a millisecond (a dead worker is also found by its next turn). */
int ld_box_init(corral_loader *l, corral_error *err);
int ld_box_poll(corral_loader *l, int quiet);
/* Whether dead workers' sandboxes wait to be reported (no system call). */
int ld_box_pending(corral_loader *l);
void ld_box_fini(corral_loader *l);

/* http_msg.c: a packed request or response (js/runtime.js's shapes) read
 * from a payload. Fields absent from the payload stay NULL/0. */
struct ld_http_msg {
    char *method, *url;         /* requests */
    int status;                 /* responses */
    char *status_text;
    corral_header *headers;     /* names and values owned */
    size_t header_count;
    uint8_t *body;              /* NUL-terminated copy, or NULL */
    size_t body_len;
    /* Why ld_http_msg_read refused the message (a static string), or NULL:
     * a sandbox can hand the host an object that only looks like a Response
     * (Symbol.hasInstance), so nothing about its shape is trusted. */
    const char *why;
};
int ld_http_msg_read(const uint8_t *p, size_t len, size_t cap_count, struct ld_http_msg *out);
void ld_http_msg_free(struct ld_http_msg *m);

/* timers.c */
struct timer_node *ld_timer_add(corral_loader *l, double due_ms, struct worker *w, uint64_t id);
void ld_timer_cancel(corral_loader *l, struct timer_node *n);
struct timer_node *ld_timer_find(struct worker *w, uint64_t id);
void ld_timers_cancel_worker(corral_loader *l, struct worker *w);
double ld_timer_next_due(corral_loader *l);
/* The earliest timer due at `now`, detached from the heap (free it), or NULL. */
struct timer_node *ld_timer_pop_due(corral_loader *l, double now);
void ld_timers_free(corral_loader *l);
void ld_inv_answer(corral_loader *l, struct invocation *inv, int ok, const uint8_t *p,
                       size_t len, size_t ncaps);
void ld_inv_destroy(corral_loader *l, struct invocation *inv);
void ld_inv_fail(corral_loader *l, struct invocation *inv, corral_outcome o, const char *name,
                     const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
struct invocation *ld_inv_find(corral_loader *l, uint64_t id);
void ld_inv_finish(corral_loader *l, struct invocation *inv);
void ld_inv_log(struct invocation *inv, corral_log_level level, const char *text, size_t len);
void ld_inv_unlink_active(struct invocation *inv);
void ld_cache_remove(corral_loader *l, struct worker *w);
void ld_lru_touch(corral_loader *l, struct worker *w);
void ld_worker_discard_sandbox(struct worker *w);
struct worker *ld_worker_new(corral_loader *l, const char *id);
int ld_worker_set_code(struct worker *w, struct workercode *code, struct worker *creator,
                           corral_error *err);
int ld_worker_start(struct worker *w, corral_error *err);
/* Whether the start ended well (k: the limit or crash that ended it, or
 * none); on failure discards the sandbox and says why in err, as
 * ld_worker_start does. For a jailed worker, whose START leaves with its
 * first call's turn (start_unchecked), after that turn. */
int ld_worker_check_start(struct worker *w, enum sandbox_kill k, corral_error *err);
void ld_worker_unref(struct worker *w);
/* Drops everything a worker holds on others (sandbox, parked tasks, env
 * caps, outbound) / frees its own memory; worker_free and loader teardown
 * both use them. */
void ld_worker_drop_edges(struct worker *w);
void ld_worker_free_memory(struct worker *w);
void ld_answer_error(corral_loader *l, struct call_rec *c, const char *name,
                         const char *message);
void ld_answer_to(corral_loader *l, struct call_rec *c, int ok, const uint8_t *p, size_t len,
                      struct cref **caps, size_t ncaps);
struct call_rec *ld_call_new(corral_loader *l);
/* A record, not yet listed, for a call that sandbox w made with id call_id
 * (w is referenced until the answer is delivered). */
struct call_rec *ld_call_from(corral_loader *l, struct worker *w, uint64_t call_id);
/* Lists a record (taken earlier) again, so its answer can find it. */
void ld_call_link(corral_loader *l, struct call_rec *c);
struct call_rec *ld_call_take(corral_loader *l, uint64_t id);
void ld_fail_calls_to(corral_loader *l, struct worker *w, const char *name, const char *msg);
struct invocation *ld_inv_new(corral_loader *l, struct worker *w, const char *entry,
                                  const char *method, const corral_limits *extra, uint64_t id);
void ld_kill_worker_invocations(corral_loader *l, struct worker *w, enum sandbox_kill k);
/* Ends every running invocation of w with AbortError(message), frees its
 * sandbox and fails calls waiting on it. Never from inside one of w's turns. */
void ld_abort_worker(corral_loader *l, struct worker *w, const char *message);
void ld_route_call(corral_loader *l, struct worker *from, uint64_t from_call_id,
                       uint64_t invocation, struct cref *target, const char *method,
                       const uint8_t *payload, size_t len, struct cref **caps, size_t ncaps,
                       struct call_rec *host_rec);
void ld_run_task(corral_loader *l, struct task *t);
/* Sends an ended invocation's trace event to the worker's tails. */
void ld_deliver_tails(corral_loader *l, struct invocation *inv, const corral_result *r);
uint64_t ld_run_turn_begin(struct worker *w, uint64_t *start_cpu);
void ld_run_turn_end(corral_loader *l, struct worker *w, uint64_t start_cpu);
struct worker *ld_cache_find(corral_loader *l, const char *id);
void ld_cache_insert(corral_loader *l, struct worker *w);

#endif
