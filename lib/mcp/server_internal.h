/* lib/mcp/server_internal.h — what the MCP server's core (server.c) and its
 * two transports (server_stdio.c, server_http.c) share. Not for hosts.
 *
 * A *session* is one client's protocol state. An *exchange* is one message
 * or batch from the client together with the answers it is owed: it is
 * finished when every request in it is answered (or cancelled), and the
 * transport is then told (done) so it can send a collected answer, end an
 * SSE stream or release an HTTP connection. A transport either streams an
 * exchange's responses as they come (stdio, HTTP SSE) or asks the core to
 * collect them (a stdio batch, an HTTP application/json answer).
 */
#ifndef CORRAL_MCP_SERVER_INTERNAL_H
#define CORRAL_MCP_SERVER_INTERNAL_H

#include <stdint.h>

#include "mcp/server.h"

typedef struct mcp_session mcp_session;
typedef struct mcp_exchange mcp_exchange;

typedef struct srv_transport {
    /* One printed message for the client now. ex is the exchange it belongs
     * to (a streamed response, or a notification of one of its calls), or
     * NULL for a message of the session (tools/list_changed, an error that
     * answers no exchange). */
    void (*send)(mcp_session *s, mcp_exchange *ex, const char *text, size_t len);
    /* ex is over: text is its collected answer (NULL when nothing is owed,
     * when it did not collect, or when the session ended). Called once. */
    void (*done)(mcp_session *s, mcp_exchange *ex, const char *text, size_t len);
    /* The session ended (its calls are already detached). */
    void (*ended)(mcp_session *s);
} srv_transport;

enum { SESS_NEW, SESS_READY /* initialize answered */, SESS_INITIALIZED /* notifications/initialized seen */ };

struct mcp_session {
    mcp_server *srv;
    mcp_session *next;
    unsigned refs;           /* the server's list while alive, plus one per exchange */
    int state, ended;
    const char *version;     /* negotiated (static string) */
    int log_level;           /* index into the level names; -1: the client asked for no logs */
    mcp_call *calls;         /* in flight */
    const srv_transport *tp;
    void *tp_data;
};

struct mcp_exchange {
    mcp_session *sess;
    unsigned refs;           /* one while dispatching, plus one per unanswered request */
    int batch;               /* the client sent an array */
    int collect;             /* responses are gathered and handed to done() */
    int quiet;               /* notifications of its calls are dropped */
    json_t *answers;         /* collect: the responses so far */
    void *tp_data;
};

struct srv_stdio;
struct srv_http;

struct mcp_server {
    net_reactor *r;
    mcp_server_host host;
    void *ud;
    char *name, *version, *instructions;
    mcp_session *sessions;
    size_t n_sessions;
    struct srv_stdio *stdio;
    struct srv_http *http;
    mcp_http_limits http_limits;
    char **origins;
    size_t n_origins;
};

/* Sessions. new: NULL when out of memory. end: detaches and cancels its
 * calls (cancel_host: call the host's cancel_tool for each), tells the
 * transport, and drops the server's reference. */
mcp_session *srv_session_new(mcp_server *srv, const srv_transport *tp, void *tp_data);
void srv_session_end(mcp_session *s, int cancel_host);
void srv_session_ref(mcp_session *s);
void srv_session_unref(mcp_session *s);

/* An exchange for the next message. NULL when out of memory. */
mcp_exchange *srv_exchange_new(mcp_session *s, int batch, int collect, int quiet, void *tp_data);
/* Handles `root` (one message or a batch; borrowed) and drops the
 * dispatching reference: done() may have run when this returns. */
void srv_dispatch(mcp_exchange *ex, json_t *root);

/* Sends a printed JSON-RPC error with id null as a session message. */
void srv_send_error(mcp_session *s, int code, const char *message);
/* A printed error message (malloc'd), never NULL unless out of memory. */
char *srv_error_text(json_t *id, int code, const char *message, size_t *len);

/* True for a protocol revision this server speaks. */
int srv_protocol_supported(const char *version);

/* The HTTP transport picks up new mcp_http_limits. */
void srv_http_limits_changed(mcp_server *srv);

/* The stdio and HTTP transports' teardown, called by mcp_server_free(). */
void srv_stdio_free(mcp_server *srv);
void srv_http_free(mcp_server *srv);

#endif
