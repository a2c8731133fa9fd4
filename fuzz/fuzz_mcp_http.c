/* libFuzzer target for the MCP server's HTTP request parser
 * (lib/mcp/httpd.c): head detection, head parsing and body framing, as the
 * server runs them on bytes from the network.
 *
 * Checked: the head's end is found at the same place however the bytes
 * arrive (scanning resumes correctly), a parsed head's pieces all lie inside
 * the buffer, the refusal statuses are the documented ones, and a body
 * length is never over the limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/httpd.h"

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

static int inside(const char *p, const char *buf, size_t len) { return p >= buf && p < buf + len; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536) return 0;
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    size_t scan = 0, whole = httpd_head_end(buf, size, &scan);
    /* Byte by byte, resuming the scan each time, finds the same end. */
    size_t scan2 = 0, end = 0;
    for (size_t i = 1; i <= size && !end; i++) end = httpd_head_end(buf, i, &scan2);
    REQUIRE(end == whole);
    if (whole) {
        REQUIRE(whole <= size);
        httpd_request req;
        httpd_header hdrs[16];
        char path[64];
        int st = httpd_parse_head(buf, whole, &req, hdrs, 16, path, sizeof path);
        REQUIRE(st == 0 || st == 400 || st == 414 || st == 431 || st == 505);
        if (st == 0) {
            REQUIRE(inside(req.method, buf, whole) && inside(req.target, buf, whole));
            REQUIRE(strlen(req.path) < sizeof path);
            REQUIRE(req.minor == 0 || req.minor == 1);
            REQUIRE(req.n_headers <= 16);
            for (size_t i = 0; i < req.n_headers; i++) {
                REQUIRE(inside(req.headers[i].name, buf, whole));
                REQUIRE(inside(req.headers[i].value, buf, whole) || req.headers[i].value == buf + whole);
                REQUIRE(strchr(req.headers[i].value, '\n') == NULL);
            }
            size_t len = 0;
            int bs = httpd_body_length(&req, 1000, &len);
            REQUIRE(bs == 0 || bs == 400 || bs == 411 || bs == 413);
            REQUIRE(len <= 1000);
            httpd_header_get(&req, "Content-Type");
            const char *acc = httpd_header_get(&req, "Accept");
            if (acc) httpd_has_token(acc, "text/event-stream");
        }
    }
    free(buf);
    return 0;
}
