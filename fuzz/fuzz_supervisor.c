/* libFuzzer target for the supervisor's handling of what a jailed worker
 * sends: framing, the flat-field reader, every upcall's checks, workercode
 * rebuilt from a worker's bytes, and the end of a turn. The fuzzer plays a
 * compromised worker on the far end of a socket pair adopted by the
 * supervisor (jail_supervisor_adopt), so no process is started.
 *
 * Input: a sequence of datagrams, each a 16-bit little-endian length and
 * that many bytes (the fragment flag byte included, so fragmentation is
 * fuzzed too), at most 32 of them. They are queued before the turn starts,
 * followed by a well-formed TURN_DONE and the end of the stream, so every
 * input ends the turn quickly: by finishing it, by breaking the protocol,
 * or by hanging up. The host callbacks accept everything, so the
 * supervisor's own checks are what is exercised. The answer to NEW comes
 * first, from the harness, unless the input's first byte is odd: then the
 * input must bring its own (a refusal, a malformed one, or none). When bit
 * 1 of the first byte is set, the sandbox is started first, so START
 * travels with the call and its end must come before the call's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/workercode.h"
#include "jail/proto.h"
#include "jail/supervisor.h"

static void f_send(void *h, struct sandbox *sb, const struct wire_msg *m) {
    (void)h;
    (void)sb;
    /* What reaches the host must already be well-formed. */
    if (m->payload && m->payload_len) {
        struct wire_limits lim = {.cap_count = m->cap_count};
        if (wire_validate(m->payload, m->payload_len, &lim) != WIRE_OK) abort();
    }
}
static int64_t f_load(void *h, struct sandbox *sb, struct workercode *code, corral_error *err) {
    (void)h;
    (void)sb;
    (void)err;
    wc_free(code);
    return 0;
}
static int64_t f_get(void *h, struct sandbox *sb, const char *id, int *need, corral_error *err) {
    (void)h;
    (void)sb;
    (void)id;
    (void)err;
    *need = 1;
    return 1;
}
static void f_provide(void *h, struct sandbox *sb, uint64_t handle, struct workercode *code,
                      const corral_error *failure) {
    (void)h;
    (void)sb;
    (void)handle;
    if (!code && !failure) abort();
    wc_free(code);
}
static int64_t f_entry(void *h, struct sandbox *sb, uint64_t handle, const char *name,
                       const uint8_t *props, size_t props_len, const struct wire_cap *caps,
                       size_t cap_count, const corral_limits *limits, uint8_t *flags,
                       corral_error *err) {
    (void)h;
    (void)sb;
    (void)handle;
    (void)name;
    (void)props;
    (void)props_len;
    (void)caps;
    (void)cap_count;
    (void)limits;
    (void)err;
    *flags = 0;
    return 2;
}
static void f_log(void *h, struct sandbox *sb, corral_log_level level, const char *text,
                  size_t len) {
    (void)h;
    (void)sb;
    (void)level;
    (void)text;
    (void)len;
}
static void f_timer(void *h, struct sandbox *sb, uint64_t id, double delay) {
    (void)h;
    (void)sb;
    (void)id;
    (void)delay;
}
static void f_timer_clear(void *h, struct sandbox *sb, uint64_t id) {
    (void)h;
    (void)sb;
    (void)id;
}
static int f_fetch(void *h, struct sandbox *sb, uint64_t id, const uint8_t *req, size_t len,
                   corral_error *err) {
    (void)h;
    (void)sb;
    (void)id;
    (void)req;
    (void)len;
    corral_error_set(err, CORRAL_EINVAL, "Error", "no network");
    return -1;
}
static void f_wait(void *h, struct sandbox *sb, uint64_t inv, int delta) {
    (void)h;
    (void)sb;
    (void)inv;
    (void)delta;
}
static uint8_t f_flags(void *h, struct sandbox *sb, uint64_t index) {
    (void)h;
    (void)sb;
    (void)index;
    return 0;
}
static void f_unhandled(void *h, struct sandbox *sb, const char *text) {
    (void)h;
    (void)sb;
    (void)text;
}

static const struct engine_host fuzz_host = {
    .send = f_send, .load = f_load, .get = f_get, .provide = f_provide, .entrypoint = f_entry,
    .log = f_log, .timer_set = f_timer, .timer_clear = f_timer_clear, .fetch = f_fetch,
    .wait_until = f_wait, .import_flags = f_flags, .unhandled_rejection = f_unhandled};

static void queue(int fd, struct jail_out *o) {
    if (jail_out_send(o, fd) < 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) abort();
    struct jail_supervisor_config cfg = {.mode = CORRAL_ISOLATION_POOL, .pool_size = 1,
                                         .grace_ms = 1, .epfd = -1, .host = &fuzz_host};
    corral_error err;
    struct jail_supervisor *s = jail_supervisor_new(&cfg, &err);
    if (!s || jail_supervisor_adopt(s, sv[0]) < 0) abort();
    /* The answer to NEW, which the supervisor reads with the first turn's
     * messages. An input whose first byte is odd brings its own instead,
     * so malformed and refused answers are fuzzed too. */
    struct jail_out o;
    if (!(size && (data[0] & 1))) {
        jail_out_begin(&o, JU_NEW_DONE);
        jail_out_u64(&o, 1);
        jail_out_u64(&o, 1);
        jail_out_error(&o, NULL);
        queue(sv[1], &o);
    }
    struct sandbox_config sc = {.host = &fuzz_host, .worker_id = "fuzz", .today = "2026-01-01"};
    corral_limits_default(&sc.limits);
    struct jail_sandbox *r = jail_sandbox_new(s, NULL, &sc, &err);
    if (!r) abort();
    size_t off = 0;
    for (int n = 0; n < 32 && off + 2 <= size; n++) {
        size_t len = (size_t)data[off] | (size_t)data[off + 1] << 8;
        off += 2;
        if (len > size - off) len = size - off;
        if (len) send(sv[1], data + off, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        off += len;
    }
    jail_out_begin(&o, JU_TURN_DONE);
    jail_out_u64(&o, 1);
    jail_out_u64(&o, 0);
    jail_out_u64(&o, 0);
    jail_out_u64(&o, 0);
    jail_out_send(&o, sv[1]);
    shutdown(sv[1], SHUT_WR);
    jail_sandbox_set_cpu_budget(r, 1000000);
    /* An input whose first byte has bit 1 set starts the sandbox first:
     * START then leaves with the call, and the queued datagrams are read
     * as START's upcalls and end, then the call's. */
    if (size && (data[0] & 2)) {
        struct workercode *code = wc_new();
        if (!code) abort();
        code->compat_date = strdup("2025-01-01");
        if (!code->compat_date) abort();
        (void)jail_sandbox_start(r, code, NULL, 0, NULL, 0);
        wc_free(code);
    }
    static const uint8_t args[] = {1, 0x0b, 0};
    struct wire_msg m = {.kind = WIRE_MSG_CALL, .id = 1, .target = 0, .payload = args,
                         .payload_len = sizeof args};
    jail_sandbox_deliver(r, &m, NULL);
    (void)jail_sandbox_killed(r);
    jail_sandbox_free(r);
    jail_supervisor_poll(s, NULL, NULL);
    jail_supervisor_free(s);
    close(sv[1]);
    return 0;
}
