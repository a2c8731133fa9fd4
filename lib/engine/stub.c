/* Stubs: the objects a sandbox holds for things that live elsewhere (a host
 * capability, another worker's entrypoint, a callback a peer passed in).
 *
 * A stub is an exotic object with no own properties and no prototype: any
 * string property reads as an async method that sends a CALL through the
 * router, "then" reads as undefined (so a stub is never mistaken for a
 * promise), and Symbol.dispose releases it. Writes are refused. All a stub
 * holds is an index into its sandbox's import table, which the router
 * issued; sandbox code cannot forge one because the table lives outside its
 * reach. Function-valued remote objects get a callable variant.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"

JSClassID corral_stub_class_id;
JSClassID corral_fstub_class_id;

struct stub {
    struct sandbox *sb;
    uint64_t index;
    uint8_t flags;
    int released;
};

/* Releases wait for the end of the turn (sb_flush_releases): an answer
 * queued earlier in the turn may still name this import, and the router
 * must translate it before the import goes away. */
static void stub_release(struct stub *s) {
    if (s->released || !s->sb) return;
    s->released = 1;
    struct sandbox *sb = s->sb;
    if (sb->release_count == sb->release_cap) {
        size_t ncap = sb->release_cap ? sb->release_cap * 2 : 8;
        uint64_t *n = realloc(sb->releases, ncap * sizeof *n);
        if (!n) return; /* the import then lives as long as the sandbox */
        sb->releases = n;
        sb->release_cap = ncap;
    }
    sb->releases[sb->release_count++] = s->index;
}

void sb_flush_releases(struct sandbox *sb) {
    for (size_t i = 0; i < sb->release_count; i++) {
        struct wire_msg m = {.kind = WIRE_MSG_RELEASE, .target = sb->releases[i]};
        if (!sb->closing) sb->host->send(sb->host_data, sb, &m);
    }
    sb->release_count = 0;
}

static struct stub *stub_of(JSValueConst v) {
    JSClassID cid = JS_GetClassID(v);
    if (cid != corral_stub_class_id && cid != corral_fstub_class_id) return NULL;
    return JS_GetOpaque(v, cid);
}

static void stub_finalizer(JSRuntime *rt, JSValue val) {
    ENGINE_UNSAFE_SCOPE();
    struct stub *s = stub_of(val);
    if (!s) return;
    /* During sandbox teardown the router drops every import at once. */
    if (s->sb && !s->sb->closing) stub_release(s);
    js_free_rt(rt, s);
}

int sb_stub_info(JSValueConst v, uint64_t *index, uint8_t *flags) {
    struct stub *s = stub_of(v);
    if (!s) return 0;
    *index = s->index;
    *flags = s->flags;
    return 1;
}

static JSValue stub_method(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv,
                           int magic, JSValue *data) {
    ENGINE_UNSAFE_SCOPE();
    struct stub *s = stub_of(data[0]);
    if (!s || s->released)
        return sb_throw_named(ctx, "Error", "This stub has been disposed and can no longer be used.");
    const char *name = JS_ToCString(ctx, data[1]);
    if (!name) return JS_EXCEPTION;
    JSValue r = sb_rpc_call(s->sb, s->index, name, argc, argv);
    JS_FreeCString(ctx, name);
    return r;
}

static JSValue stub_dispose(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv,
                            int magic, JSValue *data) {
    ENGINE_UNSAFE_SCOPE();
    struct stub *s = stub_of(data[0]);
    if (s) stub_release(s);
    return JS_UNDEFINED;
}

static JSValue stub_get(JSContext *ctx, JSValueConst obj, JSAtom atom, JSValueConst receiver) {
    ENGINE_UNSAFE_SCOPE();
    struct stub *s = stub_of(obj);
    if (!s) return JS_UNDEFINED;
    JSValue key = JS_AtomToValue(ctx, atom);
    if (JS_IsSymbol(key)) {
        JSValue dispose_sym = JS_GetPropertyStr(ctx, s->sb->api, "disposeSymbol");
        int is_dispose = JS_StrictEq(ctx, key, dispose_sym);
        JS_FreeValue(ctx, dispose_sym);
        JS_FreeValue(ctx, key);
        if (!is_dispose) return JS_UNDEFINED;
        JSValueConst data[1] = {obj};
        return JS_NewCFunctionData(ctx, stub_dispose, 0, 0, 1, data);
    }
    const char *name = JS_ToCString(ctx, key);
    if (!name) {
        JS_FreeValue(ctx, key);
        return JS_EXCEPTION;
    }
    JSValue r;
    if (strcmp(name, "then") == 0) {
        r = JS_UNDEFINED;
    } else if (strcmp(name, "fetch") == 0) {
        JSValue mk = JS_GetPropertyStr(ctx, s->sb->api, "makeFetchMethod");
        r = JS_Call(ctx, mk, JS_UNDEFINED, 1, &obj);
        JS_FreeValue(ctx, mk);
    } else {
        JSValueConst data[2] = {obj, key};
        r = JS_NewCFunctionData(ctx, stub_method, 0, 0, 2, data);
    }
    JS_FreeCString(ctx, name);
    JS_FreeValue(ctx, key);
    return r;
}

static int stub_set(JSContext *ctx, JSValueConst obj, JSAtom atom, JSValueConst value,
                    JSValueConst receiver, int flags) {
    ENGINE_UNSAFE_SCOPE();
    JS_ThrowTypeError(ctx, "Stubs are read-only: properties cannot be set on them.");
    return -1;
}

static int stub_define(JSContext *ctx, JSValueConst this_obj, JSAtom prop, JSValueConst val,
                       JSValueConst getter, JSValueConst setter, int flags) {
    ENGINE_UNSAFE_SCOPE();
    JS_ThrowTypeError(ctx, "Stubs are read-only: properties cannot be defined on them.");
    return -1;
}

static int stub_has(JSContext *ctx, JSValueConst obj, JSAtom atom) {
    return 0;
}

static JSValue fstub_call(JSContext *ctx, JSValueConst func_obj, JSValueConst this_val, int argc,
                          JSValueConst *argv, int flags) {
    ENGINE_UNSAFE_SCOPE();
    struct stub *s = stub_of(func_obj);
    if (!s || s->released)
        return sb_throw_named(ctx, "Error", "This stub has been disposed and can no longer be used.");
    return sb_rpc_call(s->sb, s->index, NULL, argc, argv);
}

static JSClassExoticMethods stub_exotic = {
    .get_property = stub_get,
    .set_property = stub_set,
    .define_own_property = stub_define,
    .has_property = stub_has,
};

static pthread_once_t class_ids_once = PTHREAD_ONCE_INIT;

static void new_class_ids(void) {
    JS_NewClassID(&corral_stub_class_id);
    JS_NewClassID(&corral_fstub_class_id);
}

void sb_register_classes(JSRuntime *rt) {
    pthread_once(&class_ids_once, new_class_ids);
    JSClassDef def = {.class_name = "Stub", .finalizer = stub_finalizer, .exotic = &stub_exotic};
    JS_NewClass(rt, corral_stub_class_id, &def);
    JSClassDef fdef = {.class_name = "Stub", .finalizer = stub_finalizer, .exotic = &stub_exotic,
                       .call = fstub_call};
    JS_NewClass(rt, corral_fstub_class_id, &fdef);
}

JSValue sb_new_stub(struct sandbox *sb, uint64_t index, uint8_t flags) {
    JSClassID cid = (flags & WIRE_CAP_F_FUNCTION) ? corral_fstub_class_id : corral_stub_class_id;
    JSValue obj = JS_NewObjectProtoClass(sb->ctx, JS_NULL, cid);
    if (JS_IsException(obj)) return obj;
    /* In the runtime's own heap, so it goes with the runtime whichever way
     * the runtime ends. */
    struct stub *s = js_mallocz_rt(sb->rt, sizeof *s);
    if (!s) {
        JS_FreeValue(sb->ctx, obj);
        return JS_ThrowOutOfMemory(sb->ctx);
    }
    s->sb = sb;
    s->index = index;
    s->flags = flags;
    JS_SetOpaque(obj, s);
    /* Not extensible, so its (null) prototype cannot be replaced either. */
    JS_PreventExtensions(sb->ctx, obj);
    return obj;
}

uint64_t sb_add_export(struct sandbox *sb, JSValueConst obj) {
    uint64_t id;
    if (sb->export_free) {
        id = sb->export_free;
        sb->export_free = sb->exports[id - 1].next_free;
    } else {
        if (sb->export_count == sb->export_cap) {
            size_t ncap = sb->export_cap ? sb->export_cap * 2 : 8;
            struct sb_export *n = realloc(sb->exports, ncap * sizeof *n);
            if (!n) {
                JS_ThrowOutOfMemory(sb->ctx);
                return 0;
            }
            sb->exports = n;
            sb->export_cap = ncap;
        }
        id = ++sb->export_count;
    }
    struct sb_export *e = &sb->exports[id - 1];
    memset(e, 0, sizeof *e);
    e->kind = SB_EXPORT_OBJECT;
    e->obj = JS_DupValue(sb->ctx, obj);
    e->props = JS_UNDEFINED;
    return id;
}
