/* The `native` table: every function the built-in JavaScript (the js/web parts,
 * js/runtime.js) may call into C. It is handed to the installers once and
 * kept only in their closures, never on a global, so user code cannot call
 * these directly; each entry is still written as if it could be (arguments
 * are checked, nothing trusts a JavaScript value's shape).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "engine/natives.h"


static struct sandbox *SB(JSContext *ctx) { return JS_GetContextOpaque(ctx); }

static double now_ms(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static JSValue n_log(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = SB(ctx);
    static const char *levels[] = {"debug", "info", "log", "warn", "error"};
    const char *lv = argc > 0 ? JS_ToCString(ctx, argv[0]) : NULL;
    corral_log_level level = CORRAL_LOG_LOG;
    for (int i = 0; lv && i < 5; i++)
        if (strcmp(lv, levels[i]) == 0) level = (corral_log_level)i;
    JS_FreeCString(ctx, lv);
    size_t len;
    const char *text = argc > 1 ? JS_ToCStringLen(ctx, &len, argv[1]) : NULL;
    if (!text) return JS_EXCEPTION;
    sb->host->log(sb->host_data, sb, level, text, len);
    JS_FreeCString(ctx, text);
    return JS_UNDEFINED;
}

static JSValue n_random_fill(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    size_t off, len, bpe;
    JSValue ab = JS_GetTypedArrayBuffer(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, &off, &len, &bpe);
    if (JS_IsException(ab)) return ab;
    size_t ablen;
    uint8_t *p = JS_GetArrayBuffer(ctx, &ablen, ab);
    JS_FreeValue(ctx, ab);
    if (!p || off > ablen || len > ablen - off)
        return JS_ThrowTypeError(ctx, "getRandomValues: the array is detached");
    if (len > 65536) return JS_ThrowRangeError(ctx, "getRandomValues: more than 65536 bytes");
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom(p + off + done, len - done, 0);
        if (n <= 0) return JS_ThrowInternalError(ctx, "the system random source failed");
        done += (size_t)n;
    }
    return JS_UNDEFINED;
}

static JSValue n_time_origin(JSContext *ctx, JSValueConst this_val) {
    ENGINE_UNSAFE_SCOPE();
    return JS_NewFloat64(ctx, SB(ctx)->time_origin_ms);
}

/* Math.random: xorshift128+ over the sandbox's own state; 53 random bits
 * make a double in [0, 1). */
static JSValue n_math_random(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    uint64_t *st = SB(ctx)->random_state;
    uint64_t x = st[0];
    const uint64_t y = st[1];
    st[0] = y;
    x ^= x << 23;
    st[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
    return JS_NewFloat64(ctx, (double)((st[1] + y) >> 11) * 0x1.0p-53);
}

void sb_reset_clocks_and_seed(struct sandbox *sb) {
    sb->start_mono_ms = now_ms(CLOCK_MONOTONIC);
    sb->time_origin_ms = now_ms(CLOCK_REALTIME);
    uint64_t seed[2] = {0, 0};
    size_t done = 0;
    while (done < sizeof seed) {
        ssize_t n = getrandom((uint8_t *)seed + done, sizeof seed - done, 0);
        if (n <= 0) break;
        done += (size_t)n;
    }
    /* Without the system source (never seen), the clocks still differ per
     * sandbox; the state must not be all zero. */
    if (done < sizeof seed) seed[0] ^= (uint64_t)(sb->start_mono_ms * 1e6) ^ (uint64_t)(uintptr_t)sb;
    sb->random_state[0] = seed[0] | 1;
    sb->random_state[1] = seed[1];
}

int sb_install_math_random(struct sandbox *sb) {
    JSContext *ctx = sb->ctx;
    JSValue global = JS_GetGlobalObject(ctx);
    JSValue math = JS_GetPropertyStr(ctx, global, "Math");
    JS_FreeValue(ctx, global);
    if (!JS_IsObject(math)) {
        JS_FreeValue(ctx, math);
        return -1;
    }
    JSValue fn = JS_NewCFunction(ctx, n_math_random, "random", 0);
    int rc = JS_IsException(fn) ? -1
                                : JS_DefinePropertyValueStr(ctx, math, "random", fn,
                                                            JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
    JS_FreeValue(ctx, math);
    return rc < 0 ? -1 : 0;
}

static JSValue n_now(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    return JS_NewFloat64(ctx, now_ms(CLOCK_MONOTONIC) - SB(ctx)->start_mono_ms);
}

static JSValue n_set_timer(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    if (argc < 1 || !JS_IsFunction(ctx, argv[0]))
        return JS_ThrowTypeError(ctx, "The timer callback must be a function.");
    double delay = 0;
    if (argc > 1 && JS_ToFloat64(ctx, &delay, argv[1]) < 0) return JS_EXCEPTION;
    if (!isfinite(delay) || delay < 0) delay = 0;
    if (delay > 2147483647.0) delay = 2147483647.0;
    return sb_timer_set(SB(ctx), argv[0], delay, argc > 2 && JS_ToBool(ctx, argv[2]));
}

static JSValue n_clear_timer(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    double id = 0;
    if (argc > 0 && JS_ToFloat64(ctx, &id, argv[0]) < 0) return JS_EXCEPTION;
    if (id >= 1) sb_timer_clear(SB(ctx), (uint64_t)id);
    return JS_UNDEFINED;
}

static JSValue n_fetch(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    JSValue req = JS_NewObject(ctx);
    static const char *names[] = {"method", "url", "headers", "body"};
    for (int i = 0; i < 4; i++)
        JS_SetPropertyStr(ctx, req, names[i],
                          i < argc ? JS_DupValue(ctx, argv[i]) : JS_NULL);
    JSValue r = sb_fetch(SB(ctx), req);
    JS_FreeValue(ctx, req);
    return r;
}

static JSValue n_clone(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = SB(ctx);
    size_t len, ncaps;
    struct wire_cap *caps;
    sb->no_stubs = 1;
    uint8_t *p = sb_encode(sb, argc > 0 ? argv[0] : JS_UNDEFINED, sb->arg_bytes,
                           "DataCloneError", &len, &caps, &ncaps);
    sb->no_stubs = 0;
    if (!p) return JS_EXCEPTION;
    JSValue v = sb_decode(sb, p, len, NULL, 0);
    free(p);
    free(caps);
    return v;
}

/* TextEncoder: QuickJS hands out WTF-8; the web wants lone surrogates as
 * U+FFFD, which is the same length, so the bytes are patched in place. */
static JSValue n_utf8_encode(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    size_t len;
    const char *s = JS_ToCStringLen(ctx, &len, argc > 0 ? argv[0] : JS_UNDEFINED);
    if (!s) return JS_EXCEPTION;
    JSValue ab = JS_NewArrayBufferCopy(ctx, (const uint8_t *)s, len);
    JS_FreeCString(ctx, s);
    if (JS_IsException(ab)) return ab;
    size_t n;
    uint8_t *p = JS_GetArrayBuffer(ctx, &n, ab);
    for (size_t i = 0; p && i + 2 < n; i++) {
        if (p[i] == 0xED && (p[i + 1] & 0xE0) == 0xA0) {
            p[i] = 0xEF;
            p[i + 1] = 0xBF;
            p[i + 2] = 0xBD;
            i += 2;
        }
    }
    JSValue targs[3] = {ab, JS_NewInt32(ctx, 0), JS_NewInt64(ctx, (int64_t)n)};
    JSValue u8 = JS_NewTypedArray(ctx, 3, targs, JS_TYPED_ARRAY_UINT8);
    JS_FreeValue(ctx, ab);
    return u8;
}

/* TextDecoder: a strict UTF-8 decoder that replaces each maximal invalid
 * subpart with U+FFFD (the WHATWG rule), or throws when fatal. */
static JSValue n_utf8_decode(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    size_t off = 0, len = 0, bpe;
    const uint8_t *p;
    JSValue ab = JS_GetTypedArrayBuffer(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, &off, &len, &bpe);
    size_t ablen;
    if (JS_IsException(ab)) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        p = JS_GetArrayBuffer(ctx, &ablen, argc > 0 ? argv[0] : JS_UNDEFINED);
        if (!p && ablen == 0) {
            if (JS_HasException(ctx)) JS_FreeValue(ctx, JS_GetException(ctx));
            return JS_ThrowTypeError(ctx, "utf8Decode: expected bytes");
        }
        off = 0;
        len = ablen;
    } else {
        p = JS_GetArrayBuffer(ctx, &ablen, ab);
        JS_FreeValue(ctx, ab);
        if (!p || off > ablen || len > ablen - off) return JS_NewString(ctx, "");
    }
    p += off;
    int fatal = argc > 1 && JS_ToBool(ctx, argv[1]);
    uint8_t *out = malloc(len * 3 + 1);
    if (!out) return JS_ThrowOutOfMemory(ctx);
    size_t o = 0, i = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c < 0x80) {
            out[o++] = c;
            i++;
            continue;
        }
        int need;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else need = -1;
        size_t j = i + 1;
        int good = need > 0;
        for (int k = 0; good && k < need; k++, j++) {
            if (j >= len || p[j] < (k == 0 ? lo : 0x80) || p[j] > (k == 0 ? hi : 0xBF)) {
                good = 0;
                break;
            }
        }
        if (good) {
            memcpy(out + o, p + i, (size_t)need + 1);
            o += (size_t)need + 1;
            i += (size_t)need + 1;
        } else {
            if (fatal) {
                free(out);
                return JS_ThrowTypeError(ctx, "The encoded data was not valid.");
            }
            out[o++] = 0xEF;
            out[o++] = 0xBF;
            out[o++] = 0xBD;
            i = need > 0 ? j : i + 1;
            if (i == j && j == i) {
                /* j stops at the first byte that broke the sequence */
            }
        }
    }
    JSValue s = JS_NewStringLen(ctx, (const char *)out, o);
    free(out);
    return s;
}

static JSValue n_raw_call(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    uint64_t index;
    uint8_t flags;
    if (argc < 3 || !sb_stub_info(argv[0], &index, &flags))
        return JS_ThrowTypeError(ctx, "rawCall: not a stub");
    const char *method = JS_ToCString(ctx, argv[1]);
    if (!method) return JS_EXCEPTION;
    int64_t n = 0;
    sb_length(ctx, argv[2], &n);
    if (n > 64) n = 64;
    JSValue items[64];
    for (int64_t i = 0; i < n; i++) items[i] = JS_GetPropertyUint32(ctx, argv[2], i);
    JSValue r = sb_rpc_call(SB(ctx), index, method, (int)n, items);
    for (int64_t i = 0; i < n; i++) JS_FreeValue(ctx, items[i]);
    JS_FreeCString(ctx, method);
    return r;
}

static JSValue throw_error(JSContext *ctx, const corral_error *err) {
    return sb_throw_named(ctx, err->name[0] ? err->name : "Error", "%s", err->message);
}

static JSValue entrypoint_stub(JSContext *ctx, uint64_t handle, JSValueConst name_v,
                               JSValueConst props, JSValueConst limits_v) {
    struct sandbox *sb = SB(ctx);
    const char *name = JS_ToCString(ctx, name_v);
    if (!name) return JS_EXCEPTION;
    uint8_t *payload = NULL;
    size_t len = 0, ncaps = 0;
    struct wire_cap *caps = NULL;
    if (!JS_IsUndefined(props)) {
        payload = sb_encode(sb, props, sb->arg_bytes, "ArgumentSizeLimitError", &len, &caps, &ncaps);
        if (!payload) {
            JS_FreeCString(ctx, name);
            return JS_EXCEPTION;
        }
    }
    corral_limits lim;
    memset(&lim, 0, sizeof lim);
    if (JS_IsObject(limits_v)) {
        JSValue c = JS_GetPropertyStr(ctx, limits_v, "cpuMs");
        JSValue s = JS_GetPropertyStr(ctx, limits_v, "subRequests");
        double d;
        if (!JS_IsUndefined(c) && JS_ToFloat64(ctx, &d, c) == 0 && d > 0) lim.cpu_ms = (uint64_t)d;
        if (!JS_IsUndefined(s) && JS_ToFloat64(ctx, &d, s) == 0 && d > 0) lim.subrequests = (uint64_t)d;
        JS_FreeValue(ctx, c);
        JS_FreeValue(ctx, s);
    }
    corral_error err = {0};
    uint8_t flags = 0;
    int64_t idx = sb->host->entrypoint(sb->host_data, sb, handle, name, payload, len, caps, ncaps,
                                       &lim, &flags, &err);
    JS_FreeCString(ctx, name);
    free(payload);
    free(caps);
    if (idx < 0) return throw_error(ctx, &err);
    return sb_new_stub(sb, (uint64_t)idx, flags);
}

static JSValue n_get_entrypoint(JSContext *ctx, JSValueConst this_val, int argc,
                                JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    double h;
    if (argc < 4 || JS_ToFloat64(ctx, &h, argv[0]) < 0) return JS_ThrowTypeError(ctx, "bad handle");
    return entrypoint_stub(ctx, (uint64_t)h, argv[1], argv[2], argv[3]);
}

static JSValue n_loopback(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    if (argc < 2) return JS_ThrowTypeError(ctx, "bad loopback");
    return entrypoint_stub(ctx, UINT64_MAX, argv[0], argv[1], JS_UNDEFINED);
}

static JSValue n_load(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = SB(ctx);
    corral_error err = {0};
    struct workercode *code = sb_workercode_from_js(sb, argc > 0 ? argv[0] : JS_UNDEFINED, &err);
    if (!code) return JS_HasException(ctx) ? JS_EXCEPTION : throw_error(ctx, &err);
    int64_t h = sb->host->load(sb->host_data, sb, code, &err);
    if (h < 0) return throw_error(ctx, &err);
    return JS_NewFloat64(ctx, (double)h);
}

static JSValue n_get(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = SB(ctx);
    const char *id = NULL;
    if (argc > 0 && !JS_IsNull(argv[0]) && !(id = JS_ToCString(ctx, argv[0]))) return JS_EXCEPTION;
    corral_error err = {0};
    int need = 0;
    int64_t h = sb->host->get(sb->host_data, sb, id, &need, &err);
    JS_FreeCString(ctx, id);
    if (h < 0) return throw_error(ctx, &err);
    JSValue r = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, r, "handle", JS_NewFloat64(ctx, (double)h));
    JS_SetPropertyStr(ctx, r, "needCode", JS_NewBool(ctx, need));
    return r;
}

static JSValue n_provide(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = SB(ctx);
    double h;
    if (argc < 2 || JS_ToFloat64(ctx, &h, argv[0]) < 0) return JS_ThrowTypeError(ctx, "bad handle");
    corral_error err = {0};
    struct workercode *code = sb_workercode_from_js(sb, argv[1], &err);
    if (!code) {
        if (JS_HasException(ctx)) {
            JSValue e = JS_GetException(ctx);
            JSValue n = JS_GetPropertyStr(ctx, e, "name");
            JSValue m = JS_GetPropertyStr(ctx, e, "message");
            const char *ns = JS_ToCString(ctx, n), *ms = JS_ToCString(ctx, m);
            corral_error_set(&err, CORRAL_EINVAL, ns ? ns : "Error", "%s", ms ? ms : "");
            JS_FreeCString(ctx, ns);
            JS_FreeCString(ctx, ms);
            JS_FreeValue(ctx, n);
            JS_FreeValue(ctx, m);
            JS_FreeValue(ctx, e);
        }
        sb->host->provide(sb->host_data, sb, (uint64_t)h, NULL, &err);
        return JS_UNDEFINED;
    }
    sb->host->provide(sb->host_data, sb, (uint64_t)h, code, NULL);
    return JS_UNDEFINED;
}

static JSValue n_provide_error(JSContext *ctx, JSValueConst this_val, int argc,
                               JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = SB(ctx);
    double h;
    if (argc < 2 || JS_ToFloat64(ctx, &h, argv[0]) < 0) return JS_ThrowTypeError(ctx, "bad handle");
    corral_error err = {0};
    const char *ns = NULL, *ms = NULL;
    JSValue n = JS_UNDEFINED, m = JS_UNDEFINED;
    if (JS_IsObject(argv[1])) {
        n = JS_GetPropertyStr(ctx, argv[1], "name");
        m = JS_GetPropertyStr(ctx, argv[1], "message");
        ns = JS_ToCString(ctx, n);
        ms = JS_ToCString(ctx, m);
    } else {
        ms = JS_ToCString(ctx, argv[1]);
    }
    corral_error_set(&err, CORRAL_EINVAL, ns ? ns : "Error", "%s", ms ? ms : "");
    JS_FreeCString(ctx, ns);
    JS_FreeCString(ctx, ms);
    JS_FreeValue(ctx, n);
    JS_FreeValue(ctx, m);
    sb->host->provide(sb->host_data, sb, (uint64_t)h, NULL, &err);
    return JS_UNDEFINED;
}

static JSValue wait_settled(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv,
                            int magic, JSValue *data) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = SB(ctx);
    double inv;
    JS_ToFloat64(ctx, &inv, data[0]);
    sb->host->wait_until(sb->host_data, sb, (uint64_t)inv, -1);
    return JS_UNDEFINED;
}

static JSValue n_wait_until(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = SB(ctx);
    if (argc < 2) return JS_UNDEFINED;
    double inv;
    if (JS_ToFloat64(ctx, &inv, argv[0]) < 0) return JS_EXCEPTION;
    sb->host->wait_until(sb->host_data, sb, (uint64_t)inv, +1);
    JSValue done = JS_NewCFunctionData(ctx, wait_settled, 1, 0, 1, argv);
    sb_when_settled(sb, argv[1], done, done, 0);
    JS_FreeValue(ctx, done);
    return JS_UNDEFINED;
}

static const JSCFunctionListEntry native_funcs[] = {
    JS_CFUNC_DEF("log", 2, n_log),
    JS_CFUNC_DEF("randomFill", 1, n_random_fill),
    JS_CFUNC_DEF("now", 0, n_now),
    JS_CFUNC_DEF("setTimer", 3, n_set_timer),
    JS_CFUNC_DEF("clearTimer", 1, n_clear_timer),
    JS_CFUNC_DEF("fetch", 4, n_fetch),
    JS_CFUNC_DEF("clone", 1, n_clone),
    JS_CFUNC_DEF("utf8Encode", 1, n_utf8_encode),
    JS_CFUNC_DEF("utf8Decode", 2, n_utf8_decode),
    JS_CFUNC_DEF("rawCall", 3, n_raw_call),
    JS_CFUNC_DEF("getEntrypoint", 4, n_get_entrypoint),
    JS_CFUNC_DEF("loopback", 2, n_loopback),
    JS_CFUNC_DEF("load", 1, n_load),
    JS_CFUNC_DEF("get", 1, n_get),
    JS_CFUNC_DEF("provide", 2, n_provide),
    JS_CFUNC_DEF("provideError", 2, n_provide_error),
    JS_CFUNC_DEF("waitUntil", 2, n_wait_until),
    JS_CGETSET_DEF("timeOrigin", n_time_origin, NULL),
};

JSValue sb_make_natives(struct sandbox *sb) {
    JSContext *ctx = sb->ctx;
    sb_reset_clocks_and_seed(sb);
    JSValue n = JS_NewObjectProto(ctx, JS_NULL);
    if (JS_IsException(n)) return n;
    JS_SetPropertyFunctionList(ctx, n, native_funcs,
                               sizeof native_funcs / sizeof native_funcs[0]);
    return n;
}
