/* Prewarmed sandboxes behave exactly like ones made on demand: they get
 * their worker's limits and identity when taken, are used once, and a
 * loader freed with sandboxes ready or retiring leaks nothing. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "corral.h"

struct outcome {
    int called;
    corral_outcome outcome;
    char value[256];
    char error[512];
};

static void on_done(const corral_result *r, void *ud) {
    struct outcome *o = ud;
    o->called++;
    o->outcome = r->outcome;
    snprintf(o->value, sizeof o->value, "%s", r->value_json ? r->value_json : "undefined");
    snprintf(o->error, sizeof o->error, "%s: %s", r->error_name ? r->error_name : "",
             r->error_message ? r->error_message : "");
}

static corral_loader *loader(size_t prewarm) {
    corral_options o;
    corral_options_default(&o);
    o.prewarm_sandboxes = prewarm;
    o.isolation = CORRAL_ISOLATION_INLINE; /* the in-process prewarm thread */
    corral_error err;
    return corral_loader_new(&o, &err);
}

static corral_worker *load(corral_loader *l, const char *src, const corral_limits *lim) {
    corral_code *c = corral_code_new();
    corral_code_set_compatibility_date(c, "2025-06-01");
    corral_code_set_main_module(c, "m.js");
    corral_code_add_module(c, "m.js", CORRAL_MODULE_INFER, src, strlen(src));
    if (lim) corral_code_set_limits(c, lim);
    corral_error err;
    corral_worker *w = corral_load(l, c, &err);
    corral_code_free(c);
    return w;
}

static struct outcome call(corral_loader *l, corral_worker *w, const char *method, const char *args) {
    struct outcome o;
    memset(&o, 0, sizeof o);
    corral_invoke(w, NULL, method, args, on_done, &o);
    while (!o.called && corral_loader_step(l, -1) > 0) {
    }
    return o;
}

TEST(prewarmed_sandboxes_are_fresh_each_time) {
    corral_loader *l = loader(2);
    usleep(20000); /* let the helper fill its pool */
    for (int i = 0; i < 20; i++) {
        corral_worker *w = load(l, "globalThis.n = (globalThis.n ?? 0) + 1; export default { n() { return n; } }", NULL);
        struct outcome o = call(l, w, "n", "[]");
        CHECK_EQ_INT(o.outcome, CORRAL_OUTCOME_OK);
        CHECK_EQ_STR(o.value, "1");
        corral_worker_release(w);
    }
    corral_loader_free(l);
}

TEST(prewarmed_sandbox_takes_the_workers_memory_limit) {
    corral_loader *l = loader(2);
    usleep(20000);
    corral_limits lim = {0};
    lim.memory_bytes = 4u << 20;
    corral_worker *w = load(l, "export default { grow() { const a = []; for (;;) a.push(new Array(1000)); } }", &lim);
    struct outcome o = call(l, w, "grow", "[]");
    CHECK_EQ_INT(o.outcome, CORRAL_OUTCOME_EXCEEDED_MEMORY);
    CHECK_CONTAINS(o.error, "memory limit of 4194304 bytes");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(prewarm_off_and_on_agree) {
    for (size_t p = 0; p <= 4; p += 4) {
        corral_loader *l = loader(p);
        corral_worker *w = load(l, "export default { add(a, b) { return a + b; } }", NULL);
        struct outcome o = call(l, w, "add", "[2, 3]");
        CHECK_EQ_STR(o.value, "5");
        corral_worker_release(w);
        corral_loader_free(l);
    }
}

TEST(loader_freed_with_sandboxes_ready_and_retiring) {
    corral_loader *l = loader(4);
    for (int i = 0; i < 10; i++) {
        corral_worker *w = load(l, "export default { f() { return 1; } }", NULL);
        call(l, w, "f", "[]");
        corral_worker_release(w);
    }
    corral_loader_free(l); /* ASan/valgrind: nothing may leak */
}
