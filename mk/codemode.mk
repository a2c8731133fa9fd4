# Code mode's pure functions: tool-name sanitising, JSON Schema to
# TypeScript, result truncation, normalizeCode, search/describe.
LIB_SRCS += lib/codemode/sanitize.c lib/codemode/typegen.c lib/codemode/truncate.c \
            lib/codemode/normalize.c lib/codemode/discovery.c \
            lib/codemode/executor.c
TEST_SRCS += tests/codemode/test_sanitize.c tests/codemode/test_typegen.c \
             tests/codemode/test_truncate.c tests/codemode/test_normalize.c \
             tests/codemode/test_discovery.c tests/codemode/test_executor.c
# normalizeCode reads every program before anything else has judged it.
FUZZ_SRCS += fuzz/fuzz_normalize.c
