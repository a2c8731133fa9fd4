# lib/mcp upstream clients: corral as an MCP client of the servers whose
# tools it lends (stdio and streamable HTTP), and the mcpServers file.
LIB_SRCS += lib/mcp/upstream.c lib/mcp/upstream_stdio.c lib/mcp/upstream_http.c lib/mcp/mcpconfig.c lib/mcp/stderr_sink.c
# fake_upstream is not a test but the stdio MCP server test_upstream spawns
# (found next to it). It is built with the tests through TEST_SRCS (no rule
# here, which would become make's default goal); tests/run.sh runs only
# binaries named test_*, so it is never run on its own.
TEST_SRCS += tests/mcp/test_upstream.c tests/mcp/fake_upstream.c tests/mcp/test_stderr_sink.c
