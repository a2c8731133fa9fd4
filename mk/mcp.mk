# lib/mcp: the Code Mode MCP service (corral_mcp_*: upstreams or OpenAPI as
# tools for programs; descriptions and answers). The protocol server, the
# upstream clients and OpenAPI have mk/mcp_*.mk of their own.
LIB_SRCS += lib/mcp/service.c lib/mcp/describe.c lib/mcp/errbuf.c
TEST_SRCS += tests/mcp/test_service.c
$(B)/tests/mcp/test_service: $(B)/tests/mcp/fake_upstream
