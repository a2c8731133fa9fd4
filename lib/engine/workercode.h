/* WorkerCode: what a worker is made of (modules, compatibility settings,
 * env, outbound, limits), and its validation.
 *
 * It lives in the engine layer because a sandbox must validate the code it
 * hands to `env.LOADER.load()` synchronously — load() throws eagerly, in the
 * caller's turn — while the host validates the same structure again when it
 * receives it (it never trusts a sandbox's word). One validator, two callers.
 */
#ifndef CORRAL_ENGINE_WORKERCODE_H
#define CORRAL_ENGINE_WORKERCODE_H

#include <stddef.h>
#include <stdint.h>

#include "corral.h"
#include "wire/wire.h"

/* The newest compatibility date this build knows. */
#define CORRAL_COMPAT_DATE_MAX "2026-11-01"

struct wc_module {
    char *name;
    corral_module_type type;    /* never CORRAL_MODULE_INFER after validation */
    uint8_t *source;            /* NUL-terminated copy */
    size_t len;
};

struct wc_binding {
    char *name;
    int is_loader;              /* a Worker Loader binding */
    corral_capability *cap;     /* a host capability (referenced) */
};

enum wc_outbound {
    WC_OUTBOUND_DEFAULT = 0,    /* not given: inherit (children) / block (top level) */
    WC_OUTBOUND_BLOCK,          /* globalOutbound: null */
    WC_OUTBOUND_HOST,           /* the loader's outbound handler */
    WC_OUTBOUND_STUB,           /* a fetcher stub: the cap of the payload's outbound slot */
};

struct workercode {
    char *compat_date;
    char **flags;
    size_t flag_count;
    int allow_experimental;
    char *main_module;
    struct wc_module *modules;
    size_t module_count;
    /* env as a wire payload (an object); its stubs index env_caps, which
     * are in the *creator's* terms (a sandbox's caps, or host bindings). */
    uint8_t *env;
    size_t env_len;
    struct wire_cap *env_caps;
    size_t env_cap_count;
    uint64_t env_size;          /* the serialized size of env alone, for its 1 MiB limit */
    /* Host-side bindings (C hosts): added to env by the loader. */
    struct wc_binding *bindings;
    size_t binding_count;
    enum wc_outbound outbound;
    size_t tail_count;          /* tails: the last tail_count entries of env_caps */
    corral_limits limits;       /* zero = not set */
    char *tenant;
    /* A module name held a NUL character: it is kept with each NUL written
     * as \u0000 (a C string would end there, and "a\0b.js" would become
     * "a"), and validation refuses the code naming it: 1 + the index of
     * the first such module, 0 for none. */
    size_t nul_module_name;
};

struct workercode *wc_new(void);
void wc_free(struct workercode *c);
struct workercode *wc_clone(const struct workercode *c);

int wc_add_module(struct workercode *c, const char *name, size_t name_len, corral_module_type type,
                  const void *src, size_t len);
int wc_add_flag(struct workercode *c, const char *flag, size_t len);

/* Validates everything the reference makes loader-side errors: module map
 * shape and types, sizes, compatibility date and flags. `today` is
 * "YYYY-MM-DD". Fills err with the reference's name and message. Infers
 * string module types from names. Returns 0 or -1. */
int wc_validate(struct workercode *c, const corral_limits *limits, const char *today,
                corral_error *err);

/* Whether a flag is set (after validation). */
int wc_has_flag(const struct workercode *c, const char *flag);

/* Fills err (name, message, status) printf-style. */
void corral_error_set(corral_error *err, int status, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Today's date, UTC, as "YYYY-MM-DD" into buf[11]. */
void wc_today_utc(char buf[11]);

/* Known compatibility flags, for documentation and `corral run --help`. */
struct wc_flag_info {
    const char *name;
    const char *opposite;       /* the flag it contradicts, or NULL */
    int experimental;
    const char *effect;
};
extern const struct wc_flag_info wc_known_flags[];
extern const size_t wc_known_flag_count;

#endif
