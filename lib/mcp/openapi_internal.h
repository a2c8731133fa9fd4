/* lib/mcp/openapi_internal.h — what the OpenAPI files share and nobody else
 * needs: the mcp_openapi record, the YAML reader, the redactor and the
 * helper thread's start and stop.
 */
#ifndef CORRAL_MCP_OPENAPI_INTERNAL_H
#define CORRAL_MCP_OPENAPI_INTERNAL_H

#include <pthread.h>

#include "mcp/openapi.h"

/* The configured secrets, longest first so that a whole header value is
 * replaced before a token inside it. Each is also kept percent-encoded and
 * JSON-escaped when those spellings differ. */
typedef struct mcp_openapi_redactor {
    char **secrets;
    size_t *lens;
    size_t n;
} mcp_openapi_redactor;

struct mcp_openapi_header {
    char *name, *value;
};

struct mcp_openapi_pool; /* the helper thread and its transfers (openapi_request.c) */

struct mcp_openapi {
    json_t *spec, *resolved;
    char *base;          /* "scheme://host[:port]/prefix" without a trailing slash */
    char *origin;        /* "scheme://host[:port]" */
    char *prefix;        /* "/prefix" or "" */
    struct mcp_openapi_header *headers;
    size_t n_headers;
    mcp_openapi_redactor red;
    mcp_openapi_limits lim;
    struct mcp_openapi_pool *pool; /* NULL until the first request */
};

/* YAML text to JSON: the first document of the stream (a second one is an
 * error), anchors and aliases expanded with the expansion bounded. Returns
 * a new reference or NULL with "OpenAPI spec: ... at line N" in err. */
json_t *mcp_openapi_yaml_parse(const char *data, size_t len, char *err, size_t errlen);

/* Replaces every secret in buf[0..*len) by "[redacted]". Returns a malloc'd
 * buffer (NUL-terminated, length in *len) or NULL when out of memory; buf is
 * not changed. */
char *mcp_openapi_redact(const mcp_openapi_redactor *r, const char *buf, size_t *len);
/* 1 when s contains any secret. */
int mcp_openapi_has_secret(const mcp_openapi_redactor *r, const char *s, size_t len);
void mcp_openapi_redactor_free(mcp_openapi_redactor *r);

/* Stops the helper thread and frees every transfer still in it. */
void mcp_openapi_pool_free(struct mcp_openapi_pool *p);

#endif
