/* libFuzzer target for the MCP server's JSON-RPC intake (lib/mcp/jsonrpc.c).
 *
 * The input is fed to the stdio line framer in pieces whose sizes come from
 * the first byte (so the fuzzer explores where reads split a line), with a
 * small line limit so over-long lines happen too. Every line is parsed and
 * each message classified as the server would; then the answers the server
 * could give are built and printed. Checked: lines never exceed the limit
 * and never hold a newline, the framer reports every byte exactly once
 * (lines + newlines + over-long lengths add up to the input), a request's
 * id is a string or an integer, and printed messages hold no newline.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/jsonrpc.h"

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)
#define LIMIT 4096

struct state {
    size_t seen; /* bytes accounted for */
};

static void check_printed(json_t *m) {
    size_t len;
    char *t = jsonrpc_dump(m, &len);
    if (!t) return;
    REQUIRE(len == strlen(t));
    REQUIRE(memchr(t, '\n', len) == NULL);
    free(t);
}

static void one_message(json_t *m) {
    jsonrpc_msg msg;
    jsonrpc_kind k = jsonrpc_classify(m, &msg);
    REQUIRE(k >= JSONRPC_REQUEST && k <= JSONRPC_INVALID);
    if (msg.id) REQUIRE(json_is_string(msg.id) || json_is_integer(msg.id));
    json_t *answer = NULL;
    switch (k) {
    case JSONRPC_REQUEST:
        REQUIRE(msg.method && msg.id);
        REQUIRE(!msg.params || json_is_object(msg.params) || json_is_array(msg.params));
        answer = jsonrpc_result(msg.id, json_pack("{s:s}", "method", msg.method));
        break;
    case JSONRPC_NOTIFICATION:
        REQUIRE(msg.method && !msg.id && !json_object_get(m, "id"));
        break;
    case JSONRPC_RESPONSE:
        REQUIRE(!msg.method);
        break;
    case JSONRPC_INVALID:
        REQUIRE(msg.error_code == JSONRPC_INVALID_REQUEST && msg.error_text);
        answer = jsonrpc_error(msg.id, msg.error_code, msg.error_text);
        REQUIRE(answer != NULL);
        break;
    }
    if (answer) check_printed(answer);
    json_decref(answer);
}

static void on_line(void *ud, const char *line, size_t len) {
    struct state *st = ud;
    if (!line) {
        REQUIRE(len > LIMIT);
        st->seen += len;
        return;
    }
    REQUIRE(len <= LIMIT);
    REQUIRE(memchr(line, '\n', len) == NULL);
    st->seen += len;
    if (jsonrpc_blank(line, len)) return;
    char err[200];
    json_t *root = jsonrpc_parse(line, len, err, sizeof err);
    if (!root) {
        REQUIRE(err[0]);
        return;
    }
    if (json_is_array(root)) {
        for (size_t i = 0; i < json_array_size(root); i++) one_message(json_array_get(root, i));
    } else {
        one_message(root);
    }
    check_printed(root);
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t step = (size_t)data[0] + 1;
    data++;
    size--;
    jsonrpc_lines lb;
    jsonrpc_lines_init(&lb, LIMIT);
    struct state st = {0};
    size_t newlines = 0, crs = 0;
    for (size_t i = 0; i < size; i++) {
        if (data[i] == '\n') {
            newlines++;
            /* A "\r" just before a newline is dropped with it, unless the
             * line was over-long (then the whole length is reported). */
            if (i && data[i - 1] == '\r') crs++;
        }
    }
    if (data[size - 1] == '\r') crs++; /* a last line without a newline loses its "\r" too */
    for (size_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        REQUIRE(jsonrpc_lines_feed(&lb, (const char *)data + off, n, on_line, &st, NULL) == 0);
    }
    jsonrpc_lines_finish(&lb, on_line, &st);
    REQUIRE(st.seen + newlines <= size && st.seen + newlines + crs >= size);
    jsonrpc_lines_free(&lb);
    return 0;
}
