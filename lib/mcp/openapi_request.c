/* OpenAPI mode, the request half (lib/mcp/openapi.h): codemode.request()
 * performed by the host, where the credentials are.
 *
 * Everything the sandbox sends is checked on the reactor's thread before a
 * byte leaves: the method, a path that must stay under the base URL (no
 * absolute URLs, no "." or ".." segments, plain or percent-encoded, no
 * encoded slashes or backslashes), the query, the headers (configured ones
 * cannot be replaced, framing ones cannot be set) and the body. A refused
 * request completes like any other, through done(), so the caller has one
 * path for answers.
 *
 * Transfers run on one helper thread per mcp_openapi, which drives a libcurl
 * multi handle: concurrent requests from one program overlap, and
 * curl_multi_wakeup() lets a cancel or a new request take effect at once.
 * Redirects are never left to libcurl. A 3xx whose Location resolves inside
 * the base URL is followed by us (re-checked at every hop, up to
 * max_redirects); any other is refused without being followed, since the
 * configured headers would go with it.
 *
 * What comes back is built on the helper thread too (parsing, redaction,
 * base64) so the reactor never waits on a 32 MiB body. Redaction replaces
 * every configured secret, in each spelling the redactor knows, wherever it
 * appears: body text, JSON strings and keys (after parsing, so escapes do
 * not hide it), numbers, response headers, error messages and redirect
 * locations.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcp/openapi_internal.h"

#define REDACTED "[redacted]"
#define EXCERPT_CHARS 1000
#define MAX_RESP_HEADERS 200
#define MAX_RESP_HEADER_BYTES ((size_t)64 << 10)
#define MAX_REQ_HEADER_BYTES ((size_t)64 << 10)

enum req_state { REQ_QUEUED, REQ_ACTIVE, REQ_POSTED };

struct resp_header {
    char *name, *value;
};

struct mcp_openapi_req {
    struct mcp_openapi_req *next, *prev;
    struct mcp_openapi_pool *pool; /* NULL once the pool is gone */
    const mcp_openapi *o;
    net_reactor *r;
    mcp_openapi_done_fn done;
    void *ud;
    enum req_state state;
    int cancelled;

    char method[8];
    char *url;
    struct curl_slist *hdrs;
    char *body;
    size_t body_len;
    int has_body, raw, full;
    mcp_openapi_limits lim;
    uint64_t deadline;
    int hops;
    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];

    char *resp;
    size_t resp_len, resp_cap;
    int too_big;
    struct resp_header *rh;
    size_t n_rh, rh_bytes;

    mcp_openapi_response out;
    char *message;
};

struct mcp_openapi_pool {
    pthread_mutex_t lock;
    pthread_t thread;
    CURLM *multi;
    int stop;
    struct mcp_openapi_req *incoming; /* queued by the reactor thread */
    struct mcp_openapi_req *active;   /* the helper thread's */
    struct mcp_openapi_req *unposted; /* finished, net_reactor_post() failed */
    struct mcp_openapi_req *posted;   /* waiting for deliver() */
};

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0) s = NULL;
    va_end(ap);
    return s;
}

/* ---- lists (all under pool->lock) ---------------------------------------- */

static void list_add(struct mcp_openapi_req **head, struct mcp_openapi_req *q) {
    q->prev = NULL;
    q->next = *head;
    if (*head) (*head)->prev = q;
    *head = q;
}

static void list_del(struct mcp_openapi_req **head, struct mcp_openapi_req *q) {
    if (q->prev) q->prev->next = q->next;
    else *head = q->next;
    if (q->next) q->next->prev = q->prev;
    q->next = q->prev = NULL;
}

static void req_free(struct mcp_openapi_req *q) {
    if (q->easy) curl_easy_cleanup(q->easy);
    curl_slist_free_all(q->hdrs);
    free(q->url);
    free(q->body);
    free(q->resp);
    for (size_t i = 0; i < q->n_rh; i++) {
        free(q->rh[i].name);
        free(q->rh[i].value);
    }
    free(q->rh);
    json_decref(q->out.value);
    free(q->message);
    free(q);
}

/* ---- redaction ----------------------------------------------------------- */

char *mcp_openapi_redact(const mcp_openapi_redactor *r, const char *buf, size_t *len) {
    size_t n = *len, cap = n + 1, outn = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t *next = r->n ? malloc(r->n * sizeof *next) : NULL;
    if (r->n && !next) {
        free(out);
        return NULL;
    }
    for (size_t k = 0; k < r->n; k++) {
        const char *hit = memmem(buf, n, r->secrets[k], r->lens[k]);
        next[k] = hit ? (size_t)(hit - buf) : n;
    }
    size_t pos = 0;
    for (;;) {
        size_t best = n, which = 0;
        for (size_t k = 0; k < r->n; k++) {
            if (next[k] < pos) { /* overlapped by an earlier replacement */
                const char *hit = memmem(buf + pos, n - pos, r->secrets[k], r->lens[k]);
                next[k] = hit ? (size_t)(hit - buf) : n;
            }
            if (next[k] < best) best = next[k], which = k; /* ties: longest, listed first */
        }
        size_t copy = best - pos, add = best < n ? sizeof REDACTED - 1 : 0;
        if (outn + copy + add + 1 > cap) {
            cap = (outn + copy + add + 1) * 2;
            char *nb = realloc(out, cap);
            if (!nb) {
                free(out);
                free(next);
                return NULL;
            }
            out = nb;
        }
        memcpy(out + outn, buf + pos, copy);
        outn += copy;
        if (best >= n) break;
        memcpy(out + outn, REDACTED, add);
        outn += add;
        pos = best + r->lens[which];
    }
    free(next);
    out[outn] = 0;
    *len = outn;
    return out;
}

int mcp_openapi_has_secret(const mcp_openapi_redactor *r, const char *s, size_t len) {
    for (size_t k = 0; k < r->n; k++)
        if (memmem(s, len, r->secrets[k], r->lens[k])) return 1;
    return 0;
}

/* Invalid UTF-8 becomes U+FFFD, as a TextDecoder would have it, so that
 * what the sandbox gets is always a valid string. Consumes s. */
static char *utf8_clean(char *s, size_t *len) {
    size_t n = *len, i = 0;
    char *out = NULL;
    size_t outn = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
                                   : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
        int ok = need && i + need <= n;
        for (size_t k = 1; ok && k < need; k++)
            if (((unsigned char)s[i + k] & 0xC0) != 0x80) ok = 0;
        if (ok && need == 3) {
            unsigned char d = (unsigned char)s[i + 1];
            if ((c == 0xE0 && d < 0xA0) || (c == 0xED && d > 0x9F)) ok = 0;
        }
        if (ok && need == 4) {
            unsigned char d = (unsigned char)s[i + 1];
            if ((c == 0xF0 && d < 0x90) || (c == 0xF4 && d > 0x8F)) ok = 0;
        }
        if (!ok && !out) {
            out = malloc(n * 3 + 1);
            if (!out) return s; /* out of memory: the caller's jansson call refuses it */
            memcpy(out, s, i);
            outn = i;
        }
        if (!ok) {
            memcpy(out + outn, "\xEF\xBF\xBD", 3);
            outn += 3;
            i++;
            continue;
        }
        if (out) memcpy(out + outn, s + i, need);
        outn += out ? need : 0;
        i += need;
    }
    if (!out) return s;
    free(s);
    out[outn] = 0;
    *len = outn;
    return out;
}

/* Redacted, valid UTF-8, NUL-terminated copy. */
static char *clean_text(const mcp_openapi_redactor *red, const char *s, size_t *len) {
    char *t = mcp_openapi_redact(red, s, len);
    return t ? utf8_clean(t, len) : NULL;
}

/* Redacts a parsed JSON tree in place; returns a replacement for v when v
 * itself must change (a number spelling a secret), else NULL. */
static json_t *redact_json(const mcp_openapi_redactor *red, json_t *v) {
    if (json_is_string(v)) {
        if (!mcp_openapi_has_secret(red, json_string_value(v), json_string_length(v))) return NULL;
        size_t n = json_string_length(v);
        char *t = mcp_openapi_redact(red, json_string_value(v), &n);
        if (!t) return json_string(REDACTED);
        json_string_setn(v, t, n);
        free(t);
        return NULL;
    }
    if (json_is_number(v)) {
        char *t = json_dumps(v, JSON_ENCODE_ANY);
        int hit = t && mcp_openapi_has_secret(red, t, strlen(t));
        free(t);
        return hit ? json_string(REDACTED) : NULL;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *rep = redact_json(red, json_array_get(v, i));
            if (rep) json_array_set_new(v, i, rep);
        }
        return NULL;
    }
    if (!json_is_object(v)) return NULL;
    int keys_hit = 0;
    const char *k;
    size_t klen;
    json_t *child;
    json_object_keylen_foreach(v, k, klen, child) {
        json_t *rep = redact_json(red, child);
        if (rep) json_object_setn_new_nocheck(v, k, klen, rep);
        if (mcp_openapi_has_secret(red, k, klen)) keys_hit = 1;
    }
    if (!keys_hit) return NULL;
    json_t *copy = json_object();
    if (!copy) return json_string(REDACTED);
    json_object_keylen_foreach(v, k, klen, child) {
        size_t n = klen;
        char *t = mcp_openapi_redact(red, k, &n);
        if (t) json_object_setn_nocheck(copy, t, n, child);
        free(t);
    }
    return copy;
}

/* ---- helpers ------------------------------------------------------------- */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const unsigned char *p, size_t n) {
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        *o++ = b64chars[v >> 18 & 63];
        *o++ = b64chars[v >> 12 & 63];
        *o++ = i + 1 < n ? b64chars[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? b64chars[v & 63] : '=';
    }
    *o = 0;
    return out;
}

/* Standard base64, padding optional, whitespace refused. */
static char *b64_decode(const char *s, size_t n, size_t *outlen) {
    while (n && s[n - 1] == '=') n--;
    char *out = malloc(n / 4 * 3 + 3);
    if (!out) return NULL;
    size_t o = 0;
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *c = s[i] ? strchr(b64chars, s[i]) : NULL;
        if (!c) {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (unsigned)(c - b64chars);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)(acc >> bits & 0xFF);
        }
    }
    *outlen = o;
    return out;
}

static int is_tchar(int c) { return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c)); }

static int token_ok(const char *s, size_t n) {
    if (!n || n > 256) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i])) return 0;
    return 1;
}

static int value_ok(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return 0;
    }
    return 1;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The shortest %g spelling that reads back as d, close to JavaScript's. */
static void format_real(double d, char *buf, size_t cap) {
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, d);
        if (strtod(buf, NULL) == d) return;
    }
}

static const char *reason(long status) {
    static const struct {
        int code;
        const char *text;
    } t[] = {{200, "OK"}, {201, "Created"}, {202, "Accepted"}, {204, "No Content"},
             {301, "Moved Permanently"}, {302, "Found"}, {303, "See Other"},
             {304, "Not Modified"}, {307, "Temporary Redirect"}, {308, "Permanent Redirect"},
             {400, "Bad Request"}, {401, "Unauthorized"}, {402, "Payment Required"},
             {403, "Forbidden"}, {404, "Not Found"}, {405, "Method Not Allowed"},
             {406, "Not Acceptable"}, {408, "Request Timeout"}, {409, "Conflict"}, {410, "Gone"},
             {411, "Length Required"}, {412, "Precondition Failed"}, {413, "Content Too Large"},
             {415, "Unsupported Media Type"}, {422, "Unprocessable Content"},
             {429, "Too Many Requests"}, {500, "Internal Server Error"}, {501, "Not Implemented"},
             {502, "Bad Gateway"}, {503, "Service Unavailable"}, {504, "Gateway Timeout"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].code == status) return t[i].text;
    return NULL;
}

/* ---- paths --------------------------------------------------------------- */

/* NULL when every segment of an encoded path is harmless, else why not. */
static const char *path_problem(const char *p, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && p[j] != '/') j++;
        char seg[MCP_OPENAPI_MAX_PATH + 1];
        size_t sn = 0;
        for (size_t k = i + 1; k < j && sn < MCP_OPENAPI_MAX_PATH; k++) {
            if (p[k] == '%') {
                int h = k + 2 < j ? hexval((unsigned char)p[k + 1]) : -1;
                int l = h < 0 ? -1 : hexval((unsigned char)p[k + 2]);
                if (l < 0) return "malformed percent-encoding in the path";
                seg[sn++] = (char)(h * 16 + l);
                k += 2;
            } else {
                seg[sn++] = p[k];
            }
        }
        seg[sn] = 0;
        if (memchr(seg, 0, sn)) return "the path holds an encoded NUL";
        if (memchr(seg, '/', sn) || memchr(seg, '\\', sn))
            return "the path holds an encoded slash or backslash";
        size_t base = strcspn(seg, ";"); /* "..;x" is ".." to some servers */
        if ((base == 1 && seg[0] == '.') || (base == 2 && seg[0] == '.' && seg[1] == '.'))
            return "\".\" and \"..\" segments are not allowed in the path";
        for (size_t k = 0; k + 2 < sn; k++) {
            if (seg[k] == '%' && (strncasecmp(seg + k, "%2e", 3) == 0 || strncasecmp(seg + k, "%2f", 3) == 0 ||
                                  strncasecmp(seg + k, "%5c", 3) == 0))
                return "the path holds a doubly encoded dot, slash or backslash";
        }
        i = j;
    }
    return NULL;
}

struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t ncap = (b->n + n + 1) * 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* Appends s percent-encoding everything outside `keep` and unreserved. */
static void sb_encode(struct sbuf *b, const char *s, size_t n, const char *keep) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c && (isalnum(c) || strchr("-._~", c) || strchr(keep, c))) {
            sb_add(b, (const char *)&c, 1);
        } else {
            char e[4];
            snprintf(e, sizeof e, "%%%02X", c);
            sb_add(b, e, 3);
        }
    }
}

/* The sandbox's path (and any query written into it), encoded where it
 * must be. NULL with *why set when refused. */
static const char *add_path(struct sbuf *b, const char *p, size_t n, int *has_query) {
    if (n == 0 || p[0] != '/') return "path must start with \"/\" (relative to the base URL)";
    if (n > MCP_OPENAPI_MAX_PATH) return "path is longer than 8192 bytes";
    if (n >= 2 && p[1] == '/') return "path must be relative to the base URL";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f) return "path holds a control character";
        if (c == '\\') return "path holds a backslash";
        if (c == '#') return "path holds a fragment (#)";
        if (c == '%' && (i + 2 >= n || hexval((unsigned char)p[i + 1]) < 0 || hexval((unsigned char)p[i + 2]) < 0))
            return "malformed percent-encoding in the path";
    }
    const char *q = memchr(p, '?', n);
    size_t plen = q ? (size_t)(q - p) : n;
    size_t start = b->n;
    sb_encode(b, p, plen, "!$&'()*+,;=:@/%");
    if (b->oom) return "out of memory";
    const char *why = path_problem(b->p + start, b->n - start);
    if (why) return why;
    if (q) {
        *has_query = 1;
        sb_add(b, "?", 1);
        sb_encode(b, q + 1, n - plen - 1, "!$&'()*+,;=:@/?%");
    }
    return NULL;
}

static const char *add_query_value(struct sbuf *b, const char *key, size_t klen, const json_t *v,
                                   int *first) {
    char num[64];
    const char *s;
    size_t n;
    switch (json_typeof(v)) {
    case JSON_NULL:
        return NULL;
    case JSON_STRING:
        s = json_string_value(v);
        n = json_string_length(v);
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = num;
        n = strlen(num);
        break;
    case JSON_REAL:
        format_real(json_real_value(v), num, sizeof num);
        s = num;
        n = strlen(num);
        break;
    case JSON_TRUE:
        s = "true", n = 4;
        break;
    case JSON_FALSE:
        s = "false", n = 5;
        break;
    default:
        return "query values must be strings, numbers, booleans or arrays of those";
    }
    sb_add(b, *first ? "" : "&", *first ? 0 : 1);
    *first = 0;
    sb_encode(b, key, klen, "");
    sb_add(b, "=", 1);
    sb_encode(b, s, n, "");
    return NULL;
}

/* ---- building the request (reactor thread) ------------------------------- */

static int header_forbidden(const char *name) {
    static const char *const names[] = {"host", "content-length", "transfer-encoding", "connection",
                                        "keep-alive", "upgrade", "te", "trailer", "expect",
                                        "proxy-connection", "accept-encoding", "range",
                                        "if-range", NULL};
    for (size_t i = 0; names[i]; i++)
        if (strcasecmp(name, names[i]) == 0) return 1;
    return 0;
}

static int header_configured(const mcp_openapi *o, const char *name) {
    for (size_t i = 0; i < o->n_headers; i++)
        if (strcasecmp(o->headers[i].name, name) == 0) return 1;
    return 0;
}

static int slist_add(struct curl_slist **l, const char *name, const char *value) {
    char *line = fmt("%s: %s", name, value);
    if (!line) return -1;
    struct curl_slist *n = curl_slist_append(*l, line);
    free(line);
    if (!n) return -1;
    *l = n;
    return 0;
}

/* Fills q from the sandbox's options; returns a refusal (malloc'd) or NULL. */
static char *build(const mcp_openapi *o, struct mcp_openapi_req *q, const json_t *opt) {
    if (!json_is_object(opt)) return strdup("options must be an object {method, path, ...}");
    json_t *m = json_object_get(opt, "method");
    if (!json_is_string(m)) return strdup("method must be a string (GET, POST, PUT, PATCH, DELETE)");
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
                                          NULL};
    const char *ms = json_string_value(m);
    for (size_t i = 0; methods[i]; i++)
        if (strcasecmp(ms, methods[i]) == 0) strcpy(q->method, methods[i]);
    if (!q->method[0]) return fmt("method %.40s is not allowed (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)", ms);

    json_t *p = json_object_get(opt, "path");
    if (!json_is_string(p)) return strdup("path must be a string starting with \"/\"");
    struct sbuf url = {0};
    sb_str(&url, o->base);
    int has_query = 0;
    const char *why = add_path(&url, json_string_value(p), json_string_length(p), &has_query);
    if (why) {
        free(url.p);
        return strdup(why);
    }
    json_t *query = json_object_get(opt, "query");
    if (query && !json_is_null(query)) {
        if (!json_is_object(query)) {
            free(url.p);
            return strdup("query must be an object");
        }
        int first = 1;
        struct sbuf qs = {0};
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach(query, k, klen, v) {
            if (json_is_array(v)) {
                for (size_t i = 0; !why && i < json_array_size(v); i++) {
                    json_t *e = json_array_get(v, i);
                    why = json_is_array(e) ? "query arrays cannot nest"
                                           : add_query_value(&qs, k, klen, e, &first);
                }
            } else {
                why = add_query_value(&qs, k, klen, v, &first);
            }
            if (why) break;
        }
        if (!why && qs.n) {
            sb_str(&url, has_query ? "&" : "?");
            sb_add(&url, qs.p, qs.n);
        }
        free(qs.p);
        if (why) {
            free(url.p);
            return fmt("query.%.100s: %s", k, why);
        }
    }
    if (url.oom) {
        free(url.p);
        return strdup("out of memory");
    }
    q->url = url.p;
    size_t blen = strlen(o->base);
    if (url.n > MCP_OPENAPI_MAX_URL) return fmt("the URL is %zu bytes, more than the limit of %d", url.n, MCP_OPENAPI_MAX_URL);
    if (strncmp(q->url, o->base, blen) != 0 || q->url[blen] != '/')
        return strdup("path must be relative to the base URL");

    for (size_t i = 0; i < o->n_headers; i++)
        if (slist_add(&q->hdrs, o->headers[i].name, o->headers[i].value) < 0) return strdup("out of memory");

    const char *ctype = NULL;
    json_t *ct = json_object_get(opt, "contentType");
    if (ct && !json_is_null(ct)) {
        if (!json_is_string(ct) || !value_ok(json_string_value(ct), json_string_length(ct)) ||
            json_string_length(ct) > 1024)
            return strdup("contentType must be a string without control characters");
        ctype = json_string_value(ct);
    }
    json_t *hs = json_object_get(opt, "headers");
    size_t hbytes = 0;
    if (hs && !json_is_null(hs)) {
        if (!json_is_object(hs)) return strdup("headers must be an object of strings");
        const char *k;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach(hs, k, klen, v) {
            if (!token_ok(k, klen) || strlen(k) != klen) return fmt("header name \"%.60s\" is not valid", k);
            if (header_forbidden(k)) return fmt("header %s is set by the host, not the sandbox", k);
            char num[64];
            const char *s = num;
            size_t n;
            if (json_is_string(v)) s = json_string_value(v), n = json_string_length(v);
            else if (json_is_integer(v)) n = (size_t)snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            else if (json_is_real(v)) format_real(json_real_value(v), num, sizeof num), n = strlen(num);
            else if (json_is_boolean(v)) s = json_is_true(v) ? "true" : "false", n = strlen(s);
            else if (json_is_null(v)) continue;
            else return fmt("header %s: the value must be a string", k);
            if (!value_ok(s, n) || strlen(s) != n) return fmt("header %s: the value holds a control character", k);
            hbytes += klen + n + 4;
            if (hbytes > MAX_REQ_HEADER_BYTES) return fmt("headers are larger than %zu bytes", MAX_REQ_HEADER_BYTES);
            if (header_configured(o, k)) continue; /* configured headers win */
            if (strcasecmp(k, "content-type") == 0) {
                if (!ctype) ctype = s;
                continue;
            }
            if (slist_add(&q->hdrs, k, s) < 0) return strdup("out of memory");
        }
    }

    json_t *body = json_object_get(opt, "body");
    if (body) {
        json_t *bytes = json_is_object(body) && json_object_size(body) == 1
                            ? json_object_get(body, "$bytes") : NULL;
        if (json_is_string(bytes)) {
            q->body = b64_decode(json_string_value(bytes), json_string_length(bytes), &q->body_len);
            if (!q->body) return strdup("body.$bytes is not valid base64");
            if (!ctype) ctype = "application/octet-stream";
        } else if (ctype && json_is_string(body)) {
            q->body_len = json_string_length(body);
            q->body = malloc(q->body_len + 1);
            if (!q->body) return strdup("out of memory");
            memcpy(q->body, json_string_value(body), q->body_len + 1);
        } else {
            q->body = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
            if (!q->body) return strdup("body cannot be serialised as JSON");
            q->body_len = strlen(q->body);
            if (!ctype) ctype = "application/json";
        }
        q->has_body = 1;
        if (q->body_len > q->lim.max_request_body)
            return fmt("the request body is %zu bytes, more than the limit of %zu (max_request_body)",
                       q->body_len, q->lim.max_request_body);
    }
    if (!q->has_body && (strcmp(q->method, "POST") == 0 || strcmp(q->method, "PUT") == 0 || strcmp(q->method, "PATCH") == 0))
        q->has_body = 1; /* an empty body with Content-Length: 0 */
    if (ctype && slist_add(&q->hdrs, "Content-Type", ctype) < 0) return strdup("out of memory");
    if (!ctype) {
        struct curl_slist *n = curl_slist_append(q->hdrs, "Content-Type:"); /* no form default */
        if (!n) return strdup("out of memory");
        q->hdrs = n;
    }
    struct curl_slist *n = curl_slist_append(q->hdrs, "Expect:");
    if (!n) return strdup("out of memory");
    q->hdrs = n;
    q->raw = json_is_true(json_object_get(opt, "rawBody"));
    q->full = json_is_true(json_object_get(opt, "fullResponse"));
    return NULL;
}

/* ---- the helper thread --------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
    struct mcp_openapi_req *q = ud;
    size_t n = size * nmemb;
    if (q->resp_len + n > q->lim.max_body) {
        q->too_big = 1;
        return 0;
    }
    if (q->resp_len + n + 1 > q->resp_cap) {
        size_t ncap = (q->resp_len + n + 1) * 2;
        if (ncap > q->lim.max_body + 1) ncap = q->lim.max_body + 1;
        char *nb = realloc(q->resp, ncap);
        if (!nb) return 0;
        q->resp = nb;
        q->resp_cap = ncap;
    }
    memcpy(q->resp + q->resp_len, p, n);
    q->resp_len += n;
    return n;
}

static void clear_resp_headers(struct mcp_openapi_req *q) {
    for (size_t i = 0; i < q->n_rh; i++) {
        free(q->rh[i].name);
        free(q->rh[i].value);
    }
    q->n_rh = 0;
    q->rh_bytes = 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud) {
    struct mcp_openapi_req *q = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a new response (1xx, or the next hop) */
        clear_resp_headers(q);
        return n;
    }
    const char *colon = memchr(p, ':', n);
    if (!colon || q->n_rh >= MAX_RESP_HEADERS || q->rh_bytes + n > MAX_RESP_HEADER_BYTES) return n;
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vl = n - nl - 1;
    while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
    if (!token_ok(p, nl)) return n;
    if (!q->rh) {
        q->rh = calloc(MAX_RESP_HEADERS, sizeof *q->rh);
        if (!q->rh) return n;
    }
    char *name = strndup(p, nl), *value = strndup(v, vl);
    if (!name || !value) {
        free(name);
        free(value);
        return n;
    }
    for (char *c = name; *c; c++) *c = (char)tolower((unsigned char)*c);
    q->rh[q->n_rh++] = (struct resp_header){name, value};
    q->rh_bytes += n;
    return n;
}

static const char *resp_header(const struct mcp_openapi_req *q, const char *name) {
    for (size_t i = 0; i < q->n_rh; i++)
        if (strcmp(q->rh[i].name, name) == 0) return q->rh[i].value;
    return NULL;
}

static int start_hop(struct mcp_openapi_req *q) {
    uint64_t now = net_now_ms();
    if (now >= q->deadline) return -1;
    uint64_t left = q->deadline - now;
    if (!q->easy) q->easy = curl_easy_init();
    else curl_easy_reset(q->easy);
    if (!q->easy) return -1;
    CURL *e = q->easy;
    q->resp_len = 0;
    q->too_big = 0;
    clear_resp_headers(q);
    q->errbuf[0] = 0;
    uint64_t connect = q->lim.connect_timeout_ms < left ? q->lim.connect_timeout_ms : left;
    curl_easy_setopt(e, CURLOPT_URL, q->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect ? connect : 1));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)left);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "corral-openapi");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, q);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)q->lim.max_body);
    if (strcmp(q->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (q->has_body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body ? q->body : "");
        if (strcmp(q->method, "POST") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q->method);
    } else if (strcmp(q->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q->method);
    }
    return curl_multi_add_handle(q->pool->multi, e) == CURLM_OK ? 0 : -1;
}

static void set_error(struct mcp_openapi_req *q, long status, char *msg) {
    json_decref(q->out.value);
    q->out.value = NULL;
    free(q->message);
    size_t n = msg ? strlen(msg) : 0;
    q->message = msg ? clean_text(&q->o->red, msg, &n) : NULL;
    free(msg);
    q->out.ok = 0;
    q->out.status = (int)status;
    q->out.error_message = q->message ? q->message : "out of memory";
}

/* The body as the sandbox sees it: JSON, text or {$bytes}. */
static json_t *body_value(struct mcp_openapi_req *q) {
    const mcp_openapi_redactor *red = &q->o->red;
    const char *src = q->resp ? q->resp : "";
    if (q->raw) {
        size_t n = q->resp_len;
        char *t = mcp_openapi_redact(red, src, &n);
        char *b = t ? b64_encode((unsigned char *)t, n) : NULL;
        free(t);
        json_t *v = b ? json_pack("{s:s}", "$bytes", b) : NULL;
        free(b);
        return v;
    }
    const char *ct = resp_header(q, "content-type");
    int is_json = 0;
    if (ct) {
        size_t tl = strcspn(ct, "; \t");
        is_json = (tl == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
                  (tl > 5 && strncasecmp(ct + tl - 5, "+json", 5) == 0);
    }
    if (is_json && q->resp_len) {
        json_t *v = json_loadb(src, q->resp_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (v) {
            json_t *rep = redact_json(red, v);
            if (rep) {
                json_decref(v);
                v = rep;
            }
            return v;
        }
    }
    size_t n = q->resp_len;
    char *t = clean_text(red, src, &n);
    json_t *v = t ? json_stringn_nocheck(t, n) : NULL;
    free(t);
    return v;
}

static json_t *headers_value(struct mcp_openapi_req *q) {
    json_t *h = json_object();
    for (size_t i = 0; h && i < q->n_rh; i++) {
        size_t nl = strlen(q->rh[i].name), vl = strlen(q->rh[i].value);
        char *name = clean_text(&q->o->red, q->rh[i].name, &nl);
        char *value = clean_text(&q->o->red, q->rh[i].value, &vl);
        if (name && value) {
            json_t *old = json_object_get(h, name);
            if (old) {
                char *joined = fmt("%s, %s", json_string_value(old), value);
                if (joined) json_object_set_new(h, name, json_string(joined));
                free(joined);
            } else {
                json_object_set_new(h, name, json_stringn(value, vl));
            }
        }
        free(name);
        free(value);
    }
    return h;
}

/* Builds q->out for a finished transfer with an HTTP status. */
static void make_answer(struct mcp_openapi_req *q, long status) {
    if (status < 200 || status > 299) {
        const char *why = reason(status);
        size_t n = q->resp_len;
        char *t = clean_text(&q->o->red, q->resp ? q->resp : "", &n);
        if (t) { /* cut at EXCERPT_CHARS characters, on a character boundary */
            size_t chars = 0, i = 0;
            while (i < n && chars < EXCERPT_CHARS) {
                i++;
                while (i < n && ((unsigned char)t[i] & 0xC0) == 0x80) i++;
                chars++;
            }
            t[i] = 0;
        }
        set_error(q, status, fmt("HTTP %ld%s%s%s%s", status, why ? " " : "", why ? why : "",
                                 t && t[0] ? ": " : "", t ? t : ""));
        free(t);
        return;
    }
    json_t *body = body_value(q);
    json_t *v = body;
    if (body && q->full)
        v = json_pack("{s:i, s:o, s:o}", "status", (int)status, "headers", headers_value(q), "body", body);
    if (!v) {
        set_error(q, status, strdup("out of memory building the response"));
        return;
    }
    q->out.ok = 1;
    q->out.status = (int)status;
    q->out.value = v;
}

/* Where a 3xx points, if it is inside the base URL: a new malloc'd URL.
 * Otherwise NULL and *shown is the location without its query. */
static char *redirect_target(struct mcp_openapi_req *q, const char *loc, char **shown) {
    const mcp_openapi *o = q->o;
    *shown = strndup(loc, strcspn(loc, "?#"));
    CURLU *u = curl_url(), *b = curl_url();
    char *out = NULL, *uorig[3] = {0}, *borig[3] = {0}, *path = NULL, *full = NULL;
    static const CURLUPart parts[3] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
    if (!u || !b || curl_url_set(u, CURLUPART_URL, q->url, 0) || curl_url_set(u, CURLUPART_URL, loc, 0) ||
        curl_url_set(b, CURLUPART_URL, o->base, 0))
        goto out;
    for (int i = 0; i < 3; i++) {
        unsigned flags = parts[i] == CURLUPART_PORT ? CURLU_DEFAULT_PORT : 0;
        if (curl_url_get(u, parts[i], &uorig[i], flags) || curl_url_get(b, parts[i], &borig[i], flags) ||
            strcasecmp(uorig[i], borig[i]) != 0)
            goto out;
    }
    if (curl_url_get(u, CURLUPART_PATH, &path, 0)) goto out;
    size_t pl = strlen(o->prefix);
    if (strncmp(path, o->prefix, pl) != 0 || path[pl] != '/') goto out;
    if (path_problem(path, strlen(path))) goto out;
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    if (curl_url_get(u, CURLUPART_URL, &full, 0)) goto out;
    if (strlen(full) <= MCP_OPENAPI_MAX_URL) out = strdup(full);
out:
    for (int i = 0; i < 3; i++) {
        curl_free(uorig[i]);
        curl_free(borig[i]);
    }
    curl_free(path);
    curl_free(full);
    curl_url_cleanup(u);
    curl_url_cleanup(b);
    return out;
}

/* A redirect that turned the request into a GET carries no body, so no
 * Content-Type either (and libcurl must not add its form default). */
static void drop_content_type(struct mcp_openapi_req *q) {
    struct curl_slist *kept = NULL;
    for (struct curl_slist *l = q->hdrs; l; l = l->next) {
        if (strncasecmp(l->data, "Content-Type:", 13) == 0) continue;
        struct curl_slist *n = curl_slist_append(kept, l->data);
        if (!n) {
            curl_slist_free_all(kept);
            return;
        }
        kept = n;
    }
    struct curl_slist *n = curl_slist_append(kept, "Content-Type:");
    if (!n) {
        curl_slist_free_all(kept);
        return;
    }
    curl_slist_free_all(q->hdrs);
    q->hdrs = n;
}

/* 1 when q went on to another hop, 0 when q->out is final. */
static int on_done(struct mcp_openapi_pool *p, struct mcp_openapi_req *q, CURLcode rc) {
    long status = 0;
    curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(p->multi, q->easy);
    if (rc != CURLE_OK) {
        if (q->too_big || rc == CURLE_FILESIZE_EXCEEDED)
            set_error(q, status, fmt("the response body is larger than %zu bytes (limit max_body)", q->lim.max_body));
        else if (rc == CURLE_OPERATION_TIMEDOUT && net_now_ms() + 5 >= q->deadline)
            set_error(q, 0, fmt("the request timed out after %llu ms (limit timeout_ms)",
                                (unsigned long long)q->lim.timeout_ms));
        else if (rc == CURLE_OPERATION_TIMEDOUT)
            set_error(q, 0, fmt("could not connect within %llu ms (limit connect_timeout_ms)",
                                (unsigned long long)q->lim.connect_timeout_ms));
        else
            set_error(q, 0, fmt("request failed: %s", q->errbuf[0] ? q->errbuf : curl_easy_strerror(rc)));
        return 0;
    }
    const char *loc = resp_header(q, "location");
    int redirect = status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    if (redirect && loc && *loc) {
        char *shown = NULL, *next = redirect_target(q, loc, &shown);
        if (!next) {
            set_error(q, status, fmt("redirect off the base URL refused: %s", shown ? shown : ""));
            free(shown);
            return 0;
        }
        free(shown);
        if (q->hops >= q->lim.max_redirects) {
            free(next);
            set_error(q, status, fmt("too many redirects (limit max_redirects = %d)", q->lim.max_redirects));
            return 0;
        }
        q->hops++;
        free(q->url);
        q->url = next;
        if (status == 303 || ((status == 301 || status == 302) && strcmp(q->method, "POST") == 0)) {
            if (strcmp(q->method, "HEAD") != 0) strcpy(q->method, "GET");
            q->has_body = 0;
            drop_content_type(q);
        }
        if (start_hop(q) == 0) return 1;
        set_error(q, 0, fmt("the request timed out after %llu ms (limit timeout_ms)",
                            (unsigned long long)q->lim.timeout_ms));
        return 0;
    }
    make_answer(q, status);
    return 0;
}

static void deliver(net_reactor *r, void *ud);

/* Hands a finished q to its reactor. Called without the lock. */
static void post_done(struct mcp_openapi_pool *p, struct mcp_openapi_req *q) {
    pthread_mutex_lock(&p->lock);
    if (q->cancelled) {
        pthread_mutex_unlock(&p->lock);
        req_free(q);
        return;
    }
    q->state = REQ_POSTED;
    list_add(&p->posted, q);
    pthread_mutex_unlock(&p->lock);
    if (net_reactor_post(q->r, deliver, q) < 0) {
        pthread_mutex_lock(&p->lock);
        list_del(&p->posted, q);
        list_add(&p->unposted, q);
        pthread_mutex_unlock(&p->lock);
    }
}

static void *pool_main(void *arg) {
    struct mcp_openapi_pool *p = arg;
    for (;;) {
        struct mcp_openapi_req *fresh = NULL, *dead = NULL, *retry = NULL;
        pthread_mutex_lock(&p->lock);
        if (p->stop) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        while (p->incoming) {
            struct mcp_openapi_req *q = p->incoming;
            list_del(&p->incoming, q);
            q->state = REQ_ACTIVE;
            list_add(&fresh, q);
        }
        for (struct mcp_openapi_req *q = p->active, *nx; q; q = nx) {
            nx = q->next;
            if (!q->cancelled) continue;
            list_del(&p->active, q);
            list_add(&dead, q);
        }
        retry = p->unposted;
        p->unposted = NULL;
        pthread_mutex_unlock(&p->lock);

        while (dead) {
            struct mcp_openapi_req *q = dead;
            list_del(&dead, q);
            curl_multi_remove_handle(p->multi, q->easy);
            req_free(q);
        }
        while (retry) {
            struct mcp_openapi_req *q = retry;
            list_del(&retry, q);
            post_done(p, q);
        }
        while (fresh) {
            struct mcp_openapi_req *q = fresh;
            list_del(&fresh, q);
            if (start_hop(q) == 0) {
                pthread_mutex_lock(&p->lock);
                list_add(&p->active, q);
                pthread_mutex_unlock(&p->lock);
            } else {
                set_error(q, 0, strdup("request failed: the transfer could not start"));
                post_done(p, q);
            }
        }
        int running;
        curl_multi_perform(p->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(p->multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            struct mcp_openapi_req *q = NULL;
            CURLcode rc = msg->data.result;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&q);
            if (on_done(p, q, rc)) continue;
            pthread_mutex_lock(&p->lock);
            list_del(&p->active, q);
            pthread_mutex_unlock(&p->lock);
            post_done(p, q);
        }
        pthread_mutex_lock(&p->lock);
        int waiting = p->unposted != NULL;
        pthread_mutex_unlock(&p->lock);
        curl_multi_poll(p->multi, NULL, 0, waiting ? 10 : 1000, NULL);
    }
    return NULL;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_rc;
static void curl_init(void) { curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static struct mcp_openapi_pool *pool_new(void) {
    pthread_once(&curl_once, curl_init);
    if (curl_rc != CURLE_OK) return NULL;
    struct mcp_openapi_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->lock, NULL);
    p->multi = curl_multi_init();
    /* The helper must never take the host's signals (SIGINT, SIGCHLD...). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = p->multi ? pthread_create(&p->thread, NULL, pool_main, p) : -1;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        if (p->multi) curl_multi_cleanup(p->multi);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

void mcp_openapi_pool_free(struct mcp_openapi_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_mutex_unlock(&p->lock);
    curl_multi_wakeup(p->multi);
    pthread_join(p->thread, NULL);
    struct mcp_openapi_req **lists[] = {&p->incoming, &p->active, &p->unposted};
    for (size_t i = 0; i < 3; i++) {
        while (*lists[i]) {
            struct mcp_openapi_req *q = *lists[i];
            list_del(lists[i], q);
            if (q->easy) curl_multi_remove_handle(p->multi, q->easy);
            req_free(q);
        }
    }
    /* Already handed to a reactor: deliver() frees them without done(). */
    while (p->posted) {
        struct mcp_openapi_req *q = p->posted;
        list_del(&p->posted, q);
        q->cancelled = 1;
        q->pool = NULL;
    }
    curl_multi_cleanup(p->multi);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* ---- the reactor side ---------------------------------------------------- */

static void deliver(net_reactor *r, void *ud) {
    struct mcp_openapi_req *q = ud;
    if (q->pool) {
        pthread_mutex_lock(&q->pool->lock);
        list_del(&q->pool->posted, q);
        pthread_mutex_unlock(&q->pool->lock);
        q->pool = NULL;
    }
    if (!q->cancelled) q->done(&q->out, q->ud);
    req_free(q);
}

mcp_openapi_req *mcp_openapi_request(mcp_openapi *o, net_reactor *r, const json_t *options,
                                     mcp_openapi_done_fn done, void *ud) {
    if (!o->pool && !(o->pool = pool_new())) return NULL;
    struct mcp_openapi_pool *p = o->pool;
    struct mcp_openapi_req *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->pool = p;
    q->o = o;
    q->r = r;
    q->done = done;
    q->ud = ud;
    q->lim = o->lim;
    q->deadline = net_now_ms() + q->lim.timeout_ms;
    char *why = build(o, q, options);
    if (why) {
        set_error(q, 0, fmt("request refused: %s", why));
        free(why);
        pthread_mutex_lock(&p->lock);
        q->state = REQ_POSTED;
        list_add(&p->posted, q);
        pthread_mutex_unlock(&p->lock);
        if (net_reactor_post(r, deliver, q) < 0) {
            pthread_mutex_lock(&p->lock);
            list_del(&p->posted, q);
            pthread_mutex_unlock(&p->lock);
            req_free(q);
            return NULL;
        }
        return q;
    }
    pthread_mutex_lock(&p->lock);
    q->state = REQ_QUEUED;
    list_add(&p->incoming, q);
    pthread_mutex_unlock(&p->lock);
    curl_multi_wakeup(p->multi);
    return q;
}

void mcp_openapi_cancel(mcp_openapi_req *q) {
    if (!q) return;
    struct mcp_openapi_pool *p = q->pool;
    if (!p) { /* already with the reactor, pool gone */
        q->cancelled = 1;
        return;
    }
    pthread_mutex_lock(&p->lock);
    q->cancelled = 1;
    if (q->state == REQ_QUEUED) {
        list_del(&p->incoming, q);
        pthread_mutex_unlock(&p->lock);
        req_free(q);
        return;
    }
    pthread_mutex_unlock(&p->lock);
    curl_multi_wakeup(p->multi);
}
