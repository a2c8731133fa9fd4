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
#include "tool.h"

static void exec_usage(FILE *f) {
    fprintf(f,
            "usage: corral exec [options] (CODE | @FILE | -)\n\n"
            "Runs one program in a fresh sandbox with no network and prints\n"
            "{\"result\", \"error\", \"logs\"} as JSON (result absent when the program\n"
            "returned undefined). Exit 1 when error is set.\n\n"
            "options:\n"
            "  --timeout-ms N   wall time (default 60000)\n"
            "  --cpu-ms N       CPU time (default 30000)\n"
            "  --memory-mb N    heap (default 128)\n"
            "  --max-calls N    tool calls (default 10000)\n");
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
    enum { O_TIMEOUT = 256, O_CPU, O_MEM, O_CALLS, O_HELP };
    static const struct option opts[] = {
        {"timeout-ms", required_argument, 0, O_TIMEOUT}, {"cpu-ms", required_argument, 0, O_CPU},
        {"memory-mb", required_argument, 0, O_MEM},      {"max-calls", required_argument, 0, O_CALLS},
        {"help", no_argument, 0, O_HELP},                {0, 0, 0, 0}};
    corral_limits lim;
    memset(&lim, 0, sizeof lim);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == O_HELP || c == 'h') {
            exec_usage(stdout);
            return 0;
        }
        if (c == '?') {
            exec_usage(stderr);
            return 2;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(optarg, &end, 10);
        if (errno || *end || end == optarg || v == 0) {
            fprintf(stderr, "corral exec: %s takes a positive whole number, got '%s'\n",
                    opts[c - O_TIMEOUT].name, optarg);
            return 2;
        }
        if (c == O_TIMEOUT) lim.wall_ms = v;
        else if (c == O_CPU) lim.cpu_ms = v;
        else if (c == O_MEM) lim.memory_bytes = v << 20;
        else lim.calls = v;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "corral exec: give exactly one program: CODE, @FILE or -\n");
        exec_usage(stderr);
        return 2;
    }
    const char *arg = argv[optind];
    char *code;
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
    corral_error err;
    corral_loader *l = corral_loader_new(NULL, &err);
    if (!l) {
        free(code);
        fprintf(stderr, "corral exec: %s: %s\n", err.name, err.message);
        return 2;
    }
    struct exec_state st = {0};
    int r = corral_execute(l, code, NULL, 0, &lim, on_exec, &st);
    free(code);
    while (r == CORRAL_OK && !st.done && corral_loader_step(l, -1) > 0) {
    }
    corral_loader_free(l);
    if (r != CORRAL_OK || !st.done) {
        fprintf(stderr, "corral exec: the program could not be started (status %d)\n", r);
        return 2;
    }
    return st.failed ? 1 : 0;
}
