/* libFuzzer target for message envelopes, and the payloads inside them.
 *
 * An envelope that decodes must re-encode to exactly the same bytes (the
 * layout has one encoding per message), its name and payload must lie
 * inside the input, and its payload is then decoded with the envelope's
 * cap count and converted to JSON, as the router and a C host would.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static struct wire_cap caps[64];
    struct wire_msg m;
    int rc = wire_msg_decode(data, size, &m, caps, 64);
    REQUIRE(rc <= 0 && rc >= WIRE_ERR_BAD_REF);
    if (rc != WIRE_OK) return 0;

    REQUIRE(m.kind >= WIRE_MSG_CALL && m.kind <= WIRE_MSG_KIND_MAX);
    REQUIRE(m.cap_count <= 64);
    REQUIRE(m.name_len <= WIRE_MAX_NAME);
    if (m.name) REQUIRE((const uint8_t *)m.name >= data && (const uint8_t *)m.name + m.name_len <= data + size);
    REQUIRE(m.payload >= data && m.payload + m.payload_len == data + size);

    struct wire_buf b;
    wire_buf_init(&b, 0);
    REQUIRE(wire_msg_encode(&b, &m) == WIRE_OK);
    REQUIRE(b.len == size && memcmp(b.data, data, size) == 0);
    wire_buf_free(&b);

    struct wire_limits lim = {0, m.cap_count};
    int prc = wire_validate(m.payload, m.payload_len, &lim);
    int status;
    char *json = wire_to_json(m.payload, m.payload_len, &lim, 1 << 20, &status);
    REQUIRE((json != NULL) == (status == WIRE_OK));
    if (prc != WIRE_OK) REQUIRE(json == NULL);
    free(json);
    return 0;
}
