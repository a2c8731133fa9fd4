/* The wire encoder and decoder: every tag round-trips, and every way a
 * payload can be wrong is refused with the right status.
 *
 * Most cases encode with the put functions, decode with a visitor that
 * writes a one-line trace of its callbacks, and compare traces; malformed
 * inputs are written out byte by byte.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>

#include "check.h"
#include "wire/wire.h"
#include "wire/wire_internal.h"

/* ---- a visitor that records what it sees --------------------------------- */

struct trace {
    char text[8192];
    size_t len;
    int events;
    int refuse_at; /* refuse the event with this number (-1: never) */
};

static void out(struct trace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(struct trace *t, const char *fmt, ...) {
    va_list ap;
    if (t->len && t->len < sizeof t->text - 1) t->text[t->len++] = ' ';
    va_start(ap, fmt);
    int n = vsnprintf(t->text + t->len, sizeof t->text - t->len, fmt, ap);
    va_end(ap);
    if (n > 0) t->len += (size_t)n < sizeof t->text - t->len ? (size_t)n : sizeof t->text - t->len - 1;
}

static void out_bytes(struct trace *t, const char *prefix, const void *p, size_t n) {
    char buf[512];
    size_t o = 0;
    const uint8_t *b = p;
    for (size_t i = 0; i < n && o + 5 < sizeof buf; i++) {
        if (b[i] >= 0x21 && b[i] < 0x7f && b[i] != '\\')
            buf[o++] = (char)b[i];
        else
            o += (size_t)snprintf(buf + o, sizeof buf - o, "\\%02x", b[i]);
    }
    buf[o] = 0;
    out(t, "%s%s", prefix, buf);
}

static int ev(struct trace *t) { return t->events++ == t->refuse_at; }

static int t_undefined(void *ud) { out(ud, "u"); return ev(ud); }
static int t_null(void *ud) { out(ud, "n"); return ev(ud); }
static int t_bool(void *ud, int v) { out(ud, v ? "T" : "F"); return ev(ud); }
static int t_number(void *ud, double v) {
    if (v == 0 && signbit(v)) out(ud, "-0");
    else out(ud, "%.17g", v);
    return ev(ud);
}
static int t_bigint(void *ud, int neg, const uint8_t *m, size_t n) {
    out(ud, "big%c%zu", neg ? '-' : '+', n);
    return ev(ud);
}
static int t_string(void *ud, const char *s, size_t n) { out_bytes(ud, "s:", s, n); return ev(ud); }
static int t_date(void *ud, double ms) { out(ud, "date(%.17g)", ms); return ev(ud); }
static int t_regexp(void *ud, const char *s, size_t n, const char *f, size_t fn) {
    out_bytes(ud, "re:", s, n);
    out_bytes(ud, "/", f, fn);
    return ev(ud);
}
static int t_array_begin(void *ud, uint64_t n) { out(ud, "[%llu", (unsigned long long)n); return ev(ud); }
static int t_hole(void *ud) { out(ud, "_"); return ev(ud); }
static int t_array_end(void *ud) { out(ud, "]"); return ev(ud); }
static int t_object_begin(void *ud, uint64_t n) { out(ud, "{%llu", (unsigned long long)n); return ev(ud); }
static int t_key(void *ud, const char *s, size_t n) { out_bytes(ud, "k:", s, n); return ev(ud); }
static int t_object_end(void *ud) { out(ud, "}"); return ev(ud); }
static int t_map_begin(void *ud, uint64_t n) { out(ud, "M%llu", (unsigned long long)n); return ev(ud); }
static int t_map_end(void *ud) { out(ud, "/M"); return ev(ud); }
static int t_set_begin(void *ud, uint64_t n) { out(ud, "S%llu", (unsigned long long)n); return ev(ud); }
static int t_set_end(void *ud) { out(ud, "/S"); return ev(ud); }
static int t_bytes(void *ud, enum wire_bytes_kind k, const uint8_t *p, size_t n) {
    char prefix[16];
    snprintf(prefix, sizeof prefix, "b%d:", (int)k);
    out_bytes(ud, prefix, p, n);
    return ev(ud);
}
static int t_error_begin(void *ud, const char *name, size_t nl, const char *msg, size_t ml,
                         const char *stack, size_t sl) {
    out_bytes(ud, "E:", name, nl);
    out_bytes(ud, "msg:", msg, ml);
    if (stack) out_bytes(ud, "stack:", stack, sl);
    return ev(ud);
}
static int t_error_end(void *ud) { out(ud, "/E"); return ev(ud); }
static int t_backref(void *ud, uint64_t i) { out(ud, "@%llu", (unsigned long long)i); return ev(ud); }
static int t_stub(void *ud, uint64_t i) { out(ud, "$%llu", (unsigned long long)i); return ev(ud); }

static const struct wire_visitor tracer = {
    t_undefined, t_null, t_bool, t_number, t_bigint, t_string, t_date, t_regexp,
    t_array_begin, t_hole, t_array_end, t_object_begin, t_key, t_object_end,
    t_map_begin, t_map_end, t_set_begin, t_set_end, t_bytes, t_error_begin,
    t_error_end, t_backref, t_stub,
};

/* Decodes and returns the trace (static storage), or "ERR <status> @<offset>". */
static const char *trace_caps(const uint8_t *p, size_t n, uint64_t caps) {
    static struct trace t;
    memset(&t, 0, sizeof t);
    t.refuse_at = -1;
    struct wire_limits lim = {0, caps};
    size_t off = 0;
    int rc = wire_decode(p, n, &lim, &tracer, &t, &off);
    if (rc != WIRE_OK) snprintf(t.text, sizeof t.text, "ERR %d @%zu", rc, off);
    return t.text;
}
static const char *trace(const uint8_t *p, size_t n) { return trace_caps(p, n, 0); }

static int decode_status(const uint8_t *p, size_t n) { return wire_validate(p, n, NULL); }

#define RAW(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

/* A buffer that already holds the header. */
static struct wire_buf start(void) {
    struct wire_buf b;
    wire_buf_init(&b, 0);
    wire_put_header(&b);
    return b;
}

/* ---- varints ------------------------------------------------------------- */

TEST(varint_roundtrip_and_lengths) {
    const uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, UINT64_C(1) << 32,
                             UINT64_C(1) << 63, UINT64_MAX};
    const size_t lens[] = {1, 1, 1, 2, 2, 2, 3, 5, 10, 10};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        struct wire_buf b;
        wire_buf_init(&b, 0);
        CHECK_EQ_INT(wire_put_varint(&b, vals[i]), WIRE_OK);
        CHECK_EQ_INT(b.len, lens[i]);
        size_t pos = 0;
        uint64_t v = 0;
        CHECK_EQ_INT(wire_get_varint(b.data, b.len, &pos, &v), WIRE_OK);
        CHECK(v == vals[i]);
        CHECK_EQ_INT(pos, b.len);
        for (size_t cut = 0; cut < b.len; cut++) {
            pos = 0;
            CHECK_EQ_INT(wire_get_varint(b.data, cut, &pos, &v), WIRE_ERR_TRUNCATED);
            CHECK_EQ_INT(pos, 0);
        }
        wire_buf_free(&b);
    }
}

TEST(varint_overlong_and_over_64_bits) {
    size_t pos = 0;
    uint64_t v;
    CHECK_EQ_INT(wire_get_varint(RAW(0x80, 0x00), &pos, &v), WIRE_ERR_MALFORMED);
    pos = 0;
    CHECK_EQ_INT(wire_get_varint(RAW(0x81, 0x80, 0x00), &pos, &v), WIRE_ERR_MALFORMED);
    pos = 0;
    CHECK_EQ_INT(wire_get_varint(RAW(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
                                 &pos, &v), WIRE_OK);
    CHECK(v == UINT64_MAX);
    pos = 0;
    CHECK_EQ_INT(wire_get_varint(RAW(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02),
                                 &pos, &v), WIRE_ERR_MALFORMED);
    pos = 0;
    CHECK_EQ_INT(wire_get_varint(RAW(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81,
                                     0x00), &pos, &v), WIRE_ERR_MALFORMED);
    /* The same refusals inside a payload. */
    CHECK_EQ_STR(trace(RAW(1, WIRE_ARRAY, 0x80, 0x00)), "ERR -3 @2");
    CHECK_EQ_STR(trace(RAW(1, WIRE_BACKREF, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                           0x7f)), "ERR -3 @2");
}

/* ---- scalars ------------------------------------------------------------- */

TEST(scalars_roundtrip) {
    struct wire_buf b = start();
    wire_put_array_begin(&b, 4);
    wire_put_undefined(&b);
    wire_put_null(&b);
    wire_put_bool(&b, 1);
    wire_put_bool(&b, 0);
    CHECK_EQ_INT(b.status, WIRE_OK);
    CHECK_EQ_STR(trace(b.data, b.len), "[4 u n T F ]");
    wire_buf_free(&b);
}

TEST(numbers_pick_int_or_float) {
    const double vals[] = {0, 1, -1, 42, 9007199254740992.0, -9007199254740992.0, 0.5,
                           9007199254740994.0, 1e300, -0.0, NAN, INFINITY, -INFINITY, 5e-324};
    const uint8_t tags[] = {WIRE_INT, WIRE_INT, WIRE_INT, WIRE_INT, WIRE_INT, WIRE_INT,
                            WIRE_FLOAT, WIRE_FLOAT, WIRE_FLOAT, WIRE_FLOAT, WIRE_FLOAT,
                            WIRE_FLOAT, WIRE_FLOAT, WIRE_FLOAT};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        struct wire_buf b = start();
        CHECK_EQ_INT(wire_put_number(&b, vals[i]), WIRE_OK);
        CHECK_EQ_INT(b.data[1], tags[i]);
        char want[64];
        if (vals[i] == 0 && signbit(vals[i])) snprintf(want, sizeof want, "-0");
        else snprintf(want, sizeof want, "%.17g", vals[i]);
        CHECK_EQ_STR(trace(b.data, b.len), want);
        wire_buf_free(&b);
    }
}

TEST(int_zigzag_bytes) {
    struct wire_buf b = start();
    wire_put_number(&b, 0);
    wire_put_number(&b, -1);
    wire_put_number(&b, 1);
    wire_put_number(&b, -64);
    wire_put_number(&b, 64);
    const uint8_t want[] = {1, 5, 0, 5, 1, 5, 2, 5, 0x7f, 5, 0x80, 0x01};
    CHECK_EQ_INT(b.len, sizeof want);
    CHECK(memcmp(b.data, want, sizeof want) == 0);
    wire_buf_free(&b);
}

TEST(int_magnitude_limit_in_decoder) {
    /* zigzag 2^54 is +2^53, 2^54-1 is -2^53: the edges; one past is refused. */
    CHECK_EQ_STR(trace(RAW(1, WIRE_INT, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20)),
                 "9007199254740992");
    CHECK_EQ_STR(trace(RAW(1, WIRE_INT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f)),
                 "-9007199254740992");
    CHECK_EQ_STR(trace(RAW(1, WIRE_INT, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20)),
                 "ERR -3 @1");
    CHECK_EQ_STR(trace(RAW(1, WIRE_INT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)),
                 "ERR -3 @1");
}

TEST(float_and_date_bytes_are_little_endian) {
    struct wire_buf b = start();
    wire_put_number(&b, 1.5);
    const uint8_t want[] = {1, WIRE_FLOAT, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f};
    CHECK_EQ_INT(b.len, sizeof want);
    CHECK(memcmp(b.data, want, sizeof want) == 0);
    wire_buf_free(&b);
    b = start();
    wire_put_array_begin(&b, 2);
    wire_put_date(&b, 1e12);
    wire_put_date(&b, NAN);
    CHECK_EQ_STR(trace(b.data, b.len), "[2 date(1000000000000) date(nan) ]");
    wire_buf_free(&b);
    CHECK_EQ_STR(trace(RAW(1, WIRE_DATE, 0, 0, 0, 0, 0, 0, 0)), "ERR -2 @2");
}

TEST(bigint_roundtrip_and_canonical_form) {
    struct wire_buf b = start();
    wire_put_array_begin(&b, 4);
    wire_put_bigint(&b, 0, (const uint8_t[]){1, 2, 0, 0}, 4); /* high zeros dropped */
    wire_put_bigint(&b, 1, (const uint8_t[]){0xff}, 1);
    wire_put_bigint(&b, 1, (const uint8_t[]){0, 0}, 2); /* -0n is 0n */
    wire_put_bigint(&b, 0, NULL, 0);
    CHECK_EQ_INT(b.status, WIRE_OK);
    CHECK_EQ_STR(trace(b.data, b.len), "[4 big+2 big-1 big+0 big+0 ]");
    wire_buf_free(&b);
    CHECK_EQ_STR(trace(RAW(1, WIRE_BIGINT, 0, 2, 1, 0)), "ERR -3 @1");   /* high zero */
    CHECK_EQ_STR(trace(RAW(1, WIRE_BIGINT, 1, 0)), "ERR -3 @1");         /* -0 */
    CHECK_EQ_STR(trace(RAW(1, WIRE_BIGINT, 2, 1, 1)), "ERR -3 @1");      /* sign byte */
    CHECK_EQ_STR(trace(RAW(1, WIRE_BIGINT, 0, 3, 1, 2)), "ERR -2 @1");   /* short */
    b = start();
    CHECK_EQ_INT(wire_put_bigint(&b, 0, NULL, 3), WIRE_ERR_MALFORMED);
    wire_buf_free(&b);
}

/* ---- strings and WTF-8 --------------------------------------------------- */

TEST(strings_roundtrip) {
    struct wire_buf b = start();
    wire_put_array_begin(&b, 5);
    wire_put_string(&b, "", 0);
    wire_put_string(&b, "hi", 2);
    wire_put_string(&b, "a\0b", 3);
    wire_put_string(&b, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
    wire_put_string(&b, "\xed\xa0\x80x\xed\xbf\xbf", 7); /* lone surrogates */
    CHECK_EQ_INT(b.status, WIRE_OK);
    CHECK_EQ_STR(trace(b.data, b.len),
                 "[5 s: s:hi s:a\\00b s:\\c3\\a9\\e2\\82\\ac\\f0\\9f\\98\\80 "
                 "s:\\ed\\a0\\80x\\ed\\bf\\bf ]");
    wire_buf_free(&b);
}

static const struct {
    const char *bytes;
    size_t len;
    int valid;
} wtf8_cases[] = {
    {"abc", 3, 1},
    {"\x7f", 1, 1},
    {"\xc2\x80", 2, 1},
    {"\xdf\xbf", 2, 1},
    {"\xe0\xa0\x80", 3, 1},
    {"\xef\xbf\xbf", 3, 1},
    {"\xf0\x90\x80\x80", 4, 1},
    {"\xf4\x8f\xbf\xbf", 4, 1},          /* U+10FFFF */
    {"\xed\xa0\x80", 3, 1},              /* lone lead surrogate */
    {"\xed\xbf\xbf", 3, 1},              /* lone trail surrogate */
    {"\xed\xb0\x80\xed\xa0\x80", 6, 1},  /* trail then lead: two lone ones */
    {"\xed\xa0\x80" "a\xed\xb0\x80", 7, 1},
    {"\xed\xa0\x80\xed\xb0\x80", 6, 0},  /* a pair must be one 4-byte sequence */
    {"\xed\xaf\xbf\xed\xbf\xbf", 6, 0},
    {"\xc0\x80", 2, 0},                  /* overlong NUL */
    {"\xc1\xbf", 2, 0},
    {"\xe0\x80\x80", 3, 0},              /* overlong 3-byte */
    {"\xe0\x9f\xbf", 3, 0},
    {"\xf0\x80\x80\x80", 4, 0},          /* overlong 4-byte */
    {"\xf0\x8f\xbf\xbf", 4, 0},
    {"\xf4\x90\x80\x80", 4, 0},          /* U+110000 */
    {"\xf5\x80\x80\x80", 4, 0},
    {"\xff", 1, 0},
    {"\x80", 1, 0},                      /* stray continuation */
    {"a\xbf", 2, 0},
    {"\xc3", 1, 0},                      /* truncated sequences */
    {"\xe2\x82", 2, 0},
    {"\xf0\x9f\x98", 3, 0},
    {"\xc3" "a", 2, 0},                  /* bad continuation */
    {"\xe2\x28\xa1", 3, 0},
    {"\xf0\x9f\x98" "a", 4, 0},
};

TEST(wtf8_strictness_in_encoder_and_decoder) {
    for (size_t i = 0; i < sizeof wtf8_cases / sizeof wtf8_cases[0]; i++) {
        const char *s = wtf8_cases[i].bytes;
        size_t n = wtf8_cases[i].len;
        int want = wtf8_cases[i].valid ? WIRE_OK : WIRE_ERR_MALFORMED;
        CHECK_EQ_INT(wire_wtf8_valid((const uint8_t *)s, n), wtf8_cases[i].valid);

        struct wire_buf b = start();
        CHECK_EQ_INT(wire_put_string(&b, s, n), want);
        wire_buf_free(&b);

        /* Hand-written payloads, so the decoder is tested on its own: as a
         * string, as an object key, as a regexp source and an error name. */
        uint8_t p[32];
        size_t o = 0;
        p[o++] = 1;
        p[o++] = WIRE_STRING;
        p[o++] = (uint8_t)n;
        memcpy(p + o, s, n);
        o += n;
        if (want != WIRE_OK) CHECK_EQ_STR(trace(p, o), "ERR -3 @2"); /* at the string's length */
        CHECK_EQ_INT(decode_status(p, o), want);
        o = 0;
        p[o++] = 1;
        p[o++] = WIRE_OBJECT;
        p[o++] = 1;
        p[o++] = (uint8_t)n;
        memcpy(p + o, s, n);
        o += n;
        p[o++] = WIRE_NULL;
        CHECK_EQ_INT(decode_status(p, o), want);
        o = 0;
        p[o++] = 1;
        p[o++] = WIRE_REGEXP;
        p[o++] = (uint8_t)n;
        memcpy(p + o, s, n);
        o += n;
        p[o++] = 0;
        CHECK_EQ_INT(decode_status(p, o), want);
        o = 0;
        p[o++] = 1;
        p[o++] = WIRE_ERROR;
        p[o++] = (uint8_t)n;
        memcpy(p + o, s, n);
        o += n;
        p[o++] = 0;
        p[o++] = 0;
        p[o++] = WIRE_OBJECT;
        p[o++] = 0;
        CHECK_EQ_INT(decode_status(p, o), want);
    }
}

TEST(string_length_beyond_input) {
    CHECK_EQ_STR(trace(RAW(1, WIRE_STRING, 5, 'a', 'b')), "ERR -2 @2");
    CHECK_EQ_STR(trace(RAW(1, WIRE_STRING, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                           0x01, 'a')), "ERR -2 @2");
}

TEST(encoder_refuses_bad_key_regexp_error_strings) {
    struct wire_buf b = start();
    CHECK_EQ_INT(wire_put_key(&b, "\xc0\x80", 2), WIRE_ERR_MALFORMED);
    wire_buf_free(&b);
    b = start();
    CHECK_EQ_INT(wire_put_regexp(&b, "a", 1, "\xff", 1), WIRE_ERR_MALFORMED);
    wire_buf_free(&b);
    b = start();
    CHECK_EQ_INT(wire_put_error_begin(&b, "E", 1, "\xed\xa0\x80\xed\xb0\x80", 6, NULL, 0),
                 WIRE_ERR_MALFORMED);
    wire_buf_free(&b);
    b = start();
    CHECK_EQ_INT(wire_put_string(&b, NULL, 1), WIRE_ERR_MALFORMED);
    wire_buf_free(&b);
}

/* ---- containers and object-like values ----------------------------------- */

TEST(regexp_roundtrip) {
    struct wire_buf b = start();
    wire_put_regexp(&b, "a+b", 3, "gi", 2);
    CHECK_EQ_STR(trace(b.data, b.len), "re:a+b /gi");
    wire_buf_free(&b);
}

TEST(containers_roundtrip) {
    struct wire_buf b = start();
    wire_put_object_begin(&b, 4);
    wire_put_key(&b, "arr", 3);
    wire_put_array_begin(&b, 3);
    wire_put_number(&b, 1);
    wire_put_hole(&b);
    wire_put_string(&b, "x", 1);
    wire_put_key(&b, "map", 3);
    wire_put_map_begin(&b, 2);
    wire_put_string(&b, "k", 1);
    wire_put_number(&b, 2);
    wire_put_object_begin(&b, 0);
    wire_put_null(&b);
    wire_put_key(&b, "set", 3);
    wire_put_set_begin(&b, 2);
    wire_put_number(&b, 3);
    wire_put_array_begin(&b, 0);
    wire_put_key(&b, "", 0);
    wire_put_undefined(&b);
    CHECK_EQ_INT(b.status, WIRE_OK);
    CHECK_EQ_STR(trace(b.data, b.len),
                 "{4 k:arr [3 1 _ s:x ] k:map M2 s:k 2 {0 } n /M k:set S2 3 [0 ] /S k: u }");
    wire_buf_free(&b);
}

TEST(bytes_every_kind) {
    const uint8_t data[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    for (int k = 0; k < WIRE_BYTES_KIND_COUNT; k++) {
        size_t elem = wire_bytes_elem_size((unsigned)k);
        CHECK(elem == 1 || elem == 2 || elem == 4 || elem == 8);
        struct wire_buf b = start();
        CHECK_EQ_INT(wire_put_bytes(&b, (enum wire_bytes_kind)k, data, 16), WIRE_OK);
        char want[128];
        snprintf(want, sizeof want,
                 "b%d:\\01\\02\\03\\04\\05\\06\\07\\08\\09\\0a\\0b\\0c\\0d\\0e\\0f\\10", k);
        CHECK_EQ_STR(trace(b.data, b.len), want);
        wire_buf_free(&b);
        if (elem > 1) {
            b = start();
            CHECK_EQ_INT(wire_put_bytes(&b, (enum wire_bytes_kind)k, data, elem + 1),
                         WIRE_ERR_MALFORMED);
            wire_buf_free(&b);
            uint8_t p[] = {1, WIRE_BYTES, (uint8_t)k, 3, 0, 0, 0};
            CHECK_EQ_STR(trace(p, sizeof p), "ERR -3 @1");
        }
    }
    struct wire_buf b = start();
    CHECK_EQ_INT(wire_put_bytes(&b, WIRE_BYTES_KIND_COUNT, data, 1), WIRE_ERR_MALFORMED);
    wire_buf_free(&b);
    b = start();
    CHECK_EQ_INT(wire_put_bytes(&b, WIRE_BYTES_UINT8, NULL, 0), WIRE_OK);
    CHECK_EQ_STR(trace(b.data, b.len), "b1:");
    wire_buf_free(&b);
    CHECK_EQ_STR(trace(RAW(1, WIRE_BYTES, WIRE_BYTES_KIND_COUNT, 0)), "ERR -3 @1");
    CHECK_EQ_STR(trace(RAW(1, WIRE_BYTES, 0xff, 0)), "ERR -3 @1");
    CHECK_EQ_STR(trace(RAW(1, WIRE_BYTES, 0, 4, 1, 2)), "ERR -2 @1");
}

TEST(error_roundtrip) {
    struct wire_buf b = start();
    wire_put_array_begin(&b, 2);
    wire_put_error_begin(&b, "TypeError", 9, "bad", 3, "at f", 4);
    wire_put_object_begin(&b, 1);
    wire_put_key(&b, "code", 4);
    wire_put_number(&b, 5);
    wire_put_error_begin(&b, "Error", 5, "", 0, NULL, 0);
    wire_put_object_begin(&b, 0);
    CHECK_EQ_INT(b.status, WIRE_OK);
    CHECK_EQ_STR(trace(b.data, b.len),
                 "[2 E:TypeError msg:bad stack:at\\20f {1 k:code 5 } /E E:Error msg: {0 } /E ]");
    wire_buf_free(&b);
}

TEST(error_malformed_parts) {
    /* has_stack must be 0 or 1 */
    CHECK_EQ_STR(trace(RAW(1, WIRE_ERROR, 1, 'E', 0, 2, WIRE_OBJECT, 0)), "ERR -3 @5");
    /* the extra props must be a WIRE_OBJECT, not another value */
    CHECK_EQ_STR(trace(RAW(1, WIRE_ERROR, 1, 'E', 0, 0, WIRE_ARRAY, 0)), "ERR -3 @6");
    CHECK_EQ_STR(trace(RAW(1, WIRE_ERROR, 1, 'E', 0, 0, WIRE_BACKREF, 0)), "ERR -3 @6");
    CHECK_EQ_STR(trace(RAW(1, WIRE_ERROR, 1, 'E', 0, 0, WIRE_NULL)), "ERR -3 @6");
    CHECK_EQ_STR(trace(RAW(1, WIRE_ERROR, 1, 'E', 0, 0)), "ERR -2 @6");
    /* a self-reference through its props is fine (err.self = err) */
    CHECK_EQ_STR(trace(RAW(1, WIRE_ERROR, 1, 'E', 0, 0, WIRE_OBJECT, 1, 4, 's', 'e', 'l', 'f',
                           WIRE_BACKREF, 0)),
                 "E:E msg: {1 k:self @0 } /E");
}

TEST(backref_numbering_follows_begin_order) {
    /* [ {}, bytes, error{props}, [ @0 @1 @2 @3 @4 @5 ] ]: numbers 0..6, in
     * begin order; the props object is number 4, the inner array 5. */
    struct wire_buf b = start();
    wire_put_array_begin(&b, 4);
    wire_put_object_begin(&b, 0);
    wire_put_bytes(&b, WIRE_BYTES_UINT8, "x", 1);
    wire_put_error_begin(&b, "E", 1, "m", 1, NULL, 0);
    wire_put_object_begin(&b, 0);
    wire_put_array_begin(&b, 6);
    for (int i = 0; i < 6; i++) wire_put_backref(&b, (uint64_t)i);
    CHECK_EQ_INT(b.status, WIRE_OK);
    CHECK_EQ_STR(trace(b.data, b.len), "[4 {0 } b1:x E:E msg:m {0 } /E [6 @0 @1 @2 @3 @4 @5 ] ]");
    /* @6 names the next value, which has not begun. */
    b.data[b.len - 1] = 6;
    CHECK_EQ_INT(decode_status(b.data, b.len), WIRE_ERR_BAD_REF);
    wire_buf_free(&b);
}

TEST(backref_before_begin_is_bad_ref) {
    CHECK_EQ_STR(trace(RAW(1, WIRE_BACKREF, 0)), "ERR -6 @1");
    CHECK_EQ_STR(trace(RAW(1, WIRE_ARRAY, 2, WIRE_BACKREF, 0, WIRE_BACKREF, 1)), "ERR -6 @5");
    /* Strings, numbers and stubs are not numbered. */
    CHECK_EQ_STR(trace(RAW(1, WIRE_ARRAY, 2, WIRE_STRING, 0, WIRE_BACKREF, 1)), "ERR -6 @5");
    /* A cycle (a reference to an open container) is legal on the wire. */
    CHECK_EQ_STR(trace(RAW(1, WIRE_ARRAY, 1, WIRE_BACKREF, 0)), "[1 @0 ]");
}

TEST(stub_index_against_cap_count) {
    CHECK_EQ_STR(trace_caps(RAW(1, WIRE_STUB, 2), 3), "$2");
    CHECK_EQ_STR(trace_caps(RAW(1, WIRE_STUB, 3), 3), "ERR -6 @1");
    CHECK_EQ_STR(trace(RAW(1, WIRE_STUB, 0)), "ERR -6 @1");
    CHECK_EQ_INT(wire_validate(RAW(1, WIRE_STUB, 0), NULL), WIRE_ERR_BAD_REF);
    struct wire_buf b = start();
    wire_put_stub(&b, 300);
    CHECK_EQ_STR(trace_caps(b.data, b.len, 301), "$300");
    wire_buf_free(&b);
}

TEST(hole_only_directly_in_arrays) {
    CHECK_EQ_STR(trace(RAW(1, WIRE_ARRAY, 2, WIRE_HOLE, WIRE_HOLE)), "[2 _ _ ]");
    CHECK_EQ_STR(trace(RAW(1, WIRE_HOLE)), "ERR -3 @1");
    CHECK_EQ_STR(trace(RAW(1, WIRE_SET, 1, WIRE_HOLE)), "ERR -3 @3");
    CHECK_EQ_STR(trace(RAW(1, WIRE_MAP, 1, WIRE_HOLE, WIRE_NULL)), "ERR -3 @3");
    CHECK_EQ_STR(trace(RAW(1, WIRE_MAP, 1, WIRE_NULL, WIRE_HOLE)), "ERR -3 @4");
    CHECK_EQ_STR(trace(RAW(1, WIRE_OBJECT, 1, 1, 'a', WIRE_HOLE)), "ERR -3 @5");
    CHECK_EQ_STR(trace(RAW(1, WIRE_ARRAY, 1, WIRE_ARRAY, 1, WIRE_HOLE)), "[1 [1 _ ] ]");
    CHECK_EQ_STR(trace(RAW(1, WIRE_ERROR, 1, 'E', 0, 0, WIRE_OBJECT, 1, 1, 'a', WIRE_HOLE)),
                 "ERR -3 @10");
}

TEST(bad_tags) {
    const uint8_t bad[] = {0x00, 0x14, 0x20, 0x7f, 0x80, 0xc1, 0xff};
    for (size_t i = 0; i < sizeof bad; i++) {
        uint8_t p[] = {1, bad[i]};
        CHECK_EQ_STR(trace(p, 2), "ERR -3 @1");
        uint8_t q[] = {1, WIRE_ARRAY, 2, WIRE_NULL, bad[i]};
        CHECK_EQ_STR(trace(q, sizeof q), "ERR -3 @4");
    }
}

TEST(trailing_bytes_and_version) {
    CHECK_EQ_STR(trace(RAW(1, WIRE_NULL)), "n");
    CHECK_EQ_STR(trace(RAW(1, WIRE_NULL, WIRE_NULL)), "ERR -3 @2");
    CHECK_EQ_STR(trace(RAW(1, WIRE_ARRAY, 0, 0)), "ERR -3 @3");
    CHECK_EQ_STR(trace(RAW(0, WIRE_NULL)), "ERR -3 @0");
    CHECK_EQ_STR(trace(RAW(2, WIRE_NULL)), "ERR -3 @0");
    CHECK_EQ_STR(trace(RAW(WIRE_MSG_MAGIC, WIRE_NULL)), "ERR -3 @0");
    CHECK_EQ_STR(trace(RAW(1)), "ERR -2 @1");
    CHECK_EQ_INT(wire_validate(NULL, 0, NULL), WIRE_ERR_TRUNCATED);
    CHECK_EQ_INT(wire_validate((const uint8_t *)"", 0, NULL), WIRE_ERR_TRUNCATED);
}

static uint8_t *nested(size_t depth, uint8_t tag, size_t *len) {
    uint8_t *p = malloc(3 * depth + 3);
    size_t o = 0;
    p[o++] = 1;
    for (size_t i = 0; i < depth; i++) {
        p[o++] = tag;
        p[o++] = i + 1 < depth ? 1 : 0;
        if (tag == WIRE_OBJECT && i + 1 < depth) p[o++] = 0; /* the pair's key */
    }
    *len = o;
    return p;
}

TEST(depth_limit) {
    const uint8_t tags[] = {WIRE_ARRAY, WIRE_SET, WIRE_OBJECT};
    for (size_t t = 0; t < 3; t++) {
        size_t n;
        uint8_t *p = nested(WIRE_MAX_DEPTH, tags[t], &n);
        CHECK_EQ_INT(wire_validate(p, n, NULL), WIRE_OK);
        free(p);
        p = nested(WIRE_MAX_DEPTH + 1, tags[t], &n);
        size_t off;
        CHECK_EQ_INT(wire_decode(p, n, NULL, NULL, NULL, &off), WIRE_ERR_TOO_DEEP);
        CHECK_EQ_INT(off, tags[t] == WIRE_OBJECT ? 1 + 3 * WIRE_MAX_DEPTH : 1 + 2 * WIRE_MAX_DEPTH);
        free(p);
        p = nested(100000, tags[t], &n); /* a depth bomb */
        CHECK_EQ_INT(wire_validate(p, n, NULL), WIRE_ERR_TOO_DEEP);
        free(p);
    }
    size_t n;
    uint8_t *p = nested(5, WIRE_ARRAY, &n);
    struct wire_limits lim = {4, 0};
    CHECK_EQ_INT(wire_validate(p, n, &lim), WIRE_ERR_TOO_DEEP);
    lim.max_depth = 5;
    CHECK_EQ_INT(wire_validate(p, n, &lim), WIRE_OK);
    free(p);
    /* A larger request is clamped to WIRE_MAX_DEPTH. */
    p = nested(WIRE_MAX_DEPTH + 1, WIRE_ARRAY, &n);
    lim.max_depth = 100000;
    CHECK_EQ_INT(wire_validate(p, n, &lim), WIRE_ERR_TOO_DEEP);
    free(p);
    /* An error is a level and its props object another. */
    lim.max_depth = 1;
    CHECK_EQ_INT(wire_validate(RAW(1, WIRE_ERROR, 0, 0, 0, WIRE_OBJECT, 0), &lim), WIRE_ERR_TOO_DEEP);
    lim.max_depth = 2;
    CHECK_EQ_INT(wire_validate(RAW(1, WIRE_ERROR, 0, 0, 0, WIRE_OBJECT, 0), &lim), WIRE_OK);
}

TEST(huge_counts_with_tiny_input) {
    /* 2^60 elements announced in a 12-byte payload */
    const uint8_t tags[] = {WIRE_ARRAY, WIRE_OBJECT, WIRE_MAP, WIRE_SET};
    for (size_t i = 0; i < 4; i++) {
        uint8_t p[] = {1, tags[i], 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 0};
        CHECK_EQ_STR(trace(p, sizeof p), "ERR -2 @1");
        uint8_t q[] = {1, tags[i], 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
        CHECK_EQ_STR(trace(q, sizeof q), "ERR -2 @1");
    }
    /* Exactly enough bytes is fine; one element more is not. */
    CHECK_EQ_STR(trace(RAW(1, WIRE_ARRAY, 3, WIRE_NULL, WIRE_NULL, WIRE_NULL)), "[3 n n n ]");
    CHECK_EQ_STR(trace(RAW(1, WIRE_ARRAY, 4, WIRE_NULL, WIRE_NULL, WIRE_NULL)), "ERR -2 @1");
    CHECK_EQ_STR(trace(RAW(1, WIRE_OBJECT, 2, 0, WIRE_NULL, 0)), "ERR -2 @1");
    CHECK_EQ_STR(trace(RAW(1, WIRE_MAP, 2, WIRE_NULL, WIRE_NULL, WIRE_NULL)), "ERR -2 @1");
    CHECK_EQ_STR(trace(RAW(1, WIRE_MAP, 1, WIRE_NULL, WIRE_NULL)), "M1 n n /M");
    /* The outer array's outstanding element counts against the inner one:
     * [ [n, n], n ] fits, [ [n, n, n], n ] announced in the same bytes does not. */
    CHECK_EQ_STR(trace(RAW(1, WIRE_ARRAY, 2, WIRE_ARRAY, 2, WIRE_NULL, WIRE_NULL, WIRE_NULL)),
                 "[2 [2 n n ] n ]");
    CHECK_EQ_STR(trace(RAW(1, WIRE_ARRAY, 2, WIRE_ARRAY, 3, WIRE_NULL, WIRE_NULL, WIRE_NULL)),
                 "ERR -2 @3");
}

/* A payload with every tag, for the truncation and refusal sweeps. */
static struct wire_buf everything(void) {
    struct wire_buf b = start();
    wire_put_array_begin(&b, 21);
    wire_put_undefined(&b);
    wire_put_null(&b);
    wire_put_bool(&b, 0);
    wire_put_bool(&b, 1);
    wire_put_number(&b, -123456);
    wire_put_number(&b, 3.25);
    wire_put_bigint(&b, 1, (const uint8_t[]){1, 2, 3}, 3);
    wire_put_string(&b, "h\xc3\xa9llo", 6);
    wire_put_date(&b, 86400000);
    wire_put_regexp(&b, "x*", 2, "g", 1);
    wire_put_hole(&b);
    wire_put_object_begin(&b, 2);
    wire_put_key(&b, "a", 1);
    wire_put_number(&b, 1);
    wire_put_key(&b, "self", 4);
    wire_put_backref(&b, 1);
    wire_put_map_begin(&b, 1);
    wire_put_string(&b, "k", 1);
    wire_put_set_begin(&b, 1);
    wire_put_number(&b, 2);
    wire_put_bytes(&b, WIRE_BYTES_INT16, "\x01\x02\x03\x04", 4);
    wire_put_error_begin(&b, "RangeError", 10, "m", 1, "s", 1);
    wire_put_object_begin(&b, 1);
    wire_put_key(&b, "x", 1);
    wire_put_null(&b);
    wire_put_backref(&b, 0);
    wire_put_stub(&b, 1);
    wire_put_string(&b, "", 0);
    wire_put_number(&b, NAN);
    wire_put_array_begin(&b, 0);
    wire_put_bigint(&b, 0, NULL, 0);
    return b;
}

TEST(every_tag_in_one_payload) {
    struct wire_buf b = everything();
    CHECK_EQ_INT(b.status, WIRE_OK);
    CHECK_EQ_STR(trace_caps(b.data, b.len, 2),
                 "[21 u n F T -123456 3.25 big-3 s:h\\c3\\a9llo date(86400000) re:x* /g _ "
                 "{2 k:a 1 k:self @1 } M1 s:k S1 2 /S /M b4:\\01\\02\\03\\04 "
                 "E:RangeError msg:m stack:s {1 k:x n } /E @0 $1 s: nan [0 ] big+0 ]");
    wire_buf_free(&b);
}

TEST(truncated_at_every_offset) {
    struct wire_buf b = everything();
    struct wire_limits lim = {0, 2};
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size, so ASan sees overreads */
        memcpy(copy, b.data, cut);
        size_t off = 0;
        int rc = wire_decode(copy, cut, &lim, NULL, NULL, &off);
        if (rc != WIRE_ERR_TRUNCATED) fprintf(stderr, "  cut at %zu: %d\n", cut, rc);
        CHECK_EQ_INT(rc, WIRE_ERR_TRUNCATED);
        CHECK(off <= cut);
        free(copy);
    }
    CHECK_EQ_INT(wire_validate(b.data, b.len, &lim), WIRE_OK);
    wire_buf_free(&b);
}

TEST(visitor_refusal_at_every_event) {
    struct wire_buf b = everything();
    struct wire_limits lim = {0, 2};
    struct trace t;
    memset(&t, 0, sizeof t);
    t.refuse_at = -1;
    CHECK_EQ_INT(wire_decode(b.data, b.len, &lim, &tracer, &t, NULL), WIRE_OK);
    int total = t.events;
    CHECK(total >= 35);
    for (int i = 0; i < total; i++) {
        memset(&t, 0, sizeof t);
        t.refuse_at = i;
        CHECK_EQ_INT(wire_decode(b.data, b.len, &lim, &tracer, &t, NULL), WIRE_ERR_VISITOR);
        CHECK_EQ_INT(t.events, i + 1); /* stopped at once */
    }
    wire_buf_free(&b);
}

static int count_numbers(void *ud, double v) {
    (*(int *)ud)++;
    return 0;
}

TEST(missing_callbacks_accept_and_ignore) {
    struct wire_buf b = everything();
    struct wire_limits lim = {0, 2};
    struct wire_visitor v = {0};
    v.number = count_numbers;
    int n = 0;
    CHECK_EQ_INT(wire_decode(b.data, b.len, &lim, &v, &n, NULL), WIRE_OK);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_INT(wire_validate(b.data, b.len, &lim), WIRE_OK);
    wire_buf_free(&b);
}

TEST(err_offset_points_at_the_fault) {
    size_t off = 99;
    CHECK_EQ_INT(wire_decode(RAW(1, WIRE_ARRAY, 2, WIRE_NULL, 0xee), NULL, NULL, NULL, &off),
                 WIRE_ERR_MALFORMED);
    CHECK_EQ_INT(off, 4);
    CHECK_EQ_INT(wire_decode(RAW(1, WIRE_ARRAY, 1, WIRE_NULL), NULL, NULL, NULL, &off), WIRE_OK);
    CHECK_EQ_INT(off, 4);
}

/* ---- the buffer ---------------------------------------------------------- */

TEST(buf_grows_and_keeps_content) {
    struct wire_buf b;
    wire_buf_init(&b, 0);
    for (uint32_t i = 0; i < 300000; i++) CHECK_EQ_INT(wire_put_u8(&b, (uint8_t)(i * 7)), WIRE_OK);
    CHECK_EQ_INT(b.len, 300000);
    CHECK(b.cap >= b.len && b.cap < 2 * b.len + 64);
    int same = 1;
    for (uint32_t i = 0; i < 300000; i++) same &= b.data[i] == (uint8_t)(i * 7);
    CHECK(same);
    size_t n = 0;
    uint8_t *p = wire_buf_take(&b, &n);
    CHECK(p != NULL);
    CHECK_EQ_INT(n, 300000);
    CHECK(b.data == NULL && b.len == 0 && b.status == WIRE_OK);
    free(p);
    p = wire_buf_take(&b, &n); /* empty success is still non-NULL */
    CHECK(p != NULL);
    CHECK_EQ_INT(n, 0);
    free(p);
}

TEST(buf_limit_and_poisoning) {
    struct wire_buf b;
    wire_buf_init(&b, 10);
    CHECK_EQ_INT(wire_put_raw(&b, "0123456789", 10), WIRE_OK); /* exactly the limit */
    CHECK(b.cap <= 10);
    CHECK_EQ_INT(wire_put_u8(&b, 'x'), WIRE_ERR_TOO_LARGE);
    CHECK_EQ_INT(b.len, 10);
    CHECK_EQ_INT(b.status, WIRE_ERR_TOO_LARGE);
    /* Poisoned: everything fails the same way, even what would fit. */
    CHECK_EQ_INT(wire_put_raw(&b, "", 0), WIRE_ERR_TOO_LARGE);
    CHECK_EQ_INT(wire_put_string(&b, "\xff", 1), WIRE_ERR_TOO_LARGE);
    size_t n = 7;
    CHECK(wire_buf_take(&b, &n) == NULL);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(b.status, WIRE_OK); /* reset for reuse */
    CHECK_EQ_INT(b.limit, 10);

    wire_buf_init(&b, 4);
    CHECK_EQ_INT(wire_put_varint(&b, UINT64_MAX), WIRE_ERR_TOO_LARGE);
    CHECK_EQ_INT(b.len, 0);
    wire_buf_free(&b);

    /* A huge request is refused before any allocation, without overflow. */
    wire_buf_init(&b, 0);
    wire_put_u8(&b, 1);
    CHECK_EQ_INT(wire_put_raw(&b, "", SIZE_MAX), WIRE_ERR_TOO_LARGE);
    wire_buf_free(&b);

    /* Malformed input poisons too, and the first status sticks. */
    wire_buf_init(&b, 0);
    CHECK_EQ_INT(wire_put_string(&b, "\xc0\x80", 2), WIRE_ERR_MALFORMED);
    CHECK_EQ_INT(b.len, 0);
    CHECK_EQ_INT(wire_put_null(&b), WIRE_ERR_MALFORMED);
    wire_buf_free(&b);
}

TEST(status_messages) {
    const int all[] = {WIRE_OK, WIRE_ERR_NOMEM, WIRE_ERR_TRUNCATED, WIRE_ERR_MALFORMED,
                       WIRE_ERR_TOO_DEEP, WIRE_ERR_TOO_LARGE, WIRE_ERR_BAD_REF, WIRE_ERR_VISITOR};
    for (size_t i = 0; i < 8; i++) {
        CHECK(wire_status_message(all[i]) && wire_status_message(all[i])[0]);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(wire_status_message(all[i]), wire_status_message(all[j])) != 0);
    }
    CHECK_EQ_STR(wire_status_message(WIRE_ERR_TRUNCATED), "truncated input");
    CHECK_CONTAINS(wire_status_message(-99), "unknown");
}

TEST(u64_digits_cover_the_whole_range) {
    char buf[WIRE_U64_DIGITS];
    const struct { uint64_t v; const char *text; } cases[] = {
        {0, "0"}, {7, "7"}, {10, "10"}, {18446744073709551615ull, "18446744073709551615"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = wire_u64_digits(cases[i].v, buf);
        size_t n = (size_t)(buf + sizeof buf - p);
        CHECK(n == strlen(cases[i].text) && memcmp(p, cases[i].text, n) == 0);
    }
}
