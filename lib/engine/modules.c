/* The module map: how `import` and `require` find code inside a sandbox.
 *
 * Specifiers resolve only inside the WorkerCode's module map — relative
 * ones against the importing module's name, bare ones as exact keys — so
 * there is no file system to reach, however a name is spelled. A specifier
 * that resolves to nothing fails naming itself and its importer. Text, data
 * and JSON modules, and CommonJS modules imported from ES modules, are
 * synthetic modules whose default export is computed on first evaluation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/natives.h"

static const struct wc_module *find_module(struct sandbox *sb, const char *name) {
    if (!sb->code) return NULL;
    for (size_t i = 0; i < sb->code->module_count; i++)
        if (strcmp(sb->code->modules[i].name, name) == 0) return &sb->code->modules[i];
    return NULL;
}

/* Resolves `spec` against `base` (a module name). Returns a malloc'd name,
 * or NULL with *why set. */
static char *resolve(const char *base, const char *spec, const char **why) {
    if (strncmp(spec, "./", 2) != 0 && strncmp(spec, "../", 3) != 0 && strcmp(spec, ".") != 0 &&
        strcmp(spec, "..") != 0) {
        if (spec[0] == '/') {
            *why = "absolute paths are not module names";
            return NULL;
        }
        return strdup(spec);
    }
    size_t cap = strlen(base) + strlen(spec) + 2;
    char *out = malloc(cap);
    if (!out) return NULL;
    const char *slash = strrchr(base, '/');
    size_t n = slash ? (size_t)(slash - base) : 0;
    memcpy(out, base, n);
    out[n] = 0;
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t seg = end ? (size_t)(end - p) : strlen(p);
        if (seg == 1 && p[0] == '.') {
            /* stays */
        } else if (seg == 2 && p[0] == '.' && p[1] == '.') {
            if (n == 0) {
                free(out);
                *why = "it goes above the root of the module map";
                return NULL;
            }
            char *s = strrchr(out, '/');
            n = s ? (size_t)(s - out) : 0;
            out[n] = 0;
        } else if (seg > 0) {
            if (n > 0) out[n++] = '/';
            memcpy(out + n, p, seg);
            n += seg;
            out[n] = 0;
        }
        p += seg;
        if (*p == '/') p++;
    }
    return out;
}

static char *sb_normalize(JSContext *ctx, const char *base, const char *spec, void *opaque) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = opaque;
    if (strcmp(spec, "cloudflare:workers") == 0) {
        char *r = js_malloc(ctx, strlen(spec) + 1);
        if (r) strcpy(r, spec);
        return r;
    }
    if (strncmp(spec, "node:", 5) == 0) {
        sb_throw_named(ctx, "Error",
                       "No such module \"%s\" imported from \"%s\": corral has no Node.js built-in "
                       "modules yet.",
                       spec, base);
        return NULL;
    }
    const char *why = NULL;
    char *name = resolve(base, spec, &why);
    if (!name) {
        if (why)
            sb_throw_named(ctx, "Error", "Cannot import \"%s\" from \"%s\": %s.", spec, base, why);
        else
            JS_ThrowOutOfMemory(ctx);
        return NULL;
    }
    if (!find_module(sb, name)) {
        sb_throw_named(ctx, "Error", "No such module \"%s\" imported from \"%s\".", spec, base);
        free(name);
        return NULL;
    }
    char *r = js_malloc(ctx, strlen(name) + 1);
    if (r) strcpy(r, name);
    free(name);
    return r;
}

static JSValue require_module(struct sandbox *sb, const char *name);

static JSValue js_require(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv,
                          int magic, JSValue *data) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = JS_GetContextOpaque(ctx);
    const char *base = JS_ToCString(ctx, data[0]);
    const char *spec = argc > 0 ? JS_ToCString(ctx, argv[0]) : NULL;
    JSValue r = JS_EXCEPTION;
    if (!base || !spec) {
        if (base && !spec) JS_ThrowTypeError(ctx, "require() needs a module name");
        goto out;
    }
    char *name = sb_normalize(ctx, base, spec, sb);
    if (!name) goto out;
    r = require_module(sb, name);
    js_free(ctx, name);
out:
    JS_FreeCString(ctx, base);
    JS_FreeCString(ctx, spec);
    return r;
}

static JSValue module_value(struct sandbox *sb, const struct wc_module *m);

/* CommonJS: module.exports is cached before the body runs, so cycles see
 * the partial exports, as Node does. */
static JSValue require_module(struct sandbox *sb, const char *name) {
    JSContext *ctx = sb->ctx;
    const struct wc_module *m = find_module(sb, name);
    if (!m) return sb_throw_named(ctx, "Error", "No such module \"%s\".", name);
    if (m->type == CORRAL_MODULE_JS)
        return sb_throw_named(ctx, "Error",
                              "require() of ES module \"%s\" is not supported; use import.", name);
    return module_value(sb, m);
}

static JSValue run_cjs(struct sandbox *sb, const struct wc_module *m) {
    JSContext *ctx = sb->ctx;
    JSValue cached = JS_GetPropertyStr(ctx, sb->cjs_cache, m->name);
    if (!JS_IsUndefined(cached)) {
        JSValue ex = JS_GetPropertyStr(ctx, cached, "exports");
        JS_FreeValue(ctx, cached);
        return ex;
    }
    static const char head[] = "(function (exports, require, module, __filename, __dirname) {";
    static const char tail[] = "\n})";
    size_t len = sizeof head - 1 + m->len + sizeof tail - 1;
    char *src = malloc(len + 1);
    if (!src) return JS_ThrowOutOfMemory(ctx);
    memcpy(src, head, sizeof head - 1);
    memcpy(src + sizeof head - 1, m->source, m->len);
    memcpy(src + sizeof head - 1 + m->len, tail, sizeof tail);
    JSValue fn = JS_Eval(ctx, src, len, m->name, JS_EVAL_TYPE_GLOBAL);
    free(src);
    if (JS_IsException(fn)) return fn;
    JSValue module = JS_NewObject(ctx);
    JSValue exports = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, module, "exports", JS_DupValue(ctx, exports));
    JS_SetPropertyStr(ctx, sb->cjs_cache, m->name, JS_DupValue(ctx, module));
    JSValue name_v = JS_NewString(ctx, m->name);
    JSValue req = JS_NewCFunctionData(ctx, js_require, 1, 0, 1, (JSValueConst *)&name_v);
    const char *slash = strrchr(m->name, '/');
    JSValue dir = JS_NewStringLen(ctx, m->name, slash ? (size_t)(slash - m->name) : 0);
    JSValueConst args[5] = {exports, req, module, name_v, dir};
    JSValue r = ENGINE_JS(JS_Call(ctx, fn, JS_UNDEFINED, 5, args));
    JS_FreeValue(ctx, fn);
    JS_FreeValue(ctx, req);
    JS_FreeValue(ctx, name_v);
    JS_FreeValue(ctx, dir);
    JS_FreeValue(ctx, exports);
    if (JS_IsException(r)) {
        JS_FreeValue(ctx, module);
        return r;
    }
    JS_FreeValue(ctx, r);
    JSValue ex = JS_GetPropertyStr(ctx, module, "exports");
    JS_FreeValue(ctx, module);
    return ex;
}

static JSValue module_value(struct sandbox *sb, const struct wc_module *m) {
    JSContext *ctx = sb->ctx;
    switch (m->type) {
    case CORRAL_MODULE_TEXT: return JS_NewStringLen(ctx, (const char *)m->source, m->len);
    case CORRAL_MODULE_DATA: return JS_NewArrayBufferCopy(ctx, m->source, m->len);
    case CORRAL_MODULE_JSON: {
        JSValue v = JS_ParseJSON(ctx, (const char *)m->source, m->len, m->name);
        if (JS_IsException(v)) {
            /* Name the module: the parser's message alone says only what
             * token it did not expect. */
            JSValue e = JS_GetException(ctx);
            JSValue msg = JS_GetPropertyStr(ctx, e, "message");
            const char *s = JS_ToCString(ctx, msg);
            char buf[512];
            snprintf(buf, sizeof buf, "JSON module \"%s\" is not valid JSON: %s", m->name,
                     s ? s : "");
            JS_DefinePropertyValueStr(ctx, e, "message", JS_NewString(ctx, buf),
                                      JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
            JS_FreeCString(ctx, s);
            JS_FreeValue(ctx, msg);
            return JS_Throw(ctx, e);
        }
        return v;
    }
    case CORRAL_MODULE_CJS: return run_cjs(sb, m);
    default: return sb_throw_named(ctx, "Error", "Module \"%s\" has an unsupported type.", m->name);
    }
}

static int synthetic_init(JSContext *ctx, JSModuleDef *md) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = JS_GetContextOpaque(ctx);
    JSAtom a = JS_GetModuleName(ctx, md);
    const char *name = JS_AtomToCString(ctx, a);
    JS_FreeAtom(ctx, a);
    if (!name) return -1;
    const struct wc_module *m = find_module(sb, name);
    JSValue v = m ? module_value(sb, m) : JS_ThrowTypeError(ctx, "module vanished");
    JS_FreeCString(ctx, name);
    if (JS_IsException(v)) return -1;
    return JS_SetModuleExport(ctx, md, "default", v);
}

static int workers_init(JSContext *ctx, JSModuleDef *md) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = JS_GetContextOpaque(ctx);
    JSValue mod = JS_GetPropertyStr(ctx, sb->api, "workersModule");
    static const char *names[] = {"WorkerEntrypoint", "RpcTarget", "DurableObject"};
    for (int i = 0; i < 3; i++)
        JS_SetModuleExport(ctx, md, names[i], JS_GetPropertyStr(ctx, mod, names[i]));
    JS_SetModuleExport(ctx, md, "env", JS_DupValue(ctx, sb->env));
    JS_FreeValue(ctx, mod);
    return 0;
}

static JSModuleDef *sb_loader(JSContext *ctx, const char *name, void *opaque) {
    ENGINE_UNSAFE_SCOPE();
    struct sandbox *sb = opaque;
    if (strcmp(name, "cloudflare:workers") == 0) {
        JSModuleDef *md = JS_NewCModule(ctx, name, workers_init);
        if (!md) return NULL;
        JS_AddModuleExport(ctx, md, "WorkerEntrypoint");
        JS_AddModuleExport(ctx, md, "RpcTarget");
        JS_AddModuleExport(ctx, md, "DurableObject");
        JS_AddModuleExport(ctx, md, "env");
        return md;
    }
    const struct wc_module *m = find_module(sb, name);
    if (!m) {
        sb_throw_named(ctx, "Error", "No such module \"%s\".", name);
        return NULL;
    }
    if (m->type == CORRAL_MODULE_JS) {
        JSValue fn = sb_compile_module(ctx, m->name, m->source, m->len, 0);
        if (JS_IsException(fn)) return NULL;
        JSModuleDef *md = JS_VALUE_GET_PTR(fn);
        JS_FreeValue(ctx, fn);
        return md;
    }
    JSModuleDef *md = JS_NewCModule(ctx, name, synthetic_init);
    if (md) JS_AddModuleExport(ctx, md, "default");
    return md;
}

void sb_setup_modules(struct sandbox *sb) {
    sb->cjs_cache = JS_UNDEFINED;
    JS_SetModuleLoaderFunc(sb->rt, sb_normalize, sb_loader, sb);
}

void sb_free_modules(struct sandbox *sb) {
    JS_FreeValue(sb->ctx, sb->cjs_cache);
}

static JSValue api_call(struct sandbox *sb, const char *fn, int argc, JSValueConst *argv) {
    JSValue f = JS_GetPropertyStr(sb->ctx, sb->api, fn);
    JSValue r = JS_Call(sb->ctx, f, JS_UNDEFINED, argc, argv);
    JS_FreeValue(sb->ctx, f);
    return r;
}

static void fail_start(struct sandbox *sb, JSValue err) {
    JSValue p = api_call(sb, "startFailed", 1, (JSValueConst *)&err);
    JS_FreeValue(sb->ctx, err);
    JS_FreeValue(sb->ctx, sb->start_promise);
    sb->start_promise = p;
}

int sandbox_start(struct sandbox *sb, const struct workercode *code, const uint8_t *env,
                  size_t env_len, const uint64_t *env_caps, size_t env_cap_count) {
    JSContext *ctx = sb->ctx;
    sb->code = (struct workercode *)code;
    sb->cjs_cache = JS_NewObjectProto(ctx, JS_NULL);
    JS_UpdateStackTop(sb->rt);

    if (env && env_len) {
        /* The payload is [env, globalOutbound]; the outbound stub is the
         * router's business, not the worker's. */
        JSValue pair = sb_decode(sb, env, env_len, env_caps, env_cap_count);
        if (JS_IsException(pair)) {
            sb->env = JS_NewObject(ctx);
            fail_start(sb, JS_GetException(ctx));
            return -1;
        }
        sb->env = JS_GetPropertyUint32(ctx, pair, 0);
        JS_FreeValue(ctx, pair);
        if (!JS_IsObject(sb->env)) {
            JS_FreeValue(ctx, sb->env);
            sb->env = JS_NewObject(ctx);
        }
    } else {
        sb->env = JS_NewObject(ctx);
    }
    for (size_t i = 0; i < code->binding_count; i++) {
        if (!code->bindings[i].is_loader) continue;
        JSValue l = api_call(sb, "makeLoader", 0, NULL);
        JS_SetPropertyStr(ctx, sb->env, code->bindings[i].name, l);
    }
    if (wc_has_flag(code, "no_global_navigator")) {
        JSValue g = JS_GetGlobalObject(ctx);
        JSAtom a = JS_NewAtom(ctx, "navigator");
        JS_DeleteProperty(ctx, g, a, 0);
        JS_FreeAtom(ctx, a);
        JS_FreeValue(ctx, g);
    }

    const struct wc_module *main = find_module(sb, code->main_module);
    if (!main) {
        sb_throw_named(ctx, "Error", "No such module \"%s\": the mainModule is not in modules.",
                       code->main_module);
        fail_start(sb, JS_GetException(ctx));
        return -1;
    }
    if (main->type != CORRAL_MODULE_JS) {
        sb_throw_named(ctx, "TypeError", "The main module \"%s\" must be an ES module.",
                       code->main_module);
        fail_start(sb, JS_GetException(ctx));
        return -1;
    }
    JSValue fn = sb_compile_module(ctx, main->name, main->source, main->len, 1);
    if (JS_IsException(fn)) {
        fail_start(sb, JS_GetException(ctx));
        return -1;
    }
    JSModuleDef *md = JS_VALUE_GET_PTR(fn);
    JSValue done = ENGINE_JS(JS_EvalFunction(ctx, fn));
    if (JS_IsException(done)) {
        fail_start(sb, JS_GetException(ctx));
        return -1;
    }
    sb->ns = JS_GetModuleNamespace(ctx, md);
    JSValue args[2] = {done, sb->ns};
    sb->start_promise = api_call(sb, "startPromise", 2, args);
    JS_FreeValue(ctx, done);
    return sandbox_run_jobs(sb);
}
