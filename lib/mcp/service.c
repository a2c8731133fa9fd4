/* The Code Mode service behind `corral mcp` and `corral exec` (corral_mcp_*
 * in corral.h): upstream MCP servers or one OpenAPI API, lent to programs
 * that run in fresh sandboxes.
 *
 * One reactor (lib/net/reactor.c) drives everything: the loader, the
 * upstream connections, the MCP transports and the OpenAPI requests. Each
 * program is a `run`: its capabilities are built fresh from the current
 * tool lists (so a refreshed upstream is seen by the next program, never
 * half-way through one), every tool call it makes is a `pending` record
 * until the upstream answers, and when the program ends (or the client
 * cancels it) the calls still out are abandoned: the upstreams are told,
 * and their late answers go nowhere.
 *
 * Upstream mode exposes one tool, `code`. Each upstream is a namespace named
 * after it; with exactly one, its declarations read `declare const
 * codemode` and its tools are reachable as codemode.<tool> too, so programs
 * written for codeMcpServer run unchanged. OpenAPI mode exposes `search`
 * and `execute`; codemode.spec() and codemode.request() are built inside
 * the sandbox on top of one host capability whose answers are envelopes
 * ({value} or {error, status}), so an API error arrives as an Error with a
 * `status`, and bytes as a Uint8Array.
 */
#include "mcp/service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "codemode/codemode.h"
#include "mcp/openapi.h"
#include "mcp/server.h"
#include "mcp/upstream.h"
#include "net/reactor.h"

#define RESOLVED_SPEC_MAX ((size_t)32 << 20)
/* Console lines sent as logging notifications per tools/call; beyond it one
 * note says so, and the rest are only in the result's Console output. */
#define MCP_LOG_NOTIFICATIONS_MAX 1000u

struct run;

/* One tool call of a program, awaiting its upstream or API. */
struct pending {
    struct run *run;
    corral_call *call;
    mcp_upstream_req *ureq;
    mcp_openapi_req *oreq;
    struct pending *prev, *next;
};

/* A capability's userdata: which run, which upstream. */
struct binding {
    struct run *run;
    size_t upstream;
};

struct run {
    corral_mcp *m;
    mcp_call *mcall;                /* the MCP request, or NULL for corral_mcp_exec */
    corral_exec_fn done;
    void *done_ud;
    corral_execution *exec;
    corral_capability **caps;
    size_t n_caps;
    struct binding *bindings;
    struct pending *pending;
    int finished;
    unsigned log_notes;             /* console lines passed on as notifications */
    int log_dropping;               /* past MCP_LOG_NOTIFICATIONS_MAX: the note was sent */
    struct run *prev, *next;
};

struct corral_mcp {
    corral_loader *l;
    net_reactor *r;
    corral_mcp_options opts;
    char *extra;
    char *tenant;                   /* opts.tenant's copy */
    mcp_upstream_spec *specs;
    size_t n_specs;
    mcp_upstream **ups;
    size_t n_ups;
    int started;
    mcp_openapi *api;
    char *spec_json;                /* the resolved spec as JSON text, once asked for */
    char *decl_cache;               /* declarations() of the current tool lists, or NULL */
    int decl_summary;
    mcp_server *server;
    struct run *runs;
    int stop_fd;
};

void corral_mcp_options_default(corral_mcp_options *o) {
    memset(o, 0, sizeof *o);
    o->call_timeout_ms = 60000;
    o->discovery_tokens = 4000;
}

static void set_err(corral_error *err, int status, const char *name, const char *msg) {
    if (!err) return;
    err->status = status;
    snprintf(err->name, sizeof err->name, "%s", name);
    snprintf(err->message, sizeof err->message, "%s", msg);
}

static void on_stop_fd(net_reactor *r, int fd, unsigned events, void *ud) {
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof v);
    (void)n;
    net_reactor_stop(r);
}

corral_mcp *corral_mcp_new(corral_loader *l, const corral_mcp_options *opts, corral_error *err) {
    if (!l) {
        set_err(err, CORRAL_EINVAL, "TypeError", "corral_mcp_new needs a loader.");
        return NULL;
    }
    corral_mcp *m = calloc(1, sizeof *m);
    if (!m) goto oom;
    m->l = l;
    m->stop_fd = -1;
    if (opts) m->opts = *opts;
    else corral_mcp_options_default(&m->opts);
    if (!m->opts.call_timeout_ms) m->opts.call_timeout_ms = 60000;
    if (!m->opts.discovery_tokens) m->opts.discovery_tokens = 4000;
    if (m->opts.description) {
        m->extra = strdup(m->opts.description);
        if (!m->extra) goto oom;
        m->opts.description = m->extra;
    }
    if (m->opts.tenant) {
        m->tenant = strdup(m->opts.tenant);
        if (!m->tenant) goto oom;
        m->opts.tenant = m->tenant;
    }
    m->r = net_reactor_new(l);
    m->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!m->r || m->stop_fd < 0 || net_reactor_watch(m->r, m->stop_fd, NET_READ, on_stop_fd, m) < 0)
        goto oom;
    return m;
oom:
    set_err(err, CORRAL_ENOMEM, "Error", "Out of memory (or descriptors) creating the MCP service.");
    corral_mcp_free(m);
    return NULL;
}

static void abandon_pending(struct run *run);

static void drain_runs(corral_mcp *m);

void corral_mcp_free(corral_mcp *m) {
    if (!m) return;
    drain_runs(m);
    /* Programs still running end with the loader; their calls are let go
     * first so no upstream answer finds a freed run. */
    for (struct run *run = m->runs; run; run = run->next) abandon_pending(run);
    if (m->server) mcp_server_free(m->server);
    for (size_t i = 0; i < m->n_ups; i++) mcp_upstream_stop_begin(m->ups[i]);
    for (size_t i = 0; i < m->n_ups; i++) mcp_upstream_free(m->ups[i]);
    free(m->ups);
    for (size_t i = 0; i < m->n_specs; i++) mcp_upstream_spec_clear(&m->specs[i]);
    free(m->specs);
    mcp_openapi_free(m->api);
    free(m->spec_json);
    free(m->decl_cache);
    free(m->extra);
    free(m->tenant);
    if (m->r) net_reactor_free(m->r);
    if (m->stop_fd >= 0) close(m->stop_fd);
    free(m);
}

void corral_mcp_stop(corral_mcp *m) {
    uint64_t one = 1;
    ssize_t n = write(m->stop_fd, &one, sizeof one);
    (void)n;
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/* ------------------------------------------------------------------------ */

static int add_spec(corral_mcp *m, mcp_upstream_spec *spec, corral_error *err) {
    char msg[512];
    if (m->started || m->api) {
        set_err(err, CORRAL_ESTATE, "Error",
                m->api ? "Upstreams and --openapi cannot be combined."
                       : "Upstreams must be added before the service starts.");
        return CORRAL_ESTATE;
    }
    cm_provider p = {spec->name, NULL, 0};
    char *bad = cm_validate_names(&p, 1, NULL, 0);
    char *safe = bad ? NULL : cm_sanitize_tool_name(spec->name);
    if (safe && strcmp(safe, spec->name)) {
        /* A reserved word (or anything sanitizing would change) cannot name
         * a namespace the program refers to. */
        snprintf(msg, sizeof msg,
                 "the name must be a JavaScript identifier that is not a reserved word (try \"%s\").",
                 safe);
        bad = strdup(msg);
    }
    free(safe);
    for (size_t i = 0; !bad && i < m->n_specs; i++)
        if (!strcmp(m->specs[i].name, spec->name)) {
            snprintf(msg, sizeof msg, "Upstream name \"%s\" is used twice.", spec->name);
            bad = strdup(msg);
        }
    if (bad) {
        snprintf(msg, sizeof msg, "Upstream \"%s\": %s", spec->name, bad);
        free(bad);
        set_err(err, CORRAL_EINVAL, "TypeError", msg);
        return CORRAL_EINVAL;
    }
    mcp_upstream_spec *s = realloc(m->specs, (m->n_specs + 1) * sizeof *s);
    if (!s) {
        set_err(err, CORRAL_ENOMEM, "Error", "Out of memory.");
        return CORRAL_ENOMEM;
    }
    m->specs = s;
    m->specs[m->n_specs++] = *spec;
    memset(spec, 0, sizeof *spec);
    return CORRAL_OK;
}

int corral_mcp_add_upstream(corral_mcp *m, const char *arg, corral_error *err) {
    mcp_upstream_spec spec;
    memset(&spec, 0, sizeof spec);
    char msg[512];
    if (!m || !arg || mcp_upstream_spec_parse(arg, &spec, msg, sizeof msg) < 0) {
        set_err(err, CORRAL_EINVAL, "TypeError", m && arg ? msg : "No upstream given.");
        mcp_upstream_spec_clear(&spec);
        return CORRAL_EINVAL;
    }
    int rc = add_spec(m, &spec, err);
    mcp_upstream_spec_clear(&spec);
    return rc;
}

int corral_mcp_add_config(corral_mcp *m, const char *path, corral_error *err) {
    mcp_upstream_spec *specs = NULL;
    size_t n = 0;
    char msg[512];
    if (!m || !path || mcp_config_load(path, &specs, &n, msg, sizeof msg) < 0) {
        set_err(err, CORRAL_EINVAL, "TypeError", m && path ? msg : "No configuration file given.");
        return CORRAL_EINVAL;
    }
    int rc = CORRAL_OK;
    for (size_t i = 0; i < n; i++) {
        if (rc == CORRAL_OK) rc = add_spec(m, &specs[i], err);
        mcp_upstream_spec_clear(&specs[i]);
    }
    free(specs);
    return rc;
}

int corral_mcp_set_openapi(corral_mcp *m, const char *spec_path, const char *base_url,
                           const char *const *headers, size_t header_count, corral_error *err) {
    if (!m || !spec_path || !base_url) {
        set_err(err, CORRAL_EINVAL, "TypeError", "OpenAPI mode needs a spec and a base URL.");
        return CORRAL_EINVAL;
    }
    if (m->n_specs || m->api) {
        set_err(err, CORRAL_ESTATE, "Error",
                m->api ? "Only one OpenAPI spec can be served." : "Upstreams and --openapi cannot be combined.");
        return CORRAL_ESTATE;
    }
    char msg[512];
    m->api = mcp_openapi_new(spec_path, base_url, headers, header_count, msg, sizeof msg);
    if (!m->api) {
        set_err(err, CORRAL_EINVAL, "TypeError", msg);
        return CORRAL_EINVAL;
    }
    return CORRAL_OK;
}

static void on_tools_changed(mcp_upstream *u, void *ud) {
    corral_mcp *m = ud;
    free(m->decl_cache);
    m->decl_cache = NULL;
    if (m->server) mcp_server_tools_changed(m->server);
}

int corral_mcp_start(corral_mcp *m, uint64_t timeout_ms, corral_error *err) {
    if (!m) return CORRAL_EINVAL;
    if (m->started) return CORRAL_OK;
    m->started = 1;
    if (m->n_specs) {
        m->ups = calloc(m->n_specs, sizeof *m->ups);
        if (!m->ups) {
            set_err(err, CORRAL_ENOMEM, "Error", "Out of memory.");
            return CORRAL_ENOMEM;
        }
    }
    for (size_t i = 0; i < m->n_specs; i++) {
        m->ups[i] = mcp_upstream_new(m->r, &m->specs[i], on_tools_changed, m);
        if (!m->ups[i]) {
            set_err(err, CORRAL_ENOMEM, "Error", "Out of memory starting upstreams.");
            return CORRAL_ENOMEM;
        }
        m->n_ups++;
        mcp_upstream_start(m->ups[i]);
    }
    if (m->n_ups) mcp_upstreams_wait_ready(m->r, m->ups, m->n_ups, timeout_ms);
    for (size_t i = 0; i < m->n_ups; i++) {
        if (mcp_upstream_ready(m->ups[i]) != 1) {
            char msg[700];
            const char *why = mcp_upstream_error(m->ups[i]);
            snprintf(msg, sizeof msg, "Upstream \"%s\" is not ready: %s", m->specs[i].name,
                     why ? why : "it did not finish starting in time");
            set_err(err, CORRAL_ESTATE, "Error", msg);
            return CORRAL_ESTATE;
        }
    }
    return CORRAL_OK;
}

/* ------------------------------------------------------------------------ */
/* What programs see                                                        */
/* ------------------------------------------------------------------------ */

/* {toolName: {description?, inputSchema, outputSchema?}} of one upstream. */
static json_t *tool_map_of(const mcp_upstream *u) {
    json_t *map = json_object();
    size_t i;
    json_t *t;
    json_array_foreach(mcp_upstream_tools(u), i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        if (!name) continue;
        json_t *d = json_object();
        json_t *v;
        if ((v = json_object_get(t, "description"))) json_object_set(d, "description", v);
        json_object_set(d, "inputSchema", (v = json_object_get(t, "inputSchema")) ? v : json_object());
        if ((v = json_object_get(t, "outputSchema"))) json_object_set(d, "outputSchema", v);
        json_object_set_new(map, name, d);
    }
    return map;
}

static const char *ns_of(const corral_mcp *m, size_t i) {
    return m->n_ups == 1 ? "codemode" : m->specs[i].name;
}

static json_t *catalog(const corral_mcp *m) {
    json_t *conns = json_array();
    for (size_t i = 0; i < m->n_ups; i++)
        json_array_append_new(conns, json_pack("{s:s, s:o}", "name", ns_of(m, i), "tools",
                                               tool_map_of(m->ups[i])));
    return json_pack("{s:o, s:[]}", "connectors", conns, "snippets");
}

/* Every upstream's declarations joined by blank lines; *summary set when
 * they exceed the budget (the text is then the namespace summary). */
static char *build_declarations(const corral_mcp *m, int *summary) {
    cm_buf b = {0};
    for (size_t i = 0; i < m->n_ups; i++) {
        json_t *map = tool_map_of(m->ups[i]);
        char *t = cm_generate_types(map, ns_of(m, i));
        json_decref(map);
        if (i) cm_buf_puts(&b, "\n\n");
        cm_buf_puts(&b, t ? t : "");
        free(t);
    }
    char *all = cm_buf_take(&b);
    *summary = 0;
    if (all && cm_estimate_tokens(cm_utf16_len(all, strlen(all))) > m->opts.discovery_tokens) {
        json_t *cat = catalog(m);
        char *sum = cm_catalog_prompt(cat, 0);
        json_decref(cat);
        if (sum) {
            free(all);
            *summary = 1;
            return sum;
        }
    }
    return all;
}

/* build_declarations(), kept until a tool list changes: every program
 * needs to know whether discovery is on, and generating the types of a
 * large surface costs more than starting the program. */
static char *declarations(corral_mcp *m, int *summary) {
    if (!m->decl_cache) m->decl_cache = build_declarations(m, &m->decl_summary);
    *summary = m->decl_summary;
    return m->decl_cache ? strdup(m->decl_cache) : NULL;
}

char *corral_mcp_types(corral_mcp *m) {
    if (m->api) return mcp_openapi_execute_description(NULL);
    int summary;
    return declarations(m, &summary);
}

static json_t *code_tool(corral_mcp *m) {
    struct mcp_surface s = {0};
    char *types = declarations(m, &s.summary_only);
    s.types = types ? types : "";
    if (m->n_ups == 1 && strcmp(m->specs[0].name, "codemode")) s.alias = m->specs[0].name;
    for (size_t i = 0; i < m->n_ups && !s.first_tool; i++) {
        json_t *t = json_array_get(mcp_upstream_tools(m->ups[i]), 0);
        if (!t) continue;
        s.first_ns = ns_of(m, i);
        s.first_tool = json_string_value(json_object_get(t, "name"));
        s.first_schema = json_object_get(t, "inputSchema");
    }
    char *desc = mcp_code_description(&s, m->opts.description);
    free(types);
    json_t *tool = json_pack("{s:s, s:s, s:o}", "name", "code", "description", desc ? desc : "",
                             "inputSchema", mcp_code_input_schema());
    free(desc);
    return tool;
}

static json_t *tools_list(corral_mcp *m) {
    json_t *list = json_array();
    if (m->api) {
        char *sd = mcp_openapi_search_description();
        char *ed = mcp_openapi_execute_description(m->opts.description);
        json_array_append_new(list, json_pack("{s:s, s:s, s:o}", "name", "search", "description",
                                              sd ? sd : "", "inputSchema", mcp_code_input_schema()));
        json_array_append_new(list, json_pack("{s:s, s:s, s:o}", "name", "execute", "description",
                                              ed ? ed : "", "inputSchema", mcp_code_input_schema()));
        free(sd);
        free(ed);
    } else {
        json_array_append_new(list, code_tool(m));
    }
    return list;
}

char *corral_mcp_tools_json(corral_mcp *m) {
    json_t *list = tools_list(m);
    char *s = json_dumps(list, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(list);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Tool calls from programs                                                 */
/* ------------------------------------------------------------------------ */

static void pending_unlink(struct pending *p) {
    struct run *run = p->run;
    if (p->prev) p->prev->next = p->next;
    else run->pending = p->next;
    if (p->next) p->next->prev = p->prev;
    free(p);
}

static struct pending *pending_new(struct run *run, corral_call *call) {
    struct pending *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->run = run;
    p->call = call;
    p->next = run->pending;
    if (run->pending) run->pending->prev = p;
    run->pending = p;
    return p;
}

static void abandon_pending(struct run *run) {
    while (run->pending) {
        struct pending *p = run->pending;
        if (p->ureq) mcp_upstream_cancel(p->ureq);
        if (p->oreq) mcp_openapi_cancel(p->oreq);
        /* The program has ended: the loader drops this answer. */
        corral_call_throw(p->call, "Error",
                          "The program ended before this tool call finished.");
        pending_unlink(p);
    }
}

static void report_progress(struct run *run, const char *what, const char *tool) {
    if (!run->mcall || !mcp_call_has_progress(run->mcall)) return;
    char msg[300];
    snprintf(msg, sizeof msg, "%s.%s", what, tool);
    mcp_call_progress(run->mcall, msg);
}

/* The first argument of a tool call, which MCP takes as its arguments
 * object; anything else is an error the program can catch. */
static json_t *call_arguments(corral_call *call, char *why, size_t whylen) {
    size_t len;
    const char *text = corral_call_args_json(call, &len);
    json_error_t je;
    json_t *args = json_loadb(text, len, 0, &je);
    json_t *first = json_array_get(args, 0);
    json_t *out = NULL;
    if (!first || json_is_null(first)) out = json_object();
    else if (json_is_object(first)) out = json_incref(first);
    else snprintf(why, whylen, "Tool \"%s\" takes one object of arguments.", corral_call_method(call));
    json_decref(args);
    return out;
}

/* Completes a program's tool call with a JSON value (NULL: undefined is
 * not meant here, so it is the out-of-memory case). */
static void answer_json(corral_call *call, const json_t *v, const char *what) {
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (text) {
        corral_call_return_json(call, text, strlen(text));
    } else {
        char msg[160];
        snprintf(msg, sizeof msg, "Out of memory reading %s.", what);
        corral_call_throw(call, "Error", msg);
    }
    free(text);
}

static void upstream_done(json_t *result, const char *error, void *ud) {
    struct pending *p = ud;
    p->ureq = NULL;
    if (!result) {
        corral_call_throw(p->call, "Error", error ? error : "The upstream call failed.");
    } else {
        char *tool_error = NULL;
        json_t *v = mcp_unwrap_tool_result(result, &tool_error);
        if (tool_error) {
            corral_call_throw(p->call, "Error", tool_error);
            free(tool_error);
        } else {
            answer_json(p->call, v, "the tool's result");
        }
        json_decref(v);
    }
    pending_unlink(p);
}

static void call_upstream(corral_call *call, void *ud) {
    struct binding *b = ud;
    struct run *run = b->run;
    corral_mcp *m = run->m;
    char why[300];
    json_t *args = call_arguments(call, why, sizeof why);
    if (!args) {
        corral_call_throw(call, "TypeError", why);
        return;
    }
    struct pending *p = pending_new(run, call);
    if (!p) {
        json_decref(args);
        corral_call_throw(call, "Error", "Out of memory.");
        return;
    }
    report_progress(run, m->specs[b->upstream].name, corral_call_method(call));
    p->ureq = mcp_upstream_call(m->ups[b->upstream], corral_call_method(call), args,
                                m->opts.call_timeout_ms, upstream_done, p);
    json_decref(args);
    if (!p->ureq) {
        corral_call_throw(call, "Error", "Out of memory.");
        pending_unlink(p);
    }
}

static void call_discovery(corral_call *call, void *ud) {
    struct binding *b = ud;
    corral_mcp *m = b->run->m;
    size_t len;
    json_error_t je;
    const char *args_text = corral_call_args_json(call, &len);
    json_t *args = json_loadb(args_text, len, 0, &je);
    const char *q = json_string_value(json_array_get(args, 0));
    json_t *cat = catalog(m);
    json_t *res = !strcmp(corral_call_method(call), "search") ? cm_search(cat, q ? q : "")
                                                               : cm_describe(cat, q ? q : "");
    answer_json(call, res, "the tool catalogue");
    json_decref(res);
    json_decref(cat);
    json_decref(args);
}

/* ------------------------------------------------------------------------ */
/* OpenAPI: codemode.spec() and codemode.request()                          */
/* ------------------------------------------------------------------------ */

static const char openapi_prelude[] =
    "    const __corral_bytes__ = (v) => {\n"
    "      if (v && typeof v === 'object' && typeof v.$bytes === 'string' && Object.keys(v).length === 1)\n"
    "        return Uint8Array.from(atob(v.$bytes), (c) => c.charCodeAt(0));\n"
    "      return v;\n"
    "    };\n"
    "    let __corral_spec__;\n"
    "    const codemode = Object.freeze({\n"
    "      spec: async () => {\n"
    "        if (__corral_spec__ === undefined) __corral_spec__ = await __corral_openapi__.spec();\n"
    "        return __corral_spec__;\n"
    "      },\n"
    "      %s"
    "    });\n";

static const char openapi_request_js[] =
    "request: async (options) => {\n"
    "        const r = await __corral_openapi__.request(options);\n"
    "        if ('error' in r) {\n"
    "          const e = new Error(r.error);\n"
    "          if (r.status) e.status = r.status;\n"
    "          throw e;\n"
    "        }\n"
    "        const v = r.value;\n"
    "        if (v && typeof v === 'object' && 'status' in v && 'body' in v && r.full)\n"
    "          return { ...v, body: __corral_bytes__(v.body) };\n"
    "        return __corral_bytes__(v);\n"
    "      },\n";

static void openapi_done(const mcp_openapi_response *resp, void *ud) {
    struct pending *p = ud;
    p->oreq = NULL;
    json_t *env = resp->ok ? json_pack("{s:O}", "value", resp->value ? resp->value : json_null())
                           : json_pack("{s:s}", "error", resp->error_message ? resp->error_message
                                                                           : "The request failed.");
    if (env && !resp->ok && resp->status > 0) json_object_set_new(env, "status", json_integer(resp->status));
    if (env && resp->ok && resp->value && json_is_object(resp->value) &&
        json_object_get(resp->value, "status") && json_object_get(resp->value, "body"))
        json_object_set_new(env, "full", json_true());
    answer_json(p->call, env, "the response");
    json_decref(env);
    pending_unlink(p);
}

static void call_openapi(corral_call *call, void *ud) {
    struct binding *b = ud;
    struct run *run = b->run;
    corral_mcp *m = run->m;
    if (!strcmp(corral_call_method(call), "spec")) {
        if (!m->spec_json) {
            char msg[300];
            const json_t *spec = mcp_openapi_resolved(m->api, RESOLVED_SPEC_MAX, msg, sizeof msg);
            if (!spec) {
                corral_call_throw(call, "Error", msg);
                return;
            }
            m->spec_json = json_dumps(spec, JSON_COMPACT);
        }
        if (m->spec_json) corral_call_return_json(call, m->spec_json, strlen(m->spec_json));
        else corral_call_throw(call, "Error", "Out of memory.");
        return;
    }
    size_t len;
    json_error_t je;
    const char *text = corral_call_args_json(call, &len);
    json_t *args = json_loadb(text, len, 0, &je);
    json_t *options = json_array_get(args, 0);
    if (!json_is_object(options)) {
        json_decref(args);
        corral_call_throw(call, "TypeError", "codemode.request() takes an options object.");
        return;
    }
    struct pending *p = pending_new(run, call);
    if (!p) {
        json_decref(args);
        corral_call_throw(call, "Error", "Out of memory.");
        return;
    }
    const char *method = json_string_value(json_object_get(options, "method"));
    const char *path = json_string_value(json_object_get(options, "path"));
    if (run->mcall && mcp_call_has_progress(run->mcall)) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s %s", method ? method : "?", path ? path : "?");
        mcp_call_progress(run->mcall, msg);
    }
    p->oreq = mcp_openapi_request(m->api, m->r, options, openapi_done, p);
    json_decref(args);
    if (!p->oreq) {
        corral_call_throw(call, "Error", "Out of memory.");
        pending_unlink(p);
    }
}

/* ------------------------------------------------------------------------ */
/* Runs                                                                     */
/* ------------------------------------------------------------------------ */

static void run_free(struct run *run) {
    corral_mcp *m = run->m;
    if (run->prev) run->prev->next = run->next;
    else if (m->runs == run) m->runs = run->next;
    if (run->next) run->next->prev = run->prev;
    for (size_t i = 0; i < run->n_caps; i++) corral_capability_release(run->caps[i]);
    free(run->caps);
    free(run->bindings);
    free(run);
}

static void run_done(const corral_exec_result *r, void *ud) {
    struct run *run = ud;
    run->finished = 1;
    run->exec = NULL;
    abandon_pending(run);
    if (run->mcall) {
        mcp_call_finish(run->mcall, mcp_call_result(r));
        run->mcall = NULL;
    }
    if (run->done) run->done(r, run->done_ud);
    run_free(run);
}

/* A console line of the program, sent at once as notifications/message
 * (the server drops it unless the session asked for logs at that level), so
 * a client sees it before the program's later tool calls and its result.
 * The loader's log limit bounds the bytes; this bounds the count, since the
 * protocol's envelope makes a notification cost far more than a short line. */
static void run_on_log(corral_log_level level, const char *text, size_t len, void *ud) {
    struct run *run = ud;
    static const char *const names[] = {"debug", "info", "info", "warning", "error"};
    const char *lvl = (unsigned)level < 5 ? names[level] : "info";
    if (!run->mcall || run->finished || run->log_dropping || !mcp_call_wants_log(run->mcall, lvl))
        return;
    if (run->log_notes == MCP_LOG_NOTIFICATIONS_MAX) {
        char note[256];
        snprintf(note, sizeof note,
                 "[corral] further console lines of this call are dropped from notifications: the "
                 "limit of %u was reached (the result's Console output still has them, within its "
                 "own limit)",
                 (unsigned)MCP_LOG_NOTIFICATIONS_MAX);
        run->log_dropping = 1;
        mcp_call_log(run->mcall, lvl, note);
        return;
    }
    run->log_notes++;
    mcp_call_log(run->mcall, lvl, text);
}

static corral_capability *new_cap(struct run *run, const char *name) {
    corral_capability *c = corral_capability_new(run->m->l, name);
    if (!c) return NULL;
    run->caps[run->n_caps++] = c;
    return c;
}

/* Builds the run's capabilities and starts its program. */
static int run_start(struct run *run, const char *tool, const char *code) {
    corral_mcp *m = run->m;
    int is_api = m->api != NULL;
    if (is_api ? strcmp(tool, "search") && strcmp(tool, "execute") : strcmp(tool, "code"))
        return CORRAL_EINVAL;
    size_t n = is_api ? 1 : m->n_ups + 1;
    run->caps = calloc(n, sizeof *run->caps);
    run->bindings = calloc(n, sizeof *run->bindings);
    corral_provider *providers = calloc(n + 1, sizeof *providers);
    corral_provider raw = {0};
    size_t np = 0;
    char *prelude = NULL;
    int rc = CORRAL_ENOMEM;
    corral_error err;
    if (!run->caps || !run->bindings || !providers) goto out;
    if (is_api) {
        corral_capability *c = new_cap(run, "openapi");
        run->bindings[0] = (struct binding){run, 0};
        if (!c || corral_capability_add_method(c, "spec", call_openapi, &run->bindings[0], &err) ||
            corral_capability_add_method(c, "request", call_openapi, &run->bindings[0], &err))
            goto out;
        raw = (corral_provider){"__corral_openapi__", c};
        size_t len = sizeof openapi_prelude + sizeof openapi_request_js;
        prelude = malloc(len);
        if (!prelude) goto out;
        snprintf(prelude, len, openapi_prelude, strcmp(tool, "execute") ? "" : openapi_request_js);
    } else {
        int summary = 0;
        if (!m->decl_cache) free(declarations(m, &summary));
        summary = m->decl_summary;
        corral_capability *codemode_cap = NULL;
        for (size_t i = 0; i < m->n_ups; i++) {
            corral_capability *c = new_cap(run, m->specs[i].name);
            if (!c) goto out;
            run->bindings[i] = (struct binding){run, i};
            size_t k;
            json_t *t;
            json_array_foreach(mcp_upstream_tools(m->ups[i]), k, t) {
                const char *name = json_string_value(json_object_get(t, "name"));
                if (name && (!summary || m->n_ups != 1 || (strcmp(name, "search") && strcmp(name, "describe"))))
                    corral_capability_add_method(c, name, call_upstream, &run->bindings[i], &err);
            }
            if (m->n_ups == 1) codemode_cap = c;
            if (m->n_ups != 1 || strcmp(m->specs[i].name, "codemode"))
                providers[np++] = (corral_provider){m->specs[i].name, c};
        }
        if (summary) {
            if (!codemode_cap) {
                codemode_cap = new_cap(run, "codemode");
                if (!codemode_cap) goto out;
            }
            run->bindings[m->n_ups] = (struct binding){run, 0};
            corral_capability_add_method(codemode_cap, "search", call_discovery, &run->bindings[m->n_ups], &err);
            corral_capability_add_method(codemode_cap, "describe", call_discovery, &run->bindings[m->n_ups], &err);
        }
        if (codemode_cap) providers[np++] = (corral_provider){"codemode", codemode_cap};
    }
    struct cm_exec_opts opts = {is_api ? &raw : NULL, is_api ? 1 : 0, prelude, is_api ? "codemode" : NULL,
                                run->mcall ? run_on_log : NULL, run, m->opts.tenant};
    rc = cm_execute(m->l, code, providers, np, &m->opts.limits, &opts, run_done, run, &run->exec);
out:
    free(providers);
    free(prelude);
    return rc;
}

static struct run *run_new(corral_mcp *m) {
    struct run *run = calloc(1, sizeof *run);
    if (!run) return NULL;
    run->m = m;
    run->next = m->runs;
    if (m->runs) m->runs->prev = run;
    m->runs = run;
    return run;
}

struct exec_wait {
    corral_exec_fn done;
    void *ud;
    int finished;
};

static void exec_finished(const corral_exec_result *r, void *ud) {
    struct exec_wait *w = ud;
    w->finished = 1;
    w->done(r, w->ud);
}

int corral_mcp_exec(corral_mcp *m, const char *tool, const char *code, corral_exec_fn done,
                    void *userdata) {
    if (!m || !tool || !done) return CORRAL_EINVAL;
    struct run *run = run_new(m);
    if (!run) return CORRAL_ENOMEM;
    struct exec_wait w = {done, userdata, 0};
    run->done = exec_finished;
    run->done_ud = &w;
    int rc = run_start(run, tool, code ? code : "");
    if (rc != CORRAL_OK) {
        run_free(run);
        return rc;
    }
    while (!w.finished)
        if (net_reactor_run_once(m->r, -1) != 0) break;
    if (!w.finished) {
        /* Stopped from outside (a signal): end the program and wait for it. */
        corral_execution_cancel(run->exec, "The program was stopped.");
        while (!w.finished) corral_loader_step(m->l, -1);
    }
    return CORRAL_OK;
}

/* ------------------------------------------------------------------------ */
/* Serving                                                                  */
/* ------------------------------------------------------------------------ */

static json_t *host_list_tools(void *ud) { return tools_list(ud); }

static void finish_with_error(mcp_call *call, const char *message) {
    corral_exec_result r = {0};
    r.error = message;
    mcp_call_finish(call, mcp_call_result(&r));
}

static void host_call_tool(mcp_call *call, const char *name, json_t *arguments, void *ud) {
    corral_mcp *m = ud;
    const char *code = json_string_value(json_object_get(arguments, "code"));
    if (!code) {
        finish_with_error(call, "The argument \"code\" must be a string of JavaScript.");
        return;
    }
    struct run *run = run_new(m);
    if (!run) {
        finish_with_error(call, "Out of memory.");
        return;
    }
    run->mcall = call;
    int rc = run_start(run, name, code);
    if (rc != CORRAL_OK) {
        char msg[200];
        snprintf(msg, sizeof msg, rc == CORRAL_EINVAL ? "Unknown tool \"%.100s\"." : "The program could not start (%s).",
                 rc == CORRAL_EINVAL ? name : "out of memory");
        run->mcall = NULL;
        run_free(run);
        finish_with_error(call, msg);
    }
}

static void host_cancel_tool(mcp_call *call, void *ud) {
    corral_mcp *m = ud;
    for (struct run *run = m->runs; run; run = run->next)
        if (run->mcall == call && run->exec && !run->finished) {
            corral_execution_cancel(run->exec, "The client cancelled the request.");
            return;
        }
}

static void host_on_close(void *ud) {
    corral_mcp *m = ud;
    net_reactor_stop(m->r);
}

static int ensure_server(corral_mcp *m, corral_error *err) {
    if (m->server) return CORRAL_OK;
    static const mcp_server_host host = {host_list_tools, host_call_tool, host_cancel_tool, host_on_close};
    m->server = mcp_server_new(m->r, &host, m, m->api ? "openapi" : "codemode", CORRAL_VERSION);
    if (!m->server) {
        set_err(err, CORRAL_ENOMEM, "Error", "Out of memory creating the MCP server.");
        return CORRAL_ENOMEM;
    }
    return CORRAL_OK;
}

/* After the serve loop: the programs still running end, and their
 * results go to clients that are about to be gone. */
static void drain_runs(corral_mcp *m) {
    for (struct run *run = m->runs; run; run = run->next)
        if (run->exec && !run->finished) corral_execution_cancel(run->exec, "The server is stopping.");
    uint64_t until = net_now_ms() + 1000;
    while (m->runs && net_now_ms() < until) corral_loader_step(m->l, 50);
}

int corral_mcp_serve_stdio(corral_mcp *m, int in_fd, int out_fd, corral_error *err) {
    if (!m) return CORRAL_EINVAL;
    int rc = ensure_server(m, err);
    if (rc) return rc;
    if (mcp_server_serve_stdio(m->server, in_fd, out_fd) < 0) {
        set_err(err, CORRAL_ESTATE, "Error", "Could not watch the standard streams.");
        return CORRAL_ESTATE;
    }
    net_reactor_run(m->r);
    drain_runs(m);
    return CORRAL_OK;
}

int corral_mcp_serve_http(corral_mcp *m, const char *host, int port, const char *bearer_token,
                          void (*listening)(int port, void *userdata), void *userdata,
                          corral_error *err) {
    if (!m) return CORRAL_EINVAL;
    int rc = ensure_server(m, err);
    if (rc) return rc;
    char msg[300];
    int bound = 0;
    if (mcp_server_serve_http(m->server, host ? host : "127.0.0.1", port, bearer_token, &bound, msg,
                              sizeof msg) < 0) {
        set_err(err, CORRAL_ESTATE, "Error", msg);
        return CORRAL_ESTATE;
    }
    if (listening) listening(bound, userdata);
    net_reactor_run(m->r);
    drain_runs(m);
    return CORRAL_OK;
}
