/* corral_js_parses(): whether a text compiles as an ES module, for callers
 * that must decide how to wrap code before it runs (Code Mode's
 * normalizeCode). It compiles in a scratch runtime of its own, with a small
 * memory and stack limit and no globals beyond the base objects, and runs
 * nothing; imports resolve to empty modules so that only the text itself is
 * judged.
 */
#include <string.h>

#include "corral.h"
#include "quickjs.h"

#define PARSE_MEMORY (32u << 20)
#define PARSE_STACK (256u << 10)

static JSModuleDef *empty_module(JSContext *ctx, const char *name, void *opaque) {
    return JS_NewCModule(ctx, name, NULL);
}

int corral_js_parses(const char *src, size_t len) {
    JSRuntime *rt = JS_NewRuntime();
    if (!rt) return -1;
    JS_SetMemoryLimit(rt, PARSE_MEMORY);
    JS_SetMaxStackSize(rt, PARSE_STACK);
    JS_SetModuleLoaderFunc(rt, NULL, empty_module, NULL);
    JSContext *ctx = JS_NewContextRaw(rt);
    if (!ctx) {
        JS_FreeRuntime(rt);
        return -1;
    }
    JS_AddIntrinsicBaseObjects(ctx);
    JS_AddIntrinsicEval(ctx);
    JS_AddIntrinsicRegExpCompiler(ctx);
    /* JS_Eval needs a NUL after the text. */
    char *copy = js_malloc(ctx, len + 1);
    int ok = -1;
    if (copy) {
        memcpy(copy, src, len);
        copy[len] = 0;
        JSValue v = JS_Eval(ctx, copy, len, "<code>", JS_EVAL_TYPE_MODULE | JS_EVAL_FLAG_COMPILE_ONLY);
        ok = !JS_IsException(v);
        if (JS_IsException(v)) JS_FreeValue(ctx, JS_GetException(ctx));
        else JS_FreeValue(ctx, v);
        js_free(ctx, copy);
    }
    JS_FreeContext(ctx);
    JS_FreeRuntime(rt);
    return ok;
}
