/* The `corral` command: a thin client of libcorral's public API (as curl's
 * tool is of libcurl). main() only dispatches to one file per subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "corral.h"
#include "tool.h"

static void usage(FILE *f) {
    fprintf(f,
            "corral %s — self-hosted sandboxes for code that arrives at run time\n\n"
            "usage: corral <command> [options]\n\n"
            "commands:\n"
            "  run      run a worker module (corral run --help)\n"
            "  exec     run one Code Mode program, print {result, error, logs} (corral exec --help)\n"
            "  mcp      a Code Mode MCP server over upstream MCP servers or an OpenAPI spec\n"
            "  doctor   which jail layers this machine allows, each self-tested\n"
            "  version  print the version\n",
            CORRAL_VERSION);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "run") == 0) return tool_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "exec") == 0) return tool_exec(argc - 1, argv + 1);
    if (strcmp(argv[1], "mcp") == 0) return tool_mcp(argc - 1, argv + 1);
    if (strcmp(argv[1], "doctor") == 0) return tool_doctor(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("corral %s\n", CORRAL_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "corral: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
