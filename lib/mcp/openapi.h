/* lib/mcp/openapi.h — the host side of OpenAPI mode (`corral mcp --openapi
 * SPEC --base-url URL --header "Name: value"`, issue #4).
 *
 * In OpenAPI mode the model gets two tools, `search` and `execute`
 * (reference §3.2). Both run a program in a sandbox; inside it
 * `codemode.spec()` returns the spec with its local $refs resolved, and
 * `codemode.request(options)` (execute only) asks the host to make one HTTP
 * call. This header is everything the host needs for that: loading and
 * checking the spec (JSON or YAML), resolving it once, the prompt text of
 * the two tools, and the request path, which is where the credentials live.
 *
 * The sandbox is treated as hostile. A request may only reach paths under
 * the base URL (absolute URLs, dot segments, encoded slashes and redirects
 * elsewhere are refused); configured headers are added here, cannot be
 * overridden, and every configured secret that comes back from the server
 * (an echoed header, a 401 page, a redirect location) is replaced by
 * "[redacted]" before anything is handed back.
 *
 * Threads: everything here is called on the reactor's thread. Transfers run
 * on one helper thread per mcp_openapi (a libcurl multi handle) and their
 * results come back through net_reactor_post().
 */
#ifndef CORRAL_MCP_OPENAPI_H
#define CORRAL_MCP_OPENAPI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "net/reactor.h"

#define MCP_OPENAPI_MAX_SPEC_BYTES ((size_t)64 << 20)  /* spec file on disk */
#define MCP_OPENAPI_MAX_YAML_EXPANSION ((size_t)64 << 20) /* YAML after aliases, as JSON */
#define MCP_OPENAPI_MAX_DEPTH 1024                     /* nesting, before and after $refs */
#define MCP_OPENAPI_MAX_PATH 8192                      /* request path, bytes */
#define MCP_OPENAPI_MAX_URL 16384                      /* final URL with its query */

typedef struct mcp_openapi mcp_openapi;

/* Loads SPEC (JSON when its first non-blank character is '{' and it parses
 * as JSON, YAML otherwise; YAML anchors and aliases are expanded with the expansion
 * bounded by MCP_OPENAPI_MAX_YAML_EXPANSION), checks that it is OpenAPI
 * 3.0.x or 3.1.x with a `paths` object, and checks base_url
 * (http(s)://host[:port][/prefix], no user info, query or fragment).
 * headers are "Name: value" strings; ${VAR} in a value is replaced by the
 * host environment variable VAR (an unset one is an error naming it).
 * Returns NULL with a message in err ("OpenAPI spec: ... at line N", the
 * limit and its value when one was hit). */
mcp_openapi *mcp_openapi_new(const char *spec_path, const char *base_url,
                             const char *const *headers, size_t n_headers, char *err,
                             size_t errlen);
/* The same from spec bytes already in memory. */
mcp_openapi *mcp_openapi_new_from_memory(const char *data, size_t len, const char *base_url,
                                         const char *const *headers, size_t n_headers,
                                         char *err, size_t errlen);
/* Frees o. Requests still in flight are aborted and their done() is not
 * called. Reactor thread; waits for the helper thread to exit. */
void mcp_openapi_free(mcp_openapi *o);

/* Parses and checks spec bytes (JSON or YAML, as mcp_openapi_new does).
 * Returns a new reference, or NULL with a message in err. Pure; used by the
 * fuzzer and by mcp_openapi_new. */
json_t *mcp_openapi_parse(const char *data, size_t len, char *err, size_t errlen);

/* A copy of spec with its local "#/..." $refs resolved: every occurrence is
 * a deep copy of its target (mutating one never changes another); a $ref
 * met again while its own target is being resolved becomes
 * {"$circular": "<ref>"}; a $ref that is not local is kept as it is; a local
 * $ref whose target does not exist is dropped (the property is omitted, an
 * array element becomes null). JSON Pointer escapes (~0, ~1) and percent
 * encoding are understood. When the result would need more than max_bytes
 * of JSON, or nests deeper than MCP_OPENAPI_MAX_DEPTH, returns NULL with an
 * error naming the limit. Returns a new reference. */
json_t *mcp_openapi_resolve(const json_t *spec, size_t max_bytes, char *err, size_t errlen);
/* mcp_openapi_resolve() of o's spec, computed on the first call and kept
 * (a failure is not kept: a later call with a larger max_bytes may
 * succeed). Returns a reference borrowed from o. */
const json_t *mcp_openapi_resolved(mcp_openapi *o, size_t max_bytes, char *err, size_t errlen);
/* The spec as loaded (before resolution); borrowed from o. */
const json_t *mcp_openapi_spec(const mcp_openapi *o);

/* Descriptions of the `search` and `execute` tools (reference §3.2 in our
 * words). Together they stay under 800 o200k tokens whatever the spec:
 * the spec is never quoted in them. `extra` (may be NULL) is appended to
 * execute's after a blank line. Return malloc'd strings (NULL when out of
 * memory). */
char *mcp_openapi_search_description(void);
char *mcp_openapi_execute_description(const char *extra);

/* Bounds of the request path. Defaults in mcp_openapi_limits_default(). */
typedef struct mcp_openapi_limits {
    uint64_t timeout_ms;         /* whole request, redirects included: 60000 */
    uint64_t connect_timeout_ms; /* TCP + TLS of one hop: 15000 */
    size_t max_body;             /* decoded response body: 32 MiB */
    size_t max_request_body;     /* request body: 32 MiB */
    int max_redirects;           /* redirects followed inside the base URL: 5 */
} mcp_openapi_limits;
void mcp_openapi_limits_default(mcp_openapi_limits *l);
/* Requests that start afterwards use *l. */
void mcp_openapi_set_limits(mcp_openapi *o, const mcp_openapi_limits *l);

/* What a request comes back with. */
typedef struct mcp_openapi_response {
    int ok;          /* 1: value is the answer; 0: error_message (and status when > 0) */
    json_t *value;   /* borrowed for the length of done(); json_incref() to keep it.
                        The body: parsed JSON when the response's Content-Type is JSON
                        (application/json or ...+json), a JSON string otherwise, or
                        {"$bytes": "<base64>"} with rawBody. With fullResponse:
                        {status, headers: {lowercase name: value}, body}. NULL when !ok. */
    int status;      /* HTTP status; 0 when there was no response */
    const char *error_message; /* when !ok, e.g. "HTTP 404 Not Found: <body excerpt>" */
} mcp_openapi_response;
typedef void (*mcp_openapi_done_fn)(const mcp_openapi_response *resp, void *ud);
typedef struct mcp_openapi_req mcp_openapi_req;

/* Starts codemode.request(options). options is the object the sandbox
 * passed (read during the call only, not kept): {method, path, query?, body?, headers?, contentType?, rawBody?,
 * fullResponse?}. method is GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS;
 * path starts with "/" and is appended to the base URL; query values are
 * strings, numbers or booleans (null skipped, arrays repeat the key); body
 * is sent as JSON unless contentType is given, in which case a string body
 * is sent as it is ({"$bytes": "<base64>"} is sent as those bytes). The
 * sandbox's headers never replace configured ones, and Host,
 * Content-Length, Transfer-Encoding, Connection and a few other framing
 * headers are refused. A refused request still completes through done().
 * done(resp, ud) runs later on r's thread exactly once, unless the request
 * is cancelled first. Returns NULL only when out of memory (done will not
 * run). */
mcp_openapi_req *mcp_openapi_request(mcp_openapi *o, net_reactor *r, const json_t *options,
                                     mcp_openapi_done_fn done, void *ud);
/* Aborts req; its done() will not run. Only before done() has run; req is
 * gone afterwards. Reactor thread. */
void mcp_openapi_cancel(mcp_openapi_req *req);

#endif
