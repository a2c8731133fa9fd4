# C tests of the public API (include/corral.h) as an embedding host uses it.
TEST_SRCS += tests/loader/test_api.c tests/loader/test_api_host.c tests/loader/test_prewarm.c
