/* Helpers shared by the wire encoder, decoder, JSON bridge and envelope
 * code, and by nothing else: the checks that must agree byte for byte on
 * both sides (varints, WTF-8, element sizes) live here once so the writer
 * can never produce what the reader refuses. Not part of the public API.
 */
#ifndef CORRAL_WIRE_INTERNAL_H
#define CORRAL_WIRE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

/* The largest integer magnitude WIRE_INT may carry, and its zigzag code. */
#define WIRE_INT_MAX_MAGNITUDE 9007199254740992.0 /* 2^53 */
#define WIRE_INT_MAX_ZIGZAG (UINT64_C(1) << 54)

/* Reads a minimal LEB128 varint at data[*pos]. WIRE_ERR_TRUNCATED if the
 * input ends inside it; WIRE_ERR_MALFORMED if it is overlong (a trailing
 * zero group) or does not fit in 64 bits. Advances *pos only on success. */
int wire_get_varint(const uint8_t *data, size_t len, size_t *pos, uint64_t *out);

/* 1 if p[0..n) is well-formed WTF-8 (UTF-8 plus lone surrogates encoded as
 * three bytes; a lead surrogate directly followed by a trail surrogate is
 * refused, since that pair must be written as one four-byte sequence). */
int wire_wtf8_valid(const uint8_t *p, size_t n);

/* wire_to_json without its streaming fast path: every payload through the
 * jansson tree. The fast path must print exactly what this prints (the
 * tests and fuzz_wire hold it to that). */
char *wire_to_json_tree(const uint8_t *data, size_t len, const struct wire_limits *limits,
                        size_t max_json_bytes, int *status);

/* Bytes per element of a WIRE_BYTES kind (1 for buffers and DataView), or 0
 * for a kind that does not exist. */
size_t wire_bytes_elem_size(unsigned kind);

#endif
