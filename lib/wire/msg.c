/* Message envelopes: what a call, a return or a release looks like on a
 * socket or between two runtimes.
 *
 * The envelope is kept apart from the payload on purpose. A payload names
 * remote objects only by index into the envelope's cap list, so a router
 * (the loader in-process, the supervisor for jailed workers) can check and
 * translate every capability a message carries by rewriting this short
 * header, and forward the payload bytes untouched. The payload is therefore
 * the last field, length-prefixed, and never parsed here.
 *
 * Layout (all varints are minimal LEB128, as in payloads):
 *   u8 WIRE_MSG_MAGIC, u8 kind, u8 flags (WIRE_MSG_F_NAME),
 *   varint id, varint target,
 *   [flags & WIRE_MSG_F_NAME: varint name_len, name bytes (WTF-8)],
 *   varint cap_count, cap_count × (u8 kind, u8 flags, varint id),
 *   varint payload_len, payload bytes — and nothing after.
 * Encoder and decoder apply the same rules, so a message we write is one we
 * accept; see docs/wire-format.md for which kinds may carry what.
 */
#include <string.h>

#include "wire/wire_internal.h"

static int kind_has_payload(uint8_t kind) {
    return kind == WIRE_MSG_CALL || kind == WIRE_MSG_RETURN || kind == WIRE_MSG_THROW;
}

/* The rules that do not depend on how the message is stored. */
static int check_shape(uint8_t kind, int has_name, size_t name_len, size_t cap_count,
                       size_t payload_len) {
    if (kind < WIRE_MSG_CALL || kind > WIRE_MSG_KIND_MAX) return WIRE_ERR_MALFORMED;
    if (has_name && kind != WIRE_MSG_CALL) return WIRE_ERR_MALFORMED;
    if (name_len > WIRE_MAX_NAME) return WIRE_ERR_TOO_LARGE;
    if (cap_count > WIRE_MAX_CAPS) return WIRE_ERR_TOO_LARGE;
    if (kind_has_payload(kind)) {
        if (payload_len == 0) return WIRE_ERR_MALFORMED;
    } else if (payload_len != 0 || cap_count != 0) {
        return WIRE_ERR_MALFORMED;
    }
    return WIRE_OK;
}

static int check_cap(const struct wire_cap *c) {
    if (c->kind != WIRE_CAP_EXPORT && c->kind != WIRE_CAP_IMPORT) return WIRE_ERR_MALFORMED;
    if (c->flags & ~WIRE_CAP_F_ALL) return WIRE_ERR_MALFORMED;
    return WIRE_OK;
}

int wire_msg_encode(struct wire_buf *b, const struct wire_msg *m) {
    if (b->status != WIRE_OK) return b->status;
    int rc = check_shape(m->kind, m->name != NULL, m->name_len, m->cap_count, m->payload_len);
    if (rc == WIRE_OK && m->name && !wire_wtf8_valid((const uint8_t *)m->name, m->name_len))
        rc = WIRE_ERR_MALFORMED;
    if (rc == WIRE_OK && ((!m->caps && m->cap_count) || (!m->payload && m->payload_len)))
        rc = WIRE_ERR_MALFORMED;
    for (size_t i = 0; rc == WIRE_OK && i < m->cap_count; i++) rc = check_cap(&m->caps[i]);
    if (rc != WIRE_OK) {
        b->status = rc;
        return rc;
    }

    wire_put_u8(b, WIRE_MSG_MAGIC);
    wire_put_u8(b, m->kind);
    wire_put_u8(b, m->name ? WIRE_MSG_F_NAME : 0);
    wire_put_varint(b, m->id);
    wire_put_varint(b, m->target);
    if (m->name) {
        wire_put_varint(b, m->name_len);
        wire_put_raw(b, m->name, m->name_len);
    }
    wire_put_varint(b, m->cap_count);
    for (size_t i = 0; i < m->cap_count; i++) {
        wire_put_u8(b, m->caps[i].kind);
        wire_put_u8(b, m->caps[i].flags);
        wire_put_varint(b, m->caps[i].id);
    }
    wire_put_varint(b, m->payload_len);
    return wire_put_raw(b, m->payload, m->payload_len);
}

int wire_msg_decode(const uint8_t *data, size_t len, struct wire_msg *out,
                    struct wire_cap *caps_storage, size_t max_caps) {
    memset(out, 0, sizeof *out);
    if (!data) len = 0;
    if (max_caps > WIRE_MAX_CAPS) max_caps = WIRE_MAX_CAPS;
    size_t pos = 0;
    uint64_t u;
    int rc;

    if (len < 3) return len && data[0] != WIRE_MSG_MAGIC ? WIRE_ERR_MALFORMED : WIRE_ERR_TRUNCATED;
    if (data[0] != WIRE_MSG_MAGIC) return WIRE_ERR_MALFORMED;
    uint8_t kind = data[1], flags = data[2];
    if (kind < WIRE_MSG_CALL || kind > WIRE_MSG_KIND_MAX) return WIRE_ERR_MALFORMED;
    if (flags & ~WIRE_MSG_F_NAME) return WIRE_ERR_MALFORMED;
    int has_name = flags & WIRE_MSG_F_NAME;
    if (has_name && kind != WIRE_MSG_CALL) return WIRE_ERR_MALFORMED;
    pos = 3;
    out->kind = kind;

    if ((rc = wire_get_varint(data, len, &pos, &out->id)) != WIRE_OK) return rc;
    if ((rc = wire_get_varint(data, len, &pos, &out->target)) != WIRE_OK) return rc;

    if (has_name) {
        if ((rc = wire_get_varint(data, len, &pos, &u)) != WIRE_OK) return rc;
        if (u > WIRE_MAX_NAME) return WIRE_ERR_TOO_LARGE;
        if (u > len - pos) return WIRE_ERR_TRUNCATED;
        if (!wire_wtf8_valid(data + pos, (size_t)u)) return WIRE_ERR_MALFORMED;
        out->name = (const char *)data + pos;
        out->name_len = (size_t)u;
        pos += (size_t)u;
    }

    if ((rc = wire_get_varint(data, len, &pos, &u)) != WIRE_OK) return rc;
    if (u > max_caps) return WIRE_ERR_TOO_LARGE;
    if (u && !kind_has_payload(kind)) return WIRE_ERR_MALFORMED;
    /* Each cap takes at least three bytes; refuse before looping. */
    if (u > (len - pos) / 3) return WIRE_ERR_TRUNCATED;
    out->caps = caps_storage;
    out->cap_count = (size_t)u;
    for (size_t i = 0; i < out->cap_count; i++) {
        struct wire_cap *c = &caps_storage[i];
        if (len - pos < 2) return WIRE_ERR_TRUNCATED;
        c->kind = data[pos++];
        c->flags = data[pos++];
        if ((rc = check_cap(c)) != WIRE_OK) return rc;
        if ((rc = wire_get_varint(data, len, &pos, &c->id)) != WIRE_OK) return rc;
    }

    if ((rc = wire_get_varint(data, len, &pos, &u)) != WIRE_OK) return rc;
    if (u > len - pos) return WIRE_ERR_TRUNCATED;
    if (u < len - pos) return WIRE_ERR_MALFORMED; /* trailing bytes */
    out->payload = data + pos;
    out->payload_len = (size_t)u;
    return check_shape(kind, has_name, out->name_len, out->cap_count, out->payload_len);
}
