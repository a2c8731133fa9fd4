/* lib/mcp/errbuf.h — the one way lib/mcp fills a caller's error buffer
 * (char *err, size_t errlen), so every parser reports the same way. */
#ifndef CORRAL_MCP_ERRBUF_H
#define CORRAL_MCP_ERRBUF_H

#include <stddef.h>

/* printf into err (NUL-terminated, truncated to errlen); nothing when err
 * is NULL or errlen 0. */
void mcp_set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
