/* Timers: one binary min-heap of nodes for every sandbox timer and every
 * invocation's wall-time limit in the loader.
 *
 * Each node knows its heap position, so cancelling is a true O(log n)
 * removal rather than a tombstone: a cleared timer or a finished
 * invocation's wall limit stops counting as pending work at once, and the
 * heap never grows past the timers that are really live. A worker also
 * keeps a list of its own nodes, so clearing a timer by id scans only that
 * worker's timers, and discarding a sandbox cancels them all.
 */
#include <stdlib.h>

#include "loader/loader.h"

static int earlier(const struct timer_node *a, const struct timer_node *b) {
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void place(corral_loader *l, size_t i, struct timer_node *n) {
    l->timers[i] = n;
    n->heap_index = i;
}

static void sift_up(corral_loader *l, size_t i) {
    struct timer_node *n = l->timers[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!earlier(n, l->timers[p])) break;
        place(l, i, l->timers[p]);
        i = p;
    }
    place(l, i, n);
}

static void sift_down(corral_loader *l, size_t i) {
    struct timer_node *n = l->timers[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->timer_count) break;
        if (c + 1 < l->timer_count && earlier(l->timers[c + 1], l->timers[c])) c++;
        if (!earlier(l->timers[c], n)) break;
        place(l, i, l->timers[c]);
        i = c;
    }
    place(l, i, n);
}

struct timer_node *ld_timer_add(corral_loader *l, double due_ms, struct worker *w, uint64_t id) {
    if (l->timer_count == l->timer_cap) {
        size_t ncap = l->timer_cap ? l->timer_cap * 2 : 16;
        struct timer_node **n = realloc(l->timers, ncap * sizeof *n);
        if (!n) return NULL;
        l->timers = n;
        l->timer_cap = ncap;
    }
    struct timer_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->due_ms = due_ms;
    n->seq = ++l->timer_seq;
    n->w = w;
    n->gen = w ? w->gen : 0;
    n->id = id;
    if (w) {
        if (ld_idmap_put(&w->timer_ids, id, n) < 0) {
            free(n);
            return NULL;
        }
        n->wnext = w->timers;
        if (w->timers) w->timers->wprev = n;
        w->timers = n;
    }
    l->timers[l->timer_count++] = n;
    sift_up(l, l->timer_count - 1);
    return n;
}

/* Takes n out of the heap and its worker's list; the caller frees it. */
static void detach(corral_loader *l, struct timer_node *n) {
    size_t i = n->heap_index;
    struct timer_node *last = l->timers[--l->timer_count];
    if (i < l->timer_count) {
        place(l, i, last);
        sift_down(l, i);
        sift_up(l, last->heap_index);
    }
    if (n->w) {
        ld_idmap_take(&n->w->timer_ids, n->id);
        if (n->wprev) n->wprev->wnext = n->wnext;
        else n->w->timers = n->wnext;
        if (n->wnext) n->wnext->wprev = n->wprev;
    }
}

void ld_timer_cancel(corral_loader *l, struct timer_node *n) {
    if (!n) return;
    detach(l, n);
    free(n);
}

struct timer_node *ld_timer_find(struct worker *w, uint64_t id) {
    return ld_idmap_get(&w->timer_ids, id);
}

void ld_timers_cancel_worker(corral_loader *l, struct worker *w) {
    while (w->timers) ld_timer_cancel(l, w->timers);
}

double ld_timer_next_due(corral_loader *l) {
    return l->timer_count ? l->timers[0]->due_ms : -1;
}

struct timer_node *ld_timer_pop_due(corral_loader *l, double now) {
    if (!l->timer_count || l->timers[0]->due_ms > now) return NULL;
    struct timer_node *n = l->timers[0];
    detach(l, n);
    return n;
}

void ld_timers_free(corral_loader *l) {
    for (size_t i = 0; i < l->timer_count; i++) free(l->timers[i]);
    free(l->timers);
    l->timers = NULL;
    l->timer_count = l->timer_cap = 0;
}
