# lib/loader: the Worker Loader (workers, cache, router, loop, public API).
LIB_SRCS += lib/loader/loader.c lib/loader/code.c
