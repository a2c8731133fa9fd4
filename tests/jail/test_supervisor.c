/* The supervisor against a hostile worker: this test plays the worker on
 * the far end of a socket the supervisor adopts (jail_supervisor_adopt),
 * queuing exactly the bytes a compromised engine might send, and checks
 * the precise outcome — what reached the host, what was answered, and why
 * the worker was ended. No process is started; the host is a recorder.
 */
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "engine/workercode.h"
#include "jail/proto.h"
#include "jail/supervisor.h"

static int logs, loads, sends;
static char last_log[256];

static void h_send(void *h, struct sandbox *sb, const struct wire_msg *m) {
    (void)h;
    (void)sb;
    (void)m;
    sends++;
}
static int64_t h_load(void *h, struct sandbox *sb, struct workercode *code, corral_error *err) {
    (void)h;
    (void)sb;
    (void)err;
    loads++;
    wc_free(code);
    return 7;
}
static void h_log(void *h, struct sandbox *sb, corral_log_level level, const char *text,
                  size_t len) {
    (void)h;
    (void)sb;
    (void)level;
    logs++;
    snprintf(last_log, sizeof last_log, "%.*s", (int)len, text);
}

static const struct engine_host host = {.send = h_send, .load = h_load, .log = h_log};

struct rig {
    struct jail_supervisor *s;
    struct jail_sandbox *r;
    int peer;
};

static void queue_new_done(int fd, uint64_t id) {
    struct jail_out o;
    jail_out_begin(&o, JU_NEW_DONE);
    jail_out_u64(&o, id);
    jail_out_u64(&o, 1);
    jail_out_error(&o, NULL);
    CHECK_EQ_INT(jail_out_send(&o, fd), 0);
}

static int rig_up(struct rig *g) {
    int sv[2];
    memset(g, 0, sizeof *g);
    logs = loads = sends = 0;
    last_log[0] = 0;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return -1;
    struct jail_supervisor_config cfg = {.mode = CORRAL_ISOLATION_POOL, .pool_size = 1,
                                         .grace_ms = 1, .epfd = -1, .host = &host};
    corral_error err;
    g->s = jail_supervisor_new(&cfg, &err);
    CHECK(g->s != NULL);
    CHECK_EQ_INT(jail_supervisor_adopt(g->s, sv[0]), 0);
    g->peer = sv[1];
    queue_new_done(g->peer, 1);
    struct sandbox_config sc = {.host = &host, .worker_id = "w", .today = "2026-01-01"};
    corral_limits_default(&sc.limits);
    g->r = jail_sandbox_new(g->s, NULL, &sc, &err);
    CHECK(g->r != NULL);
    if (!g->r) return -1;
    jail_sandbox_set_cpu_budget(g->r, 5000000);
    return 0;
}

static void rig_down(struct rig *g) {
    jail_sandbox_free(g->r);
    jail_supervisor_poll(g->s, NULL, NULL);
    jail_supervisor_free(g->s);
    close(g->peer);
}

/* The end of sandbox 1's turn: killed, 1000 bytes in use, 2000 ns of CPU. */
static void turn_done_msg(struct jail_out *o, uint64_t killed) {
    jail_out_begin(o, JU_TURN_DONE);
    jail_out_u64(o, 1);
    jail_out_u64(o, killed);
    jail_out_u64(o, 1000);
    jail_out_u64(o, 2000);
}

static void turn_done(int fd, uint64_t killed) {
    struct jail_out o;
    turn_done_msg(&o, killed);
    CHECK_EQ_INT(jail_out_send(&o, fd), 0);
}

/* A LOG upcall from sandbox `sb`, built but not sent. */
static void log_msg(struct jail_out *o, uint64_t sb, corral_log_level level, const char *text) {
    jail_out_begin(o, JU_LOG);
    jail_out_u64(o, sb);
    jail_out_u64(o, 0);
    jail_out_u64(o, level);
    jail_out_bytes(o, text, strlen(text));
}

/* Runs one turn (a timer) after the peer's bytes are queued. */
static void run(struct rig *g) { jail_sandbox_fire_timer(g->r, 1); }

TEST(an_honest_turn_reaches_the_host) {
    struct rig g;
    if (rig_up(&g) < 0) return;
    struct jail_out o;
    log_msg(&o, 1, CORRAL_LOG_WARN, "careful");
    CHECK_EQ_INT(jail_out_send(&o, g.peer), 0);
    turn_done(g.peer, SANDBOX_KILL_MEMORY);
    run(&g);
    CHECK_EQ_INT(logs, 1);
    CHECK_EQ_STR(last_log, "careful");
    CHECK_EQ_INT(jail_sandbox_killed(g.r), SANDBOX_KILL_MEMORY);
    CHECK_EQ_INT(jail_sandbox_memory_used(g.r), 1000);
    CHECK_EQ_INT(jail_sandbox_turn_cpu_ns(g.r), 2000);
    rig_down(&g);
}

static void expect_ended(struct rig *g, const char *detail) {
    CHECK_EQ_INT(jail_sandbox_killed(g->r), SANDBOX_KILL_CRASHED);
    char want[256];
    snprintf(want, sizeof want,
             "The sandbox's worker process broke the supervisor's protocol (%s) and was ended.",
             detail);
    CHECK_EQ_STR(jail_sandbox_crash_message(g->r), want);
}

TEST(an_upcall_naming_another_sandbox_ends_the_worker) {
    struct rig g;
    if (rig_up(&g) < 0) return;
    struct jail_out o;
    log_msg(&o, 2, CORRAL_LOG_LOG, "x");
    jail_out_send(&o, g.peer);
    run(&g);
    expect_ended(&g, "a sandbox id it was not given");
    CHECK_EQ_INT(logs, 0);
    rig_down(&g);
}

TEST(a_call_with_a_payload_naming_a_missing_cap_ends_the_worker) {
    struct rig g;
    if (rig_up(&g) < 0) return;
    static const uint8_t stub0[] = {1, 0x12, 0}; /* a stub at cap index 0, no caps sent */
    struct jail_out o;
    jail_out_begin(&o, JU_SEND);
    jail_out_u64(&o, 1);
    jail_out_u64(&o, 0);
    jail_out_u64(&o, WIRE_MSG_CALL);
    jail_out_u64(&o, 5);
    jail_out_u64(&o, 0);
    jail_out_null(&o);
    jail_out_bytes(&o, stub0, sizeof stub0);
    jail_out_u64(&o, 0);
    jail_out_send(&o, g.peer);
    run(&g);
    expect_ended(&g, "a malformed message");
    CHECK_EQ_INT(sends, 0);
    rig_down(&g);
}

TEST(a_release_with_a_payload_ends_the_worker) {
    struct rig g;
    if (rig_up(&g) < 0) return;
    static const uint8_t undef[] = {1, 0x01};
    struct jail_out o;
    jail_out_begin(&o, JU_SEND);
    jail_out_u64(&o, 1);
    jail_out_u64(&o, 0);
    jail_out_u64(&o, WIRE_MSG_RELEASE);
    jail_out_u64(&o, 0);
    jail_out_u64(&o, 3);
    jail_out_null(&o);
    jail_out_bytes(&o, undef, sizeof undef);
    jail_out_u64(&o, 0);
    jail_out_send(&o, g.peer);
    run(&g);
    expect_ended(&g, "a malformed message");
    rig_down(&g);
}

/* A load() whose code fails validation is answered with the validator's
 * error (an honest engine never sends one), not routed to the host. */
TEST(invalid_code_from_a_worker_is_validated_again) {
    struct rig g;
    if (rig_up(&g) < 0) return;
    struct workercode *c = wc_new();
    c->compat_date = strdup("2025-01-01");
    uint8_t *bytes;
    size_t len;
    CHECK_EQ_INT(jail_code_encode(c, &bytes, &len), 0);
    wc_free(c);
    struct jail_out o;
    jail_out_begin(&o, JU_LOAD);
    jail_out_u64(&o, 1);
    jail_out_u64(&o, 0);
    jail_out_bytes(&o, bytes, len);
    free(bytes);
    jail_out_send(&o, g.peer);
    turn_done(g.peer, 0);
    run(&g);
    CHECK_EQ_INT(loads, 0);
    CHECK_EQ_INT(jail_sandbox_killed(g.r), 0);
    /* The peer reads NEW and the turn's message, then the REPLY. */
    struct jail_in in = {0};
    CHECK(jail_in_recv(&in, g.peer, 1000, JAIL_MSG_MAX_BYTES) > 0);
    CHECK(jail_in_recv(&in, g.peer, 1000, JAIL_MSG_MAX_BYTES) > 0);
    long n = jail_in_recv(&in, g.peer, 1000, JAIL_MSG_MAX_BYTES);
    CHECK(n > 0);
    struct jail_fields f;
    if (n > 0 && jail_fields_parse(&f, in.buf, (size_t)n) == 0) {
        CHECK_EQ_INT(jail_get_u64(&f), JD_REPLY);
        CHECK_EQ_INT(jail_get_i64(&f), -1);
        jail_get_u64(&f);
        corral_error e;
        jail_get_error(&f, &e);
        CHECK_EQ_STR(e.name, "TypeError");
        CHECK_EQ_STR(e.message, "Dynamic Worker code must contain at least one module.");
        jail_fields_free(&f);
    }
    jail_in_free(&in);
    rig_down(&g);
}

TEST(code_from_a_worker_may_not_carry_bindings) {
    struct rig g;
    if (rig_up(&g) < 0) return;
    struct workercode *c = wc_new();
    c->bindings = calloc(1, sizeof *c->bindings);
    c->bindings[0].name = strdup("LOADER");
    c->bindings[0].is_loader = 1;
    c->binding_count = 1;
    uint8_t *bytes;
    size_t len;
    CHECK_EQ_INT(jail_code_encode(c, &bytes, &len), 0);
    wc_free(c);
    struct jail_out o;
    jail_out_begin(&o, JU_LOAD);
    jail_out_u64(&o, 1);
    jail_out_u64(&o, 0);
    jail_out_bytes(&o, bytes, len);
    free(bytes);
    jail_out_send(&o, g.peer);
    run(&g);
    expect_ended(&g, "a malformed upcall");
    CHECK_EQ_INT(loads, 0);
    rig_down(&g);
}

TEST(an_oversized_datagram_ends_the_worker) {
    struct rig g;
    if (rig_up(&g) < 0) return;
    size_t big = JAIL_FRAG_BYTES + 2;
    uint8_t *p = calloc(1, big);
    CHECK(send(g.peer, p, big, MSG_NOSIGNAL) == (ssize_t)big);
    free(p);
    run(&g);
    expect_ended(&g, "a malformed frame");
    rig_down(&g);
}

/* A packed datagram (JAIL_FLAG_PACKED) carrying a log, the end of the
 * turn and one more message: the first two are served, the third is a
 * message out of turn even though no system call separates it. */
TEST(a_message_packed_after_the_end_of_a_turn_ends_the_worker) {
    struct rig g;
    if (rig_up(&g) < 0) return;
    struct jail_batch b = {0};
    struct jail_out o;
    log_msg(&o, 1, CORRAL_LOG_INFO, "packed");
    CHECK_EQ_INT(jail_out_post(&o, &b, g.peer), 0);
    for (int i = 0; i < 2; i++) {
        turn_done_msg(&o, 0);
        CHECK_EQ_INT(jail_out_post(&o, &b, g.peer), 0);
    }
    CHECK_EQ_INT(jail_batch_flush(&b, g.peer), 0);
    run(&g);
    CHECK_EQ_INT(logs, 1);
    CHECK_EQ_STR(last_log, "packed");
    expect_ended(&g, "a message after the end of its turn");
    rig_down(&g);
}

TEST(an_unknown_kill_reason_ends_the_worker) {
    struct rig g;
    if (rig_up(&g) < 0) return;
    turn_done(g.peer, 99);
    run(&g);
    expect_ended(&g, "a malformed end of turn");
    rig_down(&g);
}

TEST(an_unknown_upcall_ends_the_worker) {
    struct rig g;
    if (rig_up(&g) < 0) return;
    struct jail_out o;
    jail_out_begin(&o, 999);
    jail_out_u64(&o, 1);
    jail_out_u64(&o, 0);
    jail_out_send(&o, g.peer);
    run(&g);
    expect_ended(&g, "an unknown message kind");
    rig_down(&g);
}

/* No answer within the budget plus grace: a CPU kill for the sandbox. */
TEST(a_silent_worker_is_ended_at_the_deadline) {
    struct rig g;
    if (rig_up(&g) < 0) return;
    jail_sandbox_set_cpu_budget(g.r, 1000000);
    run(&g);
    CHECK_EQ_INT(jail_sandbox_killed(g.r), SANDBOX_KILL_CPU);
    struct jail_supervisor_stats st;
    jail_supervisor_stats(g.s, &st);
    CHECK_EQ_INT(st.cpu_kills, 1);
    CHECK_EQ_INT(st.workers, 0);
    rig_down(&g);
}

TEST(a_worker_hanging_up_mid_turn_crashes_its_sandbox) {
    struct rig g;
    if (rig_up(&g) < 0) return;
    shutdown(g.peer, SHUT_WR);
    run(&g);
    CHECK_EQ_INT(jail_sandbox_killed(g.r), SANDBOX_KILL_CRASHED);
    CHECK_EQ_STR(jail_sandbox_crash_message(g.r),
                 "The sandbox's worker process died (its status is unknown).");
    /* Later turns are refused without a worker. */
    run(&g);
    CHECK_EQ_INT(jail_sandbox_killed(g.r), SANDBOX_KILL_CRASHED);
    rig_down(&g);
}

TEST(fields_reader_refuses_nesting_and_wide_integers) {
    struct jail_fields f;
    static const uint8_t nested[] = {1, 0x0b, 1, 0x0b, 0};
    CHECK_EQ_INT(jail_fields_parse(&f, nested, sizeof nested), -1);
    static const uint8_t wide[] = {1, 0x0b, 1, 0x07, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    CHECK_EQ_INT(jail_fields_parse(&f, wide, sizeof wide), -1);
    static const uint8_t str[] = {1, 0x0b, 1, 0x08, 1, 'a'};
    CHECK_EQ_INT(jail_fields_parse(&f, str, sizeof str), -1);
    static const uint8_t ok[] = {1, 0x0b, 2, 0x07, 1, 1, 5, 0x02};
    CHECK_EQ_INT(jail_fields_parse(&f, ok, sizeof ok), 0);
    CHECK_EQ_INT(jail_get_i64(&f), -5);
    CHECK(jail_get_null(&f));
    CHECK(!f.bad);
    jail_get_u64(&f);
    CHECK(f.bad); /* past the end */
    jail_fields_free(&f);
    static const uint8_t counted[] = {1, 0x0b, 2, 0x07, 0, 1, 200, 0x02};
    CHECK_EQ_INT(jail_fields_parse(&f, counted, sizeof counted), 0);
    CHECK_EQ_INT(jail_get_count(&f, 1), 0);
    CHECK(f.bad); /* 200 entries announced, one field left */
    jail_fields_free(&f);
}

TEST(workercode_round_trips) {
    struct workercode *c = wc_new();
    c->compat_date = strdup("2025-06-01");
    c->main_module = strdup("main.js");
    wc_add_module(c, "main.js", 7, CORRAL_MODULE_JS, "export default {}", 17);
    wc_add_flag(c, "nodejs_compat", 13);
    c->env = malloc(2);
    c->env[0] = 1;
    c->env[1] = 0x02;
    c->env_len = 2;
    c->env_size = 2;
    c->tenant = strdup("t");
    c->limits.cpu_ms = 5;
    uint8_t *bytes;
    size_t len;
    CHECK_EQ_INT(jail_code_encode(c, &bytes, &len), 0);
    struct workercode *d = jail_code_decode(bytes, len, 0);
    CHECK(d != NULL);
    if (d) {
        CHECK_EQ_STR(d->compat_date, "2025-06-01");
        CHECK_EQ_STR(d->main_module, "main.js");
        CHECK_EQ_INT(d->module_count, 1);
        CHECK_EQ_STR((const char *)d->modules[0].source, "export default {}");
        CHECK_EQ_INT(d->modules[0].type, CORRAL_MODULE_JS);
        CHECK_EQ_INT(d->flag_count, 1);
        CHECK_EQ_INT(d->env_len, 2);
        CHECK_EQ_STR(d->tenant, "t");
        CHECK_EQ_INT(d->limits.cpu_ms, 5);
    }
    /* Every truncation is refused, never read past. */
    for (size_t cut = 0; cut < len; cut++) CHECK(jail_code_decode(bytes, cut, 0) == NULL);
    wc_free(d);
    wc_free(c);
    free(bytes);
}

/* The worker could not create the runtime: the error reaches the caller,
 * the worker is not told to free what it never made, and stays in use. */
TEST(a_refused_new_is_reported_at_the_first_turn_and_the_worker_kept) {
    struct rig g;
    if (rig_up(&g) < 0) return;
    struct jail_out o;
    jail_out_begin(&o, JU_NEW_DONE);
    jail_out_u64(&o, 2);
    jail_out_u64(&o, 0);
    corral_error e = {.status = CORRAL_ENOMEM, .name = "MemoryLimitError", .message = "no memory"};
    jail_out_error(&o, &e);
    jail_out_send(&o, g.peer);
    jail_out_begin(&o, JU_TURN_DONE);
    jail_out_u64(&o, 2);
    jail_out_u64(&o, SANDBOX_KILL_MEMORY);
    jail_out_u64(&o, 0);
    jail_out_u64(&o, 0);
    jail_out_send(&o, g.peer);
    struct sandbox_config sc = {.host = &host, .worker_id = "w2", .today = "2026-01-01"};
    corral_limits_default(&sc.limits);
    corral_error err = {0};
    /* NEW is not waited for: the sandbox exists until its first turn says
     * otherwise (sandbox 1's answer, still unread, is taken first). */
    struct jail_sandbox *r2 = jail_sandbox_new(g.s, NULL, &sc, &err);
    CHECK(r2 != NULL);
    if (!r2) {
        rig_down(&g);
        return;
    }
    CHECK(jail_sandbox_start_error(r2) == NULL);
    jail_sandbox_set_cpu_budget(r2, 5000000);
    jail_sandbox_fire_timer(r2, 1);
    const corral_error *why = jail_sandbox_start_error(r2);
    CHECK(why != NULL);
    if (why) {
        CHECK_EQ_STR(why->name, "MemoryLimitError");
        CHECK_EQ_STR(why->message, "no memory");
    }
    CHECK_EQ_INT(jail_sandbox_killed(r2), SANDBOX_KILL_MEMORY);
    CHECK(jail_sandbox_start_error(g.r) == NULL);
    struct jail_supervisor_stats st;
    jail_supervisor_stats(g.s, &st);
    CHECK_EQ_INT(st.workers, 1);
    jail_sandbox_free(r2);
    /* The peer saw NEW 1, NEW 2, the timer, and FREE 2: the worker keeps a
     * sandbox it could not create listed until then. */
    struct jail_in in = {0};
    int frees = 0, news = 0, timers = 0;
    long n;
    while ((n = jail_in_recv(&in, g.peer, 0, JAIL_MSG_MAX_BYTES)) > 0) {
        struct jail_fields f;
        if (jail_fields_parse(&f, in.buf, (size_t)n) < 0) break;
        uint64_t k = jail_get_u64(&f);
        frees += k == JD_FREE;
        news += k == JD_NEW;
        timers += k == JD_FIRE_TIMER;
        jail_fields_free(&f);
    }
    jail_in_free(&in);
    CHECK_EQ_INT(news, 2);
    CHECK_EQ_INT(timers, 1);
    CHECK_EQ_INT(frees, 1);
    rig_down(&g);
}

/* A sandbox freed before its first turn waits for NEW's answer; a worker
 * that hangs up instead is ended, and the sandbox leaves the lost list
 * before it is freed (found by fuzz_supervisor as a use after free). */
TEST(a_sandbox_freed_while_its_worker_hangs_up_on_new) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return;
    struct jail_supervisor_config cfg = {.mode = CORRAL_ISOLATION_POOL, .pool_size = 1,
                                         .grace_ms = 1, .epfd = -1, .host = &host};
    corral_error err;
    struct jail_supervisor *s = jail_supervisor_new(&cfg, &err);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(jail_supervisor_adopt(s, sv[0]), 0);
    struct sandbox_config sc = {.host = &host, .worker_id = "w", .today = "2026-01-01"};
    corral_limits_default(&sc.limits);
    struct jail_sandbox *r = jail_sandbox_new(s, NULL, &sc, &err);
    CHECK(r != NULL);
    shutdown(sv[1], SHUT_WR);
    jail_sandbox_free(r);
    jail_supervisor_poll(s, NULL, NULL);
    struct jail_supervisor_stats st;
    jail_supervisor_stats(s, &st);
    CHECK_EQ_INT(st.workers, 0);
    jail_supervisor_free(s);
    close(sv[1]);
}
