/* The channel's two halves: writing a message as a flat wire-format array
 * and sending it in fragments; receiving fragments into a bounded buffer
 * and reading the array back through lib/wire's decoder.
 *
 * Both the supervisor and the jailed worker use this file, so it makes
 * only system calls the worker's seccomp policy allows (sendmsg, recvmsg,
 * poll) and never touches stdio. The reader is the supervisor's first line
 * of defence: a datagram longer than a fragment, a message longer than the
 * caller's ceiling, a nested value, a BigInt wider than 64 bits or a field
 * of the wrong type is a violation, never something to make sense of.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "jail/channel.h"

/* ---- writing ------------------------------------------------------------ */

void jail_out_begin(struct jail_out *o, uint64_t kind) {
    wire_buf_init(&o->b, JAIL_MSG_MAX_BYTES);
    o->count = 0;
    jail_out_u64(o, kind);
}

void jail_out_u64(struct jail_out *o, uint64_t v) {
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(v >> (8 * i));
    wire_put_bigint(&o->b, 0, le, 8);
    o->count++;
}

void jail_out_i64(struct jail_out *o, int64_t v) {
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(mag >> (8 * i));
    wire_put_bigint(&o->b, v < 0, le, 8);
    o->count++;
}

void jail_out_f64(struct jail_out *o, double v) {
    wire_put_number(&o->b, v);
    o->count++;
}

void jail_out_bytes(struct jail_out *o, const void *p, size_t len) {
    wire_put_bytes(&o->b, WIRE_BYTES_ARRAYBUFFER, len ? p : "", len);
    o->count++;
}

void jail_out_str(struct jail_out *o, const char *s) {
    if (s) jail_out_bytes(o, s, strlen(s));
    else jail_out_null(o);
}

void jail_out_null(struct jail_out *o) {
    wire_put_null(&o->b);
    o->count++;
}

void jail_out_free(struct jail_out *o) { wire_buf_free(&o->b); }

static int send_all(int fd, const uint8_t *p, size_t len) {
    size_t off = 0;
    do {
        size_t n = len - off > JAIL_FRAG_BYTES ? JAIL_FRAG_BYTES : len - off;
        uint8_t more = off + n < len ? JAIL_FLAG_MORE : 0;
        struct iovec iov[2] = {{&more, 1}, {(void *)(p + off), n}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t r;
        do r = sendmsg(fd, &mh, MSG_NOSIGNAL);
        while (r < 0 && errno == EINTR);
        if (r < 0) return -1;
        off += n;
    } while (off < len);
    return 0;
}

/* The whole message (header in front), freeing o's buffer. */
static uint8_t *out_finish(struct jail_out *o, size_t *len) {
    if (o->b.status != WIRE_OK) {
        jail_out_free(o);
        errno = EMSGSIZE;
        return NULL;
    }
    /* The array's length is known only now: write the header in front. */
    struct wire_buf h;
    wire_buf_init(&h, 0);
    wire_put_header(&h);
    wire_put_array_begin(&h, o->count);
    wire_put_raw(&h, o->b.data, o->b.len);
    uint8_t *all = wire_buf_take(&h, len);
    jail_out_free(o);
    if (!all) errno = ENOMEM;
    return all;
}

int jail_out_send(struct jail_out *o, int fd) {
    size_t len;
    uint8_t *all = out_finish(o, &len);
    if (!all) return -1;
    int r = send_all(fd, all, len);
    free(all);
    return r;
}

static void put_le32(uint8_t *p, size_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

int jail_batch_flush(struct jail_batch *b, int fd) {
    static const uint8_t plain = 0, packed = JAIL_FLAG_PACKED;
    uint8_t lens[JAIL_BATCH_MAX][4];
    struct iovec iov[2 * JAIL_BATCH_MAX + JAIL_BATCH_MAX];
    struct mmsghdr mm[JAIL_BATCH_MAX];
    size_t groups = 0, v = 0;
    /* Consecutive messages share a datagram while they fit in a fragment;
     * a lone one goes as it is. */
    for (size_t i = 0; i < b->count;) {
        size_t j = i, total = 0;
        while (j < b->count && (j == i || total + 4 + b->len[j] <= JAIL_FRAG_BYTES))
            total += 4 + b->len[j++];
        struct iovec *first = &iov[v];
        if (j - i == 1) {
            iov[v++] = (struct iovec){(void *)&plain, 1};
            iov[v++] = (struct iovec){b->msg[i], b->len[i]};
        } else {
            iov[v++] = (struct iovec){(void *)&packed, 1};
            for (size_t k = i; k < j; k++) {
                put_le32(lens[k], b->len[k]);
                iov[v++] = (struct iovec){lens[k], 4};
                iov[v++] = (struct iovec){b->msg[k], b->len[k]};
            }
        }
        size_t iovs = (size_t)(&iov[v] - first);
        mm[groups++] = (struct mmsghdr){.msg_hdr = {.msg_iov = first, .msg_iovlen = iovs}};
        i = j;
    }
    int rc = 0;
    size_t sent = 0;
    while (sent < groups && rc == 0) {
        int r = sendmmsg(fd, mm + sent, (unsigned)(groups - sent), MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) rc = -1;
        else sent += (size_t)r;
    }
    jail_batch_discard(b);
    return rc;
}

void jail_batch_discard(struct jail_batch *b) {
    for (size_t i = 0; i < b->count; i++) free(b->msg[i]);
    b->count = 0;
}

int jail_out_post(struct jail_out *o, struct jail_batch *b, int fd) {
    size_t len;
    uint8_t *all = out_finish(o, &len);
    if (!all) return -1;
    if (len > JAIL_FRAG_BYTES) {
        int r = jail_batch_flush(b, fd) == 0 ? send_all(fd, all, len) : -1;
        free(all);
        return r;
    }
    if (b->count == JAIL_BATCH_MAX && jail_batch_flush(b, fd) < 0) {
        free(all);
        return -1;
    }
    b->msg[b->count] = all;
    b->len[b->count++] = len;
    return 0;
}

/* ---- receiving ---------------------------------------------------------- */

int64_t jail_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ms(void) { return jail_mono_ns() / 1000000; }

void jail_in_reset(struct jail_in *in) {
    in->len = 0;
    in->complete = 0;
}

void jail_in_free(struct jail_in *in) {
    free(in->buf);
    free(in->pack);
    in->buf = in->pack = NULL;
    in->len = in->cap = 0;
    in->pack_len = in->pack_off = in->pack_cap = 0;
    in->complete = 0;
}

int jail_in_buffered(const struct jail_in *in) { return in->pack_off < in->pack_len; }

static size_t get_le32(const uint8_t *p) {
    return (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
}

/* Hands out the next message of the packed datagram. */
static long next_packed(struct jail_in *in) {
    size_t len = get_le32(in->pack + in->pack_off);
    if (in->cap < len) {
        uint8_t *nb = realloc(in->buf, len);
        if (!nb) return -1;
        in->buf = nb;
        in->cap = len;
    }
    memcpy(in->buf, in->pack + in->pack_off + 4, len);
    in->pack_off += 4 + len;
    if (in->pack_off == in->pack_len) in->pack_len = in->pack_off = 0;
    in->len = len;
    in->complete = 1;
    return (long)len;
}

/* Takes a packed datagram (in->buf[0..n)): every message whole, non-empty
 * and within max_bytes, and nothing after the last. Returns the first
 * message's length, or -1. */
static long take_packed(struct jail_in *in, size_t n, size_t max_bytes) {
    size_t off = 0, count = 0;
    while (off < n) {
        if (n - off < 4) return -1;
        size_t len = get_le32(in->buf + off);
        if (len == 0 || len > n - off - 4 || len > max_bytes) return -1;
        off += 4 + len;
        count++;
    }
    if (count < 2) return -1;
    /* The datagram becomes the pack as it lies, and the pack's old buffer
     * receives the messages one by one. */
    uint8_t *datagram = in->buf;
    size_t cap = in->cap;
    in->buf = in->pack;
    in->cap = in->pack_cap;
    in->pack = datagram;
    in->pack_cap = cap;
    in->pack_len = n;
    in->pack_off = 0;
    return next_packed(in);
}

/* The spin window, in ns. */
static int64_t spin_window(const struct jail_in *in) { return (int64_t)in->spin_us * 1000; }

void jail_in_sent(struct jail_in *in) {
    if (!in->spin_us) return;
    in->sent_ns = jail_mono_ns();
    in->awaiting = 1;
}

int jail_in_will_spin(const struct jail_in *in) {
    int64_t window = spin_window(in);
    return in->awaiting && in->streak >= JAIL_SPIN_STREAK && in->sent_ns - in->last_msg_ns <= window;
}

/* A whole message arrived: was it the quick answer of a tight exchange? */
static void note_arrival(struct jail_in *in) {
    if (!in->spin_us) return;
    int64_t now = jail_mono_ns(), window = spin_window(in);
    if (in->awaiting) {
        int tight = now - in->sent_ns <= window && in->sent_ns - in->last_msg_ns <= window;
        in->streak = tight ? in->streak + 1 : 0;
        in->awaiting = 0;
    }
    in->last_msg_ns = now;
}

long jail_in_recv(struct jail_in *in, int fd, int timeout_ms, size_t max_bytes) {
    if (in->complete) jail_in_reset(in);
    if (jail_in_buffered(in)) return next_packed(in);
    int64_t end = timeout_ms >= 0 ? mono_ms() + timeout_ms : 0;
    int waited = 0;
    /* A zero timeout only looks. */
    int64_t spin_end =
        timeout_ms != 0 && jail_in_will_spin(in) ? in->sent_ns + spin_window(in) : 0;
    for (;;) {
        /* A message already queued (the common case while a worker streams
         * upcalls) is read without a poll first. */
        if (timeout_ms >= 0 && waited && !spin_end) {
            int64_t left = end - mono_ms();
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int r = poll(&p, 1, left > 0 ? (int)left : 0);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) return -1;
            if (r == 0) {
                in->streak = 0;
                return -2;
            }
        }
        /* Room for one fragment: a datagram that does not fit is cut by
         * the kernel and flagged MSG_TRUNC, which we refuse. */
        if (in->cap - in->len < JAIL_FRAG_BYTES + 1) {
            size_t want = in->len + JAIL_FRAG_BYTES + 1;
            size_t cap = in->cap ? in->cap : 4096;
            while (cap < want) cap *= 2;
            uint8_t *nb = realloc(in->buf, cap);
            if (!nb) return -1;
            in->buf = nb;
            in->cap = cap;
        }
        uint8_t flags;
        struct iovec iov[2] = {{&flags, 1}, {in->buf + in->len, JAIL_FRAG_BYTES}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t r = recvmsg(fd, &mh, timeout_ms >= 0 || spin_end ? MSG_DONTWAIT : 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && spin_end) {
            if (jail_mono_ns() >= spin_end) spin_end = 0;
            waited = 1;
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && timeout_ms >= 0) {
            waited = 1;
            continue;
        }
        /* A peer that ended with our messages unread resets the
         * connection: that is a hang-up, not a malformed frame. */
        if (r < 0 && errno == ECONNRESET) return 0;
        if (r < 0) return -1;
        if (r == 0) return 0;
        if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) return -1;
        if (flags & ~(JAIL_FLAG_MORE | JAIL_FLAG_PACKED)) return -1;
        if (flags & JAIL_FLAG_PACKED) {
            if ((flags & JAIL_FLAG_MORE) || in->len) return -1;
            note_arrival(in);
            return take_packed(in, (size_t)r - 1, max_bytes);
        }
        in->len += (size_t)r - 1;
        if (in->len > max_bytes) return -1;
        if (!(flags & JAIL_FLAG_MORE)) {
            in->complete = 1;
            note_arrival(in);
            return in->len ? (long)in->len : -1;
        }
    }
}

/* ---- reading fields ----------------------------------------------------- */

struct parse_state {
    struct jail_fields *out;
    int depth;
};

static struct jail_field *next_slot(struct parse_state *s) {
    /* Only direct children of the top-level array are fields. */
    if (s->depth != 1 || s->out->count == SIZE_MAX) return NULL;
    return &s->out->f[s->out->count++];
}

static int v_null(void *ud) {
    struct jail_field *f = next_slot(ud);
    if (!f) return 1;
    f->type = JF_NULL;
    return 0;
}

static int v_number(void *ud, double d) {
    struct jail_field *f = next_slot(ud);
    if (!f) return 1;
    f->type = JF_F64;
    f->f = d;
    return 0;
}

static int v_bigint(void *ud, int negative, const uint8_t *mag, size_t len) {
    if (len > 8) return 1;
    struct jail_field *f = next_slot(ud);
    if (!f) return 1;
    f->type = JF_INT;
    f->negative = negative;
    f->mag = 0;
    for (size_t i = 0; i < len; i++) f->mag |= (uint64_t)mag[i] << (8 * i);
    return 0;
}

static int v_bytes(void *ud, enum wire_bytes_kind kind, const uint8_t *p, size_t len) {
    if (kind != WIRE_BYTES_ARRAYBUFFER) return 1;
    struct jail_field *f = next_slot(ud);
    if (!f) return 1;
    f->type = JF_BYTES;
    f->p = p;
    f->len = len;
    return 0;
}

static int v_array_begin(void *ud, uint64_t length) {
    struct parse_state *s = ud;
    if (s->depth != 0) return 1;
    /* The decoder has checked that the input can hold `length` values
     * (one byte each at least), so this allocation is bounded by it. */
    s->out->f = calloc(length ? length : 1, sizeof *s->out->f);
    if (!s->out->f) return 1;
    s->depth = 1;
    return 0;
}

static int v_array_end(void *ud) {
    struct parse_state *s = ud;
    s->depth = 2; /* anything after the array is refused */
    return 0;
}

static int v_refuse(void *ud) {
    (void)ud;
    return 1;
}
static int v_refuse_b(void *ud, int v) {
    (void)ud;
    (void)v;
    return 1;
}
static int v_refuse_s(void *ud, const char *s, size_t len) {
    (void)ud;
    (void)s;
    (void)len;
    return 1;
}
static int v_refuse_d(void *ud, double d) {
    (void)ud;
    (void)d;
    return 1;
}
static int v_refuse_n(void *ud, uint64_t n) {
    (void)ud;
    (void)n;
    return 1;
}
static int v_refuse_re(void *ud, const char *a, size_t al, const char *b, size_t bl) {
    (void)ud;
    (void)a;
    (void)al;
    (void)b;
    (void)bl;
    return 1;
}
static int v_refuse_err(void *ud, const char *a, size_t al, const char *b, size_t bl,
                        const char *c, size_t cl) {
    (void)ud;
    (void)a;
    (void)al;
    (void)b;
    (void)bl;
    (void)c;
    (void)cl;
    return 1;
}

static const struct wire_visitor fields_visitor = {
    .undefined_ = v_refuse, .null_ = v_null, .boolean = v_refuse_b, .number = v_number,
    .bigint = v_bigint, .string = v_refuse_s, .date = v_refuse_d, .regexp = v_refuse_re,
    .array_begin = v_array_begin, .hole = v_refuse, .array_end = v_array_end,
    .object_begin = v_refuse_n, .key = v_refuse_s, .object_end = v_refuse,
    .map_begin = v_refuse_n, .map_end = v_refuse, .set_begin = v_refuse_n, .set_end = v_refuse,
    .bytes = v_bytes, .error_begin = v_refuse_err, .error_end = v_refuse,
    .backref = v_refuse_n, .stub = v_refuse_n};

int jail_fields_parse(struct jail_fields *out, const uint8_t *data, size_t len) {
    memset(out, 0, sizeof *out);
    struct parse_state s = {.out = out};
    struct wire_limits lim = {.max_depth = 1, .cap_count = 0};
    if (wire_decode(data, len, &lim, &fields_visitor, &s, NULL) != WIRE_OK || s.depth != 2) {
        jail_fields_free(out);
        return -1;
    }
    return 0;
}

void jail_fields_free(struct jail_fields *f) {
    free(f->f);
    f->f = NULL;
    f->count = f->next = 0;
}

static struct jail_field *take(struct jail_fields *f, uint8_t type) {
    if (f->bad || f->next >= f->count || f->f[f->next].type != type) {
        f->bad = 1;
        return NULL;
    }
    return &f->f[f->next++];
}

uint64_t jail_get_u64(struct jail_fields *f) {
    struct jail_field *x = take(f, JF_INT);
    if (!x) return 0;
    if (x->negative) {
        f->bad = 1;
        return 0;
    }
    return x->mag;
}

int64_t jail_get_i64(struct jail_fields *f) {
    struct jail_field *x = take(f, JF_INT);
    if (!x) return 0;
    if (x->negative) {
        if (x->mag > (uint64_t)INT64_MAX + 1) {
            f->bad = 1;
            return 0;
        }
        return (int64_t)((uint64_t)0 - x->mag);
    }
    if (x->mag > (uint64_t)INT64_MAX) {
        f->bad = 1;
        return 0;
    }
    return (int64_t)x->mag;
}

double jail_get_f64(struct jail_fields *f) {
    struct jail_field *x = take(f, JF_F64);
    return x ? x->f : 0;
}

int jail_get_null(struct jail_fields *f) {
    if (f->bad || f->next >= f->count || f->f[f->next].type != JF_NULL) return 0;
    f->next++;
    return 1;
}

const uint8_t *jail_get_bytes(struct jail_fields *f, size_t *len) {
    *len = 0;
    if (jail_get_null(f)) return NULL;
    struct jail_field *x = take(f, JF_BYTES);
    if (!x) return NULL;
    *len = x->len;
    /* A zero-length field still reads as present: point at the message. */
    return x->p ? x->p : (const uint8_t *)"";
}

char *jail_get_str(struct jail_fields *f) {
    size_t len;
    const uint8_t *p = jail_get_bytes(f, &len);
    if (!p) return NULL;
    if (memchr(p, 0, len)) {
        f->bad = 1;
        return NULL;
    }
    char *s = malloc(len + 1);
    if (!s) {
        f->bad = 1;
        return NULL;
    }
    memcpy(s, p, len);
    s[len] = 0;
    return s;
}

size_t jail_get_count(struct jail_fields *f, size_t per) {
    uint64_t n = jail_get_u64(f);
    if (f->bad) return 0;
    size_t left = f->count - f->next;
    if (per == 0 || n > left / per) {
        f->bad = 1;
        return 0;
    }
    return (size_t)n;
}
