/* lib/mcp/server.h — corral's MCP server: the protocol state machine of the
 * Model Context Protocol (revisions 2025-06-18, 2025-03-26 and 2024-11-05)
 * over JSON-RPC 2.0, served on stdio and on streamable HTTP, for a *tool
 * host* that supplies the tools and runs the calls.
 *
 * The server does the protocol; the host does the tools. The host gives the
 * server four callbacks (mcp_server_host): list the tools, start a call,
 * cancel a call, and "stdin was closed". A call is asynchronous: the host
 * starts it in call_tool and completes it later, from any reactor callback,
 * with mcp_call_finish() (or mcp_call_fail()). Everything runs on the
 * reactor's thread: call every function here from that thread.
 *
 * Sessions. stdio is one session. Streamable HTTP has one session per
 * `initialize` (its Mcp-Session-Id header); each session has its own
 * lifecycle state, negotiated protocol version and log level, and calls from
 * different sessions run concurrently.
 *
 * Choices where the specification leaves room (tests/mcp/test_server.c and
 * test_server_http.c prove each):
 *  - A request other than `initialize` or `ping` before `initialize` is
 *    answered with -32600 (Invalid Request, "server not initialized"); a
 *    second `initialize` on a session also gets -32600.
 *  - JSON-RPC batches (arrays) are accepted in every session whatever the
 *    negotiated version (2025-06-18 dropped them from the spec, but answering
 *    one costs nothing and refuses no client) and answered with an array of
 *    the responses; `initialize` inside a batch is refused with -32600. An
 *    empty array is one -32600 error.
 *  - Log notifications (`notifications/message`) are sent only after the
 *    client called `logging/setLevel`, and only at or above that level:
 *    that is our reading of "when the client asked for them".
 *  - A cancelled call (`notifications/cancelled`) gets no response at all;
 *    the host's cancel_tool is called. A call whose session ends (stdio EOF
 *    or a stdio client that stops reading; HTTP DELETE or eviction) is
 *    cancelled the same way.
 *  - stdio EOF is MCP's stdio shutdown: the session ends at once (calls in
 *    flight are cancelled, answers already written get up to a second to
 *    drain), then the host's on_close is called. A client wanting every
 *    answer keeps stdin open until it has them, as MCP clients do.
 *  - A message over MCP_MAX_MESSAGE bytes is answered with -32600 (id null)
 *    on stdio (the line is dropped up to its newline) and with HTTP 413.
 *  - Progress and log notifications of a call go to the client only where
 *    they can travel with the call: stdio, or an HTTP POST answered as
 *    text/event-stream. An HTTP POST answered as application/json carries
 *    only the responses.
 */
#ifndef CORRAL_MCP_SERVER_H
#define CORRAL_MCP_SERVER_H

#include <jansson.h>
#include <stddef.h>

#include "mcp/jsonrpc.h"
#include "net/reactor.h"

/* The protocol revisions spoken, newest first; a client asking for another
 * one gets the newest. */
#define MCP_PROTOCOL_LATEST "2025-06-18"

/* stdio: output waiting for a slow client beyond this drops the session
 * (a message on stderr, then on_close). */
#define MCP_STDIO_MAX_OUTPUT (256u * 1024u * 1024u)

typedef struct mcp_server mcp_server;
typedef struct mcp_call mcp_call; /* one in-flight tools/call */

typedef struct mcp_server_host {
    /* The tools: a new reference to a JSON array of Tool objects, or NULL
     * (answered with -32603). Called for every tools/list. */
    json_t *(*list_tools)(void *ud);
    /* Starts a call. `arguments` is borrowed (an object; {} when the client
     * sent none) and valid only during this callback; `name` likewise. The
     * host finishes the call exactly once, now or later. */
    void (*call_tool)(mcp_call *call, const char *name, json_t *arguments, void *ud);
    /* The client cancelled the call, or its session ended. The host should
     * stop the work, and must still finish the call (the finish then sends
     * nothing and frees it). May be NULL. */
    void (*cancel_tool)(mcp_call *call, void *ud);
    /* The stdio session is over: its input reached EOF or failed, or its
     * output failed or backed up past MCP_STDIO_MAX_OUTPUT. Its calls in
     * flight have been cancelled. Called once, from a reactor callback of
     * its own. May be NULL. */
    void (*on_close)(void *ud);
} mcp_server_host;

/* A server for `host` (copied) on reactor `r`. `name` and `version` become
 * serverInfo (copied). NULL when out of memory. */
mcp_server *mcp_server_new(net_reactor *r, const mcp_server_host *host, void *ud, const char *name,
                           const char *version);
/* Ends every session (without calling the host back), closes the HTTP
 * listener and its connections, restores stdio's descriptor flags (the
 * descriptors themselves are the caller's). Calls still in flight stay the
 * host's: their later finish is a safe no-op that frees them. Not from
 * inside one of this server's host callbacks. */
void mcp_server_free(mcp_server *s);

/* `instructions` in the initialize result (copied; NULL: none). */
int mcp_server_set_instructions(mcp_server *s, const char *instructions);

/* Serves one session on in_fd/out_fd (may be the same descriptor, e.g. a
 * socket). Both are made non-blocking; regular files, which epoll cannot
 * watch, are read and written directly. A pipe out_fd needs SIGPIPE ignored
 * by the process (sockets are written with MSG_NOSIGNAL). Returns 0, or -1
 * (already serving stdio, out of memory). */
int mcp_server_serve_stdio(mcp_server *s, int in_fd, int out_fd);

/* Serves streamable HTTP at http://host:port/mcp. `host` is a numeric
 * address or a name (NULL: 127.0.0.1); port 0 picks a free one, reported in
 * *bound_port (may be NULL). With a bearer token (copied; NULL or "" for
 * none) every request needs `Authorization: Bearer <token>`. Returns 0, or
 * -1 with a message in err. One listener per server. */
int mcp_server_serve_http(mcp_server *s, const char *host, int port, const char *bearer_token, int *bound_port,
                          char *err, size_t errlen);
/* Adds an Origin (e.g. "https://app.example.com") accepted besides
 * http(s)://localhost, 127.0.0.1 and [::1] on any port. Returns 0 or -1. */
int mcp_server_allow_origin(mcp_server *s, const char *origin);

/* HTTP limits; zero fields keep the defaults (shown). Set before or after
 * serve_http; applies to connections accepted afterwards. */
typedef struct mcp_http_limits {
    size_t max_header_bytes;  /* request line + headers: 64 KiB, else 431 */
    size_t max_body_bytes;    /* MCP_MAX_MESSAGE, else 413 */
    unsigned idle_ms;         /* keep-alive connection with no request: 60 s */
    unsigned request_ms;      /* a request's head and body must arrive within: 30 s */
    unsigned max_connections; /* open connections: 256, else 503 */
    unsigned max_sessions;    /* sessions; the least recently used idle one is evicted: 256 */
    unsigned keepalive_ms;    /* an SSE comment on open streams this often: 15 s */
} mcp_http_limits;
void mcp_server_set_http_limits(mcp_server *s, const mcp_http_limits *lim);

/* Sends notifications/tools/list_changed to every initialized session (on
 * HTTP, to sessions with a GET stream open; others cannot be reached). */
void mcp_server_tools_changed(mcp_server *s);

/* Number of live sessions (tests, diagnostics). */
size_t mcp_server_session_count(const mcp_server *s);

/* -- calls ---------------------------------------------------------------- */

/* The tool's name (valid until finish). */
const char *mcp_call_tool_name(const mcp_call *c);
/* True when the client asked for progress (params._meta.progressToken). */
int mcp_call_has_progress(const mcp_call *c);
/* True once the client cancelled the call or its session ended. */
int mcp_call_cancelled(const mcp_call *c);
/* Sends notifications/progress {progressToken, progress, message?}; progress
 * counts up from 1 with each call. Nothing when no token or cancelled. */
void mcp_call_progress(mcp_call *c, const char *message);
/* True when a log notification at `level` would reach the client now: the
 * session asked for logs at or below it, is still there, and the call's
 * notifications can travel (not an HTTP POST answered as JSON). */
int mcp_call_wants_log(const mcp_call *c, const char *level);
/* Sends notifications/message {level, logger: the tool's name, data: text}
 * at once when mcp_call_wants_log(c, level) (levels: debug, info, notice,
 * warning, error, critical, alert, emergency; anything else counts as
 * info). Invalid UTF-8 in text becomes U+FFFD. Returns 1 when sent. */
int mcp_call_log(mcp_call *c, const char *level, const char *text);
/* Completes the call with a CallToolResult ({content: [...], isError?}),
 * which is stolen (NULL or a non-object becomes a -32603 error). Frees the
 * call: it must not be used afterwards. */
void mcp_call_finish(mcp_call *c, json_t *call_tool_result);
/* Completes the call with a JSON-RPC error instead (e.g. -32602 for an
 * unknown tool). Frees the call. */
void mcp_call_fail(mcp_call *c, int code, const char *message);

#endif
