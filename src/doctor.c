/* `corral doctor`: which layers of the jail this machine allows, each
 * proved by a self-test in a child process (corral_jail_probe), so an
 * operator always knows what protects them before running anyone's code.
 *
 * Exit status 0 when the minimum jail works (seccomp, no-new-privs and
 * rlimits: every worker runs under them or not at all), 1 when it does
 * not, 2 on usage errors.
 */
#include <stdio.h>
#include <string.h>

#include "corral.h"
#include "tool.h"

static void doctor_usage(FILE *f) {
    fprintf(f,
            "usage: corral doctor\n\n"
            "Probes which jail layers (namespaces, empty root, descriptors, rlimits,\n"
            "no_new_privs, capabilities, seccomp) this machine allows, runs a self-test of\n"
            "each in a child process, and prints a table. Exit status 0 when the minimum\n"
            "jail (seccomp, no-new-privs, rlimits) works, 1 otherwise. See docs/jail.md.\n");
}

static const char *test_word(int t) {
    return t > 0 ? "ok" : t == 0 ? "FAILED" : "-";
}

int tool_doctor(int argc, char **argv) {
    if (argc > 1) {
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            doctor_usage(stdout);
            return 0;
        }
        fprintf(stderr, "corral doctor: unexpected argument '%s'\n", argv[1]);
        doctor_usage(stderr);
        return 2;
    }
    corral_jail_layer layers[CORRAL_JAIL_MAX_LAYERS];
    size_t n = 0;
    corral_error err;
    if (corral_jail_probe(layers, CORRAL_JAIL_MAX_LAYERS, &n, &err) != CORRAL_OK) {
        fprintf(stderr, "corral doctor: %s\n", err.message);
        return 1;
    }
    printf("%-15s %-9s %-9s %s\n", "layer", "available", "self-test", "detail");
    int minimum = 1, extra = 0, extra_total = 0;
    for (size_t i = 0; i < n; i++) {
        const corral_jail_layer *l = &layers[i];
        printf("%-15s %-9s %-9s %s\n", l->name, l->available ? "yes" : "no", test_word(l->self_test), l->detail);
        if (l->required) {
            if (!l->available || l->self_test != 1) minimum = 0;
        } else {
            extra_total++;
            if (l->available && l->self_test == 1) extra++;
        }
    }
    printf("\n");
    if (minimum)
        printf("Jailed workers on this machine run under the minimum jail (a seccomp allow-list that\n"
               "kills on any other system call, no_new_privs and resource limits) plus %d of %d\n"
               "further layers above.\n",
               extra, extra_total);
    else
        printf("The minimum jail (seccomp, no-new-privs, rlimits) does NOT work on this machine: jailed\n"
               "workers refuse to start here, and only the engine's own limits would stand between\n"
               "sandboxed code and this machine.\n");
    printf("Sandboxes run in such workers unless --isolation inline is asked for; the\n"
           "default is pool.\n");
    return minimum ? 0 : 1;
}
