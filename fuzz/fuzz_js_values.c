/* libFuzzer target for the engine's side of the wire format: arbitrary
 * payloads decoded into JavaScript values inside a real sandbox (the
 * visitor in lib/engine/value.c that builds arrays, objects, maps, sets,
 * errors, bytes and back-references), then encoded again. Payloads come
 * from other sandboxes and, through the jail, from other processes, so the
 * builder must refuse cleanly whatever the bytes say.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_sandbox.h"

static struct sandbox *sb;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!sb) sb = fuzz_sandbox_new(16u << 20);
    /* Stubs name import indexes 0..3 of this sandbox. */
    static const uint64_t caps[4] = {0, 1, 2, 3};
    JSValue v = sb_decode(sb, data, size, caps, 4);
    if (JS_IsException(v)) {
        JS_FreeValue(sb->ctx, JS_GetException(sb->ctx));
        return 0;
    }
    size_t len, ncaps;
    struct wire_cap *out_caps;
    uint8_t *p = sb_encode(sb, v, 16u << 20, "ArgumentSizeLimitError", &len, &out_caps, &ncaps);
    if (p) {
        free(p);
        free(out_caps);
    } else {
        JS_FreeValue(sb->ctx, JS_GetException(sb->ctx));
    }
    JS_FreeValue(sb->ctx, v);
    JS_RunGC(sb->rt);
    return 0;
}
