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

#include <stdint.h>

#include "corral.h"
#include "engine/engine.h"
#include "engine/workercode.h"

struct worker;

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
    /* outcome */
    corral_outcome outcome;
    uint8_t *payload;               /* the answer */
    size_t payload_len;
    size_t payload_caps;
    char *error_name, *error_message, *error_stack;
    corral_log_line *logs;
    size_t log_count, log_cap, log_bytes;
    int logs_truncated;
    size_t unhandled;
    struct invocation *next_active; /* in w->active */
    struct invocation *next_all;    /* in loader's list */
};

struct worker {
    corral_loader *l;
    int refs;
    char *id;
    struct workercode *code;
    enum worker_state state;
    corral_error fail;
    struct sandbox *sb;
    uint32_t gen;
    int is_dynamic;
    struct cref **imports;
    size_t import_count, import_cap;
    struct cref **env_caps;         /* env stubs, installed at 0..n-1 at every start */
    size_t env_cap_count;
    struct cref *outbound_stub;
    struct worker *parent;          /* for inherited outbound */
    int outbound;                   /* enum wc_outbound, resolved */
    corral_limits limits;
    struct invocation *active;
    struct task *parked, *parked_tail;
    int in_cache;
    struct worker *lru_prev, *lru_next;
    struct worker *next_all;
};

#endif
