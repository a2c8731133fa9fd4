/* Options shared by the commands that lend tools to Code Mode programs
 * (`corral exec`, `corral mcp`): upstream MCP servers, an OpenAPI spec,
 * the program limits and where sandboxes run (--isolation, --tenant); and
 * building the loader and the corral_mcp service from them. */
#ifndef CORRAL_CM_CLI_H
#define CORRAL_CM_CLI_H

#include <getopt.h>
#include <stddef.h>

#include "corral.h"

#define CM_CLI_MAX_LIST 64

struct cm_cli {
    const char *cmd;                    /* "exec" or "mcp", for messages */
    corral_limits limits;
    const char *upstreams[CM_CLI_MAX_LIST];
    size_t n_upstreams;
    const char *configs[CM_CLI_MAX_LIST];
    size_t n_configs;
    const char *openapi, *base_url;
    const char *headers[CM_CLI_MAX_LIST];
    size_t n_headers;
    unsigned long long call_timeout_ms;
    corral_isolation isolation;         /* 0: the library's default */
    const char *tenant;                 /* NULL: none */
    int busy_poll_set;                  /* --busy-poll-us given */
    unsigned busy_poll_us;
};

/* getopt_long values of the shared options; commands number theirs from
 * CM_OPT_END. */
enum {
    CM_OPT_UPSTREAM = 256, CM_OPT_CONFIG, CM_OPT_OPENAPI, CM_OPT_BASE_URL, CM_OPT_HEADER,
    CM_OPT_TIMEOUT, CM_OPT_CPU, CM_OPT_MEM, CM_OPT_CALLS, CM_OPT_CALL_TIMEOUT, CM_OPT_ISOLATION,
    CM_OPT_TENANT, CM_OPT_BUSY_POLL, CM_OPT_END
};

#define CM_CLI_LONG_OPTIONS                                                                   \
    {"upstream", required_argument, 0, CM_OPT_UPSTREAM},                                      \
        {"openapi", required_argument, 0, CM_OPT_OPENAPI},                                    \
        {"base-url", required_argument, 0, CM_OPT_BASE_URL},                                  \
        {"header", required_argument, 0, CM_OPT_HEADER},                                      \
        {"timeout-ms", required_argument, 0, CM_OPT_TIMEOUT},                                 \
        {"cpu-ms", required_argument, 0, CM_OPT_CPU},                                         \
        {"memory-mb", required_argument, 0, CM_OPT_MEM},                                      \
        {"max-calls", required_argument, 0, CM_OPT_CALLS},                                    \
        {"call-timeout-ms", required_argument, 0, CM_OPT_CALL_TIMEOUT},                       \
        {"isolation", required_argument, 0, CM_OPT_ISOLATION},                                \
        {"tenant", required_argument, 0, CM_OPT_TENANT},                                      \
        {"busy-poll-us", required_argument, 0, CM_OPT_BUSY_POLL}

/* The shared part of a command's --help. */
extern const char cm_cli_help[];

/* Takes one parsed option (c is getopt's value; 'c' is -c FILE). Returns 1
 * when it was a shared option, 0 when it is the command's own, -1 (after a
 * message on stderr) when its value is bad. */
int cm_cli_take(struct cm_cli *o, int c, const char *arg);

/* Parses --busy-poll-us (corral_options.busy_poll_us): 0 to
 * CORRAL_BUSY_POLL_MAX_US. Returns
 * 0, or -1 after a message naming `cmd` on stderr. Also used by `corral run`. */
int cm_cli_busy_poll(const char *cmd, const char *arg, unsigned *out);

/* A loader and a started service. NULL after a message on stderr. */
corral_mcp *cm_cli_service(struct cm_cli *o, corral_loader **loader);

#endif
