/* The compiled-module cache (lib/engine/modcache.c): a module this process
 * compiled twice is read back from bytecode the third time, and what it
 * gives then is exactly what the compiler gave: values, function source
 * text, error stacks with their line numbers, imports. Texts that fail to
 * compile are never kept, a name is part of the key, and the cache keeps
 * within its bytes. Run through the public API with inline loaders, where
 * the cache is this process's own.
 */
#include <pthread.h>

#include "engine/engine.h"
#include "loader/api_helpers.h"

static struct engine_modcache_stats stats(void) {
    struct engine_modcache_stats s;
    engine_modcache_stats(&s);
    return s;
}

static corral_code *code_of(const char *main_name, const char *main_src, const char *dep_name,
                            const char *dep_src) {
    corral_code *c = corral_code_new();
    corral_code_set_compatibility_date(c, "2025-06-01");
    corral_code_set_main_module(c, main_name);
    corral_code_add_module(c, main_name, CORRAL_MODULE_JS, main_src, strlen(main_src));
    if (dep_name) corral_code_add_module(c, dep_name, CORRAL_MODULE_JS, dep_src, strlen(dep_src));
    return c;
}

/* Loads the code in a fresh sandbox and calls `method` on it. */
static void run_code(corral_loader *l, corral_code *c, const char *method, struct res *r) {
    corral_error err = {0};
    memset(r, 0, sizeof *r);
    corral_worker *w = corral_load(l, c, &err);
    corral_code_free(c);
    if (!w) {
        snprintf(r->error_name, sizeof r->error_name, "%s", err.name);
        snprintf(r->error_message, sizeof r->error_message, "%s", err.message);
        return;
    }
    invoke(l, w, method, NULL, r);
    corral_worker_release(w);
}

static void run_src(corral_loader *l, const char *src, const char *method, struct res *r) {
    run_code(l, code_of("main.js", src, NULL, NULL), method, r);
}

TEST(a_module_compiled_twice_is_read_from_the_cache_the_third_time) {
    corral_loader *l = new_loader();
    if (!l) return;
    engine_modcache_clear();
    const char *src = "export default { add(a, b) { return a + b; }, ping() { return 'pong'; } };";
    struct res r[3];
    for (int i = 0; i < 3; i++) run_src(l, src, "ping", &r[i]);
    struct engine_modcache_stats s = stats();
    CHECK_EQ_INT(s.misses, 2);
    CHECK_EQ_INT(s.admitted, 1);
    CHECK_EQ_INT(s.hits, 1);
    CHECK_EQ_INT(s.entries, 1);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(r[i].outcome, CORRAL_OUTCOME_OK);
        CHECK_EQ_STR(r[i].value, "\"pong\"");
    }
    corral_loader_free(l);
}

/* Everything a module can observe about its own compilation. */
static const char observable[] =
    "import { twice } from './lib/util.js';\n"
    "const start = await Promise.resolve(20);\n"
    "class Counter { #n = start; bump() { return ++this.#n; } }\n"
    "function named(a, /* kept */ b) { return a * b; }\n"
    "export default {\n"
    "  check() {\n"
    "    let stack;\n"
    "    try { null.x; } catch (e) { stack = e.stack; }\n"
    "    return { source: named.toString(), arrow: ((x) => x + 1).toString(),\n"
    "             counter: new Counter().bump(), twice: twice(21), stack,\n"
    "             meta: typeof import.meta };\n"
    "  },\n"
    "};\n";
static const char util[] = "export const twice = (n) => n * 2;\n";

TEST(a_module_read_from_the_cache_is_the_module_the_compiler_gave) {
    corral_loader *l = new_loader();
    if (!l) return;
    engine_modcache_clear();
    struct res r[3];
    for (int i = 0; i < 3; i++)
        run_code(l, code_of("main.js", observable, "lib/util.js", util), "check", &r[i]);
    CHECK_EQ_INT(stats().hits, 2); /* main and its import */
    CHECK_EQ_INT(r[0].outcome, CORRAL_OUTCOME_OK);
    CHECK_CONTAINS(r[0].value, "\"source\":\"function named(a, /* kept */ b) { return a * b; }\"");
    CHECK_CONTAINS(r[0].value, "\"counter\":21");
    CHECK_CONTAINS(r[0].value, "\"twice\":42");
    CHECK_CONTAINS(r[0].value, "main.js:8"); /* the line of null.x */
    for (int i = 1; i < 3; i++) CHECK_EQ_STR(r[i].value, r[0].value);
    corral_loader_free(l);
}

TEST(an_import_is_cached_on_its_own_behind_a_main_module_that_changes) {
    corral_loader *l = new_loader();
    if (!l) return;
    engine_modcache_clear();
    for (int i = 0; i < 4; i++) {
        char main_src[160];
        snprintf(main_src, sizeof main_src,
                 "import { twice } from './lib/util.js';\n"
                 "export default { run() { return twice(%d); } };\n",
                 i);
        struct res r;
        run_code(l, code_of("main.js", main_src, "lib/util.js", util), "run", &r);
        char want[16];
        snprintf(want, sizeof want, "%d", 2 * i);
        CHECK_EQ_STR(r.value, want);
    }
    struct engine_modcache_stats s = stats();
    CHECK_EQ_INT(s.hits, 2);     /* util.js the third and fourth time */
    CHECK_EQ_INT(s.admitted, 1); /* no main module was seen twice */
    corral_loader_free(l);
}

TEST(the_same_text_under_another_name_is_another_module) {
    corral_loader *l = new_loader();
    if (!l) return;
    engine_modcache_clear();
    /* The same text imports a different module depending on where it is. */
    const char *main_src = "import { where } from './here.js';\n"
                           "export default { run() { return where; } };\n";
    for (int i = 0; i < 3; i++) {
        struct res a, b;
        corral_code *ca = code_of("a/main.js", main_src, "a/here.js", "export const where = 'a';");
        corral_code *cb = code_of("b/main.js", main_src, "b/here.js", "export const where = 'b';");
        run_code(l, ca, "run", &a);
        run_code(l, cb, "run", &b);
        CHECK_EQ_STR(a.value, "\"a\"");
        CHECK_EQ_STR(b.value, "\"b\"");
    }
    CHECK_EQ_INT(stats().entries, 4);
    corral_loader_free(l);
}

TEST(a_module_that_does_not_compile_is_never_cached) {
    corral_loader *l = new_loader();
    if (!l) return;
    engine_modcache_clear();
    char first[1024] = "";
    for (int i = 0; i < 3; i++) {
        struct res r;
        run_src(l, "export default { run() { return 1 +; } };", "run", &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEPTION);
        CHECK_EQ_STR(r.error_name, "SyntaxError");
        if (i == 0) snprintf(first, sizeof first, "%s", r.error_message);
        else CHECK_EQ_STR(r.error_message, first);
    }
    /* An import that is missing fails the same way from the cache too. */
    const char *orphan = "import { x } from './missing.js';\nexport default { run() { return x; } };";
    for (int i = 0; i < 3; i++) {
        struct res r;
        run_src(l, orphan, "run", &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEPTION);
        CHECK_CONTAINS(r.error_message, "missing.js");
    }
    struct engine_modcache_stats s = stats();
    CHECK_EQ_INT(s.entries, 0);
    CHECK_EQ_INT(s.hits, 0);
    corral_loader_free(l);
}

/* A module of about `kib` KiB: most of it one string literal. */
static char *big_module(int id, size_t kib) {
    size_t n = kib * 1024;
    char *s = malloc(n + 128);
    if (!s) return NULL;
    int k = snprintf(s, 128, "export default { run() { return %d + S.length; } };\nconst S = '", id);
    memset(s + k, 'x', n);
    strcpy(s + k + n, "';\n");
    return s;
}

TEST(the_cache_keeps_within_its_bytes_and_never_keeps_a_module_too_big_for_it) {
    corral_loader *l = new_loader();
    if (!l) return;
    engine_modcache_clear();
    /* Each entry holds its text and its bytecode: ~1 MiB for these. */
    for (int id = 0; id < 12; id++) {
        char *src = big_module(id, 512);
        for (int i = 0; i < 2 && src; i++) {
            struct res r;
            run_src(l, src, "run", &r);
            CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
        }
        free(src);
        CHECK(stats().bytes <= MODCACHE_BYTES);
    }
    struct engine_modcache_stats s = stats();
    CHECK(s.evicted > 0);
    CHECK(s.entries < 12);
    /* The most recent stays. */
    char *last = big_module(11, 512);
    struct res r;
    if (last) run_src(l, last, "run", &r);
    free(last);
    CHECK_EQ_INT(stats().hits, s.hits + 1);

    engine_modcache_clear();
    char *huge = big_module(99, MODCACHE_BYTES / 1024 / 4);
    for (int i = 0; i < 3 && huge; i++) run_src(l, huge, "run", &r);
    free(huge);
    CHECK_EQ_INT(stats().entries, 0);
    corral_loader_free(l);
}

static void *load_repeatedly(void *arg) {
    const char *src = arg;
    corral_loader *l = new_loader();
    int ok = 0;
    for (int i = 0; l && i < 40; i++) {
        struct res r;
        run_src(l, src, "run", &r);
        ok += r.outcome == CORRAL_OUTCOME_OK && !strcmp(r.value, "\"same\"");
    }
    corral_loader_free(l);
    return (void *)(intptr_t)ok;
}

TEST(loaders_on_several_threads_share_the_cache_safely) {
    engine_modcache_clear();
    static const char src[] = "export default { run() { return 'same'; } };";
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, load_repeatedly, (void *)src);
    for (int i = 0; i < 3; i++) {
        void *ok;
        pthread_join(t[i], &ok);
        CHECK_EQ_INT((intptr_t)ok, 40);
    }
    struct engine_modcache_stats s = stats();
    CHECK_EQ_INT(s.entries, 1);
    CHECK(s.hits >= 100);
}
