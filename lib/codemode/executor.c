/* The Code Mode executor: one model-written program run in a fresh sandbox
 * against tool providers, as @cloudflare/codemode's DynamicWorkerExecutor
 * runs it, built only on libcorral's public API.
 *
 * The program is normalized (normalizeCode, with QuickJS deciding what
 * parses), wrapped into a worker module whose entrypoint evaluates it, and
 * loaded with no network. Each provider is a capability bound in env; the
 * module turns it into a global-like namespace whose tools are sanitized
 * names mapped back to the capability's methods. Provider names are checked
 * before anything runs; a bad name is reported through the same path as a
 * failed start (a worker whose code factory fails), so every answer comes
 * from the loop, and no sandbox is created for it. Unlike the reference,
 * CPU-bound programs are stopped by the CPU limit, a thrown non-Error is an
 * error naming the value, and console objects print readably.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codemode/codemode.h"
#include "corral.h"
#include "loader/code.h"

#define MAX_TOOLS 4096

struct corral_execution {
    corral_exec_fn done;
    void *userdata;
    char *error;            /* a validation error: reported by the factory */
    corral_worker *worker;  /* held until done, so the host can abort it */
    int cancelled;
    cm_log_fn on_log;
    void *log_ud;
};

static void relay_log(corral_log_level level, const char *text, size_t len, void *ud) {
    struct corral_execution *job = ud;
    job->on_log(level, text, len, job->log_ud);
}

static int parses(void *ud, const char *src, size_t len) { return corral_js_parses(src, len) == 1; }

static corral_code *failing_factory(void *ud, corral_error *err) {
    struct corral_execution *job = ud;
    snprintf(err->name, sizeof err->name, "Error");
    snprintf(err->message, sizeof err->message, "%s", job->error);
    return NULL;
}

static const char *level_prefix(corral_log_level l) {
    switch (l) {
    case CORRAL_LOG_WARN: return "[warn] ";
    case CORRAL_LOG_ERROR: return "[error] ";
    case CORRAL_LOG_INFO: return "[info] ";
    case CORRAL_LOG_DEBUG: return "[debug] ";
    default: return "";
    }
}

static char *truncated_json(const char *json) {
    json_error_t je;
    json_t *v = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v) return strdup(json);
    json_t *t = cm_truncate_result(v, NULL);
    char *out = t ? cm_json_stringify(t, 0) : NULL;
    json_decref(t);
    json_decref(v);
    return out ? out : strdup(json);
}

static void on_done(const corral_result *r, void *ud) {
    struct corral_execution *job = ud;
    corral_exec_result er;
    memset(&er, 0, sizeof er);
    char **logs = calloc(r->log_count ? r->log_count : 1, sizeof *logs);
    /* Lines and messages can hold what JavaScript strings may and UTF-8 may
     * not (a lone surrogate); every consumer prints them into JSON, which
     * would refuse the whole string, so they are repaired here once. */
    for (size_t i = 0; logs && i < r->log_count; i++) {
        char *text = cm_utf8_repair(r->logs[i].text);
        const char *p = level_prefix(r->logs[i].level);
        size_t n = strlen(p) + (text ? strlen(text) : 0) + 1;
        logs[i] = text ? malloc(n) : NULL;
        if (logs[i]) snprintf(logs[i], n, "%s%s", p, text);
        else logs[i] = strdup("");
        free(text);
    }
    char *error = NULL;
    char *result = NULL;
    if (r->outcome == CORRAL_OUTCOME_OK) {
        if (r->value_json) result = truncated_json(r->value_json);
        er.result_json = result;
    } else {
        error = cm_utf8_repair(r->error_message && r->error_message[0] ? r->error_message
                               : r->error_name                          ? r->error_name
                                                                        : "The program failed.");
        er.error = error ? error : "The program failed.";
    }
    er.log_count = logs ? r->log_count : 0;
    er.logs = (const char *const *)logs;
    er.cpu_ms = r->cpu_ms;
    er.wall_ms = r->wall_ms;
    corral_worker_release(job->worker);
    job->worker = NULL;
    job->done(&er, job->userdata);
    for (size_t i = 0; logs && i < r->log_count; i++) free(logs[i]);
    free(logs);
    free(result);
    free(error);
    free(job->error);
    free(job);
}

/* The tool map of one provider as a JSON object: sanitized name -> method. */
static char *tool_map(const char *const *tools, size_t n) {
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        char *safe = cm_sanitize_tool_name(tools[i]);
        if (safe) json_object_set_new(o, safe, json_string(tools[i]));
        free(safe);
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* The program's scaffolding, one module that is the same text for every
 * program run against the same tools, so the process compiles it once
 * and reads it from the compiled-module cache after that
 * (lib/engine/modcache.c): a function from env to the namespaces, raw
 * bindings and prelude names the program sees. */
#define SCOPE_MODULE "codemode-scope.js"

static char *scope_source(const corral_provider *providers, size_t n,
                          const char *const *const *tools, const size_t *tool_counts,
                          const struct cm_exec_opts *opts) {
    cm_buf b = {0};
    cm_buf_puts(&b,
                "const __corral_tools__ = (stub, map) => new Proxy(Object.create(null), {\n"
                "  get(_, k) {\n"
                "    if (typeof k !== \"string\" || k === \"then\") return undefined;\n"
                "    const tool = Object.prototype.hasOwnProperty.call(map, k) ? map[k] : undefined;\n"
                "    if (tool === undefined) return async () => { throw new Error(`Tool \"${k}\" not found`); };\n"
                "    return async (...args) => stub[tool](...args);\n"
                "  },\n"
                "});\n"
                "export const __corral_scope__ = (__corral_env__) => {\n");
    for (size_t i = 0; i < n; i++) {
        char *map = tool_map(tools[i], tool_counts[i]);
        cm_buf_printf(&b, "  const %s = __corral_tools__(__corral_env__.__corral_p%zu__, %s);\n",
                      providers[i].name, i, map ? map : "{}");
        free(map);
    }
    for (size_t i = 0; opts && i < opts->n_raw; i++)
        cm_buf_printf(&b, "  const %s = __corral_env__.__corral_r%zu__;\n", opts->raw[i].name, i);
    if (opts && opts->prelude) {
        cm_buf_puts(&b, opts->prelude);
        cm_buf_puts(&b, "\n");
    }
    cm_buf_puts(&b, "  return { ");
    for (size_t i = 0; i < n; i++) cm_buf_printf(&b, "%s, ", providers[i].name);
    if (opts && opts->prelude_names) cm_buf_printf(&b, "%s, ", opts->prelude_names);
    cm_buf_puts(&b, "};\n};\n");
    return cm_buf_take(&b);
}

/* The program itself, in the scope the scaffolding makes. */
static char *main_source(const char *normalized, const corral_provider *providers, size_t n,
                         const struct cm_exec_opts *opts) {
    cm_buf b = {0};
    cm_buf_puts(&b, "import { __corral_scope__ } from \"./" SCOPE_MODULE "\";\n"
                    "export default {\n"
                    "  async evaluate(__corral_env__) {\n"
                    "    const { ");
    for (size_t i = 0; i < n; i++) cm_buf_printf(&b, "%s, ", providers[i].name);
    if (opts && opts->prelude_names) cm_buf_printf(&b, "%s, ", opts->prelude_names);
    cm_buf_puts(&b, "} = __corral_scope__(__corral_env__);\n    return await (");
    cm_buf_puts(&b, normalized);
    cm_buf_puts(&b, "\n)();\n  },\n};\n");
    return cm_buf_take(&b);
}

int corral_execute(corral_loader *l, const char *code, const corral_provider *providers,
                   size_t provider_count, const corral_limits *limits, corral_exec_fn done,
                   void *userdata) {
    return cm_execute(l, code, providers, provider_count, limits, NULL, done, userdata, NULL);
}

int corral_execute_start(corral_loader *l, const char *code, const corral_provider *providers,
                         size_t provider_count, const corral_limits *limits, corral_exec_fn done,
                         void *userdata, corral_execution **handle) {
    return cm_execute(l, code, providers, provider_count, limits, NULL, done, userdata, handle);
}

void corral_execution_cancel(corral_execution *e, const char *reason) {
    if (!e || e->cancelled || !e->worker) return;
    e->cancelled = 1;
    corral_worker_abort(e->worker, reason && *reason ? reason : "The program was cancelled.");
}

int cm_execute(corral_loader *l, const char *code, const corral_provider *providers,
               size_t provider_count, const corral_limits *limits, const struct cm_exec_opts *opts,
               corral_exec_fn done, void *userdata, corral_execution **handle) {
    if (handle) *handle = NULL;
    if (!l || !done || (provider_count && !providers) || (opts && opts->n_raw && !opts->raw))
        return CORRAL_EINVAL;
    struct corral_execution *job = calloc(1, sizeof *job);
    if (!job) return CORRAL_ENOMEM;
    job->done = done;
    job->userdata = userdata;

    /* Tool names, for validation and the namespaces. */
    const char ***tools = calloc(provider_count ? provider_count : 1, sizeof *tools);
    size_t *counts = calloc(provider_count ? provider_count : 1, sizeof *counts);
    cm_provider *cps = calloc(provider_count ? provider_count : 1, sizeof *cps);
    int rc = CORRAL_ENOMEM;
    char *normalized = NULL, *source = NULL, *scope = NULL;
    if (!tools || !counts || !cps) goto out;
    for (size_t i = 0; i < provider_count; i++) {
        size_t n = providers[i].tools ? corral_capability_methods(providers[i].tools, NULL, 0) : 0;
        if (n > MAX_TOOLS) n = MAX_TOOLS;
        tools[i] = calloc(n ? n : 1, sizeof *tools[i]);
        if (!tools[i]) goto out;
        if (providers[i].tools) corral_capability_methods(providers[i].tools, tools[i], n);
        counts[i] = n;
        cps[i] = (cm_provider){providers[i].name, tools[i], n};
    }
    job->error = cm_validate_names(cps, provider_count, NULL, 0);
    if (job->error) {
        corral_worker *w = corral_get(l, NULL, failing_factory, job);
        rc = w ? corral_invoke(w, NULL, "evaluate", NULL, on_done, job) : CORRAL_ENOMEM;
        corral_worker_release(w);
        if (rc == CORRAL_OK) job = NULL;
        goto out;
    }

    normalized = cm_normalize_code(code ? code : "", code ? strlen(code) : 0, parses, NULL);
    source = normalized ? main_source(normalized, providers, provider_count, opts) : NULL;
    scope = scope_source(providers, provider_count, (const char *const *const *)tools, counts, opts);
    if (!source || !scope) goto out;
    corral_code *c = corral_code_new();
    if (!c) goto out;
    corral_code_set_compatibility_date(c, "2025-06-01");
    corral_code_add_compatibility_flag(c, "nodejs_compat");
    corral_code_set_main_module(c, "executor.js");
    corral_code_add_module(c, "executor.js", CORRAL_MODULE_JS, source, strlen(source));
    corral_code_add_module(c, SCOPE_MODULE, CORRAL_MODULE_JS, scope, strlen(scope));
    corral_code_set_outbound(c, CORRAL_OUTBOUND_BLOCK);
    if (limits) corral_code_set_limits(c, limits);
    if (opts && opts->tenant && corral_code_set_tenant(c, opts->tenant) != CORRAL_OK) {
        corral_code_free(c);
        goto out;
    }
    for (size_t i = 0; i < provider_count; i++) {
        char name[48];
        snprintf(name, sizeof name, "__corral_p%zu__", i);
        if (providers[i].tools) corral_code_bind_capability(c, name, providers[i].tools);
    }
    for (size_t i = 0; opts && i < opts->n_raw; i++) {
        char name[48];
        snprintf(name, sizeof name, "__corral_r%zu__", i);
        if (opts->raw[i].tools) corral_code_bind_capability(c, name, opts->raw[i].tools);
    }
    corral_error err;
    corral_worker *w = corral_load(l, c, &err);
    corral_code_free(c);
    if (!w) {
        /* The module is ours and valid; only sizes or memory can fail. */
        job->error = strdup(err.message);
        w = corral_get(l, NULL, failing_factory, job);
    }
    rc = w ? corral_invoke(w, NULL, "evaluate", NULL, on_done, job) : CORRAL_ENOMEM;
    if (rc == CORRAL_OK && opts && opts->on_log) {
        job->on_log = opts->on_log;
        job->log_ud = opts->log_ud;
        ld_inv_set_log_hook(l, on_done, job, relay_log, job);
    }
    if (rc == CORRAL_OK) {
        job->worker = w;
        if (handle) *handle = job;
        job = NULL;
    } else {
        corral_worker_release(w);
    }
out:
    for (size_t i = 0; tools && i < provider_count; i++) free(tools[i]);
    free(tools);
    free(counts);
    free(cps);
    free(normalized);
    free(source);
    free(scope);
    if (job) {
        free(job->error);
        free(job);
    }
    return rc;
}
