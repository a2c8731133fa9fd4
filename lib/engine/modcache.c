/* The compiled-module cache: a module text that a process has compiled
 * before is read back as bytecode instead of being parsed again.
 *
 * Every sandbox is a fresh QuickJS runtime, so without this every load of
 * the same code parses it again: the Worker Loader pattern (one parent
 * loading the same child code for request after request) and Code Mode's
 * executor (whose scaffolding is the same for every program) pay the
 * compiler each time. QuickJS compiles at roughly 15-20 bytes per
 * microsecond here and reads its own bytecode about 15 times faster.
 *
 * What is cached is QuickJS's own serialisation (JS_WriteObject) of a
 * module this process compiled from the exact same name and text, so
 * reading it back gives the module the compiler would have given: the same
 * exports, line numbers and function source text. Entries are keyed by the
 * module's name and text together and compared in full, never by hash
 * alone. Only modules seen twice are written (a Code Mode program is
 * usually unique, and writing costs a fraction of a compile), a module
 * larger than a quarter of the cache is never kept, and the least recently
 * used entries go once the cache holds MODCACHE_BYTES.
 *
 * The cache belongs to the process: a jailed worker fills its own, and in
 * `tenant` or `process` isolation no two tenants share one. In `pool` and
 * `inline` isolation a sandbox could in principle time whether a module
 * with exactly the same name and text was loaded before by another sandbox
 * in the same process; docs/jail.md lists this with the other shared-
 * process effects.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"

#define MODCACHE_BUCKETS 256
#define MODCACHE_SEEN 1024 /* texts compiled once, remembered by hash */

struct modcache_entry {
    struct modcache_entry *bucket_next;
    struct modcache_entry *lru_prev, *lru_next; /* most recent first */
    uint64_t hash;
    char *name;
    uint8_t *source;
    size_t source_len;
    uint8_t *bytecode;
    size_t bytecode_len;
    size_t cost;
};

static struct {
    pthread_mutex_t lock;
    struct modcache_entry *buckets[MODCACHE_BUCKETS];
    struct modcache_entry *lru_head, *lru_tail;
    uint64_t seen[MODCACHE_SEEN];
    size_t bytes, entries;
    uint64_t hits, misses, admitted, evicted;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* A fork (a zygote from its host) must not inherit the lock held by
 * another of the host's threads. */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void lock_for_fork(void) { pthread_mutex_lock(&cache.lock); }
static void unlock_after_fork(void) { pthread_mutex_unlock(&cache.lock); }
static void register_atfork(void) { pthread_atfork(lock_for_fork, unlock_after_fork, unlock_after_fork); }

static void cache_lock(void) {
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&cache.lock);
}

/* A 64-bit hash of name and text, eight bytes at a time: only a filter in
 * front of the full comparison, so it needs speed and spread, not
 * resistance to chosen collisions. */
static uint64_t mix(uint64_t h, uint64_t w) {
    h ^= w;
    h *= 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t n) {
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix(h, w);
        p += 8;
        n -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, n);
    return mix(h, tail ^ ((uint64_t)n << 56));
}

static uint64_t key_hash(const char *name, const uint8_t *src, size_t len) {
    uint64_t h = hash_bytes(0x243f6a8885a308d3ull, (const uint8_t *)name, strlen(name));
    h = hash_bytes(h, src, len);
    /* 0 marks an empty slot in `seen` */
    return h ? h : 1;
}

static void lru_unlink(struct modcache_entry *e) {
    if (e->lru_prev) e->lru_prev->lru_next = e->lru_next;
    else cache.lru_head = e->lru_next;
    if (e->lru_next) e->lru_next->lru_prev = e->lru_prev;
    else cache.lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(struct modcache_entry *e) {
    e->lru_prev = NULL;
    e->lru_next = cache.lru_head;
    if (cache.lru_head) cache.lru_head->lru_prev = e;
    cache.lru_head = e;
    if (!cache.lru_tail) cache.lru_tail = e;
}

static struct modcache_entry *find(uint64_t h, const char *name, const uint8_t *src, size_t len) {
    for (struct modcache_entry *e = cache.buckets[h % MODCACHE_BUCKETS]; e; e = e->bucket_next)
        if (e->hash == h && e->source_len == len && !strcmp(e->name, name) &&
            !memcmp(e->source, src, len))
            return e;
    return NULL;
}

static void entry_free(struct modcache_entry *e) {
    free(e->name);
    free(e->source);
    free(e->bytecode);
    free(e);
}

static void evict(struct modcache_entry *e) {
    struct modcache_entry **pp = &cache.buckets[e->hash % MODCACHE_BUCKETS];
    while (*pp != e) pp = &(*pp)->bucket_next;
    *pp = e->bucket_next;
    lru_unlink(e);
    cache.bytes -= e->cost;
    cache.entries--;
    cache.evicted++;
    entry_free(e);
}

/* Takes ownership of nothing: copies name, text and bytecode. */
static void insert(uint64_t h, const char *name, const uint8_t *src, size_t len, const uint8_t *bc,
                   size_t bc_len) {
    size_t cost = sizeof(struct modcache_entry) + strlen(name) + 1 + len + bc_len;
    if (cost > MODCACHE_BYTES / 4 || find(h, name, src, len)) return;
    struct modcache_entry *e = calloc(1, sizeof *e);
    if (!e) return;
    e->hash = h;
    e->name = strdup(name);
    e->source = malloc(len ? len : 1);
    e->bytecode = malloc(bc_len);
    if (!e->name || !e->source || !e->bytecode) {
        entry_free(e);
        return;
    }
    memcpy(e->source, src, len);
    memcpy(e->bytecode, bc, bc_len);
    e->source_len = len;
    e->bytecode_len = bc_len;
    e->cost = cost;
    while (cache.lru_tail && cache.bytes + cost > MODCACHE_BYTES) evict(cache.lru_tail);
    e->bucket_next = cache.buckets[h % MODCACHE_BUCKETS];
    cache.buckets[h % MODCACHE_BUCKETS] = e;
    lru_push_front(e);
    cache.bytes += cost;
    cache.entries++;
    cache.admitted++;
}

/* The bytecode of a cached module, read into ctx under the lock (the
 * entry may be evicted the moment the lock is let go). */
static JSValue read_cached(JSContext *ctx, uint64_t h, const char *name, const uint8_t *src,
                           size_t len, int *found) {
    JSValue v = JS_UNDEFINED;
    cache_lock();
    struct modcache_entry *e = find(h, name, src, len);
    *found = e != NULL;
    if (e) {
        cache.hits++;
        lru_unlink(e);
        lru_push_front(e);
        v = JS_ReadObject(ctx, e->bytecode, e->bytecode_len, JS_READ_OBJ_BYTECODE);
    } else {
        cache.misses++;
    }
    pthread_mutex_unlock(&cache.lock);
    return v;
}

/* Whether this text was compiled once before; remembers it if not. */
static int seen_before(uint64_t h) {
    cache_lock();
    uint64_t *slot = &cache.seen[h % MODCACHE_SEEN];
    int seen = *slot == h;
    *slot = seen ? 0 : h;
    pthread_mutex_unlock(&cache.lock);
    return seen;
}

static void remember(JSContext *ctx, JSValueConst module, uint64_t h, const char *name,
                     const uint8_t *src, size_t len) {
    size_t bc_len = 0;
    uint8_t *bc = JS_WriteObject(ctx, &bc_len, module, JS_WRITE_OBJ_BYTECODE);
    if (!bc) {
        /* Out of the sandbox's memory: the module is compiled all the
         * same, it just is not kept. */
        JS_FreeValue(ctx, JS_GetException(ctx));
        return;
    }
    cache_lock();
    insert(h, name, src, len, bc, bc_len);
    pthread_mutex_unlock(&cache.lock);
    js_free(ctx, bc);
}

JSValue sb_compile_module(JSContext *ctx, const char *name, const uint8_t *src, size_t len,
                          int resolve) {
    uint64_t h = key_hash(name, src, len);
    int found;
    JSValue m = read_cached(ctx, h, name, src, len, &found);
    if (found) {
        /* A compiled module has its imports loaded by the compiler; one
         * read from bytecode has them loaded here, or (for an import) by
         * QuickJS right after the loader returns it. */
        if (JS_IsException(m) || !resolve) return m;
        if (JS_ResolveModule(ctx, m) < 0) {
            JS_FreeValue(ctx, m);
            return JS_EXCEPTION;
        }
        return m;
    }
    /* JS_Eval needs a NUL after the text; module texts in a WorkerCode
     * carry one (workercode.c). */
    m = JS_Eval(ctx, (const char *)src, len, name, JS_EVAL_TYPE_MODULE | JS_EVAL_FLAG_COMPILE_ONLY);
    if (!JS_IsException(m) && seen_before(h)) remember(ctx, m, h, name, src, len);
    return m;
}

void engine_modcache_stats(struct engine_modcache_stats *out) {
    cache_lock();
    *out = (struct engine_modcache_stats){cache.hits, cache.misses, cache.admitted, cache.evicted,
                                      cache.entries, cache.bytes};
    pthread_mutex_unlock(&cache.lock);
}

void engine_modcache_clear(void) {
    cache_lock();
    while (cache.lru_tail) evict(cache.lru_tail);
    memset(cache.seen, 0, sizeof cache.seen);
    cache.hits = cache.misses = cache.admitted = cache.evicted = 0;
    pthread_mutex_unlock(&cache.lock);
}
