/* The MCP server's pure parts: JSON-RPC classification, parsing, printing
 * and line framing (lib/mcp/jsonrpc.c), and the HTTP head parser
 * (lib/mcp/httpd.c). */
#include "check.h"

#include "mcp/httpd.h"
#include "mcp/jsonrpc.h"

static jsonrpc_kind classify_text(const char *text, jsonrpc_msg *m, json_t **keep) {
    json_t *v = jsonrpc_parse(text, strlen(text), NULL, 0);
    *keep = v;
    if (!v) return 0;
    return jsonrpc_classify(v, m);
}

TEST(classify_request_notification_response) {
    jsonrpc_msg m;
    json_t *v;
    CHECK_EQ_INT(classify_text("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}", &m, &v), JSONRPC_REQUEST);
    CHECK_EQ_STR(m.method, "ping");
    CHECK_EQ_INT(json_integer_value(m.id), 7);
    CHECK(m.params == NULL);
    json_decref(v);
    CHECK_EQ_INT(classify_text("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"x\",\"params\":{}}", &m, &v),
                 JSONRPC_REQUEST);
    CHECK(json_is_object(m.params));
    json_decref(v);
    CHECK_EQ_INT(classify_text("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &m, &v),
                 JSONRPC_NOTIFICATION);
    json_decref(v);
    CHECK_EQ_INT(classify_text("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", &m, &v), JSONRPC_RESPONSE);
    json_decref(v);
    CHECK_EQ_INT(classify_text("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":1,\"message\":\"m\"}}", &m, &v),
                 JSONRPC_RESPONSE);
    json_decref(v);
}

TEST(classify_invalid_messages) {
    static const char *const bad[] = {
        "1", "\"x\"", "[]", "null",
        "{\"id\":1,\"method\":\"ping\"}",                        /* no jsonrpc */
        "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",    /* wrong version */
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}",           /* method not a string */
        "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",  /* fractional id */
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", /* null id */
        "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",   /* object id */
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":3}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"pi\\u0000ng\"}", /* NUL inside the name */
        "{\"jsonrpc\":\"2.0\",\"id\":1}",                        /* neither method nor result */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jsonrpc_msg m;
        json_t *v;
        jsonrpc_kind k = classify_text(bad[i], &m, &v);
        if (k != JSONRPC_INVALID) CHECK_FAIL_AT("not invalid: %s (kind %d)", bad[i], k);
        CHECK_EQ_INT(m.error_code, JSONRPC_INVALID_REQUEST);
        CHECK(m.error_text != NULL);
        json_decref(v);
    }
}

TEST(classify_invalid_keeps_a_usable_id) {
    jsonrpc_msg m;
    json_t *v;
    CHECK_EQ_INT(classify_text("{\"jsonrpc\":\"1.0\",\"id\":\"k\",\"method\":\"ping\"}", &m, &v), JSONRPC_INVALID);
    CHECK_EQ_STR(json_string_value(m.id), "k");
    json_decref(v);
    CHECK_EQ_INT(classify_text("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", &m, &v), JSONRPC_INVALID);
    CHECK(m.id == NULL);
    json_decref(v);
}

TEST(parse_errors_name_the_position) {
    char err[200];
    CHECK(jsonrpc_parse("{\"a\":", 5, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "Parse error");
    CHECK_CONTAINS(err, "column");
    CHECK(jsonrpc_parse("", 0, err, sizeof err) == NULL);
    CHECK(jsonrpc_parse("{} {}", 5, err, sizeof err) == NULL);
    json_t *v = jsonrpc_parse("\"a\\u0000b\"", 10, err, sizeof err);
    CHECK(v != NULL);
    CHECK_EQ_INT(json_string_length(v), 3);
    json_decref(v);
}

TEST(builders_and_dump_have_no_newline) {
    json_t *id = json_integer(3);
    json_t *e = jsonrpc_error(id, JSONRPC_METHOD_NOT_FOUND, "Method not found: x");
    size_t len;
    char *t = jsonrpc_dump(e, &len);
    CHECK_EQ_STR(t, "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32601,\"message\":\"Method not found: x\"}}");
    CHECK_EQ_INT(len, strlen(t));
    free(t);
    json_decref(e);
    e = jsonrpc_error(NULL, JSONRPC_PARSE_ERROR, "p");
    t = jsonrpc_dump(e, NULL);
    CHECK_CONTAINS(t, "\"id\":null");
    free(t);
    json_decref(e);
    json_t *r = jsonrpc_result(id, json_pack("{s:s}", "text", "line1\nline2\r\n"));
    t = jsonrpc_dump(r, &len);
    CHECK(strchr(t, '\n') == NULL);
    CHECK_CONTAINS(t, "line1\\nline2\\r\\n");
    free(t);
    json_decref(r);
    r = jsonrpc_result(id, NULL);
    t = jsonrpc_dump(r, NULL);
    CHECK_EQ_STR(t, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}");
    free(t);
    json_decref(r);
    json_t *n = jsonrpc_notification("notifications/tools/list_changed", NULL);
    t = jsonrpc_dump(n, NULL);
    CHECK_EQ_STR(t, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}");
    free(t);
    json_decref(n);
    json_decref(id);
}

struct lines_seen {
    char got[16][64];
    size_t lens[16];
    int n;
};

static void collect_line(void *ud, const char *line, size_t len) {
    struct lines_seen *s = ud;
    if (s->n == 16) return;
    if (line) snprintf(s->got[s->n], sizeof s->got[0], "%.*s", (int)len, line);
    else snprintf(s->got[s->n], sizeof s->got[0], "<long %zu>", len);
    s->lens[s->n++] = len;
}

TEST(lines_split_across_feeds_and_crlf) {
    jsonrpc_lines lb;
    jsonrpc_lines_init(&lb, 100);
    struct lines_seen s = {0};
    const char *data = "ab\ncd\r\n\nef";
    /* One byte at a time: the framing must not care where reads split. */
    for (const char *p = data; *p; p++) CHECK_EQ_INT(jsonrpc_lines_feed(&lb, p, 1, collect_line, &s, NULL), 0);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_STR(s.got[0], "ab");
    CHECK_EQ_STR(s.got[1], "cd");
    CHECK_EQ_STR(s.got[2], "");
    jsonrpc_lines_finish(&lb, collect_line, &s);
    CHECK_EQ_INT(s.n, 4);
    CHECK_EQ_STR(s.got[3], "ef");
    jsonrpc_lines_free(&lb);
}

TEST(lines_over_long_is_dropped_to_its_newline) {
    jsonrpc_lines lb;
    jsonrpc_lines_init(&lb, 8);
    struct lines_seen s = {0};
    const char *data = "12345678\n123456789012\nok\n";
    CHECK_EQ_INT(jsonrpc_lines_feed(&lb, data, 10, collect_line, &s, NULL), 0);
    CHECK_EQ_INT(jsonrpc_lines_feed(&lb, data + 10, 6, collect_line, &s, NULL), 0);
    CHECK_EQ_INT(jsonrpc_lines_feed(&lb, data + 16, strlen(data) - 16, collect_line, &s, NULL), 0);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_STR(s.got[0], "12345678");
    CHECK_EQ_STR(s.got[1], "<long 12>");
    CHECK_EQ_STR(s.got[2], "ok");
    /* An over-long line cut by EOF is still reported. */
    CHECK_EQ_INT(jsonrpc_lines_feed(&lb, "abcdefghijk", 11, collect_line, &s, NULL), 0);
    jsonrpc_lines_finish(&lb, collect_line, &s);
    CHECK_EQ_INT(s.n, 4);
    CHECK_EQ_STR(s.got[3], "<long 11>");
    jsonrpc_lines_free(&lb);
}

static void stop_after_first(void *ud, const char *line, size_t len) {
    int *stop = ud;
    *stop = 1;
}

TEST(lines_stop_flag_ends_feeding) {
    jsonrpc_lines lb;
    jsonrpc_lines_init(&lb, 100);
    int stop = 0;
    CHECK_EQ_INT(jsonrpc_lines_feed(&lb, "a\nb\nc\n", 6, stop_after_first, &stop, &stop), 0);
    CHECK_EQ_INT(stop, 1);
    CHECK_EQ_INT(lb.len, 0);
    jsonrpc_lines_free(&lb);
}

TEST(blank_detection) {
    CHECK(jsonrpc_blank(" \t\r", 3));
    CHECK(jsonrpc_blank("", 0));
    CHECK(!jsonrpc_blank(" x", 2));
}

/* ---- HTTP head parsing ---------------------------------------------------- */

static int parse(const char *text, httpd_request *req, httpd_header *h, char *buf, size_t bufsz, char *path) {
    snprintf(buf, bufsz, "%s", text);
    size_t scan = 0, end = httpd_head_end(buf, strlen(buf), &scan);
    if (!end) return -1;
    return httpd_parse_head(buf, end, req, h, 8, path, 64);
}

TEST(http_head_parses) {
    char buf[1024], path[64];
    httpd_header h[8];
    httpd_request req;
    CHECK_EQ_INT(parse("POST /mcp?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length:  12 \r\nX-E:\r\n\r\nbody", &req, h, buf,
                       sizeof buf, path),
                 0);
    CHECK_EQ_STR(req.method, "POST");
    CHECK_EQ_STR(req.target, "/mcp?x=1");
    CHECK_EQ_STR(req.path, "/mcp");
    CHECK_EQ_INT(req.minor, 1);
    CHECK_EQ_INT(req.n_headers, 3);
    CHECK_EQ_STR(httpd_header_get(&req, "content-length"), "12");
    CHECK_EQ_STR(httpd_header_get(&req, "x-e"), "");
    CHECK(httpd_header_get(&req, "Nope") == NULL);
    size_t len;
    CHECK_EQ_INT(httpd_body_length(&req, 100, &len), 0);
    CHECK_EQ_INT(len, 12);
    CHECK_EQ_INT(httpd_body_length(&req, 11, &len), 413);
    /* Bare LF line ends, HTTP/1.0. */
    CHECK_EQ_INT(parse("GET / HTTP/1.0\nA: b\n\n", &req, h, buf, sizeof buf, path), 0);
    CHECK_EQ_INT(req.minor, 0);
}

TEST(http_head_incomplete_until_blank_line) {
    size_t scan = 0;
    const char *t = "GET / HTTP/1.1\r\nA: b\r\n";
    CHECK_EQ_INT(httpd_head_end(t, strlen(t), &scan), 0);
    const char *full = "GET / HTTP/1.1\r\nA: b\r\n\r\n";
    CHECK_EQ_INT(httpd_head_end(full, strlen(full), &scan), strlen(full));
}

TEST(http_head_refusals) {
    char buf[2048], path[64];
    httpd_header h[8];
    httpd_request req;
    CHECK_EQ_INT(parse("GET / HTTP/2.0\r\n\r\n", &req, h, buf, sizeof buf, path), 505);
    CHECK_EQ_INT(parse("GET / FTP/1.1\r\n\r\n", &req, h, buf, sizeof buf, path), 400);
    CHECK_EQ_INT(parse("GET  / HTTP/1.1\r\n\r\n", &req, h, buf, sizeof buf, path), 400);
    CHECK_EQ_INT(parse("G(T / HTTP/1.1\r\n\r\n", &req, h, buf, sizeof buf, path), 400);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", &req, h, buf, sizeof buf, path), 400); /* folding */
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nA b\r\n\r\n", &req, h, buf, sizeof buf, path), 400);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nA : b\r\n\r\n", &req, h, buf, sizeof buf, path), 400);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", &req, h, buf, sizeof buf, path), 400); /* bare CR */
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\nA: \001\r\n\r\n", &req, h, buf, sizeof buf, path), 400);
    CHECK_EQ_INT(parse("GET / HTTP/1.1\r\na:1\r\nb:1\r\nc:1\r\nd:1\r\ne:1\r\nf:1\r\ng:1\r\nh:1\r\ni:1\r\n\r\n", &req, h,
                       buf, sizeof buf, path),
                 431);
    char longpath[200] = "GET /";
    memset(longpath + 5, 'a', 100);
    strcpy(longpath + 105, " HTTP/1.1\r\n\r\n");
    CHECK_EQ_INT(parse(longpath, &req, h, buf, sizeof buf, path), 414);
}

TEST(http_body_length_rules) {
    char buf[1024], path[64];
    httpd_header h[8];
    httpd_request req;
    size_t len;
    CHECK_EQ_INT(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &req, h, buf, sizeof buf, path), 0);
    CHECK_EQ_INT(httpd_body_length(&req, 100, &len), 411);
    CHECK_EQ_INT(parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &req, h, buf, sizeof buf,
                       path),
                 0);
    CHECK_EQ_INT(httpd_body_length(&req, 100, &len), 400);
    CHECK_EQ_INT(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", &req, h, buf, sizeof buf,
                       path),
                 0);
    CHECK_EQ_INT(httpd_body_length(&req, 100, &len), 0);
    CHECK_EQ_INT(len, 3);
    CHECK_EQ_INT(parse("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &req, h, buf, sizeof buf, path), 0);
    CHECK_EQ_INT(httpd_body_length(&req, 100, &len), 400);
    CHECK_EQ_INT(parse("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", &req, h, buf, sizeof buf,
                       path),
                 0);
    CHECK_EQ_INT(httpd_body_length(&req, 100, &len), 413);
    CHECK_EQ_INT(parse("POST / HTTP/1.1\r\n\r\n", &req, h, buf, sizeof buf, path), 0);
    CHECK_EQ_INT(httpd_body_length(&req, 100, &len), 0);
    CHECK_EQ_INT(len, 0);
}

TEST(http_tokens) {
    CHECK(httpd_has_token("application/json, text/event-stream", "text/event-stream"));
    CHECK(httpd_has_token("text/event-stream;q=0.9", "text/event-stream"));
    CHECK(httpd_has_token("Keep-Alive", "keep-alive"));
    CHECK(!httpd_has_token("application/json", "text/event-stream"));
    CHECK(!httpd_has_token("text/event-streamx", "text/event-stream"));
    CHECK(!httpd_has_token("", "close"));
}
