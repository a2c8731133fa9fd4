/* The functions the built-in JavaScript may call into C (the `native`
 * table), the module loader, and the RPC glue — split across files but
 * declared together because sandbox.c wires them up.
 */
#ifndef CORRAL_ENGINE_NATIVES_H
#define CORRAL_ENGINE_NATIVES_H

#include "engine/internal.h"

/* natives.c */
JSValue sb_make_natives(struct sandbox *sb);
/* Replaces QuickJS's clock-seeded Math.random with one over the sandbox's
 * own getrandom-seeded state. */
int sb_install_math_random(struct sandbox *sb);
/* A fresh performance.now() zero, timeOrigin and Math.random seed: for a
 * runtime built ahead of time (a spare, or one inherited from the zygote)
 * when it is handed to its sandbox. */
void sb_reset_clocks_and_seed(struct sandbox *sb);
char *sb_describe(struct sandbox *sb, JSValueConst v);
/* Converts a JS WorkerCode object into a validated struct workercode. */
struct workercode *sb_workercode_from_js(struct sandbox *sb, JSValueConst code, corral_error *err);

/* modules.c */
void sb_setup_modules(struct sandbox *sb);
void sb_free_modules(struct sandbox *sb);

/* rpc.c */
void sb_flush_answers(struct sandbox *sb);
JSValue sb_timer_set(struct sandbox *sb, JSValueConst fn, double delay, int repeat);
void sb_timer_clear(struct sandbox *sb, uint64_t id);
void sb_free_timers(struct sandbox *sb);
JSValue sb_fetch(struct sandbox *sb, JSValueConst request);

#endif
