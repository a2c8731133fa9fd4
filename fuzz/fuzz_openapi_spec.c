/* libFuzzer target for OpenAPI specs as `corral mcp --openapi` reads them:
 * the JSON/YAML reader with its alias-expansion bound, the OpenAPI checks,
 * and, when the spec is accepted, $ref resolution under a size limit. A
 * spec file is input the operator may have fetched from anywhere, and the
 * YAML path is a parser of its own, so every refusal must be named and
 * nothing may crash, leak or run away.
 */
#include <stdint.h>
#include <stdlib.h>

#include "mcp/openapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512] = "";
    json_t *spec = mcp_openapi_parse((const char *)data, size, err, sizeof err);
    if (!spec) {
        if (!err[0]) abort(); /* every refusal is named */
        return 0;
    }
    err[0] = 0;
    json_t *resolved = mcp_openapi_resolve(spec, (size_t)4 << 20, err, sizeof err);
    if (!resolved && !err[0]) abort();
    json_decref(resolved);
    json_decref(spec);
    return 0;
}
