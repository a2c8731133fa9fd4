/* Workers and capability references. A worker is a WorkerCode plus, while
 * it runs, a sandbox; it can be restarted from its code after a limit
 * discarded the sandbox. crefs are what a sandbox's import indexes name;
 * they are reference-counted and shared by every table that holds them.
 * The get() cache is an LRU list of workers.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "loader/code.h"
#include "loader/loader.h"
#include "wire/wire.h"

/* ---- crefs --------------------------------------------------------------- */


struct cref *ld_cref_new(enum cref_kind kind) {
    struct cref *c = calloc(1, sizeof *c);
    if (c) {
        c->kind = kind;
        c->refs = 1;
    }
    return c;
}

void ld_cref_unref(struct cref *c) {
    if (!c || --c->refs > 0) return;
    if (c->kind == CREF_OBJECT && c->w && ld_box_live(c->w) && c->w->gen == c->gen)
        ld_box_release_export(c->w, c->obj);
    for (size_t i = 0; i < c->props_cap_count; i++) ld_cref_unref(c->props_caps[i]);
    free(c->props_caps);
    free(c->props);
    free(c->entry);
    if (c->cap) corral_capability_release(c->cap);
    if (c->w) ld_worker_unref(c->w);
    free(c);
}

int64_t ld_import_add(struct worker *w, struct cref *c) {
    if (w->import_count == w->import_cap) {
        size_t ncap = w->import_cap ? w->import_cap * 2 : 8;
        struct cref **n = realloc(w->imports, ncap * sizeof *n);
        if (!n) return -1;
        w->imports = n;
        w->import_cap = ncap;
    }
    c->refs++;
    w->imports[w->import_count] = c;
    return (int64_t)w->import_count++;
}

struct cref *ld_import_get(struct worker *w, uint64_t idx) {
    return idx < w->import_count ? w->imports[idx] : NULL;
}

/* A sandbox's cap list, in its own terms, to crefs (each referenced once
 * more). Forged indexes fail. */
struct cref **ld_caps_from_sandbox(struct worker *w, const struct wire_cap *caps, size_t n,
                                       corral_error *err) {
    struct cref **out = calloc(n ? n : 1, sizeof *out);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        struct cref *c = NULL;
        if (caps[i].kind == WIRE_CAP_IMPORT) {
            c = ld_import_get(w, caps[i].id);
            if (!c) {
                corral_error_set(err, CORRAL_EINVAL, "DataCloneError",
                                 "A message named a stub this worker does not hold.");
                goto fail;
            }
            if (c->flags & WIRE_CAP_F_NO_TRANSFER) {
                corral_error_set(err, CORRAL_EINVAL, "DataCloneError",
                                 "Entrypoints to dynamically-loaded workers cannot be transferred "
                                 "to other Workers.");
                goto fail;
            }
            c->refs++;
        } else if (caps[i].kind == WIRE_CAP_EXPORT) {
            c = ld_cref_new(CREF_OBJECT);
            if (!c) goto fail;
            c->w = w;
            w->refs++;
            c->gen = w->gen;
            c->obj = caps[i].id;
            c->flags = caps[i].flags & WIRE_CAP_F_FUNCTION;
        } else {
            corral_error_set(err, CORRAL_EINVAL, "DataCloneError", "A message had a bad cap.");
            goto fail;
        }
        out[i] = c;
    }
    return out;
fail:
    for (size_t i = 0; i < n; i++) ld_cref_unref(out[i]);
    free(out);
    return NULL;
}

void ld_crefs_free(struct cref **c, size_t n) {
    for (size_t i = 0; c && i < n; i++) ld_cref_unref(c[i]);
    free(c);
}

/* ---- workers ------------------------------------------------------------- */


static void lru_unlink(corral_loader *l, struct worker *w) {
    if (w->lru_prev) w->lru_prev->lru_next = w->lru_next;
    else if (l->lru_head == w) l->lru_head = w->lru_next;
    if (w->lru_next) w->lru_next->lru_prev = w->lru_prev;
    else if (l->lru_tail == w) l->lru_tail = w->lru_prev;
    w->lru_prev = w->lru_next = NULL;
}

void ld_lru_touch(corral_loader *l, struct worker *w) {
    lru_unlink(l, w);
    w->lru_next = l->lru_head;
    if (l->lru_head) l->lru_head->lru_prev = w;
    l->lru_head = w;
    if (!l->lru_tail) l->lru_tail = w;
}

static uint64_t hash_id(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    return h ? h : 1;
}

struct worker *ld_cache_find(corral_loader *l, const char *id) {
    for (struct worker *w = ld_idmap_get(&l->cache_ids, hash_id(id)); w; w = w->hash_next)
        if (strcmp(w->id, id) == 0) return w;
    return NULL;
}

void ld_cache_insert(corral_loader *l, struct worker *w) {
    w->id_hash = hash_id(w->id);
    w->hash_next = ld_idmap_get(&l->cache_ids, w->id_hash);
    if (ld_idmap_put(&l->cache_ids, w->id_hash, w) < 0) return; /* not cached: rebuilt next time */
    w->in_cache = 1;
    w->refs++;
    ld_lru_touch(l, w);
    l->cached++;
    while (l->cached > l->opts.cache_capacity && l->lru_tail) {
        l->evictions++;
        ld_cache_remove(l, l->lru_tail);
    }
}

void ld_cache_remove(corral_loader *l, struct worker *w) {
    if (!w->in_cache) return;
    w->in_cache = 0;
    struct worker *head = ld_idmap_take(&l->cache_ids, w->id_hash);
    if (head == w) head = w->hash_next;
    else
        for (struct worker *p = head; p; p = p->hash_next)
            if (p->hash_next == w) p->hash_next = w->hash_next;
    if (head) ld_idmap_put(&l->cache_ids, w->id_hash, head);
    w->hash_next = NULL;
    lru_unlink(l, w);
    l->cached--;
    ld_worker_unref(w);
}

void ld_worker_drop_edges(struct worker *w) {
    ld_worker_discard_sandbox(w);
    while (w->parked) {
        struct task *t = w->parked;
        w->parked = t->next;
        ld_task_free(t);
    }
    ld_crefs_free(w->env_caps, w->env_cap_count);
    w->env_caps = NULL;
    w->env_cap_count = 0;
    if (w->outbound_stub) ld_cref_unref(w->outbound_stub);
    w->outbound_stub = NULL;
}

void ld_worker_free_memory(struct worker *w) {
    wc_free(w->code);
    free(w->imports);
    ld_idmap_free(&w->timer_ids);
    free(w->id);
    free(w);
}

static void worker_free(struct worker *w) {
    corral_loader *l = w->l;
    if (w->prev_all) w->prev_all->next_all = w->next_all;
    else l->workers = w->next_all;
    if (w->next_all) w->next_all->prev_all = w->prev_all;
    ld_worker_drop_edges(w);
    if (w->parent) ld_worker_unref(w->parent);
    ld_worker_free_memory(w);
}

void ld_worker_unref(struct worker *w) {
    /* During teardown corral_loader_free owns every worker's memory. */
    if (w && --w->refs == 0 && !w->l->closing) worker_free(w);
}

struct worker *ld_worker_new(corral_loader *l, const char *id) {
    struct worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->l = l;
    w->refs = 1;
    if (id) {
        w->id = strdup(id);
    } else {
        char buf[32];
        snprintf(buf, sizeof buf, "load:%llu", (unsigned long long)++l->load_seq);
        w->id = strdup(buf);
    }
    w->limits = l->limits;
    w->next_all = l->workers;
    if (l->workers) l->workers->prev_all = w;
    l->workers = w;
    return w;
}


/* Frees the sandbox: every import it held goes, exports die with it. */
void ld_worker_discard_sandbox(struct worker *w) {
    if (!ld_box_live(w)) return;
    corral_loader *l = w->l;
    w->gen++;
    ld_box_discard(w);
    l->live_sandboxes--;
    for (size_t i = 0; i < w->import_count; i++) ld_cref_unref(w->imports[i]);
    w->import_count = 0;
    ld_timers_cancel_worker(l, w);
}

static void apply_code_limits(struct worker *w) {
    ld_limits_lower(&w->limits, &w->code->limits);
}

struct start_turn {
    struct worker *w;
    uint64_t *idx;
};

static void start_in_turn(void *arg) {
    struct start_turn *st = arg;
    struct worker *w = st->w;
    ld_box_start(w, st->idx);
}

/* Starts a fresh sandbox for w from its code. */
int ld_worker_start(struct worker *w, corral_error *err) {
    corral_loader *l = w->l;
    if (l->live_sandboxes >= l->opts.max_sandboxes) {
        corral_error_set(err, CORRAL_EBUSY, "CapacityError",
                         "The loader already holds its maximum of %zu live sandboxes; retry when "
                         "some have finished.",
                         l->opts.max_sandboxes);
        return -1;
    }
    struct sandbox_config cfg = {
        .host = &l->host, .host_data = w, .memory_bytes = w->limits.memory_bytes,
        .stack_bytes = w->limits.stack_bytes, .arg_bytes = w->limits.arg_bytes,
        .result_bytes = w->limits.result_bytes, .worker_id = w->id, .today = l->today,
        .limits = w->limits};
    if (ld_box_new(w, &cfg, err) < 0) return -1;
    l->live_sandboxes++;
    l->sandboxes_created++;
    uint64_t *idx = calloc(w->env_cap_count ? w->env_cap_count : 1, sizeof *idx);
    if (!idx) {
        ld_worker_discard_sandbox(w);
        corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory starting a worker.");
        return -1;
    }
    for (size_t i = 0; i < w->env_cap_count; i++) {
        int64_t k = ld_import_add(w, w->env_caps[i]);
        idx[i] = k < 0 ? 0 : (uint64_t)k;
    }
    uint64_t deadline = ld_box_cpu_now(w) + w->limits.cpu_ms * 1000000ull;
    ld_box_set_deadline(w, deadline);
    struct start_turn st = {w, idx};
    int escaped = ld_guarded_turn(w->l, w, deadline, start_in_turn, &st);
    free(idx);
    enum sandbox_kill k = escaped ? SANDBOX_KILL_CPU : ld_box_killed(w);
    if (!escaped) ld_box_set_deadline(w, 0);
    /* A jailed START leaves with the first call's turn: its outcome is
     * checked after that turn (ld_worker_check_start). */
    if (!k && w->rsb) {
        w->start_unchecked = 1;
        return 0;
    }
    return ld_worker_check_start(w, k, err);
}

int ld_worker_check_start(struct worker *w, enum sandbox_kill k, corral_error *err) {
    w->start_unchecked = 0;
    const corral_error *not_created = ld_box_start_error(w);
    if (not_created) {
        /* A worker process could not create the sandbox (ld_box_new did
         * not wait to hear): its own error, as in-process creation gives. */
        *err = *not_created;
        ld_worker_discard_sandbox(w);
        return -1;
    }
    if (k) {
        char crashed[256];
        snprintf(crashed, sizeof crashed, "%s", ld_box_crash_message(w));
        ld_worker_discard_sandbox(w);
        if (k == SANDBOX_KILL_CRASHED)
            corral_error_set(err, CORRAL_ELIMIT, "SandboxCrashedError", "%s", crashed);
        else if (k == SANDBOX_KILL_MEMORY)
            corral_error_set(err, CORRAL_ELIMIT, "MemoryLimitError",
                             "The worker's startup exceeded the memory limit of %llu bytes.",
                             (unsigned long long)w->limits.memory_bytes);
        else
            corral_error_set(err, CORRAL_ELIMIT, "CpuLimitError",
                             "The worker's startup exceeded the CPU time limit of %llu ms.",
                             (unsigned long long)w->limits.cpu_ms);
        return -1;
    }
    return 0;
}

/* Sets up a worker from validated code; env caps translate from `creator`
 * (a sandbox worker), or from host bindings. */
int ld_worker_set_code(struct worker *w, struct workercode *code, struct worker *creator,
                           corral_error *err) {
    w->code = code;
    apply_code_limits(w);
    /* A child runs for its creator's tenant whatever its code says, or a
     * sandbox could name another tenant's key and share its worker. */
    if (creator) {
        const char *t = creator->code ? creator->code->tenant : NULL;
        char *dup = t ? strdup(t) : NULL;
        if (t && !dup) {
            corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory.");
            return -1;
        }
        free(code->tenant);
        code->tenant = dup;
    }
    if (creator && code->env_cap_count) {
        w->env_caps = ld_caps_from_sandbox(creator, code->env_caps, code->env_cap_count, err);
        if (!w->env_caps) return -1;
        w->env_cap_count = code->env_cap_count;
    }
    if (code->outbound == WC_OUTBOUND_STUB) {
        /* The payload is [env, outbound, tails]: caps are numbered in that
         * order, so the tails' caps come last and the outbound's before. */
        if (w->env_cap_count < code->tail_count + 1) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError", "globalOutbound is not a stub.");
            return -1;
        }
        w->outbound_stub = w->env_caps[w->env_cap_count - code->tail_count - 1];
        w->outbound_stub->refs++;
    }
    if (code->tail_count && code->tail_count <= w->env_cap_count) w->tail_count = code->tail_count;
    if (code->outbound == WC_OUTBOUND_DEFAULT) {
        w->outbound = creator ? WC_OUTBOUND_DEFAULT : WC_OUTBOUND_BLOCK;
        if (creator) {
            w->parent = creator;
            creator->refs++;
        }
    } else {
        w->outbound = (int)code->outbound;
    }
    w->state = W_READY;
    return 0;
}

