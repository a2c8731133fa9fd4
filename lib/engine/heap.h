/* A sandbox's own heap: where its QuickJS runtime allocates.
 *
 * A sandbox makes thousands of small allocations while it is built (every
 * object, shape, atom and function of the intrinsics) and frees them all
 * together when it ends. glibc's malloc spent a third of a cold sandbox's
 * instructions on them and added 24 bytes to each (its own size word plus
 * the list links corral needed to free a broken runtime). This heap carves
 * blocks of 64 size classes from 16 KiB chunks with an 8-byte header,
 * keeps a free list per class, grows the newest block in place, and gives
 * everything back at once by freeing its chunks — without reading a byte
 * the runtime wrote, so a runtime stopped mid-operation is freed the same
 * way. Blocks above 1016 bytes come from malloc, linked for the same reason.
 *
 * `limit` bounds the memory the heap takes from the system (chunks and
 * large blocks, not just the live bytes): a sandbox cannot exceed its memory
 * limit by fragmenting its free lists. One heap is used by one thread at a
 * time, as its runtime is; it takes no lock.
 */
#ifndef CORRAL_ENGINE_HEAP_H
#define CORRAL_ENGINE_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define HEAP_CLASSES 64
#define HEAP_SMALL_MAX ((size_t)(HEAP_CLASSES - 1) * 16 + 8) /* 1016 bytes */

struct heap_chunk;
struct heap_large;

struct sb_heap {
    void *free_list[HEAP_CLASSES]; /* class k holds blocks of 16k + 8 usable bytes */
    char *bump, *bump_end;         /* the unused rest of the newest chunk */
    char *last_block;              /* the newest block carved from it, grown in place */
    struct heap_chunk *chunks;
    struct heap_large *large;
    size_t chunk_count;
    size_t footprint;              /* bytes taken from the system */
    size_t limit;                  /* footprint never passes this; SIZE_MAX for none */
    int refused;                   /* the last failure was the limit, not the system */
};

void heap_init(struct sb_heap *h);

/* NULL when the system has no memory or the limit would be passed
 * (h->refused tells which). */
void *heap_alloc(struct sb_heap *h, size_t size);
void heap_free(struct sb_heap *h, void *p);
void *heap_realloc(struct sb_heap *h, void *p, size_t size);

/* What a block holds and what it costs (header included). Both read only
 * the block's header, so QuickJS's usable-size hook needs no heap. */
size_t heap_usable(const void *p);
size_t heap_cost(const void *p);

/* Every chunk and large block given up; the heap is empty and usable
 * again afterwards. Chunks wait in the process's chunk pool (at most
 * 2 MiB) for the next heap, the rest go back to malloc. */
void heap_release(struct sb_heap *h);
/* Frees every pooled chunk (before memory is given back to the kernel),
 * and how many bytes the pool holds. */
void heap_pool_drain(void);
size_t heap_pool_bytes(void);

/* Makes every page the heap holds the process's own, without changing a
 * byte (MADV_POPULATE_WRITE): in a fresh fork, the copy-on-write faults a
 * sandbox would take one by one on its first turn are taken here in one
 * system call per chunk, while the worker waits for work. Best effort. */
void heap_prefault(const struct sb_heap *h);
/* The same for any range: whole pages around [start, start + len). */
void populate_writable(const void *start, size_t len);

#endif
