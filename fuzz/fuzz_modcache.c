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

#include "fuzz_sandbox.h"

/* Modules stay registered in their context until it ends: a fresh sandbox
 * every so many inputs keeps memory flat. */
#define INPUTS_PER_SANDBOX 64

static struct sandbox *sb;
static unsigned inputs;

static void fresh_sandbox(void) {
    if (sb) sandbox_free(sb);
    sb = fuzz_sandbox_new(1u << 20);
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
