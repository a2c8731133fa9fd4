/* libFuzzer target for normalizeCode (lib/codemode/normalize.c): the
 * tokenizer and top-level statement splitter read every program a model
 * sends, before anything else has judged it, with and without QuickJS
 * answering "does it parse". Whatever the text, the answer is an arrow
 * function's text, and a program the parser accepted stays recognisable
 * in it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codemode/codemode.h"
#include "corral.h"

static int qjs_parses(void *ud, const char *src, size_t len) {
    (void)ud;
    return corral_js_parses(src, len) == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *code = (const char *)data;
    for (int with_parser = 0; with_parser < 2; with_parser++) {
        char *out = cm_normalize_code(code, size, with_parser ? qjs_parses : NULL, NULL);
        if (!out) continue; /* out of memory */
        /* Every answer is an arrow function: wrapped text, or the program
         * itself when it already was one. */
        if (strstr(out, "=>") == NULL) abort();
        free(out);
    }
    return 0;
}
