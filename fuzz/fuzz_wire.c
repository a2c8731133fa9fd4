/* libFuzzer target for the payload decoder and the JSON bridge.
 *
 * The visitor does not just accept: it checks the promises wire.h makes
 * (balanced begins and ends, exactly the announced number of children,
 * holes only in arrays, keys only in objects, an error followed by its
 * props object, backrefs only to values already begun, stubs below
 * cap_count, strings valid WTF-8) and re-encodes every event with the put
 * functions. What was accepted must re-encode to a payload that is itself
 * accepted, and re-encoding that must give the same bytes again (the
 * canonical form is a fixed point). Any broken promise aborts.
 *
 * The same bytes are also read as JSON text (wire_from_json, which hosts
 * and upstream results feed): what it accepts must be a valid payload, and
 * must encode exactly as the same value inside an array does, which holds
 * its scalar fast path to the full parser.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"
#include "wire/wire_internal.h"

#define FUZZ_CAPS 16

enum { K_ARRAY, K_OBJECT, K_MAP, K_SET, K_ERROR, K_PROPS };

struct checker {
    struct wire_buf out;
    int kind[WIRE_MAX_DEPTH + 1];
    uint64_t left[WIRE_MAX_DEPTH + 1];
    int key_pending[WIRE_MAX_DEPTH + 1];
    size_t sp;
    uint64_t begun;
    int top_done;
};

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

/* A value arrives: it must be wanted by the innermost container. */
static void value(struct checker *c) {
    if (c->sp == 0) {
        REQUIRE(!c->top_done);
        c->top_done = 1;
        return;
    }
    size_t t = c->sp - 1;
    REQUIRE(c->kind[t] != K_ERROR);
    if (c->kind[t] == K_OBJECT || c->kind[t] == K_PROPS) {
        REQUIRE(c->key_pending[t]);
        c->key_pending[t] = 0;
        return;
    }
    REQUIRE(c->left[t] > 0);
    c->left[t]--;
}

static void open_(struct checker *c, int kind, uint64_t left) {
    REQUIRE(c->sp < WIRE_MAX_DEPTH);
    c->kind[c->sp] = kind;
    c->left[c->sp] = left;
    c->key_pending[c->sp] = 0;
    c->sp++;
    c->begun++;
}

static void close_(struct checker *c, int kind) {
    REQUIRE(c->sp > 0);
    size_t t = c->sp - 1;
    REQUIRE(c->kind[t] == kind);
    REQUIRE(c->left[t] == 0 && !c->key_pending[t]);
    c->sp--;
}

static int on_undefined(void *ud) { struct checker *c = ud; value(c); wire_put_undefined(&c->out); return 0; }
static int on_null(void *ud) { struct checker *c = ud; value(c); wire_put_null(&c->out); return 0; }
static int on_boolean(void *ud, int v) {
    struct checker *c = ud;
    REQUIRE(v == 0 || v == 1);
    value(c);
    wire_put_bool(&c->out, v);
    return 0;
}
static int on_number(void *ud, double v) { struct checker *c = ud; value(c); wire_put_number(&c->out, v); return 0; }
static int on_bigint(void *ud, int neg, const uint8_t *m, size_t n) {
    struct checker *c = ud;
    REQUIRE(neg == 0 || neg == 1);
    REQUIRE(n == 0 || m[n - 1] != 0);
    REQUIRE(!(neg && n == 0));
    value(c);
    wire_put_bigint(&c->out, neg, m, n);
    return 0;
}
static int on_string(void *ud, const char *s, size_t n) {
    struct checker *c = ud;
    REQUIRE(wire_wtf8_valid((const uint8_t *)s, n));
    value(c);
    wire_put_string(&c->out, s, n);
    return 0;
}
static int on_date(void *ud, double ms) { struct checker *c = ud; value(c); wire_put_date(&c->out, ms); return 0; }
static int on_regexp(void *ud, const char *s, size_t n, const char *f, size_t fn) {
    struct checker *c = ud;
    REQUIRE(wire_wtf8_valid((const uint8_t *)s, n) && wire_wtf8_valid((const uint8_t *)f, fn));
    value(c);
    wire_put_regexp(&c->out, s, n, f, fn);
    return 0;
}
static int on_array_begin(void *ud, uint64_t n) {
    struct checker *c = ud;
    value(c);
    open_(c, K_ARRAY, n);
    wire_put_array_begin(&c->out, n);
    return 0;
}
static int on_hole(void *ud) {
    struct checker *c = ud;
    REQUIRE(c->sp > 0 && c->kind[c->sp - 1] == K_ARRAY);
    value(c);
    wire_put_hole(&c->out);
    return 0;
}
static int on_array_end(void *ud) { close_(ud, K_ARRAY); return 0; }
static int on_object_begin(void *ud, uint64_t n) {
    struct checker *c = ud;
    int props = c->sp > 0 && c->kind[c->sp - 1] == K_ERROR;
    if (props) {
        /* the one object an error frame takes */
        REQUIRE(c->left[c->sp - 1] == 1);
        c->left[c->sp - 1] = 0;
    } else {
        value(c);
    }
    open_(c, props ? K_PROPS : K_OBJECT, n);
    wire_put_object_begin(&c->out, n);
    return 0;
}
static int on_key(void *ud, const char *s, size_t n) {
    struct checker *c = ud;
    REQUIRE(c->sp > 0);
    size_t t = c->sp - 1;
    REQUIRE(c->kind[t] == K_OBJECT || c->kind[t] == K_PROPS);
    REQUIRE(!c->key_pending[t] && c->left[t] > 0);
    REQUIRE(wire_wtf8_valid((const uint8_t *)s, n));
    c->left[t]--;
    c->key_pending[t] = 1;
    wire_put_key(&c->out, s, n);
    return 0;
}
static int on_object_end(void *ud) {
    struct checker *c = ud;
    REQUIRE(c->sp > 0);
    close_(c, c->kind[c->sp - 1] == K_PROPS ? K_PROPS : K_OBJECT);
    return 0;
}
static int on_map_begin(void *ud, uint64_t n) {
    struct checker *c = ud;
    value(c);
    REQUIRE(n <= UINT64_MAX / 2);
    open_(c, K_MAP, 2 * n);
    wire_put_map_begin(&c->out, n);
    return 0;
}
static int on_map_end(void *ud) { close_(ud, K_MAP); return 0; }
static int on_set_begin(void *ud, uint64_t n) {
    struct checker *c = ud;
    value(c);
    open_(c, K_SET, n);
    wire_put_set_begin(&c->out, n);
    return 0;
}
static int on_set_end(void *ud) { close_(ud, K_SET); return 0; }
static int on_bytes(void *ud, enum wire_bytes_kind k, const uint8_t *p, size_t n) {
    struct checker *c = ud;
    size_t elem = wire_bytes_elem_size((unsigned)k);
    REQUIRE(elem && n % elem == 0);
    value(c);
    c->begun++;
    wire_put_bytes(&c->out, k, p, n);
    return 0;
}
static int on_error_begin(void *ud, const char *name, size_t nl, const char *msg, size_t ml,
                          const char *stack, size_t sl) {
    struct checker *c = ud;
    REQUIRE(wire_wtf8_valid((const uint8_t *)name, nl) && wire_wtf8_valid((const uint8_t *)msg, ml));
    REQUIRE(!stack || wire_wtf8_valid((const uint8_t *)stack, sl));
    value(c);
    open_(c, K_ERROR, 1);
    wire_put_error_begin(&c->out, name, nl, msg, ml, stack, sl);
    return 0;
}
static int on_error_end(void *ud) { close_(ud, K_ERROR); return 0; }
static int on_backref(void *ud, uint64_t i) {
    struct checker *c = ud;
    REQUIRE(i < c->begun);
    value(c);
    wire_put_backref(&c->out, i);
    return 0;
}
static int on_stub(void *ud, uint64_t i) {
    struct checker *c = ud;
    REQUIRE(i < FUZZ_CAPS);
    value(c);
    wire_put_stub(&c->out, i);
    return 0;
}

static const struct wire_visitor checking = {
    on_undefined, on_null, on_boolean, on_number, on_bigint, on_string, on_date, on_regexp,
    on_array_begin, on_hole, on_array_end, on_object_begin, on_key, on_object_end,
    on_map_begin, on_map_end, on_set_begin, on_set_end, on_bytes, on_error_begin,
    on_error_end, on_backref, on_stub,
};

/* Decodes with the checker; returns the status, the re-encoding in *out. */
static int check_decode(const uint8_t *data, size_t size, struct wire_buf *out) {
    static struct checker c;
    memset(&c, 0, sizeof c);
    wire_buf_init(&c.out, 0);
    wire_put_header(&c.out);
    struct wire_limits lim = {0, FUZZ_CAPS};
    size_t off = 0;
    int rc = wire_decode(data, size, &lim, &checking, &c, &off);
    REQUIRE(rc <= 0 && rc >= WIRE_ERR_BAD_REF);
    REQUIRE(off <= size);
    REQUIRE(rc == wire_validate(data, size, &lim));
    if (rc == WIRE_OK) {
        REQUIRE(c.sp == 0 && c.top_done && off == size);
        REQUIRE(c.out.status == WIRE_OK);
    }
    *out = c.out;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct wire_buf once, twice;
    int rc = check_decode(data, size, &once);
    if (rc == WIRE_OK) {
        REQUIRE(check_decode(once.data, once.len, &twice) == WIRE_OK);
        REQUIRE(twice.len == once.len && memcmp(twice.data, once.data, once.len) == 0);
        wire_buf_free(&twice);
    }
    wire_buf_free(&once);

    struct wire_limits lim = {0, FUZZ_CAPS};
    int status = 1;
    char *json = wire_to_json(data, size, &lim, 1 << 20, &status);
    REQUIRE((json != NULL) == (status == WIRE_OK));
    /* The streaming fast path prints exactly what the tree path prints. */
    int tree_status = 1;
    char *tree = wire_to_json_tree(data, size, &lim, 1 << 20, &tree_status);
    REQUIRE(tree_status == status);
    REQUIRE((tree == NULL) == (json == NULL));
    if (tree) REQUIRE(strcmp(tree, json) == 0);
    free(tree);
    if (rc != WIRE_OK) REQUIRE(json == NULL);
    if (json) {
        /* valid JSON and valid UTF-8, which jansson checks on load */
        json_error_t err;
        json_t *j = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
        /* A key holding U+0000 is valid JSON that jansson will not load. */
        REQUIRE(j != NULL || json_error_code(&err) == json_error_null_byte_in_key);
        json_decref(j);
        free(json);
    }

    /* The input as JSON text: a payload wire_from_json makes must be
     * valid, and what it accepts alone (its scalar fast path included) must
     * encode exactly as the same value inside an array: the header, ARRAY,
     * a count of 1, then the element. */
    size_t n1 = 0, n2 = 0;
    int s1 = 1, s2 = 1;
    uint8_t *lone = wire_from_json((const char *)data, size, 1 << 20, &n1, &s1, NULL, 0);
    REQUIRE((lone != NULL) == (s1 == WIRE_OK));
    if (lone) {
        REQUIRE(wire_validate(lone, n1, NULL) == WIRE_OK);
        char *wrapped = malloc(size + 3);
        if (wrapped) {
            wrapped[0] = '[';
            if (size) memcpy(wrapped + 1, data, size);
            wrapped[size + 1] = ']';
            uint8_t *arr = wire_from_json(wrapped, size + 2, (1 << 20) + 8, &n2, &s2, NULL, 0);
            /* One more level of nesting may pass a depth limit. */
            if (!arr) REQUIRE(s2 == WIRE_ERR_TOO_DEEP);
            else REQUIRE(n2 == n1 + 2 && arr[0] == lone[0] && memcmp(arr + 3, lone + 1, n1 - 1) == 0);
            free(arr);
            free(wrapped);
        }
        free(lone);
    }
    return 0;
}
