/* `corral exec`: run one Code Mode program and print {result, error, logs}
 * as JSON — for scripts, CI and debugging. The program is what a model
 * would send to the code tool: an async arrow function, statements or an
 * expression, optionally in a markdown fence. Exit status 0 when it
 * returned, 1 when it failed, 2 for usage and file errors.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corral.h"
#include "cm_cli.h"
#include "tool.h"

static void exec_usage(FILE *f) {
    fprintf(f,
            "usage: corral exec [options] (CODE | @FILE | -)\n"
            "       corral exec [options] --types\n\n"
            "Runs one program in a fresh sandbox with no network, the tools of the given\n"
            "upstreams (or OpenAPI API) in reach, and prints {\"result\", \"error\", \"logs\"}\n"
            "as JSON (result absent when the program returned undefined). Exit 1 when\n"
            "error is set, 2 for usage and start-up errors.\n\n"
            "options:\n%s"
            "  --mode search|execute    OpenAPI mode: which tool runs the program (default\n"
            "                           execute; search has codemode.spec() only)\n"
            "  --types                  print the TypeScript declarations programs see\n",
            cm_cli_help);
}

static char *read_all(FILE *f, size_t max) {
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 1 >= cap) {
            if (cap >= max) {
                free(buf);
                errno = EFBIG;
                return NULL;
            }
            char *n = realloc(buf, cap * 2);
            if (!n) break;
            buf = n;
            cap *= 2;
        }
        size_t r = fread(buf + len, 1, cap - len - 1, f);
        len += r;
        if (r == 0) {
            buf[len] = 0;
            return buf;
        }
    }
    free(buf);
    return NULL;
}

struct exec_state {
    int done, failed;
};

static void on_exec(const corral_exec_result *r, void *ud) {
    struct exec_state *s = ud;
    s->done = 1;
    s->failed = r->error != NULL;
    json_t *o = json_object();
    if (r->result_json) {
        json_error_t je;
        json_t *v = json_loads(r->result_json, JSON_DECODE_ANY, &je);
        json_object_set_new(o, "result", v ? v : json_string(r->result_json));
    }
    if (r->error) json_object_set_new(o, "error", json_string(r->error));
    json_t *logs = json_array();
    for (size_t i = 0; i < r->log_count; i++) json_array_append_new(logs, json_string(r->logs[i]));
    json_object_set_new(o, "logs", logs);
    char *text = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text) printf("%s\n", text);
    free(text);
    json_decref(o);
}

int tool_exec(int argc, char **argv) {
    enum { O_MODE = CM_OPT_END, O_TYPES, O_HELP };
    static const struct option opts[] = {CM_CLI_LONG_OPTIONS,
                                         {"mode", required_argument, 0, O_MODE},
                                         {"types", no_argument, 0, O_TYPES},
                                         {"help", no_argument, 0, O_HELP},
                                         {0, 0, 0, 0}};
    struct cm_cli o;
    memset(&o, 0, sizeof o);
    o.cmd = "exec";
    const char *mode = NULL;
    int types = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hc:", opts, NULL)) != -1) {
        int t = cm_cli_take(&o, c, optarg);
        if (t < 0) return 2;
        if (t > 0) continue;
        if (c == O_HELP || c == 'h') {
            exec_usage(stdout);
            return 0;
        }
        if (c == O_MODE) {
            if (strcmp(optarg, "search") && strcmp(optarg, "execute")) {
                fprintf(stderr, "corral exec: --mode is search or execute, got '%s'\n", optarg);
                return 2;
            }
            mode = optarg;
            continue;
        }
        if (c == O_TYPES) {
            types = 1;
            continue;
        }
        exec_usage(stderr);
        return 2;
    }
    if (mode && !o.openapi) {
        fprintf(stderr, "corral exec: --mode applies to --openapi only\n");
        return 2;
    }
    if (types ? optind != argc : optind != argc - 1) {
        fprintf(stderr, types ? "corral exec: --types takes no program\n"
                              : "corral exec: give exactly one program: CODE, @FILE or -\n");
        exec_usage(stderr);
        return 2;
    }
    char *code = NULL;
    if (!types) {
        const char *arg = argv[optind];
        if (strcmp(arg, "-") == 0) {
            code = read_all(stdin, 64u << 20);
        } else if (arg[0] == '@') {
            FILE *f = fopen(arg + 1, "rb");
            if (!f) {
                fprintf(stderr, "corral exec: cannot read %s: %s\n", arg + 1, strerror(errno));
                return 2;
            }
            code = read_all(f, 64u << 20);
            fclose(f);
        } else {
            code = strdup(arg);
        }
        if (!code) {
            fprintf(stderr, "corral exec: cannot read the program: %s\n", strerror(errno));
            return 2;
        }
    }
    corral_loader *l;
    corral_mcp *m = cm_cli_service(&o, &l);
    if (!m) {
        free(code);
        return 2;
    }
    int status = 0;
    if (types) {
        char *decl = corral_mcp_types(m);
        if (decl) printf("%s\n", decl);
        else status = 2;
        free(decl);
    } else {
        struct exec_state st = {0};
        int r = corral_mcp_exec(m, o.openapi ? (mode ? mode : "execute") : "code", code, on_exec, &st);
        if (r != CORRAL_OK || !st.done) {
            fprintf(stderr, "corral exec: the program could not be started (status %d)\n", r);
            status = 2;
        } else {
            status = st.failed ? 1 : 0;
        }
    }
    free(code);
    corral_mcp_free(m);
    corral_loader_free(l);
    return status;
}
