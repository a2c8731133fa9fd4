/* lib/net/http.h — knobs of corral's built-in HTTP client (lib/net/http.c).
 *
 * The client itself is switched on through ld_net_enable() (declared in
 * loader/loader.h, reached publicly as corral_loader_allow_net()). Its
 * bounds have fixed defaults; this header lets the tests, and later a
 * public option, lower them without waiting a minute for a timeout or
 * moving 32 MiB to prove a limit.
 */
#ifndef CORRAL_NET_HTTP_H
#define CORRAL_NET_HTTP_H

#include <stddef.h>

#include "corral.h"

#define NET_DEFAULT_CONNECT_MS 15000L           /* TCP + TLS handshake of one hop */
#define NET_DEFAULT_TOTAL_MS 60000L             /* the whole fetch, redirects included */
#define NET_DEFAULT_MAX_BODY ((size_t)32 << 20) /* decoded response body */
#define NET_MAX_REDIRECTS 20

struct net_limits {
    long connect_ms;        /* 0: keep the current value */
    long total_ms;          /* 0: keep the current value */
    size_t max_body;        /* 0: keep the current value */
};

/* Changes the bounds of the client that ld_net_enable() installed on `l`;
 * fetches that start afterwards use them. Returns CORRAL_OK, or
 * CORRAL_ESTATE if the loader has no built-in client. Loop thread only. */
int net_set_limits(corral_loader *l, const struct net_limits *lim);

#endif
