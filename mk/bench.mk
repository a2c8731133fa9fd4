BENCH_SRCS += bench/bench_loader.c bench/bench_codemode.c bench/bench_isolation.c
