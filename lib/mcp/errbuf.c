/* The error-buffer helper of lib/mcp (see errbuf.h). */
#include "mcp/errbuf.h"

#include <stdarg.h>
#include <stdio.h>

void mcp_set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
