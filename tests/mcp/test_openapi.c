/* Tests of OpenAPI mode's host side (lib/mcp/openapi.h): spec loading in
 * JSON and YAML, $ref resolution, the tool descriptions, and
 * codemode.request() against a real HTTP server.
 *
 * The server is in this process: an HTTP/1.1 responder on a thread,
 * listening on 127.0.0.1 at a port the kernel picks, one thread per
 * connection so that a slow answer does not hold the others. It keeps the
 * head of the last request it received, so a test can see what actually
 * went over the wire (the configured credentials arrive there), while the
 * checks on what comes back prove those credentials never do: echoed
 * headers, 401 pages, JSON keys, escaped JSON strings, response headers,
 * error messages and redirect locations are all redacted.
 *
 * Fixtures are in tests/mcp/data (the run starts in the repository root).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "mcp/openapi.h"
#include "mcp/openapi_internal.h"

#define DATA "tests/mcp/data/"
#define SECRET "s3cr3t-T0KEN-value-42"
#define NUMSECRET "98765432109"

/* ---- the server ---------------------------------------------------------- */

static int srv_port;
static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static char *srv_last_head; /* head of the last request */
static char *srv_last_body;

static void send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, int status, const char *headers, const char *body, size_t len) {
    char head[4096];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d Whatever\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n", status, len, headers ? headers : "");
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

static void respond_str(int fd, int status, const char *headers, const char *body) {
    respond(fd, status, headers, body, strlen(body));
}

/* The request's header value for `name`, malloc'd, or NULL. */
static char *head_value(const char *head, const char *name) {
    size_t nl = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ') v++;
            return strndup(v, strcspn(v, "\r\n"));
        }
    }
    return NULL;
}

static void *conn_main(void *arg) {
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(1 << 20);
    size_t n = 0;
    char *end = NULL;
    while (!end && n < (1 << 20) - 1) {
        ssize_t r = recv(fd, buf + n, (1 << 20) - 1 - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
        buf[n] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end) {
        close(fd);
        free(buf);
        return NULL;
    }
    size_t head_len = (size_t)(end - buf) + 4;
    char *cl = head_value(buf, "Content-Length");
    size_t want = cl ? (size_t)atol(cl) : 0;
    free(cl);
    while (n < head_len + want && n < (1 << 20) - 1) {
        ssize_t r = recv(fd, buf + n, (1 << 20) - 1 - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
    }
    buf[n] = 0;
    char *head = strndup(buf, head_len);
    char *body = strndup(buf + head_len, n - head_len);
    pthread_mutex_lock(&srv_lock);
    free(srv_last_head);
    free(srv_last_body);
    srv_last_head = strdup(head);
    srv_last_body = strdup(body);
    pthread_mutex_unlock(&srv_lock);

    char method[16] = "", target[4096] = "";
    sscanf(head, "%15s %4095s", method, target);
    char *auth = head_value(head, "Authorization");
    char route[4096];
    snprintf(route, sizeof route, "%.*s", (int)strcspn(target, "?"), target);
    char tmp[8192];

    if (strcmp(route, "/api/json") == 0) {
        respond_str(fd, 200, "Content-Type: application/json\r\n", "{\"hello\":\"world\",\"n\":1}");
    } else if (strcmp(route, "/api/problem") == 0) {
        respond_str(fd, 200, "Content-Type: application/problem+json; charset=utf-8\r\n", "[1,2,3]");
    } else if (strcmp(route, "/api/text") == 0) {
        respond_str(fd, 200, "Content-Type: text/plain\r\n", "plain text \xff end");
    } else if (strcmp(route, "/api/bytes") == 0) {
        char b[256];
        for (int i = 0; i < 256; i++) b[i] = (char)i;
        respond(fd, 200, "Content-Type: application/octet-stream\r\n", b, sizeof b);
    } else if (strcmp(route, "/api/echo") == 0 || strncmp(route, "/api/echo/", 10) == 0) {
        /* The request as JSON: what a debugging endpoint of a real API does. */
        json_t *h = json_object();
        for (const char *line = strstr(head, "\r\n"); line && line[2] != '\r'; line = strstr(line + 2, "\r\n")) {
            const char *l = line + 2, *colon = strchr(l, ':');
            size_t ll = strcspn(l, "\r\n");
            if (!colon || (size_t)(colon - l) > ll) continue;
            const char *v = colon + 1;
            while (*v == ' ') v++;
            json_object_setn_new(h, l, (size_t)(colon - l), json_stringn(v, (size_t)(l + ll - v)));
        }
        json_t *j = json_pack("{s:s, s:s, s:o, s:s}", "method", method, "target", target, "headers", h,
                              "body", body);
        char *s = json_dumps(j, JSON_COMPACT);
        respond_str(fd, 200, "Content-Type: application/json\r\n", s);
        free(s);
        json_decref(j);
    } else if (strcmp(route, "/api/echo-text") == 0) {
        respond_str(fd, 200, "Content-Type: text/plain\r\n", head);
    } else if (strcmp(route, "/api/missing") == 0) {
        snprintf(tmp, sizeof tmp, "no such thing; you sent Authorization: %s", auth ? auth : "");
        respond_str(fd, 404, "Content-Type: text/plain\r\n", tmp);
    } else if (strcmp(route, "/api/unauth") == 0) {
        snprintf(tmp, sizeof tmp, "<html><body><h1>401</h1><p>Token %s is not valid</p></body></html>",
                 auth ? auth + 7 : "");
        respond_str(fd, 401, "Content-Type: text/html\r\n", tmp);
    } else if (strcmp(route, "/api/long-error") == 0) {
        char big[3000];
        memset(big, 'e', sizeof big - 1);
        big[sizeof big - 1] = 0;
        respond_str(fd, 500, "Content-Type: text/plain\r\n", big);
    } else if (strcmp(route, "/api/json-secret") == 0) {
        respond_str(fd, 200, "Content-Type: application/json\r\n",
                    "{\"" SECRET "\": \"x " SECRET " y\", \"esc\": \"\\u0073\\u0033cr3t-T0KEN-value-42\","
                    " \"n\": " NUMSECRET ", \"ok\": \"fine\"}");
    } else if (strcmp(route, "/api/header-echo") == 0) {
        snprintf(tmp, sizeof tmp, "Content-Type: text/plain\r\nX-Echo: %s\r\nX-Multi: a\r\nX-Multi: b\r\n",
                 auth ? auth : "");
        respond_str(fd, 200, tmp, "ok");
    } else if (strcmp(route, "/api/redirect-in") == 0) {
        respond_str(fd, 302, "Location: /api/json\r\n", "");
    } else if (strcmp(route, "/api/redirect-rel") == 0) {
        respond_str(fd, 307, "Location: text\r\n", "");
    } else if (strcmp(route, "/api/redirect-out") == 0) {
        snprintf(tmp, sizeof tmp, "Location: http://127.0.0.1:%d/other/x?token=%s\r\n", srv_port, SECRET);
        respond_str(fd, 302, tmp, "");
    } else if (strcmp(route, "/api/redirect-host") == 0) {
        respond_str(fd, 301, "Location: http://example.invalid/api/json\r\n", "");
    } else if (strcmp(route, "/api/redirect-escape") == 0) {
        respond_str(fd, 302, "Location: /api/%2e%2e/other\r\n", "");
    } else if (strcmp(route, "/api/redirect-secret-path") == 0) {
        respond_str(fd, 302, "Location: /elsewhere/" SECRET "\r\n", "");
    } else if (strcmp(route, "/api/redirect-loop") == 0) {
        respond_str(fd, 302, "Location: /api/redirect-loop\r\n", "");
    } else if (strcmp(route, "/api/see-other") == 0) {
        respond_str(fd, 303, "Location: /api/echo\r\n", "");
    } else if (strcmp(route, "/api/slow") == 0) {
        sleep(3);
        respond_str(fd, 200, "Content-Type: text/plain\r\n", "late");
    } else if (strcmp(route, "/api/big") == 0) {
        char big[5000];
        memset(big, 'b', sizeof big);
        respond(fd, 200, "Content-Type: text/plain\r\n", big, sizeof big);
    } else if (strcmp(route, "/api/created") == 0) {
        respond_str(fd, 201, "Content-Type: application/json\r\n", "{\"id\":7}");
    } else if (strcmp(route, "/api/empty") == 0) {
        respond_str(fd, 204, "", "");
    } else {
        respond_str(fd, 404, "Content-Type: text/plain\r\n", "unknown route");
    }
    free(auth);
    free(head);
    free(body);
    free(buf);
    close(fd);
    return NULL;
}

static void *srv_main(void *arg) {
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) continue;
            return NULL;
        }
        pthread_t t;
        pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

static void srv_start(void) {
    if (srv_port) return;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(lfd, (struct sockaddr *)&a, sizeof a);
    listen(lfd, 64);
    socklen_t al = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &al);
    srv_port = ntohs(a.sin_port);
    pthread_t t;
    pthread_create(&t, NULL, srv_main, (void *)(intptr_t)lfd);
    pthread_detach(t);
}

static char *last_head(void) {
    pthread_mutex_lock(&srv_lock);
    char *h = srv_last_head ? strdup(srv_last_head) : NULL;
    pthread_mutex_unlock(&srv_lock);
    return h;
}

/* ---- helpers ------------------------------------------------------------- */

static char errbuf[1024];

static mcp_openapi *open_api(void) {
    srv_start();
    setenv("OPENAPI_TEST_TOKEN", SECRET, 1);
    char base[128];
    snprintf(base, sizeof base, "http://127.0.0.1:%d/api/", srv_port);
    const char *headers[] = {"Authorization: Bearer ${OPENAPI_TEST_TOKEN}", "X-Num: " NUMSECRET,
                             "Accept: application/json"};
    errbuf[0] = 0;
    mcp_openapi *o = mcp_openapi_new(DATA "cycles.json", base, headers, 3, errbuf, sizeof errbuf);
    if (!o) fprintf(stderr, "open_api: %s\n", errbuf);
    return o;
}

struct result {
    int done, calls, ok, status;
    char *msg, *value; /* value as compact JSON */
};

static void on_done(const mcp_openapi_response *r, void *ud) {
    struct result *res = ud;
    res->done = 1;
    res->calls++;
    res->ok = r->ok;
    res->status = r->status;
    res->msg = r->error_message ? strdup(r->error_message) : NULL;
    res->value = r->value ? json_dumps(r->value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static net_reactor *reactor(void) {
    static net_reactor *r;
    if (!r) r = net_reactor_new(NULL);
    return r;
}

static void wait_for(struct result *res, int ms) {
    uint64_t until = net_now_ms() + (uint64_t)ms;
    while (!res->done && net_now_ms() < until) net_reactor_run_once(reactor(), 50);
}

/* One request, waited for; options in JSON. */
static struct result call(mcp_openapi *o, const char *options) {
    struct result res = {0};
    json_t *opt = json_loads(options, JSON_DECODE_ANY, NULL);
    if (!opt) {
        fprintf(stderr, "bad options in test: %s\n", options);
        res.done = 1;
        return res;
    }
    mcp_openapi_req *q = mcp_openapi_request(o, reactor(), opt, on_done, &res);
    json_decref(opt);
    if (!q) {
        res.done = 1;
        return res;
    }
    wait_for(&res, 20000);
    if (!res.done) fprintf(stderr, "request did not finish: %s\n", options);
    if (!res.ok && getenv("OPENAPI_TEST_VERBOSE")) fprintf(stderr, "  %s -> %s\n", options, res.msg);
    return res;
}

static void result_free(struct result *r) {
    free(r->msg);
    free(r->value);
}

/* Nothing the sandbox gets may hold the secret in any spelling we know. */
static int leaks(const struct result *r) {
    const char *parts[] = {r->msg, r->value};
    for (int i = 0; i < 2; i++) {
        if (!parts[i]) continue;
        if (strstr(parts[i], SECRET) || strstr(parts[i], "s3cr3t") || strstr(parts[i], NUMSECRET))
            return 1;
    }
    return 0;
}

static json_t *load(const char *path) {
    mcp_openapi *o = mcp_openapi_new(path, "http://127.0.0.1:1/", NULL, 0, errbuf, sizeof errbuf);
    if (!o) return NULL;
    json_t *spec = json_incref((json_t *)mcp_openapi_spec(o));
    mcp_openapi_free(o);
    return spec;
}

static const char *load_error(const char *path) {
    errbuf[0] = 0;
    mcp_openapi *o = mcp_openapi_new(path, "http://127.0.0.1:1/", NULL, 0, errbuf, sizeof errbuf);
    mcp_openapi_free(o);
    return o ? "(loaded)" : errbuf;
}

static json_t *resolved_schema(json_t *resolved, const char *name) {
    return json_object_get(json_object_get(json_object_get(resolved, "components"), "schemas"), name);
}

/* ---- spec loading -------------------------------------------------------- */

TEST(spec_json_loads) {
    json_t *s = load(DATA "cycles.json");
    CHECK(s != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(s, "openapi")), "3.1.0");
    json_decref(s);
}

TEST(spec_yaml_resolves_like_json) {
    json_t *j = load(DATA "cycles.json"), *y = load(DATA "cycles.yaml");
    CHECK(j && y);
    CHECK(json_equal(j, y));
    json_t *rj = mcp_openapi_resolve(j, 1 << 20, errbuf, sizeof errbuf);
    json_t *ry = mcp_openapi_resolve(y, 1 << 20, errbuf, sizeof errbuf);
    CHECK(rj && ry && json_equal(rj, ry));
    json_decref(j), json_decref(y), json_decref(rj), json_decref(ry);
}

TEST(spec_refuses_swagger_2) {
    CHECK_CONTAINS(load_error(DATA "swagger.json"), "Swagger 2.0");
}

TEST(spec_refuses_non_openapi) {
    const char *doc = "{\"info\": {}, \"paths\": {}}";
    json_t *s = mcp_openapi_parse(doc, strlen(doc), errbuf, sizeof errbuf);
    CHECK(!s);
    CHECK_CONTAINS(errbuf, "no \"openapi\" field");
    const char *v2 = "openapi: 2.5.0\npaths: {}\n";
    CHECK(!mcp_openapi_parse(v2, strlen(v2), errbuf, sizeof errbuf));
    CHECK_CONTAINS(errbuf, "3.0.x or 3.1.x");
    const char *list = "[1, 2]";
    CHECK(!mcp_openapi_parse(list, strlen(list), errbuf, sizeof errbuf));
    CHECK_CONTAINS(errbuf, "top level is not a mapping");
    const char *flow = "{openapi: 3.0.0, paths: {}}"; /* YAML flow style, not JSON */
    json_t *fl = mcp_openapi_parse(flow, strlen(flow), errbuf, sizeof errbuf);
    CHECK(fl != NULL);
    json_decref(fl);
    const char *num = "openapi: 3.1\npaths: {}\n"; /* unquoted: a YAML number */
    json_t *ok = mcp_openapi_parse(num, strlen(num), errbuf, sizeof errbuf);
    CHECK(ok != NULL);
    json_decref(ok);
}

TEST(spec_refuses_missing_paths) {
    CHECK_CONTAINS(load_error(DATA "no_paths.yaml"), "no \"paths\" object");
}

TEST(spec_json_syntax_error_names_line) {
    CHECK_CONTAINS(load_error(DATA "bad_json.json"), "invalid JSON at line 4");
}

TEST(spec_yaml_syntax_error_names_line) {
    const char *e = load_error(DATA "bad_syntax.yaml");
    CHECK_CONTAINS(e, "invalid YAML");
    CHECK_CONTAINS(e, "at line ");
}

TEST(spec_yaml_alias_bomb_refused) {
    const char *e = load_error(DATA "alias_bomb.yaml");
    CHECK_CONTAINS(e, "67108864 bytes");
    CHECK_CONTAINS(e, "alias expansion");
}

TEST(spec_yaml_self_alias_refused) {
    CHECK_CONTAINS(load_error(DATA "self_alias.yaml"), "alias *p refers to an unknown or unfinished anchor");
}

TEST(spec_yaml_two_documents_refused) {
    CHECK_CONTAINS(load_error(DATA "two_docs.yaml"), "more than one YAML document");
}

TEST(spec_yaml_deep_nesting_refused) {
    size_t depth = 5000;
    char *doc = malloc(depth * 2 + 64);
    size_t n = (size_t)sprintf(doc, "openapi: 3.0.0\npaths: {}\nx: ");
    for (size_t i = 0; i < depth; i++) doc[n++] = '[';
    for (size_t i = 0; i < depth; i++) doc[n++] = ']';
    doc[n] = 0;
    CHECK(!mcp_openapi_parse(doc, n, errbuf, sizeof errbuf));
    CHECK_CONTAINS(errbuf, "deeper than 1024 levels");
    free(doc);
}

TEST(spec_huge_file_refused) {
    char path[] = "/tmp/corral-openapi-huge-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, (off_t)MCP_OPENAPI_MAX_SPEC_BYTES + 1) == 0); /* sparse: costs nothing */
    close(fd);
    const char *e = load_error(path);
    CHECK_CONTAINS(e, "more than the limit of 67108864");
    unlink(path);
    CHECK_CONTAINS(load_error("/nonexistent/spec.yaml"), "cannot open /nonexistent/spec.yaml");
}

TEST(spec_yaml_scalars_and_merges) {
    json_t *s = load(DATA "anchors.yaml");
    CHECK(s != NULL);
    if (!s) return;
    json_t *x = json_object_get(s, "x-scalars");
    CHECK_EQ_INT(json_integer_value(json_object_get(x, "int")), 42);
    CHECK_EQ_INT(json_integer_value(json_object_get(x, "neg")), -7);
    CHECK_EQ_INT(json_integer_value(json_object_get(x, "octal")), 15);
    CHECK_EQ_INT(json_integer_value(json_object_get(x, "hex")), 31);
    CHECK(json_real_value(json_object_get(x, "float")) == 1.5);
    CHECK(json_real_value(json_object_get(x, "exp")) == 2000.0);
    CHECK_EQ_STR(json_string_value(json_object_get(x, "inf")), ".inf");
    CHECK_EQ_STR(json_string_value(json_object_get(x, "nan")), ".nan");
    CHECK_EQ_STR(json_string_value(json_object_get(x, "yes")), "yes");
    CHECK_EQ_STR(json_string_value(json_object_get(x, "on")), "on");
    CHECK(json_is_true(json_object_get(x, "t")));
    CHECK(json_is_false(json_object_get(x, "f")));
    CHECK(json_is_null(json_object_get(x, "n1")) && json_is_null(json_object_get(x, "n2")) &&
          json_is_null(json_object_get(x, "n3")));
    CHECK_EQ_STR(json_string_value(json_object_get(x, "quoted")), "42");
    CHECK_EQ_STR(json_string_value(json_object_get(x, "single")), "true");
    CHECK_EQ_STR(json_string_value(json_object_get(x, "tagged")), "17");
    CHECK_EQ_STR(json_string_value(json_object_get(x, "block")), "line one\nline two\n");
    CHECK_EQ_STR(json_string_value(json_object_get(x, "folded")), "folded text\n");
    CHECK(json_is_real(json_object_get(x, "big")));
    json_t *paths = json_object_get(s, "paths");
    json_t *a = json_object_get(json_object_get(paths, "/a"), "get");
    json_t *bget = json_object_get(json_object_get(paths, "/b"), "get");
    json_t *bpost = json_object_get(json_object_get(paths, "/b"), "post");
    CHECK(json_equal(a, bget));
    CHECK_EQ_STR(json_string_value(json_object_get(bpost, "summary")), "own summary wins");
    CHECK(json_object_get(bpost, "responses") != NULL);
    json_t *m = json_object_get(s, "x-merge-list");
    CHECK_EQ_INT(json_integer_value(json_object_get(m, "a")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(m, "b")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(m, "c")), 3);
    CHECK(!json_object_get(m, "<<"));
    json_decref(s);
}

TEST(config_base_url_checked) {
    const char *bad[] = {"ftp://x/", "http://", "http://user:pw@host/", "http://host/a?b=1",
                         "http://host:0/", "http://host:99999/", "http://ho st/", "http://host/a/../b",
                         "http://host/a#frag", "javascript:alert(1)", NULL};
    const char *spec = "{\"openapi\":\"3.0.0\",\"paths\":{}}";
    for (size_t i = 0; bad[i]; i++) {
        mcp_openapi *o = mcp_openapi_new_from_memory(spec, strlen(spec), bad[i], NULL, 0, errbuf, sizeof errbuf);
        if (o) fprintf(stderr, "  accepted base URL %s\n", bad[i]);
        CHECK(!o);
        CHECK_CONTAINS(errbuf, "base URL");
        mcp_openapi_free(o);
    }
    const char *good[] = {"http://127.0.0.1:8080", "https://API.example.com/v1/", "http://[::1]:9/x", NULL};
    for (size_t i = 0; good[i]; i++) {
        mcp_openapi *o = mcp_openapi_new_from_memory(spec, strlen(spec), good[i], NULL, 0, errbuf, sizeof errbuf);
        if (!o) fprintf(stderr, "  refused base URL %s: %s\n", good[i], errbuf);
        CHECK(o != NULL);
        mcp_openapi_free(o);
    }
}

TEST(config_headers_expand_env) {
    const char *spec = "{\"openapi\":\"3.0.0\",\"paths\":{}}";
    unsetenv("OPENAPI_TEST_UNSET");
    const char *h1[] = {"Authorization: Bearer ${OPENAPI_TEST_UNSET}"};
    mcp_openapi *o = mcp_openapi_new_from_memory(spec, strlen(spec), "http://h/", h1, 1, errbuf, sizeof errbuf);
    CHECK(!o);
    CHECK_CONTAINS(errbuf, "environment variable OPENAPI_TEST_UNSET is not set");
    const char *h2[] = {"NoColonHere"};
    CHECK(!mcp_openapi_new_from_memory(spec, strlen(spec), "http://h/", h2, 1, errbuf, sizeof errbuf));
    CHECK_CONTAINS(errbuf, "expected \"Name: value\"");
    const char *h3[] = {"X-Key: ${1BAD}"};
    CHECK(!mcp_openapi_new_from_memory(spec, strlen(spec), "http://h/", h3, 1, errbuf, sizeof errbuf));
    CHECK_CONTAINS(errbuf, "malformed ${...}");
    setenv("OPENAPI_TEST_NL", "a\r\nInjected: yes", 1);
    const char *h4[] = {"X-Key: ${OPENAPI_TEST_NL}"};
    CHECK(!mcp_openapi_new_from_memory(spec, strlen(spec), "http://h/", h4, 1, errbuf, sizeof errbuf));
    CHECK_CONTAINS(errbuf, "control character");
    setenv("OPENAPI_TEST_OK", "abcdefgh12345", 1);
    const char *h5[] = {"X-Key: pre-${OPENAPI_TEST_OK}-post $literal"};
    o = mcp_openapi_new_from_memory(spec, strlen(spec), "http://h/", h5, 1, errbuf, sizeof errbuf);
    CHECK(o != NULL);
    if (o) CHECK_EQ_STR(o->headers[0].value, "pre-abcdefgh12345-post $literal");
    mcp_openapi_free(o);
}

TEST(descriptions_stay_small) {
    char *s = mcp_openapi_search_description();
    char *e = mcp_openapi_execute_description(NULL);
    char *x = mcp_openapi_execute_description("Rate limit: 10 calls a minute.");
    CHECK(s && e && x);
    CHECK(strlen(s) + strlen(e) < 2800);
    CHECK_CONTAINS(s, "codemode.spec()");
    CHECK_CONTAINS(s, "$circular");
    CHECK_CONTAINS(e, "request(o: RequestOptions)");
    CHECK_CONTAINS(e, "fullResponse");
    CHECK(strncmp(x, e, strlen(e)) == 0);
    CHECK_EQ_STR(x + strlen(e), "\n\nRate limit: 10 calls a minute.");
    free(s), free(e), free(x);
}

/* ---- resolution ---------------------------------------------------------- */

/* A $ref met again while its own target is being resolved. */
static json_t *op_schema(json_t *r, const char *path) {
    json_t *op = json_object_get(json_object_get(json_object_get(r, "paths"), path), "get");
    json_t *ok = json_object_get(json_object_get(op, "responses"), "200");
    return json_object_get(json_object_get(json_object_get(ok, "content"), "application/json"), "schema");
}

TEST(resolve_circular_markers_exact) {
    json_t *s = load(DATA "cycles.json");
    json_t *r = mcp_openapi_resolve(s, 1 << 20, errbuf, sizeof errbuf);
    CHECK(r != NULL);
    /* paths./pets/{id} -> Pet -> owner: Owner -> pets.items: Pet again. */
    json_t *pet = op_schema(r, "/pets/{id}");
    json_t *owner = json_object_get(json_object_get(pet, "properties"), "owner");
    json_t *items = json_object_get(json_object_get(json_object_get(owner, "properties"), "pets"), "items");
    json_t *want = json_pack("{s:s}", "$circular", "#/components/schemas/Pet");
    CHECK(json_equal(items, want));
    json_decref(want);
    /* paths./nodes -> Node -> children.items: Node again. */
    json_t *node = op_schema(r, "/nodes");
    json_t *child = json_object_get(json_object_get(json_object_get(node, "properties"), "children"), "items");
    want = json_pack("{s:s}", "$circular", "#/components/schemas/Node");
    CHECK(json_equal(child, want));
    json_decref(want);
    /* Under components the schema itself was not reached through a $ref, so
     * the cycle closes one level further down, on the ref that was. */
    json_t *cpets = json_object_get(json_object_get(json_object_get(json_object_get(resolved_schema(r, "Pet"),
                    "properties"), "owner"), "properties"), "pets");
    json_t *inner = json_object_get(json_object_get(json_object_get(cpets, "items"), "properties"), "owner");
    want = json_pack("{s:s}", "$circular", "#/components/schemas/Owner");
    CHECK(json_equal(inner, want));
    json_decref(want);
    json_decref(s), json_decref(r);
}

TEST(resolve_copies_are_independent) {
    json_t *s = load(DATA "cycles.json");
    json_t *r = mcp_openapi_resolve(s, 1 << 20, errbuf, sizeof errbuf);
    json_t *tags = json_object_get(json_object_get(json_object_get(resolved_schema(r, "Node"), "properties"), "tags"),
                                   "items");
    json_t *t0 = json_array_get(tags, 0), *t2 = json_array_get(tags, 2);
    CHECK(t0 && t2 && t0 != t2 && json_equal(t0, t2));
    json_object_set_new(t0, "mutated", json_true());
    CHECK(!json_object_get(t2, "mutated"));
    CHECK(!json_object_get(resolved_schema(r, "Tag"), "mutated"));
    CHECK(!json_object_get(resolved_schema(s, "Tag"), "mutated")); /* the source is untouched */
    json_decref(s), json_decref(r);
}

TEST(resolve_pointer_escapes) {
    json_t *s = load(DATA "cycles.json");
    json_t *r = mcp_openapi_resolve(s, 1 << 20, errbuf, sizeof errbuf);
    json_t *props = json_object_get(resolved_schema(r, "Pet"), "properties");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(props, "tricky"), "type")), "boolean");
    CHECK_EQ_STR(json_string_value(json_object_get(props, "route")), "getPet");
    json_t *kind = json_object_get(props, "kind"); /* %20 */
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(kind, "enum"), 1)), "dog");
    json_decref(s), json_decref(r);
}

TEST(resolve_external_and_missing_refs) {
    json_t *s = load(DATA "cycles.json");
    json_t *r = mcp_openapi_resolve(s, 1 << 20, errbuf, sizeof errbuf);
    json_t *props = json_object_get(resolved_schema(r, "Pet"), "properties");
    json_t *want = json_pack("{s:s}", "$ref", "common.yaml#/components/schemas/Error");
    CHECK(json_equal(json_object_get(props, "external"), want));
    json_decref(want);
    CHECK(!json_object_get(props, "ghost")); /* property omitted */
    CHECK(json_object_get(props, "name") != NULL);
    json_t *tags = json_object_get(json_object_get(json_object_get(resolved_schema(r, "Node"), "properties"), "tags"),
                                   "items");
    CHECK_EQ_INT(json_array_size(tags), 3);
    CHECK(json_is_null(json_array_get(tags, 1))); /* array element null */
    json_t *params = json_object_get(json_object_get(json_object_get(json_object_get(r, "paths"), "/pets/{id}"),
                                                     "get"), "parameters");
    CHECK_EQ_INT(json_array_size(params), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(params, 0), "name")), "id");
    CHECK(json_is_null(json_array_get(params, 1)));
    json_decref(s), json_decref(r);
}

TEST(resolve_cached_and_borrowed) {
    mcp_openapi *o = mcp_openapi_new(DATA "cycles.json", "http://h/", NULL, 0, errbuf, sizeof errbuf);
    CHECK(o != NULL);
    if (!o) return;
    CHECK(!mcp_openapi_resolved(o, 100, errbuf, sizeof errbuf)); /* a failure is not kept */
    CHECK_CONTAINS(errbuf, "larger than 100 bytes");
    const json_t *a = mcp_openapi_resolved(o, 1 << 20, errbuf, sizeof errbuf);
    const json_t *b = mcp_openapi_resolved(o, 1 << 20, errbuf, sizeof errbuf);
    CHECK(a && a == b);
    CHECK(!json_object_get(json_object_get(resolved_schema((json_t *)a, "Pet"), "properties"), "ghost"));
    mcp_openapi_free(o);
}

TEST(resolve_fan_out_is_bounded) {
    /* Each level refers to the one below ten times: 10^12 copies unbounded. */
    char doc[16384];
    size_t n = (size_t)snprintf(doc, sizeof doc, "{\"openapi\":\"3.0.0\",\"paths\":{},\"components\":{\"schemas\":{"
                                "\"L0\":{\"type\":\"string\"}");
    for (int l = 1; l <= 12; l++) {
        n += (size_t)snprintf(doc + n, sizeof doc - n, ",\"L%d\":[", l);
        for (int k = 0; k < 10; k++)
            n += (size_t)snprintf(doc + n, sizeof doc - n, "%s{\"$ref\":\"#/components/schemas/L%d\"}", k ? "," : "", l - 1);
        n += (size_t)snprintf(doc + n, sizeof doc - n, "]");
    }
    n += (size_t)snprintf(doc + n, sizeof doc - n, "}}}");
    json_t *s = mcp_openapi_parse(doc, n, errbuf, sizeof errbuf);
    CHECK(s != NULL);
    uint64_t t0 = net_now_ms();
    json_t *r = mcp_openapi_resolve(s, (size_t)8 << 20, errbuf, sizeof errbuf);
    CHECK(!r);
    CHECK_CONTAINS(errbuf, "larger than 8388608 bytes");
    CHECK(net_now_ms() - t0 < 10000);
    json_decref(s);
}

TEST(resolve_root_and_self_refs) {
    const char *doc = "{\"openapi\":\"3.0.0\",\"paths\":{},\"x\":{\"$ref\":\"#\"},\"y\":{\"$ref\":\"#/y\"},"
                      "\"z\":{\"$ref\":\"#/bad~2escape\"},\"w\":{\"$ref\":\"#/paths/%zz\"}}";
    json_t *s = mcp_openapi_parse(doc, strlen(doc), errbuf, sizeof errbuf);
    json_t *r = mcp_openapi_resolve(s, 1 << 20, errbuf, sizeof errbuf);
    CHECK(r != NULL);
    json_t *x = json_object_get(r, "x");
    CHECK_EQ_STR(json_string_value(json_object_get(x, "openapi")), "3.0.0");
    json_t *want = json_pack("{s:s}", "$circular", "#");
    CHECK(json_equal(json_object_get(x, "x"), want));
    json_decref(want);
    want = json_pack("{s:s}", "$circular", "#/y");
    CHECK(json_equal(json_object_get(r, "y"), want));
    json_decref(want);
    CHECK(!json_object_get(r, "z") && !json_object_get(r, "w"));
    json_decref(s), json_decref(r);
}

/* ---- requests ------------------------------------------------------------ */

TEST(request_json_and_configured_header_arrives) {
    mcp_openapi *o = open_api();
    CHECK(o != NULL);
    if (!o) return;
    struct result r = call(o, "{\"method\":\"GET\",\"path\":\"/json\"}");
    CHECK(r.ok);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.value, "{\"hello\":\"world\",\"n\":1}");
    char *head = last_head();
    CHECK_CONTAINS(head, "GET /api/json HTTP/1.1");
    CHECK_CONTAINS(head, "Authorization: Bearer " SECRET);
    CHECK_CONTAINS(head, "X-Num: " NUMSECRET);
    free(head);
    CHECK_EQ_INT(r.calls, 1);
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(request_plus_json_text_and_empty) {
    mcp_openapi *o = open_api();
    struct result r = call(o, "{\"method\":\"get\",\"path\":\"/problem\"}");
    CHECK(r.ok);
    CHECK_EQ_STR(r.value, "[1,2,3]");
    result_free(&r);
    r = call(o, "{\"method\":\"GET\",\"path\":\"/text\"}");
    CHECK(r.ok);
    CHECK_EQ_STR(r.value, "\"plain text \xef\xbf\xbd end\""); /* invalid UTF-8 becomes U+FFFD */
    result_free(&r);
    r = call(o, "{\"method\":\"DELETE\",\"path\":\"/empty\"}");
    CHECK(r.ok);
    CHECK_EQ_INT(r.status, 204);
    CHECK_EQ_STR(r.value, "\"\"");
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(request_head_and_options) {
    mcp_openapi *o = open_api();
    struct result r = call(o, "{\"method\":\"HEAD\",\"path\":\"/json\",\"fullResponse\":true}");
    CHECK(r.ok);
    CHECK_CONTAINS(r.value, "\"status\":200");
    CHECK_CONTAINS(r.value, "\"body\":\"\"");
    result_free(&r);
    r = call(o, "{\"method\":\"OPTIONS\",\"path\":\"/echo\"}");
    CHECK(r.ok);
    CHECK_CONTAINS(r.value, "\"method\":\"OPTIONS\"");
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(request_raw_body_is_base64) {
    mcp_openapi *o = open_api();
    struct result r = call(o, "{\"method\":\"GET\",\"path\":\"/bytes\",\"rawBody\":true}");
    CHECK(r.ok);
    CHECK(r.value && strncmp(r.value, "{\"$bytes\":\"AAECAwQFBgc", 21) == 0);
    CHECK(r.value && strstr(r.value, "+/w==\"}")); /* ... fc fd fe ff */
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(request_full_response) {
    mcp_openapi *o = open_api();
    struct result r = call(o, "{\"method\":\"POST\",\"path\":\"/created\",\"body\":{},\"fullResponse\":true}");
    CHECK(r.ok);
    json_t *v = json_loads(r.value ? r.value : "null", JSON_DECODE_ANY, NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(v, "status")), 201);
    json_t *h = json_object_get(v, "headers");
    CHECK_EQ_STR(json_string_value(json_object_get(h, "content-type")), "application/json");
    CHECK(!json_object_get(h, "authorization") && !json_object_get(h, "Content-Type"));
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(v, "body"), "id")), 7);
    json_decref(v);
    result_free(&r);
    r = call(o, "{\"method\":\"GET\",\"path\":\"/header-echo\",\"fullResponse\":true}");
    CHECK(r.ok);
    CHECK(!leaks(&r));
    CHECK_CONTAINS(r.value, "\"x-echo\":\"[redacted]\"");
    CHECK_CONTAINS(r.value, "\"x-multi\":\"a, b\"");
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(request_query_encoding) {
    mcp_openapi *o = open_api();
    struct result r = call(o, "{\"method\":\"GET\",\"path\":\"/echo\",\"query\":{\"q\":\"a b&c=d/é\","
                              "\"n\":5,\"x\":0.1,\"t\":true,\"f\":false,\"skip\":null,\"ids\":[1,\"two\",null,3]}}");
    CHECK(r.ok);
    CHECK_CONTAINS(r.value, "\"target\":\"/api/echo?q=a%20b%26c%3Dd%2F%C3%A9&n=5&x=0.1&t=true&f=false&ids=1&ids=two&ids=3\"");
    result_free(&r);
    r = call(o, "{\"method\":\"GET\",\"path\":\"/echo?limit=2\",\"query\":{\"page\":3}}");
    CHECK_CONTAINS(r.value, "\"target\":\"/api/echo?limit=2&page=3\"");
    result_free(&r);
    r = call(o, "{\"method\":\"GET\",\"path\":\"/echo\",\"query\":{\"o\":{\"a\":1}}}");
    CHECK(!r.ok);
    CHECK_CONTAINS(r.msg, "request refused: query.o:");
    result_free(&r);
    r = call(o, "{\"method\":\"GET\",\"path\":\"/echo\",\"query\":{\"a\":[[1]]}}");
    CHECK_CONTAINS(r.msg, "query arrays cannot nest");
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(request_path_encoding) {
    mcp_openapi *o = open_api();
    struct result r = call(o, "{\"method\":\"GET\",\"path\":\"/echo/a b/{id}/caf\xc3\xa9/x%20y\"}");
    CHECK(r.ok);
    CHECK_CONTAINS(r.value, "\"target\":\"/api/echo/a%20b/%7Bid%7D/caf%C3%A9/x%20y\"");
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(request_refuses_paths_off_the_base) {
    mcp_openapi *o = open_api();
    const char *bad[] = {"http://127.0.0.1/api/json", "//evil.example/x", "json", "", "/..", "/../x",
                         "/a/../../x", "/./json", "/a/%2e%2e/x", "/a/%2E%2e/x", "/%2e/x", "/a%2fb",
                         "/a%5cb", "/a\\\\b", "/a/..;/x", "/a/%252e%252e/x", "/a%00b", "/x\\u0001",
                         "/x\\r\\nHost: evil", "/x#frag", "/a%zz", "/a%2", "https:/x", NULL};
    for (size_t i = 0; bad[i]; i++) {
        char opt[256];
        snprintf(opt, sizeof opt, "{\"method\":\"GET\",\"path\":\"%s\"}", bad[i]);
        struct result r = call(o, opt);
        if (r.ok) fprintf(stderr, "  accepted path %s\n", bad[i]);
        CHECK(!r.ok);
        CHECK_EQ_INT(r.status, 0);
        CHECK_CONTAINS(r.msg, "request refused: ");
        result_free(&r);
    }
    struct result r = call(o, "{\"method\":\"GET\",\"path\":\"http://evil.example/\"}");
    CHECK_CONTAINS(r.msg, "path must start with \"/\"");
    result_free(&r);
    r = call(o, "{\"method\":\"GET\",\"path\":\"//evil.example/\"}");
    CHECK_EQ_STR(r.msg, "request refused: path must be relative to the base URL");
    result_free(&r);
    r = call(o, "{\"method\":\"GET\",\"path\":\"/a/../x\"}");
    CHECK_CONTAINS(r.msg, "\"..\" segments");
    result_free(&r);
    r = call(o, "{\"method\":\"GET\",\"path\":\"/...\"}"); /* three dots is just a name */
    CHECK_EQ_INT(r.status, 404);
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(request_refuses_bad_options) {
    mcp_openapi *o = open_api();
    const char *bad[][2] = {
        {"[1]", "options must be an object"},
        {"{\"path\":\"/json\"}", "method must be a string"},
        {"{\"method\":\"TRACE\",\"path\":\"/json\"}", "method TRACE is not allowed"},
        {"{\"method\":\"CONNECT\",\"path\":\"/json\"}", "not allowed"},
        {"{\"method\":\"GET\"}", "path must be a string"},
        {"{\"method\":\"GET\",\"path\":\"/json\",\"headers\":{\"Host\":\"evil\"}}", "header Host is set by the host"},
        {"{\"method\":\"GET\",\"path\":\"/json\",\"headers\":{\"content-length\":\"5\"}}", "set by the host"},
        {"{\"method\":\"GET\",\"path\":\"/json\",\"headers\":{\"Transfer-Encoding\":\"chunked\"}}", "set by the host"},
        {"{\"method\":\"GET\",\"path\":\"/json\",\"headers\":{\"Connection\":\"close\"}}", "set by the host"},
        {"{\"method\":\"GET\",\"path\":\"/json\",\"headers\":{\"X-A\":\"a\\r\\nX-B: b\"}}", "control character"},
        {"{\"method\":\"GET\",\"path\":\"/json\",\"headers\":{\"Bad Name\":\"x\"}}", "is not valid"},
        {"{\"method\":\"GET\",\"path\":\"/json\",\"headers\":{\"X\":{}}}", "must be a string"},
        {"{\"method\":\"GET\",\"path\":\"/json\",\"headers\":{\"Range\":\"bytes=0-3\"}}", "set by the host"},
        {"{\"method\":\"POST\",\"path\":\"/json\",\"body\":{\"$bytes\":\"***\"}}", "not valid base64"},
        {"{\"method\":\"POST\",\"path\":\"/json\",\"contentType\":\"a\\nb\"}", "contentType must be"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct result r = call(o, bad[i][0]);
        CHECK(!r.ok);
        CHECK_CONTAINS(r.msg, bad[i][1]);
        result_free(&r);
    }
    mcp_openapi_free(o);
}

TEST(request_configured_headers_win) {
    mcp_openapi *o = open_api();
    struct result r = call(o, "{\"method\":\"GET\",\"path\":\"/json\",\"headers\":{\"authorization\":\"Bearer mine\","
                              "\"X-Extra\":\"1\",\"X-Num\":7}}");
    CHECK(r.ok);
    char *head = last_head();
    CHECK_CONTAINS(head, "Authorization: Bearer " SECRET);
    CHECK(!strstr(head, "Bearer mine"));
    CHECK(!strstr(head, "X-Num: 7"));
    CHECK_CONTAINS(head, "X-Extra: 1");
    free(head);
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(request_bodies) {
    mcp_openapi *o = open_api();
    struct result r = call(o, "{\"method\":\"POST\",\"path\":\"/echo\",\"body\":{\"a\":[1,\"x\"]}}");
    CHECK(r.ok);
    CHECK_CONTAINS(r.value, "\"Content-Type\":\"application/json\"");
    CHECK_CONTAINS(r.value, "\"body\":\"{\\\"a\\\":[1,\\\"x\\\"]}\"");
    result_free(&r);
    r = call(o, "{\"method\":\"PUT\",\"path\":\"/echo\",\"body\":\"a=1&b=2\",\"contentType\":\"application/x-www-form-urlencoded\"}");
    CHECK_CONTAINS(r.value, "\"method\":\"PUT\"");
    CHECK_CONTAINS(r.value, "\"Content-Type\":\"application/x-www-form-urlencoded\"");
    CHECK_CONTAINS(r.value, "\"body\":\"a=1&b=2\"");
    result_free(&r);
    r = call(o, "{\"method\":\"PATCH\",\"path\":\"/echo\",\"body\":{\"$bytes\":\"aGVsbG8=\"}}");
    CHECK_CONTAINS(r.value, "\"Content-Type\":\"application/octet-stream\"");
    CHECK_CONTAINS(r.value, "\"body\":\"hello\"");
    result_free(&r);
    r = call(o, "{\"method\":\"POST\",\"path\":\"/echo\",\"headers\":{\"Content-Type\":\"text/csv\"},\"body\":\"a,b\"}");
    CHECK_CONTAINS(r.value, "\"Content-Type\":\"text/csv\"");
    CHECK_CONTAINS(r.value, "\"body\":\"a,b\"");
    result_free(&r);
    r = call(o, "{\"method\":\"POST\",\"path\":\"/echo\"}"); /* no body: no form content type */
    CHECK(r.value && !strstr(r.value, "x-www-form-urlencoded"));
    CHECK_CONTAINS(r.value, "\"Content-Length\":\"0\"");
    result_free(&r);
    mcp_openapi_limits lim;
    mcp_openapi_limits_default(&lim);
    lim.max_request_body = 10;
    mcp_openapi_set_limits(o, &lim);
    r = call(o, "{\"method\":\"POST\",\"path\":\"/echo\",\"body\":\"0123456789abcdef\"}");
    CHECK(!r.ok);
    CHECK_CONTAINS(r.msg, "more than the limit of 10 (max_request_body)");
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(redact_echoed_request) {
    mcp_openapi *o = open_api();
    struct result r = call(o, "{\"method\":\"GET\",\"path\":\"/echo\"}");
    CHECK(r.ok);
    CHECK(!leaks(&r));
    CHECK_CONTAINS(r.value, "\"Authorization\":\"[redacted]\"");
    CHECK_CONTAINS(r.value, "\"X-Num\":\"[redacted]\"");
    result_free(&r);
    r = call(o, "{\"method\":\"GET\",\"path\":\"/echo-text\"}");
    CHECK(r.ok);
    CHECK(!leaks(&r));
    CHECK_CONTAINS(r.value, "Authorization: [redacted]");
    result_free(&r);
    r = call(o, "{\"method\":\"GET\",\"path\":\"/echo-text\",\"rawBody\":true}");
    CHECK(r.ok);
    json_t *v = json_loads(r.value ? r.value : "null", JSON_DECODE_ANY, NULL);
    const char *b64 = json_string_value(json_object_get(v, "$bytes"));
    CHECK(b64 != NULL);
    /* Decoded, the bytes hold the marker and not the secret. */
    char *cmd = NULL;
    if (b64 && asprintf(&cmd, "echo %s | base64 -d | grep -c '%s'", b64, "Authorization: \\[redacted\\]") > 0) {
        FILE *p = popen(cmd, "r");
        char line[16] = "";
        if (p && fgets(line, sizeof line, p)) CHECK_EQ_STR(line, "1\n");
        if (p) pclose(p);
    }
    free(cmd);
    json_decref(v);
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(redact_error_pages) {
    mcp_openapi *o = open_api();
    struct result r = call(o, "{\"method\":\"GET\",\"path\":\"/missing\"}");
    CHECK(!r.ok);
    CHECK_EQ_INT(r.status, 404);
    CHECK_EQ_STR(r.msg, "HTTP 404 Not Found: no such thing; you sent Authorization: [redacted]");
    CHECK(!leaks(&r));
    result_free(&r);
    r = call(o, "{\"method\":\"GET\",\"path\":\"/unauth\"}");
    CHECK_EQ_INT(r.status, 401);
    CHECK_CONTAINS(r.msg, "HTTP 401 Unauthorized: <html>");
    CHECK_CONTAINS(r.msg, "Token [redacted] is not valid");
    CHECK(!leaks(&r));
    result_free(&r);
    r = call(o, "{\"method\":\"GET\",\"path\":\"/long-error\",\"fullResponse\":true}");
    CHECK_EQ_INT(r.status, 500);
    CHECK(r.msg && strlen(r.msg) == strlen("HTTP 500 Internal Server Error: ") + 1000);
    CHECK(r.value == NULL);
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(redact_json_keys_escapes_and_numbers) {
    mcp_openapi *o = open_api();
    struct result r = call(o, "{\"method\":\"GET\",\"path\":\"/json-secret\"}");
    CHECK(r.ok);
    CHECK(!leaks(&r));
    CHECK_CONTAINS(r.value, "\"[redacted]\":\"x [redacted] y\"");
    CHECK_CONTAINS(r.value, "\"esc\":\"[redacted]\"");
    CHECK_CONTAINS(r.value, "\"n\":\"[redacted]\"");
    CHECK_CONTAINS(r.value, "\"ok\":\"fine\"");
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(redact_unit) {
    mcp_openapi_redactor red = {0};
    mcp_openapi *o = open_api();
    size_t n = strlen("a Bearer " SECRET " b " SECRET "c s3cr3t-T0KEN-value-4 " "s3cr3t%2D");
    const char *in = "a Bearer " SECRET " b " SECRET "c s3cr3t-T0KEN-value-4 s3cr3t%2D";
    char *out = mcp_openapi_redact(&o->red, in, &n);
    CHECK_EQ_STR(out, "a [redacted] b [redacted]c s3cr3t-T0KEN-value-4 s3cr3t%2D");
    CHECK_EQ_INT(n, strlen(out));
    free(out);
    n = 3;
    out = mcp_openapi_redact(&red, "abc", &n); /* no secrets: a copy */
    CHECK_EQ_STR(out, "abc");
    free(out);
    CHECK(mcp_openapi_has_secret(&o->red, "xx" SECRET, strlen(SECRET) + 2));
    CHECK(!mcp_openapi_has_secret(&o->red, "application/json", 16)); /* Accept is not a secret */
    mcp_openapi_free(o);
}

TEST(redirect_inside_base_followed) {
    mcp_openapi *o = open_api();
    struct result r = call(o, "{\"method\":\"GET\",\"path\":\"/redirect-in\"}");
    CHECK(r.ok);
    CHECK_EQ_STR(r.value, "{\"hello\":\"world\",\"n\":1}");
    result_free(&r);
    r = call(o, "{\"method\":\"GET\",\"path\":\"/redirect-rel\"}");
    CHECK(r.ok);
    CHECK_CONTAINS(r.value, "plain text");
    result_free(&r);
    r = call(o, "{\"method\":\"POST\",\"path\":\"/see-other\",\"body\":{\"a\":1}}");
    CHECK(r.ok);
    CHECK_CONTAINS(r.value, "\"method\":\"GET\""); /* 303: GET, no body */
    CHECK(r.value && !strstr(r.value, "Content-Type"));
    CHECK_CONTAINS(r.value, "\"Authorization\":\"[redacted]\"");
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(redirect_off_base_refused) {
    mcp_openapi *o = open_api();
    struct result r = call(o, "{\"method\":\"GET\",\"path\":\"/redirect-out\"}");
    CHECK(!r.ok);
    CHECK_EQ_INT(r.status, 302);
    char want[256];
    snprintf(want, sizeof want, "redirect off the base URL refused: http://127.0.0.1:%d/other/x", srv_port);
    CHECK_EQ_STR(r.msg, want);
    result_free(&r);
    char *head = last_head();
    CHECK_CONTAINS(head, "/api/redirect-out"); /* never followed */
    free(head);
    r = call(o, "{\"method\":\"GET\",\"path\":\"/redirect-host\"}");
    CHECK_EQ_STR(r.msg, "redirect off the base URL refused: http://example.invalid/api/json");
    result_free(&r);
    r = call(o, "{\"method\":\"GET\",\"path\":\"/redirect-escape\"}");
    CHECK_CONTAINS(r.msg, "redirect off the base URL refused: /api/%2e%2e/other");
    result_free(&r);
    r = call(o, "{\"method\":\"GET\",\"path\":\"/redirect-secret-path\"}");
    CHECK_EQ_STR(r.msg, "redirect off the base URL refused: /elsewhere/[redacted]");
    CHECK(!leaks(&r));
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(redirect_hops_limited) {
    mcp_openapi *o = open_api();
    struct result r = call(o, "{\"method\":\"GET\",\"path\":\"/redirect-loop\"}");
    CHECK(!r.ok);
    CHECK_EQ_INT(r.status, 302);
    CHECK_EQ_STR(r.msg, "too many redirects (limit max_redirects = 5)");
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(limit_response_size) {
    mcp_openapi *o = open_api();
    mcp_openapi_limits lim;
    mcp_openapi_limits_default(&lim);
    lim.max_body = 1000;
    mcp_openapi_set_limits(o, &lim);
    struct result r = call(o, "{\"method\":\"GET\",\"path\":\"/big\"}");
    CHECK(!r.ok);
    CHECK_EQ_STR(r.msg, "the response body is larger than 1000 bytes (limit max_body)");
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(limit_timeout) {
    mcp_openapi *o = open_api();
    mcp_openapi_limits lim;
    mcp_openapi_limits_default(&lim);
    lim.timeout_ms = 300;
    mcp_openapi_set_limits(o, &lim);
    uint64_t t0 = net_now_ms();
    struct result r = call(o, "{\"method\":\"GET\",\"path\":\"/slow\"}");
    CHECK(!r.ok);
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_STR(r.msg, "the request timed out after 300 ms (limit timeout_ms)");
    CHECK(net_now_ms() - t0 < 2500);
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(connection_refused_has_no_status) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(s, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &al);
    close(s); /* a port nobody listens on */
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", ntohs(a.sin_port));
    mcp_openapi *o = mcp_openapi_new(DATA "cycles.json", base, NULL, 0, errbuf, sizeof errbuf);
    struct result r = call(o, "{\"method\":\"GET\",\"path\":\"/x\"}");
    CHECK(!r.ok);
    CHECK_EQ_INT(r.status, 0);
    CHECK_CONTAINS(r.msg, "request failed: ");
    result_free(&r);
    mcp_openapi_free(o);
}

TEST(cancel_stops_done) {
    mcp_openapi *o = open_api();
    struct result res = {0};
    json_t *opt = json_loads("{\"method\":\"GET\",\"path\":\"/slow\"}", 0, NULL);
    uint64_t t0 = net_now_ms();
    mcp_openapi_req *q = mcp_openapi_request(o, reactor(), opt, on_done, &res);
    CHECK(q != NULL);
    for (int i = 0; i < 4; i++) net_reactor_run_once(reactor(), 50);
    mcp_openapi_cancel(q);
    /* A cancelled refusal, too: its done() was already posted. */
    json_t *bad = json_loads("{\"method\":\"TRACE\",\"path\":\"/x\"}", 0, NULL);
    mcp_openapi_req *q2 = mcp_openapi_request(o, reactor(), bad, on_done, &res);
    mcp_openapi_cancel(q2);
    uint64_t until = net_now_ms() + 500;
    while (net_now_ms() < until) net_reactor_run_once(reactor(), 50);
    CHECK_EQ_INT(res.calls, 0);
    mcp_openapi_free(o); /* the aborted transfer does not hold this up for the server's 3 s */
    CHECK(net_now_ms() - t0 < 2000);
    json_decref(opt);
    json_decref(bad);
}

TEST(free_with_requests_in_flight) {
    mcp_openapi *o = open_api();
    struct result res = {0};
    json_t *opt = json_loads("{\"method\":\"GET\",\"path\":\"/slow\"}", 0, NULL);
    json_t *fast = json_loads("{\"method\":\"GET\",\"path\":\"/json\"}", 0, NULL);
    mcp_openapi_request(o, reactor(), opt, on_done, &res);
    mcp_openapi_request(o, reactor(), opt, on_done, &res);
    mcp_openapi_request(o, reactor(), fast, on_done, &res);
    usleep(200 * 1000); /* the fast one completes and is posted */
    uint64_t t0 = net_now_ms();
    mcp_openapi_free(o);
    CHECK(net_now_ms() - t0 < 1500);
    for (int i = 0; i < 5; i++) net_reactor_run_once(reactor(), 20);
    CHECK_EQ_INT(res.calls, 0);
    json_decref(opt);
    json_decref(fast);
}

TEST(concurrent_requests_overlap) {
    mcp_openapi *o = open_api();
    struct result slow = {0}, quick[5] = {{0}};
    json_t *s = json_loads("{\"method\":\"GET\",\"path\":\"/slow\"}", 0, NULL);
    json_t *f = json_loads("{\"method\":\"GET\",\"path\":\"/json\"}", 0, NULL);
    mcp_openapi_req *sq = mcp_openapi_request(o, reactor(), s, on_done, &slow);
    for (int i = 0; i < 5; i++) mcp_openapi_request(o, reactor(), f, on_done, &quick[i]);
    uint64_t until = net_now_ms() + 2000;
    int all = 0;
    while (!all && net_now_ms() < until) {
        net_reactor_run_once(reactor(), 50);
        all = 1;
        for (int i = 0; i < 5; i++) all &= quick[i].done;
    }
    CHECK(all); /* the slow one did not hold them up */
    CHECK(!slow.done);
    for (int i = 0; i < 5; i++) {
        CHECK(quick[i].ok);
        result_free(&quick[i]);
    }
    mcp_openapi_cancel(sq);
    mcp_openapi_free(o);
    json_decref(s);
    json_decref(f);
}
