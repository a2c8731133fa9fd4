/* The jailed worker: the other end of the supervisor's socket.
 *
 * It runs inside the full jail (jail_spawn applied every layer before
 * calling jail_worker_main), so it has exactly one descriptor — the socket
 * — and may only compute, talk on it and exit. It keeps real engine
 * sandboxes, keyed by the ids the supervisor gave them, and runs the
 * sandbox_* function each downcall names. Each sandbox's struct
 * engine_host forwards the callback over the socket: the ones that return
 * a value block until the supervisor's REPLY, reading and serving any
 * RELEASE_EXPORT, FREE or NEW that arrives first (the supervisor's own
 * callbacks can cause those in the middle of a turn).
 *
 * Nothing here is trusted by the supervisor: this file is what an attacker
 * who compromised the engine would replace. It only has to be correct for
 * honest sandboxes; the supervisor checks everything it sends. Any
 * unexpected message, a closed socket or an allocation failure ends the
 * process: the supervisor turns that into a clear error for the sandboxes
 * it held. It never uses stdio (descriptors 0-2 are closed and fstat is
 * forbidden) and leaves through jail_exit().
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/workercode.h"
#include "jail/jail.h"
#include "jail/proto.h"
#include "jail/supervisor.h"

struct wsb {
    uint64_t id;
    struct sandbox *sb;
    struct workercode *code;    /* the sandbox keeps pointing into it */
    int free_after_turn;    /* FREE arrived during its own turn */
};

struct wstate {
    int fd;
    int prewarm;
    void (*test_hook)(uint64_t what);
    struct wsb **sbs;
    size_t count, cap;
    struct wsb *in_turn;
    /* The import indexes of the message being served, with the flags the
     * supervisor sent for each (get_idx), so w_import_flags rarely asks. */
    struct known_flags { uint64_t index; uint8_t flags; } *known;
    size_t known_count, known_cap;
    struct jail_in in;
    struct jail_batch out;
    /* A fresh runtime built while the worker was idle, so the next NEW
     * only assigns it (as the loader's prewarm thread does in-process);
     * made with the last NEW's limits, which sandbox_assign then sets. */
    struct sandbox *spare;
    struct sandbox_config spare_cfg;
    int have_spare_cfg, want_spare;
    /* A sandbox was freed since the allocator last gave memory back: the
     * jail turned glibc's automatic trimming off (jail_settle_libc). */
    int trim_due;
};

/* What a pool worker may keep free between sandboxes before it gives
 * memory back: a usual sandbox is well under this, a big one is not. */
#define IDLE_TRIM_ABOVE ((size_t)4 << 20)

static struct wstate W;

static void die(void) {
    jail_exit(JAIL_EXIT_FAILED);
}

static struct wsb *find(uint64_t id) {
    for (size_t i = 0; i < W.count; i++)
        if (W.sbs[i]->id == id) return W.sbs[i];
    return NULL;
}

static void drop(struct wsb *s) {
    for (size_t i = 0; i < W.count; i++)
        if (W.sbs[i] == s) {
            W.sbs[i] = W.sbs[--W.count];
            break;
        }
    sandbox_free(s->sb);
    wc_free(s->code);
    free(s);
    W.trim_due = 1;
}

/* An upcall that needs no answer: it waits for the next one that does,
 * or for the end of the turn (channel.h, struct jail_batch). */
static void post_or_die(struct jail_out *o) {
    if (jail_out_post(o, &W.out, W.fd) < 0) die();
}

/* Everything held, now: the supervisor's next message answers it. */
static void flush_or_die(void) {
    if (jail_batch_flush(&W.out, W.fd) < 0) die();
    jail_in_sent(&W.in);
}

/* Everything held, then this message, now. */
static void send_or_die(struct jail_out *o) {
    if (jail_out_post(o, &W.out, W.fd) < 0) die();
    flush_or_die();
}

static uint64_t sb_id(void *host) { return ((struct wsb *)host)->id; }

static void up_begin(struct jail_out *o, enum jail_up kind, void *host, struct sandbox *sb) {
    jail_out_begin(o, kind);
    jail_out_u64(o, sb_id(host));
    jail_out_u64(o, sandbox_current_invocation(sb));
}

/* ---- the downcalls that may arrive anywhere ---------------------------- */

static const struct engine_host worker_host;

static void handle_new(struct jail_fields *f) {
    uint64_t id = jail_get_u64(f);
    struct sandbox_config cfg = {.host = &worker_host};
    cfg.memory_bytes = jail_get_u64(f);
    cfg.stack_bytes = jail_get_u64(f);
    cfg.arg_bytes = jail_get_u64(f);
    cfg.result_bytes = jail_get_u64(f);
    char *worker_id = jail_get_str(f);
    char *today = jail_get_str(f);
    jail_get_limits(f, &cfg.limits);
    cfg.worker_id = worker_id;
    cfg.today = today;
    corral_error err = {0};
    struct wsb *s = NULL;
    if (f->bad || find(id)) die();
    if (W.count == W.cap) {
        size_t cap = W.cap ? W.cap * 2 : 16;
        struct wsb **n = realloc(W.sbs, cap * sizeof *n);
        if (!n) die();
        W.sbs = n;
        W.cap = cap;
    }
    s = calloc(1, sizeof *s);
    if (!s) die();
    s->id = id;
    cfg.host_data = s;
    if (!W.spare) s->sb = sandbox_new(&cfg, &err);
    else if (sandbox_assign(W.spare, &cfg, &err) == 0) s->sb = W.spare;
    else sandbox_free(W.spare); /* a fresh one would not fit the limit either */
    W.spare = NULL;
    W.spare_cfg = cfg;
    W.spare_cfg.host_data = NULL;
    W.spare_cfg.worker_id = "prewarmed";
    W.spare_cfg.today = NULL;
    W.have_spare_cfg = 1;
    free(worker_id);
    free(today);
    struct jail_out o;
    jail_out_begin(&o, JU_NEW_DONE);
    jail_out_u64(&o, id);
    jail_out_u64(&o, s->sb != NULL);
    jail_out_error(&o, &err);
    /* A sandbox that could not be created stays listed until FREE, so the
     * turn the supervisor sent after NEW without waiting ends cleanly. */
    W.sbs[W.count++] = s;
    /* Nobody waits for the answer: it leaves with the turn's end, or
     * before this process next sleeps (recv_msg). */
    post_or_die(&o);
}

/* Serves a message that may come at any time; returns 0 if it was not one
 * of those. */
static int handle_async(uint64_t kind, struct jail_fields *f) {
    if (kind == JD_NEW) {
        handle_new(f);
        return 1;
    }
    if (kind == JD_RELEASE_EXPORT) {
        struct wsb *s = find(jail_get_u64(f));
        uint64_t ex = jail_get_u64(f);
        if (f->bad || !s) die();
        if (s->sb) sandbox_release_export(s->sb, ex);
        return 1;
    }
    if (kind == JD_FREE) {
        struct wsb *s = find(jail_get_u64(f));
        if (f->bad || !s) die();
        if (s == W.in_turn) s->free_after_turn = 1;
        else drop(s);
        W.want_spare = 1;
        return 1;
    }
    if (kind == JD_HOOK) {
        uint64_t what = jail_get_u64(f);
        if (W.test_hook) W.test_hook(what);
        return 1;
    }
    return 0;
}

/* Reads the next message; ends the process when the supervisor is gone.
 * What is held goes out first unless a message is already waiting (the
 * turn sent with a NEW), so one send carries both answers. */
static uint64_t recv_msg(struct jail_fields *f) {
    long n = -2;
    if (W.out.count) n = jail_in_recv(&W.in, W.fd, 0, JAIL_MSG_MAX_BYTES);
    if (n == -2) {
        if (W.out.count) flush_or_die();
        n = jail_in_recv(&W.in, W.fd, -1, JAIL_MSG_MAX_BYTES);
    }
    if (n == 0) jail_exit(0);
    if (n < 0 || jail_fields_parse(f, W.in.buf, (size_t)n) < 0) die();
    uint64_t kind = jail_get_u64(f);
    if (f->bad) die();
    return kind;
}

/* Sends an upcall and waits for its REPLY. The time the host takes is
 * not the sandbox's CPU: the turn's clock is read before it starts. */
static int64_t call_up(struct jail_out *o, uint64_t *aux, corral_error *err) {
    if (W.in_turn && W.in_turn->sb) sandbox_turn_clock_read(W.in_turn->sb);
    send_or_die(o);
    for (;;) {
        struct jail_fields f;
        uint64_t kind = recv_msg(&f);
        if (kind == JD_REPLY) {
            int64_t v = jail_get_i64(&f);
            uint64_t a = jail_get_u64(&f);
            corral_error e;
            jail_get_error(&f, &e);
            if (f.bad) die();
            jail_fields_free(&f);
            if (aux) *aux = a;
            if (err) *err = e;
            return v;
        }
        if (!handle_async(kind, &f)) die();
        jail_fields_free(&f);
    }
}

/* ---- struct engine_host: every callback goes up the socket --------------- */

static void out_wire_caps(struct jail_out *o, const struct wire_cap *caps, size_t n) {
    jail_out_u64(o, n);
    for (size_t i = 0; i < n; i++) {
        jail_out_u64(o, caps[i].kind);
        jail_out_u64(o, caps[i].flags);
        jail_out_u64(o, caps[i].id);
    }
}

static void w_send(void *host, struct sandbox *sb, const struct wire_msg *m) {
    struct jail_out o;
    up_begin(&o, JU_SEND, host, sb);
    jail_out_u64(&o, m->kind);
    jail_out_u64(&o, m->id);
    jail_out_u64(&o, m->target);
    if (m->name) jail_out_bytes(&o, m->name, m->name_len);
    else jail_out_null(&o);
    if (m->payload) jail_out_bytes(&o, m->payload, m->payload_len);
    else jail_out_null(&o);
    out_wire_caps(&o, m->caps, m->cap_count);
    post_or_die(&o);
}

static int out_code(struct jail_out *o, struct workercode *code) {
    uint8_t *bytes;
    size_t len;
    int r = jail_code_encode(code, &bytes, &len);
    wc_free(code);
    if (r < 0) return -1;
    jail_out_bytes(o, bytes, len);
    free(bytes);
    return 0;
}

static int64_t w_load(void *host, struct sandbox *sb, struct workercode *code, corral_error *err) {
    struct jail_out o;
    up_begin(&o, JU_LOAD, host, sb);
    if (out_code(&o, code) < 0) {
        jail_out_free(&o);
        corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory.");
        return -1;
    }
    return call_up(&o, NULL, err);
}

static int64_t w_get(void *host, struct sandbox *sb, const char *id, int *need_code,
                     corral_error *err) {
    struct jail_out o;
    up_begin(&o, JU_GET, host, sb);
    jail_out_str(&o, id);
    uint64_t aux = 0;
    int64_t r = call_up(&o, &aux, err);
    *need_code = aux != 0;
    return r;
}

static void w_provide(void *host, struct sandbox *sb, uint64_t handle, struct workercode *code,
                      const corral_error *failure) {
    struct jail_out o;
    up_begin(&o, JU_PROVIDE, host, sb);
    jail_out_u64(&o, handle);
    if (code) {
        if (out_code(&o, code) < 0) die();
    } else {
        jail_out_null(&o);
    }
    jail_out_error(&o, failure);
    post_or_die(&o);
}

static int64_t w_entrypoint(void *host, struct sandbox *sb, uint64_t handle, const char *name,
                            const uint8_t *props, size_t props_len, const struct wire_cap *caps,
                            size_t cap_count, const corral_limits *limits, uint8_t *flags,
                            corral_error *err) {
    struct jail_out o;
    up_begin(&o, JU_ENTRYPOINT, host, sb);
    jail_out_u64(&o, handle);
    jail_out_str(&o, name);
    if (props) jail_out_bytes(&o, props, props_len);
    else jail_out_null(&o);
    corral_limits none = {0};
    jail_out_u64(&o, limits != NULL);
    jail_out_limits(&o, limits ? limits : &none);
    out_wire_caps(&o, caps, cap_count);
    uint64_t aux = 0;
    int64_t r = call_up(&o, &aux, err);
    *flags = (uint8_t)aux;
    return r;
}

static void w_log(void *host, struct sandbox *sb, corral_log_level level, const char *text,
                  size_t len) {
    struct jail_out o;
    up_begin(&o, JU_LOG, host, sb);
    jail_out_u64(&o, (uint64_t)level);
    jail_out_bytes(&o, text, len);
    post_or_die(&o);
}

static void w_timer_set(void *host, struct sandbox *sb, uint64_t id, double delay_ms) {
    struct jail_out o;
    up_begin(&o, JU_TIMER_SET, host, sb);
    jail_out_u64(&o, id);
    jail_out_f64(&o, delay_ms);
    post_or_die(&o);
}

static void w_timer_clear(void *host, struct sandbox *sb, uint64_t id) {
    struct jail_out o;
    up_begin(&o, JU_TIMER_CLEAR, host, sb);
    jail_out_u64(&o, id);
    post_or_die(&o);
}

static int w_fetch(void *host, struct sandbox *sb, uint64_t fetch_id, const uint8_t *req,
                   size_t req_len, corral_error *err) {
    struct jail_out o;
    up_begin(&o, JU_FETCH, host, sb);
    jail_out_u64(&o, fetch_id);
    jail_out_bytes(&o, req, req_len);
    return (int)call_up(&o, NULL, err);
}

static void w_wait_until(void *host, struct sandbox *sb, uint64_t invocation, int delta) {
    struct jail_out o;
    up_begin(&o, JU_WAIT_UNTIL, host, sb);
    jail_out_u64(&o, invocation);
    jail_out_i64(&o, delta);
    post_or_die(&o);
}

static uint8_t w_import_flags(void *host, struct sandbox *sb, uint64_t index) {
    for (size_t i = 0; i < W.known_count; i++)
        if (W.known[i].index == index) return W.known[i].flags;
    struct jail_out o;
    up_begin(&o, JU_IMPORT_FLAGS, host, sb);
    jail_out_u64(&o, index);
    uint64_t aux = 0;
    call_up(&o, &aux, NULL);
    return (uint8_t)aux;
}

static void w_unhandled(void *host, struct sandbox *sb, const char *text) {
    struct jail_out o;
    up_begin(&o, JU_UNHANDLED, host, sb);
    jail_out_str(&o, text);
    post_or_die(&o);
}

static const struct engine_host worker_host = {
    .send = w_send, .load = w_load, .get = w_get, .provide = w_provide,
    .entrypoint = w_entrypoint, .log = w_log, .timer_set = w_timer_set,
    .timer_clear = w_timer_clear, .fetch = w_fetch, .wait_until = w_wait_until,
    .import_flags = w_import_flags, .unhandled_rejection = w_unhandled};

/* ---- turns ---------------------------------------------------------------- */

/* Import indexes: a count and that many u64 (owned by the caller). */
static uint64_t *get_idx(struct jail_fields *f, size_t *n) {
    *n = jail_get_count(f, 2);
    uint64_t *idx = calloc(*n ? *n : 1, sizeof *idx);
    if (!idx) die();
    if (W.known_count + *n > W.known_cap) {
        size_t cap = W.known_count + *n + 8;
        struct known_flags *k = realloc(W.known, cap * sizeof *k);
        if (!k) die();
        W.known = k;
        W.known_cap = cap;
    }
    for (size_t i = 0; i < *n; i++) {
        idx[i] = jail_get_u64(f);
        W.known[W.known_count].index = idx[i];
        W.known[W.known_count++].flags = (uint8_t)jail_get_u64(f);
    }
    return idx;
}

/* An envelope the supervisor wrote: kind, id, target, name, payload. */
static void get_envelope(struct jail_fields *f, struct wire_msg *m) {
    memset(m, 0, sizeof *m);
    m->kind = (uint8_t)jail_get_u64(f);
    m->id = jail_get_u64(f);
    m->target = jail_get_u64(f);
    m->name = (const char *)jail_get_bytes(f, &m->name_len);
    m->payload = jail_get_bytes(f, &m->payload_len);
}

static void end_turn(struct wsb *s, uint64_t killed, uint64_t used) {
    struct jail_out o;
    jail_out_begin(&o, JU_TURN_DONE);
    jail_out_u64(&o, s->id);
    jail_out_u64(&o, killed);
    jail_out_u64(&o, s->sb ? sandbox_memory_used(s->sb) : 0);
    jail_out_u64(&o, used);
    if (s->free_after_turn) drop(s);
    send_or_die(&o);
}

static void turn(uint64_t kind, struct jail_fields *f) {
    struct wsb *s = find(jail_get_u64(f));
    uint64_t budget = jail_get_u64(f);
    if (f->bad || !s) die();
    if (!s->sb) {
        /* NEW failed (and said why): the sandbox ends at once. */
        end_turn(s, SANDBOX_KILL_MEMORY, 0);
        return;
    }
    if (kind != JD_START && sandbox_killed(s->sb)) {
        /* A turn sent with a START that was killed: nothing runs. */
        end_turn(s, (uint64_t)sandbox_killed(s->sb), 0);
        return;
    }
    W.in_turn = s;
    sandbox_turn_clock_begin(s->sb, budget);
    size_t n = 0, pn = 0;
    uint64_t *idx = NULL, *pidx = NULL;
    struct wire_msg m;
    switch (kind) {
    case JD_START: {
        size_t cl, el;
        const uint8_t *cb = jail_get_bytes(f, &cl);
        const uint8_t *env = jail_get_bytes(f, &el);
        idx = get_idx(f, &n);
        struct workercode *code = cb ? jail_code_decode(cb, cl, 1) : NULL;
        if (f->bad || !code || s->code) die();
        s->code = code;
        sandbox_start(s->sb, code, env, el, idx, n);
        break;
    }
    case JD_DELIVER:
        get_envelope(f, &m);
        idx = get_idx(f, &n);
        if (f->bad) die();
        m.cap_count = n;
        sandbox_deliver(s->sb, &m, idx);
        break;
    case JD_DELIVER_ENTRY: {
        char *name = jail_get_str(f);
        size_t pl;
        const uint8_t *props = jail_get_bytes(f, &pl);
        pidx = get_idx(f, &pn);
        get_envelope(f, &m);
        idx = get_idx(f, &n);
        if (f->bad || !name) die();
        m.cap_count = n;
        int64_t ex = sandbox_export_entrypoint(s->sb, name, props, pl, pidx, pn);
        m.target = ex < 0 ? 0 : (uint64_t)ex;
        sandbox_deliver(s->sb, &m, idx);
        if (ex > 0) sandbox_release_export(s->sb, (uint64_t)ex);
        free(name);
        break;
    }
    case JD_FIRE_TIMER: {
        uint64_t id = jail_get_u64(f);
        if (f->bad) die();
        sandbox_fire_timer(s->sb, id);
        break;
    }
    case JD_FETCH_DONE: {
        uint64_t id = jail_get_u64(f);
        uint64_t ok = jail_get_u64(f);
        size_t pl;
        const uint8_t *p = jail_get_bytes(f, &pl);
        idx = get_idx(f, &n);
        if (f->bad) die();
        sandbox_fetch_done(s->sb, id, ok != 0, p, pl, idx, n);
        break;
    }
    default: die();
    }
    free(idx);
    free(pidx);
    W.known_count = 0;
    uint64_t used = sandbox_turn_clock_end(s->sb);
    W.in_turn = NULL;
    end_turn(s, (uint64_t)sandbox_killed(s->sb), used);
}

/* Once a sandbox has been freed (an execution ended) and nothing waits:
 * builds the spare runtime at once, so the next NEW only assigns it (that
 * work falls while the supervisor is busy with its host, not on the next
 * execution's path), and gives memory back once the socket has stayed
 * quiet for a millisecond (a burst of executions would only fault it back
 * in). */
static void tidy_if_idle(void) {
    int spare_due = W.prewarm && W.want_spare && !W.spare && W.have_spare_cfg;
    /* A message already read with the last one (a packed datagram) is
     * waiting, though the socket looks quiet. */
    if ((!spare_due && !W.trim_due) || jail_in_buffered(&W.in)) return;
    struct pollfd p = {.fd = W.fd, .events = POLLIN};
    if (poll(&p, 1, 0) != 0) return;
    if (spare_due) {
        W.want_spare = 0;
        corral_error err;
        W.spare = sandbox_new(&W.spare_cfg, &err);
    }
    if (W.trim_due && poll(&p, 1, 1) == 0) {
        W.trim_due = 0;
        jail_give_back_memory(IDLE_TRIM_ABOVE);
    }
}

struct sandbox *jail_worker_prepare_spare(void) {
    struct sandbox_config cfg = {.host = &worker_host, .worker_id = "prewarmed"};
    corral_error err;
    return sandbox_new(&cfg, &err);
}

int jail_worker_main(void *arg) {
    const struct jail_worker_args *a = arg;
    memset(&W, 0, sizeof W);
    engine_thread_cpu_forget();
    W.fd = a->fd;
    W.in.spin_us = a->spin_us;
    W.spare = a->spare;
    W.prewarm = a->prewarm;
    W.test_hook = a->test_hook;
    /* A fresh fork shares every page with the zygote until it writes one;
     * the first sandbox would take those faults one at a time. A worker
     * asked for ahead (PROCESS mode) takes them here, while it waits. */
    if (W.spare) sandbox_prefault(W.spare);
    jail_prefault_inherited();
    for (;;) {
        struct jail_fields f;
        uint64_t kind = recv_msg(&f);
        if (!handle_async(kind, &f)) {
            if (kind < JD_START || kind > JD_FETCH_DONE) die();
            turn(kind, &f);
        }
        jail_fields_free(&f);
        tidy_if_idle();
    }
}
