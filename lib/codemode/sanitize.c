/* sanitize.c — tool names as JavaScript identifiers, and the executor's name
 * checks.
 *
 * A tool called "get-weather" has to be callable as codemode.get_weather(),
 * so every tool key goes through sanitizeToolName (§2.5) before it becomes a
 * property name or appears in generated types; the executor refuses provider
 * lists whose names would shadow its own globals or collide after
 * sanitising (§2.3.1). Both must produce the reference's exact strings,
 * because models and callers see them.
 *
 * The file also holds the small UTF-8 and string-buffer helpers the other
 * codemode files share: the reference works on JavaScript strings (UTF-16,
 * Unicode-aware trim and \s), and these are the few pieces of that model we
 * need over UTF-8 bytes.
 */
#include "codemode/codemode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- string buffer ------------------------------------------------------ */

static int buf_reserve(cm_buf *b, size_t extra) {
    if (b->oom) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) { b->oom = 1; return 0; }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) { b->oom = 1; return 0; }
    b->p = p;
    b->cap = cap;
    return 1;
}

void cm_buf_add(cm_buf *b, const char *s, size_t n) {
    if (!buf_reserve(b, n)) return;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void cm_buf_puts(cm_buf *b, const char *s) { cm_buf_add(b, s, strlen(s)); }

void cm_buf_putc(cm_buf *b, char c) { cm_buf_add(b, &c, 1); }

void cm_buf_printf(cm_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) { b->oom = 1; return; }
    if ((size_t)n < sizeof tmp) { cm_buf_add(b, tmp, (size_t)n); return; }
    if (!buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *cm_buf_take(cm_buf *b) {
    if (b->oom) { cm_buf_free(b); return NULL; }
    if (!b->p) {
        if (!buf_reserve(b, 0)) return NULL;
        b->p[0] = '\0';
    }
    char *p = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void cm_buf_free(cm_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

/* ---- UTF-8 / JavaScript string model ------------------------------------ */

unsigned cm_utf8_next(const char *s, size_t len, size_t *i) {
    const unsigned char *u = (const unsigned char *)s;
    size_t k = *i;
    unsigned c = u[k];
    int n = c >= 0xF8 ? 0 : c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    unsigned cp = c & (0x3Fu >> n);
    for (int j = 1; j <= n; j++) {
        /* A truncated or malformed sequence decodes as its lead byte alone,
         * so scanning always makes progress. */
        if (k + (size_t)j >= len || (u[k + (size_t)j] & 0xC0) != 0x80) { *i = k + 1; return c; }
        cp = (cp << 6) | (u[k + (size_t)j] & 0x3Fu);
    }
    *i = k + (size_t)n + 1;
    return n ? cp : c;
}

size_t cm_utf8_valid_len(const unsigned char *s, size_t n) {
    if (s[0] < 0x80) return 1;
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (!len || s[0] > 0xF4 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (len == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))) return 0;
    if (len == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))) return 0;
    return len;
}

char *cm_utf8_repair(const char *s) {
    size_t n = s ? strlen(s) : 0;
    char *out = malloc(n * 3 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = cm_utf8_valid_len((const unsigned char *)s + i, n - i);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    out[o] = 0;
    return out;
}

int cm_js_is_space(unsigned cp) {
    switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20:
    case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F:
    case 0x205F: case 0x3000: case 0xFEFF:
        return 1;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

void cm_js_trim(const char *s, size_t len, size_t *start, size_t *end) {
    size_t i = 0, a = 0, b = 0;
    int seen = 0;
    while (i < len) {
        size_t at = i;
        unsigned cp = cm_utf8_next(s, len, &i);
        if (!cm_js_is_space(cp)) {
            if (!seen) { a = at; seen = 1; }
            b = i;
        }
    }
    *start = seen ? a : len;
    *end = seen ? b : len;
}

size_t cm_utf16_len(const char *s, size_t len) {
    size_t i = 0, n = 0;
    while (i < len) n += cm_utf8_next(s, len, &i) >= 0x10000 ? 2 : 1;
    return n;
}

size_t cm_utf16_prefix(const char *s, size_t len, size_t units) {
    size_t i = 0, n = 0;
    while (i < len) {
        size_t at = i;
        size_t w = cm_utf8_next(s, len, &i) >= 0x10000 ? 2 : 1;
        if (n + w > units) return at;
        n += w;
    }
    return len;
}

void cm_group_thousands(long long n, char out[32]) {
    char digits[24];
    int neg = n < 0;
    unsigned long long u = neg ? 0ULL - (unsigned long long)n : (unsigned long long)n;
    int nd = snprintf(digits, sizeof digits, "%llu", u);
    int o = 0;
    if (neg) out[o++] = '-';
    for (int i = 0; i < nd; i++) {
        if (i > 0 && (nd - i) % 3 == 0) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

/* ---- sanitizeToolName ---------------------------------------------------- */

/* The reserved set of §2.5 (JavaScript keywords, future reserved words and a
 * few globals). Sorted, for bsearch. */
static const char *const reserved_words[] = {
    "abstract", "arguments", "await", "boolean", "break", "byte", "case",
    "catch", "char", "class", "const", "continue", "debugger", "default",
    "delete", "do", "double", "else", "enum", "eval", "export", "extends",
    "false", "final", "finally", "float", "for", "function", "goto", "if",
    "implements", "import", "in", "instanceof", "int", "interface", "let",
    "long", "native", "new", "null", "package", "private", "protected",
    "public", "return", "short", "static", "super", "switch", "synchronized",
    "this", "throw", "throws", "transient", "true", "try", "typeof",
    "undefined", "var", "void", "volatile", "while", "with", "yield",
};

static int cmp_word(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_reserved(const char *s) {
    return bsearch(&s, reserved_words, sizeof reserved_words / sizeof *reserved_words,
                   sizeof *reserved_words, cmp_word) != NULL;
}

static int ident_char(unsigned c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '$';
}

char *cm_sanitize_tool_name_n(const char *name, size_t len) {
    cm_buf b = {0};
    if (!name) len = 0;
    /* One pass does steps 2 and 3: separators become `_`, anything else that
     * is not an identifier character disappears (a whole code point at a
     * time, so "σ" leaves nothing behind). */
    size_t i = 0;
    while (i < len) {
        unsigned cp = cm_utf8_next(name, len, &i);
        if (cp == '-' || cp == '.' || cm_js_is_space(cp)) cm_buf_putc(&b, '_');
        else if (ident_char(cp)) cm_buf_putc(&b, (char)cp);
    }
    if (b.len == 0) cm_buf_putc(&b, '_');
    else if (b.p[0] >= '0' && b.p[0] <= '9') {
        cm_buf_putc(&b, '_');
        if (!b.oom) {
            memmove(b.p + 1, b.p, b.len - 1);
            b.p[0] = '_';
        }
    }
    if (!b.oom && is_reserved(b.p)) cm_buf_putc(&b, '_');
    return cm_buf_take(&b);
}

char *cm_sanitize_tool_name(const char *name) {
    return cm_sanitize_tool_name_n(name, name ? strlen(name) : 0);
}

/* ---- provider / connector name validation -------------------------------- */

/* Names the generated executor module uses for its own bindings, plus the
 * globals it relies on; a provider with one of these names would shadow
 * them. */
static const char *const executor_reserved[] = {
    "__dispatchers", "__connectors", "__logs", "__CODEMODE_BINARY_TAG",
    "__bytesToBase64", "__base64ToBytes", "__encodeCodemodeValue",
    "__decodeCodemodeValue", "__stringifyForCodemode", "__parseForCodemode",
    "WorkerEntrypoint", "CodeExecutor", "Promise", "setTimeout", "Error", "console",
};

static int executor_name_reserved(const char *s) {
    for (size_t i = 0; i < sizeof executor_reserved / sizeof *executor_reserved; i++)
        if (strcmp(s, executor_reserved[i]) == 0) return 1;
    return 0;
}

int cm_is_identifier(const char *s, size_t len) {
    if (!s || len == 0) return 0;
    unsigned char c = (unsigned char)s[0];
    if (!ident_char(c) || (c >= '0' && c <= '9')) return 0;
    for (size_t i = 1; i < len; i++)
        if (!ident_char((unsigned char)s[i])) return 0;
    return 1;
}

static char *fmt_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_msg(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    if (vasprintf(&out, fmt, ap) < 0) out = NULL;
    va_end(ap);
    return out;
}

/* Validation must not pass just because memory ran out. */
static const char oom_msg[] = "Out of memory while validating provider names";

char *cm_validate_names(const cm_provider *providers, size_t n_providers,
                        const char *const *connectors, size_t n_connectors) {
    for (size_t i = 0; i < n_providers; i++) {
        const char *name = providers[i].name ? providers[i].name : "undefined";
        if (executor_name_reserved(name))
            return fmt_msg("Provider name \"%s\" is reserved", name);
        if (!cm_is_identifier(name, strlen(name)))
            return fmt_msg("Provider name \"%s\" is not a valid JavaScript identifier", name);
        for (size_t j = 0; j < i; j++)
            if (providers[j].name && strcmp(providers[j].name, name) == 0)
                return fmt_msg("Duplicate provider name \"%s\"", name);
        /* Quadratic, but tool lists are short and this runs once per
         * execute(); a hash set would cost more code than it saves. */
        size_t nt = providers[i].n_tools;
        char **safe = nt ? calloc(nt, sizeof *safe) : NULL;
        if (nt && !safe) return strdup(oom_msg);
        char *err = NULL;
        for (size_t t = 0; t < nt && !err; t++) {
            const char *tool = providers[i].tools[t] ? providers[i].tools[t] : "";
            safe[t] = cm_sanitize_tool_name(tool);
            if (!safe[t]) { err = strdup(oom_msg); break; }
            for (size_t u = 0; u < t; u++) {
                const char *other = providers[i].tools[u] ? providers[i].tools[u] : "";
                if (safe[u] && strcmp(safe[u], safe[t]) == 0 && strcmp(other, tool) != 0) {
                    err = fmt_msg("Tool names \"%s\" and \"%s\" both sanitize to \"%s\" in provider \"%s\"",
                                  other, tool, safe[t], name);
                    break;
                }
            }
        }
        for (size_t t = 0; t < nt; t++) free(safe[t]);
        free(safe);
        if (err) return err;
    }
    for (size_t i = 0; i < n_connectors; i++) {
        const char *name = connectors[i] ? connectors[i] : "undefined";
        if (executor_name_reserved(name))
            return fmt_msg("Connector name \"%s\" is reserved", name);
        if (!cm_is_identifier(name, strlen(name)))
            return fmt_msg("Connector name \"%s\" is not a valid JavaScript identifier", name);
        int clash = 0;
        for (size_t j = 0; j < n_providers && !clash; j++)
            clash = providers[j].name && strcmp(providers[j].name, name) == 0;
        for (size_t j = 0; j < i && !clash; j++)
            clash = connectors[j] && strcmp(connectors[j], name) == 0;
        if (clash) return fmt_msg("Duplicate name \"%s\" (connector clashes with provider)", name);
    }
    return NULL;
}
