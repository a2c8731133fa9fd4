/* The JSON bridge: payloads to JSON text and back, for C hosts that would
 * rather not write a wire visitor.
 *
 * wire_to_json decodes into a jansson tree and then prints that tree with
 * its own printer. The tree is needed because of backrefs: a shared object
 * must be written again wherever it is referenced, so every object-like
 * value is remembered by its number (a reference held in `objs`) together
 * with whether it is still open — a backref to an open value is a cycle,
 * which JSON cannot express. Because only closed (hence finished and
 * acyclic) subtrees are ever shared, the tree is a DAG and sharing costs a
 * reference count, not a copy. The printer is ours rather than
 * json_dumps because a DAG can print exponentially larger than it is: we
 * stop the moment the text passes max_json_bytes, bound the nesting, and
 * print numbers the way JavaScript would (shortest round-trip form).
 * While building we also charge every node against the same byte budget,
 * so the tree's memory stays proportional to the text it may produce.
 *
 * wire_from_json lets jansson parse (numbers as doubles, as JSON.parse
 * does) and walks the result with the wire encoder; jansson keeps object
 * keys in insertion order, which is the order we write them.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire_internal.h"

/* ---- strings --------------------------------------------------------------- */

/* WTF-8 is UTF-8 plus lone surrogates, each a three-byte ED A0..BF xx; the
 * replacement character is also three bytes, so the text keeps its length.
 * Returns s itself when there is nothing to replace, else a malloc'd copy
 * (or NULL when allocation fails). */
static const char *to_utf8(const char *s, size_t n, char **owned) {
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    *owned = NULL;
    while (i + 1 < n && !(p[i] == 0xed && p[i + 1] >= 0xa0)) i++;
    if (i + 1 >= n) return n ? s : "";
    char *out = malloc(n);
    if (!out) return NULL;
    memcpy(out, s, n);
    for (; i + 2 < n; i++) {
        if (p[i] == 0xed && p[i + 1] >= 0xa0) {
            out[i] = (char)0xef;
            out[i + 1] = (char)0xbf;
            out[i + 2] = (char)0xbd;
            i += 2;
        }
    }
    *owned = out;
    return out;
}

static json_t *string_from_wtf8(const char *s, size_t n) {
    char *owned;
    const char *u = to_utf8(s, n, &owned);
    if (!u) return NULL;
    json_t *j = json_stringn_nocheck(u, n);
    free(owned);
    return j;
}

/* ---- decoding into a tree -------------------------------------------------- */

enum jkind { J_ARRAY, J_OBJECT, J_MAP, J_ERROR, J_PROPS };

struct jframe {
    json_t *c;          /* borrowed: the parent (or objs) holds it */
    uint8_t kind;
    uint64_t index;     /* its number, to close it at its end */
    json_t *map_key;    /* J_MAP: a key waiting for its value */
    char *key;          /* J_OBJECT/J_PROPS: a key waiting for its value (UTF-8) */
    size_t key_len;
};

struct jb {
    size_t sp;
    struct jframe st[WIRE_MAX_DEPTH];
    json_t *root;
    json_t **objs;      /* owned references, by number */
    uint8_t *open;
    size_t nobj, cap;
    size_t budget;      /* output bytes the tree may still account for */
    int status;
};

static int jfail(struct jb *jb, int status) {
    if (jb->status == WIRE_OK) jb->status = status;
    return 1;
}

static int charge(struct jb *jb, size_t n) {
    if (n > jb->budget) return jfail(jb, WIRE_ERR_TOO_LARGE);
    jb->budget -= n;
    return 0;
}

static int remember(struct jb *jb, json_t *v, int open) {
    if (jb->nobj == jb->cap) {
        /* The decoder only numbers values it has bytes for, so this stays
         * below the payload size. */
        size_t cap = jb->cap ? jb->cap * 2 : 16;
        json_t **objs = realloc(jb->objs, cap * sizeof *objs);
        if (!objs) return jfail(jb, WIRE_ERR_NOMEM);
        jb->objs = objs;
        uint8_t *op = realloc(jb->open, cap);
        if (!op) return jfail(jb, WIRE_ERR_NOMEM);
        jb->open = op;
        jb->cap = cap;
    }
    jb->objs[jb->nobj] = json_incref(v);
    jb->open[jb->nobj] = (uint8_t)open;
    jb->nobj++;
    return 0;
}

/* Places a finished value (a reference we own; NULL when its allocation
 * failed) in the innermost container. undef: the value was undefined. */
static int attach(struct jb *jb, json_t *v, int undef) {
    if (undef) v = json_null();
    if (!v) return jfail(jb, WIRE_ERR_NOMEM);
    if (jb->sp == 0) {
        jb->root = v;
        return 0;
    }
    struct jframe *f = &jb->st[jb->sp - 1];
    switch (f->kind) {
    case J_OBJECT:
    case J_PROPS: {
        char *key = f->key;
        f->key = NULL;
        if (undef) {
            free(key);
            return 0;
        }
        if (charge(jb, f->key_len + 3)) { /* "key": */
            free(key);
            json_decref(v);
            return 1;
        }
        int rc = json_object_setn_new_nocheck(f->c, key, f->key_len, v);
        free(key);
        return rc ? jfail(jb, WIRE_ERR_NOMEM) : 0;
    }
    case J_MAP: {
        if (!f->map_key) {
            f->map_key = v;
            return 0;
        }
        /* jansson's *_new calls take the reference even when they fail. */
        json_t *pair = json_array();
        json_t *k = f->map_key;
        f->map_key = NULL;
        if (!pair) {
            json_decref(k);
            json_decref(v);
            return jfail(jb, WIRE_ERR_NOMEM);
        }
        if (json_array_append_new(pair, k)) {
            json_decref(v);
            json_decref(pair);
            return jfail(jb, WIRE_ERR_NOMEM);
        }
        if (json_array_append_new(pair, v)) {
            json_decref(pair);
            return jfail(jb, WIRE_ERR_NOMEM);
        }
        if (json_array_append_new(f->c, pair)) return jfail(jb, WIRE_ERR_NOMEM);
        return charge(jb, 3); /* [k,v] */
    }
    default: /* J_ARRAY; J_ERROR never takes values directly */
        return json_array_append_new(f->c, v) ? jfail(jb, WIRE_ERR_NOMEM) : 0;
    }
}

/* Begins a container: attaches it, numbers it, opens its frame. */
static int open_container(struct jb *jb, json_t *c, enum jkind kind) {
    if (!c) return jfail(jb, WIRE_ERR_NOMEM);
    if (charge(jb, 2)) {
        json_decref(c);
        return 1;
    }
    json_incref(c);
    if (attach(jb, c, 0) || remember(jb, c, 1)) {
        json_decref(c);
        return 1;
    }
    struct jframe *f = &jb->st[jb->sp++];
    memset(f, 0, sizeof *f);
    f->c = c;
    f->kind = (uint8_t)kind;
    f->index = jb->nobj - 1;
    json_decref(c);
    return 0;
}

static int close_container(void *ud) {
    struct jb *jb = ud;
    struct jframe *f = &jb->st[--jb->sp];
    jb->open[f->index] = 0;
    json_decref(f->map_key);
    free(f->key);
    return 0;
}

/* What each callback charges is the least text its value can print as
 * (null is 4 bytes, a string its length plus quotes, ...), so the budget
 * never refuses a value whose JSON fits. Separators are not counted. */
static int on_undefined(void *ud) {
    struct jb *jb = ud;
    int printed = !jb->sp || (jb->st[jb->sp - 1].kind != J_OBJECT &&
                              jb->st[jb->sp - 1].kind != J_PROPS);
    if (printed && charge(jb, 4)) return 1;
    return attach(jb, NULL, 1);
}
static int on_null(void *ud) { return charge(ud, 4) || attach(ud, json_null(), 0); }
static int on_boolean(void *ud, int v) { return charge(ud, 4) || attach(ud, json_boolean(v), 0); }
static int on_hole(void *ud) { return charge(ud, 4) || attach(ud, json_null(), 0); }

static int on_number(void *ud, double v) {
    return charge(ud, 1) || attach(ud, isfinite(v) ? json_real(v) : json_null(), 0);
}

static int on_string(void *ud, const char *s, size_t n) {
    if (charge(ud, n + 2)) return 1;
    return attach(ud, string_from_wtf8(s, n), 0);
}

static int on_key(void *ud, const char *s, size_t n) {
    struct jb *jb = ud;
    struct jframe *f = &jb->st[jb->sp - 1];
    char *owned;
    const char *u = to_utf8(s, n, &owned);
    if (u && !owned) {
        owned = malloc(n ? n : 1);
        if (owned) memcpy(owned, s, n);
    }
    if (!u || !owned) return jfail(jb, WIRE_ERR_NOMEM);
    f->key = owned;
    f->key_len = n;
    return 0;
}

/* Decimal text of a BigInt: repeated division of 32-bit limbs by 10^9.
 * Quadratic, hence the WIRE_JSON_MAX_BIGINT bound checked by the caller. */
static json_t *bigint_decimal(int negative, const uint8_t *mag, size_t len) {
    size_t nlimbs = (len + 3) / 4;
    uint32_t *limbs = calloc(nlimbs ? nlimbs : 1, sizeof *limbs);
    /* Each 10^9 chunk holds at least 29 bits, so this many chunks suffice. */
    size_t maxchunks = len * 8 / 29 + 2;
    uint32_t *chunks = malloc(maxchunks * sizeof *chunks);
    char *text = malloc(maxchunks * 9 + 2);
    json_t *j = NULL;
    if (!limbs || !chunks || !text) goto out;
    for (size_t i = 0; i < len; i++) limbs[i / 4] |= (uint32_t)mag[i] << (8 * (i % 4));
    size_t top = nlimbs, nchunks = 0;
    while (top && limbs[top - 1] == 0) top--;
    while (top) {
        uint64_t rem = 0;
        for (size_t i = top; i-- > 0;) {
            uint64_t cur = (rem << 32) | limbs[i];
            limbs[i] = (uint32_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        chunks[nchunks++] = (uint32_t)rem;
        while (top && limbs[top - 1] == 0) top--;
    }
    size_t n = 0;
    if (negative) text[n++] = '-';
    if (nchunks == 0) {
        text[n++] = '0';
    } else {
        n += (size_t)sprintf(text + n, "%u", chunks[nchunks - 1]);
        for (size_t i = nchunks - 1; i-- > 0;) n += (size_t)sprintf(text + n, "%09u", chunks[i]);
    }
    j = json_stringn_nocheck(text, n);
out:
    free(limbs);
    free(chunks);
    free(text);
    return j;
}

static int on_bigint(void *ud, int negative, const uint8_t *mag, size_t len) {
    struct jb *jb = ud;
    if (len > WIRE_JSON_MAX_BIGINT) return jfail(jb, WIRE_ERR_TOO_LARGE);
    /* A len-byte magnitude has more than 2*(len-1) digits: refuse early
     * what cannot fit rather than spend quadratic time on it. */
    if (charge(jb, (len ? 2 * (len - 1) + 1 : 1) + 2)) return 1;
    return attach(jb, bigint_decimal(negative, mag, len), 0);
}

/* ISO-8601 as Date.prototype.toISOString writes it, years beyond 0..9999
 * with a sign and six digits. The civil-from-days conversion counts in
 * 400-year eras of 146097 days, with years starting on March 1st so the
 * leap day falls at the end. */
static json_t *iso_date(double ms) {
    if (!isfinite(ms) || fabs(ms) > 8.64e15) return json_null();
    int64_t t = (int64_t)ms; /* TimeClip truncates toward zero */
    int64_t days = t / 86400000, msday = t % 86400000;
    if (msday < 0) {
        msday += 86400000;
        days--;
    }
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t day = doy - (153 * mp + 2) / 5 + 1;
    int64_t month = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = yoe + era * 400 + (month <= 2);
    char buf[40];
    int n;
    if (year >= 0 && year <= 9999)
        n = snprintf(buf, sizeof buf, "%04lld", (long long)year);
    else
        n = snprintf(buf, sizeof buf, "%c%06lld", year < 0 ? '-' : '+', (long long)llabs(year));
    n += snprintf(buf + n, sizeof buf - (size_t)n, "-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                  (long long)month, (long long)day, (long long)(msday / 3600000),
                  (long long)(msday / 60000 % 60), (long long)(msday / 1000 % 60),
                  (long long)(msday % 1000));
    return json_stringn_nocheck(buf, (size_t)n);
}

static int on_date(void *ud, double ms) {
    if (charge(ud, 4)) return 1;
    return attach(ud, iso_date(ms), 0);
}

static int on_regexp(void *ud, const char *src, size_t src_len, const char *flags,
                     size_t flags_len) {
    struct jb *jb = ud;
    size_t n = src_len + flags_len + 2;
    if (charge(jb, n + 2)) return 1;
    char *buf = malloc(n);
    if (!buf) return jfail(jb, WIRE_ERR_NOMEM);
    buf[0] = '/';
    memcpy(buf + 1, src, src_len);
    buf[1 + src_len] = '/';
    memcpy(buf + 2 + src_len, flags, flags_len);
    json_t *j = string_from_wtf8(buf, n);
    free(buf);
    return attach(jb, j, 0);
}

static int on_bytes(void *ud, enum wire_bytes_kind kind, const uint8_t *p, size_t len) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    struct jb *jb = ud;
    size_t n = (len + 2) / 3 * 4;
    if (charge(jb, n + 2)) return 1;
    char *buf = malloc(n ? n : 1);
    if (!buf) return jfail(jb, WIRE_ERR_NOMEM);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t w = (uint32_t)p[i] << 16;
        if (i + 1 < len) w |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len) w |= p[i + 2];
        buf[o++] = alphabet[w >> 18];
        buf[o++] = alphabet[(w >> 12) & 63];
        buf[o++] = i + 1 < len ? alphabet[(w >> 6) & 63] : '=';
        buf[o++] = i + 2 < len ? alphabet[w & 63] : '=';
    }
    json_t *j = json_stringn_nocheck(buf, n);
    free(buf);
    if (!j) return jfail(jb, WIRE_ERR_NOMEM);
    /* Numbered like any object-like value, and never open. */
    if (remember(jb, j, 0)) {
        json_decref(j);
        return 1;
    }
    return attach(jb, j, 0);
}

static int on_array_begin(void *ud, uint64_t n) { return open_container(ud, json_array(), J_ARRAY); }
static int on_set_begin(void *ud, uint64_t n) { return open_container(ud, json_array(), J_ARRAY); }
static int on_map_begin(void *ud, uint64_t n) { return open_container(ud, json_array(), J_MAP); }

static int on_object_begin(void *ud, uint64_t n) {
    struct jb *jb = ud;
    if (jb->sp && jb->st[jb->sp - 1].kind == J_ERROR) {
        /* An error's extra props merge into the error's own JSON object;
         * they still take a number of their own. */
        json_t *err = jb->st[jb->sp - 1].c;
        if (remember(jb, err, 1)) return 1;
        struct jframe *f = &jb->st[jb->sp++];
        memset(f, 0, sizeof *f);
        f->c = err;
        f->kind = J_PROPS;
        f->index = jb->nobj - 1;
        return 0;
    }
    return open_container(jb, json_object(), J_OBJECT);
}

static int on_error_begin(void *ud, const char *name, size_t name_len, const char *message,
                          size_t message_len, const char *stack, size_t stack_len) {
    struct jb *jb = ud;
    /* {"name":"","message":""} and ,"stack":"" */
    if (charge(jb, 24 + name_len + message_len + (stack ? 11 + stack_len : 0))) return 1;
    json_t *o = json_object();
    if (!o) return jfail(jb, WIRE_ERR_NOMEM);
    if (json_object_set_new_nocheck(o, "name", string_from_wtf8(name, name_len)) ||
        json_object_set_new_nocheck(o, "message", string_from_wtf8(message, message_len)) ||
        (stack && json_object_set_new_nocheck(o, "stack", string_from_wtf8(stack, stack_len)))) {
        json_decref(o);
        return jfail(jb, WIRE_ERR_NOMEM);
    }
    return open_container(jb, o, J_ERROR);
}

static int on_backref(void *ud, uint64_t index) {
    struct jb *jb = ud;
    /* The decoder guarantees index < nobj. */
    if (jb->open[index]) return jfail(jb, WIRE_ERR_MALFORMED);
    if (charge(jb, 2)) return 1;
    return attach(jb, json_incref(jb->objs[index]), 0);
}

static int on_stub(void *ud, uint64_t cap_index) {
    json_t *o = json_object();
    if (!o) return jfail(ud, WIRE_ERR_NOMEM);
    if (json_object_set_new_nocheck(o, "$stub", json_integer((json_int_t)cap_index))) {
        json_decref(o);
        return jfail(ud, WIRE_ERR_NOMEM);
    }
    if (charge(ud, 11)) { /* {"$stub":N} */
        json_decref(o);
        return 1;
    }
    return attach(ud, o, 0);
}

static const struct wire_visitor tree_visitor = {
    .undefined_ = on_undefined,
    .null_ = on_null,
    .boolean = on_boolean,
    .number = on_number,
    .bigint = on_bigint,
    .string = on_string,
    .date = on_date,
    .regexp = on_regexp,
    .array_begin = on_array_begin,
    .hole = on_hole,
    .array_end = close_container,
    .object_begin = on_object_begin,
    .key = on_key,
    .object_end = close_container,
    .map_begin = on_map_begin,
    .map_end = close_container,
    .set_begin = on_set_begin,
    .set_end = close_container,
    .bytes = on_bytes,
    .error_begin = on_error_begin,
    .error_end = close_container,
    .backref = on_backref,
    .stub = on_stub,
};

/* ---- printing the tree ------------------------------------------------------ */

static void print_str(struct wire_buf *b, const char *s, size_t n) {
    wire_put_u8(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        wire_put_raw(b, s + run, i - run);
        run = i + 1;
        char esc[8];
        switch (c) {
        case '"': wire_put_raw(b, "\\\"", 2); break;
        case '\\': wire_put_raw(b, "\\\\", 2); break;
        case '\n': wire_put_raw(b, "\\n", 2); break;
        case '\r': wire_put_raw(b, "\\r", 2); break;
        case '\t': wire_put_raw(b, "\\t", 2); break;
        case '\b': wire_put_raw(b, "\\b", 2); break;
        case '\f': wire_put_raw(b, "\\f", 2); break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            wire_put_raw(b, esc, 6);
        }
    }
    wire_put_raw(b, s + run, n - run);
    wire_put_u8(b, '"');
}

/* Numbers as JavaScript's Number::toString writes them (so as
 * JSON.stringify does): the shortest digits that read back as the same
 * double, then placed as an integer, a plain decimal or an exponent form
 * by the same thresholds (1e21 and 1e-7). */
/* Most numbers that cross are small integers: their digits without printf. */
static int print_integer(struct wire_buf *b, long long v) {
    char buf[1 + WIRE_U64_DIGITS];
    char *p = wire_u64_digits(v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v, buf + 1);
    if (v < 0) *--p = '-';
    return wire_put_raw(b, p, (size_t)(buf + sizeof buf - p));
}

static void print_number(struct wire_buf *b, double d) {
    char buf[64], digits[24], text[64];
    if (d == 0) {
        wire_put_u8(b, '0'); /* -0 too */
        return;
    }
    /* Integers below 2^53 print as their digits; skipping the search below
     * matters because most numbers that cross are small integers. */
    if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == (double)(int64_t)d) {
        print_integer(b, (long long)d);
        return;
    }
    /* If p significant digits read back exactly, so do p+1: binary search
     * for the fewest; 17 always suffice for a double. */
    int lo = 1, hi = 17;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        snprintf(buf, sizeof buf, "%.*e", mid - 1, d);
        if (strtod(buf, NULL) == d) hi = mid;
        else lo = mid + 1;
    }
    snprintf(buf, sizeof buf, "%.*e", lo - 1, d);
    /* buf is "[-]D[.DDD]e±XX" (the point may be a host's LC_NUMERIC comma). */
    const char *p = buf;
    int neg = *p == '-';
    if (neg) p++;
    int k = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[k++] = *p;
    while (k > 1 && digits[k - 1] == '0') k--;
    int n = atoi(p + 1) + 1; /* the decimal point sits after n digits */
    size_t o = 0;
    if (neg) text[o++] = '-';
    if (k <= n && n <= 21) {
        memcpy(text + o, digits, (size_t)k);
        o += (size_t)k;
        for (int i = k; i < n; i++) text[o++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(text + o, digits, (size_t)n);
        o += (size_t)n;
        text[o++] = '.';
        memcpy(text + o, digits + n, (size_t)(k - n));
        o += (size_t)(k - n);
    } else if (-6 < n && n <= 0) {
        text[o++] = '0';
        text[o++] = '.';
        for (int i = n; i < 0; i++) text[o++] = '0';
        memcpy(text + o, digits, (size_t)k);
        o += (size_t)k;
    } else {
        text[o++] = digits[0];
        if (k > 1) {
            text[o++] = '.';
            memcpy(text + o, digits + 1, (size_t)(k - 1));
            o += (size_t)(k - 1);
        }
        o += (size_t)snprintf(text + o, sizeof text - o, "e%c%d", n - 1 >= 0 ? '+' : '-',
                              abs(n - 1));
    }
    wire_put_raw(b, text, o);
}

static int print_json(struct wire_buf *b, json_t *v, int depth) {
    if (b->status != WIRE_OK) return b->status;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (depth >= WIRE_JSON_MAX_DEPTH) return WIRE_ERR_TOO_DEEP;
        wire_put_u8(b, '{');
        int first = 1;
        for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
            if (!first) wire_put_u8(b, ',');
            first = 0;
            print_str(b, json_object_iter_key(it), json_object_iter_key_len(it));
            wire_put_u8(b, ':');
            int rc = print_json(b, json_object_iter_value(it), depth + 1);
            if (rc != WIRE_OK) return rc;
        }
        return wire_put_u8(b, '}');
    }
    case JSON_ARRAY: {
        if (depth >= WIRE_JSON_MAX_DEPTH) return WIRE_ERR_TOO_DEEP;
        wire_put_u8(b, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) wire_put_u8(b, ',');
            int rc = print_json(b, json_array_get(v, i), depth + 1);
            if (rc != WIRE_OK) return rc;
        }
        return wire_put_u8(b, ']');
    }
    case JSON_STRING:
        print_str(b, json_string_value(v), json_string_length(v));
        return b->status;
    case JSON_INTEGER: return print_integer(b, (long long)json_integer_value(v));
    case JSON_REAL: print_number(b, json_real_value(v)); return b->status;
    case JSON_TRUE: return wire_put_raw(b, "true", 4);
    case JSON_FALSE: return wire_put_raw(b, "false", 5);
    default: return wire_put_raw(b, "null", 4);
    }
}

/* ---- the streaming fast path ------------------------------------------------ */

/* Most payloads a host sees are plain JSON already: a call's arguments
 * array of numbers, strings and small objects. Those are printed while they
 * are decoded, with no tree. Anything the tree path treats specially (a
 * backref, Map, Set, Date, BigInt, error, bytes, stub, a hole in an object,
 * a lone surrogate whose replacement could make two keys equal), an object
 * with more keys than the duplicate check below covers, deep nesting, or
 * any failure sends the payload to the tree path instead, which therefore
 * stays the one authority on errors and limits. */
#define FAST_MAX_DEPTH 8
#define FAST_MAX_KEYS 16

struct fast_frame {
    uint8_t object;
    uint8_t nkeys;
    uint32_t printed;                   /* values printed so far */
    const char *keys[FAST_MAX_KEYS];    /* an object's keys so far, in the payload */
    size_t key_lens[FAST_MAX_KEYS];
};

struct fast_json {
    struct wire_buf *b;
    size_t sp;
    const char *key;                    /* a key waiting for its value */
    size_t key_len;
    struct fast_frame st[FAST_MAX_DEPTH];
};

static int has_lone_surrogate(const char *s, size_t n) {
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == 0xed && p[i + 1] >= 0xa0) return 1;
    return 0;
}

/* Before a value: its separator and, in an object, its key. 1 to skip the
 * value (undefined in an object prints nothing). */
static int fast_lead(struct fast_json *fj, int undef) {
    if (fj->sp == 0) return 0;
    struct fast_frame *f = &fj->st[fj->sp - 1];
    if (f->object && undef) return 1;
    if (f->printed++) wire_put_u8(fj->b, ',');
    if (f->object) {
        print_str(fj->b, fj->key, fj->key_len);
        wire_put_u8(fj->b, ':');
    }
    return 0;
}

/* What the fast path leaves to the tree: each refuses, which stops the
 * decoder (WIRE_ERR_VISITOR). */
static int fast_no(void *ud) { return 1; }
static int fast_no_count(void *ud, uint64_t n) { return 1; }
static int fast_no_date(void *ud, double ms) { return 1; }
static int fast_no_bigint(void *ud, int neg, const uint8_t *mag, size_t len) { return 1; }
static int fast_no_regexp(void *ud, const char *src, size_t sl, const char *fl, size_t fll) {
    return 1;
}
static int fast_no_bytes(void *ud, enum wire_bytes_kind kind, const uint8_t *p, size_t len) {
    return 1;
}
static int fast_no_error(void *ud, const char *name, size_t nl, const char *msg, size_t ml,
                         const char *stack, size_t sl) {
    return 1;
}

static int fast_undefined(void *ud) {
    struct fast_json *fj = ud;
    if (!fast_lead(fj, 1)) wire_put_raw(fj->b, "null", 4);
    return fj->b->status != WIRE_OK;
}
static int fast_null(void *ud) {
    struct fast_json *fj = ud;
    fast_lead(fj, 0);
    return wire_put_raw(fj->b, "null", 4) != WIRE_OK;
}
static int fast_boolean(void *ud, int v) {
    struct fast_json *fj = ud;
    fast_lead(fj, 0);
    return (v ? wire_put_raw(fj->b, "true", 4) : wire_put_raw(fj->b, "false", 5)) != WIRE_OK;
}
static int fast_number(void *ud, double v) {
    struct fast_json *fj = ud;
    fast_lead(fj, 0);
    if (isfinite(v)) print_number(fj->b, v);
    else wire_put_raw(fj->b, "null", 4);
    return fj->b->status != WIRE_OK;
}
static int fast_string(void *ud, const char *s, size_t n) {
    struct fast_json *fj = ud;
    if (has_lone_surrogate(s, n)) return 1;
    fast_lead(fj, 0);
    print_str(fj->b, s, n);
    return fj->b->status != WIRE_OK;
}
static int fast_begin(struct fast_json *fj, int object) {
    if (fj->sp == FAST_MAX_DEPTH) return 1;
    fast_lead(fj, 0);
    struct fast_frame *f = &fj->st[fj->sp++];
    f->object = (uint8_t)object;
    f->nkeys = 0;
    f->printed = 0;
    return wire_put_u8(fj->b, object ? '{' : '[') != WIRE_OK;
}
static int fast_array_begin(void *ud, uint64_t n) { return fast_begin(ud, 0); }
static int fast_object_begin(void *ud, uint64_t n) {
    return n > FAST_MAX_KEYS || fast_begin(ud, 1);
}
static int fast_end(void *ud) {
    struct fast_json *fj = ud;
    struct fast_frame *f = &fj->st[--fj->sp];
    return wire_put_u8(fj->b, f->object ? '}' : ']') != WIRE_OK;
}
static int fast_hole(void *ud) { return fast_undefined(ud); }
static int fast_key(void *ud, const char *s, size_t n) {
    struct fast_json *fj = ud;
    struct fast_frame *f = &fj->st[fj->sp - 1];
    if (f->nkeys == FAST_MAX_KEYS || has_lone_surrogate(s, n)) return 1;
    /* jansson keeps one value per key, at the first key's place: a
     * repeated key (only a hand-made payload has one) is the tree's job. */
    for (unsigned i = 0; i < f->nkeys; i++)
        if (f->key_lens[i] == n && memcmp(f->keys[i], s, n) == 0) return 1;
    f->keys[f->nkeys] = s;
    f->key_lens[f->nkeys++] = n;
    fj->key = s;
    fj->key_len = n;
    return 0;
}

static const struct wire_visitor fast_visitor = {
    .undefined_ = fast_undefined, .null_ = fast_null, .boolean = fast_boolean,
    .number = fast_number, .string = fast_string, .array_begin = fast_array_begin,
    .hole = fast_hole, .array_end = fast_end, .object_begin = fast_object_begin,
    .key = fast_key, .object_end = fast_end,
    .bigint = fast_no_bigint, .date = fast_no_date, .regexp = fast_no_regexp,
    .map_begin = fast_no_count, .map_end = fast_no, .set_begin = fast_no_count, .set_end = fast_no,
    .bytes = fast_no_bytes, .error_begin = fast_no_error, .error_end = fast_no,
    .backref = fast_no_count, .stub = fast_no_count,
};

static char *to_json_fast(const uint8_t *data, size_t len, const struct wire_limits *limits,
                          size_t max_json_bytes) {
    struct wire_buf b;
    wire_buf_init(&b, max_json_bytes);
    struct fast_json fj;
    fj.b = &b;
    fj.sp = 0;
    int rc = wire_decode(data, len, limits, &fast_visitor, &fj, NULL);
    if (rc == WIRE_OK && b.status == WIRE_OK) {
        b.limit = 0;
        wire_put_u8(&b, 0);
    }
    char *text = (char *)wire_buf_take(&b, NULL);
    if (rc != WIRE_OK || b.status != WIRE_OK) {
        free(text);
        return NULL;
    }
    return text;
}

char *wire_to_json(const uint8_t *data, size_t len, const struct wire_limits *limits,
                   size_t max_json_bytes, int *status) {
    if (!max_json_bytes) max_json_bytes = WIRE_JSON_DEFAULT_MAX;
    char *fast = to_json_fast(data, len, limits, max_json_bytes);
    if (fast) {
        if (status) *status = WIRE_OK;
        return fast;
    }
    return wire_to_json_tree(data, len, limits, max_json_bytes, status);
}

char *wire_to_json_tree(const uint8_t *data, size_t len, const struct wire_limits *limits,
                        size_t max_json_bytes, int *status) {
    if (!max_json_bytes) max_json_bytes = WIRE_JSON_DEFAULT_MAX;
    /* Not calloc: the frame stack is large and each frame is set when it
     * is pushed, so zeroing it on every call would cost more than the
     * conversion of a typical small value. */
    struct jb *jb = malloc(sizeof *jb);
    char *text = NULL;
    int rc;
    if (!jb) {
        rc = WIRE_ERR_NOMEM;
        goto out;
    }
    memset(jb, 0, offsetof(struct jb, st));
    memset(&jb->root, 0, sizeof *jb - offsetof(struct jb, root));
    jb->budget = max_json_bytes;
    rc = wire_decode(data, len, limits, &tree_visitor, jb, NULL);
    if (rc == WIRE_ERR_VISITOR) rc = jb->status;
    if (rc == WIRE_OK) {
        struct wire_buf b;
        wire_buf_init(&b, max_json_bytes);
        rc = print_json(&b, jb->root, 0);
        if (rc == WIRE_OK) {
            b.limit = 0; /* the NUL is not part of the text's budget */
            rc = wire_put_u8(&b, 0);
        }
        text = (char *)wire_buf_take(&b, NULL);
        if (rc != WIRE_OK) {
            free(text);
            text = NULL;
        }
    }
    /* On failure the decoder may have stopped inside containers. */
    while (jb->sp) close_container(jb);
    for (size_t i = 0; i < jb->nobj; i++) json_decref(jb->objs[i]);
    free(jb->objs);
    free(jb->open);
    json_decref(jb->root);
out:
    free(jb);
    if (status) *status = rc;
    return text;
}

/* ---- JSON text to a payload --------------------------------------------------- */

static int encode_json(struct wire_buf *b, json_t *v, size_t depth) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (depth >= WIRE_MAX_DEPTH) return WIRE_ERR_TOO_DEEP;
        wire_put_object_begin(b, json_object_size(v));
        for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
            wire_put_key(b, json_object_iter_key(it), json_object_iter_key_len(it));
            int rc = encode_json(b, json_object_iter_value(it), depth + 1);
            if (rc != WIRE_OK) return rc;
        }
        return b->status;
    }
    case JSON_ARRAY: {
        if (depth >= WIRE_MAX_DEPTH) return WIRE_ERR_TOO_DEEP;
        wire_put_array_begin(b, json_array_size(v));
        for (size_t i = 0; i < json_array_size(v); i++) {
            int rc = encode_json(b, json_array_get(v, i), depth + 1);
            if (rc != WIRE_OK) return rc;
        }
        return b->status;
    }
    case JSON_STRING: return wire_put_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: return wire_put_number(b, (double)json_integer_value(v));
    case JSON_REAL: return wire_put_number(b, json_real_value(v));
    case JSON_TRUE: return wire_put_bool(b, 1);
    case JSON_FALSE: return wire_put_bool(b, 0);
    default: return wire_put_null(b);
    }
}

static int json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* A lone integer of up to 15 digits (exact as a double), true, false or
 * null: what a host callback most often returns, encoded without building
 * a JSON tree. Anything else, "-0" included (a float), goes to the full
 * parser. Returns the payload, or NULL to fall through. */
static uint8_t *scalar_fast(const char *s, size_t n, size_t max_bytes, size_t *out_len, int *rc) {
    while (n && json_space(*s)) s++, n--;
    while (n && json_space(s[n - 1])) n--;
    enum { NUL_LITERAL, BOOLEAN, INTEGER } kind;
    int64_t v = 0;
    if (n == 4 && memcmp(s, "null", 4) == 0) {
        kind = NUL_LITERAL;
    } else if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 5 && memcmp(s, "false", 5) == 0)) {
        kind = BOOLEAN;
        v = n == 4;
    } else {
        size_t i = n && s[0] == '-';
        size_t digits = n - i;
        if (!digits || digits > 15 || (s[i] == '0' && (digits > 1 || i))) return NULL;
        for (size_t k = i; k < n; k++) {
            if (s[k] < '0' || s[k] > '9') return NULL;
            v = v * 10 + (s[k] - '0');
        }
        kind = INTEGER;
        if (i) v = -v;
    }
    struct wire_buf b;
    wire_buf_init(&b, max_bytes);
    wire_put_header(&b);
    if (kind == NUL_LITERAL) wire_put_null(&b);
    else if (kind == BOOLEAN) wire_put_bool(&b, (int)v);
    else wire_put_number(&b, (double)v);
    *rc = b.status;
    uint8_t *out = wire_buf_take(&b, out_len);
    if (*rc != WIRE_OK) {
        free(out);
        return NULL;
    }
    return out;
}

uint8_t *wire_from_json(const char *json, size_t json_len, size_t max_bytes, size_t *out_len,
                        int *status, char *err, size_t err_size) {
    json_error_t jerr;
    uint8_t *out = NULL;
    int rc;
    if (out_len) *out_len = 0;
    size_t fast_len = 0;
    rc = WIRE_OK;
    if (json && (out = scalar_fast(json, json_len, max_bytes, &fast_len, &rc)) != NULL) {
        if (out_len) *out_len = fast_len;
        goto out;
    }
    if (rc != WIRE_OK) {
        if (err && err_size) snprintf(err, err_size, "%s", wire_status_message(rc));
        goto out;
    }
    /* Numbers as doubles: JSON.parse has no integers either, and jansson
     * would otherwise refuse integers beyond int64. */
    json_t *root = json_loadb(json ? json : "", json ? json_len : 0,
                              JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
    if (!root) {
        /* jansson leaves the error empty when an allocation fails inside
         * the parser (and sometimes reports it as a syntax error, which
         * we cannot tell apart). */
        enum json_error_code code = json_error_code(&jerr);
        if (!jerr.text[0]) code = json_error_out_of_memory;
        rc = code == json_error_out_of_memory    ? WIRE_ERR_NOMEM
             : code == json_error_stack_overflow ? WIRE_ERR_TOO_DEEP
                                                 : WIRE_ERR_MALFORMED;
        if (err && err_size)
            snprintf(err, err_size, "line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
        goto out;
    }
    struct wire_buf b;
    wire_buf_init(&b, max_bytes);
    wire_put_header(&b);
    rc = encode_json(&b, root, 0);
    json_decref(root);
    if (rc == WIRE_OK) rc = b.status;
    size_t n;
    out = wire_buf_take(&b, &n);
    if (rc != WIRE_OK) {
        free(out);
        out = NULL;
        if (err && err_size) snprintf(err, err_size, "%s", wire_status_message(rc));
    } else if (out_len) {
        *out_len = n;
    }
out:
    if (status) *status = rc;
    return out;
}

/* The inverse of the JSON bridge's bytes mapping, for hosts that read it
 * back: standard or URL-safe alphabet, padding and whitespace ignored. */
uint8_t *wire_base64_decode(const char *s, size_t len, size_t *out_len) {
    uint8_t *out = malloc(len / 4 * 3 + 3);
    if (!out) return NULL;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        int v;
        if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
        else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
        else if (ch == '+' || ch == '-') v = 62;
        else if (ch == '/' || ch == '_') v = 63;
        else if (ch == '=' || ch == '\n' || ch == '\r' || ch == ' ' || ch == '\t') continue;
        else {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = o;
    return out;
}
