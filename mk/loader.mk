# lib/loader: the Worker Loader (workers, cache, router, loop, public API).
LIB_SRCS += lib/loader/loop.c lib/loader/timers.c lib/loader/idmap.c lib/loader/http_msg.c lib/loader/watchdog.c lib/loader/prewarm.c lib/loader/invocation.c lib/loader/worker.c lib/loader/router.c lib/loader/api.c lib/loader/code.c lib/loader/box.c
