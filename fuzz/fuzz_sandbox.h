/* A bare sandbox for the fuzz targets that drive the engine directly: a
 * host that drops what the sandbox sends and flags no import, and limits
 * generous enough that the fuzzer's input, not a limit, decides what
 * happens. Static inline, one copy per target.
 */
#ifndef CORRAL_FUZZ_SANDBOX_H
#define CORRAL_FUZZ_SANDBOX_H

#include <stdlib.h>

#include "engine/internal.h"

static void fuzz_nop_send(void *h, struct sandbox *s, const struct wire_msg *m) {}
static uint8_t fuzz_no_flags(void *h, struct sandbox *s, uint64_t index) { return 0; }
static const struct engine_host fuzz_host = {.send = fuzz_nop_send, .import_flags = fuzz_no_flags};

/* A new sandbox whose arguments and results may be `io_bytes` long;
 * aborts (a fuzzer's crash) when it cannot be made. */
static inline struct sandbox *fuzz_sandbox_new(uint64_t io_bytes) {
    corral_limits lim;
    corral_limits_default(&lim);
    struct sandbox_config cfg = {.host = &fuzz_host, .memory_bytes = 64u << 20,
                                 .stack_bytes = 256u << 10, .arg_bytes = io_bytes,
                                 .result_bytes = io_bytes, .worker_id = "fuzz",
                                 .today = "2026-01-01", .limits = lim};
    corral_error err;
    struct sandbox *sb = sandbox_new(&cfg, &err);
    if (!sb) abort();
    return sb;
}

#endif
