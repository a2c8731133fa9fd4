/* libFuzzer target for WorkerCode as a host receives it in JSON: the shape
 * parser (corral_code_from_json) and, when the shape is accepted, the
 * loader's validation in corral_load(). Both read input a host may take
 * from a model or a tenant. Nothing is run: corral_load() validates and
 * returns a stub without starting a sandbox, so each input is cheap.
 */
#include <stdint.h>
#include <stdlib.h>

#include "corral.h"

static corral_loader *loader;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!loader) {
        corral_options o;
        corral_options_default(&o);
        o.prewarm_sandboxes = 0;
        o.today = "2026-01-01";
        loader = corral_loader_new(&o, NULL);
        if (!loader) abort();
    }
    corral_error err;
    corral_code *code = corral_code_from_json((const char *)data, size, &err);
    if (!code) {
        if (!err.name[0] || !err.message[0]) abort(); /* every refusal is named */
        return 0;
    }
    corral_worker *w = corral_load(loader, code, &err);
    if (!w && (!err.name[0] || !err.message[0])) abort();
    corral_worker_release(w);
    corral_code_free(code);
    return 0;
}
