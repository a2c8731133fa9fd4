# lib/jail: the jail every worker process puts around itself (issue #3, docs/jail.md).
LIB_SRCS += lib/jail/jail.c lib/jail/namespaces.c lib/jail/rlimits.c lib/jail/seccomp.c lib/jail/doctor.c lib/jail/channel.c lib/jail/proto.c lib/jail/supervisor.c lib/jail/worker_main.c lib/jail/zygote.c
TEST_SRCS += tests/jail/test_jail.c tests/jail/test_isolation.c tests/jail/test_supervisor.c \
             tests/jail/test_foreign_arena.c tests/jail/test_channel.c
# The supervisor's handling of what a (compromised) worker sends.
FUZZ_SRCS += fuzz/fuzz_supervisor.c
