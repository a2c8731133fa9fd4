/* Message envelopes: every kind round-trips, the cap list and name are
 * carried exactly, and the encoder and decoder refuse the same things
 * (unknown kinds and cap kinds, names and caps over their limits, payloads
 * where none belong, trailing bytes, truncation anywhere).
 */
#include <stdint.h>

#include "check.h"
#include "wire/wire.h"

static const uint8_t payload[] = {WIRE_VERSION, WIRE_ARRAY, 2, WIRE_STUB, 0, WIRE_STUB, 1};

static struct wire_msg call_msg(struct wire_cap *caps) {
    caps[0] = (struct wire_cap){WIRE_CAP_EXPORT, WIRE_CAP_F_FUNCTION, 7};
    caps[1] = (struct wire_cap){WIRE_CAP_IMPORT, WIRE_CAP_F_NO_TRANSFER, UINT64_MAX};
    struct wire_msg m = {0};
    m.kind = WIRE_MSG_CALL;
    m.id = 300;
    m.target = 5;
    m.name = "post";
    m.name_len = 4;
    m.caps = caps;
    m.cap_count = 2;
    m.payload = payload;
    m.payload_len = sizeof payload;
    return m;
}

/* Encodes m; returns the status and leaves the bytes in b. */
static int encode(struct wire_buf *b, const struct wire_msg *m) {
    wire_buf_init(b, 0);
    return wire_msg_encode(b, m);
}

TEST(msg_call_roundtrip) {
    struct wire_cap caps[2];
    struct wire_msg m = call_msg(caps);
    struct wire_buf b;
    CHECK_EQ_INT(encode(&b, &m), WIRE_OK);
    CHECK_EQ_INT(b.data[0], WIRE_MSG_MAGIC);

    struct wire_cap got_caps[8];
    struct wire_msg d;
    CHECK_EQ_INT(wire_msg_decode(b.data, b.len, &d, got_caps, 8), WIRE_OK);
    CHECK_EQ_INT(d.kind, WIRE_MSG_CALL);
    CHECK(d.id == 300 && d.target == 5);
    CHECK(d.name && d.name_len == 4 && memcmp(d.name, "post", 4) == 0);
    CHECK(d.name >= (const char *)b.data && d.name < (const char *)b.data + b.len);
    CHECK_EQ_INT(d.cap_count, 2);
    CHECK(d.caps == got_caps);
    CHECK(got_caps[0].kind == WIRE_CAP_EXPORT && got_caps[0].flags == WIRE_CAP_F_FUNCTION &&
          got_caps[0].id == 7);
    CHECK(got_caps[1].kind == WIRE_CAP_IMPORT && got_caps[1].flags == WIRE_CAP_F_NO_TRANSFER &&
          got_caps[1].id == UINT64_MAX);
    CHECK_EQ_INT(d.payload_len, sizeof payload);
    CHECK(d.payload == b.data + b.len - sizeof payload);
    CHECK(memcmp(d.payload, payload, sizeof payload) == 0);
    /* the payload decodes with the envelope's cap count */
    struct wire_limits lim = {0, d.cap_count};
    CHECK_EQ_INT(wire_validate(d.payload, d.payload_len, &lim), WIRE_OK);
    lim.cap_count = 1;
    CHECK_EQ_INT(wire_validate(d.payload, d.payload_len, &lim), WIRE_ERR_BAD_REF);
    wire_buf_free(&b);
}

TEST(msg_exact_layout) {
    struct wire_msg m = {0};
    m.kind = WIRE_MSG_CALL;
    m.id = 1;
    m.target = 2;
    m.name = "f";
    m.name_len = 1;
    struct wire_cap cap = {WIRE_CAP_IMPORT, 0, 3};
    m.caps = &cap;
    m.cap_count = 1;
    m.payload = (const uint8_t[]){1, WIRE_NULL};
    m.payload_len = 2;
    struct wire_buf b;
    CHECK_EQ_INT(encode(&b, &m), WIRE_OK);
    const uint8_t want[] = {0xc1, 1, WIRE_MSG_F_NAME, 1, 2, 1, 'f', 1, WIRE_CAP_IMPORT, 0, 3, 2,
                            1, WIRE_NULL};
    CHECK_EQ_INT(b.len, sizeof want);
    CHECK(memcmp(b.data, want, sizeof want) == 0);
    wire_buf_free(&b);
}

TEST(msg_every_kind) {
    for (uint8_t kind = WIRE_MSG_CALL; kind <= WIRE_MSG_KIND_MAX; kind++) {
        struct wire_msg m = {0};
        m.kind = kind;
        m.id = kind * 1000u;
        m.target = kind;
        int with_payload = kind == WIRE_MSG_CALL || kind == WIRE_MSG_RETURN || kind == WIRE_MSG_THROW;
        if (with_payload) {
            m.payload = payload;
            m.payload_len = sizeof payload;
        }
        struct wire_buf b;
        CHECK_EQ_INT(encode(&b, &m), WIRE_OK);
        struct wire_msg d;
        CHECK_EQ_INT(wire_msg_decode(b.data, b.len, &d, NULL, 0), WIRE_OK);
        CHECK_EQ_INT(d.kind, kind);
        CHECK(d.id == kind * 1000u && d.target == kind);
        CHECK(d.name == NULL && d.name_len == 0);
        CHECK_EQ_INT(d.cap_count, 0);
        CHECK_EQ_INT(d.payload_len, with_payload ? sizeof payload : 0);
        wire_buf_free(&b);
    }
}

TEST(msg_name_null_and_empty_differ) {
    struct wire_cap caps[2];
    struct wire_msg m = call_msg(caps);
    m.name = NULL;
    m.name_len = 0;
    struct wire_buf b;
    CHECK_EQ_INT(encode(&b, &m), WIRE_OK);
    struct wire_msg d;
    struct wire_cap got[2];
    CHECK_EQ_INT(wire_msg_decode(b.data, b.len, &d, got, 2), WIRE_OK);
    CHECK(d.name == NULL);
    wire_buf_free(&b);
    m.name = "";
    CHECK_EQ_INT(encode(&b, &m), WIRE_OK);
    CHECK_EQ_INT(wire_msg_decode(b.data, b.len, &d, got, 2), WIRE_OK);
    CHECK(d.name != NULL);
    CHECK_EQ_INT(d.name_len, 0);
    wire_buf_free(&b);
}

TEST(msg_name_limit) {
    char name[WIRE_MAX_NAME + 1];
    memset(name, 'n', sizeof name);
    struct wire_cap caps[2];
    struct wire_msg m = call_msg(caps);
    m.name = name;
    m.name_len = WIRE_MAX_NAME;
    struct wire_buf b;
    CHECK_EQ_INT(encode(&b, &m), WIRE_OK);
    struct wire_msg d;
    struct wire_cap got[2];
    CHECK_EQ_INT(wire_msg_decode(b.data, b.len, &d, got, 2), WIRE_OK);
    CHECK_EQ_INT(d.name_len, WIRE_MAX_NAME);
    wire_buf_free(&b);

    m.name_len = WIRE_MAX_NAME + 1;
    CHECK_EQ_INT(encode(&b, &m), WIRE_ERR_TOO_LARGE);
    CHECK_EQ_INT(b.len, 0);
    wire_buf_free(&b);
    /* hand-made: 1025-byte name (varint 0x81 0x08) */
    uint8_t raw[2000] = {0xc1, WIRE_MSG_CALL, WIRE_MSG_F_NAME, 0, 0, 0x81, 0x08};
    CHECK_EQ_INT(wire_msg_decode(raw, sizeof raw, &d, got, 2), WIRE_ERR_TOO_LARGE);

    /* names are WTF-8 */
    m.name = "\xc0\x80";
    m.name_len = 2;
    CHECK_EQ_INT(encode(&b, &m), WIRE_ERR_MALFORMED);
    wire_buf_free(&b);
    const uint8_t bad[] = {0xc1, WIRE_MSG_CALL, WIRE_MSG_F_NAME, 0, 0, 2, 0xc0, 0x80, 0, 2, 1, 2};
    CHECK_EQ_INT(wire_msg_decode(bad, sizeof bad, &d, got, 2), WIRE_ERR_MALFORMED);
    const uint8_t lone[] = {0xc1, WIRE_MSG_CALL, WIRE_MSG_F_NAME, 0, 0, 3, 0xed, 0xa0, 0x80, 0,
                            2, 1, 2};
    CHECK_EQ_INT(wire_msg_decode(lone, sizeof lone, &d, got, 2), WIRE_OK);
}

TEST(msg_cap_limits) {
    struct wire_cap *caps = calloc(WIRE_MAX_CAPS + 1, sizeof *caps);
    for (size_t i = 0; i <= WIRE_MAX_CAPS; i++) caps[i] = (struct wire_cap){WIRE_CAP_IMPORT, 0, i};
    struct wire_msg m = {0};
    m.kind = WIRE_MSG_RETURN;
    m.caps = caps;
    m.cap_count = WIRE_MAX_CAPS;
    m.payload = payload;
    m.payload_len = sizeof payload;
    struct wire_buf b;
    CHECK_EQ_INT(encode(&b, &m), WIRE_OK);
    struct wire_cap *got = calloc(WIRE_MAX_CAPS + 1, sizeof *got);
    struct wire_msg d;
    CHECK_EQ_INT(wire_msg_decode(b.data, b.len, &d, got, WIRE_MAX_CAPS), WIRE_OK);
    CHECK_EQ_INT(d.cap_count, WIRE_MAX_CAPS);
    CHECK(got[WIRE_MAX_CAPS - 1].id == WIRE_MAX_CAPS - 1);
    /* more caps than the caller's storage */
    CHECK_EQ_INT(wire_msg_decode(b.data, b.len, &d, got, 10), WIRE_ERR_TOO_LARGE);
    CHECK_EQ_INT(wire_msg_decode(b.data, b.len, &d, got, WIRE_MAX_CAPS - 1), WIRE_ERR_TOO_LARGE);
    wire_buf_free(&b);

    m.cap_count = WIRE_MAX_CAPS + 1;
    CHECK_EQ_INT(encode(&b, &m), WIRE_ERR_TOO_LARGE);
    wire_buf_free(&b);
    /* hand-made: 4097 caps, with storage claimed bigger than the hard cap */
    uint8_t raw[] = {0xc1, WIRE_MSG_RETURN, 0, 0, 0, 0x81, 0x20};
    CHECK_EQ_INT(wire_msg_decode(raw, sizeof raw, &d, got, WIRE_MAX_CAPS + 1), WIRE_ERR_TOO_LARGE);
    /* a plausible count on a tiny input */
    uint8_t tiny[] = {0xc1, WIRE_MSG_RETURN, 0, 0, 0, 0x80, 0x20, 1, 0, 0};
    CHECK_EQ_INT(wire_msg_decode(tiny, sizeof tiny, &d, got, WIRE_MAX_CAPS), WIRE_ERR_TRUNCATED);
    free(caps);
    free(got);
}

TEST(msg_cap_kinds_and_flags) {
    struct wire_cap caps[2];
    struct wire_msg m = call_msg(caps);
    struct wire_buf b;
    caps[1].kind = 3;
    CHECK_EQ_INT(encode(&b, &m), WIRE_ERR_MALFORMED);
    wire_buf_free(&b);
    caps[1].kind = 0;
    CHECK_EQ_INT(encode(&b, &m), WIRE_ERR_MALFORMED);
    wire_buf_free(&b);
    caps[1].kind = WIRE_CAP_IMPORT;
    caps[1].flags = 0x04;
    CHECK_EQ_INT(encode(&b, &m), WIRE_ERR_MALFORMED);
    wire_buf_free(&b);
    caps[1].flags = WIRE_CAP_F_ALL;
    CHECK_EQ_INT(encode(&b, &m), WIRE_OK);
    wire_buf_free(&b);

    struct wire_msg d;
    struct wire_cap got[2];
    const uint8_t bad_kind[] = {0xc1, WIRE_MSG_RETURN, 0, 0, 0, 1, 9, 0, 0, 2, 1, WIRE_NULL};
    CHECK_EQ_INT(wire_msg_decode(bad_kind, sizeof bad_kind, &d, got, 2), WIRE_ERR_MALFORMED);
    const uint8_t bad_flag[] = {0xc1, WIRE_MSG_RETURN, 0, 0, 0, 1, 1, 0x80, 0, 2, 1, WIRE_NULL};
    CHECK_EQ_INT(wire_msg_decode(bad_flag, sizeof bad_flag, &d, got, 2), WIRE_ERR_MALFORMED);
    const uint8_t good[] = {0xc1, WIRE_MSG_RETURN, 0, 0, 0, 1, 1, 3, 0, 2, 1, WIRE_NULL};
    CHECK_EQ_INT(wire_msg_decode(good, sizeof good, &d, got, 2), WIRE_OK);
}

TEST(msg_kind_rules) {
    struct wire_cap caps[2];
    struct wire_buf b;
    struct wire_msg m = call_msg(caps);
    m.kind = 0;
    CHECK_EQ_INT(encode(&b, &m), WIRE_ERR_MALFORMED);
    wire_buf_free(&b);
    m.kind = WIRE_MSG_KIND_MAX + 1;
    CHECK_EQ_INT(encode(&b, &m), WIRE_ERR_MALFORMED);
    wire_buf_free(&b);
    m.kind = WIRE_MSG_RETURN; /* a name only on CALL */
    CHECK_EQ_INT(encode(&b, &m), WIRE_ERR_MALFORMED);
    wire_buf_free(&b);
    m = call_msg(caps);
    m.payload_len = 0; /* CALL needs its arguments */
    CHECK_EQ_INT(encode(&b, &m), WIRE_ERR_MALFORMED);
    wire_buf_free(&b);
    m = call_msg(caps);
    m.kind = WIRE_MSG_RELEASE;
    m.name = NULL;
    m.name_len = 0;
    CHECK_EQ_INT(encode(&b, &m), WIRE_ERR_MALFORMED); /* RELEASE carries no payload/caps */
    wire_buf_free(&b);
    m.payload_len = 0;
    CHECK_EQ_INT(encode(&b, &m), WIRE_ERR_MALFORMED); /* ... nor caps */
    wire_buf_free(&b);
    m.cap_count = 0;
    CHECK_EQ_INT(encode(&b, &m), WIRE_OK);
    wire_buf_free(&b);
    m.kind = WIRE_MSG_CANCEL;
    m.payload = NULL;
    CHECK_EQ_INT(encode(&b, &m), WIRE_OK);
    wire_buf_free(&b);
    m.payload_len = 3; /* NULL with a length */
    m.kind = WIRE_MSG_THROW;
    CHECK_EQ_INT(encode(&b, &m), WIRE_ERR_MALFORMED);
    wire_buf_free(&b);

    struct wire_msg d;
    const uint8_t kinds[] = {0, 6, 0xff};
    for (size_t i = 0; i < sizeof kinds; i++) {
        uint8_t raw[] = {0xc1, kinds[i], 0, 0, 0, 0, 0};
        CHECK_EQ_INT(wire_msg_decode(raw, sizeof raw, &d, NULL, 0), WIRE_ERR_MALFORMED);
    }
    const uint8_t release_payload[] = {0xc1, WIRE_MSG_RELEASE, 0, 0, 0, 0, 2, 1, WIRE_NULL};
    CHECK_EQ_INT(wire_msg_decode(release_payload, sizeof release_payload, &d, NULL, 0),
                 WIRE_ERR_MALFORMED);
    const uint8_t cancel_name[] = {0xc1, WIRE_MSG_CANCEL, WIRE_MSG_F_NAME, 0, 0, 0, 0, 0};
    CHECK_EQ_INT(wire_msg_decode(cancel_name, sizeof cancel_name, &d, NULL, 0), WIRE_ERR_MALFORMED);
    const uint8_t return_empty[] = {0xc1, WIRE_MSG_RETURN, 0, 0, 0, 0, 0};
    CHECK_EQ_INT(wire_msg_decode(return_empty, sizeof return_empty, &d, NULL, 0), WIRE_ERR_MALFORMED);
    const uint8_t bad_flags[] = {0xc1, WIRE_MSG_CALL, 0x02, 0, 0, 0, 2, 1, WIRE_NULL};
    CHECK_EQ_INT(wire_msg_decode(bad_flags, sizeof bad_flags, &d, NULL, 0), WIRE_ERR_MALFORMED);
    const uint8_t release_caps[] = {0xc1, WIRE_MSG_RELEASE, 0, 0, 0, 1, 1, 0, 0, 0};
    struct wire_cap got[1];
    CHECK_EQ_INT(wire_msg_decode(release_caps, sizeof release_caps, &d, got, 1), WIRE_ERR_MALFORMED);
}

TEST(msg_magic_trailing_and_varints) {
    struct wire_msg d;
    const uint8_t ok[] = {0xc1, WIRE_MSG_RETURN, 0, 0, 0, 0, 2, 1, WIRE_NULL};
    CHECK_EQ_INT(wire_msg_decode(ok, sizeof ok, &d, NULL, 0), WIRE_OK);
    const uint8_t payload_first[] = {1, WIRE_MSG_RETURN, 0, 0, 0, 0, 2, 1, WIRE_NULL};
    CHECK_EQ_INT(wire_msg_decode(payload_first, sizeof payload_first, &d, NULL, 0),
                 WIRE_ERR_MALFORMED);
    const uint8_t trailing[] = {0xc1, WIRE_MSG_RETURN, 0, 0, 0, 0, 2, 1, WIRE_NULL, 0};
    CHECK_EQ_INT(wire_msg_decode(trailing, sizeof trailing, &d, NULL, 0), WIRE_ERR_MALFORMED);
    const uint8_t overlong_id[] = {0xc1, WIRE_MSG_RETURN, 0, 0x80, 0, 0, 0, 2, 1, WIRE_NULL};
    CHECK_EQ_INT(wire_msg_decode(overlong_id, sizeof overlong_id, &d, NULL, 0), WIRE_ERR_MALFORMED);
    const uint8_t huge_payload_len[] = {0xc1, WIRE_MSG_RETURN, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1};
    CHECK_EQ_INT(wire_msg_decode(huge_payload_len, sizeof huge_payload_len, &d, NULL, 0),
                 WIRE_ERR_TRUNCATED);
    CHECK_EQ_INT(wire_msg_decode(NULL, 0, &d, NULL, 0), WIRE_ERR_TRUNCATED);
    CHECK_EQ_INT(wire_msg_decode((const uint8_t *)"\x01", 1, &d, NULL, 0), WIRE_ERR_MALFORMED);
}

TEST(msg_truncated_at_every_offset) {
    struct wire_cap caps[2];
    struct wire_msg m = call_msg(caps);
    struct wire_buf b;
    CHECK_EQ_INT(encode(&b, &m), WIRE_OK);
    struct wire_cap got[2];
    struct wire_msg d;
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, b.data, cut);
        int rc = wire_msg_decode(copy, cut, &d, got, 2);
        if (rc != WIRE_ERR_TRUNCATED) fprintf(stderr, "  cut at %zu: %d\n", cut, rc);
        CHECK_EQ_INT(rc, WIRE_ERR_TRUNCATED);
        free(copy);
    }
    wire_buf_free(&b);
}

TEST(msg_size_cap_on_encode) {
    struct wire_cap caps[2];
    struct wire_msg m = call_msg(caps);
    struct wire_buf b;
    wire_buf_init(&b, 0);
    CHECK_EQ_INT(wire_msg_encode(&b, &m), WIRE_OK);
    size_t exact = b.len;
    wire_buf_free(&b);
    wire_buf_init(&b, exact);
    CHECK_EQ_INT(wire_msg_encode(&b, &m), WIRE_OK);
    wire_buf_free(&b);
    wire_buf_init(&b, exact - 1);
    CHECK_EQ_INT(wire_msg_encode(&b, &m), WIRE_ERR_TOO_LARGE);
    CHECK_EQ_INT(b.status, WIRE_ERR_TOO_LARGE);
    CHECK_EQ_INT(wire_msg_encode(&b, &m), WIRE_ERR_TOO_LARGE); /* poisoned */
    wire_buf_free(&b);
}
