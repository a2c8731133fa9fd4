/* lib/mcp/service.h — internals shared by the Code Mode MCP service
 * (service.c: the corral_mcp object, upstream and OpenAPI glue) and its
 * descriptions and answers (describe.c).
 */
#ifndef CORRAL_MCP_SERVICE_H
#define CORRAL_MCP_SERVICE_H

#include <jansson.h>

#include "corral.h"

/* What the `code` tool's description is built from. */
struct mcp_surface {
    const char *types;          /* declarations, or the namespace summary */
    int summary_only;           /* the declarations did not fit the budget */
    const char *alias;          /* the single upstream's name when it is not "codemode" */
    const char *first_ns;       /* namespace of the example's tool */
    const char *first_tool;     /* raw name of the first tool, NULL if none */
    const json_t *first_schema; /* its input schema */
};

/* The `code` tool's description (malloc'd). */
char *mcp_code_description(const struct mcp_surface *s, const char *extra);
/* {type: "object", properties: {code: {type: "string", ...}}, required: ["code"]} */
json_t *mcp_code_input_schema(void);
/* A CallToolResult for a finished program (new reference). */
json_t *mcp_call_result(const corral_exec_result *r);
/* The reference's unwrapping of an upstream CallToolResult: toolResult,
 * isError (NULL is returned and *error set, malloc'd), structuredContent,
 * all-text content (parsed as JSON when it is JSON), else the whole result.
 * Returns a new reference. */
json_t *mcp_unwrap_tool_result(json_t *result, char **error);

#endif
