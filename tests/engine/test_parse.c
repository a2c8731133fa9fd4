/* corral_js_parses() (lib/engine/parse.c): what compiles as an ES module,
 * judged by QuickJS in a scratch runtime that is reused, and replaced after
 * a compile that ran out of memory or stack, after PARSE_REUSE compiles,
 * and when its heap grows past its bound, without ever changing an answer.
 */
#include <stdlib.h>

#include "check.h"
#include "corral.h"

static int parses(const char *s) { return corral_js_parses(s, strlen(s)); }

TEST(modules_and_non_modules) {
    CHECK_EQ_INT(parses("export default async () => 1;"), 1);
    CHECK_EQ_INT(parses("const x = await fetch('x'); x"), 1);
    CHECK_EQ_INT(parses("import { a } from './anything.js'; a;"), 1);
    CHECK_EQ_INT(parses("return 5"), 0);
    CHECK_EQ_INT(parses("async () => {"), 0);
    CHECK_EQ_INT(parses("with (a) {}"), 0); /* modules are strict */
    CHECK_EQ_INT(parses(""), 1);
}

TEST(a_text_is_judged_by_its_length_not_its_nul) {
    const char src[] = "1 +\0 2";
    CHECK_EQ_INT(corral_js_parses(src, 3), 0);
    CHECK_EQ_INT(corral_js_parses("1 + 2; garbage", 5), 1);
}

/* `depth` nested parentheses around a number. */
static char *nested(size_t depth) {
    char *s = malloc(2 * depth + 2);
    if (!s) return NULL;
    memset(s, '(', depth);
    s[depth] = '1';
    memset(s + depth + 1, ')', depth);
    s[2 * depth + 1] = 0;
    return s;
}

TEST(running_out_of_stack_or_memory_does_not_change_the_next_answer) {
    char *deep = nested(200000);
    if (deep) CHECK(parses(deep) != 1);
    free(deep);
    CHECK_EQ_INT(parses("export const ok = 1;"), 1);
    CHECK_EQ_INT(parses("export const = 1;"), 0);

    /* Past the scratch runtime's 32 MiB: a string literal of 40 MiB. */
    size_t n = 40u << 20;
    char *big = malloc(n + 3);
    if (big) {
        big[0] = '\'';
        memset(big + 1, 'x', n);
        big[n + 1] = '\'';
        big[n + 2] = 0;
        CHECK(corral_js_parses(big, n + 2) != 1);
        free(big);
    }
    CHECK_EQ_INT(parses("export const ok = 2;"), 1);
    CHECK_EQ_INT(parses("export const = 2;"), 0);
}

TEST(answers_hold_across_many_compiles_and_runtime_replacements) {
    /* Enough compiles to replace the runtime several times over (it is
     * replaced every PARSE_REUSE compiles and past 4 MiB of heap). */
    char src[256];
    for (int i = 0; i < 300; i++) {
        snprintf(src, sizeof src, "export const v%d = %d; export function f%d() { return v%d; }", i,
                 i, i, i);
        CHECK_EQ_INT(parses(src), 1);
        snprintf(src, sizeof src, "export const v%d = ;", i);
        CHECK_EQ_INT(parses(src), 0);
    }
    /* Big modules grow the heap past its bound between compiles. */
    size_t n = 1u << 20;
    char *mid = malloc(n + 32);
    if (mid) {
        for (int i = 0; i < 8; i++) {
            int k = snprintf(mid, 32, "export const s%d = '", i);
            memset(mid + k, 'y', n);
            strcpy(mid + k + n, "';");
            CHECK_EQ_INT(parses(mid), 1);
        }
        free(mid);
    }
    CHECK_EQ_INT(parses("export default 3;"), 1);
}
