/* The sandbox heap (heap.h): size-classed blocks carved from chunks.
 *
 * Layout. A chunk is a malloc'd run of 16 KiB (64 KiB once a heap holds
 * many) whose blocks start 8 bytes before a 16-byte boundary, so every
 * block is an 8-byte header followed by a 16-aligned payload of 16k + 8
 * bytes (class k, 0..63). The header holds the payload's size; a large
 * block's header is 0 and its size is malloc's. A free block keeps its
 * header and carries the free list's link in its payload.
 *
 * Free payloads and the uncarved rest of a chunk are poisoned for
 * AddressSanitizer and marked inaccessible for valgrind, so use after free
 * and overruns past a chunk's carved end inside a sandbox are still
 * reported by both.
 */
#include "engine/heap.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_ASAN 1
#endif
#endif
/* POISON: nothing may touch these bytes. UNPOISON: a block handed out,
 * writable, its contents undefined. READABLE: bytes the heap itself reads
 * back (a free block's link). AddressSanitizer builds use its poisoning;
 * other builds tell valgrind's memcheck the same through client requests,
 * which cost a few instructions when valgrind is not running. */
#ifdef HEAP_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define READABLE(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#elif defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define POISON(p, n) ((void)VALGRIND_MAKE_MEM_NOACCESS((p), (n)))
#define UNPOISON(p, n) ((void)VALGRIND_MAKE_MEM_UNDEFINED((p), (n)))
#define READABLE(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#endif
#endif
#ifndef POISON
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#define READABLE(p, n) ((void)(p), (void)(n))
#endif

#define SMALL_CHUNK (16u * 1024u)
#define BIG_CHUNK (64u * 1024u)
#define BIG_CHUNK_AFTER 16 /* chunks; a heap this big is a busy one */
#define HEADER 8u
/* glibc's own word beside each malloc'd block, counted in the footprint */
#define MALLOC_WORD 8u

struct heap_chunk {
    struct heap_chunk *next;
    size_t size;
};

struct heap_large {
    struct heap_large *prev, *next;
    size_t unused;   /* keeps the payload 16-aligned */
    uint64_t header; /* 0: the header every block has just before its payload */
};

/* ---- the chunk pool -------------------------------------------------------
 *
 * Chunks of ended sandboxes wait here for the next sandbox instead of going
 * back to malloc: a process that creates and frees a sandbox after another
 * would otherwise have glibc trim the top of its heap on every free and
 * fault the same pages back in on the next creation (a sixth of a cold
 * sandbox's cost in a host with glibc's default trimming). Bounded, shared
 * by every thread under a lock, and emptied by heap_pool_drain() before
 * memory is given back to the kernel. A pooled chunk's bytes are poisoned
 * for AddressSanitizer and valgrind as a freed block's are. */
#define POOL_BYTES (2u << 20)

static struct {
    pthread_mutex_t lock;
    struct heap_chunk *small, *big; /* SMALL_CHUNK and BIG_CHUNK chunks */
    size_t bytes;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t pool_atfork_once = PTHREAD_ONCE_INIT;
static void pool_lock_for_fork(void) { pthread_mutex_lock(&pool.lock); }
static void pool_unlock_after_fork(void) { pthread_mutex_unlock(&pool.lock); }
static void pool_register_atfork(void) {
    pthread_atfork(pool_lock_for_fork, pool_unlock_after_fork, pool_unlock_after_fork);
}

static void pool_lock(void) {
    pthread_once(&pool_atfork_once, pool_register_atfork);
    pthread_mutex_lock(&pool.lock);
}

/* A pooled chunk keeps its header (the pool's link and its size) readable
 * and everything after it poisoned. */
static struct heap_chunk *pool_take(size_t size) {
    pool_lock();
    struct heap_chunk **list = size == SMALL_CHUNK ? &pool.small : &pool.big;
    struct heap_chunk *c = *list;
    if (c) {
        *list = c->next;
        pool.bytes -= size;
    }
    pthread_mutex_unlock(&pool.lock);
    return c;
}

/* 1 when the pool kept the chunk. */
static int pool_put(struct heap_chunk *c, size_t size) {
    if (size != SMALL_CHUNK && size != BIG_CHUNK) return 0;
    pool_lock();
    int kept = pool.bytes + size <= POOL_BYTES;
    if (kept) {
        struct heap_chunk **list = size == SMALL_CHUNK ? &pool.small : &pool.big;
        c->next = *list;
        c->size = size;
        *list = c;
        pool.bytes += size;
        POISON(c + 1, size - sizeof *c);
    }
    pthread_mutex_unlock(&pool.lock);
    return kept;
}

void heap_pool_drain(void) {
    pool_lock();
    struct heap_chunk *lists[2] = {pool.small, pool.big};
    pool.small = pool.big = NULL;
    pool.bytes = 0;
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < 2; i++) {
        while (lists[i]) {
            struct heap_chunk *c = lists[i];
            lists[i] = c->next;
            UNPOISON(c, c->size);
            free(c);
        }
    }
}

size_t heap_pool_bytes(void) {
    pool_lock();
    size_t n = pool.bytes;
    pthread_mutex_unlock(&pool.lock);
    return n;
}

static unsigned class_of(size_t size) { return (unsigned)((size + 7) >> 4); }
static size_t class_usable(unsigned k) { return (size_t)k * 16 + 8; }
static size_t class_block(unsigned k) { return (size_t)k * 16 + 16; }
static uint64_t *header_of(const void *p) { return (uint64_t *)p - 1; }

void heap_init(struct sb_heap *h) {
    memset(h, 0, sizeof *h);
    h->limit = SIZE_MAX;
}

size_t heap_usable(const void *p) {
    uint64_t hdr = *header_of(p);
    if (hdr) return (size_t)hdr;
    return malloc_usable_size((char *)p - sizeof(struct heap_large)) - sizeof(struct heap_large);
}

size_t heap_cost(const void *p) {
    uint64_t hdr = *header_of(p);
    if (hdr) return (size_t)hdr + HEADER;
    return malloc_usable_size((char *)p - sizeof(struct heap_large)) + MALLOC_WORD;
}

static int over_limit(struct sb_heap *h, size_t more) {
    if (more > h->limit || h->footprint > h->limit - more) {
        h->refused = 1;
        return 1;
    }
    return 0;
}

/* ---- large blocks -------------------------------------------------------- */

static void large_link(struct sb_heap *h, struct heap_large *l) {
    l->prev = NULL;
    l->next = h->large;
    if (h->large) h->large->prev = l;
    h->large = l;
    l->header = 0;
}

static void large_unlink(struct sb_heap *h, struct heap_large *l) {
    if (l->prev) l->prev->next = l->next;
    else h->large = l->next;
    if (l->next) l->next->prev = l->prev;
}

static void *large_alloc(struct sb_heap *h, size_t size) {
    if (size > SIZE_MAX - sizeof(struct heap_large) - MALLOC_WORD ||
        over_limit(h, size + sizeof(struct heap_large) + MALLOC_WORD))
        return NULL;
    struct heap_large *l = malloc(sizeof *l + size);
    if (!l) return NULL;
    large_link(h, l);
    h->footprint += malloc_usable_size(l) + MALLOC_WORD;
    return l + 1;
}

static void large_free(struct sb_heap *h, void *p) {
    struct heap_large *l = (struct heap_large *)p - 1;
    large_unlink(h, l);
    h->footprint -= malloc_usable_size(l) + MALLOC_WORD;
    free(l);
}

static void *large_realloc(struct sb_heap *h, void *p, size_t size) {
    struct heap_large *l = (struct heap_large *)p - 1;
    size_t old = malloc_usable_size(l) + MALLOC_WORD;
    if (size > SIZE_MAX - sizeof *l - MALLOC_WORD) return NULL;
    size_t want = size + sizeof *l + MALLOC_WORD;
    if (want > old && over_limit(h, want - old)) return NULL;
    large_unlink(h, l);
    struct heap_large *n = realloc(l, sizeof *l + size);
    if (!n) {
        large_link(h, l);
        return NULL;
    }
    large_link(h, n);
    h->footprint = h->footprint - old + malloc_usable_size(n) + MALLOC_WORD;
    return n + 1;
}

/* ---- small blocks -------------------------------------------------------- */

static void push_free(struct sb_heap *h, char *block, unsigned k) {
    char *p = block + HEADER;
    UNPOISON(block, HEADER + sizeof(void *));
    *(uint64_t *)block = class_usable(k);
    *(void **)p = h->free_list[k];
    h->free_list[k] = p;
    POISON(p, class_usable(k));
}

/* A new chunk to carve from; what is left of the old one becomes a free
 * block of the class it fits exactly (always under 1 KiB: a block that
 * did not fit is never larger). */
static int new_chunk(struct sb_heap *h) {
    size_t size = h->chunk_count >= BIG_CHUNK_AFTER ? BIG_CHUNK : SMALL_CHUNK;
    if (over_limit(h, size)) return -1;
    struct heap_chunk *c = pool_take(size);
    if (!c) c = malloc(size);
    if (!c) return -1;
    size_t rest = (size_t)(h->bump_end - h->bump);
    if (rest >= 16) push_free(h, h->bump, (unsigned)(rest / 16 - 1));
    c->next = h->chunks;
    c->size = size;
    h->chunks = c;
    h->chunk_count++;
    h->footprint += size;
    /* Blocks start at 24 so that payloads (block + 8) are 16-aligned, and
     * the carvable run ends 8 early so that its length is a multiple of 16. */
    h->bump = (char *)c + 24;
    h->bump_end = (char *)c + size - 8;
    h->last_block = NULL;
    POISON(h->bump, (size_t)(h->bump_end - h->bump));
    return 0;
}

static void *carve(struct sb_heap *h, unsigned k) {
    size_t bs = class_block(k);
    if ((size_t)(h->bump_end - h->bump) < bs && new_chunk(h) < 0) return NULL;
    char *block = h->bump;
    h->bump += bs;
    h->last_block = block;
    UNPOISON(block, bs);
    *(uint64_t *)block = class_usable(k);
    return block + HEADER;
}

static void *small_alloc(struct sb_heap *h, unsigned k) {
    char *p = h->free_list[k];
    if (p) {
        READABLE(p, sizeof(void *));
        h->free_list[k] = *(void **)p;
        UNPOISON(p, class_usable(k));
        return p;
    }
    return carve(h, k);
}

void *heap_alloc(struct sb_heap *h, size_t size) {
    h->refused = 0;
    if (size > HEAP_SMALL_MAX) return large_alloc(h, size);
    return small_alloc(h, class_of(size));
}

void heap_free(struct sb_heap *h, void *p) {
    if (!p) return;
    uint64_t hdr = *header_of(p);
    if (!hdr) {
        large_free(h, p);
        return;
    }
    char *block = (char *)p - HEADER;
    unsigned k = (unsigned)(hdr >> 4);
    if (block == h->last_block) {
        /* The newest block goes back to the chunk it came from. */
        h->bump = block;
        h->last_block = NULL;
        POISON(block, class_block(k));
        return;
    }
    push_free(h, block, k);
}

void *heap_realloc(struct sb_heap *h, void *p, size_t size) {
    h->refused = 0;
    if (!p) return heap_alloc(h, size);
    uint64_t hdr = *header_of(p);
    if (!hdr) {
        if (size > HEAP_SMALL_MAX) return large_realloc(h, p, size);
        void *n = small_alloc(h, class_of(size));
        if (!n) return NULL;
        memcpy(n, p, size);
        large_free(h, p);
        return n;
    }
    size_t usable = (size_t)hdr;
    char *block = (char *)p - HEADER;
    if (size <= HEAP_SMALL_MAX && block == h->last_block) {
        /* The newest block grows or shrinks where it is while the chunk
         * has room: the usual shape of a buffer being filled. */
        unsigned k = class_of(size);
        size_t bs = class_block(k);
        if ((size_t)(h->bump_end - block) >= bs) {
            size_t old_bs = usable + HEADER;
            if (bs > old_bs) UNPOISON(block + old_bs, bs - old_bs);
            else POISON(block + bs, old_bs - bs);
            h->bump = block + bs;
            *(uint64_t *)block = class_usable(k);
            return p;
        }
    }
    /* Shrinking keeps the block unless it would waste more than half. */
    if (size <= usable && (size > usable / 2 || usable <= 56)) return p;
    void *n = heap_alloc(h, size);
    if (!n) return NULL;
    memcpy(n, p, size < usable ? size : usable);
    heap_free(h, p);
    return n;
}

void heap_release(struct sb_heap *h) {
    while (h->large) {
        struct heap_large *l = h->large;
        h->large = l->next;
        free(l);
    }
    while (h->chunks) {
        struct heap_chunk *c = h->chunks;
        h->chunks = c->next;
        size_t size = c->size;
        if (!pool_put(c, size)) {
            UNPOISON(c, size);
            free(c);
        }
    }
    size_t limit = h->limit;
    heap_init(h);
    h->limit = limit;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels say EINVAL */
#endif

void populate_writable(const void *start, size_t len) {
    static uintptr_t page;
    if (!page) page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)start & ~(page - 1);
    uintptr_t b = ((uintptr_t)start + len + page - 1) & ~(page - 1);
    if (len && b > a) (void)madvise((void *)a, b - a, MADV_POPULATE_WRITE);
}

void heap_prefault(const struct sb_heap *h) {
    for (const struct heap_chunk *c = h->chunks; c; c = c->next) populate_writable(c, c->size);
    for (const struct heap_large *l = h->large; l; l = l->next)
        populate_writable(l, malloc_usable_size((void *)l));
}
