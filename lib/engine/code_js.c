/* Reading a WorkerCode object that sandbox code passed to
 * `env.LOADER.load()` or returned from a `get()` factory, into the same
 * struct the C API builds, then validating it with the shared validator.
 * Field by field, with the reference's messages for shape errors; env and
 * globalOutbound go through the wire encoder so stubs in them become caps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/natives.h"

static int get_string(JSContext *ctx, JSValueConst obj, const char *field, char **out,
                      corral_error *err) {
    JSValue v = JS_GetPropertyStr(ctx, obj, field);
    if (JS_IsException(v)) return -1;
    if (JS_IsUndefined(v)) return 0;
    if (!JS_IsString(v)) {
        JS_FreeValue(ctx, v);
        corral_error_set(err, CORRAL_EINVAL, "TypeError", "WorkerCode.%s must be a string.", field);
        return -1;
    }
    size_t len;
    const char *s = JS_ToCStringLen(ctx, &len, v);
    JS_FreeValue(ctx, v);
    if (!s) return -1;
    if (memchr(s, 0, len)) {
        JS_FreeCString(ctx, s);
        corral_error_set(err, CORRAL_EINVAL, "TypeError",
                         "WorkerCode.%s must not contain the NUL character.", field);
        return -1;
    }
    *out = strdup(s);
    JS_FreeCString(ctx, s);
    return *out ? 0 : -1;
}

static int read_module(struct sandbox *sb, struct workercode *c, JSAtom key, JSValueConst val,
                       corral_error *err) {
    JSContext *ctx = sb->ctx;
    size_t nlen;
    JSValue kv = JS_AtomToString(ctx, key);
    const char *name = JS_ToCStringLen(ctx, &nlen, kv);
    JS_FreeValue(ctx, kv);
    if (!name) return -1;
    int r = -1;
    if (JS_IsString(val)) {
        size_t len;
        const char *src = JS_ToCStringLen(ctx, &len, val);
        if (src) r = wc_add_module(c, name, nlen, CORRAL_MODULE_INFER, src, len);
        JS_FreeCString(ctx, src);
        goto out;
    }
    if (!JS_IsObject(val)) {
        corral_error_set(err, CORRAL_EINVAL, "TypeError",
                         "Each module must contain exactly one of 'js', 'cjs', 'text', 'data', "
                         "'json', 'py', or 'wasm'. Module '%s' contained 0 properties.",
                         name);
        goto out;
    }
    JSPropertyEnum *tab;
    uint32_t n;
    if (JS_GetOwnPropertyNames(ctx, &tab, &n, val, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) < 0)
        goto out;
    for (uint32_t i = 0; i < n; i++) JS_FreeAtom(ctx, tab[i].atom);
    js_free(ctx, tab);
    static const struct { const char *field; corral_module_type type; } kinds[] = {
        {"js", CORRAL_MODULE_JS},     {"cjs", CORRAL_MODULE_CJS},   {"text", CORRAL_MODULE_TEXT},
        {"data", CORRAL_MODULE_DATA}, {"json", CORRAL_MODULE_JSON}, {"py", CORRAL_MODULE_PY},
        {"wasm", CORRAL_MODULE_WASM}};
    int found = -1, count = 0;
    for (int k = 0; k < 7; k++) {
        JSValue f = JS_GetPropertyStr(ctx, val, kinds[k].field);
        if (!JS_IsUndefined(f)) {
            count++;
            found = k;
        }
        JS_FreeValue(ctx, f);
    }
    if (count != 1 || n != 1) {
        corral_error_set(err, CORRAL_EINVAL, "TypeError",
                         "Each module must contain exactly one of 'js', 'cjs', 'text', 'data', "
                         "'json', 'py', or 'wasm'. Module '%s' contained %u properties.",
                         name, n);
        goto out;
    }
    JSValue f = JS_GetPropertyStr(ctx, val, kinds[found].field);
    corral_module_type type = kinds[found].type;
    if (type == CORRAL_MODULE_DATA) {
        size_t len, off = 0, blen, bpe;
        uint8_t *p = NULL;
        JSValue ab = JS_GetTypedArrayBuffer(ctx, f, &off, &blen, &bpe);
        if (!JS_IsException(ab)) {
            p = JS_GetArrayBuffer(ctx, &len, ab);
            JS_FreeValue(ctx, ab);
            if (p && off <= len && blen <= len - off) r = wc_add_module(c, name, nlen, type, p + off, blen);
        } else {
            JS_FreeValue(ctx, JS_GetException(ctx));
            p = JS_GetArrayBuffer(ctx, &len, f);
            if (p || len == 0) {
                if (JS_HasException(ctx)) JS_FreeValue(ctx, JS_GetException(ctx));
                if (p) r = wc_add_module(c, name, nlen, type, p, len);
            }
            if (!p) {
                if (JS_HasException(ctx)) JS_FreeValue(ctx, JS_GetException(ctx));
                corral_error_set(err, CORRAL_EINVAL, "TypeError",
                                 "Module '%s': 'data' must be an ArrayBuffer or ArrayBufferView.",
                                 name);
            }
        }
    } else if (type == CORRAL_MODULE_JSON) {
        JSValue s = JS_JSONStringify(ctx, f, JS_UNDEFINED, JS_UNDEFINED);
        if (JS_IsException(s)) {
            JS_FreeValue(ctx, f);
            goto out;
        }
        size_t len;
        const char *src = JS_IsUndefined(s) ? NULL : JS_ToCStringLen(ctx, &len, s);
        if (src) r = wc_add_module(c, name, nlen, type, src, len);
        else corral_error_set(err, CORRAL_EINVAL, "TypeError",
                              "Module '%s': 'json' must be a JSON-serialisable value.", name);
        JS_FreeCString(ctx, src);
        JS_FreeValue(ctx, s);
    } else if (type == CORRAL_MODULE_PY || type == CORRAL_MODULE_WASM || JS_IsString(f)) {
        size_t len = 0;
        const char *src = JS_IsString(f) ? JS_ToCStringLen(ctx, &len, f) : NULL;
        r = wc_add_module(c, name, nlen, type, src ? src : "", len);
        JS_FreeCString(ctx, src);
    } else {
        corral_error_set(err, CORRAL_EINVAL, "TypeError", "Module '%s': '%s' must be a string.",
                         name, kinds[found].field);
    }
    JS_FreeValue(ctx, f);
out:
    JS_FreeCString(ctx, name);
    return r;
}

static int read_limits(JSContext *ctx, JSValueConst obj, corral_limits *l) {
    JSValue v = JS_GetPropertyStr(ctx, obj, "limits");
    if (!JS_IsObject(v)) {
        JS_FreeValue(ctx, v);
        return 0;
    }
    static const struct { const char *name; size_t off; uint64_t scale; } fields[] = {
        {"cpuMs", offsetof(corral_limits, cpu_ms), 1},
        {"wallMs", offsetof(corral_limits, wall_ms), 1},
        {"memoryMb", offsetof(corral_limits, memory_bytes), 1024 * 1024},
        {"subRequests", offsetof(corral_limits, subrequests), 1},
        {"calls", offsetof(corral_limits, calls), 1}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        JSValue f = JS_GetPropertyStr(ctx, v, fields[i].name);
        double d;
        if (!JS_IsUndefined(f) && JS_ToFloat64(ctx, &d, f) == 0 && d > 0)
            *(uint64_t *)((char *)l + fields[i].off) = (uint64_t)d * fields[i].scale;
        JS_FreeValue(ctx, f);
    }
    JS_FreeValue(ctx, v);
    return 0;
}

/* env, globalOutbound and tails travel together as one payload
 * [env, outbound, tails], so a single cap list carries every stub in them
 * (the router finds the outbound's and the tails' caps at the end of it). */
static int read_env(struct sandbox *sb, JSValueConst obj, struct workercode *c,
                    corral_error *err) {
    JSContext *ctx = sb->ctx;
    JSValue env = JS_GetPropertyStr(ctx, obj, "env");
    JSValue ob = JS_GetPropertyStr(ctx, obj, "globalOutbound");
    JSValue tails = JS_GetPropertyStr(ctx, obj, "tails");
    JSValue st = JS_GetPropertyStr(ctx, obj, "streamingTails");
    int r = -1;
    JSAtom a = JS_NewAtom(ctx, "globalOutbound");
    int has_ob = JS_HasProperty(ctx, obj, a) > 0;
    JS_FreeAtom(ctx, a);
    uint64_t idx;
    uint8_t fl;
    if (JS_IsNull(ob)) {
        c->outbound = WC_OUTBOUND_BLOCK;
    } else if (!has_ob || JS_IsUndefined(ob)) {
        c->outbound = WC_OUTBOUND_DEFAULT;
    } else if (sb_stub_info(ob, &idx, &fl)) {
        c->outbound = WC_OUTBOUND_STUB;
    } else {
        corral_error_set(err, CORRAL_EINVAL, "TypeError",
                         "WorkerCode.globalOutbound must be null or a service stub with a "
                         "fetch() method (such as ctx.exports.Gateway()).");
        goto out;
    }
    /* tails: service stubs that receive each invocation's trace event. */
    int64_t ntails = 0;
    if (!JS_IsUndefined(tails)) {
        if (!JS_IsArray(ctx, tails) || sb_length(ctx, tails, &ntails) < 0) ntails = -1;
        for (int64_t i = 0; i < ntails; i++) {
            JSValue t = JS_GetPropertyUint32(ctx, tails, (uint32_t)i);
            if (!sb_stub_info(t, &idx, &fl)) ntails = -1;
            JS_FreeValue(ctx, t);
        }
        if (ntails < 0) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError",
                             "WorkerCode.tails must be an array of service stubs (such as "
                             "ctx.exports.Tail()).");
            goto out;
        }
    }
    int64_t nst = 0;
    if (JS_IsArray(ctx, st)) sb_length(ctx, st, &nst);
    if (nst > 0) {
        if (!c->allow_experimental)
            corral_error_set(err, CORRAL_EINVAL, "Error",
                             "Streaming tail workers are experimental. You must pass the option "
                             "'allowExperimental: true' to the worker loader to use them");
        else
            corral_error_set(err, CORRAL_EINVAL, "Error",
                             "Streaming tail workers are not supported yet by corral; use tails.");
        goto out;
    }
    c->tail_count = (size_t)ntails;
    size_t len, ncaps;
    struct wire_cap *caps;
    if (!JS_IsUndefined(env)) {
        /* The limit is on env alone, measured as it crosses (without the
         * version byte), not on the envelope that carries it. */
        sb->measuring = 1;
        uint8_t *ep = sb_encode(sb, env, sb->arg_bytes, "ArgumentSizeLimitError", &len, &caps,
                                &ncaps);
        sb->measuring = 0;
        if (!ep) goto out;
        c->env_size = len - 1;
        free(ep);
        free(caps);
    }
    if (!JS_IsUndefined(env) || c->outbound == WC_OUTBOUND_STUB || ntails > 0) {
        JSValue pair = JS_NewArray(ctx);
        JS_SetPropertyUint32(ctx, pair, 0, JS_IsUndefined(env) ? JS_NewObject(ctx) : JS_DupValue(ctx, env));
        JS_SetPropertyUint32(ctx, pair, 1, c->outbound == WC_OUTBOUND_STUB ? JS_DupValue(ctx, ob) : JS_NULL);
        JS_SetPropertyUint32(ctx, pair, 2, ntails > 0 ? JS_DupValue(ctx, tails) : JS_NewArray(ctx));
        uint8_t *p = sb_encode(sb, pair, sb->arg_bytes, "ArgumentSizeLimitError", &len, &caps, &ncaps);
        JS_FreeValue(ctx, pair);
        if (!p) goto out;
        c->env = p;
        c->env_len = len;
        c->env_caps = caps;
        c->env_cap_count = ncaps;
    }
    r = 0;
out:
    JS_FreeValue(ctx, env);
    JS_FreeValue(ctx, ob);
    JS_FreeValue(ctx, tails);
    JS_FreeValue(ctx, st);
    return r;
}

struct workercode *sb_workercode_from_js(struct sandbox *sb, JSValueConst obj, corral_error *err) {
    JSContext *ctx = sb->ctx;
    if (!JS_IsObject(obj)) {
        corral_error_set(err, CORRAL_EINVAL, "TypeError", "WorkerCode must be an object.");
        return NULL;
    }
    struct workercode *c = wc_new();
    if (!c) return NULL;
    if (get_string(ctx, obj, "compatibilityDate", &c->compat_date, err) < 0) goto fail;
    if (get_string(ctx, obj, "mainModule", &c->main_module, err) < 0) goto fail;
    if (get_string(ctx, obj, "tenant", &c->tenant, err) < 0) goto fail;
    JSValue ae = JS_GetPropertyStr(ctx, obj, "allowExperimental");
    c->allow_experimental = JS_ToBool(ctx, ae);
    JS_FreeValue(ctx, ae);
    if (c->allow_experimental && !(sb->code && wc_has_flag(sb->code, "experimental"))) {
        corral_error_set(err, CORRAL_EINVAL, "Error",
                         "'allowExperimental' is only allowed when the calling worker has the "
                         "'experimental' compat flag set.");
        goto fail;
    }
    JSValue flags = JS_GetPropertyStr(ctx, obj, "compatibilityFlags");
    if (!JS_IsUndefined(flags)) {
        int64_t n = 0;
        if (!JS_IsArray(ctx, flags) || sb_length(ctx, flags, &n) < 0) {
            JS_FreeValue(ctx, flags);
            corral_error_set(err, CORRAL_EINVAL, "TypeError",
                             "WorkerCode.compatibilityFlags must be an array of strings.");
            goto fail;
        }
        for (int64_t i = 0; i < n; i++) {
            JSValue f = JS_GetPropertyUint32(ctx, flags, i);
            size_t len;
            const char *s = JS_IsString(f) ? JS_ToCStringLen(ctx, &len, f) : NULL;
            JS_FreeValue(ctx, f);
            if (!s || wc_add_flag(c, s, len) < 0) {
                JS_FreeCString(ctx, s);
                JS_FreeValue(ctx, flags);
                corral_error_set(err, CORRAL_EINVAL, "TypeError",
                                 "WorkerCode.compatibilityFlags must be an array of strings.");
                goto fail;
            }
            JS_FreeCString(ctx, s);
        }
    }
    JS_FreeValue(ctx, flags);

    JSValue mods = JS_GetPropertyStr(ctx, obj, "modules");
    if (JS_IsObject(mods)) {
        JSPropertyEnum *tab;
        uint32_t n;
        if (JS_GetOwnPropertyNames(ctx, &tab, &n, mods, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) < 0) {
            JS_FreeValue(ctx, mods);
            goto fail;
        }
        int bad = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (!bad) {
                JSValue v = JS_GetProperty(ctx, mods, tab[i].atom);
                if (read_module(sb, c, tab[i].atom, v, err) < 0) bad = 1;
                JS_FreeValue(ctx, v);
            }
            JS_FreeAtom(ctx, tab[i].atom);
        }
        js_free(ctx, tab);
        if (bad) {
            JS_FreeValue(ctx, mods);
            goto fail;
        }
    } else if (!JS_IsUndefined(mods)) {
        JS_FreeValue(ctx, mods);
        corral_error_set(err, CORRAL_EINVAL, "TypeError", "WorkerCode.modules must be an object.");
        goto fail;
    }
    JS_FreeValue(ctx, mods);

    if (read_env(sb, obj, c, err) < 0) goto fail;
    read_limits(ctx, obj, &c->limits);

    if (wc_validate(c, &sb->limits, sb->today, err) < 0) goto fail;
    return c;
fail:
    wc_free(c);
    return NULL;
}

uint8_t *engine_error_payload(const char *name, const char *message, const char *stack,
                              size_t *len) {
    struct wire_buf b;
    wire_buf_init(&b, 0);
    wire_put_header(&b);
    wire_put_error_begin(&b, name, strlen(name), message, strlen(message), stack,
                         stack ? strlen(stack) : 0);
    wire_put_object_begin(&b, 0);
    if (b.status) {
        wire_buf_free(&b);
        return NULL;
    }
    return wire_buf_take(&b, len);
}

