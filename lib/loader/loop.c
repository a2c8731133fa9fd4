/* The loader's loop and lifetime: the task queue, the timer heap, stepping
 * (corral_loader_step/run) and creating and freeing a loader. Tasks run
 * in FIFO order, each a delivery into one sandbox; timers are a binary heap
 * with lazy deletion, so clearing a timer is cheap and firing skips the dead.
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

double ld_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

double ld_real_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}


/* ---- the loop ------------------------------------------------------------ */

/* The eventfd is written once per batch of work, not once per message:
 * the flag says it is already readable, which saves two system calls on
 * every capability call. */
static void wake(corral_loader *l) {
    if (atomic_exchange(&l->signaled, 1)) return;
    uint64_t one = 1;
    ssize_t r = write(l->evfd, &one, sizeof one);
    (void)r;
}

void ld_task_push(corral_loader *l, struct task *t) {
    t->next = NULL;
    if (l->tail) l->tail->next = t;
    else l->head = t;
    l->tail = t;
    l->task_count++;
    /* Inside a step, corral_loader_timeout() reports 0 for the task (a
     * host's loop calls the next step at once, corral_loader_step does not
     * sleep), so the eventfd write and the read that drains it are only
     * paid for tasks pushed from outside a step: two system calls fewer on
     * every capability call. */
    if (!l->in_step) wake(l);
}

void ld_task_free(struct task *t) {
    free(t->name);
    free(t->payload);
    ld_crefs_free(t->caps, t->cap_count);
    if (t->entry) ld_cref_unref(t->entry);
    if (t->target_ref) ld_cref_unref(t->target_ref);
    if (t->w) ld_worker_unref(t->w);
    free(t);
}


/* ---- public API: loader ------------------------------------------------- */

corral_loader *corral_loader_new(const corral_options *opts, corral_error *err) {
    corral_loader *l = calloc(1, sizeof *l);
    if (!l) {
        corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory.");
        return NULL;
    }
    corral_options_default(&l->opts);
    if (opts) {
        corral_limits defaults = l->opts.limits;
        l->opts = *opts;
        uint64_t *o = (uint64_t *)&l->opts.limits;
        const uint64_t *d = (const uint64_t *)&defaults;
        for (size_t i = 0; i < sizeof defaults / sizeof(uint64_t); i++)
            if (!o[i]) o[i] = d[i];
        if (!l->opts.cache_capacity) l->opts.cache_capacity = 1024;
        if (!l->opts.max_sandboxes) l->opts.max_sandboxes = 100000;
        if (l->opts.busy_poll_us > CORRAL_BUSY_POLL_MAX_US)
            l->opts.busy_poll_us = CORRAL_BUSY_POLL_MAX_US;
    }
    l->limits = l->opts.limits;
    if (l->opts.today) snprintf(l->today, sizeof l->today, "%s", l->opts.today);
    else wc_today_utc(l->today);
    l->opts.today = NULL;
    pthread_mutex_init(&l->post_lock, NULL);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->epfd < 0 || l->evfd < 0) {
        corral_error_set(err, CORRAL_EINVAL, "Error", "epoll/eventfd failed: %s", strerror(errno));
        if (l->epfd >= 0) close(l->epfd);
        if (l->evfd >= 0) close(l->evfd);
        free(l);
        return NULL;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->evfd};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev);
    l->host = ld_engine_host;
    if (ld_box_init(l, err) < 0) {
        close(l->epfd);
        close(l->evfd);
        pthread_mutex_destroy(&l->post_lock);
        free(l);
        return NULL;
    }
    return l;
}

static void run_posted(corral_loader *l);

void corral_loader_free(corral_loader *l) {
    if (!l) return;
    /* The HTTP client's thread stops first; whatever it posted is dropped
     * by running it (completions of calls that are about to be freed). */
    if (l->net_free) l->net_free(l->net);
    ld_watchdog_stop(l);
    ld_prewarm_stop(l);
    l->net = NULL;
    run_posted(l);
    /* Every worker stays allocated until the end (closing stops reference
     * counts from freeing them), so the edges between workers, calls,
     * tasks and caps can be dropped in any order. */
    l->closing = 1;
    while (l->head) {
        struct task *t = l->head;
        l->head = t->next;
        ld_task_free(t);
    }
    l->tail = NULL;
    while (l->invocations) {
        struct invocation *inv = l->invocations;
        inv->done = NULL;
        ld_inv_destroy(l, inv);
    }
    while (l->lru_head) ld_cache_remove(l, l->lru_head);
    while (l->host_calls) {
        struct corral_call *c = l->host_calls;
        l->host_calls = c->next;
        free(c->method);
        free(c->args_json);
        free(c->worker_id);
        free(c);
    }
    while (l->calls) {
        struct call_rec *c = ld_call_take(l, l->calls->id);
        if (c->from) ld_worker_unref(c->from);
        if (c->callee) ld_worker_unref(c->callee);
        free(c);
    }
    for (struct worker *w = l->workers; w; w = w->next_all) ld_worker_drop_edges(w);
    while (l->workers) {
        struct worker *w = l->workers;
        l->workers = w->next_all;
        ld_worker_free_memory(w);
    }
    ld_timers_free(l);
    ld_box_fini(l);
    ld_idmap_free(&l->call_ids);
    ld_idmap_free(&l->inv_ids);
    ld_idmap_free(&l->cache_ids);
    close(l->epfd);
    close(l->evfd);
    pthread_mutex_destroy(&l->post_lock);
    free(l);
}

int corral_loader_fd(corral_loader *l) { return l->epfd; }

int corral_loader_timeout(corral_loader *l) {
    if (l->head) return 0;
    if (!l->timer_count) return -1;
    double d = ld_timer_next_due(l) - ld_mono_ms();
    return d <= 0 ? 0 : (int)(d + 0.999);
}

static size_t pending_count(corral_loader *l) {
    size_t n = 0;
    n += l->task_count + l->inv_live + l->host_call_count;
    n += (size_t)l->host_calls_pending;
    n += (size_t)(l->held > 0 ? l->held : 0);
    n += l->timer_count;
    return n;
}

struct timer_turn {
    struct worker *w;
    uint64_t id;
};

static void fire_in_turn(void *arg) {
    struct timer_turn *tt = arg;
    ld_box_fire_timer(tt->w, tt->id);
}

static void fire_due_timers(corral_loader *l) {
    double now = ld_mono_ms();
    struct timer_node *n;
    while ((n = ld_timer_pop_due(l, now))) {
        struct worker *w = n->w;
        uint64_t id = n->id;
        uint32_t gen = n->gen;
        free(n);
        if (!w) {
            struct invocation *inv = ld_inv_find(l, id);
            if (!inv) continue;
            inv->wall_timer = NULL;
            if (inv->answered) continue;
            w = inv->w;
            w->refs++;
            ld_box_kill(w, SANDBOX_KILL_WALL);
            ld_kill_worker_invocations(l, w, SANDBOX_KILL_WALL);
            ld_worker_unref(w);
            continue;
        }
        if (!ld_box_live(w) || w->gen != gen) continue;
        w->refs++;
        uint64_t start;
        struct timer_turn tt = {w, id};
        ld_guarded_turn(l, w, ld_run_turn_begin(w, &start), fire_in_turn, &tt);
        ld_run_turn_end(l, w, start);
        ld_worker_unref(w);
    }
}

int ld_post(corral_loader *l, void (*fn)(corral_loader *, void *), void *arg) {
    struct posted *p = malloc(sizeof *p);
    if (!p) return -1;
    p->fn = fn;
    p->arg = arg;
    p->next = NULL;
    pthread_mutex_lock(&l->post_lock);
    if (l->posted_tail) l->posted_tail->next = p;
    else l->posted = p;
    l->posted_tail = p;
    pthread_mutex_unlock(&l->post_lock);
    wake(l);
    return 0;
}

void ld_hold(corral_loader *l, int delta) { l->held += delta; }

static void run_posted(corral_loader *l) {
    pthread_mutex_lock(&l->post_lock);
    struct posted *p = l->posted;
    l->posted = l->posted_tail = NULL;
    pthread_mutex_unlock(&l->post_lock);
    while (p) {
        struct posted *next = p->next;
        p->fn(l, p->arg);
        free(p);
        p = next;
    }
}

/* Waits up to timeout_ms (-1: for ever) for the loop's epoll set; 1 when
 * something is readable. While the last wait was short, it first checks
 * without sleeping for up to busy_poll_us: a call answered within that
 * window is picked up awake, without the wake-up a sleeping thread costs. */
static int wait_for_events(corral_loader *l, int timeout_ms) {
    struct epoll_event ev;
    double spin_ms = l->opts.busy_poll_us / 1000.0;
    double started = ld_mono_ms();
    int n = 0;
    if (spin_ms > 0 && l->last_wait_ms <= spin_ms) {
        if (timeout_ms > 0 && timeout_ms < spin_ms) spin_ms = timeout_ms;
        while ((n = epoll_wait(l->epfd, &ev, 1, 0)) == 0 && ld_mono_ms() - started < spin_ms) {}
    }
    if (n == 0) {
        int left = timeout_ms;
        if (timeout_ms > 0) {
            double spent = ld_mono_ms() - started;
            left = spent >= timeout_ms ? 0 : timeout_ms - (int)spent;
        }
        n = left != 0 ? epoll_wait(l->epfd, &ev, 1, left) : 0;
    }
    /* A wait that ended by its timeout (a timer falling due) was not a
     * quick answer. */
    l->last_wait_ms = n > 0 ? ld_mono_ms() - started : 1e9;
    return n > 0;
}

int corral_loader_step(corral_loader *l, int timeout_ms) {
    /* Workers found dead at the end of the last step have sandboxes to
     * report: do not sleep before reporting them. */
    if (ld_box_pending(l)) timeout_ms = 0;
    l->in_step = 1;
    if (l->head) timeout_ms = 0;
    int due = corral_loader_timeout(l);
    if (due >= 0 && (timeout_ms < 0 || due < timeout_ms)) timeout_ms = due;
    int readable = 0, waited = timeout_ms != 0;
    if (waited) readable = wait_for_events(l, timeout_ms);
    /* Drain first, then clear the flag, then take the posted work. Cleared
     * before the drain, a wake landing between the two had its write
     * drained while its flag stayed set, so the next wake skipped its
     * write and the loop slept with work posted (seen as a 60 s stall under
     * a thousand fetch completions). In this order a wake that sees the
     * flag still set posted before the clear, so run_posted takes its work. */
    if (readable || atomic_load(&l->signaled)) {
        uint64_t drain;
        ssize_t r = read(l->evfd, &drain, sizeof drain);
        (void)r;
    }
    atomic_store(&l->signaled, 0);
    run_posted(l);
    /* Run the tasks queued so far; new ones wait for the next step. */
    struct task *batch = l->head;
    l->head = l->tail = NULL;
    l->task_count = 0;
    while (batch) {
        struct task *t = batch;
        batch = t->next;
        ld_run_task(l, t);
    }
    fire_due_timers(l);
    ld_box_poll(l, waited && !readable);
    l->in_step = 0;
    return (int)pending_count(l);
}

int corral_loader_run(corral_loader *l) {
    /* Check before waiting: an idle loader has nothing that would wake it. */
    while (pending_count(l) > 0) corral_loader_step(l, -1);
    return CORRAL_OK;
}

void corral_loader_set_outbound(corral_loader *l, corral_outbound_fn fn, void *ud) {
    l->outbound = fn;
    l->outbound_ud = ud;
}

void corral_loader_set_tail(corral_loader *l, corral_tail_fn fn, void *ud) {
    l->tail_fn = fn;
    l->tail_ud = ud;
}

void corral_loader_stats(corral_loader *l, corral_stats *out) {
    out->live_sandboxes = l->live_sandboxes;
    out->cached_workers = l->cached;
    out->sandboxes_created = l->sandboxes_created;
    out->invocations = l->invocation_count;
    out->evictions = l->evictions;
    out->escaped_sandboxes = l->escaped_sandboxes;
}

