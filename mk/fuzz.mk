# Fuzz targets beyond the wire decoder's: WorkerCode JSON + validation,
# payloads decoded into JavaScript values inside a sandbox, and module texts
# through the compiled-module cache.
FUZZ_SRCS += fuzz/fuzz_workercode.c fuzz/fuzz_js_values.c fuzz/fuzz_modcache.c
