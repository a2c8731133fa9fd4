BENCH_SRCS += bench/bench_loader.c
