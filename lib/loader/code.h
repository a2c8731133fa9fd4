/* The public corral_code is a workercode under construction plus its
 * env as JSON (bindings are added when the loader builds the payload). */
#ifndef CORRAL_LOADER_CODE_H
#define CORRAL_LOADER_CODE_H

#include <jansson.h>

#include "engine/workercode.h"

struct corral_code {
    struct workercode *wc;
    json_t *env;
};

void corral_capability_retain_internal(corral_capability *c);

#endif
