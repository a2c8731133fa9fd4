/* The wire encoder: a growable byte buffer and one put function per tag.
 *
 * The encoder is deliberately dumb about structure — it does not track
 * nesting, counts or backref numbering; the caller (the engine walking a
 * JavaScript value, the JSON bridge walking a json_t) already knows those.
 * What it does enforce is everything a receiver would otherwise refuse
 * later and far from the cause: WTF-8 in every string, the WIRE_INT range,
 * canonical BigInts, element sizes of typed arrays. Every failure poisons
 * the buffer, so a caller may write a whole value and check once at the
 * end; a poisoned buffer never grows again, and the byte limit is checked
 * before any allocation so a hostile value cannot make us allocate past it.
 *
 * The shared validity checks (varints, WTF-8) live here too, next to the
 * writer, so reader and writer agree by construction.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire_internal.h"

char *wire_u64_digits(uint64_t v, char buf[WIRE_U64_DIGITS]) {
    char *p = buf + WIRE_U64_DIGITS;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

const char *wire_status_message(int status) {
    switch (status) {
    case WIRE_OK: return "ok";
    case WIRE_ERR_NOMEM: return "out of memory";
    case WIRE_ERR_TRUNCATED: return "truncated input";
    case WIRE_ERR_MALFORMED: return "malformed input";
    case WIRE_ERR_TOO_DEEP: return "nesting too deep";
    case WIRE_ERR_TOO_LARGE: return "too large";
    case WIRE_ERR_BAD_REF: return "reference to a value or capability that does not exist";
    case WIRE_ERR_VISITOR: return "refused by the visitor";
    default: return "unknown wire status";
    }
}

/* ---- shared checks ------------------------------------------------------- */

int wire_get_varint(const uint8_t *data, size_t len, size_t *pos, uint64_t *out) {
    uint64_t v = 0;
    size_t p = *pos;
    for (unsigned i = 0; i < 10; i++) {
        if (p >= len) return WIRE_ERR_TRUNCATED;
        uint8_t byte = data[p++];
        /* The tenth group holds only bit 63: anything more is past 64 bits
         * (this also refuses a continuation bit there). */
        if (i == 9 && byte > 1) return WIRE_ERR_MALFORMED;
        v |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            /* One encoding per number: a final zero group after the first
             * adds nothing and would let two byte strings mean one value. */
            if (byte == 0 && i > 0) return WIRE_ERR_MALFORMED;
            *pos = p;
            *out = v;
            return WIRE_OK;
        }
    }
    return WIRE_ERR_MALFORMED;
}

static int is_cont(uint8_t c) { return (c & 0xc0) == 0x80; }

int wire_wtf8_valid(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
        } else if (c < 0xc2) {
            return 0; /* stray continuation byte, or overlong C0/C1 lead */
        } else if (c < 0xe0) {
            if (n - i < 2 || !is_cont(p[i + 1])) return 0;
            i += 2;
        } else if (c < 0xf0) {
            if (n - i < 3 || !is_cont(p[i + 1]) || !is_cont(p[i + 2])) return 0;
            if (c == 0xe0 && p[i + 1] < 0xa0) return 0; /* overlong */
            /* ED A0..AF is a lead surrogate; if a trail (ED B0..BF) follows
             * at once, the pair should have been one supplementary char. */
            if (c == 0xed && p[i + 1] <= 0xaf && n - i >= 6 && p[i + 3] == 0xed &&
                p[i + 4] >= 0xb0 && p[i + 4] <= 0xbf)
                return 0;
            i += 3;
        } else if (c < 0xf5) {
            if (n - i < 4 || !is_cont(p[i + 1]) || !is_cont(p[i + 2]) || !is_cont(p[i + 3]))
                return 0;
            if (c == 0xf0 && p[i + 1] < 0x90) return 0; /* overlong */
            if (c == 0xf4 && p[i + 1] > 0x8f) return 0; /* above U+10FFFF */
            i += 4;
        } else {
            return 0; /* F5..FF can only start code points above U+10FFFF */
        }
    }
    return 1;
}

size_t wire_bytes_elem_size(unsigned kind) {
    switch (kind) {
    case WIRE_BYTES_ARRAYBUFFER:
    case WIRE_BYTES_UINT8:
    case WIRE_BYTES_INT8:
    case WIRE_BYTES_UINT8C:
    case WIRE_BYTES_DATAVIEW: return 1;
    case WIRE_BYTES_INT16:
    case WIRE_BYTES_UINT16:
    case WIRE_BYTES_FLOAT16: return 2;
    case WIRE_BYTES_INT32:
    case WIRE_BYTES_UINT32:
    case WIRE_BYTES_FLOAT32: return 4;
    case WIRE_BYTES_FLOAT64:
    case WIRE_BYTES_BIGINT64:
    case WIRE_BYTES_BIGUINT64: return 8;
    default: return 0;
    }
}

/* ---- the buffer ---------------------------------------------------------- */

void wire_buf_init(struct wire_buf *b, size_t limit) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
    b->status = WIRE_OK;
}

void wire_buf_free(struct wire_buf *b) {
    free(b->data);
    wire_buf_init(b, b->limit);
}

uint8_t *wire_buf_take(struct wire_buf *b, size_t *len) {
    uint8_t *p = b->data;
    size_t n = b->len;
    if (b->status != WIRE_OK) {
        free(p);
        p = NULL;
        n = 0;
    } else if (!p) {
        /* An empty success still hands back a pointer, so NULL always
         * means failure. */
        p = malloc(1);
    }
    wire_buf_init(b, b->limit);
    if (len) *len = n;
    return p;
}

static int poison(struct wire_buf *b, int status) {
    if (b->status == WIRE_OK) b->status = status;
    return b->status;
}

/* Makes room for n more bytes. The limit is checked before allocating, and
 * growth never allocates past the limit. */
static int reserve(struct wire_buf *b, size_t n) {
    if (b->status != WIRE_OK) return b->status;
    size_t limit = b->limit ? b->limit : SIZE_MAX;
    if (b->len > limit || n > limit - b->len) return poison(b, WIRE_ERR_TOO_LARGE);
    size_t need = b->len + n;
    if (need <= b->cap) return WIRE_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > limit) cap = limit;
    uint8_t *p = realloc(b->data, cap);
    if (!p) return poison(b, WIRE_ERR_NOMEM);
    b->data = p;
    b->cap = cap;
    return WIRE_OK;
}

int wire_put_raw(struct wire_buf *b, const void *p, size_t n) {
    int rc = reserve(b, n);
    if (rc != WIRE_OK) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return WIRE_OK;
}

int wire_put_u8(struct wire_buf *b, uint8_t v) { return wire_put_raw(b, &v, 1); }

int wire_put_varint(struct wire_buf *b, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        tmp[n++] = byte | (v ? 0x80 : 0);
    } while (v);
    return wire_put_raw(b, tmp, n);
}

static int put_tag_varint(struct wire_buf *b, uint8_t tag, uint64_t v) {
    wire_put_u8(b, tag);
    return wire_put_varint(b, v);
}

static int put_f64(struct wire_buf *b, double d) {
    uint64_t bits;
    uint8_t tmp[8];
    memcpy(&bits, &d, 8);
    for (int i = 0; i < 8; i++) tmp[i] = (uint8_t)(bits >> (8 * i));
    return wire_put_raw(b, tmp, 8);
}

int wire_put_header(struct wire_buf *b) { return wire_put_u8(b, WIRE_VERSION); }
int wire_put_undefined(struct wire_buf *b) { return wire_put_u8(b, WIRE_UNDEFINED); }
int wire_put_null(struct wire_buf *b) { return wire_put_u8(b, WIRE_NULL); }
int wire_put_bool(struct wire_buf *b, int v) { return wire_put_u8(b, v ? WIRE_TRUE : WIRE_FALSE); }
int wire_put_hole(struct wire_buf *b) { return wire_put_u8(b, WIRE_HOLE); }

int wire_put_number(struct wire_buf *b, double d) {
    /* The range test comes first: it is false for NaN, and it keeps the
     * cast to int64_t defined. */
    if (fabs(d) <= WIRE_INT_MAX_MAGNITUDE && (double)(int64_t)d == d && !(d == 0 && signbit(d))) {
        int64_t n = (int64_t)d;
        uint64_t z = n < 0 ? ((uint64_t)-n << 1) - 1 : (uint64_t)n << 1;
        return put_tag_varint(b, WIRE_INT, z);
    }
    wire_put_u8(b, WIRE_FLOAT);
    return put_f64(b, d);
}

int wire_put_bigint(struct wire_buf *b, int negative, const uint8_t *magnitude_le, size_t len) {
    if (!magnitude_le && len) return poison(b, WIRE_ERR_MALFORMED);
    /* Canonical form (no high zero bytes, no negative zero), so equal
     * BigInts are equal bytes and the decoder can refuse anything else. */
    while (len && magnitude_le[len - 1] == 0) len--;
    wire_put_u8(b, WIRE_BIGINT);
    wire_put_u8(b, negative && len ? 1 : 0);
    wire_put_varint(b, len);
    return wire_put_raw(b, magnitude_le, len);
}

int wire_put_key(struct wire_buf *b, const char *s, size_t len) {
    if (b->status != WIRE_OK) return b->status;
    if ((!s && len) || (len && !wire_wtf8_valid((const uint8_t *)s, len)))
        return poison(b, WIRE_ERR_MALFORMED);
    wire_put_varint(b, len);
    return wire_put_raw(b, s, len);
}

int wire_put_string(struct wire_buf *b, const char *s, size_t len) {
    if (b->status != WIRE_OK) return b->status;
    if ((!s && len) || (len && !wire_wtf8_valid((const uint8_t *)s, len)))
        return poison(b, WIRE_ERR_MALFORMED);
    wire_put_u8(b, WIRE_STRING);
    wire_put_varint(b, len);
    return wire_put_raw(b, s, len);
}

int wire_put_date(struct wire_buf *b, double ms) {
    wire_put_u8(b, WIRE_DATE);
    return put_f64(b, ms);
}

int wire_put_regexp(struct wire_buf *b, const char *src, size_t src_len, const char *flags,
                    size_t flags_len) {
    wire_put_u8(b, WIRE_REGEXP);
    wire_put_key(b, src, src_len);
    return wire_put_key(b, flags, flags_len);
}

int wire_put_array_begin(struct wire_buf *b, uint64_t length) {
    return put_tag_varint(b, WIRE_ARRAY, length);
}
int wire_put_object_begin(struct wire_buf *b, uint64_t count) {
    return put_tag_varint(b, WIRE_OBJECT, count);
}
int wire_put_map_begin(struct wire_buf *b, uint64_t count) { return put_tag_varint(b, WIRE_MAP, count); }
int wire_put_set_begin(struct wire_buf *b, uint64_t count) { return put_tag_varint(b, WIRE_SET, count); }
int wire_put_backref(struct wire_buf *b, uint64_t index) {
    return put_tag_varint(b, WIRE_BACKREF, index);
}
int wire_put_stub(struct wire_buf *b, uint64_t cap_index) {
    return put_tag_varint(b, WIRE_STUB, cap_index);
}

int wire_put_bytes(struct wire_buf *b, enum wire_bytes_kind kind, const void *p, size_t len) {
    size_t elem = wire_bytes_elem_size((unsigned)kind);
    if (!elem || len % elem || (!p && len)) return poison(b, WIRE_ERR_MALFORMED);
    wire_put_u8(b, WIRE_BYTES);
    wire_put_u8(b, (uint8_t)kind);
    wire_put_varint(b, len);
    return wire_put_raw(b, p, len);
}

int wire_put_error_begin(struct wire_buf *b, const char *name, size_t name_len,
                         const char *message, size_t message_len, const char *stack,
                         size_t stack_len) {
    wire_put_u8(b, WIRE_ERROR);
    wire_put_key(b, name, name_len);
    wire_put_key(b, message, message_len);
    wire_put_u8(b, stack ? 1 : 0);
    if (stack) wire_put_key(b, stack, stack_len);
    return b->status;
}
