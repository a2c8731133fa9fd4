/* WorkerCode storage and validation, following the reference's section 1.2
 * and 1.3 word for word where it pins error strings (callers compare them).
 * Validation is ordered as workerd orders it: module map first (it is the
 * most common mistake), then sizes, then compatibility settings.
 */
#include "engine/workercode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const struct wc_flag_info wc_known_flags[] = {
    {"nodejs_compat", NULL, 0,
     "accepted for compatibility with Workers code; corral has no Node.js built-in modules yet, "
     "so importing `node:*` still fails with a clear error"},
    {"nodejs_compat_v2", "no_nodejs_compat_v2", 0, "as nodejs_compat"},
    {"no_nodejs_compat_v2", "nodejs_compat_v2", 0, "as nodejs_compat"},
    {"global_navigator", "no_global_navigator", 0, "`navigator` is defined (the default)"},
    {"no_global_navigator", "global_navigator", 0, "`navigator` is not defined"},
    {"experimental", NULL, 1, "allows other experimental flags in this worker's children"},
    {"streaming_tail_worker", NULL, 1, "accepted; streaming tails are not delivered yet"},
};
const size_t wc_known_flag_count = sizeof wc_known_flags / sizeof wc_known_flags[0];

void corral_error_set(corral_error *err, int status, const char *name, const char *fmt, ...) {
    if (!err) return;
    err->status = status;
    snprintf(err->name, sizeof err->name, "%s", name);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof err->message) memcpy(err->message + sizeof err->message - 4, "...", 4);
}

void wc_today_utc(char buf[11]) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
             tm.tm_mday % 100);
    memcpy(buf, tmp, 10);
    buf[10] = 0;
}

struct workercode *wc_new(void) {
    struct workercode *c = calloc(1, sizeof *c);
    return c;
}

void wc_free(struct workercode *c) {
    if (!c) return;
    free(c->compat_date);
    for (size_t i = 0; i < c->flag_count; i++) free(c->flags[i]);
    free(c->flags);
    free(c->main_module);
    for (size_t i = 0; i < c->module_count; i++) {
        free(c->modules[i].name);
        free(c->modules[i].source);
    }
    free(c->modules);
    free(c->env);
    free(c->env_caps);
    for (size_t i = 0; i < c->binding_count; i++) {
        free(c->bindings[i].name);
        if (c->bindings[i].cap) corral_capability_release(c->bindings[i].cap);
    }
    free(c->bindings);
    free(c->tenant);
    free(c);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void *dup_bytes(const void *p, size_t n) {
    void *q = malloc(n ? n : 1);
    if (q && n) memcpy(q, p, n);
    return q;
}

/* Declared in the public header's implementation (loader); capabilities are
 * reference-counted objects of the layer above, touched only through it. */
void corral_capability_retain_internal(corral_capability *c);

struct workercode *wc_clone(const struct workercode *c) {
    struct workercode *n = wc_new();
    if (!n) return NULL;
    n->compat_date = dup_or_null(c->compat_date);
    n->allow_experimental = c->allow_experimental;
    n->main_module = dup_or_null(c->main_module);
    for (size_t i = 0; i < c->flag_count; i++)
        if (wc_add_flag(n, c->flags[i], strlen(c->flags[i])) < 0) goto fail;
    for (size_t i = 0; i < c->module_count; i++) {
        const struct wc_module *m = &c->modules[i];
        if (wc_add_module(n, m->name, strlen(m->name), m->type, m->source, m->len) < 0) goto fail;
    }
    n->nul_module_name = c->nul_module_name;
    if (c->env) {
        n->env = dup_bytes(c->env, c->env_len);
        n->env_len = c->env_len;
        n->env_size = c->env_size;
    }
    if (c->env_cap_count) {
        n->env_caps = dup_bytes(c->env_caps, c->env_cap_count * sizeof *c->env_caps);
        n->env_cap_count = c->env_cap_count;
    }
    if (c->binding_count) {
        n->bindings = calloc(c->binding_count, sizeof *n->bindings);
        if (!n->bindings) goto fail;
        for (size_t i = 0; i < c->binding_count; i++) {
            n->bindings[i].name = strdup(c->bindings[i].name);
            n->bindings[i].is_loader = c->bindings[i].is_loader;
            n->bindings[i].cap = c->bindings[i].cap;
            if (n->bindings[i].cap) corral_capability_retain_internal(n->bindings[i].cap);
            n->binding_count++;
        }
    }
    n->outbound = c->outbound;
    n->tail_count = c->tail_count;
    n->limits = c->limits;
    n->tenant = dup_or_null(c->tenant);
    if ((c->compat_date && !n->compat_date) || (c->main_module && !n->main_module)) goto fail;
    return n;
fail:
    wc_free(n);
    return NULL;
}

/* name with each NUL written as \u0000, for an error message. */
static char *escape_nul(const char *name, size_t len) {
    size_t nuls = 0;
    for (size_t i = 0; i < len; i++) nuls += name[i] == 0;
    char *out = malloc(len + nuls * 5 + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < len; i++) {
        if (name[i]) {
            *o++ = name[i];
        } else {
            memcpy(o, "\\u0000", 6);
            o += 6;
        }
    }
    *o = 0;
    return out;
}

int wc_add_module(struct workercode *c, const char *name, size_t name_len, corral_module_type type,
                  const void *src, size_t len) {
    struct wc_module *m = realloc(c->modules, (c->module_count + 1) * sizeof *m);
    if (!m) return -1;
    c->modules = m;
    m = &c->modules[c->module_count];
    if (memchr(name, 0, name_len)) {
        if (!c->nul_module_name) c->nul_module_name = c->module_count + 1;
        m->name = escape_nul(name, name_len);
    } else {
        m->name = strndup(name, name_len);
    }
    m->source = malloc(len + 1);
    if (!m->name || !m->source) {
        free(m->name);
        free(m->source);
        return -1;
    }
    if (len) memcpy(m->source, src, len);
    m->source[len] = 0;
    m->len = len;
    m->type = type;
    c->module_count++;
    return 0;
}

int wc_add_flag(struct workercode *c, const char *flag, size_t len) {
    char **f = realloc(c->flags, (c->flag_count + 1) * sizeof *f);
    if (!f) return -1;
    c->flags = f;
    if (!(f[c->flag_count] = strndup(flag, len))) return -1;
    c->flag_count++;
    return 0;
}

int wc_has_flag(const struct workercode *c, const char *flag) {
    for (size_t i = 0; i < c->flag_count; i++)
        if (strcmp(c->flags[i], flag) == 0) return 1;
    return 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static int is_python_main(const struct workercode *c) {
    return c->main_module && ends_with(c->main_module, ".py");
}

static int infer_types(struct workercode *c, corral_error *err) {
    for (size_t i = 0; i < c->module_count; i++) {
        struct wc_module *m = &c->modules[i];
        if (m->type != CORRAL_MODULE_INFER) continue;
        if (ends_with(m->name, ".js")) {
            m->type = CORRAL_MODULE_JS;
        } else if (ends_with(m->name, ".py")) {
            m->type = CORRAL_MODULE_PY;
        } else if (is_python_main(c) && strncmp(m->name, "python_modules/", 15) == 0) {
            m->type = CORRAL_MODULE_TEXT;
        } else if (ends_with(m->name, ".ts") || ends_with(m->name, ".tsx") ||
                   ends_with(m->name, ".jsx")) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError",
                             "Module name must end with '.js' or '.py' (or the content must be an "
                             "object indicating the type explicitly). Got: %s. If you're trying to "
                             "load TypeScript, bundle it first with '@cloudflare/worker-bundler' and "
                             "pass the generated JavaScript modules.",
                             m->name);
            return -1;
        } else {
            corral_error_set(err, CORRAL_EINVAL, "TypeError",
                             "Module name must end with '.js' or '.py' (or the content must be an "
                             "object indicating the type explicitly). Got: %s",
                             m->name);
            return -1;
        }
    }
    return 0;
}

static int parse_date(const char *s, int *y, int *m, int *d) {
    /* YYYY-MM-DD exactly: workerd's parser accepts nothing else. */
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return -1;
    *y = atoi(s);
    *m = atoi(s + 5);
    *d = atoi(s + 8);
    if (*y < 2000 || *y > 2999 || *m < 1 || *m > 12 || *d < 1 || *d > 31) return -1;
    return 0;
}

static int validate_date(const struct workercode *c, const char *today, corral_error *err) {
    int y, m, d;
    if (!c->compat_date) {
        corral_error_set(err, CORRAL_EINVAL, "TypeError",
                         "WorkerCode is missing the required field 'compatibilityDate'.");
        return -1;
    }
    if (parse_date(c->compat_date, &y, &m, &d) < 0) {
        corral_error_set(err, CORRAL_EINVAL, "Error", "Invalid compatibility date: %s",
                         c->compat_date);
        return -1;
    }
    /* Zero-padded ISO dates compare correctly as strings. */
    if (strcmp(c->compat_date, CORRAL_COMPAT_DATE_MAX) > 0 && strcmp(c->compat_date, today) <= 0) {
        corral_error_set(err, CORRAL_EINVAL, "Error",
                         "This Worker requires compatibility date \"%s\", but the newest date "
                         "supported by this server binary is \"%s\".",
                         c->compat_date, CORRAL_COMPAT_DATE_MAX);
        return -1;
    }
    if (strcmp(c->compat_date, today) > 0) {
        corral_error_set(err, CORRAL_EINVAL, "Error",
                         "Can't set compatibility date in the future: \"%s\". Today's date (UTC) "
                         "is \"%s\".",
                         c->compat_date, today);
        return -1;
    }
    return 0;
}

static const struct wc_flag_info *find_flag(const char *name) {
    for (size_t i = 0; i < wc_known_flag_count; i++)
        if (strcmp(wc_known_flags[i].name, name) == 0) return &wc_known_flags[i];
    return NULL;
}

static int validate_flags(const struct workercode *c, corral_error *err) {
    for (size_t i = 0; i < c->flag_count; i++) {
        const struct wc_flag_info *f = find_flag(c->flags[i]);
        if (!f) {
            corral_error_set(err, CORRAL_EINVAL, "Error", "No such compatibility flag: %s",
                             c->flags[i]);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->flags[i], c->flags[j]) == 0) {
                corral_error_set(err, CORRAL_EINVAL, "Error",
                                 "Compatibility flag specified multiple times: %s", c->flags[i]);
                return -1;
            }
            if (f->opposite && strcmp(f->opposite, c->flags[j]) == 0) {
                corral_error_set(err, CORRAL_EINVAL, "Error",
                                 "Compatibility flags are mutually contradictory: %s vs %s",
                                 c->flags[j], c->flags[i]);
                return -1;
            }
        }
        if (f->experimental && !c->allow_experimental) {
            corral_error_set(err, CORRAL_EINVAL, "Error",
                             "The compatibility flag %s is experimental and cannot yet be used "
                             "without 'allowExperimental: true'.",
                             c->flags[i]);
            return -1;
        }
    }
    return 0;
}

int wc_validate(struct workercode *c, const corral_limits *limits, const char *today,
                corral_error *err) {
    if (c->module_count == 0) {
        corral_error_set(err, CORRAL_EINVAL, "TypeError",
                         "Dynamic Worker code must contain at least one module.");
        return -1;
    }
    if (!c->main_module) {
        corral_error_set(err, CORRAL_EINVAL, "TypeError",
                         "WorkerCode is missing the required field 'mainModule'.");
        return -1;
    }
    if (c->nul_module_name && c->nul_module_name <= c->module_count) {
        corral_error_set(err, CORRAL_EINVAL, "TypeError",
                         "Module name must not contain the NUL character. Got: %s",
                         c->modules[c->nul_module_name - 1].name);
        return -1;
    }
    if (infer_types(c, err) < 0) return -1;
    uint64_t total = 0;
    for (size_t i = 0; i < c->module_count; i++) {
        const struct wc_module *m = &c->modules[i];
        total += m->len;
        if (m->type == CORRAL_MODULE_PY) {
            if (!is_python_main(c)) {
                corral_error_set(err, CORRAL_EINVAL, "TypeError",
                                 "Module \"%s\" is a Python module, but the main module isn't a "
                                 "Python module.",
                                 m->name);
                return -1;
            }
            corral_error_set(err, CORRAL_EINVAL, "TypeError",
                             "Module \"%s\": Python modules are not supported yet by corral.",
                             m->name);
            return -1;
        }
        if (m->type == CORRAL_MODULE_WASM) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError",
                             "Module \"%s\": WebAssembly modules are not supported yet by corral.",
                             m->name);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->modules[j].name, m->name) == 0) {
                corral_error_set(err, CORRAL_EINVAL, "TypeError",
                                 "Module \"%s\" is given more than once.", m->name);
                return -1;
            }
        }
    }
    if (is_python_main(c)) {
        corral_error_set(err, CORRAL_EINVAL, "TypeError",
                         "Main module \"%s\": Python workers are not supported yet by corral.",
                         c->main_module);
        return -1;
    }
    if (total > limits->module_bytes) {
        corral_error_set(err, CORRAL_ELIMIT, "Error",
                         "Dynamic Worker code size (%llu bytes) exceeds the maximum allowed size "
                         "of %llu bytes.",
                         (unsigned long long)total, (unsigned long long)limits->module_bytes);
        return -1;
    }
    if (c->env_size > limits->env_bytes) {
        corral_error_set(err, CORRAL_ELIMIT, "Error",
                         "Dynamic Worker env size (%llu bytes) exceeds the maximum allowed size "
                         "of %llu bytes.",
                         (unsigned long long)c->env_size, (unsigned long long)limits->env_bytes);
        return -1;
    }
    if (validate_date(c, today, err) < 0) return -1;
    if (validate_flags(c, err) < 0) return -1;
    return 0;
}
