/* lib/mcp/stderr_sink.h — lines for corral's own stderr that can never
 * stall the reactor.
 *
 * Upstream servers may write to stderr as much and as fast as they like,
 * and whoever reads corral's stderr (a terminal, a pipe to a supervisor, an
 * MCP client that never drains it) may be slow or stopped. A sink writes
 * without ever blocking: it gets a private non-blocking descriptor for the
 * same stderr (see stderr_sink.c for how), queues what the descriptor will
 * not take now, up to MCP_STDERR_QUEUE_MAX bytes, flushes the queue when
 * the reactor says the descriptor is writable, and drops whole lines beyond
 * that, noting once how many were dropped as soon as the queue drains.
 *
 * Every line is made safe for a terminal and bounded: control characters
 * (but tab), DEL and bytes that are not valid UTF-8 are written as \xNN,
 * and a line longer than MCP_STDERR_LINE_MAX bytes is cut with a marker.
 */
#ifndef CORRAL_MCP_STDERR_SINK_H
#define CORRAL_MCP_STDERR_SINK_H

#include <signal.h>
#include <stddef.h>

#include "net/reactor.h"

/* Bytes queued per sink while stderr is not taking them; beyond, lines are
 * dropped. */
#define MCP_STDERR_QUEUE_MAX (256u * 1024u)
/* Bytes of one line's text (after the prefix, before escaping). */
#define MCP_STDERR_LINE_MAX 2048u

typedef struct mcp_stderr_sink mcp_stderr_sink;

/* Writing to a pipe whose reader may be gone, without dying of SIGPIPE:
 * hold it back around the write, then release, discarding the one the
 * write raised (raised: the write failed as a broken pipe would). */
void mcp_sigpipe_hold(sigset_t *old);
void mcp_sigpipe_release(const sigset_t *old, int raised);

/* A sink writing to fd (2 for stderr) on reactor r, each line starting with
 * `prefix` (copied, e.g. "[fs] "). NULL when out of memory. */
mcp_stderr_sink *mcp_stderr_sink_new(net_reactor *r, int fd, const char *prefix);
/* Writes prefix + the sanitized, bounded text + "\n", now or later, or
 * drops it when the queue is full. Never blocks. */
void mcp_stderr_sink_line(mcp_stderr_sink *k, const char *text, size_t len);
/* Lines dropped so far because the queue was full. */
unsigned long long mcp_stderr_sink_dropped(const mcp_stderr_sink *k);
/* Writes what stderr takes within about 100 ms, drops the rest, and frees
 * the sink. */
void mcp_stderr_sink_free(mcp_stderr_sink *k);

#endif
