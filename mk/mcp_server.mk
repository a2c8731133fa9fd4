# lib/mcp, server side: JSON-RPC 2.0 framing, the MCP protocol state machine,
# and its transports (stdio, streamable HTTP on a small HTTP/1.1 server).
LIB_SRCS += lib/mcp/jsonrpc.c lib/mcp/server.c lib/mcp/server_stdio.c lib/mcp/server_http.c lib/mcp/httpd.c
TEST_SRCS += tests/mcp/test_jsonrpc.c tests/mcp/test_server.c tests/mcp/test_server_http.c
FUZZ_SRCS += fuzz/fuzz_mcp_jsonrpc.c fuzz/fuzz_mcp_http.c
