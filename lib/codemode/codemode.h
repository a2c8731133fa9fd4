/* codemode.h — internal interface of corral's code-mode pure functions.
 *
 * These are the parts of @cloudflare/codemode 0.5.6 that need no sandbox:
 * tool-name sanitising and provider-name validation (sanitize.c), prompt
 * TypeScript generated from JSON Schema (typegen.c), result truncation
 * (truncate.c), turning model-written code into one async arrow function
 * (normalize.c) and ranked search/describe over a tool catalogue
 * (discovery.c). Each reproduces the reference's observable output byte for
 * byte (docs/codemode.md lists the few places we deliberately differ).
 *
 * Conventions for every function here:
 *  - Strings are UTF-8. A returned `char *` is malloc'd and owned by the
 *    caller (free()); a returned `json_t *` is a new reference owned by the
 *    caller (json_decref()).
 *  - NULL input never crashes: it is treated as the reference treats
 *    `undefined`, or the function returns NULL where stated.
 *  - Allocation failure returns NULL (never abort()).
 *  - "Length" in the reference means JavaScript string length, i.e. UTF-16
 *    code units; the functions below count that way where the reference does.
 */
#ifndef CORRAL_CODEMODE_H
#define CORRAL_CODEMODE_H

#include <stddef.h>
#include <jansson.h>

/* ---------------------------------------------------------------------------
 * Small string buffer shared by the codemode files (sanitize.c).
 * A failed allocation latches `oom`; later appends become no-ops, and
 * cm_buf_take() then returns NULL, so callers check once at the end.
 * ------------------------------------------------------------------------- */
typedef struct cm_buf {
    char *p;
    size_t len, cap;
    int oom;
} cm_buf;

void cm_buf_add(cm_buf *b, const char *s, size_t n);
void cm_buf_puts(cm_buf *b, const char *s);
void cm_buf_putc(cm_buf *b, char c);
void cm_buf_printf(cm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the NUL-terminated contents (owned by the caller) and resets the
 * buffer; NULL if any append failed. */
char *cm_buf_take(cm_buf *b);
void cm_buf_free(cm_buf *b);

/* Decodes one UTF-8 code point at s[*i] (advancing *i); invalid bytes decode
 * as themselves (0x80..0xFF) one byte at a time. */
unsigned cm_utf8_next(const char *s, size_t len, size_t *i);
/* Length of the valid UTF-8 sequence starting at s (at most n bytes, n >
 * 0), or 0 when s[0] starts none: no overlong forms, no surrogates (QuickJS
 * prints a lone one as its three bytes), nothing past U+10FFFF. JSON text
 * must be valid UTF-8, and jansson refuses strings that are not. */
size_t cm_utf8_valid_len(const unsigned char *s, size_t n);
/* A copy of s with every byte that starts no valid sequence replaced by
 * U+FFFD, as a TextDecoder would have it (NULL s is ""); NULL when out of
 * memory. */
char *cm_utf8_repair(const char *s);
/* JavaScript `\s` / String.prototype.trim whitespace (incl. line terminators). */
int cm_js_is_space(unsigned cp);
/* JavaScript String.prototype.trim over a byte range: sets *start and *end. */
void cm_js_trim(const char *s, size_t len, size_t *start, size_t *end);
/* Length of a UTF-8 string in UTF-16 code units (JavaScript .length). */
size_t cm_utf16_len(const char *s, size_t len);
/* Byte offset of the first `units` UTF-16 code units (JavaScript
 * .slice(0, units)); never splits a code point (a pair that would be split is
 * dropped whole). */
size_t cm_utf16_prefix(const char *s, size_t len, size_t units);
/* 1234567 -> "1,234,567" (Number.prototype.toLocaleString("en-US")). */
void cm_group_thousands(long long n, char out[32]);

/* ---------------------------------------------------------------------------
 * sanitize.c — §2.5 sanitizeToolName and §2.3.1 name validation
 * ------------------------------------------------------------------------- */

/* sanitizeToolName: `-`, `.` and whitespace become `_`, anything outside
 * [A-Za-z0-9_$] is removed, empty becomes "_", a leading digit gets a `_`
 * prefix and a reserved word gets a `_` suffix. NULL is treated as "".
 * Returns a malloc'd string, NULL only on allocation failure. */
char *cm_sanitize_tool_name(const char *name);
char *cm_sanitize_tool_name_n(const char *name, size_t len);

/* One provider as the executor sees it: a namespace and its tool keys
 * (unsanitized, in insertion order). */
typedef struct cm_provider {
    const char *name;
    const char *const *tools;
    size_t n_tools;
} cm_provider;

/* The executor's validation (§2.3.1), in the reference's order: for each
 * provider, reserved name, identifier check, duplicate provider, then tool
 * names colliding after sanitising; then for each connector, reserved,
 * identifier, and clash with an earlier provider or connector. Returns the
 * first error message (malloc'd), or NULL when every name is valid. If memory
 * runs out while checking, the message says so (validation never passes by
 * accident); NULL then only if even that copy fails. NULL names are checked
 * as the string "undefined". */
char *cm_validate_names(const cm_provider *providers, size_t n_providers,
                        const char *const *connectors, size_t n_connectors);

/* 1 if `s` matches ^[a-zA-Z_$][a-zA-Z0-9_$]*$ */
int cm_is_identifier(const char *s, size_t len);

/* ---------------------------------------------------------------------------
 * typegen.c — §2.6 JSON Schema -> prompt TypeScript
 * ------------------------------------------------------------------------- */

/* jsonSchemaToType(schema, typeName): "type <typeName> = <T>". NULL schema
 * means `undefined`. Returns NULL where the reference throws (a schema shape
 * its code cannot walk, e.g. `anyOf` that is not an array, a null schema, a
 * non-string description) or on allocation failure; also NULL when the output
 * would exceed CM_TYPEGEN_MAX_OUTPUT bytes (our guard against $ref fan-out
 * that would make the reference run for ever). */
char *cm_json_schema_to_type(const json_t *schema, const char *type_name);

#define CM_TYPEGEN_MAX_OUTPUT (4u << 20)

/* generateTypesFromJsonSchema(tools) with the constant named `ns` (NULL means
 * "codemode"). `tools` is a JSON object {toolKey: {description?, inputSchema,
 * outputSchema?}} iterated in JavaScript property order. A tool whose
 * conversion fails degrades to `unknown` types without affecting the others.
 * NULL or non-object `tools` gives "declare const <ns>: {}". Returns NULL only
 * on allocation failure. */
char *cm_generate_types(const json_t *tools, const char *ns);

/* PascalCase of a sanitized name: first char upper-cased, every `_x` (x a
 * lowercase ASCII letter) becomes `X`. */
char *cm_pascal_case(const char *safe);

/* ---------------------------------------------------------------------------
 * truncate.c — §2.10 truncation, plus JavaScript-compatible JSON text
 * ------------------------------------------------------------------------- */

/* Budget: max_tokens < 0 means 6000; max_chars < 0 means max_tokens * 4. */
typedef struct cm_truncate_opts {
    long max_chars;
    long max_tokens;
} cm_truncate_opts;
#define CM_TRUNCATE_DEFAULTS ((cm_truncate_opts){-1, -1})

/* Tokens for a text of `units` UTF-16 code units: ceil(units / 4). */
long long cm_estimate_tokens(size_t units);

/* truncateResponse: text within max_chars (UTF-16 units) is returned as a
 * copy; otherwise its first max_chars units plus the notice
 * "\n\n--- TRUNCATED ---\nResponse was ~N tokens (limit: M). Narrow the
 * request to reduce response size.". opts NULL = defaults. */
char *cm_truncate_response(const char *text, size_t len, const cm_truncate_opts *opts);

/* truncateResult: strings go through cm_truncate_response (a new JSON
 * string); a value whose JSON text fits is returned as a new reference to
 * the same value; a value too deep to serialize is returned unchanged (new
 * reference); otherwise a structurally shrunk copy of the same shape with
 * "--- TRUNCATED ---" markers, or, when even that cannot fit (a huge
 * number), the truncated JSON text as a string. NULL value returns NULL. */
json_t *cm_truncate_result(json_t *value, const cm_truncate_opts *opts);

/* JSON.stringify(value) as V8 prints it: JavaScript property order (integer
 * keys first), JavaScript number formatting, the same string escapes.
 * indent 0 = compact, else that many spaces per level. Returns NULL on
 * allocation failure or nesting deeper than CM_JSON_MAX_DEPTH. */
char *cm_json_stringify(const json_t *value, int indent);
#define CM_JSON_MAX_DEPTH 1000

/* Number.prototype.toString() of a double (shortest round-trip digits). */
void cm_js_number(double v, char out[40]);

/* Keys of a JSON object in JavaScript property order (array-index keys
 * ascending, then the rest in insertion order). Returns a malloc'd array of
 * borrowed key pointers and sets *n; NULL with *n = 0 when empty or on
 * allocation failure. */
const char **cm_js_keys(const json_t *obj, size_t *n);

/* ---------------------------------------------------------------------------
 * normalize.c — §2.4 normalizeCode
 * ------------------------------------------------------------------------- */

/* Returns 1 if src[0..len) parses as an ECMAScript module, else 0. The
 * executor implements it with QuickJS (JS_EVAL_TYPE_MODULE |
 * JS_EVAL_FLAG_COMPILE_ONLY). */
typedef int (*cm_parse_fn)(void *ud, const char *src, size_t len);

/* normalizeCode(code): the code the sandbox wraps as `(<result>)()`.
 * `parse` may be NULL, in which case only our own tokenizer decides whether
 * the text parses (weaker: it sees lexical errors, not grammar errors).
 * NULL code is treated as "". Returns malloc'd text, NULL on allocation
 * failure. */
char *cm_normalize_code(const char *code, size_t len, cm_parse_fn parse, void *ud);

/* ---------------------------------------------------------------------------
 * discovery.c — §2.8.7 search / describe
 *
 * Catalogue shape (JSON):
 *   { "connectors": [ { "name": "github", "instructions"?: "...",
 *                       "tools": { "<method>": { "description"?: "...",
 *                                   "inputSchema"?: {...}, "outputSchema"?: {...},
 *                                   "requiresApproval"?: true } } } ],
 *     "snippets":   [ { "name": "triage", "description"?: "...", "code": "..." } ] }
 * ------------------------------------------------------------------------- */

/* search(query) -> {results: [{path, connector, method, description?, kind,
 * requiresApproval?, score}], total, truncated}. At most 50 results. */
json_t *cm_search(const json_t *catalog, const char *query);

/* describe(target) -> {path, description?, requiresApproval?, types, kind}. */
json_t *cm_describe(const json_t *catalog, const char *target);

/* Prompt text for the catalogue: every connector's generated declarations
 * (as describe(<connector>) renders them) joined by blank lines, or, when that
 * would exceed `max_tokens` (ceil(chars/4), the §2.10 estimate), the summary
 * "Available namespaces (use codemode.describe for types):\n- <ns>: a, b\n".
 * max_tokens <= 0 means always summarise. */
char *cm_catalog_prompt(const json_t *catalog, long max_tokens);

/* ---------------------------------------------------------------------------
 * executor.c — the executor behind corral_execute(), with what the MCP
 * servers add: capabilities bound as plain constants (no tool namespace),
 * and JavaScript that runs before the program to build namespaces of its own
 * from them (OpenAPI's codemode.spec()/request(), discovery's search()).
 * ------------------------------------------------------------------------- */

#include "corral.h"

/* Sees each console line of the program as it is logged (after the log
 * limit, without the "[warn] " style prefix the result's logs carry), on the
 * loop thread, never after `done`. */
typedef void (*cm_log_fn)(corral_log_level level, const char *text, size_t len, void *ud);

struct cm_exec_opts {
    const corral_provider *raw;     /* each bound as `const <name> = <capability stub>` */
    size_t n_raw;
    /* Statements run before the program (in the scaffolding's scope, with
     * the namespaces and raw bindings), and the comma-separated names they
     * declare that the program sees. The same text for every program, so
     * it is compiled once per process (the compiled-module cache). */
    const char *prelude;
    const char *prelude_names;
    cm_log_fn on_log;               /* NULL: console lines only in the result */
    void *log_ud;
    const char *tenant;             /* the sandbox's tenant key (corral_code_set_tenant), or NULL */
};

int cm_execute(corral_loader *l, const char *code, const corral_provider *providers,
               size_t provider_count, const corral_limits *limits, const struct cm_exec_opts *opts,
               corral_exec_fn done, void *userdata, corral_execution **handle);

#endif
