/* discovery.c — how sandbox code finds tools: codemode.search / describe.
 *
 * A runtime with many connectors cannot put every declaration in the prompt,
 * so the model searches (§2.8.7): every connector method and every saved
 * snippet is an item scored against the query over four weighted fields
 * (path 12, method 10, connector 8, description 5) after normalising
 * camelCase, snake_case, dots and slashes into lowercase tokens. Phrase
 * matches outweigh token matches, a coverage rule drops items that match too
 * few query tokens, and small bonuses favour items whose first token or
 * whole name is the query. describe(target) then renders TypeScript for one
 * connector, method or snippet with the generator in typegen.c.
 *
 * The reference breaks score ties with String.prototype.localeCompare (ICU
 * root collation). We approximate that ordering for the characters tool
 * paths use — punctuation before digits before letters, letters compared
 * case-insensitively first, lowercase before uppercase on a tie — rather
 * than byte order, which would put "listPullRequests" before "list_issues".
 */
#include "codemode/codemode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SEARCH_LIMIT 50

enum { W_PATH = 12, W_CONNECTOR = 8, W_METHOD = 10, W_DESCRIPTION = 5 };

/* ---- text normalisation ---------------------------------------------------- */

static int is_lower_or_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
static int is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static int is_alnum_lower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* normalizeSearchText: split camelCase, turn runs of _ . / : - into a space,
 * lowercase (ASCII), trim. */
static char *normalize_text(const char *s) {
    cm_buf a = {0};
    size_t n = s ? strlen(s) : 0;
    for (size_t i = 0; i < n; i++) {
        if (is_lower_or_digit(s[i]) && i + 1 < n && is_upper(s[i + 1])) {
            cm_buf_putc(&a, s[i]);
            cm_buf_putc(&a, ' ');
            cm_buf_putc(&a, s[i + 1]);
            i++;
        } else if (strchr("_./:-", s[i]) && s[i]) {
            while (i + 1 < n && strchr("_./:-", s[i + 1]) && s[i + 1]) i++;
            cm_buf_putc(&a, ' ');
        } else {
            cm_buf_putc(&a, s[i]);
        }
    }
    char *t = cm_buf_take(&a);
    if (!t) return NULL;
    for (char *p = t; *p; p++)
        if (is_upper(*p)) *p = (char)(*p - 'A' + 'a');
    size_t b, e;
    cm_js_trim(t, strlen(t), &b, &e);
    memmove(t, t + b, e - b);
    t[e - b] = '\0';
    return t;
}

typedef struct tokens {
    char **v;
    size_t n;
} tokens;

static void free_tokens(tokens *t) {
    for (size_t i = 0; i < t->n; i++) free(t->v[i]);
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

/* tokenize: the normalised text split on anything but [a-z0-9]. */
static int tokenize(const char *norm, tokens *out) {
    out->v = NULL;
    out->n = 0;
    size_t n = strlen(norm), cap = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && !is_alnum_lower(norm[i])) i++;
        size_t s = i;
        while (i < n && is_alnum_lower(norm[i])) i++;
        if (i == s) continue;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 8;
            char **v = realloc(out->v, cap * sizeof *v);
            if (!v) { free_tokens(out); return 0; }
            out->v = v;
        }
        char *t = malloc(i - s + 1);
        if (!t) { free_tokens(out); return 0; }
        memcpy(t, norm + s, i - s);
        t[i - s] = '\0';
        out->v[out->n++] = t;
    }
    return 1;
}

static int starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* ---- scoring ----------------------------------------------------------------- */

typedef struct item {
    char *path;
    const char *connector, *method, *description;
    const char *kind;
    int requires_approval;
    long score;
} item;

/* Scores one field; marks matched query tokens in `matched`. */
static long score_field(const char *query, const tokens *q, const char *value, long w,
                        unsigned char *matched, int *phrase, int *oom) {
    char *raw = normalize_text(value ? value : "");
    if (!raw) { *oom = 1; return 0; }
    long score = 0;
    if (!raw[0]) { free(raw); return 0; }
    tokens ft;
    if (!tokenize(raw, &ft)) { free(raw); *oom = 1; return 0; }
    int exact_phrase = query[0] && strstr(raw, query) != NULL;
    if (query[0]) {
        if (strcmp(raw, query) == 0) score += w * 14;
        else if (starts_with(raw, query)) score += w * 9;
        else if (exact_phrase) score += w * 6;
    }
    for (size_t k = 0; k < q->n; k++) {
        const char *t = q->v[k];
        int exact = 0, prefix = 0;
        for (size_t j = 0; j < ft.n && !exact; j++) exact = strcmp(ft.v[j], t) == 0;
        for (size_t j = 0; j < ft.n && !exact && !prefix; j++)
            prefix = starts_with(ft.v[j], t) || starts_with(t, ft.v[j]);
        if (exact) { score += w * 4; matched[k] = 1; }
        else if (prefix) { score += w * 2; matched[k] = 1; }
        else if (strstr(raw, t)) { score += w; matched[k] = 1; }
    }
    if (exact_phrase) *phrase = 1;
    free_tokens(&ft);
    free(raw);
    return score;
}

static int first_token_is(const char *value, const char *tok0, int *oom) {
    char *norm = normalize_text(value);
    tokens t;
    if (!norm || !tokenize(norm, &t)) { free(norm); *oom = 1; return 0; }
    int r = t.n > 0 && strcmp(t.v[0], tok0) == 0;
    free_tokens(&t);
    free(norm);
    return r;
}

static int normalized_equals(const char *value, const char *nq, int *oom) {
    char *norm = normalize_text(value);
    if (!norm) { *oom = 1; return 0; }
    int r = strcmp(norm, nq) == 0;
    free(norm);
    return r;
}

/* Returns 1 and sets it->score when the item matches. */
static int score_item(item *it, const char *nq, const tokens *q, int *oom) {
    unsigned char *matched = calloc(q->n, 1);
    if (!matched) { *oom = 1; return 0; }
    int phrase = 0;
    long score = score_field(nq, q, it->path, W_PATH, matched, &phrase, oom) +
                 score_field(nq, q, it->connector, W_CONNECTOR, matched, &phrase, oom) +
                 score_field(nq, q, it->method, W_METHOD, matched, &phrase, oom) +
                 score_field(nq, q, it->description, W_DESCRIPTION, matched, &phrase, oom);
    /* matchedTokens is a set of token strings: a repeated query token counts
     * once in the numerator but every time in the denominator. */
    size_t distinct = 0;
    for (size_t k = 0; k < q->n; k++) {
        if (!matched[k]) continue;
        int dup = 0;
        for (size_t j = 0; j < k && !dup; j++) dup = matched[j] && strcmp(q->v[j], q->v[k]) == 0;
        if (!dup) distinct++;
    }
    free(matched);
    if (distinct == 0 || *oom) return 0;
    double coverage = (double)distinct / (double)q->n;
    double minimum = q->n <= 2 ? 1.0 : 0.6;
    if (coverage < minimum && !phrase) return 0;
    if (coverage == 1.0) score += 25;
    else score += (long)floor(coverage * 10 + 0.5); /* Math.round */
    if (first_token_is(it->path, q->v[0], oom) || first_token_is(it->method, q->v[0], oom)) score += 8;
    if (normalized_equals(it->path, nq, oom) || normalized_equals(it->method, nq, oom)) score += 20;
    it->score = score;
    return 1;
}

/* ---- collation (localeCompare approximation) --------------------------------- */

static unsigned primary(unsigned cp) {
    static const char order[] = "\t\n\v\f\r _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789";
    if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
    if (cp >= 'a' && cp <= 'z') return 100 + (cp - 'a');
    if (cp < 0x80 && cp) {
        const char *p = strchr(order, (int)cp);
        if (p) return 1 + (unsigned)(p - order);
        return 90; /* other controls */
    }
    return 1000 + cp;
}

static int collate(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b), i = 0, j = 0;
    while (i < la && j < lb) {
        unsigned pa = primary(cm_utf8_next(a, la, &i)), pb = primary(cm_utf8_next(b, lb, &j));
        if (pa != pb) return pa < pb ? -1 : 1;
    }
    if (i < la || j < lb) return i < la ? 1 : -1;
    /* Same letters: lowercase sorts before uppercase at the first case
     * difference. */
    for (size_t k = 0; a[k] && b[k]; k++) {
        if (a[k] == b[k]) continue;
        if (is_upper(a[k]) != is_upper(b[k])) return is_upper(a[k]) ? 1 : -1;
        break;
    }
    int c = strcmp(a, b);
    return c < 0 ? -1 : c > 0;
}

static int cmp_items(const void *x, const void *y) {
    const item *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return collate(a->path, b->path);
}

/* ---- catalogue access ----------------------------------------------------------- */

static const char *str_or_null(const json_t *obj, const char *key) {
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const json_t *connectors_of(const json_t *catalog) {
    const json_t *c = json_is_object(catalog) ? json_object_get(catalog, "connectors") : NULL;
    return json_is_array(c) ? c : NULL;
}

static const json_t *snippets_of(const json_t *catalog) {
    const json_t *s = json_is_object(catalog) ? json_object_get(catalog, "snippets") : NULL;
    return json_is_array(s) ? s : NULL;
}

static const json_t *tools_of(const json_t *connector) {
    const json_t *t = json_is_object(connector) ? json_object_get(connector, "tools") : NULL;
    return json_is_object(t) ? t : NULL;
}

/* ---- search ------------------------------------------------------------------------ */

static void free_items(item *items, size_t n) {
    for (size_t i = 0; i < n; i++) free(items[i].path);
    free(items);
}

json_t *cm_search(const json_t *catalog, const char *query) {
    size_t cap = 16, n = 0;
    item *items = malloc(cap * sizeof *items);
    if (!items) return NULL;
    int oom = 0;
    const json_t *conns = connectors_of(catalog), *snips = snippets_of(catalog);
    for (size_t c = 0; c < json_array_size(conns) && !oom; c++) {
        const json_t *conn = json_array_get(conns, c);
        const char *cname = str_or_null(conn, "name");
        const json_t *tools = tools_of(conn);
        if (!cname || !tools) continue;
        size_t nk;
        const char **keys = cm_js_keys(tools, &nk);
        for (size_t k = 0; k < nk && !oom; k++) {
            if (n == cap) {
                item *ni = realloc(items, (cap *= 2) * sizeof *ni);
                if (!ni) { oom = 1; break; }
                items = ni;
            }
            const json_t *tool = json_object_get(tools, keys[k]);
            cm_buf p = {0};
            cm_buf_printf(&p, "%s.%s", cname, keys[k]);
            item *it = &items[n];
            memset(it, 0, sizeof *it);
            it->path = cm_buf_take(&p);
            if (!it->path) { oom = 1; break; }
            n++;
            it->connector = cname;
            it->method = keys[k];
            it->description = str_or_null(tool, "description");
            it->kind = "method";
            it->requires_approval = json_is_true(json_object_get(tool, "requiresApproval"));
        }
        free(keys);
    }
    for (size_t s = 0; s < json_array_size(snips) && !oom; s++) {
        const json_t *snip = json_array_get(snips, s);
        const char *name = str_or_null(snip, "name");
        if (!name) continue;
        if (n == cap) {
            item *ni = realloc(items, (cap *= 2) * sizeof *ni);
            if (!ni) { oom = 1; break; }
            items = ni;
        }
        item *it = &items[n];
        memset(it, 0, sizeof *it);
        it->path = strdup(name);
        if (!it->path) { oom = 1; break; }
        n++;
        it->connector = "snippet";
        it->method = name;
        it->description = str_or_null(snip, "description");
        it->kind = "snippet";
    }
    char *nq = oom ? NULL : normalize_text(query ? query : "");
    tokens q = {0};
    if (!nq || !tokenize(nq, &q)) oom = 1;
    size_t kept = 0;
    if (!oom && nq[0] && q.n) {
        for (size_t i = 0; i < n; i++) {
            if (score_item(&items[i], nq, &q, &oom)) {
                item tmp = items[kept];
                items[kept] = items[i];
                items[i] = tmp;
                kept++;
            }
        }
    }
    free_tokens(&q);
    free(nq);
    if (oom) { free_items(items, n); return NULL; }
    /* qsort is not stable, but (score, path) only ties on equal paths. */
    qsort(items, kept, sizeof *items, cmp_items);
    json_t *results = json_array();
    for (size_t i = 0; i < kept && i < SEARCH_LIMIT && results; i++) {
        item *it = &items[i];
        json_t *r = json_object();
        if (!r) { json_decref(results); results = NULL; break; }
        json_object_set_new(r, "path", json_string(it->path));
        json_object_set_new(r, "connector", json_string(it->connector));
        json_object_set_new(r, "method", json_string(it->method));
        if (it->description) json_object_set_new(r, "description", json_string(it->description));
        json_object_set_new(r, "kind", json_string(it->kind));
        if (it->requires_approval) json_object_set_new(r, "requiresApproval", json_true());
        json_object_set_new(r, "score", json_integer(it->score));
        json_array_append_new(results, r);
    }
    free_items(items, n);
    if (!results) return NULL;
    return json_pack("{s:o,s:I,s:b}", "results", results, "total", (json_int_t)kept,
                     "truncated", kept > SEARCH_LIMIT);
}

/* ---- describe ------------------------------------------------------------------------ */

/* str.replace(find, repl): the first occurrence only. */
static char *replace_first(const char *s, const char *find, const char *repl) {
    const char *at = strstr(s, find);
    cm_buf b = {0};
    if (!at) { cm_buf_puts(&b, s); return cm_buf_take(&b); }
    cm_buf_add(&b, s, (size_t)(at - s));
    cm_buf_puts(&b, repl);
    cm_buf_puts(&b, at + strlen(find));
    return cm_buf_take(&b);
}

static char *connector_types(const json_t *conn) {
    const char *name = str_or_null(conn, "name");
    const char *instructions = str_or_null(conn, "instructions");
    char *gen = cm_generate_types(tools_of(conn), NULL);
    char *safe = cm_sanitize_tool_name(name);
    char *decl = NULL, *types = NULL;
    if (gen && safe) {
        cm_buf d = {0};
        cm_buf_printf(&d, "declare const %s", safe);
        decl = cm_buf_take(&d);
    }
    if (decl) types = replace_first(gen, "declare const codemode", decl);
    free(gen);
    free(safe);
    free(decl);
    if (!types) return NULL;
    /* [instructions, types].filter(Boolean).join("\n\n") */
    cm_buf out = {0};
    if (instructions && instructions[0]) {
        cm_buf_puts(&out, instructions);
        if (types[0]) cm_buf_puts(&out, "\n\n");
    }
    cm_buf_puts(&out, types);
    free(types);
    return cm_buf_take(&out);
}

static char *method_types(const char *method, const json_t *descriptor) {
    json_t *one = json_object();
    if (!one) return NULL;
    json_object_set(one, method, (json_t *)descriptor);
    char *gen = cm_generate_types(one, NULL);
    json_decref(one);
    if (!gen) return NULL;
    char *at = strstr(gen, "declare const codemode");
    size_t end = at ? (size_t)(at - gen) : (strlen(gen) ? strlen(gen) - 1 : 0);
    size_t a, e;
    cm_js_trim(gen, end, &a, &e);
    memmove(gen, gen + a, e - a);
    gen[e - a] = '\0';
    return gen;
}

json_t *cm_describe(const json_t *catalog, const char *target) {
    if (!target) target = "undefined";
    const json_t *snips = snippets_of(catalog), *conns = connectors_of(catalog);
    for (size_t s = 0; s < json_array_size(snips); s++) {
        const json_t *snip = json_array_get(snips, s);
        const char *name = str_or_null(snip, "name");
        if (!name || strcmp(name, target) != 0) continue;
        const char *desc = str_or_null(snip, "description");
        const char *code = str_or_null(snip, "code");
        cm_buf t = {0};
        /* [description, fenced code].join("\n\n"): join prints undefined as "". */
        cm_buf_printf(&t, "%s\n\n```ts\n%s\n```", desc ? desc : "", code ? code : "undefined");
        char *types = cm_buf_take(&t);
        if (!types) return NULL;
        json_t *r = json_object();
        json_object_set_new(r, "path", json_string(name));
        if (desc) json_object_set_new(r, "description", json_string(desc));
        json_object_set_new(r, "types", json_string(types));
        json_object_set_new(r, "kind", json_string("snippet"));
        free(types);
        return r;
    }
    /* target.split(".", 2) */
    const char *dot = strchr(target, '.');
    char *conn_name = dot ? strndup(target, (size_t)(dot - target)) : strdup(target);
    char *method = NULL;
    if (dot) {
        const char *m = dot + 1, *dot2 = strchr(m, '.');
        method = dot2 ? strndup(m, (size_t)(dot2 - m)) : strdup(m);
    }
    if (!conn_name || (dot && !method)) { free(conn_name); free(method); return NULL; }
    const json_t *found = NULL;
    for (size_t c = 0; c < json_array_size(conns) && !found; c++) {
        const char *n = str_or_null(json_array_get(conns, c), "name");
        if (n && strcmp(n, conn_name) == 0) found = json_array_get(conns, c);
    }
    json_t *r = NULL;
    if (found && (!method || !method[0])) {
        char *types = connector_types(found);
        if (types) {
            const char *instr = str_or_null(found, "instructions");
            r = json_object();
            json_object_set_new(r, "path", json_string(str_or_null(found, "name")));
            if (instr) json_object_set_new(r, "description", json_string(instr));
            json_object_set_new(r, "types", json_string(types));
            json_object_set_new(r, "kind", json_string("connector"));
            free(types);
        }
        free(conn_name);
        free(method);
        return r;
    }
    const char *mname = method ? method : target;
    size_t nc = found ? 1 : json_array_size(conns);
    for (size_t c = 0; c < nc; c++) {
        const json_t *cand = found ? found : json_array_get(conns, c);
        const json_t *tools = tools_of(cand);
        const json_t *desc = tools ? json_object_get(tools, mname) : NULL;
        if (!desc || json_is_null(desc) || json_is_false(desc)) continue;
        char *types = method_types(mname, desc);
        if (!types) break;
        cm_buf p = {0};
        cm_buf_printf(&p, "%s.%s", str_or_null(cand, "name"), mname);
        char *path = cm_buf_take(&p);
        const char *d = str_or_null(desc, "description");
        r = json_object();
        json_object_set_new(r, "path", json_string(path ? path : ""));
        if (d) json_object_set_new(r, "description", json_string(d));
        if (json_is_true(json_object_get(desc, "requiresApproval")))
            json_object_set_new(r, "requiresApproval", json_true());
        json_object_set_new(r, "types", json_string(types));
        json_object_set_new(r, "kind", json_string("method"));
        free(path);
        free(types);
        break;
    }
    free(conn_name);
    free(method);
    if (r) return r;
    cm_buf t = {0};
    cm_buf_printf(&t, "\"%s\" not found.", target);
    char *types = cm_buf_take(&t);
    if (!types) return NULL;
    r = json_object();
    json_object_set_new(r, "path", json_string(target));
    json_object_set_new(r, "types", json_string(types));
    json_object_set_new(r, "kind", json_string("method"));
    free(types);
    return r;
}

/* ---- prompt text with a token budget -------------------------------------------------- */

char *cm_catalog_prompt(const json_t *catalog, long max_tokens) {
    const json_t *conns = connectors_of(catalog);
    cm_buf full = {0};
    for (size_t c = 0; c < json_array_size(conns) && max_tokens > 0; c++) {
        const json_t *conn = json_array_get(conns, c);
        if (!str_or_null(conn, "name")) continue;
        char *t = connector_types(conn);
        if (!t) { full.oom = 1; break; }
        if (full.len) cm_buf_puts(&full, "\n\n");
        cm_buf_puts(&full, t);
        free(t);
    }
    if (max_tokens > 0 && !full.oom &&
        cm_estimate_tokens(full.p ? cm_utf16_len(full.p, full.len) : 0) <= max_tokens)
        return cm_buf_take(&full);
    cm_buf_free(&full);
    cm_buf s = {0};
    cm_buf_puts(&s, "Available namespaces (use codemode.describe for types):\n");
    for (size_t c = 0; c < json_array_size(conns); c++) {
        const json_t *conn = json_array_get(conns, c);
        const char *name = str_or_null(conn, "name");
        if (!name) continue;
        char *safe = cm_sanitize_tool_name(name);
        cm_buf_printf(&s, "- %s:", safe ? safe : name);
        free(safe);
        size_t nk;
        const char **keys = cm_js_keys(tools_of(conn), &nk);
        for (size_t k = 0; k < nk; k++) {
            char *t = cm_sanitize_tool_name(keys[k]);
            cm_buf_printf(&s, "%s %s", k ? "," : "", t ? t : keys[k]);
            free(t);
        }
        free(keys);
        cm_buf_putc(&s, '\n');
    }
    return cm_buf_take(&s);
}
