/* The public corral_code is a workercode under construction plus its
 * env as JSON (bindings are added when the loader builds the payload). */
#ifndef CORRAL_LOADER_CODE_H
#define CORRAL_LOADER_CODE_H

#include <jansson.h>

#include "corral.h"

#include "engine/workercode.h"

struct corral_code {
    struct workercode *wc;
    json_t *env;
};

void corral_capability_retain_internal(corral_capability *c);

/* Live console lines, for libcorral's own hosts (the Code Mode executor
 * streams them to MCP clients while a program runs). ld_inv_set_log_hook
 * finds the unfinished invocation that corral_invoke()/corral_fetch()
 * started with exactly (done, userdata) and gives it a hook that sees each
 * line as it is kept: after the log limit is applied, NUL-terminated, and
 * the one "[corral] console output truncated" note when the limit is hit.
 * The hook runs on the loop thread, before the invocation's done callback,
 * and never after it. Returns CORRAL_OK, or CORRAL_EINVAL when no such
 * invocation is waiting (lines logged before the hook is set are only in
 * the result, but none are: an invocation starts from a queued task). */
typedef void (*ld_log_hook_fn)(corral_log_level level, const char *text, size_t len, void *ud);
int ld_inv_set_log_hook(corral_loader *l, corral_done_fn done, void *userdata, ld_log_hook_fn fn,
                        void *ud);

#endif
