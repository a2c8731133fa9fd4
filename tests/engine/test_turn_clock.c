/* The jailed worker's turn clock (sandbox_turn_clock_*): a turn reads the
 * thread's CPU time only when it needs to, counts the time before that
 * reading as CPU (it can only overcharge, never undercharge), does not
 * count time spent waiting for the host after it, and still stops a loop
 * at its budget. Bounds are one-sided: nothing here asserts how fast
 * anything ran.
 */
#include <time.h>

#include "check.h"
#include "engine/internal.h"

static void nop_send(void *h, struct sandbox *s, const struct wire_msg *m) {}
static uint8_t no_flags(void *h, struct sandbox *s, uint64_t index) { return 0; }
static const struct engine_host host = {.send = nop_send, .import_flags = no_flags};

static struct sandbox *new_sandbox(void) {
    corral_limits lim;
    corral_limits_default(&lim);
    struct sandbox_config cfg = {.host = &host, .memory_bytes = 64u << 20, .stack_bytes = 256u << 10,
                                 .arg_bytes = 1u << 20, .result_bytes = 1u << 20,
                                 .worker_id = "clock", .today = "2026-01-01", .limits = lim};
    corral_error err;
    struct sandbox *sb = sandbox_new(&cfg, &err);
    CHECK(sb != NULL);
    return sb;
}

static void nap_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

#define MS 1000000ull

TEST(a_short_turn_reads_no_cpu_clock_and_is_charged_its_wall_time) {
    struct sandbox *sb = new_sandbox();
    if (!sb) return;
    sandbox_turn_clock_begin(sb, 1000 * MS);
    JSValue v = JS_Eval(sb->ctx, "1 + 1", 5, "<t>", JS_EVAL_TYPE_GLOBAL);
    JS_FreeValue(sb->ctx, v);
    CHECK(sb->turn_cpu0_ns == 0);
    nap_ms(20);
    /* Never read: the wall time stands for CPU, the nap included. */
    CHECK(sandbox_turn_clock_end(sb) >= 20 * MS);
    sandbox_free(sb);
}

TEST(waiting_for_the_host_after_the_reading_is_not_cpu) {
    struct sandbox *sb = new_sandbox();
    if (!sb) return;
    sandbox_turn_clock_begin(sb, 1000 * MS);
    sandbox_turn_clock_read(sb);
    CHECK(sb->turn_cpu0_ns != 0);
    nap_ms(60);
    CHECK(sandbox_turn_clock_end(sb) < 40 * MS);
    sandbox_free(sb);
}

TEST(a_loop_is_stopped_at_its_budget) {
    struct sandbox *sb = new_sandbox();
    if (!sb) return;
    sandbox_turn_clock_begin(sb, 30 * MS);
    JSValue v = JS_Eval(sb->ctx, "for (;;) {}", 11, "<t>", JS_EVAL_TYPE_GLOBAL);
    CHECK(JS_IsException(v));
    JS_FreeValue(sb->ctx, v);
    JS_FreeValue(sb->ctx, JS_GetException(sb->ctx));
    CHECK_EQ_INT(sandbox_killed(sb), SANDBOX_KILL_CPU);
    CHECK(sandbox_turn_clock_end(sb) >= 30 * MS);
    /* The clock is off between turns. */
    CHECK(atomic_load(&sb->cpu_deadline_ns) == 0);
    sandbox_free(sb);
}
