/* The channel's busy-polling rule (struct jail_in): a wait spins only in a
 * run of tight exchanges with a peer heard from within the window, never
 * on the first exchanges after a quiet spell — a message that wakes a
 * sleeping peer often lands it on the sender's CPU, where spinning would
 * only keep it from running. The window here is the largest allowed
 * (0.1 s), so every in-process answer counts as quick however loaded the
 * machine is; the quiet spell is longer than the window.
 *
 * And packing: a batch leaves as one datagram (JAIL_FLAG_PACKED) that the
 * receiver hands out message by message; a packed datagram that is not
 * exactly a run of whole, non-empty, length-led messages is refused.
 */
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "jail/channel.h"

#define WINDOW_US 100000u

static void send_one(int fd, uint64_t kind) {
    struct jail_out o;
    jail_out_begin(&o, kind);
    CHECK_EQ_INT(jail_out_send(&o, fd), 0);
}

/* One exchange: we send, the peer answers at once, we read the answer. */
static void exchange(struct jail_in *in, int ours, int peer) {
    send_one(ours, 1);
    jail_in_sent(in);
    struct jail_in theirs = {0};
    CHECK(jail_in_recv(&theirs, peer, 1000, JAIL_MSG_MAX_BYTES) > 0);
    jail_in_free(&theirs);
    send_one(peer, 2);
    CHECK(jail_in_recv(in, ours, 1000, JAIL_MSG_MAX_BYTES) > 0);
}

static void pause_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

TEST(a_channel_spins_only_after_a_run_of_tight_exchanges) {
    int sv[2];
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    struct jail_in in = {.spin_us = WINDOW_US};
    /* The first exchange follows a quiet spell (here: no message ever) and
     * does not count; neither it nor the next JAIL_SPIN_STREAK spin, so a
     * cold execution's start and call never do. */
    for (int i = 0; i < JAIL_SPIN_STREAK + 1; i++) {
        jail_in_sent(&in);
        CHECK(!jail_in_will_spin(&in));
        in.awaiting = 0;
        exchange(&in, sv[0], sv[1]);
    }
    jail_in_sent(&in);
    CHECK(jail_in_will_spin(&in));
    in.awaiting = 0;
    /* After a quiet spell the peer may be asleep: no spin, and the run
     * starts over. */
    pause_ms(WINDOW_US / 1000 + 20);
    jail_in_sent(&in);
    CHECK(!jail_in_will_spin(&in));
    in.awaiting = 0;
    exchange(&in, sv[0], sv[1]);
    jail_in_sent(&in);
    CHECK(!jail_in_will_spin(&in));
    jail_in_free(&in);
    close(sv[0]);
    close(sv[1]);
}

TEST(a_slow_answer_ends_the_run) {
    int sv[2];
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    struct jail_in in = {.spin_us = WINDOW_US};
    for (int i = 0; i < JAIL_SPIN_STREAK + 2; i++) exchange(&in, sv[0], sv[1]);
    jail_in_sent(&in);
    CHECK(jail_in_will_spin(&in));
    /* The answer comes after the window: the spin gave up, the run ends. */
    pause_ms(WINDOW_US / 1000 + 20);
    send_one(sv[1], 2);
    CHECK(jail_in_recv(&in, sv[0], 1000, JAIL_MSG_MAX_BYTES) > 0);
    jail_in_sent(&in);
    CHECK(!jail_in_will_spin(&in));
    jail_in_free(&in);
    close(sv[0]);
    close(sv[1]);
}

TEST(a_channel_without_a_window_never_spins) {
    int sv[2];
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    struct jail_in in = {0};
    for (int i = 0; i < JAIL_SPIN_STREAK + 2; i++) exchange(&in, sv[0], sv[1]);
    jail_in_sent(&in);
    CHECK(!jail_in_will_spin(&in));
    CHECK_EQ_INT((int)in.streak, 0);
    jail_in_free(&in);
    close(sv[0]);
    close(sv[1]);
}

static void post_kind(struct jail_batch *b, int fd, uint64_t kind, size_t pad) {
    struct jail_out o;
    jail_out_begin(&o, kind);
    if (pad) {
        uint8_t *p = calloc(1, pad);
        jail_out_bytes(&o, p, pad);
        free(p);
    }
    CHECK_EQ_INT(jail_out_post(&o, b, fd), 0);
}

static uint64_t kind_of(struct jail_in *in, long n) {
    struct jail_fields f;
    if (n <= 0 || jail_fields_parse(&f, in->buf, (size_t)n) < 0) return 0;
    uint64_t k = jail_get_u64(&f);
    jail_fields_free(&f);
    return k;
}

TEST(a_batch_arrives_as_few_datagrams_in_order) {
    int sv[2];
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    struct jail_batch b = {0};
    /* Three small ones share a datagram; two of 40 KiB cannot, so the
     * second starts another. */
    post_kind(&b, sv[0], 1, 0);
    post_kind(&b, sv[0], 2, 0);
    post_kind(&b, sv[0], 3, 40u << 10);
    post_kind(&b, sv[0], 4, 40u << 10);
    post_kind(&b, sv[0], 5, 0);
    CHECK_EQ_INT(jail_batch_flush(&b, sv[0]), 0);
    struct jail_in in = {0};
    for (uint64_t k = 1; k <= 5; k++) {
        long n = jail_in_recv(&in, sv[1], 1000, JAIL_MSG_MAX_BYTES);
        CHECK_EQ_INT((int)kind_of(&in, n), (int)k);
        /* The first datagram held 1-3, the second 4-5. */
        CHECK_EQ_INT(jail_in_buffered(&in), k == 1 || k == 2 || k == 4);
    }
    /* Nothing else was sent: two datagrams in all. */
    CHECK_EQ_INT((int)jail_in_recv(&in, sv[1], 0, JAIL_MSG_MAX_BYTES), -2);
    jail_in_free(&in);
    close(sv[0]);
    close(sv[1]);
}

static long recv_raw(const uint8_t *d, size_t len, int partial_first) {
    int sv[2];
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    if (partial_first) {
        static const uint8_t part[] = {JAIL_FLAG_MORE, 'x'};
        CHECK(send(sv[0], part, sizeof part, 0) == (ssize_t)sizeof part);
    }
    CHECK(send(sv[0], d, len, 0) == (ssize_t)len);
    struct jail_in in = {0};
    long n = jail_in_recv(&in, sv[1], 1000, JAIL_MSG_MAX_BYTES);
    jail_in_free(&in);
    close(sv[0]);
    close(sv[1]);
    return n;
}

TEST(malformed_packed_datagrams_are_refused) {
    const uint8_t P = JAIL_FLAG_PACKED;
    /* Two whole messages of one byte each: accepted (the first is "a"). */
    const uint8_t good[] = {P, 1, 0, 0, 0, 'a', 1, 0, 0, 0, 'b'};
    CHECK_EQ_INT((int)recv_raw(good, sizeof good, 0), 1);
    const uint8_t one[] = {P, 1, 0, 0, 0, 'a'};
    CHECK_EQ_INT((int)recv_raw(one, sizeof one, 0), -1);
    const uint8_t empty_msg[] = {P, 0, 0, 0, 0, 1, 0, 0, 0, 'b'};
    CHECK_EQ_INT((int)recv_raw(empty_msg, sizeof empty_msg, 0), -1);
    const uint8_t overrun[] = {P, 1, 0, 0, 0, 'a', 9, 0, 0, 0, 'b'};
    CHECK_EQ_INT((int)recv_raw(overrun, sizeof overrun, 0), -1);
    const uint8_t huge[] = {P, 1, 0, 0, 0, 'a', 0xff, 0xff, 0xff, 0xff, 'b'};
    CHECK_EQ_INT((int)recv_raw(huge, sizeof huge, 0), -1);
    const uint8_t trailing[] = {P, 1, 0, 0, 0, 'a', 1, 0, 0, 0, 'b', 0, 0};
    CHECK_EQ_INT((int)recv_raw(trailing, sizeof trailing, 0), -1);
    const uint8_t with_more[] = {P | JAIL_FLAG_MORE, 1, 0, 0, 0, 'a', 1, 0, 0, 0, 'b'};
    CHECK_EQ_INT((int)recv_raw(with_more, sizeof with_more, 0), -1);
    const uint8_t unknown_flag[] = {4, 'a'};
    CHECK_EQ_INT((int)recv_raw(unknown_flag, sizeof unknown_flag, 0), -1);
    /* In the middle of a fragmented message. */
    CHECK_EQ_INT((int)recv_raw(good, sizeof good, 1), -1);
}
