/* lib/mcp/upstream_internal.h — what the protocol core (upstream.c) and the
 * two transports (upstream_stdio.c, upstream_http.c) share.
 *
 * The core speaks JSON-RPC and MCP: it owns the pending requests, timers,
 * the lifecycle and the tool list. A transport only moves whole messages:
 * the core hands it serialized JSON, and the transport hands back each
 * parsed message it receives (mcp_upstream_on_message), a failure to deliver
 * one request (mcp_upstream_on_send_failed) or the loss of the connection
 * (mcp_upstream_on_down). A transport never calls user callbacks directly.
 */
#ifndef CORRAL_MCP_UPSTREAM_INTERNAL_H
#define CORRAL_MCP_UPSTREAM_INTERNAL_H

#include <sys/types.h>

#include "mcp/stderr_sink.h"
#include "mcp/upstream.h"

struct mcp_stdio;
struct mcp_http;

struct mcp_transport_ops {
    /* Spawns or prepares the connection. 0, or -1 with a message in err. */
    int (*open)(mcp_upstream *u, char *err, size_t errlen);
    /* Queues one serialized message (id: the request id, 0 for notifications
     * and responses). 0, or -1 with a message in err (nothing was queued). */
    int (*send)(mcp_upstream *u, const char *data, size_t len, int64_t id, char *err, size_t errlen);
    /* Tears the connection down without reporting anything. `final` is set
     * from mcp_upstream_free (a child is then killed and reaped before
     * returning). */
    void (*close)(mcp_upstream *u, int final);
    /* The request `id` was cancelled or timed out: stop waiting for its
     * answer (HTTP aborts its transfer; stdio has nothing to do). Never
     * reports anything. May be NULL. */
    void (*abandon)(mcp_upstream *u, int64_t id);
};

extern const struct mcp_transport_ops mcp_upstream_stdio_ops;
extern const struct mcp_transport_ops mcp_upstream_http_ops;

struct mcp_upstream {
    net_reactor *r;
    mcp_upstream_spec spec;
    const struct mcp_transport_ops *ops;
    mcp_upstream_event_fn on_event;
    void *ud;

    int state; /* enum in upstream.c */
    char *error, *logged_error;
    char *protocol_version;
    json_t *tools, *tools_staging;
    int listing, relist;
    unsigned list_pages;
    int64_t next_id;
    struct mcp_upstream_req *pending, *deferred;
    uint64_t restart_timer, backoff_ms, ready_since;
    unsigned started, malformed_notes;
    /* Bumped by every transport close: a transport that delivered a message
     * checks it afterwards to learn that its own state was freed meanwhile. */
    unsigned conn_gen;

    struct mcp_stdio *stdio;
    struct mcp_http *http;
    mcp_stderr_sink *errsink;       /* corral's stderr, for this upstream's lines */
};

/* Reports from a transport to the core. msg is borrowed. */
void mcp_upstream_on_message(mcp_upstream *u, json_t *msg);
void mcp_upstream_on_send_failed(mcp_upstream *u, int64_t id, const char *why);
/* The connection is gone (why: "exited (status 1)", "killed by signal 9",
 * "HTTP session expired", ...). The transport has already cleaned up. */
void mcp_upstream_on_down(mcp_upstream *u, const char *why);

/* A message that is not JSON-RPC (or not JSON): noted on stderr, at most a
 * few times per upstream, then ignored. */
void mcp_upstream_malformed(mcp_upstream *u, const char *what);

/* Writes "[NAME] text" and a newline to corral's stderr through the
 * upstream's sink (stderr_sink.h): never blocking, bounded, escaped. */
void mcp_upstream_log(mcp_upstream *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for one line the upstream wrote to its stderr (len bytes, any
 * bytes at all, no newline). */
void mcp_upstream_stderr_line(mcp_upstream *u, const char *text, size_t len);

/* Closes a stdio child's stdin and sends it SIGTERM without waiting, so
 * that several upstreams stop in parallel before each is freed. */
void mcp_upstream_stdio_signal_stop(mcp_upstream *u);

#endif
