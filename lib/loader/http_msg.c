/* Reading the packed HTTP messages that cross the wire — a request
 * {method, url, headers: [[name, value]...], body} or a response
 * {status, statusText, headers, body} as js/runtime.js packs them — straight
 * from the payload with one visitor, for the host's side of fetch (the
 * outbound handler's request, corral_fetch()'s response). Unknown fields
 * and unexpected shapes are skipped; strings are copied, the body kept as
 * bytes.
 *
 * What reaches a host's HTTP code must be something it can write out as
 * is: the message comes from sandbox code, which can forge an object that
 * passes for a Response. A status outside 100-599 or not an integer, a
 * header name that is not an HTTP token, and a header value, status text,
 * method or URL holding CR, LF or NUL (header injection, or a string a C
 * host would read cut short) refuse the whole message.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loader/loader.h"
#include "wire/wire.h"

enum field { F_NONE, F_METHOD, F_URL, F_STATUS, F_STATUS_TEXT, F_HEADERS, F_BODY };

struct reader {
    struct ld_http_msg *m;
    int depth;
    enum field key;         /* the top-level key whose value comes next */
    int in_headers;         /* depth of the headers array (2), 0 if outside it */
    char *pair[2];
    int pair_n;
    int failed;
};

static int fail(struct reader *r) {
    r->failed = 1;
    return 1;
}

static int refuse(struct reader *r, const char *why) {
    if (!r->m->why) r->m->why = why;
    return fail(r);
}

static int has_line_break_or_nul(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') return 1;
    return 0;
}

/* RFC 9110 token characters. */
static int is_token(const char *s, size_t len) {
    if (!len) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 32 || c >= 127 || strchr("\"(),/:;<=>?@[\\]{}", c)) return 0;
    }
    return 1;
}

static int on_key(void *ud, const char *s, size_t len) {
    struct reader *r = ud;
    if (r->depth != 1) return 0;
    static const struct { const char *name; enum field f; } keys[] = {
        {"method", F_METHOD}, {"url", F_URL}, {"status", F_STATUS},
        {"statusText", F_STATUS_TEXT}, {"headers", F_HEADERS}, {"body", F_BODY}};
    r->key = F_NONE;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strlen(keys[i].name) == len && memcmp(keys[i].name, s, len) == 0) r->key = keys[i].f;
    return 0;
}

static int on_string(void *ud, const char *s, size_t len) {
    struct reader *r = ud;
    if (r->in_headers && r->depth == r->in_headers + 1) {
        if (r->pair_n == 0 && !is_token(s, len)) return refuse(r, "a header name is not an HTTP token");
        if (r->pair_n == 1 && has_line_break_or_nul(s, len))
            return refuse(r, "a header value holds CR, LF or NUL");
        if (r->pair_n < 2 && !(r->pair[r->pair_n++] = strndup(s, len))) return fail(r);
        return 0;
    }
    if (r->depth != 1) return 0;
    if ((r->key == F_METHOD || r->key == F_URL || r->key == F_STATUS_TEXT) &&
        has_line_break_or_nul(s, len))
        return refuse(r, r->key == F_METHOD ? "the method holds CR, LF or NUL"
                         : r->key == F_URL  ? "the URL holds CR, LF or NUL"
                                            : "the status text holds CR, LF or NUL");
    char **slot = r->key == F_METHOD ? &r->m->method
                  : r->key == F_URL  ? &r->m->url
                  : r->key == F_STATUS_TEXT ? &r->m->status_text
                                            : NULL;
    if (slot) {
        free(*slot);
        if (!(*slot = strndup(s, len))) return fail(r);
    }
    return 0;
}

static int on_number(void *ud, double v) {
    struct reader *r = ud;
    if (r->depth == 1 && r->key == F_STATUS) {
        if (!isfinite(v) || v != floor(v) || v < 100 || v > 599)
            return refuse(r, "the status is not an integer from 100 to 599");
        r->m->status = (int)v;
    }
    return 0;
}

static int on_bytes(void *ud, enum wire_bytes_kind kind, const uint8_t *p, size_t len) {
    struct reader *r = ud;
    if (r->depth != 1 || r->key != F_BODY) return 0;
    free(r->m->body);
    r->m->body = malloc(len + 1);
    if (!r->m->body) return fail(r);
    memcpy(r->m->body, p, len);
    r->m->body[len] = 0;
    r->m->body_len = len;
    return 0;
}

static int on_array_begin(void *ud, uint64_t n) {
    struct reader *r = ud;
    r->depth++;
    if (r->depth == 2 && r->key == F_HEADERS && !r->in_headers) r->in_headers = 2;
    if (r->in_headers && r->depth == r->in_headers + 1) r->pair_n = 0;
    return 0;
}

static int on_array_end(void *ud) {
    struct reader *r = ud;
    if (r->in_headers && r->depth == r->in_headers + 1) {
        /* one [name, value] pair */
        if (r->pair_n == 2) {
            struct ld_http_msg *m = r->m;
            corral_header *h = realloc(m->headers, (m->header_count + 1) * sizeof *h);
            if (!h) return fail(r);
            m->headers = h;
            h[m->header_count].name = r->pair[0];
            h[m->header_count].value = r->pair[1];
            m->header_count++;
        } else {
            for (int i = 0; i < r->pair_n; i++) free(r->pair[i]);
        }
        r->pair_n = 0;
        r->pair[0] = r->pair[1] = NULL;
    }
    else if (r->in_headers && r->depth == r->in_headers) r->in_headers = 0;
    r->depth--;
    return 0;
}

static int on_begin(void *ud, uint64_t n) {
    ((struct reader *)ud)->depth++;
    return 0;
}

static int on_end(void *ud) {
    ((struct reader *)ud)->depth--;
    return 0;
}

static int on_error_begin(void *ud, const char *n, size_t nl, const char *m, size_t ml,
                          const char *s, size_t sl) {
    ((struct reader *)ud)->depth++;
    return 0;
}

static const struct wire_visitor http_visitor = {
    .string = on_string, .number = on_number, .bytes = on_bytes, .key = on_key,
    .array_begin = on_array_begin, .array_end = on_array_end,
    .object_begin = on_begin, .object_end = on_end, .map_begin = on_begin, .map_end = on_end,
    .set_begin = on_begin, .set_end = on_end, .error_begin = on_error_begin, .error_end = on_end,
};

int ld_http_msg_read(const uint8_t *p, size_t len, size_t cap_count, struct ld_http_msg *out) {
    memset(out, 0, sizeof *out);
    struct reader r = {.m = out};
    struct wire_limits lim = {.cap_count = cap_count};
    int st = wire_decode(p, len, &lim, &http_visitor, &r, NULL);
    for (int i = 0; i < r.pair_n; i++) free(r.pair[i]);
    if (st != WIRE_OK || r.failed) {
        const char *why = out->why ? out->why : "it is not a packed HTTP message";
        ld_http_msg_free(out);
        out->why = why;
        return -1;
    }
    return 0;
}

void ld_http_msg_free(struct ld_http_msg *m) {
    free(m->method);
    free(m->url);
    free(m->status_text);
    for (size_t i = 0; i < m->header_count; i++) {
        free((char *)m->headers[i].name);
        free((char *)m->headers[i].value);
    }
    free(m->headers);
    free(m->body);
    memset(m, 0, sizeof *m);
}
