/* lib/net/reactor.h — the single-threaded event loop of corral's long-running
 * hosts (the MCP server, its upstream clients, the OpenAPI request path).
 *
 * One thread runs the reactor; it owns the loader (a corral_loader is driven
 * only from the thread that runs its steps), every watched descriptor and
 * every timer. Work finished on other threads (a blocking libcurl transfer,
 * for instance) comes back through net_reactor_post(), the only function
 * here that is safe to call from any thread. Callbacks run one at a time and
 * may watch, unwatch, add or cancel timers, post, or stop the reactor.
 */
#ifndef CORRAL_NET_REACTOR_H
#define CORRAL_NET_REACTOR_H

#include <stdint.h>

#include "corral.h"

typedef struct net_reactor net_reactor;

enum { NET_READ = 1, NET_WRITE = 2 };
/* Extra bits a watch callback may see besides NET_READ/NET_WRITE. */
enum { NET_HANGUP = 4, NET_ERROR = 8 };

typedef void (*net_io_fn)(net_reactor *r, int fd, unsigned events, void *ud);
typedef void (*net_task_fn)(net_reactor *r, void *ud);

/* A reactor that also drives `loader` (may be NULL): the loader's descriptor
 * is watched and its timers respected, so capability calls and results are
 * delivered while the reactor runs. NULL when out of memory or descriptors. */
net_reactor *net_reactor_new(corral_loader *loader);
/* Frees the reactor. Posted tasks still queued are dropped without running;
 * descriptors are not closed (their owners close them). */
void net_reactor_free(net_reactor *r);

/* Watches fd for `events` (NET_READ | NET_WRITE), replacing an earlier
 * watch of the same fd. events == 0 keeps the registration but asks for
 * nothing. Returns 0 or -1 (errno set). */
int net_reactor_watch(net_reactor *r, int fd, unsigned events, net_io_fn fn, void *ud);
/* Stops watching fd (safe for an fd that is not watched, and from inside
 * that fd's own callback). */
void net_reactor_unwatch(net_reactor *r, int fd);

/* A one-shot timer due in `ms` milliseconds. Returns a non-zero id, or 0 when
 * out of memory. */
uint64_t net_reactor_timer(net_reactor *r, uint64_t ms, net_task_fn fn, void *ud);
/* Cancels a timer that has not fired (ids that fired or are 0 are ignored). */
void net_reactor_cancel_timer(net_reactor *r, uint64_t id);

/* Runs fn(r, ud) on the reactor's thread soon. Safe from any thread.
 * Returns 0, or -1 when out of memory (fn will not run). */
int net_reactor_post(net_reactor *r, net_task_fn fn, void *ud);

/* Runs callbacks until net_reactor_stop(). Returns 0, or -1 on an epoll
 * failure other than EINTR. */
int net_reactor_run(net_reactor *r);
/* Runs what is ready, waiting at most timeout_ms (-1: until something
 * happens), then returns: 1 if stopped, 0 otherwise, -1 on failure. Lets a
 * caller wait for one condition (an upstream being ready, say). */
int net_reactor_run_once(net_reactor *r, int timeout_ms);
/* Makes net_reactor_run() return after the current callback. */
void net_reactor_stop(net_reactor *r);
int net_reactor_stopped(const net_reactor *r);

corral_loader *net_reactor_loader(net_reactor *r);

/* Monotonic clock in milliseconds. */
uint64_t net_now_ms(void);

#endif
