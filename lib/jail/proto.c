/* The protocol's compound fields: limits, errors and a whole workercode,
 * spelled as runs of flat fields (proto.h).
 *
 * A workercode crosses the socket in both directions: down with START (the
 * supervisor's validated copy), up with LOAD and PROVIDE (a sandbox's
 * env.LOADER.load(code) or a get() factory's result). The decoder only
 * rebuilds the shape — strings without NUL bytes, known module types, caps
 * of known kinds and flags, counts the message can hold — and leaves the
 * meaning (module map, sizes, dates, flags) to wc_validate, which the
 * supervisor runs on every workercode a worker sends.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/workercode.h"
#include "jail/proto.h"

void jail_out_limits(struct jail_out *o, const corral_limits *l) {
    const uint64_t *v = (const uint64_t *)l;
    for (size_t i = 0; i < JAIL_LIMIT_FIELDS; i++) jail_out_u64(o, v[i]);
}

void jail_get_limits(struct jail_fields *f, corral_limits *l) {
    uint64_t *v = (uint64_t *)l;
    for (size_t i = 0; i < JAIL_LIMIT_FIELDS; i++) v[i] = jail_get_u64(f);
}

void jail_out_error(struct jail_out *o, const corral_error *e) {
    jail_out_i64(o, e ? e->status : 0);
    jail_out_str(o, e ? e->name : "");
    jail_out_str(o, e ? e->message : "");
}

void jail_get_error(struct jail_fields *f, corral_error *e) {
    memset(e, 0, sizeof *e);
    int64_t st = jail_get_i64(f);
    size_t nl, ml;
    const uint8_t *n = jail_get_bytes(f, &nl);
    const uint8_t *m = jail_get_bytes(f, &ml);
    if (f->bad) return;
    /* A status outside corral_status becomes a plain error. */
    e->status = st < -16 || st > 0 ? CORRAL_EINVAL : (int)st;
    /* Truncated to the struct's fields; NUL bytes end the text early. */
    if (n) memcpy(e->name, n, nl < sizeof e->name - 1 ? nl : sizeof e->name - 1);
    if (m) memcpy(e->message, m, ml < sizeof e->message - 1 ? ml : sizeof e->message - 1);
}

int jail_code_encode(const struct workercode *c, uint8_t **out, size_t *len) {
    struct jail_out o;
    jail_out_begin(&o, 0);
    jail_out_str(&o, c->compat_date);
    jail_out_u64(&o, c->flag_count);
    for (size_t i = 0; i < c->flag_count; i++) jail_out_str(&o, c->flags[i]);
    jail_out_u64(&o, (uint64_t)(c->allow_experimental != 0));
    jail_out_str(&o, c->main_module);
    jail_out_u64(&o, c->module_count);
    for (size_t i = 0; i < c->module_count; i++) {
        jail_out_str(&o, c->modules[i].name);
        jail_out_u64(&o, (uint64_t)c->modules[i].type);
        jail_out_bytes(&o, c->modules[i].source, c->modules[i].len);
    }
    if (c->env) jail_out_bytes(&o, c->env, c->env_len);
    else jail_out_null(&o);
    jail_out_u64(&o, c->env_size);
    jail_out_u64(&o, c->env_cap_count);
    for (size_t i = 0; i < c->env_cap_count; i++) {
        jail_out_u64(&o, c->env_caps[i].kind);
        jail_out_u64(&o, c->env_caps[i].flags);
        jail_out_u64(&o, c->env_caps[i].id);
    }
    jail_out_u64(&o, (uint64_t)c->outbound);
    jail_out_u64(&o, c->tail_count);
    jail_out_limits(&o, &c->limits);
    jail_out_str(&o, c->tenant);
    /* Worker Loader bindings are made by the engine itself; capability
     * bindings are already stubs in env (their objects stay here). */
    size_t loaders = 0;
    for (size_t i = 0; i < c->binding_count; i++) loaders += c->bindings[i].is_loader != 0;
    jail_out_u64(&o, loaders);
    for (size_t i = 0; i < c->binding_count; i++)
        if (c->bindings[i].is_loader) jail_out_str(&o, c->bindings[i].name);
    if (o.b.status != WIRE_OK) {
        jail_out_free(&o);
        return -1;
    }
    /* The same framing as a message: a header and the array. */
    struct wire_buf h;
    wire_buf_init(&h, 0);
    wire_put_header(&h);
    wire_put_array_begin(&h, o.count);
    wire_put_raw(&h, o.b.data, o.b.len);
    jail_out_free(&o);
    *out = wire_buf_take(&h, len);
    return *out ? 0 : -1;
}

struct workercode *jail_code_decode(const uint8_t *p, size_t len, int allow_bindings) {
    struct jail_fields f;
    if (jail_fields_parse(&f, p, len) < 0) return NULL;
    struct workercode *c = wc_new();
    if (!c) goto fail;
    if (jail_get_u64(&f) != 0) f.bad = 1;
    c->compat_date = jail_get_str(&f);
    size_t nflags = jail_get_count(&f, 1);
    for (size_t i = 0; !f.bad && i < nflags; i++) {
        size_t fl;
        const uint8_t *flag = jail_get_bytes(&f, &fl);
        if (!flag || memchr(flag, 0, fl) || wc_add_flag(c, (const char *)flag, fl) < 0) f.bad = 1;
    }
    c->allow_experimental = jail_get_u64(&f) != 0;
    c->main_module = jail_get_str(&f);
    size_t nmod = jail_get_count(&f, 3);
    for (size_t i = 0; !f.bad && i < nmod; i++) {
        size_t nl, sl;
        const uint8_t *name = jail_get_bytes(&f, &nl);
        uint64_t type = jail_get_u64(&f);
        const uint8_t *src = jail_get_bytes(&f, &sl);
        if (f.bad || !name || !src || memchr(name, 0, nl) || type > CORRAL_MODULE_WASM ||
            wc_add_module(c, (const char *)name, nl, (corral_module_type)type, src, sl) < 0)
            f.bad = 1;
    }
    size_t el;
    const uint8_t *env = jail_get_bytes(&f, &el);
    if (env) {
        c->env = malloc(el ? el : 1);
        if (!c->env) f.bad = 1;
        else if (el) memcpy(c->env, env, el);
        c->env_len = el;
    }
    c->env_size = jail_get_u64(&f);
    size_t ncaps = jail_get_count(&f, 3);
    if (!f.bad && ncaps) {
        c->env_caps = calloc(ncaps, sizeof *c->env_caps);
        if (!c->env_caps) f.bad = 1;
        else c->env_cap_count = ncaps;
    }
    for (size_t i = 0; !f.bad && i < ncaps; i++) {
        uint64_t kind = jail_get_u64(&f), flags = jail_get_u64(&f);
        if ((kind != WIRE_CAP_EXPORT && kind != WIRE_CAP_IMPORT) || (flags & ~(uint64_t)WIRE_CAP_F_ALL))
            f.bad = 1;
        c->env_caps[i].kind = (uint8_t)kind;
        c->env_caps[i].flags = (uint8_t)flags;
        c->env_caps[i].id = jail_get_u64(&f);
    }
    uint64_t outbound = jail_get_u64(&f);
    if (outbound > WC_OUTBOUND_STUB) f.bad = 1;
    c->outbound = (enum wc_outbound)outbound;
    c->tail_count = jail_get_u64(&f);
    if (c->tail_count > c->env_cap_count) f.bad = 1;
    jail_get_limits(&f, &c->limits);
    c->tenant = jail_get_str(&f);
    size_t nb = jail_get_count(&f, 1);
    if (nb && !allow_bindings) f.bad = 1;
    if (!f.bad && nb) {
        c->bindings = calloc(nb, sizeof *c->bindings);
        if (!c->bindings) f.bad = 1;
    }
    for (size_t i = 0; !f.bad && i < nb; i++) {
        char *name = jail_get_str(&f);
        if (!name) {
            f.bad = 1;
            break;
        }
        c->bindings[i].name = name;
        c->bindings[i].is_loader = 1;
        c->binding_count++;
    }
    if (f.bad || f.next != f.count) goto fail;
    jail_fields_free(&f);
    return c;
fail:
    wc_free(c);
    jail_fields_free(&f);
    return NULL;
}
