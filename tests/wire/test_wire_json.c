/* The JSON bridge, both ways: the mapping rules of wire.h (undefined,
 * non-finite numbers, BigInt, Date, RegExp, Map, Set, bytes, errors, stubs,
 * shared and cyclic objects), the UTF-8 guarantee, the byte and depth
 * bounds, and JSON text → payload → JSON text round trips.
 */
#include <math.h>
#include <stdint.h>

#include <jansson.h>

#include "check.h"
#include "wire/wire.h"
#include "wire/wire_internal.h"

static struct wire_buf start(void) {
    struct wire_buf b;
    wire_buf_init(&b, 0);
    wire_put_header(&b);
    return b;
}

/* Converts b's payload to JSON; returns the text or "ERR <status>" (static). */
static const char *to_json_lim(struct wire_buf *b, uint64_t caps, size_t max) {
    static char text[65536];
    CHECK_EQ_INT(b->status, WIRE_OK);
    struct wire_limits lim = {0, caps};
    int status = 12345, tree_status = 12345;
    char *j = wire_to_json(b->data, b->len, &lim, max, &status);
    /* Every case also holds the streaming fast path to the tree path. */
    char *tree = wire_to_json_tree(b->data, b->len, &lim, max, &tree_status);
    CHECK_EQ_INT(status, tree_status);
    CHECK((j == NULL) == (tree == NULL));
    if (j && tree) CHECK_EQ_STR(j, tree);
    free(tree);
    if (!j) {
        CHECK(status < 0);
        snprintf(text, sizeof text, "ERR %d", status);
    } else {
        CHECK_EQ_INT(status, WIRE_OK);
        snprintf(text, sizeof text, "%s", j);
        free(j);
    }
    wire_buf_free(b);
    return text;
}
static const char *to_json(struct wire_buf *b) { return to_json_lim(b, 0, 0); }

static const char *num_json(double d) {
    struct wire_buf b = start();
    wire_put_number(&b, d);
    return to_json(&b);
}

TEST(json_scalars) {
    struct wire_buf b = start();
    wire_put_undefined(&b);
    CHECK_EQ_STR(to_json(&b), "null");
    b = start();
    wire_put_array_begin(&b, 4);
    wire_put_null(&b);
    wire_put_bool(&b, 1);
    wire_put_bool(&b, 0);
    wire_put_undefined(&b);
    CHECK_EQ_STR(to_json(&b), "[null,true,false,null]");
}

TEST(json_numbers_print_like_javascript) {
    CHECK_EQ_STR(num_json(0), "0");
    CHECK_EQ_STR(num_json(-0.0), "0");
    CHECK_EQ_STR(num_json(-1), "-1");
    CHECK_EQ_STR(num_json(0.1), "0.1");
    CHECK_EQ_STR(num_json(0.1 + 0.2), "0.30000000000000004");
    CHECK_EQ_STR(num_json(1.5), "1.5");
    CHECK_EQ_STR(num_json(9007199254740992.0), "9007199254740992");
    CHECK_EQ_STR(num_json(-9007199254740992.0), "-9007199254740992");
    CHECK_EQ_STR(num_json(7), "7");
    CHECK_EQ_STR(num_json(10), "10");
    CHECK_EQ_STR(num_json(-1234567890), "-1234567890");
    CHECK_EQ_STR(num_json(1e20), "100000000000000000000");
    CHECK_EQ_STR(num_json(1e21), "1e+21");
    CHECK_EQ_STR(num_json(-2.5e-7), "-2.5e-7");
    CHECK_EQ_STR(num_json(0.000001), "0.000001");
    CHECK_EQ_STR(num_json(1e-7), "1e-7");
    CHECK_EQ_STR(num_json(123e-20), "1.23e-18");
    CHECK_EQ_STR(num_json(1.5e300), "1.5e+300");
    CHECK_EQ_STR(num_json(-123456789012.5), "-123456789012.5");
    CHECK_EQ_STR(num_json(18446744073709551616.0), "18446744073709552000");
    CHECK_EQ_STR(num_json(5e-324), "5e-324");
    CHECK_EQ_STR(num_json(1.7976931348623157e308), "1.7976931348623157e+308");
    CHECK_EQ_STR(num_json(123.456), "123.456");
    CHECK_EQ_STR(num_json(NAN), "null");
    CHECK_EQ_STR(num_json(INFINITY), "null");
    CHECK_EQ_STR(num_json(-INFINITY), "null");
    /* whatever the digits, they read back as the same double */
    const double vals[] = {1.0 / 3, 2.0 / 3, 123456.789, 1e-300, 1.7976931348623157e308};
    for (size_t i = 0; i < 5; i++) CHECK(strtod(num_json(vals[i]), NULL) == vals[i]);
}

TEST(json_strings_escape_and_become_utf8) {
    struct wire_buf b = start();
    wire_put_string(&b, "a\"b\\c\n\r\t\b\f\x01\x1f\x7f/", 14);
    CHECK_EQ_STR(to_json(&b), "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f/\"");
    b = start();
    wire_put_string(&b, "a\0b", 3);
    CHECK_EQ_STR(to_json(&b), "\"a\\u0000b\"");
    b = start();
    wire_put_string(&b, "\xc3\xa9\xf0\x9f\x98\x80", 6);
    CHECK_EQ_STR(to_json(&b), "\"\xc3\xa9\xf0\x9f\x98\x80\"");
    /* lone surrogates (WTF-8) become U+FFFD, in values and in keys */
    b = start();
    wire_put_object_begin(&b, 1);
    wire_put_key(&b, "k\xed\xa0\x80", 4);
    wire_put_string(&b, "\xed\xbf\xbfx\xed\xa0\x81", 7);
    CHECK_EQ_STR(to_json(&b), "{\"k\xef\xbf\xbd\":\"\xef\xbf\xbdx\xef\xbf\xbd\"}");
}

TEST(json_objects_omit_undefined_and_keep_order) {
    struct wire_buf b = start();
    wire_put_object_begin(&b, 4);
    wire_put_key(&b, "z", 1);
    wire_put_number(&b, 1);
    wire_put_key(&b, "gone", 4);
    wire_put_undefined(&b);
    wire_put_key(&b, "a", 1);
    wire_put_array_begin(&b, 3);
    wire_put_undefined(&b);
    wire_put_hole(&b);
    wire_put_number(&b, 2);
    wire_put_key(&b, "m", 1);
    wire_put_object_begin(&b, 0);
    CHECK_EQ_STR(to_json(&b), "{\"z\":1,\"a\":[null,null,2],\"m\":{}}");
}

static const char *bigint_json(int neg, const uint8_t *mag, size_t n) {
    struct wire_buf b = start();
    wire_put_bigint(&b, neg, mag, n);
    return to_json(&b);
}

TEST(json_bigint_as_decimal_string) {
    CHECK_EQ_STR(bigint_json(0, NULL, 0), "\"0\"");
    CHECK_EQ_STR(bigint_json(1, (const uint8_t[]){1}, 1), "\"-1\"");
    CHECK_EQ_STR(bigint_json(0, (const uint8_t[]){0x00, 0xca, 0x9a, 0x3b}, 4), "\"1000000000\"");
    CHECK_EQ_STR(bigint_json(0, (const uint8_t[]){0xff, 0xc9, 0x9a, 0x3b}, 4), "\"999999999\"");
    CHECK_EQ_STR(bigint_json(0, (const uint8_t[]){0, 0, 0, 0, 0, 0, 0, 0, 1}, 9),
                 "\"18446744073709551616\"");
    /* 10^30 = 0x0c9f2c9cd04674edea40000000 */
    CHECK_EQ_STR(bigint_json(1, (const uint8_t[]){0x00, 0x00, 0x00, 0x40, 0xea, 0xed, 0x74, 0x46,
                                                  0xd0, 0x9c, 0x2c, 0x9f, 0x0c}, 13),
                 "\"-1000000000000000000000000000000\"");
    /* Past the BigInt bound (quadratic to print), and past the byte bound. */
    size_t n = WIRE_JSON_MAX_BIGINT + 1;
    uint8_t *big = malloc(n);
    memset(big, 0xff, n);
    CHECK_EQ_STR(bigint_json(0, big, n), "ERR -5");
    struct wire_buf b = start();
    wire_put_bigint(&b, 0, big, 100);
    CHECK_EQ_STR(to_json_lim(&b, 0, 150), "ERR -5");
    free(big);
}

static const char *date_json(double ms) {
    struct wire_buf b = start();
    wire_put_date(&b, ms);
    return to_json(&b);
}

TEST(json_dates_as_iso_strings) {
    CHECK_EQ_STR(date_json(0), "\"1970-01-01T00:00:00.000Z\"");
    CHECK_EQ_STR(date_json(-1), "\"1969-12-31T23:59:59.999Z\"");
    CHECK_EQ_STR(date_json(1e12), "\"2001-09-09T01:46:40.000Z\"");
    CHECK_EQ_STR(date_json(951782400000.0), "\"2000-02-29T00:00:00.000Z\"");
    CHECK_EQ_STR(date_json(-62167219200000.0), "\"0000-01-01T00:00:00.000Z\"");
    CHECK_EQ_STR(date_json(-62167219200001.0), "\"-000001-12-31T23:59:59.999Z\"");
    CHECK_EQ_STR(date_json(253402300800000.0), "\"+010000-01-01T00:00:00.000Z\"");
    CHECK_EQ_STR(date_json(8.64e15), "\"+275760-09-13T00:00:00.000Z\"");
    CHECK_EQ_STR(date_json(-8.64e15), "\"-271821-04-20T00:00:00.000Z\"");
    CHECK_EQ_STR(date_json(1.5), "\"1970-01-01T00:00:00.001Z\"");
    CHECK_EQ_STR(date_json(8.64e15 + 1), "null");
    CHECK_EQ_STR(date_json(NAN), "null");
    CHECK_EQ_STR(date_json(INFINITY), "null");
}

TEST(json_regexp_map_set_bytes) {
    struct wire_buf b = start();
    wire_put_array_begin(&b, 3);
    wire_put_regexp(&b, "a/b+", 4, "gi", 2);
    wire_put_map_begin(&b, 2);
    wire_put_string(&b, "k", 1);
    wire_put_undefined(&b);
    wire_put_object_begin(&b, 0);
    wire_put_number(&b, 1);
    wire_put_set_begin(&b, 2);
    wire_put_number(&b, 1);
    wire_put_undefined(&b);
    CHECK_EQ_STR(to_json(&b), "[\"/a/b+/gi\",[[\"k\",null],[{},1]],[1,null]]");

    static const char *const b64[] = {"\"\"", "\"Zg==\"", "\"Zm8=\"", "\"Zm9v\"", "\"Zm9vYg==\"",
                                      "\"Zm9vYmE=\"", "\"Zm9vYmFy\""};
    for (size_t n = 0; n <= 6; n++) {
        b = start();
        wire_put_bytes(&b, WIRE_BYTES_UINT8, "foobar", n);
        CHECK_EQ_STR(to_json(&b), b64[n]);
    }
    b = start();
    wire_put_bytes(&b, WIRE_BYTES_ARRAYBUFFER, "\xff\xfe\x00", 3);
    CHECK_EQ_STR(to_json(&b), "\"//4A\"");
}

TEST(json_errors_and_stubs) {
    struct wire_buf b = start();
    wire_put_array_begin(&b, 3);
    wire_put_error_begin(&b, "TypeError", 9, "bad \"x\"", 7, "at f (a.js:1)", 13);
    wire_put_object_begin(&b, 2);
    wire_put_key(&b, "code", 4);
    wire_put_number(&b, 5);
    wire_put_key(&b, "skip", 4);
    wire_put_undefined(&b);
    wire_put_error_begin(&b, "Error", 5, "", 0, NULL, 0);
    wire_put_object_begin(&b, 0);
    wire_put_stub(&b, 2);
    CHECK_EQ_STR(to_json_lim(&b, 3, 0),
                 "[{\"name\":\"TypeError\",\"message\":\"bad \\\"x\\\"\",\"stack\":\"at f (a.js:1)\","
                 "\"code\":5},{\"name\":\"Error\",\"message\":\"\"},{\"$stub\":2}]");
    b = start();
    wire_put_stub(&b, 3);
    CHECK_EQ_STR(to_json_lim(&b, 3, 0), "ERR -6");
}

TEST(json_shared_objects_are_copied_cycles_refused) {
    struct wire_buf b = start();
    wire_put_array_begin(&b, 4);
    wire_put_object_begin(&b, 1);
    wire_put_key(&b, "a", 1);
    wire_put_bytes(&b, WIRE_BYTES_UINT8, "hi", 2);
    wire_put_backref(&b, 1);
    wire_put_backref(&b, 2);
    wire_put_map_begin(&b, 1);
    wire_put_backref(&b, 1);
    wire_put_backref(&b, 1);
    CHECK_EQ_STR(to_json(&b),
                 "[{\"a\":\"aGk=\"},{\"a\":\"aGk=\"},\"aGk=\",[[{\"a\":\"aGk=\"},{\"a\":\"aGk=\"}]]]");

    /* a = [a] */
    b = start();
    wire_put_array_begin(&b, 1);
    wire_put_backref(&b, 0);
    CHECK_EQ_STR(to_json(&b), "ERR -3");
    /* o = {x: {y: o}} */
    b = start();
    wire_put_object_begin(&b, 1);
    wire_put_key(&b, "x", 1);
    wire_put_object_begin(&b, 1);
    wire_put_key(&b, "y", 1);
    wire_put_backref(&b, 0);
    CHECK_EQ_STR(to_json(&b), "ERR -3");
    /* e.self = e, through the error's props */
    b = start();
    wire_put_error_begin(&b, "E", 1, "", 0, NULL, 0);
    wire_put_object_begin(&b, 1);
    wire_put_key(&b, "self", 4);
    wire_put_backref(&b, 0);
    CHECK_EQ_STR(to_json(&b), "ERR -3");
}

TEST(json_byte_limit) {
    struct wire_buf b = start();
    wire_put_string(&b, "abcdef", 6);
    CHECK_EQ_STR(to_json_lim(&b, 0, 8), "\"abcdef\"");
    b = start();
    wire_put_string(&b, "abcdef", 6);
    CHECK_EQ_STR(to_json_lim(&b, 0, 7), "ERR -5");
    b = start();
    wire_put_array_begin(&b, 2);
    wire_put_number(&b, 123);
    wire_put_number(&b, 456);
    CHECK_EQ_STR(to_json_lim(&b, 0, 9), "[123,456]");
    b = start();
    wire_put_array_begin(&b, 2);
    wire_put_number(&b, 123);
    wire_put_number(&b, 456);
    CHECK_EQ_STR(to_json_lim(&b, 0, 8), "ERR -5");
}

TEST(json_exponential_sharing_is_bounded) {
    /* x0 = [0,0]; x(i+1) = [x(i), x(i)]: 64 levels is 2^64 leaves from a
     * few hundred bytes. It must stop at the byte limit, quickly. */
    struct wire_buf b = start();
    wire_put_array_begin(&b, 65);
    wire_put_array_begin(&b, 2);
    wire_put_number(&b, 0);
    wire_put_number(&b, 0);
    for (int i = 1; i < 65; i++) {
        wire_put_array_begin(&b, 2);
        wire_put_backref(&b, (uint64_t)i);
        wire_put_backref(&b, (uint64_t)i);
    }
    CHECK(b.len < 1000);
    CHECK_EQ_STR(to_json_lim(&b, 0, 1 << 20), "ERR -5");
    b = start();
    wire_put_array_begin(&b, 1);
    wire_put_array_begin(&b, 2);
    wire_put_number(&b, 0);
    wire_put_number(&b, 0);
    CHECK_EQ_STR(to_json(&b), "[[0,0]]");
}

TEST(json_depth_bound_on_shared_copies) {
    /* Each step nests 200 arrays around a copy of the previous step, so
     * the JSON grows deeper than the wire ever was. */
    struct wire_buf b = start();
    wire_put_array_begin(&b, 4);
    uint64_t index = 1;
    uint64_t prev = 0;
    for (int step = 0; step < 4; step++) {
        uint64_t first = index;
        for (int i = 0; i < 200; i++) {
            wire_put_array_begin(&b, 1);
            index++;
        }
        if (step == 0) wire_put_null(&b);
        else wire_put_backref(&b, prev);
        prev = first;
    }
    CHECK_EQ_STR(to_json(&b), "ERR -4");
}

TEST(json_bad_payload_reports_decoder_status) {
    struct wire_buf b = start();
    wire_put_array_begin(&b, 2);
    wire_put_null(&b);
    CHECK_EQ_STR(to_json(&b), "ERR -2");
    int status = 0;
    CHECK(wire_to_json((const uint8_t *)"\x02\x02", 2, NULL, 0, &status) == NULL);
    CHECK_EQ_INT(status, WIRE_ERR_MALFORMED);
}

/* ---- JSON text to payload ------------------------------------------------ */

/* JSON → payload → JSON. */
static const char *json_roundtrip(const char *in) {
    static char text[8192];
    size_t n = 0;
    int status = 99;
    char err[200] = "";
    uint8_t *p = wire_from_json(in, strlen(in), 0, &n, &status, err, sizeof err);
    if (!p) {
        snprintf(text, sizeof text, "ERR %d %s", status, err);
        return text;
    }
    CHECK_EQ_INT(status, WIRE_OK);
    CHECK_EQ_INT(wire_validate(p, n, NULL), WIRE_OK);
    char *j = wire_to_json(p, n, NULL, 0, &status);
    free(p);
    CHECK(j != NULL);
    snprintf(text, sizeof text, "%s", j ? j : "(null)");
    free(j);
    return text;
}

TEST(from_json_roundtrips) {
    CHECK_EQ_STR(json_roundtrip("null"), "null");
    CHECK_EQ_STR(json_roundtrip("  true "), "true");
    CHECK_EQ_STR(json_roundtrip("3"), "3");
    CHECK_EQ_STR(json_roundtrip("\"x\""), "\"x\"");
    CHECK_EQ_STR(json_roundtrip("[1, 2.5, -0.125, 1e300, \"a\", [], {}]"),
                 "[1,2.5,-0.125,1e+300,\"a\",[],{}]");
    CHECK_EQ_STR(json_roundtrip("{\"z\":1,\"a\":{\"y\":[true,false,null]},\"m\":\"\\u00e9\\ud83d\\ude00\"}"),
                 "{\"z\":1,\"a\":{\"y\":[true,false,null]},\"m\":\"\xc3\xa9\xf0\x9f\x98\x80\"}");
    CHECK_EQ_STR(json_roundtrip("\"a\\u0000b\""), "\"a\\u0000b\"");
    /* numbers beyond int64 are doubles, as in JSON.parse */
    CHECK_EQ_STR(json_roundtrip("12345678901234567890"), "12345678901234567000");
    CHECK_EQ_STR(json_roundtrip("-9007199254740993"), "-9007199254740992");
}

TEST(from_json_key_order_and_duplicates) {
    CHECK_EQ_STR(json_roundtrip("{\"b\":1,\"a\":2,\"c\":3,\"0\":4}"), "{\"b\":1,\"a\":2,\"c\":3,\"0\":4}");
    CHECK_EQ_STR(json_roundtrip("{\"a\":1,\"b\":2,\"a\":3}"), "{\"a\":3,\"b\":2}");
}

TEST(from_json_number_tags) {
    size_t n;
    int status;
    const char *in = "[1, -0, 1.5, 9007199254740993]";
    uint8_t *p = wire_from_json(in, strlen(in), 0, &n, &status, NULL, 0);
    if (!p) return;
    CHECK(p != NULL);
    /* 1 → INT; -0 → FLOAT (an INT has no -0); 1.5 → FLOAT; 2^53+1 rounds to 2^53 → INT */
    const uint8_t want_head[] = {1, WIRE_ARRAY, 4, WIRE_INT, 2, WIRE_FLOAT};
    CHECK(n > sizeof want_head && memcmp(p, want_head, sizeof want_head) == 0);
    CHECK_EQ_INT(p[6 + 8], WIRE_FLOAT);
    CHECK_EQ_INT(p[6 + 8 + 9], WIRE_INT);
    free(p);
}

TEST(from_json_errors) {
    CHECK_CONTAINS(json_roundtrip("{\"a\":"), "ERR -3 line 1");
    CHECK_CONTAINS(json_roundtrip("[1,]"), "ERR -3");
    CHECK_CONTAINS(json_roundtrip(""), "ERR -3");
    CHECK_CONTAINS(json_roundtrip("[1] x"), "ERR -3");
    CHECK_CONTAINS(json_roundtrip("\"\\ud800\""), "ERR -3"); /* lone surrogate escape */
    CHECK_CONTAINS(json_roundtrip("\"\xc0\x80\""), "ERR -3");
    CHECK_CONTAINS(json_roundtrip("{\"a\\u0000\":1}"), "ERR -3"); /* jansson: no NUL in keys */
    int status = 0;
    size_t n = 5;
    CHECK(wire_from_json(NULL, 0, 0, &n, &status, NULL, 0) == NULL);
    CHECK_EQ_INT(status, WIRE_ERR_MALFORMED);
    CHECK_EQ_INT(n, 0);
}

static char *nested_json(size_t depth, char open, char close) {
    char *s = malloc(2 * depth + 1);
    for (size_t i = 0; i < depth; i++) {
        s[i] = open;
        s[2 * depth - 1 - i] = close;
    }
    s[2 * depth] = 0;
    return s;
}

TEST(from_json_depth) {
    char *s = nested_json(WIRE_MAX_DEPTH, '[', ']');
    size_t n;
    int status;
    uint8_t *p = wire_from_json(s, strlen(s), 0, &n, &status, NULL, 0);
    CHECK(p != NULL);
    CHECK_EQ_INT(wire_validate(p, n, NULL), WIRE_OK);
    free(p);
    free(s);
    s = nested_json(WIRE_MAX_DEPTH + 1, '[', ']');
    CHECK(wire_from_json(s, strlen(s), 0, &n, &status, NULL, 0) == NULL);
    CHECK_EQ_INT(status, WIRE_ERR_TOO_DEEP);
    free(s);
    s = nested_json(100000, '[', ']'); /* past jansson's own parser bound */
    char err[128];
    CHECK(wire_from_json(s, strlen(s), 0, &n, &status, err, sizeof err) == NULL);
    CHECK_EQ_INT(status, WIRE_ERR_TOO_DEEP);
    free(s);
}

TEST(from_json_byte_limit) {
    size_t n;
    int status;
    char err[64];
    uint8_t *p = wire_from_json("\"abc\"", 5, 6, &n, &status, err, sizeof err);
    CHECK(p != NULL);
    CHECK_EQ_INT(n, 6);
    free(p);
    CHECK(wire_from_json("\"abc\"", 5, 5, &n, &status, err, sizeof err) == NULL);
    CHECK_EQ_INT(status, WIRE_ERR_TOO_LARGE);
    CHECK_EQ_STR(err, "too large");
}

/* ---- allocation failure -------------------------------------------------- */

static long alloc_budget = -1; /* allocations left before failing; -1: never fail */

static void *failing_malloc(size_t n) {
    if (alloc_budget == 0) return NULL;
    if (alloc_budget > 0) alloc_budget--;
    return malloc(n);
}

/* Every jansson allocation in turn fails; each run must end in NOMEM or
 * success, never crash or leak (the sanitizer and valgrind runs see leaks). */
TEST(json_allocation_failure_everywhere) {
    struct wire_buf b = start();
    wire_put_array_begin(&b, 7);
    wire_put_object_begin(&b, 2);
    wire_put_key(&b, "k\xed\xa0\x80", 4);
    wire_put_string(&b, "v", 1);
    wire_put_key(&b, "n", 1);
    wire_put_number(&b, 1.5);
    wire_put_map_begin(&b, 1);
    wire_put_string(&b, "mk", 2);
    wire_put_backref(&b, 1);
    wire_put_error_begin(&b, "E", 1, "m", 1, "s", 1);
    wire_put_object_begin(&b, 1);
    wire_put_key(&b, "x", 1);
    wire_put_bigint(&b, 1, (const uint8_t[]){1, 2, 3, 4, 5, 6, 7, 8, 9}, 9);
    wire_put_bytes(&b, WIRE_BYTES_UINT8, "abc", 3);
    wire_put_date(&b, 0);
    wire_put_regexp(&b, "a", 1, "g", 1);
    wire_put_set_begin(&b, 1);
    wire_put_backref(&b, 2);
    CHECK_EQ_INT(b.status, WIRE_OK);
    json_set_alloc_funcs(failing_malloc, free);
    int succeeded = 0;
    for (long n = 0; n < 1000 && !succeeded; n++) {
        alloc_budget = n;
        int status = 1;
        char *j = wire_to_json(b.data, b.len, NULL, 0, &status);
        if (j) {
            succeeded = 1;
            CHECK_EQ_INT(status, WIRE_OK);
            CHECK_CONTAINS(j, "\"mk\"");
            free(j);
        } else {
            CHECK_EQ_INT(status, WIRE_ERR_NOMEM);
        }
    }
    CHECK(succeeded);
    succeeded = 0;
    const char *in = "{\"a\":[1,\"x\",{\"b\":null}],\"c\":2.5}";
    for (long n = 0; n < 1000 && !succeeded; n++) {
        alloc_budget = n;
        int status = 1;
        size_t len;
        char err[200] = "";
        uint8_t *p = wire_from_json(in, strlen(in), 0, &len, &status, err, sizeof err);
        if (p) {
            succeeded = 1;
            free(p);
        } else {
            /* jansson's parser sometimes reports a failed allocation as a
             * syntax error; anything else would be a bug of ours. */
            CHECK(status == WIRE_ERR_NOMEM || (status == WIRE_ERR_MALFORMED && strstr(err, "line 1")));
        }
    }
    CHECK(succeeded);
    alloc_budget = -1;
    json_set_alloc_funcs(malloc, free);
    wire_buf_free(&b);
}

TEST(from_json_scalar_fast_path_matches_the_parser) {
    /* Lone integers, true, false and null skip the JSON tree; each must
     * encode to exactly what the full parser gives the same value inside
     * an array (whose payload is the header, ARRAY, a count of 1, then the
     * element). Near misses must still go to the parser and stay right. */
    const char *cases[] = {"0", "7", "-7", "  42\n", "123456789012345", "-123456789012345",
                           "1234567890123456", "-0", "007", "1.0", "1e3", "-",
                           "true", " false ", "null", "nul", "truex", "+1", "0x10", "١"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n1 = 0, n2 = 0;
        int s1 = 99, s2 = 99;
        char wrapped[64];
        snprintf(wrapped, sizeof wrapped, "[%s]", cases[i]);
        uint8_t *lone = wire_from_json(cases[i], strlen(cases[i]), 0, &n1, &s1, NULL, 0);
        uint8_t *arr = wire_from_json(wrapped, strlen(wrapped), 0, &n2, &s2, NULL, 0);
        if (!arr) {
            if (lone) CHECK_FAIL_AT("'%s' encoded alone but not in an array", cases[i]);
            CHECK(s1 != WIRE_OK);
        } else if (!lone) {
            CHECK_FAIL_AT("'%s' refused alone (status %d) but encoded in an array", cases[i], s1);
        } else if (!(n2 == n1 + 2 && memcmp(lone + 1, arr + 3, n1 - 1) == 0 && lone[0] == arr[0])) {
            CHECK_FAIL_AT("'%s' encodes differently alone", cases[i]);
        }
        free(lone);
        free(arr);
    }
    /* the byte limit applies on the fast path too, and empty text is no value */
    size_t n;
    int status;
    CHECK(wire_from_json("  ", 2, 0, &n, &status, NULL, 0) == NULL);
    CHECK_EQ_INT(status, WIRE_ERR_MALFORMED);
    CHECK(wire_from_json("12345", 5, 2, &n, &status, NULL, 0) == NULL);
    CHECK_EQ_INT(status, WIRE_ERR_TOO_LARGE);
}

/* The streaming fast path (plain JSON printed while decoding) and where it
 * hands over to the tree; to_json compares both paths on every case. */
TEST(fast_path_edges_print_as_the_tree_does) {
    struct wire_buf b = start();
    wire_put_array_begin(&b, 6);
    wire_put_undefined(&b);
    wire_put_hole(&b);
    wire_put_number(&b, NAN);
    wire_put_number(&b, -0.0);
    wire_put_number(&b, 1e21);
    wire_put_object_begin(&b, 2);
    wire_put_key(&b, "gone", 4);
    wire_put_undefined(&b);
    wire_put_key(&b, "kept", 4);
    wire_put_string(&b, "a\"b\\\n\x01", 6);
    CHECK_EQ_STR(to_json(&b), "[null,null,null,0,1e+21,{\"kept\":\"a\\\"b\\\\\\n\\u0001\"}]");

    /* a repeated key: jansson keeps one, at the first key's place */
    b = start();
    wire_put_object_begin(&b, 3);
    wire_put_key(&b, "a", 1);
    wire_put_number(&b, 1);
    wire_put_key(&b, "b", 1);
    wire_put_number(&b, 2);
    wire_put_key(&b, "a", 1);
    wire_put_number(&b, 3);
    CHECK_EQ_STR(to_json(&b), "{\"a\":3,\"b\":2}");

    /* two keys that differ only in a lone surrogate become the same key */
    b = start();
    wire_put_object_begin(&b, 2);
    wire_put_key(&b, "\xed\xa0\x80", 3);
    wire_put_number(&b, 1);
    wire_put_key(&b, "\xed\xa0\x81", 3);
    wire_put_number(&b, 2);
    CHECK_EQ_STR(to_json(&b), "{\"\xef\xbf\xbd\":2}");

    /* more keys than the fast path checks for repeats */
    b = start();
    wire_put_object_begin(&b, 17);
    char key[4];
    for (int i = 0; i < 17; i++) {
        snprintf(key, sizeof key, "k%d", i);
        wire_put_key(&b, key, strlen(key));
        wire_put_number(&b, i);
    }
    CHECK_CONTAINS(to_json(&b), "\"k16\":16}");

    /* deeper than the fast path goes */
    b = start();
    for (int i = 0; i < 12; i++) wire_put_array_begin(&b, 1);
    wire_put_string(&b, "deep", 4);
    CHECK_EQ_STR(to_json(&b), "[[[[[[[[[[[[\"deep\"]]]]]]]]]]]]");

    /* over the size limit on either path */
    b = start();
    wire_put_array_begin(&b, 2);
    wire_put_string(&b, "0123456789", 10);
    wire_put_string(&b, "0123456789", 10);
    CHECK_CONTAINS(to_json_lim(&b, 0, 20), "ERR");
    b = start();
    wire_put_string(&b, "0123456789", 10);
    CHECK_EQ_STR(to_json_lim(&b, 0, 12), "\"0123456789\"");
}
