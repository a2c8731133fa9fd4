/* Options shared by `corral exec` and `corral mcp` (see cm_cli.h): both
 * build the same Code Mode service, so a program tried with exec behaves
 * the same when a model sends it through mcp. */
#include "cm_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cm_cli_help[] =
    "  --upstream NAME=COMMAND  an upstream MCP server over stdio (COMMAND split as a\n"
    "                           shell splits words, no expansion); repeatable\n"
    "  --upstream NAME=URL      an upstream MCP server over streamable HTTP\n"
    "  -c FILE                  upstreams from an \"mcpServers\" JSON file (Claude Desktop,\n"
    "                           Cursor); repeatable\n"
    "  --openapi SPEC           OpenAPI mode: SPEC is JSON or YAML, OpenAPI 3.0 or 3.1\n"
    "  --base-url URL           where OpenAPI requests go; they never leave it\n"
    "  --header \"Name: value\"   added to every OpenAPI request on the host; ${VAR} names a\n"
    "                           host environment variable; never visible to programs\n"
    "  --timeout-ms N           wall time of a program (default 60000)\n"
    "  --cpu-ms N               CPU time of a program (default 30000)\n"
    "  --memory-mb N            heap of a program (default 128)\n"
    "  --max-calls N            tool calls per program (default 10000)\n"
    "  --call-timeout-ms N      one upstream tool call or API request (default 60000)\n"
    "  --isolation MODE         where programs run: pool (long-lived jailed worker\n"
    "                           processes), tenant (jailed workers per --tenant key),\n"
    "                           process (a fresh jailed process per program) or inline\n"
    "                           (inside corral itself, the weaker choice); default: the\n"
    "                           library's (docs/jail.md)\n"
    "  --tenant KEY             the tenant key programs run under; with --isolation\n"
    "                           tenant, each key gets worker processes of its own\n"
    "  --busy-poll-us N         before a wait may sleep, keep checking for up to N µs\n"
    "                           while answers come that fast (default 50; 0 = never):\n"
    "                           less latency per tool call, more CPU\n";

int cm_cli_busy_poll(const char *cmd, const char *arg, unsigned *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (errno || *end || end == arg || arg[0] == '-' || v > CORRAL_BUSY_POLL_MAX_US) {
        fprintf(stderr, "corral %s: --busy-poll-us takes a whole number of µs from 0 to %d, got '%s'\n",
                cmd, CORRAL_BUSY_POLL_MAX_US, arg);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static int add(const char **list, size_t *n, const char *v, const char *cmd, const char *what) {
    if (*n >= CM_CLI_MAX_LIST) {
        fprintf(stderr, "corral %s: at most %d %s\n", cmd, CM_CLI_MAX_LIST, what);
        return -1;
    }
    list[(*n)++] = v;
    return 1;
}

int cm_cli_take(struct cm_cli *o, int c, const char *arg) {
    switch (c) {
    case CM_OPT_UPSTREAM: return add(o->upstreams, &o->n_upstreams, arg, o->cmd, "--upstream options");
    case 'c':
    case CM_OPT_CONFIG: return add(o->configs, &o->n_configs, arg, o->cmd, "-c files");
    case CM_OPT_OPENAPI: o->openapi = arg; return 1;
    case CM_OPT_BASE_URL: o->base_url = arg; return 1;
    case CM_OPT_HEADER: return add(o->headers, &o->n_headers, arg, o->cmd, "--header options");
    case CM_OPT_ISOLATION: {
        int mode = corral_isolation_parse(arg);
        if (mode < 0) {
            fprintf(stderr, "corral %s: --isolation takes inline, pool, tenant or process, got '%s'\n",
                    o->cmd, arg);
            return -1;
        }
        o->isolation = (corral_isolation)mode;
        return 1;
    }
    case CM_OPT_BUSY_POLL:
        if (cm_cli_busy_poll(o->cmd, arg, &o->busy_poll_us) < 0) return -1;
        o->busy_poll_set = 1;
        return 1;
    case CM_OPT_TENANT:
        if (!*arg) {
            fprintf(stderr, "corral %s: --tenant takes a non-empty key\n", o->cmd);
            return -1;
        }
        o->tenant = arg;
        return 1;
    case CM_OPT_TIMEOUT:
    case CM_OPT_CPU:
    case CM_OPT_MEM:
    case CM_OPT_CALLS:
    case CM_OPT_CALL_TIMEOUT: break;
    default: return 0;
    }
    static const char *names[] = {"--timeout-ms", "--cpu-ms", "--memory-mb", "--max-calls",
                                  "--call-timeout-ms"};
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || *end || end == arg || v == 0 || arg[0] == '-' || (c == CM_OPT_MEM && v > (1ull << 20))) {
        fprintf(stderr, "corral %s: %s takes a positive whole number%s, got '%s'\n", o->cmd,
                names[c - CM_OPT_TIMEOUT], c == CM_OPT_MEM ? " of MiB up to 1048576" : "", arg);
        return -1;
    }
    if (c == CM_OPT_TIMEOUT) o->limits.wall_ms = v;
    else if (c == CM_OPT_CPU) o->limits.cpu_ms = v;
    else if (c == CM_OPT_MEM) o->limits.memory_bytes = v << 20;
    else if (c == CM_OPT_CALLS) o->limits.calls = v;
    else o->call_timeout_ms = v;
    return 1;
}

corral_mcp *cm_cli_service(struct cm_cli *o, corral_loader **loader) {
    corral_error err;
    *loader = NULL;
    if (o->openapi && (o->n_upstreams || o->n_configs)) {
        fprintf(stderr, "corral %s: --openapi cannot be combined with --upstream or -c\n", o->cmd);
        return NULL;
    }
    if (o->openapi && !o->base_url) {
        fprintf(stderr, "corral %s: --openapi needs --base-url URL\n", o->cmd);
        return NULL;
    }
    if (!o->openapi && (o->base_url || o->n_headers)) {
        fprintf(stderr, "corral %s: --base-url and --header apply to --openapi only\n", o->cmd);
        return NULL;
    }
    corral_options lo;
    corral_options_default(&lo);
    lo.isolation = o->isolation;
    if (o->busy_poll_set) lo.busy_poll_us = o->busy_poll_us;
    corral_loader *l = corral_loader_new(&lo, &err);
    if (!l) {
        fprintf(stderr, "corral %s: %s: %s\n", o->cmd, err.name, err.message);
        return NULL;
    }
    corral_mcp_options mo;
    corral_mcp_options_default(&mo);
    mo.limits = o->limits;
    if (o->call_timeout_ms) mo.call_timeout_ms = o->call_timeout_ms;
    mo.tenant = o->tenant;
    corral_mcp *m = corral_mcp_new(l, &mo, &err);
    int rc = m ? CORRAL_OK : err.status;
    for (size_t i = 0; rc == CORRAL_OK && i < o->n_upstreams; i++)
        rc = corral_mcp_add_upstream(m, o->upstreams[i], &err);
    for (size_t i = 0; rc == CORRAL_OK && i < o->n_configs; i++)
        rc = corral_mcp_add_config(m, o->configs[i], &err);
    if (rc == CORRAL_OK && o->openapi)
        rc = corral_mcp_set_openapi(m, o->openapi, o->base_url, o->headers, o->n_headers, &err);
    if (rc == CORRAL_OK) rc = corral_mcp_start(m, 30000, &err);
    if (rc != CORRAL_OK) {
        fprintf(stderr, "corral %s: %s\n", o->cmd, err.message);
        corral_mcp_free(m);
        corral_loader_free(l);
        return NULL;
    }
    *loader = l;
    return m;
}
