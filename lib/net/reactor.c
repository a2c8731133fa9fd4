/* The single-threaded event loop of corral's long-running hosts (see
 * reactor.h). epoll for descriptors, an eventfd for tasks posted from other
 * threads, a small timer list, and the loader's own descriptor and timers.
 *
 * Each epoll registration carries the fd and a generation number, so an
 * event that was already collected for a descriptor that a callback then
 * unwatched (and perhaps reopened under the same number) is recognised as
 * stale and dropped. Timers live in an unsorted array: a host has a few
 * dozen at most (one per in-flight upstream call), so a linear scan is
 * cheaper than keeping a heap in order.
 */
#include "net/reactor.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct watch {
    net_io_fn fn;
    void *ud;
    uint32_t gen;
    int active;
};

struct timer {
    uint64_t id, due;
    net_task_fn fn;
    void *ud;
};

struct task {
    struct task *next;
    net_task_fn fn;
    void *ud;
};

struct net_reactor {
    int ep, wake_fd, loader_fd;
    corral_loader *loader;
    struct watch *watches;
    size_t n_watches;
    uint32_t next_gen;
    struct timer *timers;
    size_t n_timers, cap_timers;
    uint64_t next_timer_id;
    pthread_mutex_t lock;
    struct task *posted, *posted_tail;
    int stopped;
};

uint64_t net_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t pack(int fd, uint32_t gen) { return (uint64_t)gen << 32 | (uint32_t)fd; }

static int add_raw(net_reactor *r, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = {.events = events, .data.u64 = data};
    return epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev);
}

net_reactor *net_reactor_new(corral_loader *loader) {
    net_reactor *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->ep = epoll_create1(EPOLL_CLOEXEC);
    r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    r->loader_fd = -1;
    r->loader = loader;
    r->next_gen = 1;
    pthread_mutex_init(&r->lock, NULL);
    if (r->ep < 0 || r->wake_fd < 0) goto fail;
    /* Generation 0 marks the reactor's own descriptors. */
    if (add_raw(r, r->wake_fd, EPOLLIN, pack(r->wake_fd, 0)) < 0) goto fail;
    if (loader) {
        r->loader_fd = corral_loader_fd(loader);
        if (r->loader_fd < 0 || add_raw(r, r->loader_fd, EPOLLIN, pack(r->loader_fd, 0)) < 0)
            goto fail;
    }
    return r;
fail:
    net_reactor_free(r);
    return NULL;
}

void net_reactor_free(net_reactor *r) {
    if (!r) return;
    if (r->ep >= 0) close(r->ep);
    if (r->wake_fd >= 0) close(r->wake_fd);
    for (struct task *t = r->posted, *n; t; t = n) {
        n = t->next;
        free(t);
    }
    pthread_mutex_destroy(&r->lock);
    free(r->watches);
    free(r->timers);
    free(r);
}

static uint32_t epoll_bits(unsigned events) {
    return (events & NET_READ ? EPOLLIN | EPOLLRDHUP : 0) | (events & NET_WRITE ? EPOLLOUT : 0);
}

int net_reactor_watch(net_reactor *r, int fd, unsigned events, net_io_fn fn, void *ud) {
    if (fd < 0 || !fn) {
        errno = EINVAL;
        return -1;
    }
    if ((size_t)fd >= r->n_watches) {
        size_t n = (size_t)fd + 16;
        struct watch *w = realloc(r->watches, n * sizeof *w);
        if (!w) return -1;
        memset(w + r->n_watches, 0, (n - r->n_watches) * sizeof *w);
        r->watches = w;
        r->n_watches = n;
    }
    struct watch *w = &r->watches[fd];
    struct epoll_event ev = {.events = epoll_bits(events)};
    if (w->active) {
        ev.data.u64 = pack(fd, w->gen);
        if (epoll_ctl(r->ep, EPOLL_CTL_MOD, fd, &ev) < 0) return -1;
    } else {
        uint32_t gen = r->next_gen++;
        if (!r->next_gen) r->next_gen = 1;
        ev.data.u64 = pack(fd, gen);
        if (epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) < 0) return -1;
        w->gen = gen;
        w->active = 1;
    }
    w->fn = fn;
    w->ud = ud;
    return 0;
}

void net_reactor_unwatch(net_reactor *r, int fd) {
    if (fd < 0 || (size_t)fd >= r->n_watches || !r->watches[fd].active) return;
    epoll_ctl(r->ep, EPOLL_CTL_DEL, fd, NULL);
    r->watches[fd].active = 0;
    r->watches[fd].gen = 0;
}

uint64_t net_reactor_timer(net_reactor *r, uint64_t ms, net_task_fn fn, void *ud) {
    if (r->n_timers == r->cap_timers) {
        size_t n = r->cap_timers ? r->cap_timers * 2 : 16;
        struct timer *t = realloc(r->timers, n * sizeof *t);
        if (!t) return 0;
        r->timers = t;
        r->cap_timers = n;
    }
    uint64_t id = ++r->next_timer_id;
    r->timers[r->n_timers++] = (struct timer){id, net_now_ms() + ms, fn, ud};
    return id;
}

void net_reactor_cancel_timer(net_reactor *r, uint64_t id) {
    for (size_t i = 0; id && i < r->n_timers; i++) {
        if (r->timers[i].id == id) {
            r->timers[i] = r->timers[--r->n_timers];
            return;
        }
    }
}

int net_reactor_post(net_reactor *r, net_task_fn fn, void *ud) {
    struct task *t = malloc(sizeof *t);
    if (!t) return -1;
    *t = (struct task){NULL, fn, ud};
    pthread_mutex_lock(&r->lock);
    if (r->posted_tail) r->posted_tail->next = t;
    else r->posted = t;
    r->posted_tail = t;
    pthread_mutex_unlock(&r->lock);
    uint64_t one = 1;
    /* EAGAIN means the counter is already non-zero: the wake-up is pending. */
    ssize_t n = write(r->wake_fd, &one, sizeof one);
    (void)n;
    return 0;
}

static void run_posted(net_reactor *r) {
    uint64_t v;
    ssize_t n = read(r->wake_fd, &v, sizeof v);
    (void)n;
    pthread_mutex_lock(&r->lock);
    struct task *t = r->posted;
    r->posted = r->posted_tail = NULL;
    pthread_mutex_unlock(&r->lock);
    while (t) {
        struct task *next = t->next;
        t->fn(r, t->ud);
        free(t);
        t = next;
    }
}

static void run_due_timers(net_reactor *r) {
    uint64_t now = net_now_ms();
    /* Fire one at a time and rescan: a callback may cancel or add timers. */
    for (;;) {
        size_t best = r->n_timers;
        for (size_t i = 0; i < r->n_timers; i++)
            if (r->timers[i].due <= now && (best == r->n_timers || r->timers[i].due < r->timers[best].due))
                best = i;
        if (best == r->n_timers || r->stopped) return;
        struct timer t = r->timers[best];
        r->timers[best] = r->timers[--r->n_timers];
        t.fn(r, t.ud);
    }
}

static int next_timeout(net_reactor *r, int cap) {
    long long t = cap;
    if (r->n_timers) {
        uint64_t now = net_now_ms(), due = UINT64_MAX;
        for (size_t i = 0; i < r->n_timers; i++)
            if (r->timers[i].due < due) due = r->timers[i].due;
        long long d = due > now ? (long long)(due - now) : 0;
        if (t < 0 || d < t) t = d;
    }
    if (r->loader) {
        int lt = corral_loader_timeout(r->loader);
        if (lt >= 0 && (t < 0 || lt < t)) t = lt;
    }
    return (int)t;
}

int net_reactor_run_once(net_reactor *r, int timeout_ms) {
    if (r->stopped) return 1;
    struct epoll_event evs[64];
    int n = epoll_wait(r->ep, evs, 64, next_timeout(r, timeout_ms));
    if (n < 0) {
        if (errno == EINTR) return 0;
        return -1;
    }
    int loader_ready = r->loader && corral_loader_timeout(r->loader) == 0;
    for (int i = 0; i < n && !r->stopped; i++) {
        int fd = (int)(uint32_t)evs[i].data.u64;
        uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
        if (gen == 0) {
            if (fd == r->wake_fd) run_posted(r);
            else loader_ready = 1;
            continue;
        }
        if ((size_t)fd >= r->n_watches) continue;
        struct watch *w = &r->watches[fd];
        if (!w->active || w->gen != gen) continue;
        uint32_t e = evs[i].events;
        unsigned bits = (e & EPOLLIN ? NET_READ : 0) | (e & EPOLLOUT ? NET_WRITE : 0) |
                        (e & (EPOLLHUP | EPOLLRDHUP) ? NET_HANGUP : 0) | (e & EPOLLERR ? NET_ERROR : 0);
        w->fn(r, fd, bits, w->ud);
    }
    if (r->loader && !r->stopped && (loader_ready || corral_loader_timeout(r->loader) == 0))
        corral_loader_step(r->loader, 0);
    if (!r->stopped) run_due_timers(r);
    return r->stopped;
}

int net_reactor_run(net_reactor *r) {
    while (!r->stopped)
        if (net_reactor_run_once(r, -1) < 0) return -1;
    return 0;
}

void net_reactor_stop(net_reactor *r) { r->stopped = 1; }
int net_reactor_stopped(const net_reactor *r) { return r->stopped; }
corral_loader *net_reactor_loader(net_reactor *r) { return r->loader; }
