/* JavaScript values to wire payloads and back.
 *
 * The encoder walks a value graph with an identity table, so shared and
 * cyclic objects become back-references rather than copies or infinite
 * loops, and the *path* to every value is kept so that a DataCloneError can
 * say where the offending value sat ("Symbol at args[0].user.tag"). The
 * decoder is a wire_visitor that builds values on an explicit stack, so its
 * depth is the wire layer's bound, not the C stack's. Functions and
 * RpcTarget instances cross by reference: the encoder exports them into the
 * sandbox's export table and emits a stub; the decoder turns stubs into stub
 * objects (stub.c).
 */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"

static JSClassID cls_array, cls_error, cls_date, cls_regexp, cls_map, cls_set, cls_arraybuffer,
    cls_sab, cls_dataview, cls_proxy, cls_number, cls_string, cls_boolean;
static JSClassID cls_typed[11]; /* by JSTypedArrayEnum */
static _Atomic int class_ids_ready;
static pthread_mutex_t class_ids_lock = PTHREAD_MUTEX_INITIALIZER;

static JSClassID class_of_expr(JSContext *ctx, const char *expr) {
    JSValue v = JS_Eval(ctx, expr, strlen(expr), "<classid>", JS_EVAL_TYPE_GLOBAL);
    JSClassID id = JS_GetClassID(v);
    JS_FreeValue(ctx, v);
    return id;
}

/* QuickJS keeps its class ids private; we learn them once from sample
 * objects, which stays right whatever order the engine declares them in. */
void sb_init_class_ids(JSContext *ctx) {
    /* Sandboxes may be created on the prewarming thread and the loop
     * thread at once: the first one learns the ids, under a lock. */
    if (atomic_load(&class_ids_ready)) return;
    pthread_mutex_lock(&class_ids_lock);
    if (atomic_load(&class_ids_ready)) {
        pthread_mutex_unlock(&class_ids_lock);
        return;
    }
    cls_array = class_of_expr(ctx, "[]");
    cls_error = class_of_expr(ctx, "new Error()");
    cls_date = class_of_expr(ctx, "new Date(0)");
    cls_regexp = class_of_expr(ctx, "/a/");
    cls_map = class_of_expr(ctx, "new Map()");
    cls_set = class_of_expr(ctx, "new Set()");
    cls_arraybuffer = class_of_expr(ctx, "new ArrayBuffer(0)");
    cls_sab = class_of_expr(ctx, "typeof SharedArrayBuffer == 'function' ? new SharedArrayBuffer(0) : 0");
    cls_dataview = class_of_expr(ctx, "new DataView(new ArrayBuffer(0))");
    cls_proxy = class_of_expr(ctx, "new Proxy({}, {})");
    cls_number = class_of_expr(ctx, "new Number(0)");
    cls_string = class_of_expr(ctx, "new String('')");
    cls_boolean = class_of_expr(ctx, "new Boolean(false)");
    static const char *typed[11] = {"Uint8ClampedArray", "Int8Array", "Uint8Array", "Int16Array",
                                    "Uint16Array", "Int32Array", "Uint32Array", "BigInt64Array",
                                    "BigUint64Array", "Float32Array", "Float64Array"};
    for (int i = 0; i < 11; i++) {
        char expr[64];
        snprintf(expr, sizeof expr, "new %s(0)", typed[i]);
        cls_typed[i] = class_of_expr(ctx, expr);
    }
    atomic_store(&class_ids_ready, 1);
    pthread_mutex_unlock(&class_ids_lock);
}

JSValue sb_throw_named(JSContext *ctx, const char *name, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    JSValue err = JS_NewError(ctx);
    JS_DefinePropertyValueStr(ctx, err, "message", JS_NewString(ctx, msg),
                              JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
    JS_DefinePropertyValueStr(ctx, err, "name", JS_NewString(ctx, name),
                              JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
    return JS_Throw(ctx, err);
}

/* ---- encoding ------------------------------------------------------------ */

struct seen {
    void **keys;
    uint64_t *vals;
    size_t cap, count;
};

static uint64_t seen_hash(void *p) {
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static int seen_get(struct seen *s, void *key, uint64_t *val) {
    if (!s->cap) return 0;
    for (size_t i = seen_hash(key) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (!s->keys[i]) return 0;
        if (s->keys[i] == key) {
            *val = s->vals[i];
            return 1;
        }
    }
}

static int seen_put(struct seen *s, void *key, uint64_t val) {
    if ((s->count + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        void **nk = calloc(ncap, sizeof *nk);
        uint64_t *nv = calloc(ncap, sizeof *nv);
        if (!nk || !nv) {
            free(nk);
            free(nv);
            return -1;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->keys[i]) continue;
            size_t j = seen_hash(s->keys[i]) & (ncap - 1);
            while (nk[j]) j = (j + 1) & (ncap - 1);
            nk[j] = s->keys[i];
            nv[j] = s->vals[i];
        }
        free(s->keys);
        free(s->vals);
        s->keys = nk;
        s->vals = nv;
        s->cap = ncap;
    }
    size_t i = seen_hash(key) & (s->cap - 1);
    while (s->keys[i]) i = (i + 1) & (s->cap - 1);
    s->keys[i] = key;
    s->vals[i] = val;
    s->count++;
    return 0;
}

struct enc {
    struct sandbox *sb;
    JSContext *ctx;
    struct wire_buf buf;
    struct seen seen;
    uint64_t next_index;
    struct wire_cap *caps;
    size_t cap_count, cap_cap;
    char path[512];
    size_t path_len;
    int path_cut;           /* a segment did not fit: the path is shown cut short */
    int depth;
    const char *limit_name;
};

/* Whole segments only: a path cut inside a key or index would mislead.
 * Built for every key and index a message holds (it is only read when the
 * encoding fails), so no printf. */
static void path_append(struct enc *e, const char *a, size_t alen, const char *b, size_t blen,
                        const char *c, size_t clen) {
    size_t n = alen + blen + clen;
    if (n >= 160 || e->path_len + n >= sizeof e->path) {
        e->path_cut = 1;
        return;
    }
    char *at = e->path + e->path_len;
    memcpy(at, a, alen);
    memcpy(at + alen, b, blen);
    memcpy(at + alen + blen, c, clen);
    at[n] = 0;
    e->path_len += n;
}

static void path_push_key(struct enc *e, const char *k) { path_append(e, ".", 1, k, strlen(k), "", 0); }

static void path_push_index(struct enc *e, uint64_t i) {
    char buf[WIRE_U64_DIGITS];
    char *digits = wire_u64_digits(i, buf);
    path_append(e, "[", 1, digits, (size_t)(buf + sizeof buf - digits), "]", 1);
}

static int enc_fail(struct enc *e, const char *what) {
    sb_throw_named(e->ctx, "DataCloneError", "%s could not be cloned (at value%s%s).", what,
                   e->path, e->path_cut ? "..." : "");
    return -1;
}

static int add_cap(struct enc *e, uint8_t kind, uint8_t flags, uint64_t id) {
    if (e->cap_count >= WIRE_MAX_CAPS) return enc_fail(e, "Too many stubs in one message; it");
    if (e->cap_count == e->cap_cap) {
        size_t ncap = e->cap_cap ? e->cap_cap * 2 : 4;
        struct wire_cap *n = realloc(e->caps, ncap * sizeof *n);
        if (!n) {
            JS_ThrowOutOfMemory(e->ctx);
            return -1;
        }
        e->caps = n;
        e->cap_cap = ncap;
    }
    e->caps[e->cap_count] = (struct wire_cap){.kind = kind, .flags = flags, .id = id};
    return (int)e->cap_count++;
}

static int enc_value(struct enc *e, JSValueConst v);

/* Prototype Object.prototype or null (see struct sandbox.object_proto).
 * Proxies never get here, so reading the prototype runs no code. */
static int is_plain_object(struct enc *e, JSValueConst v) {
    JSValue proto = JS_GetPrototype(e->ctx, v);
    int plain = JS_IsNull(proto) ||
                (JS_IsObject(proto) && JS_VALUE_GET_PTR(proto) == e->sb->object_proto);
    JS_FreeValue(e->ctx, proto);
    return plain;
}

static int enc_string(struct enc *e, JSValueConst v) {
    size_t len;
    const char *s = JS_ToCStringLen2(e->ctx, &len, v, 1);
    if (!s) return -1;
    int r = wire_put_string(&e->buf, s, len);
    JS_FreeCString(e->ctx, s);
    return r;
}

static int call_api(struct enc *e, const char *fn, JSValueConst arg, JSValue *out) {
    JSValue f = JS_GetPropertyStr(e->ctx, e->sb->api, fn);
    *out = JS_Call(e->ctx, f, JS_UNDEFINED, 1, &arg);
    JS_FreeValue(e->ctx, f);
    return JS_IsException(*out) ? -1 : 0;
}

static int enc_bigint(struct enc *e, JSValueConst v) {
    JSValue hex;
    if (call_api(e, "bigintHex", v, &hex) < 0) return -1;
    size_t len;
    const char *s = JS_ToCStringLen(e->ctx, &len, hex);
    JS_FreeValue(e->ctx, hex);
    if (!s) return -1;
    int neg = s[0] == '-';
    const char *digits = s + neg;
    size_t nd = strlen(digits);
    size_t nbytes = (nd + 1) / 2;
    uint8_t *mag = malloc(nbytes ? nbytes : 1);
    if (!mag) {
        JS_FreeCString(e->ctx, s);
        JS_ThrowOutOfMemory(e->ctx);
        return -1;
    }
    for (size_t i = 0; i < nbytes; i++) {
        /* byte i (little-endian) comes from the two hex digits ending at nd-2i */
        size_t hi = nd - 2 * i;
        int lo_d = digits[hi - 1];
        int hi_d = hi >= 2 ? digits[hi - 2] : '0';
        int lo_v = lo_d <= '9' ? lo_d - '0' : lo_d - 'a' + 10;
        int hi_v = hi_d <= '9' ? hi_d - '0' : hi_d - 'a' + 10;
        mag[i] = (uint8_t)(hi_v << 4 | lo_v);
    }
    size_t n = nbytes;
    while (n > 0 && mag[n - 1] == 0) n--;
    int r = wire_put_bigint(&e->buf, neg && n > 0, mag, n);
    free(mag);
    JS_FreeCString(e->ctx, s);
    return r;
}

static int enc_props(struct enc *e, JSValueConst obj, const char *const *skip) {
    JSPropertyEnum *tab;
    uint32_t len;
    if (JS_GetOwnPropertyNames(e->ctx, &tab, &len, obj, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) < 0)
        return -1;
    int r = 0;
    uint32_t count = 0;
    /* Count first: the skip list removes keys an error carries separately. */
    uint8_t *keep = calloc(len ? len : 1, 1);
    if (!keep) {
        r = -1;
        JS_ThrowOutOfMemory(e->ctx);
        goto out;
    }
    for (uint32_t i = 0; i < len; i++) {
        keep[i] = 1;
        if (skip) {
            const char *k = JS_AtomToCString(e->ctx, tab[i].atom);
            for (const char *const *s = skip; k && *s; s++)
                if (strcmp(k, *s) == 0) keep[i] = 0;
            JS_FreeCString(e->ctx, k);
        }
        count += keep[i];
    }
    if ((r = wire_put_object_begin(&e->buf, count)) < 0) goto out;
    for (uint32_t i = 0; i < len && r == 0; i++) {
        if (!keep[i]) continue;
        size_t klen;
        JSValue key = JS_AtomToString(e->ctx, tab[i].atom);
        const char *k = JS_ToCStringLen2(e->ctx, &klen, key, 1);
        JS_FreeValue(e->ctx, key);
        if (!k) {
            r = -1;
            break;
        }
        size_t saved = e->path_len;
        path_push_key(e, k);
        r = wire_put_key(&e->buf, k, klen);
        JS_FreeCString(e->ctx, k);
        if (r < 0) break;
        JSValue pv = JS_GetProperty(e->ctx, obj, tab[i].atom);
        if (JS_IsException(pv)) {
            r = -1;
            break;
        }
        r = enc_value(e, pv);
        JS_FreeValue(e->ctx, pv);
        e->path_len = saved;
        e->path[saved] = 0;
    }
out:
    free(keep);
    for (uint32_t i = 0; i < len; i++) JS_FreeAtom(e->ctx, tab[i].atom);
    js_free(e->ctx, tab);
    return r;
}

static int enc_list(struct enc *e, JSValueConst arr, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
        JSValue item = JS_GetPropertyUint32(e->ctx, arr, (int64_t)i);
        if (JS_IsException(item)) return -1;
        size_t saved = e->path_len;
        path_push_index(e, i);
        int r = enc_value(e, item);
        JS_FreeValue(e->ctx, item);
        e->path_len = saved;
        e->path[saved] = 0;
        if (r < 0) return -1;
    }
    return 0;
}

/* Every element takes at least one byte (a hole is one), so a list longer
 * than the bytes left under the limit cannot fit: refuse it before walking
 * it. A sparse array of length 2**32-1 costs nothing to build, and walking
 * it here, in C, would run far past the CPU limit where no interrupt
 * handler can stop it. */
static int enc_fits(struct enc *e, int64_t n) {
    if (n < 0 || (e->buf.limit && (uint64_t)n > e->buf.limit - e->buf.len)) {
        e->buf.status = WIRE_ERR_TOO_LARGE;
        return 0;
    }
    return 1;
}

static int enc_array(struct enc *e, JSValueConst v) {
    int64_t n;
    if (sb_length(e->ctx, v, &n) < 0) return -1;
    if (!enc_fits(e, n)) return -1;
    if (wire_put_array_begin(&e->buf, (uint64_t)n) < 0) return -1;
    for (int64_t i = 0; i < n; i++) {
        JSAtom a = JS_NewAtomUInt32(e->ctx, i);
        int has = JS_GetOwnProperty(e->ctx, NULL, v, a);
        if (has < 0) {
            JS_FreeAtom(e->ctx, a);
            return -1;
        }
        if (!has) {
            JS_FreeAtom(e->ctx, a);
            if (wire_put_hole(&e->buf) < 0) return -1;
            continue;
        }
        JSValue item = JS_GetProperty(e->ctx, v, a);
        JS_FreeAtom(e->ctx, a);
        if (JS_IsException(item)) return -1;
        size_t saved = e->path_len;
        path_push_index(e, (uint64_t)i);
        int r = enc_value(e, item);
        JS_FreeValue(e->ctx, item);
        e->path_len = saved;
        e->path[saved] = 0;
        if (r < 0) return -1;
    }
    return 0;
}

static int enc_bytes(struct enc *e, JSValueConst v, JSClassID cid) {
    enum wire_bytes_kind kind;
    const uint8_t *p;
    size_t len;
    if (cid == cls_arraybuffer) {
        p = JS_GetArrayBuffer(e->ctx, &len, v);
        if (!p && len) return -1;
        kind = WIRE_BYTES_ARRAYBUFFER;
    } else {
        static const enum wire_bytes_kind kinds[11] = {
            WIRE_BYTES_UINT8C, WIRE_BYTES_INT8, WIRE_BYTES_UINT8, WIRE_BYTES_INT16,
            WIRE_BYTES_UINT16, WIRE_BYTES_INT32, WIRE_BYTES_UINT32, WIRE_BYTES_BIGINT64,
            WIRE_BYTES_BIGUINT64, WIRE_BYTES_FLOAT32, WIRE_BYTES_FLOAT64};
        kind = WIRE_BYTES_DATAVIEW;
        for (int i = 0; i < 11; i++)
            if (cid == cls_typed[i]) kind = kinds[i];
        size_t off, blen, bpe;
        JSValue ab = JS_GetTypedArrayBuffer(e->ctx, v, &off, &blen, &bpe);
        if (JS_IsException(ab)) {
            /* DataView: ask the object itself. */
            JS_FreeValue(e->ctx, JS_GetException(e->ctx));
            JSValue b = JS_GetPropertyStr(e->ctx, v, "buffer");
            JSValue o = JS_GetPropertyStr(e->ctx, v, "byteOffset");
            JSValue l = JS_GetPropertyStr(e->ctx, v, "byteLength");
            int64_t oi = 0, li = 0;
            JS_ToInt64(e->ctx, &oi, o);
            JS_ToInt64(e->ctx, &li, l);
            JS_FreeValue(e->ctx, o);
            JS_FreeValue(e->ctx, l);
            ab = b;
            off = (size_t)oi;
            blen = (size_t)li;
        }
        size_t ablen;
        const uint8_t *base = JS_GetArrayBuffer(e->ctx, &ablen, ab);
        JS_FreeValue(e->ctx, ab);
        if (!base && ablen) return -1;
        if (off > ablen || blen > ablen - off) return enc_fail(e, "A detached or out-of-range view");
        p = base ? base + off : (const uint8_t *)"";
        len = blen;
    }
    return wire_put_bytes(&e->buf, kind, p, len);
}

static int enc_error(struct enc *e, JSValueConst v) {
    JSValue name = JS_GetPropertyStr(e->ctx, v, "name");
    JSValue message = JS_GetPropertyStr(e->ctx, v, "message");
    JSValue stack = JS_GetPropertyStr(e->ctx, v, "stack");
    size_t nl = 0, ml = 0, sl = 0;
    const char *n = JS_IsUndefined(name) ? NULL : JS_ToCStringLen2(e->ctx, &nl, name, 1);
    const char *m = JS_IsUndefined(message) ? NULL : JS_ToCStringLen2(e->ctx, &ml, message, 1);
    const char *s = JS_IsString(stack) ? JS_ToCStringLen2(e->ctx, &sl, stack, 1) : NULL;
    int r = wire_put_error_begin(&e->buf, n ? n : "Error", n ? nl : 5, m ? m : "", m ? ml : 0, s,
                                 sl);
    JS_FreeCString(e->ctx, n);
    JS_FreeCString(e->ctx, m);
    JS_FreeCString(e->ctx, s);
    JS_FreeValue(e->ctx, name);
    JS_FreeValue(e->ctx, message);
    JS_FreeValue(e->ctx, stack);
    if (r < 0) return r;
    /* The props object after an error takes a back-reference number of
     * its own (docs/wire-format.md); nothing refers to it, but the count
     * must match the decoder's. */
    e->next_index++;
    static const char *const skip[] = {"name", "message", "stack", NULL};
    return enc_props(e, v, skip);
}

static int enc_object(struct enc *e, JSValueConst v) {
    JSContext *ctx = e->ctx;
    uint64_t stub_index;
    uint8_t stub_flags;
    if (e->sb->no_stubs && sb_stub_info(v, &stub_index, &stub_flags))
        return enc_fail(e, "A stub (an RPC reference)");
    if (e->sb->no_stubs && JS_IsFunction(ctx, v)) return enc_fail(e, "A function");
    if (sb_stub_info(v, &stub_index, &stub_flags)) {
        if (stub_flags & WIRE_CAP_F_NO_TRANSFER)
            return sb_throw_named(ctx, "DataCloneError",
                                  "Entrypoints to dynamically-loaded workers cannot be transferred "
                                  "to other Workers, because the system does not know how to "
                                  "reload this Worker from scratch. Instead, have the parent "
                                  "Worker expose an entrypoint which itself forwards calls to the "
                                  "dynamic Worker."),
                   -1;
        int ci = add_cap(e, WIRE_CAP_IMPORT, stub_flags, stub_index);
        return ci < 0 ? -1 : wire_put_stub(&e->buf, (uint64_t)ci);
    }
    void *key = JS_VALUE_GET_PTR(v);
    uint64_t idx;
    if (seen_get(&e->seen, key, &idx)) return wire_put_backref(&e->buf, idx);

    JSClassID cid = JS_GetClassID(v);
    if (JS_IsFunction(ctx, v)) {
        if (e->sb->measuring) return wire_put_stub(&e->buf, 0);
        uint64_t id = sb_add_export(e->sb, v);
        if (!id) return -1;
        int ci = add_cap(e, WIRE_CAP_EXPORT, WIRE_CAP_F_FUNCTION, id);
        return ci < 0 ? -1 : wire_put_stub(&e->buf, (uint64_t)ci);
    }
    if (cid == cls_proxy) return enc_fail(e, "A Proxy");
    if (cid == cls_date) {
        JSValue t;
        if (call_api(e, "dateValue", v, &t) < 0) return -1;
        double d;
        JS_ToFloat64(ctx, &d, t);
        JS_FreeValue(ctx, t);
        return wire_put_date(&e->buf, d);
    }
    if (cid == cls_regexp) {
        JSValue src = JS_GetPropertyStr(ctx, v, "source");
        JSValue fl = JS_GetPropertyStr(ctx, v, "flags");
        size_t sl, fl_len;
        const char *s = JS_ToCStringLen2(ctx, &sl, src, 1);
        const char *f = JS_ToCStringLen2(ctx, &fl_len, fl, 1);
        int r = (s && f) ? wire_put_regexp(&e->buf, s, sl, f, fl_len) : -1;
        JS_FreeCString(ctx, s);
        JS_FreeCString(ctx, f);
        JS_FreeValue(ctx, src);
        JS_FreeValue(ctx, fl);
        return r;
    }
    if (cid == cls_number || cid == cls_string || cid == cls_boolean) {
        JSValue prim;
        if (call_api(e, "unbox", v, &prim) < 0) return -1;
        int r = enc_value(e, prim);
        JS_FreeValue(ctx, prim);
        return r;
    }
    if (cid == cls_sab) return enc_fail(e, "A SharedArrayBuffer");

    /* Remaining kinds are numbered for back-references. */
    if (seen_put(&e->seen, key, e->next_index++) < 0) {
        JS_ThrowOutOfMemory(ctx);
        return -1;
    }
    if (++e->depth > WIRE_MAX_DEPTH) {
        sb_throw_named(ctx, "DataCloneError",
                       "The value is nested more than %d levels deep (at value%s%s).",
                       WIRE_MAX_DEPTH, e->path, e->path_cut ? "..." : "");
        return -1;
    }
    int r;
    if (cid == cls_array) {
        r = enc_array(e, v);
    } else if (cid == cls_arraybuffer || cid == cls_dataview) {
        r = enc_bytes(e, v, cid);
    } else if (cid >= cls_typed[0] && cid <= cls_typed[10]) {
        r = enc_bytes(e, v, cid);
    } else if (cid == cls_map || cid == cls_set) {
        JSValue flat;
        if (call_api(e, cid == cls_map ? "mapEntries" : "setValues", v, &flat) < 0) return -1;
        /* The flat list is built by sandbox code whose built-ins the
         * sandbox may have replaced (Array.prototype.push): an odd count
         * for a Map would make a message that no decoder accepts. */
        int64_t n = 0;
        if (!JS_IsArray(ctx, flat) || sb_length(ctx, flat, &n) < 0 ||
            (cid == cls_map && n % 2 != 0)) {
            JS_FreeValue(ctx, flat);
            if (JS_HasException(ctx)) return -1;
            return enc_fail(e, cid == cls_map ? "A Map (its entries could not be read)"
                                              : "A Set (its values could not be read)");
        }
        if (!enc_fits(e, n)) {
            JS_FreeValue(ctx, flat);
            return -1;
        }
        r = cid == cls_map ? wire_put_map_begin(&e->buf, (uint64_t)n / 2)
                           : wire_put_set_begin(&e->buf, (uint64_t)n);
        if (r == 0) r = enc_list(e, flat, (uint64_t)n);
        JS_FreeValue(ctx, flat);
    } else if (JS_IsError(ctx, v)) {
        r = enc_error(e, v);
    } else if (is_plain_object(e, v)) {
        r = enc_props(e, v, NULL);
    } else {
        JSValue is_target;
        if (call_api(e, "isRpcTarget", v, &is_target) < 0) return -1;
        int target = JS_ToBool(ctx, is_target);
        JS_FreeValue(ctx, is_target);
        if (target && e->sb->measuring) {
            r = wire_put_stub(&e->buf, 0);
        } else if (target) {
            uint64_t id = sb_add_export(e->sb, v);
            if (!id) return -1;
            int ci = add_cap(e, WIRE_CAP_EXPORT, 0, id);
            r = ci < 0 ? -1 : wire_put_stub(&e->buf, (uint64_t)ci);
        } else {
            JSValue kind;
            if (call_api(e, "uncloneableKind", v, &kind) < 0) return -1;
            if (JS_IsString(kind)) {
                const char *k = JS_ToCString(ctx, kind);
                char what[96];
                snprintf(what, sizeof what, "%s", k ? k : "An object");
                JS_FreeCString(ctx, k);
                JS_FreeValue(ctx, kind);
                return enc_fail(e, what);
            }
            JS_FreeValue(ctx, kind);
            r = enc_props(e, v, NULL);
        }
    }
    e->depth--;
    return r;
}

static int enc_value(struct enc *e, JSValueConst v) {
    int tag = JS_VALUE_GET_NORM_TAG(v);
    int r;
    switch (tag) {
    case JS_TAG_UNDEFINED: r = wire_put_undefined(&e->buf); break;
    case JS_TAG_NULL: r = wire_put_null(&e->buf); break;
    case JS_TAG_BOOL: r = wire_put_bool(&e->buf, JS_VALUE_GET_BOOL(v)); break;
    case JS_TAG_INT: r = wire_put_number(&e->buf, JS_VALUE_GET_INT(v)); break;
    case JS_TAG_FLOAT64: r = wire_put_number(&e->buf, JS_VALUE_GET_FLOAT64(v)); break;
    case JS_TAG_STRING: return enc_string(e, v) < 0 ? (e->buf.status ? -2 : -1) : 0;
    case JS_TAG_SHORT_BIG_INT:
    case JS_TAG_BIG_INT: return enc_bigint(e, v);
    case JS_TAG_SYMBOL: return enc_fail(e, "A Symbol");
    case JS_TAG_OBJECT: return enc_object(e, v);
    default: return enc_fail(e, "A value of an unknown kind");
    }
    return r;
}

/* A call's arguments, encoded as the array they would make, without
 * building that array in the sandbox: numbered for back-references and
 * nested one level, as enc_object numbers and nests an array. */
struct arg_list {
    int argc;
    JSValueConst *argv;
};

static int enc_arg_list(struct enc *e, const struct arg_list *a) {
    e->next_index++;
    e->depth++;
    if (wire_put_array_begin(&e->buf, (uint64_t)a->argc) < 0) return -1;
    for (int i = 0; i < a->argc; i++) {
        size_t saved = e->path_len;
        path_push_index(e, (uint64_t)i);
        int r = enc_value(e, a->argv[i]);
        e->path_len = saved;
        e->path[saved] = 0;
        if (r < 0) return -1;
    }
    e->depth--;
    return 0;
}

static uint8_t *encode(struct sandbox *sb, JSValueConst v, const struct arg_list *args,
                       uint64_t limit, const char *limit_name, size_t *len, struct wire_cap **caps,
                       size_t *cap_count) {
    struct enc e;
    memset(&e, 0, sizeof e);
    e.sb = sb;
    e.ctx = sb->ctx;
    e.limit_name = limit_name;
    wire_buf_init(&e.buf, limit ? (size_t)limit : 0);
    int r = wire_put_header(&e.buf);
    if (r == 0) r = args ? enc_arg_list(&e, args) : enc_value(&e, v);
    if (r == 0 && e.buf.status) r = e.buf.status;
    free(e.seen.keys);
    free(e.seen.vals);
    if (r < 0 || e.buf.status) {
        if (!JS_HasException(sb->ctx)) {
            if (e.buf.status == WIRE_ERR_TOO_LARGE)
                sb_throw_named(sb->ctx, limit_name ? limit_name : "DataCloneError",
                               "The value is larger than the %s limit of %llu bytes.",
                               limit_name && strcmp(limit_name, "ResultSizeLimitError") == 0
                                   ? "result size"
                                   : "argument size",
                               (unsigned long long)limit);
            else if (e.buf.status == WIRE_ERR_NOMEM)
                JS_ThrowOutOfMemory(sb->ctx);
            else
                sb_throw_named(sb->ctx, "DataCloneError", "The value could not be cloned: %s",
                               wire_status_message(e.buf.status ? e.buf.status : r));
        }
        wire_buf_free(&e.buf);
        free(e.caps);
        return NULL;
    }
    *caps = e.caps;
    *cap_count = e.cap_count;
    return wire_buf_take(&e.buf, len);
}

uint8_t *sb_encode(struct sandbox *sb, JSValueConst v, uint64_t limit, const char *limit_name,
                   size_t *len, struct wire_cap **caps, size_t *cap_count) {
    return encode(sb, v, NULL, limit, limit_name, len, caps, cap_count);
}

uint8_t *sb_encode_args(struct sandbox *sb, int argc, JSValueConst *argv, uint64_t limit,
                        const char *limit_name, size_t *len, struct wire_cap **caps,
                        size_t *cap_count) {
    struct arg_list a = {argc < 0 ? 0 : argc, argv};
    return encode(sb, JS_UNDEFINED, &a, limit, limit_name, len, caps, cap_count);
}

/* ---- decoding ------------------------------------------------------------ */

enum frame_kind { F_ARRAY, F_OBJECT, F_MAP, F_SET, F_ERROR, F_ERROR_PROPS };

struct frame {
    enum frame_kind kind;
    JSValue obj;
    uint64_t index;     /* next array index */
    JSAtom key;         /* pending object key */
    JSValue map_key;    /* pending map key */
    int has_map_key;
};

/* Most payloads are shallow and hold few objects (a call's arguments), so
 * the frame stack and the numbered objects start inside the decoder, which
 * lives on the C stack, and move to the heap only when a payload needs more. */
#define DEC_INLINE 8
#define DEC_MAX_FRAMES (WIRE_MAX_DEPTH + 2)

struct dec {
    struct sandbox *sb;
    JSContext *ctx;
    struct frame *stack;
    size_t stack_cap;
    int depth;
    JSValue *objs;      /* numbered objects, for back-references */
    size_t obj_count, obj_cap;
    JSValue result;
    int has_result;
    const uint64_t *caps;
    size_t cap_count;
    JSValue map_set, set_add; /* the runtime's, fetched when a Map or Set first appears */
    struct frame inline_stack[DEC_INLINE];
    JSValue inline_objs[DEC_INLINE];
};

/* Grows one of the decoder's arrays, moving it off the C stack the first
 * time. */
static void *dec_grow(void *items, const void *inline_items, size_t *cap, size_t max,
                      size_t item_size) {
    size_t ncap = *cap * 4 < max ? *cap * 4 : max;
    void *n;
    if (items == inline_items) {
        n = malloc(ncap * item_size);
        if (n) memcpy(n, items, *cap * item_size);
    } else {
        n = realloc(items, ncap * item_size);
    }
    if (n) *cap = ncap;
    return n;
}

static JSValue dec_api_fn(struct dec *d, JSValue *slot, const char *name) {
    if (JS_IsUndefined(*slot)) *slot = JS_GetPropertyStr(d->ctx, d->sb->api, name);
    return *slot;
}

static int remember(struct dec *d, JSValueConst v) {
    if (d->obj_count == d->obj_cap) {
        JSValue *n = dec_grow(d->objs, d->inline_objs, &d->obj_cap, SIZE_MAX / sizeof *n,
                              sizeof *n);
        if (!n) return -1;
        d->objs = n;
    }
    d->objs[d->obj_count++] = JS_DupValue(d->ctx, v);
    return 0;
}

/* Places a finished value into its container (or as the result). Takes v. */
static int place(struct dec *d, JSValue v) {
    if (d->depth == 0) {
        d->result = v;
        d->has_result = 1;
        return 0;
    }
    struct frame *f = &d->stack[d->depth - 1];
    int r = 0;
    switch (f->kind) {
    case F_ARRAY:
        r = JS_DefinePropertyValueUint32(d->ctx, f->obj, (uint32_t)f->index++, v, JS_PROP_C_W_E);
        break;
    case F_OBJECT:
    case F_ERROR_PROPS:
        if (f->key == JS_ATOM_NULL) {
            JS_FreeValue(d->ctx, v);
            return -1;
        }
        r = JS_DefinePropertyValue(d->ctx, f->obj, f->key, v, JS_PROP_C_W_E);
        JS_FreeAtom(d->ctx, f->key);
        f->key = JS_ATOM_NULL;
        break;
    case F_MAP:
        if (!f->has_map_key) {
            f->map_key = v;
            f->has_map_key = 1;
            return 0;
        } else {
            JSValue args[2] = {f->map_key, v};
            JSValue res = JS_Call(d->ctx, dec_api_fn(d, &d->map_set, "mapSet"), f->obj, 2, args);
            JS_FreeValue(d->ctx, f->map_key);
            JS_FreeValue(d->ctx, v);
            f->has_map_key = 0;
            r = JS_IsException(res) ? -1 : 0;
            JS_FreeValue(d->ctx, res);
        }
        break;
    case F_SET: {
        JSValue res =
            JS_Call(d->ctx, dec_api_fn(d, &d->set_add, "setAdd"), f->obj, 1, (JSValueConst *)&v);
        JS_FreeValue(d->ctx, v);
        r = JS_IsException(res) ? -1 : 0;
        JS_FreeValue(d->ctx, res);
        break;
    }
    case F_ERROR:
        JS_FreeValue(d->ctx, v);
        return -1;
    }
    return r < 0 ? -1 : 0;
}

static int push(struct dec *d, enum frame_kind kind, JSValue obj) {
    if (d->depth >= WIRE_MAX_DEPTH + 1) {
        JS_FreeValue(d->ctx, obj);
        return -1;
    }
    if (kind != F_ERROR_PROPS && remember(d, obj) < 0) {
        JS_FreeValue(d->ctx, obj);
        return -1;
    }
    if ((size_t)d->depth == d->stack_cap) {
        struct frame *n = dec_grow(d->stack, d->inline_stack, &d->stack_cap, DEC_MAX_FRAMES,
                                   sizeof *n);
        if (!n) {
            JS_FreeValue(d->ctx, obj);
            return -1;
        }
        d->stack = n;
    }
    struct frame *f = &d->stack[d->depth++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->obj = obj;
    f->key = JS_ATOM_NULL;
    return 0;
}

static int pop(struct dec *d) {
    if (d->depth == 0) return -1;
    struct frame *f = &d->stack[--d->depth];
    if (f->has_map_key) JS_FreeValue(d->ctx, f->map_key);
    if (f->key != JS_ATOM_NULL) JS_FreeAtom(d->ctx, f->key);
    return place(d, f->obj);
}

static int v_undefined(void *ud) { return place(ud, JS_UNDEFINED); }
static int v_null(void *ud) { return place(ud, JS_NULL); }
static int v_bool(void *ud, int b) { return place(ud, JS_NewBool(((struct dec *)ud)->ctx, b)); }
static int v_number(void *ud, double n) { return place(ud, JS_NewFloat64(((struct dec *)ud)->ctx, n)); }

static int v_bigint(void *ud, int neg, const uint8_t *mag, size_t len) {
    struct dec *d = ud;
    char *hex = malloc(len * 2 + 4);
    if (!hex) return -1;
    size_t o = 0;
    if (neg) hex[o++] = '-';
    hex[o++] = '0';
    hex[o++] = 'x';
    static const char digits[] = "0123456789abcdef";
    if (len == 0) hex[o++] = '0';
    for (size_t i = len; i-- > 0;) {
        hex[o++] = digits[mag[i] >> 4];
        hex[o++] = digits[mag[i] & 15];
    }
    JSValue s = JS_NewStringLen(d->ctx, hex, o);
    free(hex);
    JSValue f = JS_GetPropertyStr(d->ctx, d->sb->api, "bigintFromHex");
    JSValue v = JS_Call(d->ctx, f, JS_UNDEFINED, 1, (JSValueConst *)&s);
    JS_FreeValue(d->ctx, f);
    JS_FreeValue(d->ctx, s);
    if (JS_IsException(v)) return -1;
    return place(d, v);
}

static int v_string(void *ud, const char *s, size_t len) {
    struct dec *d = ud;
    JSValue v = JS_NewStringLen(d->ctx, s, len);
    return JS_IsException(v) ? -1 : place(d, v);
}

static int v_date(void *ud, double ms) {
    struct dec *d = ud;
    JSValue v = JS_NewDate(d->ctx, ms);
    return JS_IsException(v) ? -1 : place(d, v);
}

static int v_regexp(void *ud, const char *src, size_t sl, const char *flags, size_t fl) {
    struct dec *d = ud;
    JSValue args[2] = {JS_NewStringLen(d->ctx, src, sl), JS_NewStringLen(d->ctx, flags, fl)};
    JSValue ctor = JS_GetPropertyStr(d->ctx, d->sb->api, "RegExp");
    JSValue v = JS_CallConstructor(d->ctx, ctor, 2, (JSValueConst *)args);
    JS_FreeValue(d->ctx, ctor);
    JS_FreeValue(d->ctx, args[0]);
    JS_FreeValue(d->ctx, args[1]);
    return JS_IsException(v) ? -1 : place(d, v);
}

static int v_array_begin(void *ud, uint64_t n) {
    struct dec *d = ud;
    JSValue a = JS_NewArray(d->ctx);
    if (JS_IsException(a)) return -1;
    if (n && JS_SetPropertyStr(d->ctx, a, "length", JS_NewInt64(d->ctx, (int64_t)n)) < 0) {
        JS_FreeValue(d->ctx, a);
        return -1;
    }
    return push(d, F_ARRAY, a);
}

static int v_hole(void *ud) {
    struct dec *d = ud;
    d->stack[d->depth - 1].index++;
    return 0;
}

static int v_end(void *ud) { return pop(ud); }

static int v_object_begin(void *ud, uint64_t n) {
    struct dec *d = ud;
    if (d->depth > 0 && d->stack[d->depth - 1].kind == F_ERROR) {
        /* The extra-props object of an error: props go onto the error itself. */
        struct frame *f = &d->stack[d->depth - 1];
        f->kind = F_ERROR_PROPS;
        return remember(d, f->obj);
    }
    JSValue o = JS_NewObject(d->ctx);
    return JS_IsException(o) ? -1 : push(d, F_OBJECT, o);
}

static int v_object_end(void *ud) {
    struct dec *d = ud;
    if (d->depth > 0 && d->stack[d->depth - 1].kind == F_ERROR_PROPS) {
        d->stack[d->depth - 1].kind = F_ERROR; /* error_end finishes it */
        return 0;
    }
    return pop(d);
}

static int v_key(void *ud, const char *s, size_t len) {
    struct dec *d = ud;
    struct frame *f = &d->stack[d->depth - 1];
    if (f->key != JS_ATOM_NULL) JS_FreeAtom(d->ctx, f->key);
    JSValue str = JS_NewStringLen(d->ctx, s, len);
    if (JS_IsException(str)) return -1;
    f->key = JS_ValueToAtom(d->ctx, str);
    JS_FreeValue(d->ctx, str);
    return f->key == JS_ATOM_NULL ? -1 : 0;
}

static int v_map_begin(void *ud, uint64_t n) {
    struct dec *d = ud;
    JSValue ctor = JS_GetPropertyStr(d->ctx, d->sb->api, "Map");
    JSValue m = JS_CallConstructor(d->ctx, ctor, 0, NULL);
    JS_FreeValue(d->ctx, ctor);
    return JS_IsException(m) ? -1 : push(d, F_MAP, m);
}

static int v_set_begin(void *ud, uint64_t n) {
    struct dec *d = ud;
    JSValue ctor = JS_GetPropertyStr(d->ctx, d->sb->api, "Set");
    JSValue m = JS_CallConstructor(d->ctx, ctor, 0, NULL);
    JS_FreeValue(d->ctx, ctor);
    return JS_IsException(m) ? -1 : push(d, F_SET, m);
}

static int v_bytes(void *ud, enum wire_bytes_kind kind, const uint8_t *p, size_t len) {
    struct dec *d = ud;
    JSValue ab = JS_NewArrayBufferCopy(d->ctx, p, len);
    if (JS_IsException(ab)) return -1;
    JSValue v = ab;
    if (kind != WIRE_BYTES_ARRAYBUFFER) {
        JSValue f = JS_GetPropertyStr(d->ctx, d->sb->api, "makeView");
        JSValue args[2] = {JS_NewInt32(d->ctx, (int)kind), ab};
        v = JS_Call(d->ctx, f, JS_UNDEFINED, 2, (JSValueConst *)args);
        JS_FreeValue(d->ctx, f);
        JS_FreeValue(d->ctx, ab);
        if (JS_IsException(v)) return -1;
    }
    if (remember(d, v) < 0) {
        JS_FreeValue(d->ctx, v);
        return -1;
    }
    return place(d, v);
}

static int v_error_begin(void *ud, const char *name, size_t nl, const char *msg, size_t ml,
                         const char *stack, size_t sl) {
    struct dec *d = ud;
    JSValue f = JS_GetPropertyStr(d->ctx, d->sb->api, "makeError");
    JSValue args[3] = {JS_NewStringLen(d->ctx, name, nl), JS_NewStringLen(d->ctx, msg, ml),
                       stack ? JS_NewStringLen(d->ctx, stack, sl) : JS_UNDEFINED};
    JSValue e = JS_Call(d->ctx, f, JS_UNDEFINED, 3, (JSValueConst *)args);
    JS_FreeValue(d->ctx, f);
    for (int i = 0; i < 3; i++) JS_FreeValue(d->ctx, args[i]);
    return JS_IsException(e) ? -1 : push(d, F_ERROR, e);
}

static int v_backref(void *ud, uint64_t index) {
    struct dec *d = ud;
    if (index >= d->obj_count) return -1;
    return place(d, JS_DupValue(d->ctx, d->objs[index]));
}

static int v_stub(void *ud, uint64_t cap) {
    struct dec *d = ud;
    if (cap >= d->cap_count) return -1;
    uint8_t flags = d->sb->host->import_flags(d->sb->host_data, d->sb, d->caps[cap]);
    JSValue s = sb_new_stub(d->sb, d->caps[cap], flags);
    return JS_IsException(s) ? -1 : place(d, s);
}

static const struct wire_visitor js_builder = {
    .undefined_ = v_undefined, .null_ = v_null, .boolean = v_bool, .number = v_number,
    .bigint = v_bigint, .string = v_string, .date = v_date, .regexp = v_regexp,
    .array_begin = v_array_begin, .hole = v_hole, .array_end = v_end,
    .object_begin = v_object_begin, .key = v_key, .object_end = v_object_end,
    .map_begin = v_map_begin, .map_end = v_end, .set_begin = v_set_begin, .set_end = v_end,
    .bytes = v_bytes, .error_begin = v_error_begin, .error_end = v_end, .backref = v_backref,
    .stub = v_stub,
};

JSValue sb_decode(struct sandbox *sb, const uint8_t *p, size_t len, const uint64_t *caps,
                  size_t cap_count) {
    struct dec dec_on_stack;
    struct dec *d = &dec_on_stack;
    d->sb = sb;
    d->ctx = sb->ctx;
    d->stack = d->inline_stack;
    d->stack_cap = DEC_INLINE;
    d->depth = 0;
    d->objs = d->inline_objs;
    d->obj_count = 0;
    d->obj_cap = DEC_INLINE;
    d->has_result = 0;
    d->caps = caps;
    d->cap_count = cap_count;
    d->map_set = d->set_add = JS_UNDEFINED;
    struct wire_limits lim = {.max_depth = WIRE_MAX_DEPTH, .cap_count = cap_count};
    size_t at = 0;
    int r = wire_decode(p, len, &lim, &js_builder, d, &at);
    JSValue out;
    if (r == WIRE_OK && d->has_result) {
        out = d->result;
    } else {
        while (d->depth > 0) {
            struct frame *f = &d->stack[--d->depth];
            if (f->has_map_key) JS_FreeValue(d->ctx, f->map_key);
            if (f->key != JS_ATOM_NULL) JS_FreeAtom(d->ctx, f->key);
            JS_FreeValue(d->ctx, f->obj);
        }
        if (d->has_result) JS_FreeValue(d->ctx, d->result);
        if (!JS_HasException(sb->ctx))
            sb_throw_named(sb->ctx, "DataCloneError", "A message could not be decoded: %s at byte %zu",
                           wire_status_message(r == WIRE_OK ? WIRE_ERR_MALFORMED : r), at);
        out = JS_EXCEPTION;
    }
    for (size_t i = 0; i < d->obj_count; i++) JS_FreeValue(d->ctx, d->objs[i]);
    if (d->objs != d->inline_objs) free(d->objs);
    if (d->stack != d->inline_stack) free(d->stack);
    JS_FreeValue(d->ctx, d->map_set);
    JS_FreeValue(d->ctx, d->set_add);
    return out;
}
