/* The MCP server (lib/mcp/server.h) over its stdio transport, driven in
 * process: the server reads and writes one end of a socketpair (or pipes, or
 * a file), the test plays the client on the other end and runs the reactor
 * while it waits. The fake tool host is in server_fixture.h. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_fixture.h"

struct fx {
    struct host h;
    net_reactor *r;
    mcp_server *s;
    int cfd, sfd;          /* client end, server end */
    int in_w, out_r;       /* the client writes in_w, reads out_r */
    int pipes, out_w;      /* with pipes: the server reads sfd, writes out_w */
    char *buf;
    size_t len, cap;
};

static void fx_start(struct fx *f, int use_pipes) {
    memset(f, 0, sizeof *f);
    f->r = net_reactor_new(NULL);
    f->h.r = f->r;
    f->s = mcp_server_new(f->r, &fake_host, &f->h, "test-server", "1.2.3");
    if (use_pipes) {
        int in[2], out[2];
        CHECK(pipe(in) == 0 && pipe(out) == 0);
        f->pipes = 1;
        f->in_w = in[1];
        f->out_r = out[0];
        f->sfd = in[0];
        f->out_w = out[1];
        f->cfd = -1;
        CHECK_EQ_INT(mcp_server_serve_stdio(f->s, in[0], out[1]), 0);
    } else {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        f->sfd = sv[0];
        f->cfd = sv[1];
        f->in_w = f->out_r = sv[1];
        CHECK_EQ_INT(mcp_server_serve_stdio(f->s, sv[0], sv[0]), 0);
    }
    fcntl(f->out_r, F_SETFL, fcntl(f->out_r, F_GETFL) | O_NONBLOCK);
}

static void fx_stop(struct fx *f) {
    mcp_server_free(f->s);
    host_drain(&f->h);
    net_reactor_free(f->r);
    if (f->cfd >= 0) {
        close(f->cfd);
        close(f->sfd);
    }
    if (f->pipes) {
        if (f->in_w >= 0) close(f->in_w);
        close(f->sfd);
        close(f->out_w);
        close(f->out_r);
    }
    free(f->buf);
}

static void fx_pump(struct fx *f, int ms) {
    uint64_t end = net_now_ms() + (uint64_t)ms;
    while (net_now_ms() < end && !net_reactor_stopped(f->r)) net_reactor_run_once(f->r, 2);
}

/* Reads what the server wrote. Returns -1 at EOF. */
static int fx_read(struct fx *f) {
    if (f->cap - f->len < 65536) {
        f->cap = f->cap ? f->cap * 2 : 131072;
        f->buf = realloc(f->buf, f->cap);
    }
    ssize_t n = read(f->out_r, f->buf + f->len, f->cap - f->len);
    if (n > 0) f->len += (size_t)n;
    return n == 0 ? -1 : 0;
}

/* The next line the server wrote (its text), or NULL after timeout_ms. */
static char *fx_line(struct fx *f, int timeout_ms) {
    uint64_t end = net_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        char *nl = f->buf ? memchr(f->buf, '\n', f->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - f->buf);
            char *line = malloc(n + 1);
            memcpy(line, f->buf, n);
            line[n] = '\0';
            memmove(f->buf, nl + 1, f->len - n - 1);
            f->len -= n + 1;
            return line;
        }
        if (net_now_ms() >= end) return NULL;
        if (fx_read(f) < 0 && !f->len) return NULL;
        net_reactor_run_once(f->r, 2);
    }
}

static json_t *fx_recv(struct fx *f, int timeout_ms) {
    char *line = fx_line(f, timeout_ms);
    if (!line) return NULL;
    json_t *v = json_loads(line, 0, NULL);
    if (!v) CHECK_FAIL_AT("not JSON: %s", line);
    free(line);
    return v;
}

static void fx_write(struct fx *f, const char *data, size_t len) {
    while (len) {
        ssize_t n = write(f->in_w, data, len);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        } else {
            net_reactor_run_once(f->r, 1);
            fx_read(f); /* keep the server's output moving too */
        }
    }
}

static void fx_send(struct fx *f, const char *text) {
    fx_write(f, text, strlen(text));
    fx_write(f, "\n", 1);
}

static json_t *fx_rpc(struct fx *f, const char *text) {
    fx_send(f, text);
    json_t *v = fx_recv(f, 2000);
    if (!v) CHECK_FAIL_AT("no answer to %s", text);
    return v;
}

static void fx_init(struct fx *f, const char *version) {
    char req[256];
    snprintf(req, sizeof req,
             "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"%s\","
             "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}",
             version);
    json_t *r = fx_rpc(f, req);
    CHECK_EQ_STR(jstr(r, "result.protocolVersion"), version);
    json_decref(r);
    fx_send(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
}

/* Nothing more arrives within ms. */
static void fx_expect_quiet(struct fx *f, int ms) {
    char *line = fx_line(f, ms);
    if (line) CHECK_FAIL_AT("unexpected message: %s", line);
    free(line);
}

static void check_error(json_t *r, long long id, int code) {
    if (id == -1) CHECK(json_is_null(jpath(r, "id")));
    else CHECK_EQ_INT(jint(r, "id"), id);
    CHECK_EQ_INT(jint(r, "error.code"), code);
    CHECK(jstr(r, "error.message") != NULL);
    CHECK(jpath(r, "result") == NULL);
}

/* ---- lifecycle ------------------------------------------------------------ */

TEST(initialize_2025_06_18) {
    struct fx f;
    fx_start(&f, 0);
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                           "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"c\",\"version\":\"0\"}}}");
    CHECK_EQ_STR(jstr(r, "jsonrpc"), "2.0");
    CHECK_EQ_INT(jint(r, "id"), 1);
    CHECK_EQ_STR(jstr(r, "result.protocolVersion"), "2025-06-18");
    CHECK(json_is_true(jpath(r, "result.capabilities.tools.listChanged")));
    CHECK(json_is_object(jpath(r, "result.capabilities.logging")));
    CHECK_EQ_STR(jstr(r, "result.serverInfo.name"), "test-server");
    CHECK_EQ_STR(jstr(r, "result.serverInfo.version"), "1.2.3");
    CHECK(jpath(r, "result.instructions") == NULL);
    json_decref(r);
    fx_stop(&f);
}

TEST(initialize_2025_03_26) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-03-26");
    fx_stop(&f);
}

TEST(initialize_2024_11_05) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2024-11-05");
    fx_stop(&f);
}

TEST(initialize_unknown_version_gets_latest) {
    struct fx f;
    fx_start(&f, 0);
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                           "\"2099-01-01\",\"capabilities\":{}}}");
    CHECK_EQ_STR(jstr(r, "result.protocolVersion"), "2025-06-18");
    json_decref(r);
    fx_stop(&f);
}

TEST(initialize_needs_protocol_version) {
    struct fx f;
    fx_start(&f, 0);
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}");
    check_error(r, 1, JSONRPC_INVALID_PARAMS);
    json_decref(r);
    /* Still not initialized, so initialize can be retried. */
    fx_init(&f, "2025-06-18");
    fx_stop(&f);
}

TEST(initialize_twice_is_refused) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                           "\"2025-06-18\"}}");
    check_error(r, 9, JSONRPC_INVALID_REQUEST);
    json_decref(r);
    fx_stop(&f);
}

TEST(instructions_in_initialize) {
    struct fx f;
    fx_start(&f, 0);
    CHECK_EQ_INT(mcp_server_set_instructions(f.s, "Use the tools wisely."), 0);
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                           "\"2025-06-18\"}}");
    CHECK_EQ_STR(jstr(r, "result.instructions"), "Use the tools wisely.");
    json_decref(r);
    fx_stop(&f);
}

TEST(requests_before_initialize_are_refused) {
    struct fx f;
    fx_start(&f, 0);
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/list\"}");
    CHECK_EQ_STR(jstr(r, "id"), "a");
    CHECK_EQ_INT(jint(r, "error.code"), JSONRPC_INVALID_REQUEST);
    CHECK_CONTAINS(jstr(r, "error.message"), "not initialized");
    json_decref(r);
    r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}");
    check_error(r, 2, JSONRPC_INVALID_REQUEST);
    json_decref(r);
    CHECK_EQ_INT(f.h.calls, 0);
    fx_stop(&f);
}

TEST(ping_before_and_after_initialize) {
    struct fx f;
    fx_start(&f, 0);
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}");
    CHECK_EQ_INT(jint(r, "id"), 5);
    CHECK(json_is_object(jpath(r, "result")) && json_object_size(jpath(r, "result")) == 0);
    json_decref(r);
    fx_init(&f, "2025-06-18");
    r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\",\"params\":{}}");
    CHECK(json_is_object(jpath(r, "result")));
    json_decref(r);
    fx_stop(&f);
}

/* ---- JSON-RPC errors -------------------------------------------------------- */

TEST(parse_error_has_null_id_and_server_carries_on) {
    struct fx f;
    fx_start(&f, 0);
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":");
    check_error(r, -1, JSONRPC_PARSE_ERROR);
    CHECK_CONTAINS(jstr(r, "error.message"), "Parse error");
    json_decref(r);
    r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
    CHECK_EQ_INT(jint(r, "id"), 2);
    json_decref(r);
    fx_stop(&f);
}

TEST(invalid_requests) {
    struct fx f;
    fx_start(&f, 0);
    json_t *r = fx_rpc(&f, "1");
    check_error(r, -1, JSONRPC_INVALID_REQUEST);
    json_decref(r);
    r = fx_rpc(&f, "{\"jsonrpc\":\"1.0\",\"id\":3,\"method\":\"ping\"}");
    check_error(r, 3, JSONRPC_INVALID_REQUEST);
    json_decref(r);
    r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}");
    check_error(r, -1, JSONRPC_INVALID_REQUEST);
    json_decref(r);
    r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}");
    check_error(r, -1, JSONRPC_INVALID_REQUEST);
    json_decref(r);
    r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\",\"params\":\"x\"}");
    check_error(r, 4, JSONRPC_INVALID_REQUEST);
    json_decref(r);
    r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\\u0000\"}");
    check_error(r, 5, JSONRPC_INVALID_REQUEST);
    json_decref(r);
    fx_stop(&f);
}

TEST(method_not_found) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"resources/list\"}");
    check_error(r, 7, JSONRPC_METHOD_NOT_FOUND);
    CHECK_CONTAINS(jstr(r, "error.message"), "resources/list");
    json_decref(r);
    fx_stop(&f);
}

TEST(invalid_params) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    static const char *const reqs[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":3}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":[1]}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":\"x\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"loud\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":[1]}",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        json_t *r = fx_rpc(&f, reqs[i]);
        if (jint(r, "error.code") != JSONRPC_INVALID_PARAMS) CHECK_FAIL_AT("not -32602 for %s", reqs[i]);
        CHECK_EQ_INT(jint(r, "id"), 1);
        json_decref(r);
    }
    CHECK_EQ_INT(f.h.calls, 0);
    fx_stop(&f);
}

TEST(internal_errors) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    f.h.list_fails = 1;
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    check_error(r, 1, JSONRPC_INTERNAL_ERROR);
    json_decref(r);
    r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"null\"}}");
    check_error(r, 2, JSONRPC_INTERNAL_ERROR);
    json_decref(r);
    fx_stop(&f);
}

TEST(host_fails_a_call_with_its_own_error) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"fail\"}}");
    check_error(r, 2, JSONRPC_INVALID_PARAMS);
    CHECK_EQ_STR(jstr(r, "error.message"), "Unknown tool: fail");
    json_decref(r);
    fx_stop(&f);
}

TEST(notifications_and_responses_get_no_answer) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/roots/list_changed\"}");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"no/such/notification\",\"params\":{}}");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":77,\"result\":{}}");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":78,\"error\":{\"code\":-1,\"message\":\"x\"}}");
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
    CHECK_EQ_INT(jint(r, "id"), 3);
    json_decref(r);
    fx_expect_quiet(&f, 30);
    fx_stop(&f);
}

TEST(blank_and_crlf_lines) {
    struct fx f;
    fx_start(&f, 0);
    const char *in = "\n  \r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n";
    fx_write(&f, in, strlen(in));
    json_t *r = fx_recv(&f, 2000);
    CHECK_EQ_INT(jint(r, "id"), 1);
    json_decref(r);
    fx_expect_quiet(&f, 20);
    fx_stop(&f);
}

TEST(oversized_line_is_refused_and_dropped) {
    struct fx f;
    fx_start(&f, 0);
    size_t n = MCP_MAX_MESSAGE + 100;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"x\":\"", 56);
    big[n - 3] = '"';
    big[n - 2] = '}';
    big[n - 1] = '}';
    big[n] = '\n';
    fx_write(&f, big, n + 1);
    free(big);
    json_t *r = fx_recv(&f, 5000);
    check_error(r, -1, JSONRPC_INVALID_REQUEST);
    CHECK_CONTAINS(jstr(r, "error.message"), "exceeds the limit of 16777216 bytes");
    json_decref(r);
    r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
    CHECK_EQ_INT(jint(r, "id"), 2);
    json_decref(r);
    fx_stop(&f);
}

/* ---- tools ------------------------------------------------------------------ */

TEST(tools_list_returns_the_hosts_tools) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    CHECK_EQ_INT(json_array_size(jpath(r, "result.tools")), 2);
    CHECK_EQ_STR(jstr(r, "result.tools.0.name"), "echo");
    CHECK_EQ_STR(jstr(r, "result.tools.0.inputSchema.type"), "object");
    CHECK(jpath(r, "result.nextCursor") == NULL);
    json_decref(r);
    r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{\"cursor\":\"abc\"}}");
    CHECK_EQ_INT(json_array_size(jpath(r, "result.tools")), 2);
    CHECK(jpath(r, "result.nextCursor") == NULL);
    json_decref(r);
    fx_stop(&f);
}

TEST(tools_call_echo) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":\"c1\",\"method\":\"tools/call\",\"params\":{\"name\":"
                           "\"echo\",\"arguments\":{\"b\":2,\"a\":\"x\"}}}");
    CHECK_EQ_STR(jstr(r, "id"), "c1");
    CHECK_EQ_STR(jstr(r, "result.content.0.type"), "text");
    CHECK_EQ_STR(jstr(r, "result.content.0.text"), "{\"a\":\"x\",\"b\":2}");
    json_decref(r);
    /* Arguments may be left out (or null): the host sees {}. */
    r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}");
    CHECK_EQ_STR(jstr(r, "result.content.0.text"), "{}");
    json_decref(r);
    fx_stop(&f);
}

TEST(tools_call_is_asynchronous) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"later\","
                "\"arguments\":{\"ms\":80}}}");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"later\","
                "\"arguments\":{\"ms\":20}}}");
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
    CHECK_EQ_INT(jint(r, "id"), 3); /* answered while both calls run */
    json_decref(r);
    r = fx_recv(&f, 2000);
    CHECK_EQ_INT(jint(r, "id"), 2); /* the shorter one first */
    json_decref(r);
    r = fx_recv(&f, 2000);
    CHECK_EQ_INT(jint(r, "id"), 1);
    CHECK_EQ_STR(jstr(r, "result.content.0.text"), "done later");
    json_decref(r);
    fx_stop(&f);
}

TEST(duplicate_id_in_flight_is_refused) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"hold\"}}");
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}");
    check_error(r, 1, JSONRPC_INVALID_REQUEST);
    json_decref(r);
    fx_stop(&f);
}

TEST(cancel_suppresses_the_response_and_reaches_the_host) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":\"h\",\"method\":\"tools/call\",\"params\":{\"name\":\"hold\"}}");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":\"l\",\"method\":\"tools/call\",\"params\":{\"name\":\"later\","
                "\"arguments\":{\"ms\":30}}}");
    fx_pump(&f, 5);
    CHECK_EQ_INT(f.h.n_held, 1);
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":\"h\","
                "\"reason\":\"user\"}}");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":\"l\"}}");
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
    CHECK_EQ_INT(jint(r, "id"), 3);
    json_decref(r);
    CHECK_EQ_INT(f.h.cancels, 2);
    CHECK_EQ_INT(f.h.n_held, 0); /* the host finished it inside cancel_tool */
    fx_pump(&f, 60);              /* "later" finishes after its cancel: nothing is sent */
    CHECK_EQ_INT(f.h.timers_pending, 0);
    fx_expect_quiet(&f, 20);
    fx_stop(&f);
}

TEST(cancel_of_unknown_id_is_ignored) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":42}}");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\"}");
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
    CHECK_EQ_INT(jint(r, "id"), 3);
    json_decref(r);
    CHECK_EQ_INT(f.h.cancels, 0);
    fx_stop(&f);
}

TEST(progress_only_with_a_token) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"progress\","
                "\"_meta\":{\"progressToken\":\"tok\"}}}");
    json_t *p1 = fx_recv(&f, 2000), *p2 = fx_recv(&f, 2000), *r = fx_recv(&f, 2000);
    CHECK(f.h.last_has_progress);
    CHECK_EQ_STR(jstr(p1, "method"), "notifications/progress");
    CHECK_EQ_STR(jstr(p1, "params.progressToken"), "tok");
    CHECK_EQ_INT(jint(p1, "params.progress"), 1);
    CHECK_EQ_STR(jstr(p1, "params.message"), "starting");
    CHECK(jpath(p1, "id") == NULL);
    CHECK_EQ_INT(jint(p2, "params.progress"), 2);
    CHECK(jpath(p2, "params.message") == NULL);
    CHECK_EQ_INT(jint(r, "id"), 1);
    CHECK_EQ_STR(jstr(r, "result.content.0.text"), "progressed");
    json_decref(p1);
    json_decref(p2);
    json_decref(r);
    /* An integer token is echoed as an integer. */
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"progress\","
                "\"_meta\":{\"progressToken\":99}}}");
    p1 = fx_recv(&f, 2000);
    CHECK_EQ_INT(jint(p1, "params.progressToken"), 99);
    json_decref(p1);
    json_decref(fx_recv(&f, 2000));
    json_decref(fx_recv(&f, 2000));
    /* Without a token: no notifications, just the result. */
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"progress\"}}");
    r = fx_recv(&f, 2000);
    CHECK(!f.h.last_has_progress);
    CHECK_EQ_INT(jint(r, "id"), 3);
    json_decref(r);
    fx_stop(&f);
}

TEST(logging_only_after_set_level_and_at_or_above_it) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    /* No setLevel yet: the tool's logs are not sent. */
    json_t *r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"progress\"}}");
    CHECK_EQ_INT(jint(r, "id"), 1);
    json_decref(r);
    r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"warning\"}}");
    CHECK_EQ_INT(jint(r, "id"), 2);
    CHECK(json_is_object(jpath(r, "result")));
    json_decref(r);
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"progress\"}}");
    json_t *l1 = fx_recv(&f, 2000), *l2 = fx_recv(&f, 2000);
    r = fx_recv(&f, 2000);
    CHECK_EQ_STR(jstr(l1, "method"), "notifications/message");
    CHECK_EQ_STR(jstr(l1, "params.level"), "warning");
    CHECK_EQ_STR(jstr(l1, "params.logger"), "progress");
    CHECK_EQ_STR(jstr(l1, "params.data"), "a warning line");
    CHECK_EQ_STR(jstr(l2, "params.level"), "error");
    CHECK_EQ_INT(jint(r, "id"), 3);
    json_decref(l1);
    json_decref(l2);
    json_decref(r);
    /* debug lets everything through. */
    json_decref(fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"logging/setLevel\",\"params\":{\"level\":"
                           "\"debug\"}}"));
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"progress\"}}");
    int logs = 0;
    for (;;) {
        r = fx_recv(&f, 2000);
        if (!r) break;
        int done = jint(r, "id") == 5;
        if (!done) logs++;
        json_decref(r);
        if (done) break;
    }
    CHECK_EQ_INT(logs, 4);
    fx_stop(&f);
}

TEST(output_is_one_line_per_message) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                "\"arguments\":{\"t\":\"a\\nb\\r\\nc\"}}}");
    char *line = fx_line(&f, 2000);
    CHECK(line != NULL);
    CHECK_CONTAINS(line, "a\\\\nb\\\\r\\\\nc");
    json_t *r = json_loads(line, 0, NULL);
    CHECK_EQ_INT(jint(r, "id"), 1);
    json_decref(r);
    free(line);
    fx_stop(&f);
}

/* ---- batches ------------------------------------------------------------------ */

TEST(batch_is_answered_with_an_array) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18"); /* batches are accepted whatever the version */
    json_t *r = fx_rpc(&f, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
                           "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"},"
                           "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"},"
                           "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"nope\"}]");
    CHECK(json_is_array(r));
    CHECK_EQ_INT(json_array_size(r), 3);
    CHECK_EQ_INT(jint(r, "0.id"), 1);
    CHECK_EQ_INT(jint(r, "1.id"), 2);
    CHECK_EQ_INT(json_array_size(jpath(r, "1.result.tools")), 2);
    CHECK_EQ_INT(jint(r, "2.error.code"), JSONRPC_METHOD_NOT_FOUND);
    json_decref(r);
    fx_stop(&f);
}

TEST(batch_waits_for_its_calls) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-03-26");
    fx_send(&f, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"later\","
                "\"arguments\":{\"ms\":30}}},{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}]");
    json_t *r = fx_recv(&f, 2000);
    CHECK(json_is_array(r));
    CHECK_EQ_INT(json_array_size(r), 2);
    CHECK_EQ_INT(jint(r, "0.id"), 2); /* answers in the order they came */
    CHECK_EQ_INT(jint(r, "1.id"), 1);
    CHECK_EQ_STR(jstr(r, "1.result.content.0.text"), "done later");
    json_decref(r);
    fx_stop(&f);
}

TEST(batch_edge_cases) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-03-26");
    json_t *r = fx_rpc(&f, "[]");
    CHECK(json_is_object(r)); /* one error, not an array */
    check_error(r, -1, JSONRPC_INVALID_REQUEST);
    json_decref(r);
    r = fx_rpc(&f, "[1,2]");
    CHECK_EQ_INT(json_array_size(r), 2);
    CHECK_EQ_INT(jint(r, "0.error.code"), JSONRPC_INVALID_REQUEST);
    CHECK(json_is_null(jpath(r, "1.id")));
    json_decref(r);
    r = fx_rpc(&f, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                   "\"2025-03-26\"}}]");
    CHECK_EQ_INT(json_array_size(r), 1);
    CHECK_EQ_INT(jint(r, "0.error.code"), JSONRPC_INVALID_REQUEST);
    CHECK_CONTAINS(jstr(r, "0.error.message"), "batch");
    json_decref(r);
    /* Only notifications: nothing at all comes back. */
    fx_send(&f, "[{\"jsonrpc\":\"2.0\",\"method\":\"a\"},{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}]");
    r = fx_rpc(&f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}");
    CHECK_EQ_INT(jint(r, "id"), 9);
    json_decref(r);
    fx_stop(&f);
}

TEST(cancel_inside_a_batch_drops_only_that_answer) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-03-26");
    fx_send(&f, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"hold\"}},"
                "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}]");
    fx_pump(&f, 5);
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1}}");
    json_t *r = fx_recv(&f, 2000);
    CHECK_EQ_INT(json_array_size(r), 1);
    CHECK_EQ_INT(jint(r, "0.id"), 2);
    json_decref(r);
    fx_stop(&f);
}

/* ---- list_changed, EOF, slow clients, files ------------------------------------ */

TEST(tools_changed_only_after_initialize) {
    struct fx f;
    fx_start(&f, 0);
    mcp_server_tools_changed(f.s);
    fx_expect_quiet(&f, 20);
    fx_init(&f, "2025-06-18");
    mcp_server_tools_changed(f.s);
    json_t *n = fx_recv(&f, 2000);
    CHECK_EQ_STR(jstr(n, "method"), "notifications/tools/list_changed");
    CHECK(jpath(n, "id") == NULL);
    json_decref(n);
    fx_stop(&f);
}

TEST(eof_cancels_calls_in_flight_then_closes) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"later\","
                "\"arguments\":{\"ms\":40}}}");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"hold\"}}");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
    fx_pump(&f, 5);
    CHECK_EQ_INT(mcp_server_session_count(f.s), 1);
    shutdown(f.cfd, SHUT_WR);
    f.h.stop_on_close = 1;
    fx_pump(&f, 500);
    CHECK_EQ_INT(f.h.closes, 1);
    CHECK_EQ_INT(f.h.cancels, 2);
    CHECK_EQ_INT(f.h.n_held, 0);
    CHECK_EQ_INT(mcp_server_session_count(f.s), 0);
    json_t *r = fx_recv(&f, 200); /* what was answered before EOF still arrives */
    CHECK_EQ_INT(jint(r, "id"), 3);
    json_decref(r);
    fx_expect_quiet(&f, 60); /* and the cancelled calls' answers do not */
    fx_stop(&f);
}

TEST(eof_with_nothing_in_flight_closes_at_once) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    shutdown(f.cfd, SHUT_WR);
    f.h.stop_on_close = 1;
    fx_pump(&f, 200);
    CHECK_EQ_INT(f.h.closes, 1);
    CHECK_EQ_INT(mcp_server_session_count(f.s), 0);
    fx_stop(&f);
}

TEST(output_failure_ends_the_session_and_cancels_calls) {
    struct fx f;
    fx_start(&f, 1);
    signal(SIGPIPE, SIG_IGN); /* as a host serving stdio on pipes must */
    fx_init(&f, "2025-06-18");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"hold\"}}");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"later\","
                "\"arguments\":{\"ms\":20}}}");
    fx_pump(&f, 5);
    close(f.out_r); /* the client stops reading for good: the next answer fails */
    f.out_r = open("/dev/null", O_RDONLY);
    f.h.stop_on_close = 1;
    fx_pump(&f, 300);
    CHECK_EQ_INT(f.h.closes, 1);
    CHECK_EQ_INT(f.h.cancels, 1);
    CHECK_EQ_INT(f.h.n_held, 0);
    CHECK_EQ_INT(mcp_server_session_count(f.s), 0);
    fx_stop(&f);
}

TEST(eof_on_pipes_answers_a_last_line_without_newline) {
    struct fx f;
    fx_start(&f, 1);
    const char *last = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
    fx_write(&f, last, strlen(last));
    close(f.in_w);
    f.in_w = -1;
    f.h.stop_on_close = 1;
    fx_pump(&f, 500);
    CHECK_EQ_INT(f.h.closes, 1);
    json_t *r = fx_recv(&f, 200);
    CHECK_EQ_INT(jint(r, "id"), 1);
    json_decref(r);
    fx_stop(&f);
}

TEST(client_that_stops_reading_does_not_block_the_reactor) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    /* 4 MiB answers the socket cannot take at once; the reactor must keep
     * running (timers fire) while the client reads nothing. */
    uint64_t t0 = net_now_ms();
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"big\","
                "\"arguments\":{\"bytes\":4194304}}}");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"later\","
                "\"arguments\":{\"ms\":10}}}");
    for (int i = 0; i < 50 && f.h.timers_pending; i++) net_reactor_run_once(f.r, 5);
    CHECK_EQ_INT(f.h.timers_pending, 0);
    CHECK(net_now_ms() - t0 < 2000);
    char *line = fx_line(&f, 5000);
    CHECK(line && strlen(line) > 4194304);
    free(line);
    json_t *r = fx_recv(&f, 2000);
    CHECK_EQ_INT(jint(r, "id"), 2);
    json_decref(r);
    fx_stop(&f);
}

TEST(free_with_calls_in_flight_then_finish) {
    struct fx f;
    fx_start(&f, 0);
    fx_init(&f, "2025-06-18");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"hold\"}}");
    fx_send(&f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"later\"}}");
    fx_pump(&f, 5);
    CHECK_EQ_INT(f.h.n_held, 1);
    mcp_call *held = f.h.held[0];
    mcp_server_free(f.s);
    f.s = NULL;
    CHECK_EQ_INT(f.h.cancels, 0); /* free does not call the host back */
    CHECK(mcp_call_cancelled(held));
    mcp_call_progress(held, "ignored");
    mcp_call_log(held, "error", "ignored");
    CHECK_EQ_STR(mcp_call_tool_name(held), "hold");
    fx_stop(&f); /* finishes both: no-op sends that free the calls */
}

TEST(stdin_from_a_regular_file) {
    struct fx f;
    memset(&f, 0, sizeof f);
    f.r = net_reactor_new(NULL);
    f.h.r = f.r;
    f.h.stop_on_close = 1;
    f.s = mcp_server_new(f.r, &fake_host, &f.h, "file", "1");
    char path[] = "/tmp/corral-mcp-test-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    const char *in = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n"
                     "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"x\"}}\n";
    CHECK_EQ_INT(write(fd, in, strlen(in)), strlen(in));
    lseek(fd, 0, SEEK_SET);
    int out[2];
    CHECK(pipe(out) == 0);
    CHECK_EQ_INT(mcp_server_serve_stdio(f.s, fd, out[1]), 0);
    CHECK_EQ_INT(net_reactor_run(f.r), 0);
    CHECK_EQ_INT(f.h.closes, 1);
    f.out_r = out[0];
    fcntl(f.out_r, F_SETFL, O_NONBLOCK);
    f.cfd = -1;
    json_t *r1 = fx_recv(&f, 200), *r2 = fx_recv(&f, 200);
    CHECK_EQ_INT(jint(r1, "id"), 1);
    CHECK_EQ_STR(jstr(r2, "result.protocolVersion"), "2025-06-18");
    json_decref(r1);
    json_decref(r2);
    fx_stop(&f);
    close(fd);
    close(out[0]);
    close(out[1]);
}

TEST(serve_stdio_twice_is_refused) {
    struct fx f;
    fx_start(&f, 0);
    CHECK_EQ_INT(mcp_server_serve_stdio(f.s, f.sfd, f.sfd), -1);
    fx_stop(&f);
}
