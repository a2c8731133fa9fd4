# lib/net: the built-in outbound HTTP client behind --allow-net (see docs/network.md).
LIB_SRCS += lib/net/http.c lib/net/reactor.c
TEST_SRCS += tests/net/test_http.c
