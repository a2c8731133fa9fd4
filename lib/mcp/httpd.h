/* lib/mcp/httpd.h — a small HTTP/1.1 server on the reactor, just enough for
 * MCP's streamable HTTP transport (lib/mcp/server_http.c) and no more.
 *
 * It reads a request (request line, headers, a Content-Length body), hands
 * it to one handler, and writes what the handler answers: a whole response,
 * or a stream (chunked, for server-sent events) that the handler writes to
 * until it ends it, possibly much later. Connections are kept alive and
 * pipelined requests are answered in order. Everything is bounded: the head
 * (431), the body (413), the time a request may take to arrive and the time
 * an idle connection is kept, the number of connections (503), and the
 * output waiting for a slow reader (the connection is dropped). Chunked
 * request bodies are refused with 411.
 *
 * The parser (httpd_head_end, httpd_parse_head, httpd_body_length) is pure
 * and fuzzed (fuzz/fuzz_mcp_http.c).
 */
#ifndef CORRAL_MCP_HTTPD_H
#define CORRAL_MCP_HTTPD_H

#include <stddef.h>

#include "net/reactor.h"

/* Output waiting on one connection beyond this drops it. */
#define HTTPD_MAX_OUTPUT (64u * 1024u * 1024u)
#define HTTPD_MAX_HEADERS 100

typedef struct httpd httpd;
typedef struct httpd_conn httpd_conn;

typedef struct httpd_header {
    const char *name, *value;
} httpd_header;

typedef struct httpd_request {
    const char *method;
    const char *target;       /* as sent */
    const char *path;         /* target up to '?' */
    int minor;                /* HTTP/1.minor (0 or 1) */
    httpd_header *headers;
    size_t n_headers;
    const char *body;
    size_t body_len;
} httpd_request;

/* -- parsing (pure) ------------------------------------------------------- */

/* The length of the head (through its blank line) once buf holds all of it,
 * else 0. *scan remembers how far earlier calls looked (start it at 0). */
size_t httpd_head_end(const char *buf, size_t len, size_t *scan);
/* Parses a complete head of `len` bytes in place (it NUL-terminates the
 * pieces). `path` is written into pathbuf (pathlen bytes). Returns 0, or the
 * HTTP status to refuse it with: 400 (malformed), 414 (path longer than
 * pathbuf), 431 (more than max_hdrs headers), 505 (not HTTP/1.x). */
int httpd_parse_head(char *buf, size_t len, httpd_request *req, httpd_header *hdrs, size_t max_hdrs, char *pathbuf,
                     size_t pathlen);
/* The first header called `name` (case-insensitive), or NULL. */
const char *httpd_header_get(const httpd_request *req, const char *name);
/* True when a comma-separated header value lists `token` (case-insensitive,
 * parameters after ';' ignored). */
int httpd_has_token(const char *value, const char *token);
/* The body's length from the headers: 0 and *len, or the status to refuse
 * with: 400 (bad or conflicting Content-Length), 411 (Transfer-Encoding),
 * 413 (over max). */
int httpd_body_length(const httpd_request *req, size_t max, size_t *len);

/* -- the server ----------------------------------------------------------- */

typedef struct httpd_config {
    size_t max_header_bytes;
    size_t max_body_bytes;
    unsigned idle_ms;         /* a kept-alive connection with no request */
    unsigned request_ms;      /* head + body to arrive; a stalled write to progress */
    unsigned max_connections;
} httpd_config;

/* The handler owns the request until it calls httpd_respond() or
 * httpd_stream_begin() (now or later); `req` and what it points to are
 * valid only during the call. */
typedef void (*httpd_handler)(httpd_conn *c, const httpd_request *req, void *ud);

/* Listens on host:port (host NULL: 127.0.0.1; port 0: any free one, written
 * to *bound_port). NULL with a message in err. */
httpd *httpd_new(net_reactor *r, const char *host, int port, const httpd_config *cfg, httpd_handler handler,
                 void *ud, int *bound_port, char *err, size_t errlen);
/* Closes the listener and every connection (close callbacks are not called). */
void httpd_free(httpd *h);
void httpd_set_config(httpd *h, const httpd_config *cfg);

/* Called once if the connection dies while the handler owns it (waiting for
 * its answer, or streaming). Cleared by httpd_respond/httpd_stream_end. */
typedef void (*httpd_close_fn)(httpd_conn *c, void *ud);
void httpd_conn_on_close(httpd_conn *c, httpd_close_fn fn, void *ud);

/* A whole response. extra_headers: "Name: value\r\n" lines or NULL; ctype
 * NULL for none. Returns 0, or -1 when the connection is gone. The
 * connection is closed after it when close_after is set. */
int httpd_respond(httpd_conn *c, int status, const char *extra_headers, const char *ctype, const char *body,
                  size_t len, int close_after);
/* Starts a streamed response (chunked on HTTP/1.1, close-delimited on 1.0).
 * `heartbeat` (may be NULL) is written every heartbeat_ms while the stream
 * is otherwise quiet. Returns 0 or -1. */
int httpd_stream_begin(httpd_conn *c, int status, const char *extra_headers, const char *ctype,
                       const char *heartbeat, unsigned heartbeat_ms);
int httpd_stream_write(httpd_conn *c, const char *data, size_t len);
/* Ends the stream; the connection then serves its next request. */
void httpd_stream_end(httpd_conn *c);

const char *httpd_status_text(int status);

#endif
