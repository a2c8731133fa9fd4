/* The test harness every C test in tests/ uses.
 *
 * A test file defines cases with TEST(name) { ... } and checks with CHECK(),
 * CHECK_EQ_INT(), CHECK_EQ_STR() and friends; a failed check records the
 * file, line and both values, then the case carries on so one run shows
 * every failure. main() comes from here (define CHECK_NO_MAIN to write your
 * own). Each case prints "ok NAME" or "FAIL NAME"; the last line is
 * "cases: N passed, N failed", which tests/run.sh adds up across files.
 */
#ifndef CORRAL_TESTS_CHECK_H
#define CORRAL_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*check_case_fn)(void);

struct check_case {
    const char *name;
    check_case_fn fn;
    struct check_case *next;
};

extern struct check_case *check_cases_head;
extern int check_current_failed;

#define TEST(name)                                                        \
    static void test_##name(void);                                        \
    __attribute__((constructor)) static void register_##name(void) {      \
        static struct check_case c = {#name, test_##name, NULL};          \
        struct check_case **p = &check_cases_head;                        \
        while (*p) p = &(*p)->next;                                       \
        *p = &c;                                                          \
    }                                                                     \
    static void test_##name(void)

#define CHECK_FAIL_AT(...)                                                \
    do {                                                                  \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                 \
        fprintf(stderr, __VA_ARGS__);                                     \
        fputc('\n', stderr);                                              \
        check_current_failed = 1;                                         \
    } while (0)

#define CHECK(cond)                                                       \
    do { if (!(cond)) CHECK_FAIL_AT("CHECK(%s)", #cond); } while (0)

#define CHECK_EQ_INT(a, b)                                                \
    do {                                                                  \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);   \
        if (check_a_ != check_b_)                                         \
            CHECK_FAIL_AT("%s == %s: %lld != %lld", #a, #b, check_a_, check_b_); \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                \
    do {                                                                  \
        const char *check_a_ = (a), *check_b_ = (b);                      \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0)    \
            CHECK_FAIL_AT("%s == %s:\n    got:      \"%s\"\n    expected: \"%s\"", \
                          #a, #b, check_a_ ? check_a_ : "(null)",         \
                          check_b_ ? check_b_ : "(null)");                \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                       \
    do {                                                                  \
        const char *check_h_ = (hay), *check_n_ = (needle);               \
        if (!check_h_ || !strstr(check_h_, check_n_))                     \
            CHECK_FAIL_AT("%s contains \"%s\": got \"%s\"", #hay, check_n_, \
                          check_h_ ? check_h_ : "(null)");                \
    } while (0)

#ifndef CHECK_NO_MAIN
struct check_case *check_cases_head;
int check_current_failed;

int main(int argc, char **argv) {
    int passed = 0, failed = 0;
    const char *only = argc > 1 ? argv[1] : NULL;
    for (struct check_case *c = check_cases_head; c; c = c->next) {
        if (only && strcmp(only, c->name) != 0) continue;
        check_current_failed = 0;
        c->fn();
        if (check_current_failed) {
            failed++;
            printf("FAIL %s\n", c->name);
        } else {
            passed++;
            printf("ok %s\n", c->name);
        }
        fflush(stdout);
    }
    printf("cases: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
#endif

#endif
