/* The web globals, installed on first use.
 *
 * Reading and running all of js/web/ cost a fresh sandbox ~0.6 ms and
 * ~250 KB, more than the rest of the sandbox together, while most workers
 * touch few of those globals and many touch none. So a sandbox starts with
 * one accessor pair per global instead; the first read of any global of a
 * part reads that part's bytecode (corral_js_web_PART, one blob per file),
 * runs its installer, and replaces the part's accessors with plain data
 * properties — non-enumerable, writable, configurable, as if they had been
 * there from the start. `typeof URL`, `"URL" in globalThis` and
 * Object.getOwnPropertyNames(globalThis) see every global before it loads.
 * The reflective functions that could see the accessor itself
 * (Object.getOwnPropertyDescriptor(s), Object.defineProperty/ies, their
 * Reflect twins, __lookupGetter__/__lookupSetter__) are wrapped to load the
 * part first when asked about globalThis, so they see what an eagerly
 * installed global would show.
 *
 * A part is a classic script whose value is its installer,
 * `function (native, lib, g)`. `lib` is the object the parts share privately;
 * the engine gives it two functions:
 *   lib.define(name, value)  a global of this part (must be in the table
 *                            below); it takes effect when the installer
 *                            returns, so a part that throws half-way (a stack
 *                            overflow in deep user code) leaves nothing behind
 *                            and is simply loaded again on the next use;
 *   lib.use(part)            loads another part first (a dependency, or a
 *                            part needed only on some path: events needs the
 *                            console only to report a listener's error).
 * `base` (lib.tag, lib.token, DOMException ...) is loaded before any other.
 *
 * What the user did first wins: a global assigned, redefined or deleted
 * before its part loads stays as the user left it, because the installer
 * only replaces accessors that are still ours. The runtime (js/runtime.js)
 * reaches the real classes through sb_web_lookup_fn(), never through
 * globalThis, which user code may have changed.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"

#define PART(p)                                                                               \
    extern const uint32_t corral_js_web_##p##_size;                                           \
    extern const uint8_t corral_js_web_##p[];
PART(base)
PART(events)
PART(encoding)
PART(console)
PART(url)
PART(fetch)
#undef PART

enum { P_BASE, P_EVENTS, P_ENCODING, P_CONSOLE, P_URL, P_FETCH, P_COUNT };

static const struct web_part {
    const char *name;
    const uint8_t *bc;
    const uint32_t *len;
} parts[P_COUNT] = {
#define PART(id, p) [id] = {#p, corral_js_web_##p, &corral_js_web_##p##_size}
    PART(P_BASE, base),         PART(P_EVENTS, events), PART(P_ENCODING, encoding),
    PART(P_CONSOLE, console),   PART(P_URL, url),       PART(P_FETCH, fetch),
#undef PART
};

/* Every global a part defines with lib.define, and only those. */
static const struct web_global {
    const char *name;
    unsigned char part;
} globals[] = {
    {"DOMException", P_BASE},
    {"Event", P_EVENTS},          {"EventTarget", P_EVENTS},
    {"AbortSignal", P_EVENTS},    {"AbortController", P_EVENTS},
    {"TextEncoder", P_ENCODING},  {"TextDecoder", P_ENCODING},
    {"atob", P_ENCODING},         {"btoa", P_ENCODING},
    {"crypto", P_ENCODING},       {"structuredClone", P_ENCODING},
    {"setTimeout", P_ENCODING},   {"setInterval", P_ENCODING},
    {"clearTimeout", P_ENCODING}, {"clearInterval", P_ENCODING},
    {"queueMicrotask", P_ENCODING}, {"performance", P_ENCODING},
    {"navigator", P_ENCODING},
    {"console", P_CONSOLE},
    {"URL", P_URL},               {"URLSearchParams", P_URL},
    {"Blob", P_FETCH},            {"Headers", P_FETCH},
    {"Request", P_FETCH},         {"Response", P_FETCH},
    {"fetch", P_FETCH},
};
#define GLOBAL_COUNT (sizeof globals / sizeof globals[0])

/* The reflective functions that would show an accessor where an eager
 * global is a data property; their wrappers load the part first. */
enum reflect_arg { TARGET_KEY, THIS_KEY, TARGET_ALL };
static const struct reflect_fn {
    const char *holder, *name;
    int length;
    enum reflect_arg arg;
} reflect_fns[] = {
    {"Object", "getOwnPropertyDescriptor", 2, TARGET_KEY},
    {"Object", "getOwnPropertyDescriptors", 1, TARGET_ALL},
    {"Object", "defineProperty", 3, TARGET_KEY},
    {"Object", "defineProperties", 2, TARGET_ALL},
    {"Reflect", "getOwnPropertyDescriptor", 2, TARGET_KEY},
    {"Reflect", "defineProperty", 3, TARGET_KEY},
    {NULL, "__lookupGetter__", 1, THIS_KEY},
    {NULL, "__lookupSetter__", 1, THIS_KEY},
};
#define REFLECT_COUNT (sizeof reflect_fns / sizeof reflect_fns[0])

struct sb_web {
    unsigned loaded;            /* bit per part: installed */
    unsigned loading;           /* bit per part: its installer is running */
    JSValue native, lib;        /* lib is made with the first part */
    JSValue global;             /* not a reference: compared, never used */
    JSAtom atoms[GLOBAL_COUNT];
    JSValue getters[GLOBAL_COUNT]; /* ours, to tell them from the user's */
    JSValue values[GLOBAL_COUNT];  /* the real value once defined */
    JSValue reflect[REFLECT_COUNT]; /* the wrapped originals */
};

static struct sb_web *WEB(JSContext *ctx) {
    return ((struct sandbox *)JS_GetContextOpaque(ctx))->web;
}

static int global_index(const char *name) {
    for (size_t i = 0; i < GLOBAL_COUNT; i++)
        if (strcmp(globals[i].name, name) == 0) return (int)i;
    return -1;
}

static int part_index(const char *name) {
    for (int i = 0; i < P_COUNT; i++)
        if (strcmp(parts[i].name, name) == 0) return i;
    return -1;
}

/* 1 if global i is still our accessor (configurable), 2 if it is ours
 * but frozen, 0 if user code replaced or deleted it. */
static int ours(JSContext *ctx, struct sb_web *w, size_t i) {
    JSPropertyDescriptor d;
    int r = JS_GetOwnProperty(ctx, &d, w->global, w->atoms[i]);
    if (r < 0) JS_FreeValue(ctx, JS_GetException(ctx));
    if (r <= 0) return 0;
    int mine = (d.flags & JS_PROP_GETSET) &&
               JS_VALUE_GET_PTR(d.getter) == JS_VALUE_GET_PTR(w->getters[i]);
    JS_FreeValue(ctx, d.getter);
    JS_FreeValue(ctx, d.setter);
    JS_FreeValue(ctx, d.value);
    return mine ? (d.flags & JS_PROP_CONFIGURABLE ? 1 : 2) : 0;
}

/* Replaces global i's accessor with its value, unless user code has put
 * something else there (then that stays). A frozen accessor (globalThis
 * was frozen) cannot be replaced; its getter keeps returning the value. */
static void settle_global(JSContext *ctx, struct sb_web *w, size_t i) {
    if (ours(ctx, w, i) == 1 &&
        JS_DefinePropertyValue(ctx, w->global, w->atoms[i], JS_DupValue(ctx, w->values[i]),
                               JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE) < 0)
        JS_FreeValue(ctx, JS_GetException(ctx));
}

static JSValue lib_define(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv);
static JSValue lib_use(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv);

static int make_lib(JSContext *ctx, struct sb_web *w) {
    w->lib = JS_NewObjectProto(ctx, JS_NULL);
    if (JS_IsException(w->lib)) return -1;
    if (JS_SetPropertyStr(ctx, w->lib, "define", JS_NewCFunction(ctx, lib_define, "define", 2)) < 0 ||
        JS_SetPropertyStr(ctx, w->lib, "use", JS_NewCFunction(ctx, lib_use, "use", 1)) < 0)
        return -1;
    return 0;
}

/* Reads and runs part p; base must be loaded. */
static int install_part(JSContext *ctx, struct sb_web *w, int p) {
    unsigned bit = 1u << p;
    if (JS_IsUndefined(w->lib) && make_lib(ctx, w) < 0) return -1;

    JSValue fn = JS_ReadObject(ctx, parts[p].bc, *parts[p].len, JS_READ_OBJ_BYTECODE);
    if (JS_IsException(fn)) return -1;
    JSValue installer = JS_EvalFunction(ctx, fn);
    if (JS_IsException(installer)) return -1;
    JSValue args[3] = {w->native, w->lib, w->global};
    w->loading |= bit;
    JSValue r = JS_Call(ctx, installer, JS_UNDEFINED, 3, args);
    w->loading &= ~bit;
    JS_FreeValue(ctx, installer);
    int failed = JS_IsException(r);
    JS_FreeValue(ctx, r);
    for (size_t i = 0; i < GLOBAL_COUNT; i++) {
        if (globals[i].part != p) continue;
        if (failed) {
            JS_FreeValue(ctx, w->values[i]);
            w->values[i] = JS_UNDEFINED;
        } else {
            settle_global(ctx, w, i);
        }
    }
    if (failed) return -1;
    w->loaded |= bit;
    return 0;
}

/* Loads part p (and base before it) if it is not loaded yet. A part whose
 * installer is running counts as loaded: its own code may read its globals
 * (they are undefined until defined). -1 with a pending exception.
 *
 * A part allocates tens of KB of objects that all stay alive, so a GC while
 * it loads finds nothing to free; at the size of the fetch part and its
 * dependencies one costs ~60 us. The outermost load raises the GC threshold,
 * then sets it as QuickJS does after a collection: 1.5 times the heap, and
 * not below QuickJS's default of 256 KB. */
static int load_part(JSContext *ctx, struct sb_web *w, int p) {
    if ((w->loaded | w->loading) & (1u << p)) return 0;
    if (w->loading) return install_part(ctx, w, p);
    struct sandbox *sb = JS_GetContextOpaque(ctx);
    JS_SetGCThreshold(sb->rt, (size_t)-1);
    int r = 0;
    if (!(w->loaded & (1u << P_BASE))) r = install_part(ctx, w, P_BASE);
    if (r == 0 && p != P_BASE) r = install_part(ctx, w, p);
    size_t used = sb->mstate->malloc_size;
    JS_SetGCThreshold(sb->rt, used + used / 2 > 256 * 1024 ? used + used / 2 : 256 * 1024);
    return r;
}

static JSValue lib_define(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    struct sb_web *w = WEB(ctx);
    const char *name = argc > 0 ? JS_ToCString(ctx, argv[0]) : NULL;
    if (!name) return JS_EXCEPTION;
    int i = global_index(name);
    JS_FreeCString(ctx, name);
    if (i < 0 || !(w->loading & (1u << globals[i].part)))
        return JS_ThrowInternalError(ctx, "lib.define: a global missing from lib/engine/lazy.c");
    JS_FreeValue(ctx, w->values[i]);
    w->values[i] = JS_DupValue(ctx, argc > 1 ? argv[1] : JS_UNDEFINED);
    return JS_UNDEFINED;
}

static JSValue lib_use(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    const char *name = argc > 0 ? JS_ToCString(ctx, argv[0]) : NULL;
    if (!name) return JS_EXCEPTION;
    int p = part_index(name);
    JS_FreeCString(ctx, name);
    if (p < 0) return JS_ThrowInternalError(ctx, "lib.use: no such web part");
    return load_part(ctx, WEB(ctx), p) < 0 ? JS_EXCEPTION : JS_UNDEFINED;
}

/* The accessor pair of global `magic`. The getter ignores its receiver, as
 * a data property on globalThis would give the same value through any
 * object inheriting from it. */
static JSValue global_get(JSContext *ctx, JSValueConst this_val, int magic) {
    struct sb_web *w = WEB(ctx);
    if (load_part(ctx, w, globals[magic].part) < 0) return JS_EXCEPTION;
    return JS_DupValue(ctx, w->values[magic]);
}

/* Assigning before first use: what [[Set]] does with a writable data
 * property, without loading the part. On globalThis the global becomes a
 * data property with the user's value; on an object inheriting from
 * globalThis an own enumerable property is created on that object. */
static JSValue global_set(JSContext *ctx, JSValueConst this_val, JSValueConst val, int magic) {
    struct sb_web *w = WEB(ctx);
    if (!JS_IsObject(this_val)) return JS_ThrowTypeError(ctx, "cannot set property '%s'", globals[magic].name);
    int flags = JS_VALUE_GET_PTR(w->global) == JS_VALUE_GET_PTR(this_val)
                    ? JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE
                    : JS_PROP_C_W_E;
    int r = JS_DefinePropertyValue(ctx, this_val, w->atoms[magic], JS_DupValue(ctx, val),
                                   flags | JS_PROP_THROW);
    return r < 0 ? JS_EXCEPTION : JS_UNDEFINED;
}

/* Loads the part of every global that is still our accessor. */
static int load_all(JSContext *ctx, struct sb_web *w) {
    for (size_t i = 0; i < GLOBAL_COUNT; i++) {
        if ((w->loaded >> globals[i].part) & 1 || !ours(ctx, w, i)) continue;
        if (load_part(ctx, w, globals[i].part) < 0) return -1;
    }
    return 0;
}

/* A wrapped reflective function: when it is about to look at (or redefine)
 * one of our accessors on globalThis, the part is loaded first, so it sees
 * the data property an eager global would be. The key is converted once,
 * here, and handed on converted, so a key object's toString runs once. */
static JSValue reflect_call(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv,
                            int magic) {
    struct sb_web *w = WEB(ctx);
    const struct reflect_fn *f = &reflect_fns[magic];
    JSValueConst target = f->arg == THIS_KEY ? this_val : argc > 0 ? argv[0] : JS_UNDEFINED;
    int key_at = f->arg == THIS_KEY ? 0 : 1;
    if (JS_VALUE_GET_PTR(target) != JS_VALUE_GET_PTR(w->global) || !JS_IsObject(target) ||
        w->loaded == (1u << P_COUNT) - 1)
        return JS_Call(ctx, w->reflect[magic], this_val, argc, argv);
    if (f->arg == TARGET_ALL) {
        if (load_all(ctx, w) < 0) return JS_EXCEPTION;
        return JS_Call(ctx, w->reflect[magic], this_val, argc, argv);
    }
    JSAtom a = JS_ValueToAtom(ctx, argc > key_at ? argv[key_at] : JS_UNDEFINED);
    if (a == JS_ATOM_NULL) return JS_EXCEPTION;
    for (size_t i = 0; i < GLOBAL_COUNT; i++) {
        if (w->atoms[i] != a || (w->loaded >> globals[i].part) & 1 || !ours(ctx, w, i)) continue;
        if (load_part(ctx, w, globals[i].part) < 0) {
            JS_FreeAtom(ctx, a);
            return JS_EXCEPTION;
        }
    }
    JSValue args[3];
    int n = argc < 3 ? argc : 3;
    for (int i = 0; i < n; i++) args[i] = argv[i];
    JSValue key = JS_AtomToValue(ctx, a);
    JS_FreeAtom(ctx, a);
    if (JS_IsException(key)) return key;
    if (key_at >= n) n = key_at + 1;
    args[key_at] = key;
    JSValue r = JS_Call(ctx, w->reflect[magic], this_val, n, args);
    JS_FreeValue(ctx, key);
    return r;
}

static int wrap_reflect(JSContext *ctx, struct sb_web *w) {
    for (size_t i = 0; i < REFLECT_COUNT; i++) {
        const struct reflect_fn *f = &reflect_fns[i];
        JSValue holder = f->holder ? JS_GetPropertyStr(ctx, w->global, f->holder)
                                   : JS_GetPropertyStr(ctx, w->global, "Object");
        if (!f->holder && !JS_IsException(holder)) {
            JSValue proto = JS_GetPropertyStr(ctx, holder, "prototype");
            JS_FreeValue(ctx, holder);
            holder = proto;
        }
        if (JS_IsException(holder)) return -1;
        w->reflect[i] = JS_GetPropertyStr(ctx, holder, f->name);
        JSValue fn = JS_NewCFunctionMagic(ctx, reflect_call, f->name, f->length,
                                          JS_CFUNC_generic_magic, (int)i);
        /* The originals are writable, non-enumerable, configurable. */
        int r = 0;
        if (JS_IsException(w->reflect[i]) || JS_IsException(fn)) r = -1;
        if (r < 0 || JS_IsUndefined(w->reflect[i])) JS_FreeValue(ctx, fn);
        else r = JS_DefinePropertyValueStr(ctx, holder, f->name, fn,
                                           JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
        JS_FreeValue(ctx, holder);
        if (r < 0) return -1;
    }
    return 0;
}

int sb_web_install(struct sandbox *sb, JSValueConst native) {
    JSContext *ctx = sb->ctx;
    struct sb_web *w = calloc(1, sizeof *w);
    if (!w) {
        JS_ThrowOutOfMemory(ctx);
        return -1;
    }
    sb->web = w;
    w->native = JS_DupValue(ctx, native);
    w->lib = JS_UNDEFINED;
    for (size_t i = 0; i < GLOBAL_COUNT; i++) w->getters[i] = w->values[i] = JS_UNDEFINED;
    for (size_t i = 0; i < REFLECT_COUNT; i++) w->reflect[i] = JS_UNDEFINED;
    JSValue g = JS_GetGlobalObject(ctx);
    w->global = g;
    JS_FreeValue(ctx, g);

    /* self is the global object itself: nothing to load. */
    int r = JS_DefinePropertyValueStr(ctx, g, "self", JS_DupValue(ctx, g),
                                      JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
    for (size_t i = 0; r >= 0 && i < GLOBAL_COUNT; i++) {
        w->atoms[i] = JS_NewAtom(ctx, globals[i].name);
        JSValue get = JS_NewCFunction2(ctx, (JSCFunction *)global_get, "", 0,
                                       JS_CFUNC_getter_magic, (int)i);
        if (w->atoms[i] == JS_ATOM_NULL || JS_IsException(get)) {
            r = -1;
            break;
        }
        w->getters[i] = JS_DupValue(ctx, get);
        JSValue set = JS_NewCFunction2(ctx, (JSCFunction *)global_set, "", 1,
                                       JS_CFUNC_setter_magic, (int)i);
        r = JS_DefinePropertyGetSet(ctx, g, w->atoms[i], get, set, JS_PROP_CONFIGURABLE);
    }
    return r < 0 || wrap_reflect(ctx, w) < 0 ? -1 : 0;
}

/* web(name[, peek]): the real web global `name`, loading its part; with
 * peek, undefined while the part is not loaded (nothing of it can exist). */
static JSValue web_lookup(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    struct sb_web *w = WEB(ctx);
    const char *name = argc > 0 ? JS_ToCString(ctx, argv[0]) : NULL;
    if (!name) return JS_EXCEPTION;
    int i = global_index(name);
    JS_FreeCString(ctx, name);
    if (i < 0) return JS_ThrowInternalError(ctx, "web(): no such web global");
    if (argc > 1 && JS_ToBool(ctx, argv[1])) return JS_DupValue(ctx, w->values[i]);
    if (load_part(ctx, w, globals[i].part) < 0) return JS_EXCEPTION;
    return JS_DupValue(ctx, w->values[i]);
}

JSValue sb_web_lookup_fn(struct sandbox *sb) {
    return JS_NewCFunction(sb->ctx, web_lookup, "web", 2);
}

void sb_web_free(struct sandbox *sb) {
    struct sb_web *w = sb->web;
    if (!w) return;
    JSContext *ctx = sb->ctx;
    JS_FreeValue(ctx, w->native);
    JS_FreeValue(ctx, w->lib);
    for (size_t i = 0; i < GLOBAL_COUNT; i++) {
        JS_FreeAtom(ctx, w->atoms[i]);
        JS_FreeValue(ctx, w->getters[i]);
        JS_FreeValue(ctx, w->values[i]);
    }
    for (size_t i = 0; i < REFLECT_COUNT; i++) JS_FreeValue(ctx, w->reflect[i]);
    free(w);
    sb->web = NULL;
}
