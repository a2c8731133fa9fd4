/* The channel's busy-polling rule (struct jail_in): a wait spins only in a
 * run of tight exchanges with a peer heard from within the window, never
 * on the first exchanges after a quiet spell — a message that wakes a
 * sleeping peer often lands it on the sender's CPU, where spinning would
 * only keep it from running. The window here is the largest allowed
 * (0.1 s), so every in-process answer counts as quick however loaded the
 * machine is; the quiet spell is longer than the window.
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
