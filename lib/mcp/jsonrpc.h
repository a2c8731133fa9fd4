/* lib/mcp/jsonrpc.h — JSON-RPC 2.0 framing and classification for corral's
 * MCP server: pure functions (no I/O, no state beyond a line buffer) so the
 * part that reads untrusted bytes can be fuzzed on its own
 * (fuzz/fuzz_mcp_jsonrpc.c).
 *
 * Messages are parsed with jansson (JSON_DECODE_ANY, so a bare `1` is an
 * invalid request rather than a parse error, as JSON-RPC 2.0 asks; strings
 * may hold U+0000, names that do are refused). A parsed value is either one
 * message or a batch (an array); jsonrpc_classify() sorts each message into
 * request, notification, response or invalid, and for an invalid one gives
 * the error to answer with and the id to answer to (null when the id itself
 * is unusable). Ids are strings or integers, as MCP requires; null and
 * fractional ids are invalid.
 *
 * Output is printed compactly with jansson, which escapes every control
 * character inside strings: a printed message never contains a newline, so
 * newline-delimited transports (stdio, SSE `data:` lines) can carry it as is.
 */
#ifndef CORRAL_MCP_JSONRPC_H
#define CORRAL_MCP_JSONRPC_H

#include <jansson.h>
#include <stddef.h>

/* The largest message (one stdio line, one HTTP body) the server accepts. */
#define MCP_MAX_MESSAGE (16u * 1024u * 1024u)

enum {
    JSONRPC_PARSE_ERROR = -32700,
    JSONRPC_INVALID_REQUEST = -32600,
    JSONRPC_METHOD_NOT_FOUND = -32601,
    JSONRPC_INVALID_PARAMS = -32602,
    JSONRPC_INTERNAL_ERROR = -32603,
};

typedef enum jsonrpc_kind {
    JSONRPC_REQUEST = 1,      /* method and id */
    JSONRPC_NOTIFICATION,     /* method, no id member */
    JSONRPC_RESPONSE,         /* result or error, no method (what a client answers to our requests) */
    JSONRPC_INVALID,          /* anything else: answer with error_code/error_text to `id` */
} jsonrpc_kind;

typedef struct jsonrpc_msg {
    jsonrpc_kind kind;
    json_t *id;               /* borrowed; a request's or response's id; for INVALID the id to answer (NULL: null) */
    const char *method;       /* borrowed; requests and notifications */
    json_t *params;           /* borrowed; object or array, NULL when absent */
    int error_code;           /* INVALID only */
    const char *error_text;   /* INVALID only: a static string */
} jsonrpc_msg;

/* Classifies one message (never NULL). Returns out->kind. */
jsonrpc_kind jsonrpc_classify(json_t *m, jsonrpc_msg *out);

/* Parses one message or batch. Returns a new reference, or NULL with a
 * message naming the position of the fault in err. Blank input is an error. */
json_t *jsonrpc_parse(const char *text, size_t len, char *err, size_t errlen);

/* Builders. Each returns a new reference, or NULL when out of memory. `id`
 * is borrowed (NULL prints as null); `result` and `params` are stolen (a NULL
 * result is {}; NULL params are left out). */
json_t *jsonrpc_error(json_t *id, int code, const char *message);
json_t *jsonrpc_result(json_t *id, json_t *result);
json_t *jsonrpc_notification(const char *method, json_t *params);

/* Prints compactly (no newline anywhere). Returns malloc'd text and its
 * length, or NULL (out of memory, or a value jansson cannot print). */
char *jsonrpc_dump(const json_t *m, size_t *len);

/* True when the text holds nothing but JSON whitespace. */
int jsonrpc_blank(const char *text, size_t len);

/* Newline framing for stdio. Bytes go in with jsonrpc_lines_feed(); each
 * complete line (without its "\n" or a "\r" before it) comes out through
 * on_line. A line longer than `max` bytes is not kept: its bytes are dropped
 * up to the next newline, and on_line is then called once with line == NULL
 * and len = the line's full length, so the caller can answer with an error
 * and carry on. Lines are passed straight from the fed data when they are
 * whole inside it (no copy). */
typedef void (*jsonrpc_line_fn)(void *ud, const char *line, size_t len);

typedef struct jsonrpc_lines {
    char *buf;
    size_t len, cap, max;
    size_t discarding;        /* bytes of an over-long line dropped so far; 0 when not discarding */
} jsonrpc_lines;

void jsonrpc_lines_init(jsonrpc_lines *lb, size_t max);
void jsonrpc_lines_free(jsonrpc_lines *lb);
/* Returns 0, or -1 when out of memory (the partial line is dropped). on_line
 * may not feed the same buffer. A stop flag lets the caller end the loop
 * early: when *stop becomes non-zero inside on_line, feeding returns at once
 * and the rest of `data` is dropped. */
int jsonrpc_lines_feed(jsonrpc_lines *lb, const char *data, size_t n, jsonrpc_line_fn on_line, void *ud,
                       const int *stop);
/* End of input: a final line without a newline is delivered as a line (or
 * as an over-long one). */
void jsonrpc_lines_finish(jsonrpc_lines *lb, jsonrpc_line_fn on_line, void *ud);

#endif
