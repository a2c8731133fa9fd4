/* The watchdog: the hard backstop behind the CPU limit for sandboxes that
 * run in the loader's own thread.
 *
 * The CPU limit is normally enforced inside the engine (the interrupt
 * handler compares thread CPU time with the turn's deadline), which stops
 * every loop written in JavaScript. A builtin that never polls (a quadratic
 * indexOf over a large string) is out of its reach. One thread per loader
 * samples the loop thread's CPU clock every few milliseconds while a turn
 * runs; once the turn is WATCHDOG_GRACE_MS past its deadline it asks the
 * engine to escape the turn (engine/escape.c), repeating until it has. The
 * loader then abandons that sandbox and ends its invocations with
 * CpuLimitError, as for any other CPU overrun.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loader/loader.h"

#define WATCHDOG_PERIOD_MS 5
#define WATCHDOG_GRACE_MS 50

static void *watchdog_main(void *arg) {
    corral_loader *l = arg;
    pthread_mutex_lock(&l->wd_lock);
    while (!l->wd_stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += WATCHDOG_PERIOD_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&l->wd_cond, &l->wd_lock, &until);
        if (l->wd_stop) break;
        uint64_t turn = atomic_load(&l->wd_turn);
        if (!turn) continue;
        uint64_t deadline = atomic_load(&l->wd_deadline_ns);
        clockid_t cid;
        if (pthread_getcpuclockid(l->wd_loop_thread, &cid) != 0) continue;
        struct timespec ts;
        if (clock_gettime(cid, &ts) != 0) continue;
        uint64_t cpu = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        if (deadline && cpu > deadline + WATCHDOG_GRACE_MS * 1000000ull &&
            atomic_load(&l->wd_turn) == turn) {
            engine_escape_request(turn, l->wd_loop_thread);
        }
    }
    pthread_mutex_unlock(&l->wd_lock);
    return NULL;
}

int ld_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg) {
    /* The CPU backstop's signal is for the loop thread only: corral's own
     * threads are created with it blocked (and inherit that). */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, engine_escape_signal());
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int r = pthread_create(thread, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

static int watchdog_start(corral_loader *l) {
    if (l->wd_running) return 0;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->wd_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&l->wd_lock, NULL);
    if (ld_thread_start(&l->wd_thread, watchdog_main, l) != 0) {
        pthread_cond_destroy(&l->wd_cond);
        pthread_mutex_destroy(&l->wd_lock);
        return -1;
    }
    l->wd_running = 1;
    return 0;
}

void ld_watchdog_stop(corral_loader *l) {
    if (!l->wd_running) return;
    pthread_mutex_lock(&l->wd_lock);
    l->wd_stop = 1;
    pthread_cond_signal(&l->wd_cond);
    pthread_mutex_unlock(&l->wd_lock);
    pthread_join(l->wd_thread, NULL);
    pthread_cond_destroy(&l->wd_cond);
    pthread_mutex_destroy(&l->wd_lock);
    l->wd_running = 0;
}

int ld_guarded_turn(corral_loader *l, struct worker *w, uint64_t deadline_ns,
                    void (*fn)(void *), void *arg) {
    /* A jailed worker's turn has its own hard backstop: the supervisor
     * kills the process at the deadline. */
    if (w->rsb) {
        fn(arg);
        return 0;
    }
    /* Without a watchdog the turn still runs; only the backstop is missing. */
    watchdog_start(l);
    l->wd_loop_thread = pthread_self();
    atomic_store(&l->wd_deadline_ns, deadline_ns);
    int escaped = engine_run_guarded(fn, arg, &l->wd_turn);
    atomic_store(&l->wd_deadline_ns, 0);
    if (escaped && w->sb) {
        /* The runtime is in an unknown state: never touch it again. */
        w->sb_escaped = 1;
        l->escaped_sandboxes++;
    }
    return escaped;
}
