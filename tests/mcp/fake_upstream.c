/* tests/mcp/fake_upstream.c — a small, deliberately plain MCP server over
 * stdio for tests/mcp/test_upstream.c: blocking reads, one message per line,
 * and tools whose only purpose is to make the client's paths happen.
 *
 * Tools: echo {text}; add {a, b} (text and structuredContent); fail (an
 * isError result); slow {ms} (answers after ms, unless cancelled meanwhile —
 * it keeps reading while it waits and notes "cancelled N" on stderr); crash
 * {status} (exits without answering); die (SIGKILLs itself); change (emits
 * notifications/tools/list_changed, after which tools/list also offers
 * "extra"); say {text} (writes text to stderr); garbage (prints a line that
 * is not JSON first); ask (sends ping and roots/list requests to the client
 * and answers with what came back); env {name} (the variable's value);
 * big {n} (a text of n bytes); log (a logging notification first).
 *
 * Options: --version V answers initialize with protocol version V;
 * --exit N exits with status N at once; --stall-init never answers
 * initialize; --paged lists tools in two pages.
 */
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *version = "2025-06-18";
static int stall_init, paged, changed;
static json_t *slow_id; /* the request a slow call will answer */
static long long slow_due;

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void emit(json_t *m) {
    char *s = json_dumps(m, JSON_COMPACT);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(m);
}

static void reply(json_t *id, json_t *result) {
    emit(json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

static json_t *text_result(const char *text, int is_error) {
    return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text, "isError", is_error);
}

static json_t *tool(const char *name, const char *desc) {
    return json_pack("{s:s, s:s, s:{s:s}}", "name", name, "description", desc, "inputSchema", "type", "object");
}

static json_t *tools_page(int page) {
    json_t *a = json_array();
    if (page == 0 || !paged) {
        json_array_append_new(a, tool("echo", "Echo the text"));
        json_array_append_new(a, tool("add", "Add two numbers"));
        json_array_append_new(a, tool("fail", "Always fails"));
    }
    if (page == 1 || !paged) {
        json_array_append_new(a, tool("slow", "Answer after ms"));
        json_array_append_new(a, tool("crash", "Exit"));
        json_array_append_new(a, tool("die", "Kill itself with SIGKILL"));
        json_array_append_new(a, tool("change", "Change the tool list"));
        json_array_append_new(a, tool("say", "Write to stderr"));
        json_array_append_new(a, tool("garbage", "Print lines that are not JSON-RPC"));
        json_array_append_new(a, tool("ask", "Send requests to the client"));
        json_array_append_new(a, tool("env", "Read an environment variable"));
        json_array_append_new(a, tool("big", "Answer n bytes"));
        json_array_append_new(a, tool("log", "Send a logging notification"));
        json_array_append_new(a, json_pack("{s:s}", "description", "no name: skipped by the client"));
        if (changed) json_array_append_new(a, tool("extra", "Appears after change"));
    }
    json_t *r = json_pack("{s:o}", "tools", a);
    if (paged && page == 0) json_object_set_new(r, "nextCursor", json_string("page2"));
    return r;
}

/* Reads one line from stdin (blocking); NULL at end of input. */
static json_t *read_msg(void) {
    static char *line;
    static size_t cap;
    ssize_t n = getline(&line, &cap, stdin);
    if (n <= 0) return NULL;
    json_t *m = json_loads(line, 0, NULL);
    return m ? m : json_object();
}

static void handle(json_t *m);

/* A request to the client; returns its answer (other messages that arrive
 * meanwhile are handled). */
static json_t *ask(const char *id, const char *method) {
    emit(json_pack("{s:s, s:s, s:s}", "jsonrpc", "2.0", "id", id, "method", method));
    for (;;) {
        json_t *m = read_msg();
        if (!m) exit(0);
        const char *got = json_string_value(json_object_get(m, "id"));
        if (got && strcmp(got, id) == 0 && !json_object_get(m, "method"))
            return m;
        handle(m);
        json_decref(m);
    }
}

static void call(json_t *id, json_t *params) {
    const char *name = json_string_value(json_object_get(params, "name"));
    json_t *args = json_object_get(params, "arguments");
    if (!name) name = "";
    if (strcmp(name, "echo") == 0) {
        reply(id, text_result(json_string_value(json_object_get(args, "text")), 0));
    } else if (strcmp(name, "add") == 0) {
        double s = json_number_value(json_object_get(args, "a")) + json_number_value(json_object_get(args, "b"));
        char buf[64];
        snprintf(buf, sizeof buf, "%g", s);
        json_t *r = text_result(buf, 0);
        json_object_set_new(r, "structuredContent", json_pack("{s:f}", "sum", s));
        reply(id, r);
    } else if (strcmp(name, "fail") == 0) {
        reply(id, text_result("boom", 1));
    } else if (strcmp(name, "slow") == 0) {
        slow_id = json_incref(id);
        slow_due = now_ms() + json_integer_value(json_object_get(args, "ms"));
    } else if (strcmp(name, "crash") == 0) {
        exit((int)json_integer_value(json_object_get(args, "status")));
    } else if (strcmp(name, "die") == 0) {
        raise(SIGKILL);
    } else if (strcmp(name, "change") == 0) {
        changed = 1;
        emit(json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", "notifications/tools/list_changed"));
        reply(id, text_result("changed", 0));
    } else if (strcmp(name, "say") == 0) {
        fprintf(stderr, "%s\n", json_string_value(json_object_get(args, "text")));
        fflush(stderr);
        reply(id, text_result("said", 0));
    } else if (strcmp(name, "garbage") == 0) {
        printf("this is not json\n{\"jsonrpc\":\"2.0\"}\n[1,2]\n");
        reply(id, text_result("after garbage", 0));
    } else if (strcmp(name, "ask") == 0) {
        json_t *p = ask("s1", "ping");
        json_t *r = ask("s2", "roots/list");
        char buf[256];
        snprintf(buf, sizeof buf, "ping:%s roots:%lld", json_is_object(json_object_get(p, "result")) ? "ok" : "bad",
                 (long long)json_integer_value(json_object_get(json_object_get(r, "error"), "code")));
        json_decref(p);
        json_decref(r);
        reply(id, text_result(buf, 0));
    } else if (strcmp(name, "env") == 0) {
        const char *v = getenv(json_string_value(json_object_get(args, "name")));
        reply(id, text_result(v ? v : "(unset)", 0));
    } else if (strcmp(name, "big") == 0) {
        size_t n = (size_t)json_integer_value(json_object_get(args, "n"));
        char *s = malloc(n + 1);
        memset(s, 'x', n);
        s[n] = 0;
        reply(id, text_result(s, 0));
        free(s);
    } else if (strcmp(name, "log") == 0) {
        emit(json_pack("{s:s, s:s, s:{s:s, s:s}}", "jsonrpc", "2.0", "method", "notifications/message", "params",
                       "level", "info", "data", "hello from log"));
        reply(id, text_result("logged", 0));
    } else {
        emit(json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id, "error", "code", -32602, "message",
                       "Unknown tool"));
    }
}

static void handle(json_t *m) {
    const char *method = json_string_value(json_object_get(m, "method"));
    json_t *id = json_object_get(m, "id");
    if (!method) return;
    if (strcmp(method, "initialize") == 0) {
        if (stall_init) return;
        reply(id, json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s}}", "protocolVersion", version, "capabilities", "tools",
                            "listChanged", 1, "serverInfo", "name", "fake", "version", "1"));
    } else if (strcmp(method, "tools/list") == 0) {
        const char *cursor = json_string_value(json_object_get(json_object_get(m, "params"), "cursor"));
        reply(id, tools_page(cursor && strcmp(cursor, "page2") == 0));
    } else if (strcmp(method, "tools/call") == 0) {
        call(id, json_object_get(m, "params"));
    } else if (strcmp(method, "notifications/cancelled") == 0) {
        json_t *rid = json_object_get(json_object_get(m, "params"), "requestId");
        fprintf(stderr, "cancelled %lld\n", (long long)json_integer_value(rid));
        fflush(stderr);
        if (slow_id && json_equal(slow_id, rid)) {
            json_decref(slow_id);
            slow_id = NULL;
        }
    } else if (strcmp(method, "notifications/initialized") == 0) {
        fprintf(stderr, "initialized\n");
        fflush(stderr);
    }
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0 && i + 1 < argc) version = argv[++i];
        else if (strcmp(argv[i], "--exit") == 0 && i + 1 < argc) return atoi(argv[++i]);
        else if (strcmp(argv[i], "--stall-init") == 0) stall_init = 1;
        else if (strcmp(argv[i], "--paged") == 0) paged = 1;
    }
    setvbuf(stdin, NULL, _IOLBF, 0);
    for (;;) {
        if (slow_id) {
            long long wait = slow_due - now_ms();
            struct pollfd p = {.fd = 0, .events = POLLIN};
            /* stdin is line-buffered by stdio: poll only when it holds nothing. */
            if (wait > 0 && stdin->_IO_read_ptr >= stdin->_IO_read_end && poll(&p, 1, (int)wait) == 0) wait = 0;
            if (wait <= 0 || slow_due <= now_ms()) {
                json_t *id = slow_id;
                slow_id = NULL;
                reply(id, text_result("slow done", 0));
                json_decref(id);
                continue;
            }
        }
        json_t *m = read_msg();
        if (!m) return 0;
        handle(m);
        json_decref(m);
    }
}
