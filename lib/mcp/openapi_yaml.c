/* YAML to JSON for OpenAPI specs (lib/mcp/openapi_internal.h).
 *
 * Many OpenAPI specs are written in YAML. libyaml (Debian's libyaml-0-2)
 * does the parsing; this file turns its event stream into a jansson tree.
 * We read events rather than libyaml's document API so that the two things
 * a hostile file can do to a YAML loader are bounded here, as they happen:
 *
 *  - Alias bombs ("billion laughs"): an alias reuses its anchor's node (a
 *    shared reference, so memory stays small), but every node carries the
 *    size its JSON would have once expanded, and an alias adds its anchor's
 *    whole size to its parent. When the document as JSON would pass
 *    MCP_OPENAPI_MAX_YAML_EXPANSION we stop, naming the limit.
 *  - Self-reference: an anchor is registered only when its node is
 *    complete, so `&a [*a]` is an alias to an unfinished anchor, an error,
 *    and the tree can never contain a cycle.
 *
 * Nesting deeper than MCP_OPENAPI_MAX_DEPTH is refused. Plain scalars are
 * typed with the YAML 1.2 core schema (null, true/false, integers, floats;
 * `yes`/`no` stay strings, as in most modern loaders); quoted and block
 * scalars are strings; `.inf` and `.nan`, which JSON cannot hold, are kept
 * as their text. Mapping keys must be scalars and become their text. The
 * merge key `<<` of YAML 1.1, common in hand-written specs, is honoured.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "mcp/openapi_internal.h"

struct anchor {
    char *name;
    json_t *node;
    size_t size;
};

/* Open addressing, so that a file with a million anchors and aliases stays
 * linear. */
struct anchors {
    struct anchor *slots;
    size_t cap, n;
};

struct frame {
    json_t *node;      /* object or array */
    char *anchor;      /* registered when the node ends */
    size_t size;       /* JSON size so far */
    char *key;         /* mapping: the key waiting for its value */
    size_t key_len;
    int have_key, merge;
};

struct yconv {
    struct frame *stack;
    size_t depth, cap;
    struct anchors anchors;
    json_t *root;
    size_t root_size;
    char *err;
    size_t errlen;
    int failed;
};

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct anchor *anchor_find(struct anchors *a, const char *name) {
    if (!a->cap) return NULL;
    for (size_t i = hash_str(name) & (a->cap - 1);; i = (i + 1) & (a->cap - 1)) {
        if (!a->slots[i].name) return NULL;
        if (strcmp(a->slots[i].name, name) == 0) return &a->slots[i];
    }
}

static int anchor_put(struct anchors *a, const char *name, json_t *node, size_t size) {
    struct anchor *old = anchor_find(a, name);
    if (old) { /* YAML lets a later anchor of the same name take over */
        json_decref(old->node);
        old->node = json_incref(node);
        old->size = size;
        return 0;
    }
    if ((a->n + 1) * 2 > a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 64;
        struct anchor *ns = calloc(ncap, sizeof *ns);
        if (!ns) return -1;
        for (size_t i = 0; i < a->cap; i++) {
            if (!a->slots[i].name) continue;
            size_t j = hash_str(a->slots[i].name) & (ncap - 1);
            while (ns[j].name) j = (j + 1) & (ncap - 1);
            ns[j] = a->slots[i];
        }
        free(a->slots);
        a->slots = ns;
        a->cap = ncap;
    }
    char *copy = strdup(name);
    if (!copy) return -1;
    size_t j = hash_str(name) & (a->cap - 1);
    while (a->slots[j].name) j = (j + 1) & (a->cap - 1);
    a->slots[j] = (struct anchor){copy, json_incref(node), size};
    a->n++;
    return 0;
}

static void anchors_free(struct anchors *a) {
    for (size_t i = 0; i < a->cap; i++) {
        if (!a->slots[i].name) continue;
        free(a->slots[i].name);
        json_decref(a->slots[i].node);
    }
    free(a->slots);
}

static void fail(struct yconv *c, const yaml_mark_t *m, const char *fmt, const char *arg) {
    if (c->failed) return;
    c->failed = 1;
    char what[512];
    snprintf(what, sizeof what, fmt, arg ? arg : "");
    if (m) snprintf(c->err, c->errlen, "OpenAPI spec: %s at line %zu, column %zu", what,
                    (size_t)m->line + 1, (size_t)m->column + 1);
    else snprintf(c->err, c->errlen, "OpenAPI spec: %s", what);
}

/* ---- scalars ------------------------------------------------------------- */

static int all_in(const char *s, size_t n, const char *set) {
    if (!n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr(set, s[i])) return 0;
    return 1;
}

static int is_decimal_int(const char *s, size_t n) {
    if (n && (s[0] == '-' || s[0] == '+')) s++, n--;
    return all_in(s, n, "0123456789");
}

static int is_float(const char *s, size_t n) {
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
    }
    if (!digits) return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+')) i++;
        size_t e = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, e++;
        if (!e) return 0;
    }
    return i == n;
}

static int eq_any(const char *s, size_t n, const char *const *words) {
    for (; *words; words++)
        if (strlen(*words) == n && memcmp(s, *words, n) == 0) return 1;
    return 0;
}

static json_t *number_or_text(const char *s, size_t n, int integer, int base) {
    char buf[128];
    if (n < sizeof buf) {
        memcpy(buf, s, n);
        buf[n] = 0;
        char *end;
        errno = 0;
        if (integer) {
            const char *digits = base == 10 ? buf : buf + 2;
            long long v = strtoll(digits, &end, base);
            if (!errno && !*end) return json_integer(v);
        }
        if (base == 10) {
            errno = 0;
            double d = strtod(buf, &end);
            if (!*end && isfinite(d)) return json_real(d);
        }
    }
    return json_stringn(s, n);
}

static json_t *scalar_value(const yaml_event_t *ev) {
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    if (tag && strcmp(tag, YAML_STR_TAG) == 0) return json_stringn(s, n);
    if (tag && strcmp(tag, "!") == 0) return json_stringn(s, n);
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE && !tag) return json_stringn(s, n);
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    if (eq_any(s, n, nulls)) return json_null();
    if (eq_any(s, n, trues)) return json_true();
    if (eq_any(s, n, falses)) return json_false();
    if (is_decimal_int(s, n)) return number_or_text(s, n, 1, 10);
    if (n > 2 && s[0] == '0' && s[1] == 'o' && all_in(s + 2, n - 2, "01234567"))
        return number_or_text(s, n, 1, 8);
    if (n > 2 && s[0] == '0' && s[1] == 'x' && all_in(s + 2, n - 2, "0123456789abcdefABCDEF"))
        return number_or_text(s, n, 1, 16);
    if (is_float(s, n)) return number_or_text(s, n, 0, 10);
    return json_stringn(s, n);
}

/* JSON size of a scalar, near enough for a bound: its text plus quotes. */
static size_t scalar_size(size_t n) { return n + 3; }

/* ---- the tree ------------------------------------------------------------ */

/* Adds `node` (a new reference, consumed) of JSON size `size` to the open
 * container, or makes it the root. */
static void add_node(struct yconv *c, json_t *node, size_t size, const yaml_mark_t *m) {
    if (!node) {
        fail(c, m, "out of memory%s", NULL);
        return;
    }
    if (!c->depth) {
        c->root = node;
        c->root_size = size;
        return;
    }
    struct frame *f = &c->stack[c->depth - 1];
    if (json_is_array(f->node)) {
        json_array_append_new(f->node, node);
    } else if (!f->have_key) {
        if (json_is_object(node) || json_is_array(node)) {
            json_decref(node);
            fail(c, m, "a mapping key is not a scalar (JSON keys are strings)%s", NULL);
            return;
        }
        /* An aliased scalar used as a key: its text. */
        char *text;
        if (json_is_string(node)) {
            f->key_len = json_string_length(node);
            text = malloc(f->key_len + 1);
            if (text) memcpy(text, json_string_value(node), f->key_len + 1);
        } else {
            text = json_dumps(node, JSON_ENCODE_ANY);
            f->key_len = text ? strlen(text) : 0;
        }
        json_decref(node);
        if (!text) {
            fail(c, m, "out of memory%s", NULL);
            return;
        }
        free(f->key);
        f->key = text;
        f->have_key = 1;
        f->merge = 0;
        f->size += f->key_len + 4;
        return;
    } else if (f->merge) {
        /* "<<: *base" or "<<: [*a, *b]": keys not yet present are copied. */
        json_t *srcs = json_is_array(node) ? node : NULL;
        size_t count = srcs ? json_array_size(srcs) : 1;
        for (size_t i = 0; i < count; i++) {
            json_t *src = srcs ? json_array_get(srcs, i) : node;
            if (!json_is_object(src)) {
                json_decref(node);
                fail(c, m, "the value of a merge key (<<) is not a mapping%s", NULL);
                return;
            }
            const char *k;
            size_t klen;
            json_t *v;
            void *tmp;
            json_object_keylen_foreach_safe(src, tmp, k, klen, v) {
                if (!json_object_getn(f->node, k, klen)) json_object_setn(f->node, k, klen, v);
            }
        }
        json_decref(node);
        f->have_key = 0;
        f->merge = 0;
    } else {
        json_object_setn_new(f->node, f->key, f->key_len, node);
        f->have_key = 0;
    }
    f->size += size + 1;
    if (f->size > MCP_OPENAPI_MAX_YAML_EXPANSION) {
        char lim[64];
        snprintf(lim, sizeof lim, "%zu", (size_t)MCP_OPENAPI_MAX_YAML_EXPANSION);
        fail(c, m, "YAML expands to more than %s bytes of JSON (limit on alias expansion)", lim);
    }
}

static void push(struct yconv *c, json_t *node, const yaml_char_t *anchor, const yaml_mark_t *m) {
    if (!node) {
        fail(c, m, "out of memory%s", NULL);
        return;
    }
    if (c->depth >= MCP_OPENAPI_MAX_DEPTH) {
        json_decref(node);
        char lim[32];
        snprintf(lim, sizeof lim, "%d", MCP_OPENAPI_MAX_DEPTH);
        fail(c, m, "YAML nests deeper than %s levels", lim);
        return;
    }
    if (c->depth == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 32;
        struct frame *ns = realloc(c->stack, ncap * sizeof *ns);
        if (!ns) {
            json_decref(node);
            fail(c, m, "out of memory%s", NULL);
            return;
        }
        c->stack = ns;
        c->cap = ncap;
    }
    char *a = anchor ? strdup((const char *)anchor) : NULL;
    c->stack[c->depth++] = (struct frame){node, a, 2, NULL, 0, 0, 0};
}

static void pop(struct yconv *c, const yaml_mark_t *m) {
    struct frame f = c->stack[--c->depth];
    free(f.key);
    if (f.anchor && anchor_put(&c->anchors, f.anchor, f.node, f.size) < 0)
        fail(c, m, "out of memory%s", NULL);
    free(f.anchor);
    add_node(c, f.node, f.size, m);
}

static void on_event(struct yconv *c, const yaml_event_t *ev) {
    const yaml_mark_t *m = &ev->start_mark;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        struct frame *f = c->depth ? &c->stack[c->depth - 1] : NULL;
        size_t n = ev->data.scalar.length;
        if (f && json_is_object(f->node) && !f->have_key) {
            char *k = malloc(n + 1);
            if (!k) {
                fail(c, m, "out of memory%s", NULL);
                return;
            }
            memcpy(k, ev->data.scalar.value, n);
            k[n] = 0;
            free(f->key);
            f->key = k;
            f->key_len = n;
            f->have_key = 1;
            f->merge = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && n == 2 &&
                       memcmp(k, "<<", 2) == 0;
            f->size += n + 4;
            if (ev->data.scalar.anchor) {
                json_t *kn = json_stringn(k, n);
                if (!kn || anchor_put(&c->anchors, (const char *)ev->data.scalar.anchor, kn,
                                      scalar_size(n)) < 0)
                    fail(c, m, "out of memory%s", NULL);
                json_decref(kn);
            }
            return;
        }
        json_t *v = scalar_value(ev);
        if (v && ev->data.scalar.anchor &&
            anchor_put(&c->anchors, (const char *)ev->data.scalar.anchor, v, scalar_size(n)) < 0)
            fail(c, m, "out of memory%s", NULL);
        add_node(c, v, scalar_size(n), m);
        return;
    }
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        struct anchor *a = anchor_find(&c->anchors, name);
        if (!a) {
            fail(c, m, "alias *%.200s refers to an unknown or unfinished anchor", name);
            return;
        }
        add_node(c, json_incref(a->node), a->size, m);
        return;
    }
    case YAML_SEQUENCE_START_EVENT:
        push(c, json_array(), ev->data.sequence_start.anchor, m);
        return;
    case YAML_MAPPING_START_EVENT:
        push(c, json_object(), ev->data.mapping_start.anchor, m);
        return;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (c->depth) pop(c, m);
        return;
    default:
        return;
    }
}

json_t *mcp_openapi_yaml_parse(const char *data, size_t len, char *err, size_t errlen) {
    struct yconv c = {.err = err, .errlen = errlen};
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        snprintf(err, errlen, "OpenAPI spec: out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
    int docs = 0, done = 0;
    while (!done && !c.failed) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            const yaml_mark_t *m = &p.problem_mark;
            char what[400];
            snprintf(what, sizeof what, "invalid YAML: %s%s%s", p.problem ? p.problem : "error",
                     p.context ? " " : "", p.context ? p.context : "");
            fail(&c, m, "%s", what);
            break;
        }
        if (ev.type == YAML_DOCUMENT_START_EVENT && ++docs > 1)
            fail(&c, &ev.start_mark, "the file holds more than one YAML document%s", NULL);
        else if (ev.type == YAML_STREAM_END_EVENT)
            done = 1;
        else
            on_event(&c, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    while (c.depth) {
        struct frame *f = &c.stack[--c.depth];
        json_decref(f->node);
        free(f->key);
        free(f->anchor);
    }
    free(c.stack);
    anchors_free(&c.anchors);
    if (c.failed) {
        json_decref(c.root);
        return NULL;
    }
    if (!c.root) {
        snprintf(err, errlen, "OpenAPI spec: the YAML document is empty");
        return NULL;
    }
    return c.root;
}
