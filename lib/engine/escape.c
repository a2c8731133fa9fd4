/* The last-resort exit from a sandbox turn that never returns to the
 * interrupt handler.
 *
 * QuickJS polls its interrupt handler in the bytecode loop, but some
 * builtins run long loops of their own (String.prototype.indexOf over a
 * large string is quadratic and polls nothing), so the CPU limit alone
 * cannot stop them. A guarded turn records a jump buffer; the loader's
 * watchdog thread, when a turn overruns its CPU deadline by a grace period,
 * signals the loop thread, and the handler jumps out of the turn — but only
 * when the thread is inside QuickJS's own code. Every place where QuickJS
 * calls back into corral or into malloc opens an "unsafe" scope
 * (ENGINE_UNSAFE_SCOPE), corral's own code in a turn is unsafe except in
 * the ENGINE_JS() windows where it has called into the engine, and a signal
 * that lands where it is unsafe is ignored (the watchdog tries again a few
 * milliseconds later), so no libc lock or corral structure is ever left
 * half-updated.
 *
 * A runtime escaped this way is in an unknown state: none of its code runs
 * again and none of its objects is read; its memory is returned block by
 * block (sandbox_release_abandoned). The jailed worker processes of the
 * jail issue replace this with killing the process.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"

#define TLS __thread __attribute__((tls_model("initial-exec")))

static TLS sigjmp_buf *turn_jump;
static TLS volatile sig_atomic_t unsafe_depth;
static TLS volatile uint64_t current_turn;

/* Turn numbers are unique in the process, so a signal aimed at one turn
 * can never stop another (a later one on the same thread, or one of
 * another loader's threads). */
static _Atomic uint64_t turn_counter;
static _Atomic uint64_t escape_target;

static int escape_signo;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;


int engine_unsafe_enter(void) {
    unsafe_depth++;
    return 0;
}

void engine_unsafe_leave(int *unused) {
    (void)unused;
    unsafe_depth--;
}

int engine_js_enter(void) {
    int saved = unsafe_depth;
    unsafe_depth = 0;
    return saved;
}

void engine_js_leave(int saved) { unsafe_depth = saved; }

static void on_escape_signal(int signo, siginfo_t *info, void *uctx) {
    (void)signo;
    (void)info;
    (void)uctx;
    if (!turn_jump || unsafe_depth > 0 || current_turn == 0 ||
        atomic_load(&escape_target) != current_turn)
        return;
    sigjmp_buf *j = turn_jump;
    turn_jump = NULL;
    siglongjmp(*j, 1);
}

static void install(void) {
    escape_signo = SIGRTMIN + 7;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_escape_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(escape_signo, &sa, NULL);
}

int engine_escape_signal(void) {
    pthread_once(&install_once, install);
    return escape_signo;
}

/* Kept out of line: a store inside the sigsetjmp frame would be a variable
 * the jump may clobber. */
__attribute__((noinline)) static void publish(_Atomic uint64_t *slot, uint64_t turn) {
    if (slot) atomic_store(slot, turn);
}

int engine_run_guarded(void (*fn)(void *), void *arg, _Atomic uint64_t *published_turn) {
    pthread_once(&install_once, install);
    sigjmp_buf jump;
    sigjmp_buf *volatile outer = turn_jump;
    volatile uint64_t outer_turn = current_turn;
    volatile int outer_depth = unsafe_depth;
    uint64_t turn = atomic_fetch_add(&turn_counter, 1) + 1;
    /* The signal mask is not saved (that is a system call on every turn):
     * the escape path restores the one thing the handler changed. */
    if (sigsetjmp(jump, 0) != 0) {
        /* Escaped: the turn is abandoned; the unsafe scopes of the frames
         * jumped over are gone with them. The handler ran with the escape
         * signal blocked (and nothing else added); it was deliverable
         * when the turn started, so unblocking it restores that mask. */
        sigset_t escape_set;
        sigemptyset(&escape_set);
        sigaddset(&escape_set, escape_signo);
        pthread_sigmask(SIG_UNBLOCK, &escape_set, NULL);
        unsafe_depth = outer_depth;
        turn_jump = outer;
        current_turn = outer_turn;
        publish(published_turn, 0);
        return 1;
    }
    current_turn = turn;
    publish(published_turn, turn);
    turn_jump = &jump;
    /* corral's own code in the turn is unsafe; ENGINE_JS() opens the
     * windows where JavaScript runs. */
    int saved_depth = unsafe_depth;
    unsafe_depth = 1;
    fn(arg);
    unsafe_depth = saved_depth;
    turn_jump = outer;
    current_turn = outer_turn;
    publish(published_turn, 0);
    return 0;
}

void engine_escape_request(uint64_t turn, pthread_t thread) {
    atomic_store(&escape_target, turn);
    pthread_kill(thread, engine_escape_signal());
}

