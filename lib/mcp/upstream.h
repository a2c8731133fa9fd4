/* lib/mcp/upstream.h — corral as an MCP *client* of the upstream servers whose
 * tools `corral mcp` and `corral exec` lend to sandboxed programs.
 *
 * An upstream is described by a spec (one `--upstream NAME=...` option or one
 * entry of an "mcpServers" file) and runs over stdio (a child process speaking
 * newline-delimited JSON-RPC) or streamable HTTP (JSON-RPC POSTed to a URL,
 * answered with JSON or server-sent events). Everything runs on one
 * net_reactor thread and nothing here blocks it: child pipes are watched
 * descriptors, HTTP transfers are a curl multi handle driven by the same
 * reactor, timeouts are reactor timers.
 *
 * Lifecycle: mcp_upstream_start() spawns or connects, sends `initialize`,
 * `notifications/initialized` and `tools/list` (following `nextCursor`), and
 * the upstream becomes ready. When it dies (child exit, connection failure,
 * expired HTTP session) every call in flight fails at once with an error
 * naming the upstream and the cause, and it is restarted after a backoff of
 * 100 ms doubling to 10 s (back to 100 ms once it has run healthily for 10 s).
 * Calls made while an upstream is not ready fail at once (asynchronously,
 * through their done callback) rather than waiting: a program gets a prompt,
 * clear error instead of a stall.
 *
 * Callbacks (on_tools_changed, done) always run from the reactor, never from
 * inside the function that caused them. They may start calls and cancel
 * other requests, but must not free the upstream whose callback is running.
 */
#ifndef CORRAL_MCP_UPSTREAM_H
#define CORRAL_MCP_UPSTREAM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "net/reactor.h"

/* The largest JSON-RPC message accepted from or sent to an upstream. */
#define MCP_UPSTREAM_MAX_MESSAGE (16u * 1024u * 1024u)

/* One entry of mcpServers, or one --upstream. Every string is owned by the
 * spec (malloc'd); mcp_upstream_spec_clear() frees them. Exactly one of argv
 * (stdio: argv[0] is the command, looked up in PATH) and url (streamable
 * HTTP) is set. */
typedef struct mcp_upstream_spec {
    char *name;
    char **argv;
    size_t argc;
    char **env; /* "K=V" added to (or replacing in) corral's environment for the child */
    size_t envc;
    char *url;
    char **headers; /* "Name: value", sent with every HTTP request */
    size_t headerc;
} mcp_upstream_spec;

/* Parses "NAME=COMMAND" or "NAME=URL" (a value starting with http:// or
 * https://). COMMAND is split into words as a POSIX shell would split it —
 * single quotes, double quotes (where \ escapes $ ` " \ and newline) and
 * backslashes — without any expansion; unquoted | & ; < > ( ) are refused
 * because no shell runs the command. Returns 0 and fills *out (which the
 * caller clears), or -1 with a message in err. */
int mcp_upstream_spec_parse(const char *arg, mcp_upstream_spec *out, char *err, size_t errlen);

/* Reads a JSON file of the form {"mcpServers": {"NAME": {"command": "...",
 * "args": [...], "env": {...}} | {"url": "...", "headers": {...}}}} (the format
 * Claude Desktop and Cursor use). "type" may be "stdio", "http" or
 * "streamable-http"; other unknown fields are ignored. On success *specs is a
 * malloc'd array of *count specs (free each with mcp_upstream_spec_clear, then
 * the array) in file order, and 0 is returned; on failure -1 with a message
 * naming the file, the server and the field. Files over 16 MiB are refused. */
int mcp_config_load(const char *path, mcp_upstream_spec **specs, size_t *count, char *err,
                    size_t errlen);

/* Frees the strings of a spec and zeroes it (safe on a zeroed spec). */
void mcp_upstream_spec_clear(mcp_upstream_spec *s);

typedef struct mcp_upstream mcp_upstream;

/* Called when the tool list changed (first listing, a refresh after
 * notifications/tools/list_changed, a restart) or the upstream went down. */
typedef void (*mcp_upstream_event_fn)(mcp_upstream *u, void *ud);

/* A new, not yet started upstream (the spec is copied). NULL when out of
 * memory or when the spec has neither argv nor url. */
mcp_upstream *mcp_upstream_new(net_reactor *r, const mcp_upstream_spec *spec,
                               mcp_upstream_event_fn on_tools_changed, void *ud);
/* Fails every pending call (done runs with an error), stops a stdio child
 * (stdin closed, SIGTERM to its process group, SIGKILL after 500 ms) and reaps
 * it, aborts HTTP transfers, and frees the upstream. Must not be called from
 * inside one of this upstream's callbacks. */
void mcp_upstream_free(mcp_upstream *u);
/* Starts stopping a stdio child at once (stdin closed, SIGTERM) without
 * waiting for it; the upstream must then be freed. Lets a host stop many
 * upstreams in the time of one grace period rather than one each. */
void mcp_upstream_stop_begin(mcp_upstream *u);

/* Starts the upstream asynchronously (spawn or connect, initialize,
 * notifications/initialized, tools/list). Returns 0, or -1 when it was
 * already started. A failure to spawn is reported through
 * mcp_upstream_ready()/mcp_upstream_error() and retried with backoff. */
int mcp_upstream_start(mcp_upstream *u);

/* 1 ready; 0 starting (spawned or connecting, handshake under way);
 * -1 not running: never started, or the last attempt failed or the upstream
 * died and a restart is scheduled (mcp_upstream_error() says why). */
int mcp_upstream_ready(const mcp_upstream *u);
/* The last error ("upstream \"fs\" exited (status 1)"), or NULL. Cleared
 * when the upstream becomes ready. Valid until the next reactor callback. */
const char *mcp_upstream_error(const mcp_upstream *u);
const char *mcp_upstream_name(const mcp_upstream *u);
/* The protocol version the upstream agreed to, or NULL before it is ready. */
const char *mcp_upstream_protocol_version(const mcp_upstream *u);
/* A borrowed JSON array of Tool objects {name, description?, inputSchema,
 * outputSchema?} (an empty array before the first listing). Valid until the
 * next on_tools_changed. */
const json_t *mcp_upstream_tools(const mcp_upstream *u);

/* result: the borrowed CallToolResult object (isError results included; the
 * caller unwraps them), NULL on failure with error set. Both are valid only
 * during the callback. */
typedef void (*mcp_upstream_done_fn)(json_t *result, const char *error, void *ud);
typedef struct mcp_upstream_req mcp_upstream_req;

/* Sends tools/call {name: tool, arguments} (arguments borrowed; NULL for {}).
 * done runs exactly once, later, from the reactor, unless the request is
 * cancelled first: with the result, or with an error when the upstream is not
 * ready, dies, answers with a JSON-RPC error, or does not answer within
 * timeout_ms (0: no limit; the upstream is then sent notifications/cancelled).
 * Returns the request handle, valid until done runs or it is cancelled; NULL
 * only when out of memory (done will not run). */
mcp_upstream_req *mcp_upstream_call(mcp_upstream *u, const char *tool, json_t *arguments,
                                    uint64_t timeout_ms, mcp_upstream_done_fn done, void *ud);
/* Abandons a request: the upstream is sent notifications/cancelled if the
 * call was sent, and done is not called. */
void mcp_upstream_cancel(mcp_upstream_req *req);

/* Runs the reactor until every upstream in ups is ready or not running
 * (mcp_upstream_ready() != 0), or timeout_ms passed. Returns the number of
 * upstreams that are ready. */
int mcp_upstreams_wait_ready(net_reactor *r, mcp_upstream **ups, size_t n, uint64_t timeout_ms);

#endif
