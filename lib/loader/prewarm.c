/* Prewarming: fresh sandboxes built ahead of time on a helper thread, and
 * used ones freed there too.
 *
 * Creating a QuickJS runtime and context with corral's globals, and freeing
 * it, are most of what a cold load costs. Neither depends on the worker
 * that will use the sandbox, so one thread per loader keeps a few fresh
 * sandboxes ready (corral_options.prewarm_sandboxes) and frees retired ones
 * off the loop thread. Each sandbox is still used exactly once: a
 * prewarmed sandbox has never run anything but corral's own set-up, and it
 * receives its worker's limits and identity when it is taken
 * (sandbox_assign). QuickJS keeps no unsynchronised global state, so a
 * runtime may be created on one thread, run on another and freed on a third
 * as long as only one uses it at a time, which the hand-over under the
 * lock guarantees.
 */
#include <stdlib.h>
#include <string.h>

#include "loader/loader.h"

struct prewarm {
    corral_loader *l;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    struct sandbox **ready;
    size_t ready_count, target;
    struct sandbox **retired;
    size_t retired_count, retired_cap;
    struct sandbox_config cfg;
};

static void *prewarm_main(void *arg) {
    struct prewarm *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->retired_count == 0 && p->ready_count >= p->target)
            pthread_cond_wait(&p->cond, &p->lock);
        if (p->stop) break;
        if (p->retired_count > 0) {
            struct sandbox *sb = p->retired[--p->retired_count];
            pthread_mutex_unlock(&p->lock);
            sandbox_free(sb);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        pthread_mutex_unlock(&p->lock);
        corral_error err;
        struct sandbox *sb = sandbox_new(&p->cfg, &err);
        pthread_mutex_lock(&p->lock);
        if (!sb) {
            /* Out of memory: the loop thread creates its own until it
             * retires one (which wakes us again). */
            p->target = p->ready_count;
            continue;
        }
        if (p->stop || p->ready_count >= p->target) {
            pthread_mutex_unlock(&p->lock);
            sandbox_free(sb);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        p->ready[p->ready_count++] = sb;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static struct prewarm *prewarm_get(corral_loader *l) {
    if (l->prewarm || l->opts.prewarm_sandboxes == 0 || l->closing) return l->prewarm;
    struct prewarm *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->l = l;
    p->target = l->opts.prewarm_sandboxes;
    p->ready = calloc(p->target, sizeof *p->ready);
    if (!p->ready) {
        free(p);
        return NULL;
    }
    p->cfg = (struct sandbox_config){
        .host = &l->host, .memory_bytes = l->limits.memory_bytes,
        .stack_bytes = l->limits.stack_bytes, .arg_bytes = l->limits.arg_bytes,
        .result_bytes = l->limits.result_bytes, .worker_id = "prewarmed", .today = l->today,
        .limits = l->limits};
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    if (ld_thread_start(&p->thread, prewarm_main, p) != 0) {
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        free(p->ready);
        free(p);
        /* Run without prewarming rather than fail. */
        l->opts.prewarm_sandboxes = 0;
        return NULL;
    }
    l->prewarm = p;
    return p;
}

struct sandbox *ld_prewarm_take(corral_loader *l) {
    struct prewarm *p = prewarm_get(l);
    if (!p) return NULL;
    struct sandbox *sb = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->ready_count > 0) sb = p->ready[--p->ready_count];
    p->target = l->opts.prewarm_sandboxes;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return sb;
}

/* When the helper is behind (a saturated loop), freeing waits for no one:
 * the loop frees inline, so retired sandboxes never pile up in memory. */
#define RETIRE_BACKLOG 4

void ld_prewarm_retire(corral_loader *l, struct sandbox *sb) {
    struct prewarm *p = l->closing ? NULL : l->prewarm;
    if (p) {
        pthread_mutex_lock(&p->lock);
        if (p->retired_count >= RETIRE_BACKLOG) {
            pthread_mutex_unlock(&p->lock);
            sandbox_free(sb);
            return;
        }
        if (p->retired_count == p->retired_cap) {
            size_t ncap = p->retired_cap ? p->retired_cap * 2 : 16;
            struct sandbox **n = realloc(p->retired, ncap * sizeof *n);
            if (n) {
                p->retired = n;
                p->retired_cap = ncap;
            }
        }
        if (p->retired_count < p->retired_cap) {
            p->retired[p->retired_count++] = sb;
            pthread_cond_signal(&p->cond);
            pthread_mutex_unlock(&p->lock);
            return;
        }
        pthread_mutex_unlock(&p->lock);
    }
    sandbox_free(sb);
}

void ld_prewarm_stop(corral_loader *l) {
    struct prewarm *p = l->prewarm;
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    for (size_t i = 0; i < p->ready_count; i++) sandbox_free(p->ready[i]);
    for (size_t i = 0; i < p->retired_count; i++) sandbox_free(p->retired[i]);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->ready);
    free(p->retired);
    free(p);
    l->prewarm = NULL;
}
