/* libFuzzer target for the compiled-module cache (lib/engine/modcache.c):
 * arbitrary text compiled as a module three times through
 * sb_compile_module, so the third comes back from the bytecode the second
 * wrote. Module texts are untrusted, and in `inline` isolation the cache
 * lives in the host, so whatever the compiler accepts must survive QuickJS's
 * write and read unchanged: the module read back must serialise to exactly
 * the bytes that were cached. Nothing is evaluated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"

/* Modules stay registered in their context until it ends: a fresh sandbox
 * every so many inputs keeps memory flat. */
#define INPUTS_PER_SANDBOX 64

static struct sandbox *sb;
static unsigned inputs;

static void nop_send(void *h, struct sandbox *s, const struct wire_msg *m) {}
static uint8_t no_flags(void *h, struct sandbox *s, uint64_t index) { return 0; }
static const struct engine_host host = {.send = nop_send, .import_flags = no_flags};

static void fresh_sandbox(void) {
    if (sb) sandbox_free(sb);
    corral_limits lim;
    corral_limits_default(&lim);
    struct sandbox_config cfg = {.host = &host, .memory_bytes = 64u << 20,
                                 .stack_bytes = 256u << 10, .arg_bytes = 1u << 20,
                                 .result_bytes = 1u << 20, .worker_id = "fuzz",
                                 .today = "2026-01-01", .limits = lim};
    corral_error err;
    sb = sandbox_new(&cfg, &err);
    if (!sb) abort();
}

static uint8_t *serialise(JSValueConst m, size_t *len) {
    uint8_t *bc = JS_WriteObject(sb->ctx, len, m, JS_WRITE_OBJ_BYTECODE);
    if (!bc) JS_FreeValue(sb->ctx, JS_GetException(sb->ctx));
    return bc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!sb || ++inputs % INPUTS_PER_SANDBOX == 0) fresh_sandbox();
    engine_modcache_clear();
    uint8_t *src = malloc(size + 1);
    if (!src) return 0;
    memcpy(src, data, size);
    src[size] = 0;
    JSContext *ctx = sb->ctx;
    uint8_t *written = NULL;
    size_t written_len = 0;
    int kept = 0;
    for (int i = 0; i < 3; i++) {
        JSValue m = sb_compile_module(ctx, "fuzz.js", src, size, 1);
        if (JS_IsException(m)) {
            JS_FreeValue(ctx, JS_GetException(ctx));
            /* What fails to compile fails every time, and is never kept. */
            struct engine_modcache_stats st;
            engine_modcache_stats(&st);
            if (st.entries || written) abort();
            break;
        }
        size_t len;
        uint8_t *bc = serialise(m, &len);
        JS_FreeValue(ctx, m);
        struct engine_modcache_stats st;
        engine_modcache_stats(&st);
        if (i == 1) {
            written = bc;
            written_len = len;
            /* Kept unless too big for the cache or out of memory. */
            kept = st.entries == 1;
            continue;
        }
        if (i == 2 && kept) {
            if (st.hits != 1) abort();
            if (bc && written && (len != written_len || memcmp(bc, written, len))) abort();
        }
        js_free(ctx, bc);
    }
    js_free(ctx, written);
    free(src);
    return 0;
}
