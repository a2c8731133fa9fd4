/* corral_js_parses(): whether a text compiles as an ES module, for callers
 * that must decide how to wrap code before it runs (Code Mode's
 * normalizeCode). It compiles in a scratch runtime of its own, with a small
 * memory and stack limit and no globals beyond the base objects, and runs
 * nothing; imports resolve to empty modules so that only the text itself is
 * judged.
 *
 * The scratch runtime is kept per thread and reused: creating one costs
 * more than compiling a typical program, and Code Mode parses every
 * program at least once. Nothing compiled here ever runs, so no state of
 * one text can reach the next; the runtime is still replaced after a
 * compile that failed with anything but a SyntaxError (QuickJS's cleanup
 * after running out of memory or stack is not to be trusted), after
 * PARSE_REUSE compiles (every module compiled stays registered in the
 * context until it ends, and each compile gets slower as they pile up),
 * and when its heap passes PARSE_RECYCLE_BYTES.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "corral.h"
#include "quickjs.h"

#define PARSE_MEMORY (32u << 20)
#define PARSE_STACK (256u << 10)
#define PARSE_REUSE 32
#define PARSE_RECYCLE_BYTES (4u << 20)

struct scratch {
    JSRuntime *rt;
    JSContext *ctx;
    unsigned uses;
    /* The runtime's allocation counters, so its size is read in O(1)
     * rather than by walking every object (JS_ComputeMemoryUsage). */
    const JSMallocState *mstate;
};

/* libc's allocator, counted as QuickJS's default one counts. */
static void *scratch_malloc(JSMallocState *s, size_t size) {
    if (s->malloc_size + size > s->malloc_limit) return NULL;
    void *p = malloc(size);
    if (!p) return NULL;
    struct scratch *sc = s->opaque;
    sc->mstate = s;
    s->malloc_count++;
    s->malloc_size += malloc_usable_size(p) + sizeof(size_t);
    return p;
}

static void scratch_free(JSMallocState *s, void *p) {
    if (!p) return;
    s->malloc_count--;
    s->malloc_size -= malloc_usable_size(p) + sizeof(size_t);
    free(p);
}

static void *scratch_realloc(JSMallocState *s, void *p, size_t size) {
    if (!p) return size ? scratch_malloc(s, size) : NULL;
    if (!size) {
        scratch_free(s, p);
        return NULL;
    }
    size_t old = malloc_usable_size(p);
    if (size > old && s->malloc_size + size - old > s->malloc_limit) return NULL;
    void *n = realloc(p, size);
    if (!n) return NULL;
    s->malloc_size = s->malloc_size - old + malloc_usable_size(n);
    return n;
}

static size_t scratch_usable(const void *p) { return malloc_usable_size((void *)p); }

static const JSMallocFunctions scratch_mf = {scratch_malloc, scratch_free, scratch_realloc,
                                             scratch_usable};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static JSModuleDef *empty_module(JSContext *ctx, const char *name, void *opaque) {
    return JS_NewCModule(ctx, name, NULL);
}

static void scratch_drop(struct scratch *s) {
    if (s->ctx) JS_FreeContext(s->ctx);
    if (s->rt) JS_FreeRuntime(s->rt);
    s->ctx = NULL;
    s->rt = NULL;
    s->mstate = NULL;
    s->uses = 0;
}

static void scratch_destroy(void *p) {
    scratch_drop(p);
    free(p);
}

static void scratch_key_init(void) { pthread_key_create(&scratch_key, scratch_destroy); }

static struct scratch *scratch_get(void) {
    pthread_once(&scratch_once, scratch_key_init);
    struct scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(scratch_key, s)) {
            free(s);
            return NULL;
        }
    }
    if (s->rt && s->uses >= PARSE_REUSE) scratch_drop(s);
    if (s->rt && s->mstate->malloc_size > PARSE_RECYCLE_BYTES) scratch_drop(s);
    if (!s->rt) {
        s->rt = JS_NewRuntime2(&scratch_mf, s);
        if (!s->rt) return NULL;
        JS_SetMemoryLimit(s->rt, PARSE_MEMORY);
        JS_SetMaxStackSize(s->rt, PARSE_STACK);
        JS_SetModuleLoaderFunc(s->rt, NULL, empty_module, NULL);
        s->ctx = JS_NewContextRaw(s->rt);
        if (!s->ctx) {
            scratch_drop(s);
            return NULL;
        }
        JS_AddIntrinsicBaseObjects(s->ctx);
        JS_AddIntrinsicEval(s->ctx);
        JS_AddIntrinsicRegExpCompiler(s->ctx);
    }
    return s;
}

int corral_js_parses(const char *src, size_t len) {
    struct scratch *s = scratch_get();
    if (!s) return -1;
    JSContext *ctx = s->ctx;
    /* JS_Eval needs a NUL after the text. */
    char *copy = js_malloc(ctx, len + 1);
    int ok = -1;
    if (copy) {
        memcpy(copy, src, len);
        copy[len] = 0;
        JSValue v = JS_Eval(ctx, copy, len, "<code>", JS_EVAL_TYPE_MODULE | JS_EVAL_FLAG_COMPILE_ONLY);
        ok = !JS_IsException(v);
        int trusted = 1;
        if (JS_IsException(v)) {
            /* A SyntaxError is the normal "does not parse"; anything else
             * (out of memory, stack overflow) retires the runtime. */
            JSValue e = JS_GetException(ctx);
            JSValue name = JS_GetPropertyStr(ctx, e, "name");
            const char *n = JS_ToCString(ctx, name);
            trusted = n && !strcmp(n, "SyntaxError");
            JS_FreeCString(ctx, n);
            JS_FreeValue(ctx, name);
            JS_FreeValue(ctx, e);
        } else {
            JS_FreeValue(ctx, v);
        }
        js_free(ctx, copy);
        s->uses++;
        if (!trusted) scratch_drop(s);
    } else {
        scratch_drop(s);
    }
    return ok;
}
