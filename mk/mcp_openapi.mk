# lib/mcp OpenAPI mode (issue #4): spec loading (JSON, and YAML through
# libyaml), $ref resolution, the search/execute descriptions, and
# codemode.request() made by the host with credentials redacted from what
# comes back.
LIB_SRCS += lib/mcp/openapi_spec.c lib/mcp/openapi_yaml.c lib/mcp/openapi_request.c
TEST_SRCS += tests/mcp/test_openapi.c
FUZZ_SRCS += fuzz/fuzz_openapi_spec.c
