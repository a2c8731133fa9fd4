/* A worker's sandbox, wherever it lives: in this process (the engine's
 * struct sandbox, isolation mode inline) or in a jailed worker process (the
 * supervisor's struct jail_sandbox, every other mode).
 *
 * The rest of the loader drives a sandbox only through these functions, so
 * the router, timers and invocations are the same code in every mode. Both
 * kinds take the same operations; the differences are kept here: a
 * remote sandbox gets its CPU deadline as a budget (the worker's thread
 * clock is not ours), reports its own CPU time per turn, and runs its
 * turns without the in-process watchdog because the supervisor's deadline
 * is the hard backstop. Host callbacks of a remote sandbox arrive with no
 * struct sandbox, so the invocation an upcall runs for is asked of the
 * worker here too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jail/supervisor.h"
#include "loader/loader.h"

int ld_box_live(const struct worker *w) { return w->sb != NULL || w->rsb != NULL; }

int ld_box_new(struct worker *w, const struct sandbox_config *cfg, corral_error *err) {
    corral_loader *l = w->l;
    if (l->sup) {
        w->rsb = jail_sandbox_new(l->sup, w->code ? w->code->tenant : NULL, cfg, err);
        return w->rsb ? 0 : -1;
    }
    struct sandbox *ready = ld_prewarm_take(l);
    if (ready && sandbox_assign(ready, cfg, err) < 0) {
        ld_prewarm_retire(l, ready);
        return -1;
    }
    w->sb = ready ? ready : sandbox_new(cfg, err);
    return w->sb ? 0 : -1;
}

const corral_error *ld_box_start_error(const struct worker *w) {
    return w->rsb ? jail_sandbox_start_error(w->rsb) : NULL;
}

enum sandbox_kill ld_box_start_kill(const struct worker *w) {
    return w->rsb ? jail_sandbox_start_kill(w->rsb) : SANDBOX_KILL_NONE;
}

void ld_box_discard(struct worker *w) {
    if (w->rsb) {
        jail_sandbox_free(w->rsb);
        w->rsb = NULL;
        return;
    }
    struct sandbox *sb = w->sb;
    w->sb = NULL;
    if (w->sb_escaped) {
        w->sb_escaped = 0;
        sandbox_release_abandoned(sb);
    } else {
        ld_prewarm_retire(w->l, sb);
    }
}

uint64_t ld_box_cpu_now(const struct worker *w) { return w->rsb ? 0 : engine_thread_cpu_ns_cheap(); }

void ld_box_set_deadline(struct worker *w, uint64_t deadline_ns) {
    if (w->rsb) {
        /* 0 clears an in-process deadline; a remote one ends with its turn.
         * Its deadline was set on ld_box_cpu_now's 0: it is the budget. */
        if (!deadline_ns) return;
        jail_sandbox_set_cpu_budget(w->rsb, deadline_ns);
    } else if (w->sb) {
        sandbox_set_cpu_deadline(w->sb, deadline_ns);
    }
}

uint64_t ld_box_turn_cpu(const struct worker *w, uint64_t start_cpu) {
    if (w->rsb) return jail_sandbox_turn_cpu_ns(w->rsb);
    return engine_thread_cpu_since(start_cpu);
}

enum sandbox_kill ld_box_killed(const struct worker *w) {
    if (w->rsb) return jail_sandbox_killed(w->rsb);
    return w->sb ? sandbox_killed(w->sb) : SANDBOX_KILL_NONE;
}

void ld_box_kill(struct worker *w, enum sandbox_kill why) {
    if (w->rsb) jail_sandbox_kill(w->rsb, why);
    else if (w->sb) sandbox_kill(w->sb, why);
}

const char *ld_box_crash_message(const struct worker *w) {
    return w->rsb ? jail_sandbox_crash_message(w->rsb) : "The sandbox ended unexpectedly.";
}

uint64_t ld_box_invocation(const struct worker *w, const struct sandbox *sb) {
    if (w->rsb) return jail_sandbox_invocation(w->rsb);
    return sb ? sandbox_current_invocation(sb) : 0;
}

void ld_box_start(struct worker *w, const uint64_t *env_idx) {
    struct workercode *c = w->code;
    if (w->rsb) jail_sandbox_start(w->rsb, c, c->env, c->env_len, env_idx, w->env_cap_count);
    else sandbox_start(w->sb, c, c->env, c->env_len, env_idx, w->env_cap_count);
}

void ld_box_deliver(struct worker *w, const struct wire_msg *m, const uint64_t *caps) {
    if (w->rsb) jail_sandbox_deliver(w->rsb, m, caps);
    else sandbox_deliver(w->sb, m, caps);
}

void ld_box_deliver_entry(struct worker *w, const struct cref *entry, uint64_t *props_idx,
                          struct wire_msg *m, const uint64_t *caps) {
    if (w->rsb) {
        jail_sandbox_deliver_entry(w->rsb, entry->entry, entry->props, entry->props_len,
                                   props_idx, entry->props_cap_count, m, caps);
        free(props_idx);
        return;
    }
    int64_t ex = sandbox_export_entrypoint(w->sb, entry->entry, entry->props, entry->props_len,
                                           props_idx, entry->props_cap_count);
    /* Freed before the delivery: the watchdog may cut that short. */
    free(props_idx);
    m->target = ex < 0 ? 0 : (uint64_t)ex;
    sandbox_deliver(w->sb, m, caps);
    if (ex > 0 && w->sb) sandbox_release_export(w->sb, (uint64_t)ex);
}

void ld_box_release_export(struct worker *w, uint64_t export_id) {
    if (w->rsb) jail_sandbox_release_export(w->rsb, export_id);
    else if (w->sb) sandbox_release_export(w->sb, export_id);
}

void ld_box_fire_timer(struct worker *w, uint64_t timer_id) {
    if (w->rsb) jail_sandbox_fire_timer(w->rsb, timer_id);
    else sandbox_fire_timer(w->sb, timer_id);
}

void ld_box_fetch_done(struct worker *w, uint64_t fetch_id, int ok, const uint8_t *payload,
                       size_t len, const uint64_t *caps, size_t cap_count) {
    if (w->rsb) jail_sandbox_fetch_done(w->rsb, fetch_id, ok, payload, len, caps, cap_count);
    else sandbox_fetch_done(w->sb, fetch_id, ok, payload, len, caps, cap_count);
}

/* ---- the supervisor's side of the loader --------------------------------- */

static void lost(void *ud, void *host_data) {
    corral_loader *l = ud;
    struct worker *w = host_data;
    w->refs++;
    ld_kill_worker_invocations(l, w, SANDBOX_KILL_CRASHED);
    ld_worker_unref(w);
}

int ld_box_pending(corral_loader *l) { return l->sup && jail_supervisor_pending(l->sup); }

int ld_box_poll(corral_loader *l, int quiet) {
    if (!l->sup) return 0;
    double now = ld_mono_ms();
    if (!jail_supervisor_pending(l->sup) && (quiet || now - l->box_polled_ms < 1.0)) return 0;
    l->box_polled_ms = now;
    jail_supervisor_poll(l->sup, lost, l);
    return jail_supervisor_pending(l->sup);
}

int ld_box_init(corral_loader *l, corral_error *err) {
    corral_isolation mode = l->opts.isolation;
    /* The default is the jail: running model-written code in the host's
     * own process is a choice an embedder makes explicitly. */
    if (mode == CORRAL_ISOLATION_DEFAULT) mode = l->opts.isolation = CORRAL_ISOLATION_POOL;
    if (mode == CORRAL_ISOLATION_INLINE) return 0;
    struct jail_supervisor_config cfg = {
        .mode = mode,
        .pool_size = l->opts.isolation_workers,
        .max_sandboxes_per_worker = l->opts.isolation_worker_sandboxes,
        .epfd = l->epfd,
        .spin_us = l->opts.busy_poll_us,
        .host = &l->host,
    };
    l->sup = jail_supervisor_new(&cfg, err);
    return l->sup ? 0 : -1;
}

void ld_box_fini(corral_loader *l) {
    jail_supervisor_free(l->sup);
    l->sup = NULL;
}

size_t corral_loader_describe_isolation(corral_loader *l, char *buf, size_t len) {
    if (!l || !buf || !len) return 0;
    if (!l->sup)
        return (size_t)snprintf(buf, len,
                                "isolation inline: sandboxes run inside this process, with no jail "
                                "under the engine");
    return jail_supervisor_describe(l->sup, buf, len);
}

int corral_isolation_parse(const char *name) {
    static const struct { const char *name; corral_isolation mode; } modes[] = {
        {"inline", CORRAL_ISOLATION_INLINE}, {"pool", CORRAL_ISOLATION_POOL},
        {"tenant", CORRAL_ISOLATION_TENANT}, {"process", CORRAL_ISOLATION_PROCESS}};
    for (size_t i = 0; name && i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(name, modes[i].name) == 0) return (int)modes[i].mode;
    return -1;
}
