/* `corral run`: run a worker module (or a wrangler.jsonc subset) once and
 * print what it answered.
 *
 * The module map is MAIN's folder: every .js/.mjs/.cjs/.json/.txt file
 * below it, so relative imports resolve as they would on disk and nothing
 * outside the folder can be named. Console output goes to stderr as
 * "[level] text"; exit status 0 ok, 1 the worker failed, 2 usage, file or
 * configuration errors.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cm_cli.h"
#include "corral.h"
#include "tool.h"

#define MAX_FILES 4096
#define MAX_TOTAL (64u << 20)

static void run_usage(FILE *f) {
    fprintf(f,
            "usage: corral run [options] MAIN.js\n"
            "       corral run [options] -c CONFIG\n\n"
            "Runs a worker module: MAIN plus the modules it imports by relative path from its\n"
            "folder. CONFIG is a wrangler.jsonc subset: name, main, compatibility_date,\n"
            "compatibility_flags, vars, worker_loaders [{binding}], limits {cpu_ms}.\n\n"
            "By default calls the default entrypoint's fetch with GET http://localhost/ and\n"
            "prints the body.\n\n"
            "options:\n"
            "  --request \"METHOD /path\"   the request to send (default \"GET /\")\n"
            "  --header K:V              a request header (repeatable)\n"
            "  --data TEXT|@FILE         the request body\n"
            "  --call METHOD             call an RPC method instead and print its result as JSON\n"
            "  --args JSON_ARRAY         the RPC arguments (default [])\n"
            "  --entrypoint NAME         a named entrypoint (default: the default export)\n"
            "  --json                    print one JSON report {ok, result|response, error, logs,\n"
            "                            cpuMs, wallMs}\n"
            "  --cpu-ms N --wall-ms N --memory-mb N   limits for every sandbox in the run\n"
            "  --var NAME=VALUE          a string in env (repeatable)\n"
            "  --loader NAME             give the worker a Worker Loader binding env.NAME\n"
            "                            (default LOADER when MAIN is given)\n"
            "  --allow-net[=HOST,...]    lend the network: HTTP and HTTPS to these hosts\n"
            "                            (HOST or HOST:PORT; no list = any host); every\n"
            "                            redirect hop is checked again (docs/network.md)\n"
            "  --compatibility-date D    default: the newest date this build supports\n"
            "  --isolation MODE          where sandboxes run: pool (the default), tenant or\n"
            "                            process (jailed worker processes; docs/jail.md),\n"
            "                            or inline (inside this process, no jail)\n"
            "  --tenant KEY              the code's tenant key (--isolation tenant keeps\n"
            "                            tenants in separate worker processes)\n"
            "  --busy-poll-us N          before a wait may sleep, keep checking for up to N µs\n"
            "                            while answers come that fast (default 50; 0 = never)\n");
}

struct buf {
    char *p;
    size_t len;
};

static int read_file(const char *path, struct buf *b) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || st.st_size > (off_t)MAX_TOTAL) {
        fclose(f);
        errno = EFBIG;
        return -1;
    }
    b->p = malloc((size_t)st.st_size + 1);
    b->len = b->p ? fread(b->p, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!b->p) return -1;
    b->p[b->len] = 0;
    return 0;
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Adds every module file below dir (relative names) to code. */
static int add_folder(corral_code *code, const char *root, const char *rel, int *count,
                      size_t *total) {
    char path[PATH_MAX * 2 + 2];
    snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *e;
    int r = 0;
    while ((e = readdir(d)) && r == 0) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "node_modules") == 0) continue;
        char relname[PATH_MAX + 260];
        snprintf(relname, sizeof relname, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        char full[PATH_MAX * 2 + 2];
        snprintf(full, sizeof full, "%s/%s", root, relname);
        struct stat st;
        if (lstat(full, &st) < 0) continue;
        if (S_ISDIR(st.st_mode)) {
            r = add_folder(code, root, relname, count, total);
            continue;
        }
        if (!S_ISREG(st.st_mode)) continue; /* links could point outside the folder */
        corral_module_type type;
        if (ends_with(relname, ".js") || ends_with(relname, ".mjs")) type = CORRAL_MODULE_JS;
        else if (ends_with(relname, ".cjs")) type = CORRAL_MODULE_CJS;
        else if (ends_with(relname, ".json")) type = CORRAL_MODULE_JSON;
        else if (ends_with(relname, ".txt") || ends_with(relname, ".html") || ends_with(relname, ".md"))
            type = CORRAL_MODULE_TEXT;
        else continue;
        if (++*count > MAX_FILES) {
            fprintf(stderr, "corral run: more than %d module files under %s\n", MAX_FILES, root);
            r = -2;
            break;
        }
        struct buf b;
        if (read_file(full, &b) < 0) continue;
        *total += b.len;
        corral_code_add_module(code, relname, type, b.p, b.len);
        free(b.p);
    }
    closedir(d);
    return r;
}

/* wrangler.jsonc: comments and trailing commas are removed outside strings. */
static void strip_jsonc(char *s) {
    char *o = s;
    int in_str = 0;
    for (char *p = s; *p;) {
        if (in_str) {
            if (*p == '\\' && p[1]) {
                *o++ = *p++;
                *o++ = *p++;
                continue;
            }
            if (*p == '"') in_str = 0;
            *o++ = *p++;
        } else if (p[0] == '/' && p[1] == '/') {
            while (*p && *p != '\n') p++;
        } else if (p[0] == '/' && p[1] == '*') {
            p += 2;
            while (*p && !(p[0] == '*' && p[1] == '/')) p++;
            if (*p) p += 2;
        } else if (*p == ',') {
            char *q = p + 1;
            while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
            if (*q == '}' || *q == ']') p++;
            else *o++ = *p++;
        } else {
            if (*p == '"') in_str = 1;
            *o++ = *p++;
        }
    }
    *o = 0;
}

struct run_state {
    int json;
    int is_call;
    int exit_code;
    int done;
};

static void print_logs(const corral_result *r) {
    for (size_t i = 0; i < r->log_count; i++)
        fprintf(stderr, "[%s] %s\n", corral_log_level_name(r->logs[i].level), r->logs[i].text);
}

static void on_done(const corral_result *r, void *ud) {
    struct run_state *s = ud;
    s->done = 1;
    int ok = r->outcome == CORRAL_OUTCOME_OK;
    s->exit_code = ok ? 0 : 1;
    if (s->json) {
        json_t *o = json_object();
        json_object_set_new(o, "ok", json_boolean(ok));
        if (ok && s->is_call) {
            json_error_t je;
            json_t *v = r->value_json ? json_loads(r->value_json, JSON_DECODE_ANY, &je) : NULL;
            if (v) json_object_set_new(o, "result", v);
        } else if (ok) {
            json_t *resp = json_object();
            json_object_set_new(resp, "status", json_integer(r->status));
            json_t *h = json_object();
            for (size_t i = 0; i < r->header_count; i++)
                json_object_set_new(h, r->headers[i].name, json_string(r->headers[i].value));
            json_object_set_new(resp, "headers", h);
            json_object_set_new(resp, "body", json_stringn_nocheck((const char *)r->body, r->body_len));
            json_object_set_new(o, "response", resp);
        }
        if (!ok) {
            json_t *e = json_object();
            json_object_set_new(e, "name", json_string(r->error_name ? r->error_name : "Error"));
            json_object_set_new(e, "message", json_string(r->error_message ? r->error_message : ""));
            if (r->error_stack) json_object_set_new(e, "stack", json_string(r->error_stack));
            json_object_set_new(o, "error", e);
        }
        json_t *logs = json_array();
        for (size_t i = 0; i < r->log_count; i++) {
            json_t *l = json_object();
            json_object_set_new(l, "level", json_string(corral_log_level_name(r->logs[i].level)));
            json_object_set_new(l, "message", json_string(r->logs[i].text));
            json_object_set_new(l, "timestamp", json_real(r->logs[i].timestamp_ms));
            json_array_append_new(logs, l);
        }
        json_object_set_new(o, "logs", logs);
        json_object_set_new(o, "outcome", json_string(corral_outcome_name(r->outcome)));
        json_object_set_new(o, "cpuMs", json_real(r->cpu_ms));
        json_object_set_new(o, "wallMs", json_real(r->wall_ms));
        char *text = json_dumps(o, JSON_COMPACT);
        if (text) printf("%s\n", text);
        free(text);
        json_decref(o);
        return;
    }
    print_logs(r);
    if (!ok) {
        fprintf(stderr, "%s: %s\n", r->error_name ? r->error_name : "Error",
                r->error_message ? r->error_message : "");
        return;
    }
    if (s->is_call) {
        printf("%s\n", r->value_json ? r->value_json : "undefined");
    } else {
        fwrite(r->body, 1, r->body_len, stdout);
        if (r->body_len == 0 || r->body[r->body_len - 1] != '\n') putchar('\n');
    }
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || v == 0) return -1;
    *out = v;
    return 0;
}

int tool_run(int argc, char **argv) {
    enum { O_REQUEST = 256, O_HEADER, O_DATA, O_CALL, O_ARGS, O_ENTRY, O_JSON, O_CPU, O_WALL,
           O_MEM, O_VAR, O_NET, O_LOADER, O_DATE, O_ISOLATION, O_TENANT, O_BUSY_POLL, O_HELP };
    static const struct option opts[] = {
        {"request", required_argument, 0, O_REQUEST}, {"header", required_argument, 0, O_HEADER},
        {"data", required_argument, 0, O_DATA},       {"call", required_argument, 0, O_CALL},
        {"args", required_argument, 0, O_ARGS},       {"entrypoint", required_argument, 0, O_ENTRY},
        {"json", no_argument, 0, O_JSON},             {"cpu-ms", required_argument, 0, O_CPU},
        {"wall-ms", required_argument, 0, O_WALL},    {"memory-mb", required_argument, 0, O_MEM},
        {"var", required_argument, 0, O_VAR},         {"allow-net", optional_argument, 0, O_NET},
        {"loader", required_argument, 0, O_LOADER},   {"compatibility-date", required_argument, 0, O_DATE},
        {"isolation", required_argument, 0, O_ISOLATION},
        {"tenant", required_argument, 0, O_TENANT},
        {"busy-poll-us", required_argument, 0, O_BUSY_POLL},
        {"help", no_argument, 0, O_HELP},             {0, 0, 0, 0}};
    const char *request = "GET /", *data = NULL, *call = NULL, *args = "[]", *entry = NULL;
    const char *config = NULL, *date = NULL, *loader_name = NULL, *tenant = NULL;
    const char *headers[64];
    size_t nheaders = 0;
    json_t *vars = json_object();
    corral_options lo;
    corral_options_default(&lo);
    struct run_state st = {0};
    int c, net = 0;
    const char *net_allow = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case O_REQUEST: request = optarg; break;
        case O_HEADER:
            if (nheaders == 64) {
                fprintf(stderr, "corral run: at most 64 --header options\n");
                json_decref(vars);
                return 2;
            }
            headers[nheaders++] = optarg;
            break;
        case O_DATA: data = optarg; break;
        case O_CALL: call = optarg; break;
        case O_ARGS: args = optarg; break;
        case O_ENTRY: entry = optarg; break;
        case O_JSON: st.json = 1; break;
        case O_CPU:
        case O_WALL:
        case O_MEM: {
            uint64_t v;
            if (parse_u64(optarg, &v) < 0) {
                fprintf(stderr, "corral run: %s takes a positive whole number, got '%s'\n",
                        c == O_CPU ? "--cpu-ms" : c == O_WALL ? "--wall-ms" : "--memory-mb", optarg);
                json_decref(vars);
                return 2;
            }
            if (c == O_CPU) lo.limits.cpu_ms = v;
            else if (c == O_WALL) lo.limits.wall_ms = v;
            else lo.limits.memory_bytes = v << 20;
            break;
        }
        case O_VAR: {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                fprintf(stderr, "corral run: --var takes NAME=VALUE, got '%s'\n", optarg);
                json_decref(vars);
                return 2;
            }
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(eq - optarg), optarg);
            json_object_set_new(vars, name, json_string(eq + 1));
            break;
        }
        case O_NET:
            net = 1;
            net_allow = optarg;
            break;
        case O_LOADER: loader_name = optarg; break;
        case O_DATE: date = optarg; break;
        case O_ISOLATION: {
            int mode = corral_isolation_parse(optarg);
            if (mode < 0) {
                fprintf(stderr,
                        "corral run: --isolation takes inline, pool, tenant or process, got '%s'\n",
                        optarg);
                json_decref(vars);
                return 2;
            }
            lo.isolation = (corral_isolation)mode;
            break;
        }
        case O_TENANT: tenant = optarg; break;
        case O_BUSY_POLL:
            if (cm_cli_busy_poll("run", optarg, &lo.busy_poll_us) < 0) {
                json_decref(vars);
                return 2;
            }
            break;
        case O_HELP:
        case 'h': run_usage(stdout); json_decref(vars); return 0;
        default: run_usage(stderr); json_decref(vars); return 2;
        }
    }
    const char *main_path = optind < argc ? argv[optind] : NULL;
    if (!main_path && !config) {
        fprintf(stderr, "corral run: give MAIN.js or -c CONFIG\n");
        run_usage(stderr);
        json_decref(vars);
        return 2;
    }
    corral_code *code = corral_code_new();
    char root[PATH_MAX], main_name[PATH_MAX];
    corral_limits code_limits = {0};
    json_t *cfg = NULL;
    if (config) {
        struct buf b;
        if (read_file(config, &b) < 0) {
            fprintf(stderr, "corral run: cannot read %s: %s\n", config, strerror(errno));
            corral_code_free(code);
            json_decref(vars);
            return 2;
        }
        strip_jsonc(b.p);
        json_error_t je;
        cfg = json_loads(b.p, 0, &je);
        free(b.p);
        if (!cfg || !json_is_object(cfg)) {
            fprintf(stderr, "corral run: %s: %s (line %d, column %d)\n", config,
                    cfg ? "not an object" : je.text, je.line, je.column);
            corral_code_free(code);
            json_decref(vars);
            json_decref(cfg);
            return 2;
        }
        const char *m = json_string_value(json_object_get(cfg, "main"));
        if (!m) {
            fprintf(stderr, "corral run: %s has no \"main\"\n", config);
            corral_code_free(code);
            json_decref(vars);
            json_decref(cfg);
            return 2;
        }
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", config);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else strcpy(dir, ".");
        static char mainbuf[PATH_MAX];
        snprintf(mainbuf, sizeof mainbuf, "%s/%s", dir, m);
        main_path = mainbuf;
        if (!date) date = json_string_value(json_object_get(cfg, "compatibility_date"));
        json_t *v;
        size_t i;
        json_array_foreach(json_object_get(cfg, "compatibility_flags"), i, v)
            if (json_is_string(v)) corral_code_add_compatibility_flag(code, json_string_value(v));
        const char *key;
        json_object_foreach(json_object_get(cfg, "vars"), key, v) json_object_set(vars, key, v);
        json_array_foreach(json_object_get(cfg, "worker_loaders"), i, v) {
            const char *bn = json_string_value(json_object_get(v, "binding"));
            if (bn) corral_code_bind_loader(code, bn);
        }
        json_t *cpu = json_object_get(json_object_get(cfg, "limits"), "cpu_ms");
        if (json_is_integer(cpu) && json_integer_value(cpu) > 0)
            code_limits.cpu_ms = (uint64_t)json_integer_value(cpu);
    }
    if (!realpath(main_path, root)) {
        fprintf(stderr, "corral run: cannot open %s: %s\n", main_path, strerror(errno));
        corral_code_free(code);
        json_decref(vars);
        json_decref(cfg);
        return 2;
    }
    char *slash = strrchr(root, '/');
    snprintf(main_name, sizeof main_name, "%s", slash + 1);
    *slash = 0;
    if (!*root) strcpy(root, "/");
    int count = 0;
    size_t total = 0;
    if (add_folder(code, root, "", &count, &total) < 0) {
        fprintf(stderr, "corral run: cannot read the folder %s\n", root);
        corral_code_free(code);
        json_decref(vars);
        json_decref(cfg);
        return 2;
    }
    corral_code_set_main_module(code, main_name);
    corral_code_set_compatibility_date(code, date ? date : "2026-11-01");
    if (!cfg && !loader_name) corral_code_bind_loader(code, "LOADER");
    if (loader_name) corral_code_bind_loader(code, loader_name);
    char *env_text = json_dumps(vars, JSON_COMPACT);
    corral_error err = {0};
    corral_code_set_env_json(code, env_text, strlen(env_text), &err);
    free(env_text);
    json_decref(vars);
    json_decref(cfg);
    corral_code_set_limits(code, &code_limits);
    if (tenant) corral_code_set_tenant(code, tenant);

    corral_loader *l = corral_loader_new(&lo, &err);
    if (!l) {
        fprintf(stderr, "corral run: %s: %s\n", err.name, err.message);
        corral_code_free(code);
        return 2;
    }
    if (net) {
        if (corral_loader_allow_net(l, net_allow ? net_allow : "*", &err) != CORRAL_OK) {
            fprintf(stderr, "corral run: --allow-net: %s\n", err.message);
            corral_code_free(code);
            corral_loader_free(l);
            return 2;
        }
        corral_code_set_outbound(code, CORRAL_OUTBOUND_HOST);
    }
    corral_worker *w = corral_load(l, code, &err);
    corral_code_free(code);
    if (!w) {
        if (st.json) printf("{\"ok\":false,\"error\":{\"name\":\"%s\",\"message\":\"%s\"}}\n", err.name, err.message);
        fprintf(stderr, "%s: %s\n", err.name, err.message);
        corral_loader_free(l);
        return 1;
    }
    corral_invoke_options io = {.entrypoint = entry};
    int r;
    if (call) {
        st.is_call = 1;
        r = corral_invoke(w, &io, call, args, on_done, &st);
        if (r == CORRAL_EINVAL) fprintf(stderr, "corral run: --args must be a JSON array\n");
    } else {
        char method[16], path[2048];
        if (sscanf(request, "%15s %2047s", method, path) != 2 || path[0] != '/') {
            fprintf(stderr, "corral run: --request takes \"METHOD /path\", got '%s'\n", request);
            corral_worker_release(w);
            corral_loader_free(l);
            return 2;
        }
        char url[2100];
        snprintf(url, sizeof url, "http://localhost%s", path);
        corral_header hs[64];
        char hbuf[64][512];
        for (size_t i = 0; i < nheaders; i++) {
            snprintf(hbuf[i], sizeof hbuf[i], "%s", headers[i]);
            char *colon = strchr(hbuf[i], ':');
            if (!colon) {
                fprintf(stderr, "corral run: --header takes K:V, got '%s'\n", headers[i]);
                corral_worker_release(w);
                corral_loader_free(l);
                return 2;
            }
            *colon = 0;
            char *v = colon + 1;
            while (*v == ' ') v++;
            hs[i].name = hbuf[i];
            hs[i].value = v;
        }
        struct buf body = {0};
        if (data && data[0] == '@') {
            if (read_file(data + 1, &body) < 0) {
                fprintf(stderr, "corral run: cannot read %s: %s\n", data + 1, strerror(errno));
                corral_worker_release(w);
                corral_loader_free(l);
                return 2;
            }
        } else if (data) {
            body.p = strdup(data);
            body.len = strlen(data);
        }
        corral_request req = {.method = method, .url = url, .headers = hs,
                              .header_count = nheaders, .body = (const uint8_t *)body.p,
                              .body_len = body.len};
        r = corral_fetch(w, &io, &req, on_done, &st);
        free(body.p);
    }
    if (r != CORRAL_OK) {
        corral_worker_release(w);
        corral_loader_free(l);
        return 2;
    }
    while (!st.done && corral_loader_step(l, -1) > 0) {
    }
    corral_worker_release(w);
    corral_loader_free(l);
    return st.done ? st.exit_code : 1;
}
