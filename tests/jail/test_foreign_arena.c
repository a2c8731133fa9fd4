/* A worker that frees memory its host allocated on another thread must not
 * die under its own filter.
 *
 * glibc gives each thread of a host its own malloc arena. A worker is a
 * fork of the host (through the zygote), so it inherits those arenas, and
 * when it frees enough in one of them glibc shrinks that arena's heap —
 * and, the first time any process does so, reads
 * /proc/sys/vm/overcommit_memory to decide how. Under the worker filter
 * that open is SIGSYS. It showed in CI as a rare "the zygote process died"
 * whenever a host's prewarm thread had not yet shrunk a heap of its own
 * (which would have cached the answer for every fork).
 *
 * This is its own binary so that it runs in a fresh process, where glibc
 * has cached nothing yet: a test in a process that already shrank such a
 * heap would pass without the fix.
 */
#include <pthread.h>
#include <stdlib.h>

#include "jail/supervisor.h"
#include "loader/api_helpers.h"
#include "loader/loader.h"

/* Blocks a host thread allocated in its own arena, for the worker to free. */
#define FOREIGN_BLOCKS 128
#define FOREIGN_BLOCK_BYTES (16 * 1024)
static void *foreign[FOREIGN_BLOCKS];

static void *allocate_in_own_arena(void *arg) {
    (void)arg;
    for (int i = 0; i < FOREIGN_BLOCKS; i++) {
        foreign[i] = malloc(FOREIGN_BLOCK_BYTES);
        if (foreign[i]) ((char *)foreign[i])[0] = 1;
    }
    return NULL;
}

enum { HOOK_FREE_FOREIGN = 1 };

static void test_hook(uint64_t what) {
    if (what != HOOK_FREE_FOREIGN) return;
    /* 2 MB back to an arena whose heap then holds a top chunk far past
     * glibc's default trim threshold (128 KB): the shrink happens here, in
     * the worker, under its filter. */
    for (int i = 0; i < FOREIGN_BLOCKS; i++) {
        free(foreign[i]);
        foreign[i] = NULL;
    }
}

TEST(freeing_memory_of_a_host_threads_arena_in_a_worker) {
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, allocate_in_own_arena, NULL), 0);
    pthread_join(t, NULL);
    CHECK(foreign[0] != NULL);
#if !defined(__SANITIZE_ADDRESS__)
    /* Not a main-arena chunk: glibc marks the size word of a chunk from
     * another arena with its NON_MAIN_ARENA bit (4). Without it the test
     * would prove nothing. (AddressSanitizer brings its own allocator, so
     * there the case only checks that the worker survives the frees.) */
    CHECK(foreign[0] && (((size_t *)foreign[0])[-1] & 4));
#endif

    corral_loader *l = new_loader_in(CORRAL_ISOLATION_POOL, 1);
    if (!l) return;
    jail_supervisor_set_test_hook(l->sup, test_hook);
    corral_worker *w = load_src(l, "export default { add(a, b) { return a + b; } }");
    struct res r;
    invoke(l, w, "add", "[1, 2]", &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    jail_supervisor_hook(l->sup, HOOK_FREE_FOREIGN);
    invoke(l, w, "add", "[20, 22]", &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK_EQ_STR(r.value, "42");
    if (r.outcome != CORRAL_OUTCOME_OK) CHECK_EQ_STR(r.error_message, "");
    struct jail_supervisor_stats st;
    jail_supervisor_stats(l->sup, &st);
    CHECK_EQ_INT(st.workers_crashed, 0);
    corral_worker_release(w);
    corral_loader_free(l);
    /* The host's own copies were never freed by the host: the worker's
     * frees happened in its copy of the memory. */
    for (int i = 0; i < FOREIGN_BLOCKS; i++) free(foreign[i]);
}
