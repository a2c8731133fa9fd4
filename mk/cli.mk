# src/: the corral command, a client of include/corral.h only.
CLI_SRCS += src/main.c src/run.c src/exec.c src/doctor.c src/mcp.c src/cm_cli.c
