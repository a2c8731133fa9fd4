/* The protocol between the supervisor and a jailed worker: which messages
 * exist and which fields each carries (channel.h says how a message is
 * spelled). It is the engine's interface (lib/engine/engine.h) cut at the
 * process boundary: downcalls are the sandbox_* functions, upcalls are the
 * struct engine_host callbacks.
 *
 * A turn (START, DELIVER, DELIVER_ENTRY, FIRE_TIMER, FETCH_DONE) is
 * answered by any number of upcalls and then exactly one TURN_DONE. The
 * upcalls that return something (LOAD, GET, ENTRYPOINT, FETCH,
 * IMPORT_FLAGS) wait for one REPLY. NEW is answered by NEW_DONE. The
 * supervisor may send RELEASE_EXPORT, FREE and NEW while a worker waits for
 * a REPLY (its host callbacks can drop another sandbox's export), so the
 * worker handles those wherever it reads. Every upcall names the sandbox
 * whose turn is running and the invocation it runs for.
 *
 * Field lists, after the kind (u = u64, i = i64, f = double, b = bytes or
 * null, n = a count then that many entries):
 *
 *   NEW            u sb, u memory, u stack, u arg, u result, b worker_id, b today, limits
 *   START          u sb, u budget_ns, b code (jail_code_encode), b env, n caps(u)
 *   DELIVER        u sb, u budget_ns, envelope, n caps(u)
 *   DELIVER_ENTRY  u sb, u budget_ns, b name, b props, n props_caps(u), envelope, n caps(u)
 *   FIRE_TIMER     u sb, u budget_ns, u timer
 *   FETCH_DONE     u sb, u budget_ns, u fetch, u ok, b payload, n caps(u)
 *   RELEASE_EXPORT u sb, u export
 *   FREE           u sb
 *   REPLY          i value, u aux, error
 *   HOOK           u what (test builds only: see jail_supervisor_config.test_hook)
 *
 *   NEW_DONE       u sb, u ok, error
 *   TURN_DONE      u sb, u killed, u memory_used, u cpu_ns
 *   SEND           u sb, u inv, u kind, u id, u target, b name, b payload, n caps(u kind, u flags, u id)
 *   LOAD           u sb, u inv, b code
 *   GET            u sb, u inv, b id
 *   PROVIDE        u sb, u inv, u handle, b code, error
 *   ENTRYPOINT     u sb, u inv, u handle, b name, b props, u has_limits, limits, n caps(u kind, u flags, u id)
 *   LOG            u sb, u inv, u level, b text
 *   TIMER_SET      u sb, u inv, u timer, f delay_ms
 *   TIMER_CLEAR    u sb, u inv, u timer
 *   FETCH          u sb, u inv, u fetch, b request
 *   WAIT_UNTIL     u sb, u inv, u invocation, i delta
 *   IMPORT_FLAGS   u sb, u inv, u index
 *   UNHANDLED      u sb, u inv, b text
 *
 * where envelope = u kind, u id, u target, b name, b payload; error =
 * i status, b name, b message; limits = the corral_limits fields in
 * order, each u.
 */
#ifndef CORRAL_JAIL_PROTO_H
#define CORRAL_JAIL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "corral.h"
#include "jail/channel.h"

struct workercode;

enum jail_down {
    JD_NEW = 1,
    JD_START,
    JD_DELIVER,
    JD_DELIVER_ENTRY,
    JD_FIRE_TIMER,
    JD_FETCH_DONE,
    JD_RELEASE_EXPORT,
    JD_FREE,
    JD_REPLY,
    JD_HOOK,
};

enum jail_up {
    JU_NEW_DONE = 101,
    JU_TURN_DONE,
    JU_SEND,
    JU_LOAD,
    JU_GET,
    JU_PROVIDE,
    JU_ENTRYPOINT,
    JU_LOG,
    JU_TIMER_SET,
    JU_TIMER_CLEAR,
    JU_FETCH,
    JU_WAIT_UNTIL,
    JU_IMPORT_FLAGS,
    JU_UNHANDLED,
};

#define JAIL_LIMIT_FIELDS (sizeof(corral_limits) / sizeof(uint64_t))

void jail_out_limits(struct jail_out *o, const corral_limits *l);
void jail_get_limits(struct jail_fields *f, corral_limits *l);
void jail_out_error(struct jail_out *o, const corral_error *e);
void jail_get_error(struct jail_fields *f, corral_error *e);

/* A workercode as the bytes of one flat message. Of its host bindings only
 * the Worker Loader ones are sent, by name: capability objects stay with
 * the supervisor (env already names them as stubs). Returns 0 or -1 (no
 * memory). */
int jail_code_encode(const struct workercode *c, uint8_t **out, size_t *len);
/* Rebuilds a workercode from untrusted bytes: shape only, the caller
 * validates it (wc_validate) before using it. Bindings are refused unless
 * allow_bindings (code from a worker never carries any). NULL if
 * malformed. */
struct workercode *jail_code_decode(const uint8_t *p, size_t len, int allow_bindings);

#endif
