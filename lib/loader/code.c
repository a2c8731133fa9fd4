/* Building WorkerCode from C: the corral_code_* functions of the public
 * API, and corral_code_from_json() for hosts (and the CLI) that hold a
 * WorkerCode as JSON. Only shape is checked here; the loader validates
 * semantics (types, sizes, dates, flags) in corral_load() with the same
 * validator sandboxes use.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "engine/workercode.h"
#include "loader/code.h"
#include "wire/wire.h"

corral_code *corral_code_new(void) {
    corral_code *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->wc = wc_new();
    c->env = json_object();
    if (!c->wc || !c->env) {
        corral_code_free(c);
        return NULL;
    }
    return c;
}

void corral_code_free(corral_code *c) {
    if (!c) return;
    wc_free(c->wc);
    json_decref(c->env);
    free(c);
}

static int set_str(char **slot, const char *v) {
    char *n = v ? strdup(v) : NULL;
    if (v && !n) return CORRAL_ENOMEM;
    free(*slot);
    *slot = n;
    return CORRAL_OK;
}

int corral_code_set_compatibility_date(corral_code *c, const char *date) {
    return set_str(&c->wc->compat_date, date);
}

int corral_code_add_compatibility_flag(corral_code *c, const char *flag) {
    return flag && wc_add_flag(c->wc, flag, strlen(flag)) == 0 ? CORRAL_OK : CORRAL_EINVAL;
}

int corral_code_set_main_module(corral_code *c, const char *name) {
    return set_str(&c->wc->main_module, name);
}

int corral_code_set_tenant(corral_code *c, const char *tenant) {
    return set_str(&c->wc->tenant, tenant);
}

int corral_code_add_module(corral_code *c, const char *name, corral_module_type type,
                           const void *source, size_t len) {
    if (!name || (!source && len)) return CORRAL_EINVAL;
    return wc_add_module(c->wc, name, strlen(name), type, source ? source : "", len) == 0
               ? CORRAL_OK
               : CORRAL_ENOMEM;
}

int corral_code_set_env_json(corral_code *c, const char *json, size_t len, corral_error *err) {
    json_error_t je;
    json_t *v = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!v || !json_is_object(v)) {
        json_decref(v);
        corral_error_set(err, CORRAL_EINVAL, "TypeError",
                         "env must be a JSON object (%s at line %d, column %d).",
                         v ? "not an object" : je.text, je.line, je.column);
        return CORRAL_EINVAL;
    }
    json_decref(c->env);
    c->env = v;
    return CORRAL_OK;
}

static int add_binding(corral_code *c, const char *name, corral_capability *cap, int is_loader) {
    if (!name || !*name) return CORRAL_EINVAL;
    struct wc_binding *b = realloc(c->wc->bindings, (c->wc->binding_count + 1) * sizeof *b);
    if (!b) return CORRAL_ENOMEM;
    c->wc->bindings = b;
    b = &b[c->wc->binding_count];
    b->name = strdup(name);
    b->is_loader = is_loader;
    b->cap = cap;
    if (cap) corral_capability_retain_internal(cap);
    c->wc->binding_count++;
    return CORRAL_OK;
}

int corral_code_bind_capability(corral_code *c, const char *name, corral_capability *cap) {
    return cap ? add_binding(c, name, cap, 0) : CORRAL_EINVAL;
}

int corral_code_bind_loader(corral_code *c, const char *name) {
    return add_binding(c, name, NULL, 1);
}

void corral_code_set_outbound(corral_code *c, corral_outbound mode) {
    c->wc->outbound = mode == CORRAL_OUTBOUND_HOST ? WC_OUTBOUND_HOST : WC_OUTBOUND_BLOCK;
}

void corral_code_set_limits(corral_code *c, const corral_limits *limits) {
    c->wc->limits = *limits;
}

static int module_from_json(corral_code *c, const char *name, json_t *v, corral_error *err) {
    if (json_is_string(v))
        return corral_code_add_module(c, name, CORRAL_MODULE_INFER, json_string_value(v),
                                      json_string_length(v));
    if (!json_is_object(v) || json_object_size(v) != 1) {
        corral_error_set(err, CORRAL_EINVAL, "TypeError",
                         "Each module must contain exactly one of 'js', 'cjs', 'text', 'data', "
                         "'json', 'py', or 'wasm'. Module '%s' contained %zu properties.",
                         name, json_is_object(v) ? json_object_size(v) : 0);
        return CORRAL_EINVAL;
    }
    const char *k = json_object_iter_key(json_object_iter(v));
    json_t *val = json_object_iter_value(json_object_iter(v));
    static const struct { const char *k; corral_module_type t; } kinds[] = {
        {"js", CORRAL_MODULE_JS},     {"cjs", CORRAL_MODULE_CJS},   {"text", CORRAL_MODULE_TEXT},
        {"data", CORRAL_MODULE_DATA}, {"json", CORRAL_MODULE_JSON}, {"py", CORRAL_MODULE_PY},
        {"wasm", CORRAL_MODULE_WASM}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(k, kinds[i].k) != 0) continue;
        if (kinds[i].t == CORRAL_MODULE_JSON) {
            char *text = json_dumps(val, JSON_ENCODE_ANY | JSON_COMPACT);
            int r = text ? corral_code_add_module(c, name, CORRAL_MODULE_JSON, text, strlen(text))
                         : CORRAL_ENOMEM;
            free(text);
            return r;
        }
        if (kinds[i].t == CORRAL_MODULE_DATA) {
            uint8_t *bytes = NULL;
            size_t n = 0;
            if (json_is_string(val)) {
                bytes = wire_base64_decode(json_string_value(val), json_string_length(val), &n);
            } else if (json_is_array(val)) {
                n = json_array_size(val);
                bytes = malloc(n ? n : 1);
                for (size_t j = 0; bytes && j < n; j++) {
                    json_t *b = json_array_get(val, j);
                    if (!json_is_integer(b) || json_integer_value(b) < 0 ||
                        json_integer_value(b) > 255) {
                        free(bytes);
                        corral_error_set(err, CORRAL_EINVAL, "TypeError",
                                         "Module '%s': 'data' byte %zu is not an integer from 0 to "
                                         "255.",
                                         name, j);
                        return CORRAL_EINVAL;
                    }
                    bytes[j] = (uint8_t)json_integer_value(b);
                }
            }
            if (!bytes) {
                corral_error_set(err, CORRAL_EINVAL, "TypeError",
                                 "Module '%s': 'data' must be base64 text or an array of bytes.",
                                 name);
                return CORRAL_EINVAL;
            }
            int r = corral_code_add_module(c, name, CORRAL_MODULE_DATA, bytes, n);
            free(bytes);
            return r;
        }
        if (!json_is_string(val) && kinds[i].t != CORRAL_MODULE_WASM) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError", "Module '%s': '%s' must be a string.",
                             name, k);
            return CORRAL_EINVAL;
        }
        return corral_code_add_module(c, name, kinds[i].t,
                                      json_is_string(val) ? json_string_value(val) : "",
                                      json_is_string(val) ? json_string_length(val) : 0);
    }
    corral_error_set(err, CORRAL_EINVAL, "TypeError",
                     "Each module must contain exactly one of 'js', 'cjs', 'text', 'data', "
                     "'json', 'py', or 'wasm'. Module '%s' contained 1 properties.",
                     name);
    return CORRAL_EINVAL;
}

corral_code *corral_code_from_json(const char *json, size_t len, corral_error *err) {
    json_error_t je;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        corral_error_set(err, CORRAL_EINVAL, "TypeError",
                         "WorkerCode must be a JSON object (%s at line %d, column %d).",
                         o ? "not an object" : je.text, je.line, je.column);
        json_decref(o);
        return NULL;
    }
    corral_code *c = corral_code_new();
    if (!c) {
        json_decref(o);
        return NULL;
    }
    json_t *v;
    if ((v = json_object_get(o, "compatibilityDate")) && json_is_string(v))
        corral_code_set_compatibility_date(c, json_string_value(v));
    if ((v = json_object_get(o, "mainModule")) && json_is_string(v))
        corral_code_set_main_module(c, json_string_value(v));
    if ((v = json_object_get(o, "allowExperimental"))) c->wc->allow_experimental = json_is_true(v);
    if ((v = json_object_get(o, "tenant")) && json_is_string(v))
        set_str(&c->wc->tenant, json_string_value(v));
    json_t *flags = json_object_get(o, "compatibilityFlags");
    size_t i;
    json_array_foreach(flags, i, v) {
        if (!json_is_string(v)) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError",
                             "WorkerCode.compatibilityFlags must be an array of strings.");
            goto fail;
        }
        corral_code_add_compatibility_flag(c, json_string_value(v));
    }
    json_t *mods = json_object_get(o, "modules");
    const char *key;
    json_object_foreach(mods, key, v) {
        if (module_from_json(c, key, v, err) != CORRAL_OK) goto fail;
    }
    if ((v = json_object_get(o, "env"))) {
        if (!json_is_object(v)) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError", "WorkerCode.env must be an object.");
            goto fail;
        }
        json_decref(c->env);
        c->env = json_incref(v);
    }
    if ((v = json_object_get(o, "globalOutbound")) && json_is_null(v))
        c->wc->outbound = WC_OUTBOUND_BLOCK;
    json_t *lim = json_object_get(o, "limits");
    if (json_is_object(lim)) {
        if ((v = json_object_get(lim, "cpuMs")) && json_is_number(v))
            c->wc->limits.cpu_ms = (uint64_t)json_number_value(v);
        if ((v = json_object_get(lim, "subRequests")) && json_is_number(v))
            c->wc->limits.subrequests = (uint64_t)json_number_value(v);
        if ((v = json_object_get(lim, "wallMs")) && json_is_number(v))
            c->wc->limits.wall_ms = (uint64_t)json_number_value(v);
        if ((v = json_object_get(lim, "memoryMb")) && json_is_number(v))
            c->wc->limits.memory_bytes = (uint64_t)json_number_value(v) << 20;
        if ((v = json_object_get(lim, "calls")) && json_is_number(v))
            c->wc->limits.calls = (uint64_t)json_number_value(v);
    }
    json_decref(o);
    return c;
fail:
    json_decref(o);
    corral_code_free(c);
    return NULL;
}
