# lib/jail: the jail every worker process puts around itself (issue #3, docs/jail.md).
LIB_SRCS += lib/jail/jail.c lib/jail/namespaces.c lib/jail/rlimits.c lib/jail/seccomp.c lib/jail/doctor.c
TEST_SRCS += tests/jail/test_jail.c
