# lib/wire: the value format that crosses every boundary (see docs/wire-format.md).
LIB_SRCS += lib/wire/wire.c lib/wire/decode.c lib/wire/json.c lib/wire/msg.c
TEST_SRCS += tests/wire/test_wire.c tests/wire/test_wire_json.c tests/wire/test_wire_msg.c
FUZZ_SRCS += fuzz/fuzz_wire.c fuzz/fuzz_wire_msg.c
