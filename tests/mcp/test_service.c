/* The Code Mode MCP service through the public API (corral_mcp_*): a fake
 * upstream (tests/mcp/fake_upstream.c) lent to programs, the `code` tool's
 * description and declarations, result unwrapping, tool errors, an upstream
 * dying mid-program, discovery for large surfaces, OpenAPI mode's spec and
 * refusals, and a whole MCP session over a socket pair (initialize,
 * tools/list, tools/call with console output, cancellation, EOF).
 */
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "corral.h"

static char fake_path[PATH_MAX + 32];

static void find_fake(void) {
    if (fake_path[0]) return;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) n = 0;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    snprintf(fake_path, sizeof fake_path, "%s/fake_upstream", self);
}

struct out {
    int done, failed;
    char result[8192];
    char error[1024];
    size_t logs;
    char log0[256];
};

static void on_exec(const corral_exec_result *r, void *ud) {
    struct out *o = ud;
    o->done++;
    o->failed = r->error != NULL;
    snprintf(o->result, sizeof o->result, "%s", r->result_json ? r->result_json : "");
    snprintf(o->error, sizeof o->error, "%s", r->error ? r->error : "");
    o->logs = r->log_count;
    snprintf(o->log0, sizeof o->log0, "%s", r->log_count ? r->logs[0] : "");
}

struct svc {
    corral_loader *l;
    corral_mcp *m;
};

static struct svc start(const char *name, long discovery_tokens) {
    find_fake();
    struct svc s = {0};
    s.l = corral_loader_new(NULL, NULL);
    corral_mcp_options o;
    corral_mcp_options_default(&o);
    o.call_timeout_ms = 5000;
    if (discovery_tokens) o.discovery_tokens = discovery_tokens;
    corral_error err;
    s.m = corral_mcp_new(s.l, &o, &err);
    char spec[PATH_MAX + 128];
    snprintf(spec, sizeof spec, "%s=%s", name, fake_path);
    CHECK_EQ_INT(corral_mcp_add_upstream(s.m, spec, &err), CORRAL_OK);
    CHECK_EQ_INT(corral_mcp_start(s.m, 10000, &err), CORRAL_OK);
    return s;
}

static void stop(struct svc *s) {
    corral_mcp_free(s->m);
    corral_loader_free(s->l);
}

static struct out exec(struct svc *s, const char *code) {
    struct out o;
    memset(&o, 0, sizeof o);
    CHECK_EQ_INT(corral_mcp_exec(s->m, "code", code, on_exec, &o), CORRAL_OK);
    CHECK_EQ_INT(o.done, 1);
    return o;
}

TEST(one_upstream_is_codemode_and_its_own_name) {
    struct svc s = start("fake", 0);
    struct out o = exec(&s, "async () => (await codemode.echo({text: 'hi'}))");
    CHECK_EQ_STR(o.result, "\"hi\"");
    o = exec(&s, "return await fake.echo({text: 'also'})");
    CHECK_EQ_STR(o.result, "\"also\"");
    /* structuredContent wins over the text */
    o = exec(&s, "const r = await codemode.add({a: 2, b: 3}); return r");
    CHECK(strstr(o.result, "5") != NULL);
    stop(&s);
}

TEST(tool_errors_are_catchable_errors_and_uncaught_ones_fail_the_program) {
    struct svc s = start("fake", 0);
    struct out o = exec(&s, "try { await codemode.fail({}); return 'no' } catch (e) { return e instanceof Error ? 'caught: ' + e.message : 'odd' }");
    CHECK(strncmp(o.result, "\"caught: ", 9) == 0);
    o = exec(&s, "await codemode.fail({}); return 1");
    CHECK_EQ_INT(o.failed, 1);
    o = exec(&s, "return await codemode.no_such_tool({})");
    CHECK_EQ_INT(o.failed, 1);
    CHECK(strstr(o.error, "no_such_tool") != NULL);
    o = exec(&s, "return await codemode.echo('not an object')");
    CHECK_EQ_INT(o.failed, 1);
    CHECK(strstr(o.error, "one object of arguments") != NULL);
    stop(&s);
}

TEST(console_output_and_loops_over_tool_calls) {
    struct svc s = start("fake", 0);
    struct out o = exec(&s,
                        "let n = 0; for (let i = 0; i < 20; i++) { const r = await codemode.add({a: i, b: 1}); "
                        "n += 1 } console.log('done', n); return n");
    CHECK_EQ_STR(o.result, "20");
    CHECK_EQ_INT((long)o.logs, 1);
    CHECK_EQ_STR(o.log0, "done 20");
    stop(&s);
}

TEST(an_upstream_that_dies_mid_program_fails_the_call_then_comes_back) {
    struct svc s = start("fake", 0);
    struct out o = exec(&s, "try { await codemode.crash({status: 3}) } catch (e) { return e.message }");
    if (!strstr(o.result, "fake")) fprintf(stderr, "  result: %s error: %s\n", o.result, o.error);
    CHECK(strstr(o.result, "fake") != NULL);
    /* It is restarted with backoff; within a few seconds calls work again. */
    int ok = 0;
    for (int i = 0; i < 60 && !ok; i++) {
        o = exec(&s, "try { return await codemode.echo({text: 'back'}) } catch (e) { return 'down' }");
        ok = !strcmp(o.result, "\"back\"");
        if (!ok) usleep(100 * 1000);
    }
    CHECK(ok);
    stop(&s);
}

TEST(types_and_tool_list) {
    struct svc s = start("fake", 0);
    char *types = corral_mcp_types(s.m);
    CHECK(types && strstr(types, "declare const codemode") != NULL);
    CHECK(types && strstr(types, "echo") != NULL);
    free(types);
    char *tools = corral_mcp_tools_json(s.m);
    json_error_t je;
    json_t *t = json_loads(tools, 0, &je);
    CHECK_EQ_INT((long)json_array_size(t), 1);
    json_t *code = json_array_get(t, 0);
    CHECK_EQ_STR(json_string_value(json_object_get(code, "name")), "code");
    const char *desc = json_string_value(json_object_get(code, "description"));
    CHECK(desc && strstr(desc, "declare const codemode") != NULL);
    CHECK(desc && strstr(desc, "as fake.<tool>") != NULL);
    CHECK(desc && strstr(desc, "Example: async () => { const r = await codemode.") != NULL);
    json_decref(t);
    free(tools);
    stop(&s);
}

TEST(large_surfaces_switch_to_search_and_describe) {
    struct svc s = start("fake", 10);
    char *tools = corral_mcp_tools_json(s.m);
    CHECK(tools && strstr(tools, "codemode.search") != NULL);
    CHECK(tools && strstr(tools, "declare const codemode") == NULL);
    free(tools);
    struct out o = exec(&s, "const r = await codemode.search('echo'); return r.results[0].path");
    CHECK_EQ_STR(o.result, "\"codemode.echo\"");
    o = exec(&s, "const d = await codemode.describe('codemode.echo'); return d.types.includes('Echo')");
    CHECK_EQ_STR(o.result, "true");
    o = exec(&s, "return await codemode.echo({text: 'still callable'})");
    CHECK_EQ_STR(o.result, "\"still callable\"");
    stop(&s);
}

TEST(bad_upstream_names_and_commands_are_refused_clearly) {
    find_fake();
    corral_loader *l = corral_loader_new(NULL, NULL);
    corral_mcp *m = corral_mcp_new(l, NULL, NULL);
    corral_error err;
    CHECK_EQ_INT(corral_mcp_add_upstream(m, "my-fs=/bin/true", &err), CORRAL_EINVAL);
    CHECK(strstr(err.message, "my-fs") != NULL);
    CHECK_EQ_INT(corral_mcp_add_upstream(m, "class=/bin/true", &err), CORRAL_EINVAL);
    CHECK_EQ_INT(corral_mcp_add_upstream(m, "nothing", &err), CORRAL_EINVAL);
    CHECK_EQ_INT(corral_mcp_add_upstream(m, "gone=/nonexistent/command", &err), CORRAL_OK);
    CHECK_EQ_INT(corral_mcp_start(m, 3000, &err), CORRAL_ESTATE);
    CHECK(strstr(err.message, "gone") != NULL);
    corral_mcp_free(m);
    corral_loader_free(l);
}

static const char spec_json[] =
    "{\"openapi\":\"3.0.3\",\"info\":{\"title\":\"t\",\"version\":\"1\"},"
    "\"paths\":{\"/items\":{\"get\":{\"tags\":[\"items\"],\"summary\":\"List items\","
    "\"responses\":{\"200\":{\"description\":\"ok\",\"content\":{\"application/json\":{\"schema\":"
    "{\"$ref\":\"#/components/schemas/Node\"}}}}}}}},"
    "\"components\":{\"schemas\":{\"Node\":{\"type\":\"object\",\"properties\":{\"child\":"
    "{\"$ref\":\"#/components/schemas/Node\"}}}}}}";

TEST(openapi_mode_resolves_the_spec_and_keeps_requests_on_the_base_url) {
    char path[] = "/tmp/corral-spec-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, spec_json, sizeof spec_json - 1) == (ssize_t)(sizeof spec_json - 1));
    close(fd);
    setenv("CORRAL_TEST_SECRET", "s3cr3t-value-123", 1);
    corral_loader *l = corral_loader_new(NULL, NULL);
    corral_mcp *m = corral_mcp_new(l, NULL, NULL);
    corral_error err;
    const char *headers[] = {"Authorization: Bearer ${CORRAL_TEST_SECRET}"};
    CHECK_EQ_INT(corral_mcp_set_openapi(m, path, "http://127.0.0.1:9/api", headers, 1, &err), CORRAL_OK);
    CHECK_EQ_INT(corral_mcp_start(m, 1000, &err), CORRAL_OK);
    char *tools = corral_mcp_tools_json(m);
    CHECK(tools && strstr(tools, "\"search\"") && strstr(tools, "\"execute\""));
    CHECK(tools && !strstr(tools, "s3cr3t"));
    free(tools);
    struct out o;
    memset(&o, 0, sizeof o);
    CHECK_EQ_INT(corral_mcp_exec(m, "search",
                                 "const s = await codemode.spec(); return "
                                 "s.paths['/items'].get.responses['200'].content['application/json'].schema.properties.child",
                                 on_exec, &o),
                 CORRAL_OK);
    CHECK_EQ_STR(o.result, "{\"$circular\":\"#/components/schemas/Node\"}");
    memset(&o, 0, sizeof o);
    corral_mcp_exec(m, "search", "return typeof codemode.request", on_exec, &o);
    CHECK_EQ_STR(o.result, "\"undefined\"");
    memset(&o, 0, sizeof o);
    corral_mcp_exec(m, "execute",
                    "try { await codemode.request({method: 'GET', path: 'http://evil.example/x'}) } "
                    "catch (e) { return e.message }",
                    on_exec, &o);
    CHECK(strstr(o.result, "refused") != NULL || strstr(o.result, "relative") != NULL);
    memset(&o, 0, sizeof o);
    corral_mcp_exec(m, "execute", "try { await codemode.request({method: 'GET', path: '/../x'}) } catch (e) { return e.message }",
                    on_exec, &o);
    CHECK(o.result[0] == '"');
    CHECK(!strstr(o.result, "s3cr3t"));
    memset(&o, 0, sizeof o);
    CHECK_EQ_INT(corral_mcp_exec(m, "code", "return 1", on_exec, &o), CORRAL_EINVAL);
    corral_mcp_free(m);
    corral_loader_free(l);
    unlink(path);
}

/* A whole session over a socket pair: the service serves one end on a
 * thread, the test speaks JSON-RPC on the other. */
struct served {
    struct svc s;
    int fd;
};

static void *serve_thread(void *arg) {
    struct served *sv = arg;
    corral_error err;
    corral_mcp_serve_stdio(sv->s.m, sv->fd, sv->fd, &err);
    return NULL;
}

static json_t *read_msg(int fd) {
    static char buf[1 << 16];
    static size_t len;
    for (;;) {
        char *nl = memchr(buf, '\n', len);
        if (nl) {
            *nl = 0;
            json_error_t je;
            json_t *m = json_loads(buf, 0, &je);
            size_t used = (size_t)(nl - buf) + 1;
            memmove(buf, buf + used, len - used);
            len -= used;
            return m;
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 10000) <= 0) return NULL;
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n <= 0) return NULL;
        len += (size_t)n;
    }
}

static void send_msg(int fd, const char *text) {
    size_t n = strlen(text);
    CHECK(write(fd, text, n) == (ssize_t)n);
    CHECK(write(fd, "\n", 1) == 1);
}

/* Reads until the response with `id`, counting notifications by method. */
static json_t *response(int fd, long id, int *progress, int *logs) {
    for (;;) {
        json_t *m = read_msg(fd);
        if (!m) return NULL;
        const char *method = json_string_value(json_object_get(m, "method"));
        if (method && progress && !strcmp(method, "notifications/progress")) (*progress)++;
        if (method && logs && !strcmp(method, "notifications/message")) (*logs)++;
        if (!method && json_integer_value(json_object_get(m, "id")) == id) return m;
        json_decref(m);
    }
}

TEST(a_whole_mcp_session_over_stdio) {
    int sp[2];
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    struct served sv = {start("fake", 0), sp[0]};
    pthread_t th;
    /* The service is driven only from the serving thread from here on. */
    pthread_create(&th, NULL, serve_thread, &sv);
    int fd = sp[1];
    send_msg(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                 "\"2025-03-26\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
    json_t *r = response(fd, 1, NULL, NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(r, "result"), "protocolVersion")), "2025-03-26");
    json_decref(r);
    send_msg(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    send_msg(fd, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    r = response(fd, 2, NULL, NULL);
    json_t *tools = json_object_get(json_object_get(r, "result"), "tools");
    CHECK_EQ_INT((long)json_array_size(tools), 1);
    json_decref(r);
    send_msg(fd, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"info\"}}");
    json_decref(response(fd, 3, NULL, NULL));
    send_msg(fd, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"code\","
                 "\"arguments\":{\"code\":\"async () => { console.log('two calls'); await codemode.echo({text:'a'}); "
                 "return {n: (await codemode.add({a: 1, b: 1})).sum ?? 2}; }\"},\"_meta\":{\"progressToken\":\"p\"}}}");
    int progress = 0, logs = 0;
    r = response(fd, 4, &progress, &logs);
    json_t *content = json_object_get(json_object_get(r, "result"), "content");
    CHECK_EQ_INT((long)json_array_size(content), 2);
    CHECK(strstr(json_string_value(json_object_get(json_array_get(content, 0), "text")), "\"n\"") != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(content, 1), "text")),
                 "Console output:\ntwo calls");
    CHECK_EQ_INT(progress, 2);
    CHECK_EQ_INT(logs, 1);
    json_decref(r);
    /* An error result */
    send_msg(fd, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"code\","
                 "\"arguments\":{\"code\":\"throw new TypeError('nope')\"}}}");
    r = response(fd, 5, NULL, NULL);
    CHECK(json_is_true(json_object_get(json_object_get(r, "result"), "isError")));
    CHECK(strstr(json_string_value(json_object_get(json_array_get(json_object_get(json_object_get(r, "result"), "content"), 0), "text")),
                 "Error: nope") != NULL);
    json_decref(r);
    /* Cancellation: a runaway program is stopped; no response comes for
     * it, and the next request is served. */
    send_msg(fd, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"code\","
                 "\"arguments\":{\"code\":\"for (;;) await new Promise(r => setTimeout(r, 1))\"}}}");
    usleep(100 * 1000);
    send_msg(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":6}}");
    send_msg(fd, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}");
    r = read_msg(fd);
    CHECK(r && json_integer_value(json_object_get(r, "id")) == 7);
    json_decref(r);
    /* EOF ends the service. */
    shutdown(fd, SHUT_WR);
    pthread_join(th, NULL);
    close(fd);
    close(sp[0]);
    stop(&sv.s);
}
