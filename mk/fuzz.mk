# Fuzz targets beyond the wire decoder's: WorkerCode JSON + validation, and
# payloads decoded into JavaScript values inside a sandbox.
FUZZ_SRCS += fuzz/fuzz_workercode.c fuzz/fuzz_js_values.c
