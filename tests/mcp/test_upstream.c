/* Tests of corral's MCP client side (lib/mcp/upstream*.c, mcpconfig.c):
 * --upstream parsing and shell word splitting, mcpServers files, and real
 * conversations with upstream servers.
 *
 * The stdio upstream is tests/mcp/fake_upstream, built next to this program;
 * its tools make each path happen (a slow call, a crash, a list change,
 * garbage on stdout, requests back to the client). The HTTP upstream is a
 * small server on a thread of this process, on 127.0.0.1 at a port the
 * kernel picks, that answers one connection at a time with JSON or with
 * server-sent events and records what it was sent.
 *
 * Output the upstream writes to stderr is checked by pointing fd 2 at a
 * temporary file for the duration of a case.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "mcp/stderr_sink.h"
#include "mcp/upstream.h"

/* ---- helpers -------------------------------------------------------------- */

static char fake_path[PATH_MAX];

static const char *fake(void) {
    if (!fake_path[0]) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = 0;
        snprintf(fake_path, sizeof fake_path, "%s/fake_upstream", dirname(self));
    }
    return fake_path;
}

struct outcome {
    int done;
    char *error;
    json_t *result;
};

static void on_done(json_t *result, const char *error, void *ud) {
    struct outcome *o = ud;
    o->done++;
    o->result = result ? json_incref(result) : NULL;
    o->error = error ? strdup(error) : NULL;
}

static void outcome_clear(struct outcome *o) {
    free(o->error);
    json_decref(o->result);
    memset(o, 0, sizeof *o);
}

static void run_until(net_reactor *r, const int *flag, int ms) {
    uint64_t end = net_now_ms() + (uint64_t)ms;
    while (!*flag && net_now_ms() < end) net_reactor_run_once(r, 20);
}

static void run_for(net_reactor *r, int ms) {
    uint64_t end = net_now_ms() + (uint64_t)ms;
    while (net_now_ms() < end) net_reactor_run_once(r, 10);
}

static int events;
static void on_event(mcp_upstream *u, void *ud) { events++; }

static mcp_upstream *start_fake(net_reactor *r, const char *const *extra) {
    mcp_upstream_spec s = {0};
    const char *argv[8] = {fake()};
    size_t n = 1;
    while (extra && extra[n - 1] && n < 7) {
        argv[n] = extra[n - 1];
        n++;
    }
    s.name = "fake";
    s.argv = (char **)argv;
    s.argc = n;
    events = 0;
    mcp_upstream *u = mcp_upstream_new(r, &s, on_event, NULL);
    if (u) mcp_upstream_start(u);
    return u;
}

static const char *text_of(json_t *result) {
    return json_string_value(json_object_get(json_array_get(json_object_get(result, "content"), 0), "text"));
}

/* Starts a call (args are consumed). */
static mcp_upstream_req *call_async(mcp_upstream *u, const char *tool, json_t *args, uint64_t timeout,
                                    struct outcome *o) {
    mcp_upstream_req *q = mcp_upstream_call(u, tool, args, timeout, on_done, o);
    json_decref(args);
    return q;
}

/* Calls a tool and waits for its outcome. */
static void call_sync(net_reactor *r, mcp_upstream *u, const char *tool, json_t *args, uint64_t timeout,
                      struct outcome *o) {
    memset(o, 0, sizeof *o);
    mcp_upstream_call(u, tool, args, timeout, on_done, o);
    run_until(r, &o->done, 10000);
    json_decref(args);
}

static int has_tool(mcp_upstream *u, const char *name) {
    size_t i;
    json_t *t;
    json_array_foreach((json_t *)mcp_upstream_tools(u), i, t) {
        if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0) return 1;
    }
    return 0;
}

/* stderr capture */
static int saved_fd = -1;
static char cap_path[64];

static void cap_begin(void) {
    fflush(stderr);
    strcpy(cap_path, "/tmp/corral-upstream-XXXXXX");
    int fd = mkstemp(cap_path);
    saved_fd = dup(2);
    dup2(fd, 2);
    close(fd);
}

static char *cap_end(void) {
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    FILE *f = fopen(cap_path, "r");
    char *buf = calloc(1, 1 << 20);
    size_t n = f ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
    unlink(cap_path);
    return buf;
}

/* ---- --upstream parsing ------------------------------------------------------ */

TEST(spec_parse_simple_command) {
    mcp_upstream_spec s;
    char err[256];
    CHECK_EQ_INT(mcp_upstream_spec_parse("fs=npx -y  @mcp/server-filesystem /tmp", &s, err, sizeof err), 0);
    CHECK_EQ_STR(s.name, "fs");
    CHECK_EQ_INT(s.argc, 4);
    CHECK_EQ_STR(s.argv[0], "npx");
    CHECK_EQ_STR(s.argv[2], "@mcp/server-filesystem");
    CHECK_EQ_STR(s.argv[3], "/tmp");
    CHECK(s.argv[4] == NULL);
    CHECK(s.url == NULL);
    mcp_upstream_spec_clear(&s);
}

TEST(spec_parse_quotes_and_escapes) {
    mcp_upstream_spec s;
    char err[256];
    CHECK_EQ_INT(mcp_upstream_spec_parse("x=cmd 'a b' \"c \\\"d\\\" \\$e \\q\" f\\ g '' \"\" mi'x'\"ed\"", &s, err,
                                         sizeof err),
                 0);
    CHECK_EQ_INT(s.argc, 7);
    if (s.argc == 7) {
        CHECK_EQ_STR(s.argv[1], "a b");
        CHECK_EQ_STR(s.argv[2], "c \"d\" $e \\q");
        CHECK_EQ_STR(s.argv[3], "f g");
        CHECK_EQ_STR(s.argv[4], "");
        CHECK_EQ_STR(s.argv[5], "");
        CHECK_EQ_STR(s.argv[6], "mixed");
    }
    mcp_upstream_spec_clear(&s);
}

TEST(spec_parse_no_expansion) {
    mcp_upstream_spec s;
    char err[256];
    CHECK_EQ_INT(mcp_upstream_spec_parse("x=echo $HOME * ~ `id` 'it''s' a\\\nb", &s, err, sizeof err), 0);
    CHECK_EQ_INT(s.argc, 7);
    if (s.argc == 7) {
        CHECK_EQ_STR(s.argv[1], "$HOME");
        CHECK_EQ_STR(s.argv[2], "*");
        CHECK_EQ_STR(s.argv[3], "~");
        CHECK_EQ_STR(s.argv[4], "`id`");
        CHECK_EQ_STR(s.argv[5], "its");
        CHECK_EQ_STR(s.argv[6], "ab");
    }
    mcp_upstream_spec_clear(&s);
}

TEST(spec_parse_url) {
    mcp_upstream_spec s;
    char err[256];
    CHECK_EQ_INT(mcp_upstream_spec_parse("api=https://example.com/mcp?x=1", &s, err, sizeof err), 0);
    CHECK_EQ_STR(s.name, "api");
    CHECK_EQ_STR(s.url, "https://example.com/mcp?x=1");
    CHECK(s.argv == NULL);
    mcp_upstream_spec_clear(&s);
    CHECK_EQ_INT(mcp_upstream_spec_parse("h=HTTP://127.0.0.1:8080/", &s, err, sizeof err), 0);
    CHECK_EQ_STR(s.url, "HTTP://127.0.0.1:8080/");
    mcp_upstream_spec_clear(&s);
}

TEST(spec_parse_errors) {
    static const struct {
        const char *arg, *want;
    } cases[] = {
        {"noequals", "expected NAME=COMMAND or NAME=URL"},
        {"=cmd", "empty upstream name"},
        {"x=", "empty command"},
        {"x=   ", "empty command"},
        {"x=cmd 'open", "unterminated single quote in command (opened at offset 4)"},
        {"x=cmd \"open", "unterminated double quote in command (opened at offset 4)"},
        {"x=cmd arg\\", "lone backslash"},
        {"x=cmd | other", "unquoted '|' in command at offset 4"},
        {"x=cmd; rm", "unquoted ';'"},
        {"x=cmd > out", "unquoted '>'"},
        {"x=https://a b", "URL contains a space"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mcp_upstream_spec s;
        char err[256] = "";
        CHECK_EQ_INT(mcp_upstream_spec_parse(cases[i].arg, &s, err, sizeof err), -1);
        CHECK_CONTAINS(err, cases[i].want);
        CHECK(s.name == NULL && s.argv == NULL);
    }
    char longname[300];
    memset(longname, 'n', 200);
    strcpy(longname + 200, "=cmd");
    mcp_upstream_spec s;
    char err[256];
    CHECK_EQ_INT(mcp_upstream_spec_parse(longname, &s, err, sizeof err), -1);
    CHECK_CONTAINS(err, "200 bytes long, limit 128");
}

TEST(spec_parse_quoted_operators_allowed) {
    mcp_upstream_spec s;
    char err[256];
    CHECK_EQ_INT(mcp_upstream_spec_parse("x=sh -c 'a | b; c > d' \\&", &s, err, sizeof err), 0);
    CHECK_EQ_INT(s.argc, 4);
    if (s.argc == 4) {
        CHECK_EQ_STR(s.argv[2], "a | b; c > d");
        CHECK_EQ_STR(s.argv[3], "&");
    }
    mcp_upstream_spec_clear(&s);
}

/* ---- mcpServers files --------------------------------------------------------- */

static char *write_tmp(const char *text) {
    static char path[64];
    strcpy(path, "/tmp/corral-mcpcfg-XXXXXX");
    int fd = mkstemp(path);
    ssize_t w = write(fd, text, strlen(text));
    (void)w;
    close(fd);
    return path;
}

TEST(config_good) {
    const char *path = write_tmp(
        "{\"mcpServers\": {"
        " \"fs\": {\"command\": \"npx\", \"args\": [\"-y\", \"server-fs\", \"/tmp\"], \"env\": {\"A\": \"1\"},"
        "         \"disabled\": false, \"alwaysAllow\": []},"
        " \"web\": {\"type\": \"streamable-http\", \"url\": \"https://x.example/mcp\","
        "          \"headers\": {\"Authorization\": \"Bearer t\"}},"
        " \"plain\": {\"type\": \"stdio\", \"command\": \"srv\"},"
        " \"h\": {\"type\": \"http\", \"url\": \"http://127.0.0.1:1/mcp\"}"
        "}, \"other\": 1}");
    mcp_upstream_spec *specs;
    size_t n;
    char err[512] = "";
    CHECK_EQ_INT(mcp_config_load(path, &specs, &n, err, sizeof err), 0);
    CHECK_EQ_STR(err, "");
    CHECK_EQ_INT(n, 4);
    if (n == 4) {
        CHECK_EQ_STR(specs[0].name, "fs");
        CHECK_EQ_INT(specs[0].argc, 4);
        CHECK_EQ_STR(specs[0].argv[0], "npx");
        CHECK_EQ_STR(specs[0].argv[3], "/tmp");
        CHECK_EQ_INT(specs[0].envc, 1);
        CHECK_EQ_STR(specs[0].env[0], "A=1");
        CHECK_EQ_STR(specs[1].name, "web");
        CHECK_EQ_STR(specs[1].url, "https://x.example/mcp");
        CHECK_EQ_INT(specs[1].headerc, 1);
        CHECK_EQ_STR(specs[1].headers[0], "Authorization: Bearer t");
        CHECK_EQ_STR(specs[2].argv[0], "srv");
        CHECK_EQ_INT(specs[2].argc, 1);
        CHECK_EQ_STR(specs[3].url, "http://127.0.0.1:1/mcp");
    }
    for (size_t i = 0; i < n; i++) mcp_upstream_spec_clear(&specs[i]);
    free(specs);
    unlink(path);
}

TEST(config_empty_servers) {
    const char *path = write_tmp("{\"mcpServers\": {}}");
    mcp_upstream_spec *specs;
    size_t n = 9;
    char err[512];
    CHECK_EQ_INT(mcp_config_load(path, &specs, &n, err, sizeof err), 0);
    CHECK_EQ_INT(n, 0);
    free(specs);
    unlink(path);
}

static void config_bad(const char *text, const char *want) {
    const char *path = write_tmp(text);
    mcp_upstream_spec *specs = (void *)1;
    size_t n = 9;
    char err[512] = "";
    CHECK_EQ_INT(mcp_config_load(path, &specs, &n, err, sizeof err), -1);
    CHECK_CONTAINS(err, want);
    CHECK_CONTAINS(err, path);
    CHECK(specs == NULL && n == 0);
    unlink(path);
}

TEST(config_bad_json_and_shape) {
    config_bad("{\"mcpServers\": {", "line 1 column");
    config_bad("[]", "expected an object with a \"mcpServers\" field");
    config_bad("{\"servers\": {}}", "expected an object with a \"mcpServers\" field");
    config_bad("{\"mcpServers\": []}", "\"mcpServers\" must be an object");
    config_bad("{\"mcpServers\": {\"a\": 3}}", "server \"a\" must be an object");
    config_bad("{\"mcpServers\": {\"a\": {\"command\": \"x\"}, \"a\": {\"command\": \"y\"}}}", "duplicate");
}

TEST(config_bad_command_fields) {
    config_bad("{\"mcpServers\": {\"fs\": {\"command\": 5}}}", "server \"fs\": \"command\" must be a non-empty string");
    config_bad("{\"mcpServers\": {\"fs\": {\"command\": \"\"}}}", "\"command\" must be a non-empty string");
    config_bad("{\"mcpServers\": {\"fs\": {\"command\": \"x\", \"args\": \"-y\"}}}",
               "server \"fs\": \"args\" must be an array of strings");
    config_bad("{\"mcpServers\": {\"fs\": {\"command\": \"x\", \"args\": [\"a\", 2]}}}",
               "server \"fs\": \"args\"[1] must be a string");
    config_bad("{\"mcpServers\": {\"fs\": {\"command\": \"x\", \"env\": [\"A=1\"]}}}",
               "server \"fs\": \"env\" must be an object of strings");
    config_bad("{\"mcpServers\": {\"fs\": {\"command\": \"x\", \"env\": {\"A\": 1}}}}",
               "server \"fs\": \"env\".\"A\" must be a string");
    config_bad("{\"mcpServers\": {\"fs\": {\"command\": \"x\", \"env\": {\"A=B\": \"1\"}}}}",
               "\"env\" has an invalid name \"A=B\"");
}

TEST(config_bad_url_fields) {
    config_bad("{\"mcpServers\": {\"w\": {\"url\": \"ftp://x\"}}}",
               "server \"w\": \"url\" must be a string starting with http:// or https://");
    config_bad("{\"mcpServers\": {\"w\": {\"url\": 1}}}", "\"url\" must be a string");
    config_bad("{\"mcpServers\": {\"w\": {\"url\": \"http://x\", \"headers\": [\"A: b\"]}}}",
               "server \"w\": \"headers\" must be an object of strings");
    config_bad("{\"mcpServers\": {\"w\": {\"url\": \"http://x\", \"headers\": {\"A\": \"b\\r\\nEvil: 1\"}}}}",
               "\"headers\".\"A\" contains a line break");
    config_bad("{\"mcpServers\": {\"w\": {\"url\": \"http://x\", \"headers\": {\"A B\": \"c\"}}}}",
               "\"headers\" has an invalid name \"A B\"");
}

TEST(config_bad_type_combinations) {
    config_bad("{\"mcpServers\": {\"w\": {\"url\": \"http://x\", \"command\": \"y\"}}}",
               "server \"w\" has both \"command\" and \"url\"");
    config_bad("{\"mcpServers\": {\"w\": {\"args\": []}}}", "server \"w\" needs \"command\" (stdio) or \"url\" (HTTP)");
    config_bad("{\"mcpServers\": {\"w\": {\"type\": \"sse\", \"url\": \"http://x\"}}}", "\"sse\"");
    config_bad("{\"mcpServers\": {\"w\": {\"type\": \"ws\", \"url\": \"http://x\"}}}", "unknown \"type\" \"ws\"");
    config_bad("{\"mcpServers\": {\"w\": {\"type\": 3, \"url\": \"http://x\"}}}", "\"type\" must be a string");
    config_bad("{\"mcpServers\": {\"w\": {\"type\": \"stdio\", \"url\": \"http://x\"}}}",
               "\"type\" is \"stdio\" but it has a \"url\"");
    config_bad("{\"mcpServers\": {\"w\": {\"type\": \"http\", \"command\": \"x\"}}}",
               "\"type\" is HTTP but it has a \"command\"");
}

TEST(config_missing_file) {
    mcp_upstream_spec *specs;
    size_t n;
    char err[512] = "";
    CHECK_EQ_INT(mcp_config_load("/nonexistent/corral.json", &specs, &n, err, sizeof err), -1);
    CHECK_CONTAINS(err, "/nonexistent/corral.json: No such file or directory");
    CHECK_EQ_INT(mcp_config_load("/tmp", &specs, &n, err, sizeof err), -1);
    CHECK_CONTAINS(err, "is a directory");
}

/* ---- stdio upstreams ------------------------------------------------------------ */

TEST(stdio_start_and_list) {
    net_reactor *r = net_reactor_new(NULL);
    mcp_upstream *u = start_fake(r, NULL);
    CHECK_EQ_INT(mcp_upstream_ready(u), 0);
    CHECK_EQ_INT(mcp_upstreams_wait_ready(r, &u, 1, 10000), 1);
    CHECK_EQ_INT(mcp_upstream_ready(u), 1);
    CHECK(mcp_upstream_error(u) == NULL);
    CHECK_EQ_STR(mcp_upstream_name(u), "fake");
    CHECK_EQ_STR(mcp_upstream_protocol_version(u), "2025-06-18");
    const json_t *tools = mcp_upstream_tools(u);
    CHECK_EQ_INT(json_array_size(tools), 13); /* the nameless entry is skipped */
    CHECK(has_tool(u, "echo") && has_tool(u, "add") && has_tool(u, "slow"));
    json_t *echo = json_array_get(tools, 0);
    CHECK_EQ_STR(json_string_value(json_object_get(echo, "description")), "Echo the text");
    CHECK(json_is_object(json_object_get(echo, "inputSchema")));
    CHECK_EQ_INT(events, 1);
    CHECK_EQ_INT(mcp_upstream_start(u), -1);
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(stdio_call_echo_and_add) {
    net_reactor *r = net_reactor_new(NULL);
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome o;
    call_sync(r, u, "echo", json_pack("{s:s}", "text", "hi there"), 5000, &o);
    CHECK_EQ_INT(o.done, 1);
    CHECK(o.error == NULL);
    CHECK_EQ_STR(text_of(o.result), "hi there");
    outcome_clear(&o);
    call_sync(r, u, "add", json_pack("{s:i, s:i}", "a", 2, "b", 3), 5000, &o);
    CHECK_EQ_STR(text_of(o.result), "5");
    CHECK(json_real_value(json_object_get(json_object_get(o.result, "structuredContent"), "sum")) == 5.0);
    outcome_clear(&o);
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(stdio_concurrent_calls) {
    net_reactor *r = net_reactor_new(NULL);
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome o[20];
    memset(o, 0, sizeof o);
    for (int i = 0; i < 20; i++) {
        char text[16];
        snprintf(text, sizeof text, "n%d", i);
        json_t *a = json_pack("{s:s}", "text", text);
        mcp_upstream_call(u, "echo", a, 5000, on_done, &o[i]);
        json_decref(a);
    }
    run_until(r, &o[19].done, 5000);
    for (int i = 0; i < 20; i++) {
        char text[16];
        snprintf(text, sizeof text, "n%d", i);
        CHECK_EQ_INT(o[i].done, 1);
        CHECK_EQ_STR(text_of(o[i].result), text);
        outcome_clear(&o[i]);
    }
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(stdio_is_error_result_passed_through) {
    net_reactor *r = net_reactor_new(NULL);
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome o;
    call_sync(r, u, "fail", NULL, 5000, &o);
    CHECK(o.error == NULL);
    CHECK(json_is_true(json_object_get(o.result, "isError")));
    CHECK_EQ_STR(text_of(o.result), "boom");
    outcome_clear(&o);
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(stdio_jsonrpc_error) {
    net_reactor *r = net_reactor_new(NULL);
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome o;
    call_sync(r, u, "nope", NULL, 5000, &o);
    CHECK(o.result == NULL);
    CHECK_EQ_STR(o.error, "upstream \"fake\" tool \"nope\" failed: Unknown tool (code -32602)");
    outcome_clear(&o);
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(stdio_timeout_sends_cancelled) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome o;
    uint64_t t0 = net_now_ms();
    call_sync(r, u, "slow", json_pack("{s:i}", "ms", 5000), 200, &o);
    uint64_t took = net_now_ms() - t0;
    CHECK_EQ_STR(o.error, "upstream \"fake\" tool \"slow\" timed out after 200 ms");
    CHECK(took < 2000);
    outcome_clear(&o);
    call_sync(r, u, "echo", json_pack("{s:s}", "text", "still here"), 5000, &o);
    CHECK_EQ_STR(text_of(o.result), "still here");
    outcome_clear(&o);
    mcp_upstream_free(u);
    char *err = cap_end();
    CHECK_CONTAINS(err, "[fake] cancelled 3");
    CHECK_CONTAINS(err, "[fake] initialized");
    free(err);
    net_reactor_free(r);
}

TEST(stdio_cancel_does_not_call_done) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome slow = {0}, o;
    mcp_upstream_req *q = call_async(u, "slow", json_pack("{s:i}", "ms", 300), 0, &slow);
    CHECK(q != NULL);
    run_for(r, 50);
    mcp_upstream_cancel(q);
    call_sync(r, u, "echo", json_pack("{s:s}", "text", "x"), 5000, &o);
    CHECK_EQ_STR(text_of(o.result), "x");
    outcome_clear(&o);
    run_for(r, 500);
    CHECK_EQ_INT(slow.done, 0);
    mcp_upstream_free(u);
    char *err = cap_end();
    CHECK_CONTAINS(err, "[fake] cancelled 3");
    free(err);
    net_reactor_free(r);
}

TEST(stdio_crash_fails_pending_then_restarts) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome slow = {0}, o;
    call_async(u, "slow", json_pack("{s:i}", "ms", 5000), 0, &slow);
    int before = events;
    call_sync(r, u, "crash", json_pack("{s:i}", "status", 3), 5000, &o);
    CHECK_EQ_STR(o.error, "upstream \"fake\" exited (status 3)");
    outcome_clear(&o);
    run_until(r, &slow.done, 2000);
    CHECK_EQ_STR(slow.error, "upstream \"fake\" exited (status 3)");
    outcome_clear(&slow);
    CHECK_EQ_INT(mcp_upstream_ready(u), -1);
    CHECK_EQ_STR(mcp_upstream_error(u), "upstream \"fake\" exited (status 3)");
    CHECK_EQ_INT(events, before + 1);
    CHECK(json_array_size(mcp_upstream_tools(u)) == 13); /* the last listing stays */
    /* While it is down, calls fail at once (asynchronously) and clearly. */
    memset(&o, 0, sizeof o);
    mcp_upstream_call(u, "echo", NULL, 5000, on_done, &o);
    CHECK_EQ_INT(o.done, 0);
    run_until(r, &o.done, 50);
    CHECK_EQ_INT(o.done, 1);
    CHECK_CONTAINS(o.error, "upstream \"fake\" exited (status 3); tool \"echo\" is unavailable until it restarts");
    outcome_clear(&o);
    /* It comes back after the backoff. */
    uint64_t end = net_now_ms() + 5000;
    while (mcp_upstream_ready(u) != 1 && net_now_ms() < end) net_reactor_run_once(r, 20);
    CHECK_EQ_INT(mcp_upstream_ready(u), 1);
    CHECK(mcp_upstream_error(u) == NULL);
    call_sync(r, u, "echo", json_pack("{s:s}", "text", "back"), 5000, &o);
    CHECK_EQ_STR(text_of(o.result), "back");
    outcome_clear(&o);
    mcp_upstream_free(u);
    char *err = cap_end();
    CHECK_CONTAINS(err, "[fake] upstream \"fake\" exited (status 3); restarting in 100 ms");
    CHECK(strstr(err, "restarting in 200 ms") == NULL);
    free(err);
    net_reactor_free(r);
}

TEST(stdio_killed_by_signal) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome o;
    call_sync(r, u, "die", NULL, 5000, &o);
    CHECK_EQ_STR(o.error, "upstream \"fake\" killed by signal 9");
    outcome_clear(&o);
    mcp_upstream_free(u);
    free(cap_end());
    net_reactor_free(r);
}

TEST(stdio_list_changed_refreshes) {
    net_reactor *r = net_reactor_new(NULL);
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    CHECK(!has_tool(u, "extra"));
    struct outcome o;
    call_sync(r, u, "change", NULL, 5000, &o);
    CHECK_EQ_STR(text_of(o.result), "changed");
    outcome_clear(&o);
    uint64_t end = net_now_ms() + 3000;
    while (events < 2 && net_now_ms() < end) net_reactor_run_once(r, 20);
    CHECK_EQ_INT(events, 2);
    CHECK(has_tool(u, "extra"));
    CHECK_EQ_INT(json_array_size(mcp_upstream_tools(u)), 14);
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(stdio_stderr_forwarded_with_name) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome o;
    call_sync(r, u, "say", json_pack("{s:s}", "text", "hello there"), 5000, &o);
    outcome_clear(&o);
    char long_line[3000];
    memset(long_line, 'L', sizeof long_line - 1);
    long_line[sizeof long_line - 1] = 0;
    call_sync(r, u, "say", json_pack("{s:s}", "text", long_line), 5000, &o);
    outcome_clear(&o);
    run_for(r, 100);
    mcp_upstream_free(u);
    char *err = cap_end();
    CHECK_CONTAINS(err, "[fake] hello there\n");
    /* A 2999-byte line is cut at MCP_STDERR_LINE_MAX with a marker, and
     * its rest is skipped rather than forwarded as lines of its own. */
    char piece[MCP_STDERR_LINE_MAX + 100] = "\n[fake] ";
    memset(piece + 8, 'L', MCP_STDERR_LINE_MAX);
    snprintf(piece + 8 + MCP_STDERR_LINE_MAX, 60, " [corral: line cut at 2048 bytes]\n");
    CHECK_CONTAINS(err, piece);
    CHECK(strstr(err, "\n[fake] L") == strstr(err, piece));
    CHECK(strstr(err, "\nL") == NULL);
    free(err);
    net_reactor_free(r);
}

TEST(stdio_malformed_lines_ignored) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome o;
    for (int i = 0; i < 3; i++) {
        call_sync(r, u, "garbage", NULL, 5000, &o);
        CHECK_EQ_STR(text_of(o.result), "after garbage");
        outcome_clear(&o);
    }
    mcp_upstream_free(u);
    char *err = cap_end();
    CHECK_CONTAINS(err, "[fake] ignored a malformed message (not JSON: \"this is not json\")");
    CHECK_CONTAINS(err, "further ones are not reported");
    /* Bounded: 3 calls x 3 bad messages, but only 5 notes. */
    int notes = 0;
    for (const char *p = err; (p = strstr(p, "ignored a malformed")); p++) notes++;
    CHECK_EQ_INT(notes, 5);
    free(err);
    net_reactor_free(r);
}

TEST(stdio_answers_server_requests) {
    net_reactor *r = net_reactor_new(NULL);
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome o;
    call_sync(r, u, "ask", NULL, 5000, &o);
    CHECK_EQ_STR(text_of(o.result), "ping:ok roots:-32601");
    outcome_clear(&o);
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(stdio_logging_notification) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome o;
    call_sync(r, u, "log", NULL, 5000, &o);
    CHECK_EQ_STR(text_of(o.result), "logged");
    outcome_clear(&o);
    mcp_upstream_free(u);
    char *err = cap_end();
    CHECK_CONTAINS(err, "[fake] info: hello from log");
    free(err);
    net_reactor_free(r);
}

TEST(stdio_env_added) {
    net_reactor *r = net_reactor_new(NULL);
    setenv("CORRAL_TEST_KEEP", "kept", 1);
    setenv("CORRAL_TEST_OVER", "old", 1);
    const char *argv[] = {fake(), NULL};
    char *env[] = {"CORRAL_TEST_NEW=new value", "CORRAL_TEST_OVER=new", NULL};
    mcp_upstream_spec s = {.name = "fake", .argv = (char **)argv, .argc = 1, .env = env, .envc = 2};
    mcp_upstream *u = mcp_upstream_new(r, &s, NULL, NULL);
    mcp_upstream_start(u);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome o;
    call_sync(r, u, "env", json_pack("{s:s}", "name", "CORRAL_TEST_NEW"), 5000, &o);
    CHECK_EQ_STR(text_of(o.result), "new value");
    outcome_clear(&o);
    call_sync(r, u, "env", json_pack("{s:s}", "name", "CORRAL_TEST_OVER"), 5000, &o);
    CHECK_EQ_STR(text_of(o.result), "new");
    outcome_clear(&o);
    call_sync(r, u, "env", json_pack("{s:s}", "name", "CORRAL_TEST_KEEP"), 5000, &o);
    CHECK_EQ_STR(text_of(o.result), "kept");
    outcome_clear(&o);
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(stdio_big_result) {
    net_reactor *r = net_reactor_new(NULL);
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome o;
    call_sync(r, u, "big", json_pack("{s:i}", "n", 3 << 20), 10000, &o);
    CHECK(o.error == NULL);
    CHECK_EQ_INT(strlen(text_of(o.result) ? text_of(o.result) : ""), 3 << 20);
    outcome_clear(&o);
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(stdio_oversized_message_dropped) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome o;
    call_sync(r, u, "big", json_pack("{s:i}", "n", 17 << 20), 1500, &o);
    CHECK_CONTAINS(o.error, "timed out after 1500 ms");
    outcome_clear(&o);
    call_sync(r, u, "echo", json_pack("{s:s}", "text", "fine"), 5000, &o);
    CHECK_EQ_STR(text_of(o.result), "fine");
    outcome_clear(&o);
    mcp_upstream_free(u);
    char *err = cap_end();
    CHECK_CONTAINS(err, "a line over the 16777216-byte message limit");
    free(err);
    net_reactor_free(r);
}

TEST(stdio_arguments_too_large) {
    net_reactor *r = net_reactor_new(NULL);
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    char *big = malloc((17 << 20) + 1);
    memset(big, 'a', 17 << 20);
    big[17 << 20] = 0;
    struct outcome o;
    call_sync(r, u, "echo", json_pack("{s:s}", "text", big), 5000, &o);
    free(big);
    CHECK_CONTAINS(o.error, "upstream \"fake\" tool \"echo\" failed: message is ");
    CHECK_CONTAINS(o.error, "limit 16777216");
    outcome_clear(&o);
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(stdio_free_with_pending_calls) {
    net_reactor *r = net_reactor_new(NULL);
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome a = {0}, b = {0};
    call_async(u, "slow", json_pack("{s:i}", "ms", 10000), 0, &a);
    run_for(r, 50);
    call_async(u, "slow", json_pack("{s:i}", "ms", 10000), 0, &b);
    uint64_t t0 = net_now_ms();
    mcp_upstream_free(u);
    CHECK(net_now_ms() - t0 < 1500);
    CHECK_EQ_INT(a.done, 1);
    CHECK_EQ_STR(a.error, "upstream \"fake\" was shut down");
    CHECK_EQ_INT(b.done, 1);
    outcome_clear(&a);
    outcome_clear(&b);
    net_reactor_free(r);
}

TEST(stdio_call_before_ready_fails_async) {
    net_reactor *r = net_reactor_new(NULL);
    mcp_upstream *u = start_fake(r, NULL);
    struct outcome o = {0};
    CHECK(mcp_upstream_call(u, "echo", NULL, 1000, on_done, &o) != NULL);
    CHECK_EQ_INT(o.done, 0);
    run_until(r, &o.done, 1000);
    CHECK_EQ_STR(o.error, "upstream \"fake\" is starting; tool \"echo\" is unavailable");
    outcome_clear(&o);
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(stdio_nonexistent_command) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    const char *argv[] = {"/nonexistent/corral-upstream", NULL};
    mcp_upstream_spec s = {.name = "ghost", .argv = (char **)argv, .argc = 1};
    mcp_upstream *u = mcp_upstream_new(r, &s, NULL, NULL);
    CHECK_EQ_INT(mcp_upstream_ready(u), -1);
    CHECK_EQ_STR(mcp_upstream_error(u), "upstream not started");
    mcp_upstream_start(u);
    CHECK_EQ_INT(mcp_upstreams_wait_ready(r, &u, 1, 5000), 0);
    CHECK_EQ_INT(mcp_upstream_ready(u), -1);
    CHECK_EQ_STR(mcp_upstream_error(u),
                 "upstream \"ghost\" cannot run \"/nonexistent/corral-upstream\": No such file or directory");
    run_for(r, 800); /* several retries (100, 200, 400 ms) */
    mcp_upstream_free(u);
    char *err = cap_end();
    int notes = 0;
    for (const char *p = err; (p = strstr(p, "cannot run")); p++) notes++;
    CHECK_EQ_INT(notes, 1); /* the same failure is reported once */
    free(err);
    net_reactor_free(r);
}

TEST(stdio_exit_at_start) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    const char *extra[] = {"--exit", "7", NULL};
    mcp_upstream *u = start_fake(r, extra);
    CHECK_EQ_INT(mcp_upstreams_wait_ready(r, &u, 1, 5000), 0);
    CHECK_EQ_STR(mcp_upstream_error(u), "upstream \"fake\" exited (status 7)");
    mcp_upstream_free(u);
    free(cap_end());
    net_reactor_free(r);
}

TEST(stdio_unknown_protocol_version_refused) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    const char *extra[] = {"--version", "1999-01-01", NULL};
    mcp_upstream *u = start_fake(r, extra);
    CHECK_EQ_INT(mcp_upstreams_wait_ready(r, &u, 1, 5000), 0);
    CHECK_CONTAINS(mcp_upstream_error(u), "answered initialize with protocol version \"1999-01-01\"");
    mcp_upstream_free(u);
    free(cap_end());
    net_reactor_free(r);
}

TEST(stdio_older_protocol_version_accepted) {
    net_reactor *r = net_reactor_new(NULL);
    const char *extra[] = {"--version", "2024-11-05", NULL};
    mcp_upstream *u = start_fake(r, extra);
    CHECK_EQ_INT(mcp_upstreams_wait_ready(r, &u, 1, 5000), 1);
    CHECK_EQ_STR(mcp_upstream_protocol_version(u), "2024-11-05");
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(stdio_paged_tool_list) {
    net_reactor *r = net_reactor_new(NULL);
    const char *extra[] = {"--paged", NULL};
    mcp_upstream *u = start_fake(r, extra);
    CHECK_EQ_INT(mcp_upstreams_wait_ready(r, &u, 1, 5000), 1);
    CHECK_EQ_INT(json_array_size(mcp_upstream_tools(u)), 13);
    CHECK(has_tool(u, "echo") && has_tool(u, "crash"));
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(stdio_wait_ready_many) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    mcp_upstream *ups[3];
    ups[0] = start_fake(r, NULL);
    const char *bad[] = {"--exit", "1", NULL};
    ups[1] = start_fake(r, bad);
    ups[2] = start_fake(r, NULL);
    CHECK_EQ_INT(mcp_upstreams_wait_ready(r, ups, 3, 10000), 2);
    for (int i = 0; i < 3; i++) mcp_upstream_free(ups[i]);
    free(cap_end());
    net_reactor_free(r);
}

struct chain {
    struct outcome o;
    mcp_upstream_req *victim;
};

static void on_done_cancel_other(json_t *result, const char *error, void *ud) {
    struct chain *c = ud;
    on_done(result, error, &c->o);
    mcp_upstream_cancel(c->victim);
    c->victim = NULL;
}

TEST(stdio_cancel_from_done_while_failing_all) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome b = {0}, o;
    struct chain a = {{0}, NULL};
    json_t *args = json_pack("{s:i}", "ms", 5000);
    /* b is linked first, so a (linked later, at the head) fails first. */
    a.victim = call_async(u, "slow", json_incref(args), 0, &b);
    mcp_upstream_call(u, "slow", args, 0, on_done_cancel_other, &a);
    json_decref(args);
    call_sync(r, u, "crash", json_pack("{s:i}", "status", 1), 5000, &o);
    outcome_clear(&o);
    run_until(r, &a.o.done, 2000);
    CHECK_EQ_INT(a.o.done, 1);
    CHECK_EQ_INT(b.done, 0);
    CHECK(a.victim == NULL);
    outcome_clear(&a.o);
    mcp_upstream_free(u);
    free(cap_end());
    net_reactor_free(r);
}

static int count_fds(void) {
    int n = 0;
    char path[64];
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        n += access(path, F_OK) == 0;
    }
    return n;
}

TEST(stdio_no_descriptor_or_child_leaks) {
    int before = count_fds();
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    mcp_upstream *u = start_fake(r, NULL);
    mcp_upstreams_wait_ready(r, &u, 1, 10000);
    struct outcome o;
    call_sync(r, u, "crash", json_pack("{s:i}", "status", 2), 5000, &o);
    outcome_clear(&o);
    uint64_t end = net_now_ms() + 5000;
    while (mcp_upstream_ready(u) != 1 && net_now_ms() < end) net_reactor_run_once(r, 20);
    CHECK_EQ_INT(mcp_upstream_ready(u), 1);
    mcp_upstream_free(u);
    free(cap_end());
    net_reactor_free(r);
    CHECK_EQ_INT(count_fds(), before);
    /* Every child was reaped: nothing is left to wait for. */
    errno = 0;
    CHECK_EQ_INT(waitpid(-1, NULL, WNOHANG), -1);
    CHECK_EQ_INT(errno, ECHILD);
}

TEST(stdio_free_during_handshake) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    const char *extra[] = {"--stall-init", NULL};
    mcp_upstream *u = start_fake(r, extra);
    run_for(r, 200);
    CHECK_EQ_INT(mcp_upstream_ready(u), 0);
    uint64_t t0 = net_now_ms();
    mcp_upstream_free(u);
    CHECK(net_now_ms() - t0 < 1500);
    free(cap_end());
    net_reactor_free(r);
}

/* ---- HTTP upstreams ------------------------------------------------------------ */

static int http_fd = -1, http_port;
static pthread_t http_thread;
static pthread_mutex_t http_lock = PTHREAD_MUTEX_INITIALIZER;
static int http_inits, http_bad_headers, http_pings_answered, http_expire_next, http_cancels;
static char http_last_session[128];

static int send_all(int fd, const char *p, size_t len) {
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void http_respond(int fd, int status, const char *ctype, const char *extra, const char *body) {
    char head[512];
    size_t len = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s%s%s%s\r\n",
                     status, len, ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
                     extra ? extra : "");
    send_all(fd, head, (size_t)n);
    if (len) send_all(fd, body, len);
}

static char *header_value(const char *head, const char *name) {
    static char v[256];
    const char *p = strcasestr(head, name);
    if (!p) return NULL;
    p += strlen(name);
    while (*p == ' ') p++;
    size_t n = strcspn(p, "\r\n");
    snprintf(v, sizeof v, "%.*s", (int)n, p);
    return v;
}

static void http_serve_one(int c) {
    char buf[65536];
    size_t len = 0;
    char *end = NULL;
    while (!end && len < sizeof buf - 1) {
        ssize_t n = recv(c, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0) return;
        len += (size_t)n;
        buf[len] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end) return;
    *end = 0;
    const char *cl = header_value(buf, "\r\nContent-Length:");
    size_t body_len = cl ? (size_t)atoi(cl) : 0;
    size_t have = len - (size_t)(end + 4 - buf);
    char *body = calloc(1, body_len + 1);
    memcpy(body, end + 4, have < body_len ? have : body_len);
    while (have < body_len) {
        ssize_t n = recv(c, body + have, body_len - have, 0);
        if (n <= 0) break;
        have += (size_t)n;
    }
    json_t *m = json_loads(body, 0, NULL);
    free(body);
    const char *method = json_string_value(json_object_get(m, "method"));
    json_t *id = json_object_get(m, "id");
    pthread_mutex_lock(&http_lock);
    if (!header_value(buf, "\r\nX-Token: secret") || !strstr(buf, "Accept: application/json, text/event-stream"))
        http_bad_headers++;
    char *sess = header_value(buf, "\r\nMcp-Session-Id:");
    snprintf(http_last_session, sizeof http_last_session, "%s", sess ? sess : "");
    int after_init = method && strcmp(method, "initialize") != 0;
    if (after_init && (!sess || !header_value(buf, "\r\nMCP-Protocol-Version: 2025-06-18"))) http_bad_headers++;
    int expire = after_init && http_expire_next;
    if (expire) http_expire_next = 0;
    pthread_mutex_unlock(&http_lock);
    char out[4096];
    if (expire) {
        http_respond(c, 404, "text/plain", NULL, "no such session");
    } else if (!method) {
        /* our answer to a request of the server's */
        pthread_mutex_lock(&http_lock);
        if (json_is_object(json_object_get(m, "result"))) http_pings_answered++;
        pthread_mutex_unlock(&http_lock);
        http_respond(c, 202, NULL, NULL, NULL);
    } else if (strcmp(method, "initialize") == 0) {
        pthread_mutex_lock(&http_lock);
        int k = ++http_inits;
        pthread_mutex_unlock(&http_lock);
        char extra[64];
        snprintf(extra, sizeof extra, "Mcp-Session-Id: sess-%d\r\n", k);
        snprintf(out, sizeof out,
                 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"protocolVersion\":\"2025-06-18\","
                 "\"capabilities\":{},\"serverInfo\":{\"name\":\"h\",\"version\":\"1\"}}}",
                 (long long)json_integer_value(id));
        http_respond(c, 200, "application/json", extra, out);
    } else if (!id) {
        if (strcmp(method, "notifications/cancelled") == 0) {
            pthread_mutex_lock(&http_lock);
            http_cancels++;
            pthread_mutex_unlock(&http_lock);
        }
        http_respond(c, 202, NULL, NULL, NULL);
    } else if (strcmp(method, "tools/list") == 0) {
        snprintf(out, sizeof out,
                 "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"tools\":[{\"name\":\"echo\",\"inputSchema\":"
                 "{\"type\":\"object\"}},{\"name\":\"stream\",\"inputSchema\":{\"type\":\"object\"}}]}}",
                 (long long)json_integer_value(id));
        http_respond(c, 200, "application/json", NULL, out);
    } else {
        json_t *params = json_object_get(m, "params");
        const char *tool = json_string_value(json_object_get(params, "name"));
        const char *text = json_string_value(json_object_get(json_object_get(params, "arguments"), "text"));
        if (strcmp(tool, "echo") == 0) {
            snprintf(out, sizeof out,
                     "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"%s\"}]}}",
                     (long long)json_integer_value(id), text ? text : "");
            http_respond(c, 200, "application/json; charset=utf-8", NULL, out);
        } else if (strcmp(tool, "stream") == 0) {
            /* No Content-Length: events, then the response split over two
             * data lines, with \r\n line ends. */
            snprintf(out, sizeof out,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                     ": a comment\r\n"
                     "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
                     "\"params\":{\"progress\":1}}\r\n\r\n"
                     "data: {\"jsonrpc\":\"2.0\",\"id\":\"srv-1\",\"method\":\"ping\"}\r\n\r\n"
                     "data: not json\r\n\r\n"
                     "id: 7\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":%lld,\r\ndata: \"result\":{\"content\":"
                     "[{\"type\":\"text\",\"text\":\"streamed\"}]}}\r\n\r\n",
                     (long long)json_integer_value(id));
            send_all(c, out, strlen(out));
        } else if (strcmp(tool, "huge") == 0) {
            size_t n = (17u << 20);
            snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", n);
            send_all(c, out, strlen(out));
            char *junk = malloc(1 << 20);
            memset(junk, ' ', 1 << 20);
            for (size_t k = 0; k < 17 && send_all(c, junk, 1 << 20) == 0; k++) {
            }
            free(junk);
        } else if (strcmp(tool, "oops") == 0) {
            http_respond(c, 500, "text/plain", NULL, "internal\noops");
        } else if (strcmp(tool, "hang") == 0) {
            usleep(800 * 1000);
            http_respond(c, 202, NULL, NULL, NULL);
        } else {
            http_respond(c, 202, NULL, NULL, NULL);
        }
    }
    json_decref(m);
}

static void *http_main(void *arg) {
    for (;;) {
        int c = accept(http_fd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR) continue;
            return NULL;
        }
        http_serve_one(c);
        shutdown(c, SHUT_WR);
        close(c);
    }
}

static void http_server_start(void) {
    if (http_fd >= 0) return;
    http_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(http_fd, (struct sockaddr *)&a, sizeof a);
    listen(http_fd, 64);
    socklen_t alen = sizeof a;
    getsockname(http_fd, (struct sockaddr *)&a, &alen);
    http_port = ntohs(a.sin_port);
    pthread_create(&http_thread, NULL, http_main, NULL);
    pthread_detach(http_thread);
}

static mcp_upstream *start_http(net_reactor *r) {
    http_server_start();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", http_port);
    char *headers[] = {"X-Token: secret", NULL};
    mcp_upstream_spec s = {.name = "web", .url = url, .headers = headers, .headerc = 1};
    events = 0;
    mcp_upstream *u = mcp_upstream_new(r, &s, on_event, NULL);
    mcp_upstream_start(u);
    return u;
}

static int http_get(int *v) {
    pthread_mutex_lock(&http_lock);
    int x = *v;
    pthread_mutex_unlock(&http_lock);
    return x;
}

TEST(http_start_and_list) {
    net_reactor *r = net_reactor_new(NULL);
    int inits = http_get(&http_inits);
    mcp_upstream *u = start_http(r);
    CHECK_EQ_INT(mcp_upstreams_wait_ready(r, &u, 1, 5000), 1);
    CHECK_EQ_INT(http_get(&http_inits), inits + 1);
    CHECK_EQ_INT(json_array_size(mcp_upstream_tools(u)), 2);
    CHECK(has_tool(u, "stream"));
    CHECK_EQ_INT(events, 1);
    CHECK_EQ_INT(http_get(&http_bad_headers), 0);
    char want[32];
    snprintf(want, sizeof want, "sess-%d", inits + 1);
    pthread_mutex_lock(&http_lock);
    CHECK_EQ_STR(http_last_session, want);
    pthread_mutex_unlock(&http_lock);
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(http_call_json_response) {
    net_reactor *r = net_reactor_new(NULL);
    mcp_upstream *u = start_http(r);
    mcp_upstreams_wait_ready(r, &u, 1, 5000);
    struct outcome o;
    call_sync(r, u, "echo", json_pack("{s:s}", "text", "over http"), 5000, &o);
    CHECK(o.error == NULL);
    CHECK_EQ_STR(text_of(o.result), "over http");
    outcome_clear(&o);
    CHECK_EQ_INT(http_get(&http_bad_headers), 0);
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(http_call_sse_response) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    int pings = http_get(&http_pings_answered);
    mcp_upstream *u = start_http(r);
    mcp_upstreams_wait_ready(r, &u, 1, 5000);
    struct outcome o;
    call_sync(r, u, "stream", NULL, 5000, &o);
    CHECK(o.error == NULL);
    CHECK_EQ_STR(text_of(o.result), "streamed");
    outcome_clear(&o);
    uint64_t end = net_now_ms() + 3000;
    while (http_get(&http_pings_answered) == pings && net_now_ms() < end) net_reactor_run_once(r, 20);
    CHECK_EQ_INT(http_get(&http_pings_answered), pings + 1);
    mcp_upstream_free(u);
    char *err = cap_end();
    CHECK_CONTAINS(err, "[web] ignored a malformed message (an event that is not JSON)");
    free(err);
    net_reactor_free(r);
}

TEST(http_error_status) {
    net_reactor *r = net_reactor_new(NULL);
    mcp_upstream *u = start_http(r);
    mcp_upstreams_wait_ready(r, &u, 1, 5000);
    struct outcome o;
    call_sync(r, u, "oops", NULL, 5000, &o);
    CHECK_EQ_STR(o.error, "upstream \"web\" tool \"oops\" failed: HTTP status 500: internal oops");
    outcome_clear(&o);
    call_sync(r, u, "none", NULL, 5000, &o);
    CHECK_CONTAINS(o.error, "did not contain the JSON-RPC response");
    outcome_clear(&o);
    CHECK_EQ_INT(mcp_upstream_ready(u), 1);
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(http_oversized_response) {
    net_reactor *r = net_reactor_new(NULL);
    mcp_upstream *u = start_http(r);
    mcp_upstreams_wait_ready(r, &u, 1, 5000);
    struct outcome o;
    call_sync(r, u, "huge", NULL, 10000, &o);
    CHECK_EQ_STR(o.error, "upstream \"web\" tool \"huge\" failed: the HTTP response exceeds the 16777216-byte "
                          "message limit");
    outcome_clear(&o);
    call_sync(r, u, "echo", json_pack("{s:s}", "text", "ok"), 5000, &o);
    CHECK_EQ_STR(text_of(o.result), "ok");
    outcome_clear(&o);
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(http_timeout_sends_cancelled) {
    net_reactor *r = net_reactor_new(NULL);
    int cancels = http_get(&http_cancels);
    mcp_upstream *u = start_http(r);
    mcp_upstreams_wait_ready(r, &u, 1, 5000);
    struct outcome o;
    call_sync(r, u, "hang", NULL, 200, &o);
    CHECK_EQ_STR(o.error, "upstream \"web\" tool \"hang\" timed out after 200 ms");
    outcome_clear(&o);
    uint64_t end = net_now_ms() + 3000;
    while (http_get(&http_cancels) == cancels && net_now_ms() < end) net_reactor_run_once(r, 20);
    CHECK_EQ_INT(http_get(&http_cancels), cancels + 1);
    mcp_upstream_free(u);
    net_reactor_free(r);
}

TEST(http_session_expiry_reinitializes) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    mcp_upstream *u = start_http(r);
    mcp_upstreams_wait_ready(r, &u, 1, 5000);
    int inits = http_get(&http_inits);
    pthread_mutex_lock(&http_lock);
    http_expire_next = 1;
    pthread_mutex_unlock(&http_lock);
    struct outcome o;
    call_sync(r, u, "echo", json_pack("{s:s}", "text", "a"), 5000, &o);
    CHECK_CONTAINS(o.error, "upstream \"web\" ended the HTTP session (404); starting a new one");
    outcome_clear(&o);
    uint64_t end = net_now_ms() + 5000;
    while (mcp_upstream_ready(u) != 1 && net_now_ms() < end) net_reactor_run_once(r, 20);
    CHECK_EQ_INT(http_get(&http_inits), inits + 1);
    call_sync(r, u, "echo", json_pack("{s:s}", "text", "b"), 5000, &o);
    CHECK_EQ_STR(text_of(o.result), "b");
    outcome_clear(&o);
    mcp_upstream_free(u);
    free(cap_end());
    net_reactor_free(r);
}

TEST(http_unreachable) {
    net_reactor *r = net_reactor_new(NULL);
    cap_begin();
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&a, sizeof a);
    socklen_t alen = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &alen);
    close(s); /* nothing listens there now */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", ntohs(a.sin_port));
    mcp_upstream_spec spec = {.name = "gone", .url = url};
    mcp_upstream *u = mcp_upstream_new(r, &spec, NULL, NULL);
    mcp_upstream_start(u);
    CHECK_EQ_INT(mcp_upstreams_wait_ready(r, &u, 1, 5000), 0);
    CHECK_EQ_INT(mcp_upstream_ready(u), -1);
    CHECK_CONTAINS(mcp_upstream_error(u), "upstream \"gone\" is unreachable at http://127.0.0.1:");
    mcp_upstream_free(u);
    free(cap_end());
    net_reactor_free(r);
}

TEST(http_free_with_pending_call) {
    net_reactor *r = net_reactor_new(NULL);
    mcp_upstream *u = start_http(r);
    mcp_upstreams_wait_ready(r, &u, 1, 5000);
    struct outcome o = {0};
    mcp_upstream_call(u, "hang", NULL, 0, on_done, &o);
    run_for(r, 50);
    mcp_upstream_free(u);
    CHECK_EQ_INT(o.done, 1);
    CHECK_EQ_STR(o.error, "upstream \"web\" was shut down");
    outcome_clear(&o);
    net_reactor_free(r);
    usleep(900 * 1000); /* let the server thread finish the hanging answer */
}
