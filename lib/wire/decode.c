/* The wire decoder: the one place untrusted bytes become values.
 *
 * Every consumer (the engine building JavaScript values, the JSON bridge,
 * the router validating a payload it forwards) goes through wire_decode, so
 * this is the code the fuzzers aim at. It is iterative, with an explicit
 * stack of at most WIRE_MAX_DEPTH frames on the C stack, so no input can
 * exhaust the real stack and no allocation happens here at all.
 *
 * Three rules keep a hostile payload from making a visitor do more work
 * than the payload's size justifies:
 *  - every length is checked against the bytes that remain before use;
 *  - a container's declared count must fit in what remains, counting the
 *    outstanding elements of every container still open ("need": one byte
 *    per array/set element or map half, two per object pair). Since all
 *    those elements must still come, the sum of all counts announced to
 *    the visitor and not yet delivered never exceeds the remaining input,
 *    so pre-sizing a container by its count is always safe;
 *  - backref indexes may only name values already begun, so a visitor can
 *    resolve them with a simple array indexed by begin order.
 * A value is fully validated before it is reported (strings are checked as
 * WTF-8 before the string callback, a stub index before the stub callback).
 */
#include <string.h>

#include "wire/wire_internal.h"

enum frame_kind { F_ARRAY, F_OBJECT, F_MAP, F_SET, F_ERROR };

struct frame {
    uint8_t kind;
    uint8_t props_done;     /* F_ERROR: its extra-props object has been read */
    uint64_t left;          /* items still to come (a map counts keys and values) */
};

struct dec {
    const uint8_t *p;
    size_t len;
    size_t pos;
    const struct wire_visitor *v;
    void *ud;
    uint64_t nobj;          /* object-like values begun so far */
    uint64_t cap_count;
    size_t max_depth;
    uint64_t need;          /* minimum bytes the open containers still need */
    size_t err_pos;
    size_t sp;
    struct frame stack[WIRE_MAX_DEPTH];
};

static const struct wire_visitor no_visitor;

/* Calls a visitor callback if it is set; a refusal becomes WIRE_ERR_VISITOR. */
#define VISIT(d, cb, ...) \
    ((d)->v->cb && (d)->v->cb((d)->ud, ##__VA_ARGS__) ? WIRE_ERR_VISITOR : WIRE_OK)

static int fail(struct dec *d, int rc, size_t at) {
    d->err_pos = at;
    return rc;
}

static int get_varint(struct dec *d, uint64_t *out) {
    size_t at = d->pos;
    int rc = wire_get_varint(d->p, d->len, &d->pos, out);
    return rc == WIRE_OK ? rc : fail(d, rc, at);
}

static int get_f64(struct dec *d, double *out) {
    if (d->len - d->pos < 8) return fail(d, WIRE_ERR_TRUNCATED, d->pos);
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++) bits |= (uint64_t)d->p[d->pos + i] << (8 * i);
    d->pos += 8;
    memcpy(out, &bits, 8);
    return WIRE_OK;
}

/* A string without a tag: varint byte length, then WTF-8. */
static int get_str(struct dec *d, const char **s, size_t *n) {
    size_t at = d->pos;
    uint64_t len;
    int rc = get_varint(d, &len);
    if (rc != WIRE_OK) return rc;
    if (len > d->len - d->pos) return fail(d, WIRE_ERR_TRUNCATED, at);
    if (!wire_wtf8_valid(d->p + d->pos, (size_t)len)) return fail(d, WIRE_ERR_MALFORMED, at);
    *s = (const char *)d->p + d->pos;
    *n = (size_t)len;
    d->pos += (size_t)len;
    return WIRE_OK;
}

/* Reads a container's count, checks it against the remaining input (each
 * item needs at least per_item bytes on top of what open containers still
 * need) and against the depth limit, and pushes its frame. */
static int push(struct dec *d, enum frame_kind kind, size_t at, uint64_t *count, unsigned per_item,
                unsigned items_per_count) {
    if (d->sp >= d->max_depth) return fail(d, WIRE_ERR_TOO_DEEP, at);
    uint64_t c = 0;
    if (kind != F_ERROR) {
        int rc = get_varint(d, &c);
        if (rc != WIRE_OK) return rc;
        size_t avail = d->len - d->pos;
        if (d->need > avail || c > (avail - d->need) / (per_item * items_per_count))
            return fail(d, WIRE_ERR_TRUNCATED, at);
        d->need += c * per_item * items_per_count;
    }
    struct frame *f = &d->stack[d->sp++];
    f->kind = (uint8_t)kind;
    f->props_done = 0;
    f->left = c * items_per_count;
    *count = c;
    return WIRE_OK;
}

/* Reads one value at d->pos. allow_hole: we are directly inside an array.
 * only_object: an error's extra-props slot, where only WIRE_OBJECT fits. */
static int read_value(struct dec *d, int allow_hole, int only_object) {
    size_t at = d->pos;
    if (d->pos >= d->len) return fail(d, WIRE_ERR_TRUNCATED, at);
    uint8_t tag = d->p[d->pos++];
    if (only_object && tag != WIRE_OBJECT) return fail(d, WIRE_ERR_MALFORMED, at);
    int rc = WIRE_OK;
    uint64_t u, count;
    double num;
    const char *s1, *s2, *s3;
    size_t n1, n2, n3;

    switch (tag) {
    case WIRE_UNDEFINED: rc = VISIT(d, undefined_); break;
    case WIRE_NULL: rc = VISIT(d, null_); break;
    case WIRE_FALSE: rc = VISIT(d, boolean, 0); break;
    case WIRE_TRUE: rc = VISIT(d, boolean, 1); break;
    case WIRE_INT:
        if ((rc = get_varint(d, &u)) != WIRE_OK) return rc;
        if (u > WIRE_INT_MAX_ZIGZAG) return fail(d, WIRE_ERR_MALFORMED, at);
        num = (u & 1) ? -(double)(u >> 1) - 1 : (double)(u >> 1);
        rc = VISIT(d, number, num);
        break;
    case WIRE_FLOAT:
        if ((rc = get_f64(d, &num)) != WIRE_OK) return rc;
        rc = VISIT(d, number, num);
        break;
    case WIRE_DATE:
        if ((rc = get_f64(d, &num)) != WIRE_OK) return rc;
        rc = VISIT(d, date, num);
        break;
    case WIRE_BIGINT: {
        if (d->pos >= d->len) return fail(d, WIRE_ERR_TRUNCATED, d->pos);
        uint8_t sign = d->p[d->pos++];
        if (sign > 1) return fail(d, WIRE_ERR_MALFORMED, at);
        if ((rc = get_varint(d, &u)) != WIRE_OK) return rc;
        if (u > d->len - d->pos) return fail(d, WIRE_ERR_TRUNCATED, at);
        const uint8_t *mag = d->p + d->pos;
        /* Only the canonical form, as wire_put_bigint writes it. */
        if ((u && mag[u - 1] == 0) || (sign && !u)) return fail(d, WIRE_ERR_MALFORMED, at);
        d->pos += (size_t)u;
        rc = VISIT(d, bigint, sign, mag, (size_t)u);
        break;
    }
    case WIRE_STRING:
        if ((rc = get_str(d, &s1, &n1)) != WIRE_OK) return rc;
        rc = VISIT(d, string, s1, n1);
        break;
    case WIRE_REGEXP:
        if ((rc = get_str(d, &s1, &n1)) != WIRE_OK) return rc;
        if ((rc = get_str(d, &s2, &n2)) != WIRE_OK) return rc;
        rc = VISIT(d, regexp, s1, n1, s2, n2);
        break;
    case WIRE_ARRAY:
        if ((rc = push(d, F_ARRAY, at, &count, 1, 1)) != WIRE_OK) return rc;
        rc = VISIT(d, array_begin, count);
        d->nobj++;
        break;
    case WIRE_SET:
        if ((rc = push(d, F_SET, at, &count, 1, 1)) != WIRE_OK) return rc;
        rc = VISIT(d, set_begin, count);
        d->nobj++;
        break;
    case WIRE_MAP:
        if ((rc = push(d, F_MAP, at, &count, 1, 2)) != WIRE_OK) return rc;
        rc = VISIT(d, map_begin, count);
        d->nobj++;
        break;
    case WIRE_OBJECT:
        if ((rc = push(d, F_OBJECT, at, &count, 2, 1)) != WIRE_OK) return rc;
        rc = VISIT(d, object_begin, count);
        d->nobj++;
        break;
    case WIRE_HOLE:
        if (!allow_hole) return fail(d, WIRE_ERR_MALFORMED, at);
        rc = VISIT(d, hole);
        break;
    case WIRE_BYTES: {
        if (d->pos >= d->len) return fail(d, WIRE_ERR_TRUNCATED, d->pos);
        uint8_t kind = d->p[d->pos++];
        size_t elem = wire_bytes_elem_size(kind);
        if (!elem) return fail(d, WIRE_ERR_MALFORMED, at);
        if ((rc = get_varint(d, &u)) != WIRE_OK) return rc;
        if (u > d->len - d->pos) return fail(d, WIRE_ERR_TRUNCATED, at);
        if (u % elem) return fail(d, WIRE_ERR_MALFORMED, at);
        const uint8_t *bytes = d->p + d->pos;
        d->pos += (size_t)u;
        rc = VISIT(d, bytes, (enum wire_bytes_kind)kind, bytes, (size_t)u);
        d->nobj++;
        break;
    }
    case WIRE_ERROR: {
        if ((rc = get_str(d, &s1, &n1)) != WIRE_OK) return rc;
        if ((rc = get_str(d, &s2, &n2)) != WIRE_OK) return rc;
        if (d->pos >= d->len) return fail(d, WIRE_ERR_TRUNCATED, d->pos);
        uint8_t has_stack = d->p[d->pos++];
        if (has_stack > 1) return fail(d, WIRE_ERR_MALFORMED, d->pos - 1);
        s3 = NULL;
        n3 = 0;
        if (has_stack && (rc = get_str(d, &s3, &n3)) != WIRE_OK) return rc;
        if ((rc = push(d, F_ERROR, at, &count, 0, 0)) != WIRE_OK) return rc;
        rc = VISIT(d, error_begin, s1, n1, s2, n2, s3, n3);
        d->nobj++;
        break;
    }
    case WIRE_BACKREF:
        if ((rc = get_varint(d, &u)) != WIRE_OK) return rc;
        if (u >= d->nobj) return fail(d, WIRE_ERR_BAD_REF, at);
        rc = VISIT(d, backref, u);
        break;
    case WIRE_STUB:
        if ((rc = get_varint(d, &u)) != WIRE_OK) return rc;
        if (u >= d->cap_count) return fail(d, WIRE_ERR_BAD_REF, at);
        rc = VISIT(d, stub, u);
        break;
    default:
        return fail(d, WIRE_ERR_MALFORMED, at);
    }
    return rc == WIRE_OK ? rc : fail(d, rc, at);
}

/* Advances the innermost open container by one step: its next item, or
 * its end. */
static int step(struct dec *d) {
    struct frame *f = &d->stack[d->sp - 1];
    size_t at = d->pos;
    int rc;
    switch (f->kind) {
    case F_ARRAY:
    case F_SET:
        if (f->left == 0) {
            d->sp--;
            rc = f->kind == F_ARRAY ? VISIT(d, array_end) : VISIT(d, set_end);
            return rc == WIRE_OK ? rc : fail(d, rc, at);
        }
        f->left--;
        d->need -= 1;
        return read_value(d, f->kind == F_ARRAY, 0);
    case F_MAP:
        if (f->left == 0) {
            d->sp--;
            rc = VISIT(d, map_end);
            return rc == WIRE_OK ? rc : fail(d, rc, at);
        }
        f->left--;
        d->need -= 1;
        return read_value(d, 0, 0);
    case F_OBJECT: {
        if (f->left == 0) {
            d->sp--;
            rc = VISIT(d, object_end);
            return rc == WIRE_OK ? rc : fail(d, rc, at);
        }
        f->left--;
        d->need -= 2;
        const char *k;
        size_t kn;
        if ((rc = get_str(d, &k, &kn)) != WIRE_OK) return rc;
        if ((rc = VISIT(d, key, k, kn)) != WIRE_OK) return fail(d, rc, at);
        return read_value(d, 0, 0);
    }
    default: /* F_ERROR */
        if (!f->props_done) {
            f->props_done = 1;
            return read_value(d, 0, 1);
        }
        d->sp--;
        rc = VISIT(d, error_end);
        return rc == WIRE_OK ? rc : fail(d, rc, at);
    }
}

int wire_decode(const uint8_t *data, size_t len, const struct wire_limits *limits,
                const struct wire_visitor *v, void *ud, size_t *err_offset) {
    struct dec d;
    d.p = data;
    d.len = data ? len : 0;
    d.pos = 0;
    d.v = v ? v : &no_visitor;
    d.ud = ud;
    d.nobj = 0;
    d.cap_count = limits ? limits->cap_count : 0;
    d.max_depth = limits && limits->max_depth && limits->max_depth < WIRE_MAX_DEPTH
                      ? limits->max_depth
                      : WIRE_MAX_DEPTH;
    d.need = 0;
    d.err_pos = 0;
    d.sp = 0;

    int rc;
    if (d.len == 0) {
        rc = fail(&d, WIRE_ERR_TRUNCATED, 0);
    } else if (d.p[0] != WIRE_VERSION) {
        rc = fail(&d, WIRE_ERR_MALFORMED, 0);
    } else {
        d.pos = 1;
        rc = read_value(&d, 0, 0);
        while (rc == WIRE_OK && d.sp > 0) rc = step(&d);
        if (rc == WIRE_OK && d.pos != d.len) rc = fail(&d, WIRE_ERR_MALFORMED, d.pos);
    }
    if (err_offset) *err_offset = rc == WIRE_OK ? d.pos : d.err_pos;
    return rc;
}

int wire_validate(const uint8_t *data, size_t len, const struct wire_limits *limits) {
    return wire_decode(data, len, limits, NULL, NULL, NULL);
}
