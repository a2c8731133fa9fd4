/* `corral mcp`: a Code Mode MCP server. Wraps upstream MCP servers (one
 * `code` tool) or an OpenAPI API (`search` and `execute`) and serves them to
 * any MCP client over stdio, or over streamable HTTP with --http. Programs
 * run in fresh sandboxes; only the tools they were lent are in reach.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm_cli.h"
#include "corral.h"
#include "tool.h"

static corral_mcp *serving;

static void on_signal(int sig) {
    if (serving) corral_mcp_stop(serving);
}

static void mcp_usage(FILE *f) {
    fprintf(f,
            "usage: corral mcp [options]\n\n"
            "Serves a Code Mode MCP server on stdin/stdout (or streamable HTTP with\n"
            "--http). With upstreams it has one tool, `code`: the model writes one\n"
            "program against the upstreams' tools. With --openapi it has `search` and\n"
            "`execute` over the API. Ends when stdin closes (stdio) or on SIGINT/SIGTERM.\n\n"
            "options:\n%s"
            "  --http HOST:PORT         serve streamable HTTP at http://HOST:PORT/mcp (port 0:\n"
            "                           any free port; the address is printed on stderr)\n"
            "  --auth-token-env VAR     require \"Authorization: Bearer <$VAR>\" on HTTP requests\n",
            cm_cli_help);
}

struct listen_info {
    const char *host;
};

static void on_listening(int port, void *ud) {
    struct listen_info *li = ud;
    int v6 = strchr(li->host, ':') != NULL;
    fprintf(stderr, "corral mcp: listening on http://%s%s%s:%d/mcp\n", v6 ? "[" : "", li->host,
            v6 ? "]" : "", port);
    fflush(stderr);
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" (loopback). */
static int parse_listen(const char *arg, char *host, size_t hostlen, int *port) {
    const char *colon = strrchr(arg, ':');
    if (!colon) return -1;
    size_t hl = (size_t)(colon - arg);
    const char *h = arg;
    if (hl >= 2 && arg[0] == '[' && arg[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= hostlen) return -1;
    if (hl == 0) snprintf(host, hostlen, "127.0.0.1");
    else snprintf(host, hostlen, "%.*s", (int)hl, h);
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 0 || p > 65535) return -1;
    *port = (int)p;
    return 0;
}

int tool_mcp(int argc, char **argv) {
    enum { O_HTTP = CM_OPT_END, O_AUTH_ENV, O_HELP };
    static const struct option opts[] = {CM_CLI_LONG_OPTIONS,
                                         {"http", required_argument, 0, O_HTTP},
                                         {"auth-token-env", required_argument, 0, O_AUTH_ENV},
                                         {"help", no_argument, 0, O_HELP},
                                         {0, 0, 0, 0}};
    struct cm_cli o;
    memset(&o, 0, sizeof o);
    o.cmd = "mcp";
    const char *http = NULL, *auth_env = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hc:", opts, NULL)) != -1) {
        int t = cm_cli_take(&o, c, optarg);
        if (t < 0) return 2;
        if (t > 0) continue;
        if (c == O_HELP || c == 'h') {
            mcp_usage(stdout);
            return 0;
        }
        if (c == O_HTTP) http = optarg;
        else if (c == O_AUTH_ENV) auth_env = optarg;
        else {
            mcp_usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "corral mcp: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    char host[256];
    int port = 0;
    if (http && parse_listen(http, host, sizeof host, &port) < 0) {
        fprintf(stderr, "corral mcp: --http takes HOST:PORT (PORT 0-65535), got '%s'\n", http);
        return 2;
    }
    const char *token = NULL;
    if (auth_env) {
        if (!http) {
            fprintf(stderr, "corral mcp: --auth-token-env applies to --http only\n");
            return 2;
        }
        token = getenv(auth_env);
        if (!token || !*token) {
            fprintf(stderr, "corral mcp: --auth-token-env %s: the variable is not set or empty\n",
                    auth_env);
            return 2;
        }
    }
    if (!o.n_upstreams && !o.n_configs && !o.openapi) {
        fprintf(stderr, "corral mcp: give at least one --upstream, -c FILE or --openapi SPEC\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    corral_loader *l;
    corral_mcp *m = cm_cli_service(&o, &l);
    if (!m) return 2;
    /* The startup log says what protects this machine from the programs. */
    char where[512];
    corral_loader_describe_isolation(l, where, sizeof where);
    fprintf(stderr, "corral mcp: %s\n", where);
    serving = m;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    corral_error err;
    int rc;
    if (http) {
        struct listen_info li = {host};
        rc = corral_mcp_serve_http(m, host, port, token, on_listening, &li, &err);
    } else {
        rc = corral_mcp_serve_stdio(m, STDIN_FILENO, STDOUT_FILENO, &err);
    }
    if (rc != CORRAL_OK) fprintf(stderr, "corral mcp: %s\n", err.message);
    serving = NULL;
    corral_mcp_free(m);
    corral_loader_free(l);
    return rc == CORRAL_OK ? 0 : 2;
}
