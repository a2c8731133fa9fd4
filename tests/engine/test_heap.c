/* Tests for the sandbox heap (lib/engine/heap.c): size classes, alignment,
 * in-place growth, large blocks, the footprint limit, release, and a long
 * random run checked against a model of what every live block must hold.
 */
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "engine/heap.h"

static int aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

TEST(every_size_gets_a_16_aligned_block_at_least_that_big) {
    struct sb_heap h;
    heap_init(&h);
    for (size_t n = 0; n <= 3000; n += (n < 64 ? 1 : 7)) {
        char *p = heap_alloc(&h, n);
        CHECK(p != NULL);
        CHECK(aligned16(p));
        CHECK(heap_usable(p) >= n);
        CHECK(heap_cost(p) > heap_usable(p));
        memset(p, 0xab, n);
        heap_free(&h, p);
    }
    heap_release(&h);
    CHECK_EQ_INT(h.footprint, 0);
}

TEST(a_freed_small_block_is_reused_for_its_class) {
    struct sb_heap h;
    heap_init(&h);
    void *a = heap_alloc(&h, 40);
    void *b = heap_alloc(&h, 40); /* a is no longer the newest block */
    heap_free(&h, a);
    void *c = heap_alloc(&h, 33); /* same class as 40 */
    CHECK(c == a);
    heap_free(&h, b);
    heap_free(&h, c);
    heap_release(&h);
}

TEST(the_newest_block_grows_in_place_and_others_move_with_their_bytes) {
    struct sb_heap h;
    heap_init(&h);
    char *p = heap_alloc(&h, 24);
    memcpy(p, "0123456789abcdefghijklm", 24);
    char *q = heap_realloc(&h, p, 600);
    CHECK(q == p);
    CHECK(heap_usable(q) >= 600);
    CHECK(memcmp(q, "0123456789abcdefghijklm", 24) == 0);
    char *other = heap_alloc(&h, 16);
    char *r = heap_realloc(&h, q, 900); /* no longer the newest: it moves */
    CHECK(r != q);
    CHECK(memcmp(r, "0123456789abcdefghijklm", 24) == 0);
    char *big = heap_realloc(&h, r, 100000); /* into a large block */
    CHECK(big != NULL);
    CHECK(aligned16(big));
    CHECK(memcmp(big, "0123456789abcdefghijklm", 24) == 0);
    char *small = heap_realloc(&h, big, 30); /* and back */
    CHECK(small != NULL);
    CHECK(memcmp(small, "0123456789abcdefghijklm", 24) == 0);
    heap_free(&h, small);
    heap_free(&h, other);
    heap_release(&h);
}

TEST(large_blocks_are_counted_and_given_back) {
    struct sb_heap h;
    heap_init(&h);
    void *a = heap_alloc(&h, 1 << 20);
    CHECK(a != NULL);
    CHECK(h.footprint >= (1u << 20));
    heap_free(&h, a);
    CHECK_EQ_INT(h.footprint, 0);
    void *b = heap_alloc(&h, 5000);
    void *c = heap_alloc(&h, 70000);
    CHECK(b && c);
    heap_release(&h); /* not freed one by one: release takes them */
    CHECK_EQ_INT(h.footprint, 0);
    CHECK(h.large == NULL);
}

TEST(the_footprint_never_passes_the_limit_even_when_free_lists_fragment) {
    struct sb_heap h;
    heap_init(&h);
    h.limit = 256 * 1024;
    /* Fill with one class, free it all, then ask for another class: the
     * freed blocks cannot serve it, and the heap refuses rather than grow
     * past its limit. */
    void *ptrs[20000];
    size_t n = 0;
    while (n < 20000 && (ptrs[n] = heap_alloc(&h, 16)) != NULL) n++;
    CHECK(n > 1000);
    CHECK(h.refused);
    CHECK(h.footprint <= h.limit);
    for (size_t i = 0; i < n; i++) heap_free(&h, ptrs[i]);
    void *p = heap_alloc(&h, 16); /* its own class still has room */
    CHECK(p != NULL);
    CHECK(!h.refused);
    heap_free(&h, p);
    size_t m = 0;
    while (m < 20000 && (ptrs[m] = heap_alloc(&h, 500)) != NULL) m++;
    CHECK(h.refused);
    CHECK(h.footprint <= h.limit);
    CHECK(heap_alloc(&h, 300000) == NULL); /* a large block is held to it too */
    CHECK(h.refused);
    heap_release(&h);
    CHECK_EQ_INT(h.limit, 256 * 1024); /* release keeps the limit */
}

TEST(a_released_heap_can_be_used_again) {
    struct sb_heap h;
    heap_init(&h);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5000; i++) CHECK(heap_alloc(&h, (size_t)(i % 1200)) != NULL);
        heap_release(&h);
        CHECK_EQ_INT(h.footprint, 0);
    }
}

/* ---- a random run against a model ------------------------------------------ */

struct live {
    unsigned char *p;
    size_t n;
    unsigned char fill;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t random_size(void) {
    uint64_t r = rnd() % 100;
    if (r < 70) return (size_t)(rnd() % 128);
    if (r < 95) return (size_t)(rnd() % 1100);
    return (size_t)(rnd() % 40000);
}

static int intact(const struct live *l) {
    for (size_t i = 0; i < l->n; i++)
        if (l->p[i] != l->fill) return 0;
    return 1;
}

TEST(a_long_random_run_keeps_every_block_s_bytes_and_no_two_blocks_overlap) {
    struct sb_heap h;
    heap_init(&h);
    enum { SLOTS = 512 };
    struct live slots[SLOTS];
    memset(slots, 0, sizeof slots);
    int bad = 0;
    for (int step = 0; step < 200000 && !bad; step++) {
        struct live *l = &slots[rnd() % SLOTS];
        unsigned op = (unsigned)(rnd() % 3);
        if (l->p && !intact(l)) bad = 1;
        if (!l->p) {
            l->n = random_size();
            l->p = heap_alloc(&h, l->n);
            if (!l->p || !aligned16(l->p) || heap_usable(l->p) < l->n) bad = 2;
        } else if (op == 0) {
            heap_free(&h, l->p);
            l->p = NULL;
            continue;
        } else {
            size_t n = random_size();
            unsigned char *q = heap_realloc(&h, l->p, n);
            if (!q || !aligned16(q) || heap_usable(q) < n) {
                bad = 3;
                break;
            }
            size_t kept = n < l->n ? n : l->n;
            for (size_t i = 0; i < kept; i++)
                if (q[i] != l->fill) bad = 4;
            l->p = q;
            l->n = n;
        }
        if (l->p) {
            l->fill = (unsigned char)rnd();
            memset(l->p, l->fill, l->n);
        }
    }
    CHECK_EQ_INT(bad, 0);
    for (int i = 0; i < SLOTS; i++)
        if (slots[i].p && !intact(&slots[i])) bad = 5;
    CHECK_EQ_INT(bad, 0);
    for (int i = 0; i < SLOTS; i++) heap_free(&h, slots[i].p);
    CHECK(h.large == NULL);
    heap_release(&h);
}

/* Prefaulting (a fresh worker taking its copy-on-write faults early)
 * changes no byte, in the process that does it or in the one it was
 * forked from: the parent's copy keeps its bytes after the child writes. */
TEST(prefaulting_keeps_every_byte_here_and_in_the_parent) {
    struct sb_heap h;
    heap_init(&h);
    enum { N = 300 };
    unsigned char *blocks[N];
    for (int i = 0; i < N; i++) {
        size_t size = i % 3 == 0 ? 3000 : (size_t)(i * 7 % 1000) + 1;
        blocks[i] = heap_alloc(&h, size);
        CHECK(blocks[i] != NULL);
        if (blocks[i]) memset(blocks[i], i & 0xff, size < 16 ? size : 16);
    }
    int pipefd[2];
    CHECK_EQ_INT(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        heap_prefault(&h);
        int ok = 1;
        for (int i = 0; i < N; i++)
            if (blocks[i][0] != (i & 0xff)) ok = 0;
        for (int i = 0; i < N; i++) blocks[i][0] = 0xee;
        ssize_t w = write(pipefd[1], &ok, sizeof ok);
        _exit(w == sizeof ok ? 0 : 1);
    }
    int child_ok = 0;
    CHECK(read(pipefd[0], &child_ok, sizeof child_ok) == (ssize_t)sizeof child_ok);
    CHECK_EQ_INT(child_ok, 1);
    int st = 0;
    CHECK_EQ_INT(waitpid(pid, &st, 0), pid);
    for (int i = 0; i < N; i++) CHECK_EQ_INT(blocks[i][0], i & 0xff);
    close(pipefd[0]);
    close(pipefd[1]);
    heap_release(&h);
}

/* Fills a heap with `bytes` of small blocks, each written. */
static void fill(struct sb_heap *h, size_t bytes) {
    for (size_t used = 0; used < bytes; used += 512) {
        char *p = heap_alloc(h, 500);
        if (!p) return;
        memset(p, 0x5a, 500);
    }
}

TEST(released_chunks_wait_in_the_pool_for_the_next_heap_and_the_pool_is_bounded) {
    heap_pool_drain();
    CHECK_EQ_INT(heap_pool_bytes(), 0);
    struct sb_heap a;
    heap_init(&a);
    fill(&a, 100 * 1024);
    size_t held = a.footprint;
    CHECK(held >= 100 * 1024);
    heap_release(&a);
    CHECK_EQ_INT(heap_pool_bytes(), held);
    CHECK_EQ_INT(a.footprint, 0);

    /* The next heap takes its chunks from the pool. */
    struct sb_heap b;
    heap_init(&b);
    fill(&b, 100 * 1024);
    CHECK_EQ_INT(heap_pool_bytes(), 0);
    heap_release(&b);

    /* A heap far bigger than the pool leaves the pool at its bound. */
    struct sb_heap big;
    heap_init(&big);
    fill(&big, 8u << 20);
    heap_release(&big);
    CHECK(heap_pool_bytes() <= (2u << 20));
    CHECK(heap_pool_bytes() >= (2u << 20) - (64u << 10));

    heap_pool_drain();
    CHECK_EQ_INT(heap_pool_bytes(), 0);
}

TEST(a_heap_built_from_pooled_chunks_keeps_every_block_s_bytes) {
    struct sb_heap a;
    heap_init(&a);
    fill(&a, 256 * 1024);
    heap_release(&a);
    struct sb_heap b;
    heap_init(&b);
    char *blocks[400];
    for (int i = 0; i < 400; i++) {
        blocks[i] = heap_alloc(&b, (size_t)(16 + i % 900));
        CHECK(blocks[i] != NULL);
        if (blocks[i]) memset(blocks[i], i & 0xff, (size_t)(16 + i % 900));
    }
    for (int i = 0; i < 400; i++) {
        int same = 1;
        for (int j = 0; blocks[i] && j < 16 + i % 900; j++) same &= (unsigned char)blocks[i][j] == (i & 0xff);
        CHECK(same);
    }
    heap_release(&b);
    heap_pool_drain();
}
