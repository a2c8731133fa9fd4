/* typegen.c — JSON Schema to the TypeScript a model reads (§2.6).
 *
 * The model never sees JSON Schema: it sees `type GetWeatherInput = {...}`
 * and `declare const codemode: { getWeather: (input: ...) => Promise<...> }`.
 * That text is part of the prompt, so it has to be the reference's text byte
 * for byte, including its quirks. The converter therefore follows the
 * reference's decision order exactly ($ref, anyOf, oneOf, allOf, enum, const,
 * type, properties, type arrays), its depth limit (20) and its cycle rule
 * (a schema already on the conversion stack is `unknown`).
 *
 * The reference walks schemas with JavaScript property access, so a schema of
 * the wrong shape (an `anyOf` that is an object, a null property schema, a
 * numeric description) makes it throw, and generateTypesFromJsonSchema turns
 * a throwing tool into `unknown` types. We model "throws" with an error flag
 * in the conversion context and reproduce where the reference throws and
 * where it quietly yields `unknown`. On top of that we bound the work
 * (node visits and output size), because a schema whose $refs fan out can
 * make the reference run for ever; past the bound the tool degrades like a
 * throwing one (see docs/codemode.md).
 */
#include "codemode/codemode.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 20
#define MAX_VISITS 200000

typedef struct conv_ctx {
    const json_t *root;
    const json_t **stack; /* schemas being converted: the reference's `seen` */
    size_t nstack, capstack;
    size_t visits;
    int err; /* the reference would have thrown */
} conv_ctx;

/* JavaScript truthiness of a property value (NULL = undefined). */
static int truthy(const json_t *v) {
    if (!v) return 0;
    switch (json_typeof(v)) {
    case JSON_NULL: case JSON_FALSE: return 0;
    case JSON_TRUE: return 1;
    case JSON_INTEGER: case JSON_REAL: return json_number_value(v) != 0;
    case JSON_STRING: return json_string_length(v) > 0;
    default: return 1;
    }
}

/* schema[key] for an object schema; undefined for anything else (arrays,
 * strings and numbers have none of the keywords we read). */
static const json_t *prop(const json_t *schema, const char *key) {
    return json_is_object(schema) ? json_object_get(schema, key) : NULL;
}

/* escapeStringLiteral: the body of a double-quoted TypeScript string. */
static void escape_string_literal(cm_buf *b, const char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        size_t at = i;
        unsigned cp = cm_utf8_next(s, len, &i);
        switch (cp) {
        case '\\': cm_buf_puts(b, "\\\\"); break;
        case '"': cm_buf_puts(b, "\\\""); break;
        case '\n': cm_buf_puts(b, "\\n"); break;
        case '\r': cm_buf_puts(b, "\\r"); break;
        case '\t': cm_buf_puts(b, "\\t"); break;
        case 0x2028: cm_buf_puts(b, "\\u2028"); break;
        case 0x2029: cm_buf_puts(b, "\\u2029"); break;
        default:
            if (cp <= 0x1f || cp == 0x7f) cm_buf_printf(b, "\\u%04x", cp);
            else cm_buf_add(b, s + at, i - at);
        }
    }
}

/* quoteProp: a property name that is not a plain identifier is quoted. */
static void quote_prop(cm_buf *b, const char *name) {
    size_t len = strlen(name);
    if (cm_is_identifier(name, len)) { cm_buf_add(b, name, len); return; }
    cm_buf_putc(b, '"');
    escape_string_literal(b, name, len);
    cm_buf_putc(b, '"');
}

/* escapeJsDoc after replacing \r?\n with a space: text safe inside a
 * comment line. */
static void jsdoc_text(cm_buf *b, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n') { cm_buf_putc(b, ' '); i++; }
        else if (s[i] == '\n') cm_buf_putc(b, ' ');
        else if (s[i] == '*' && i + 1 < len && s[i + 1] == '/') { cm_buf_puts(b, "*\\/"); i++; }
        else cm_buf_putc(b, s[i]);
    }
}

/* escapeJsDoc alone: only the comment terminator is defused. */
static void jsdoc_escape(cm_buf *b, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '*' && i + 1 < len && s[i + 1] == '/') { cm_buf_puts(b, "*\\/"); i++; }
        else cm_buf_putc(b, s[i]);
    }
}

/* A primitive enum/const member: String(v), or the quoted string. */
static void literal(cm_buf *b, const json_t *v) {
    char num[40];
    switch (json_typeof(v)) {
    case JSON_NULL: cm_buf_puts(b, "null"); break;
    case JSON_TRUE: cm_buf_puts(b, "true"); break;
    case JSON_FALSE: cm_buf_puts(b, "false"); break;
    case JSON_INTEGER: cm_js_number((double)json_integer_value(v), num); cm_buf_puts(b, num); break;
    case JSON_REAL: cm_js_number(json_real_value(v), num); cm_buf_puts(b, num); break;
    case JSON_STRING:
        cm_buf_putc(b, '"');
        escape_string_literal(b, json_string_value(v), json_string_length(v));
        cm_buf_putc(b, '"');
        break;
    default: {
        char *t = cm_json_stringify(v, 0);
        if (t) { cm_buf_puts(b, t); free(t); }
        else cm_buf_puts(b, "unknown");
    }
    }
}

static void indent_spaces(cm_buf *b, int n) {
    for (int i = 0; i < n; i++) cm_buf_putc(b, ' ');
}

static void convert(conv_ctx *c, cm_buf *out, const json_t *schema, int indent, int depth);

/* Resolves a local JSON pointer against the root; NULL when the reference's
 * resolveRef returns null (or `false`, which it then treats the same way). */
static const json_t *resolve_ref(const json_t *root, const char *ref) {
    if (strcmp(ref, "#") == 0) return root;
    if (strncmp(ref, "#/", 2) != 0) return NULL;
    const json_t *cur = root;
    const char *p = ref + 2;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char *seg = malloc(n + 1);
        if (!seg) return NULL;
        size_t o = 0;
        /* ~1 first, then ~0, as the reference does. */
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '~' && i + 1 < n && p[i + 1] == '1') { seg[o++] = '/'; i++; }
            else seg[o++] = p[i];
        }
        seg[o] = '\0';
        size_t w = 0;
        for (size_t i = 0; i < o; i++) {
            if (seg[i] == '~' && i + 1 < o && seg[i + 1] == '0') { seg[w++] = '~'; i++; }
            else seg[w++] = seg[i];
        }
        seg[w] = '\0';
        const json_t *next = NULL;
        if (json_is_object(cur)) {
            next = json_object_get(cur, seg);
        } else if (json_is_array(cur)) {
            char *end = NULL;
            unsigned long idx = strtoul(seg, &end, 10);
            int canonical = seg[0] && *end == '\0' && (seg[0] != '0' || seg[1] == '\0') &&
                            seg[0] >= '0' && seg[0] <= '9';
            if (canonical && idx < json_array_size(cur)) next = json_array_get(cur, idx);
        }
        free(seg);
        if (!next) return NULL; /* undefined, or a property of a non-object */
        cur = next;
        if (!slash) break;
        if (!json_is_object(cur) && !json_is_array(cur)) return NULL;
        p = slash + 1;
    }
    if (json_is_true(cur)) return cur;
    if (json_is_false(cur)) return NULL; /* `if (!resolved)` sees false */
    return json_is_object(cur) || json_is_array(cur) ? cur : NULL;
}

/* Converts each element of an array keyword and joins with `sep`. */
static void join_members(conv_ctx *c, cm_buf *out, const json_t *arr, const char *sep,
                         int indent, int depth) {
    for (size_t i = 0; i < json_array_size(arr) && !c->err; i++) {
        if (i) cm_buf_puts(out, sep);
        convert(c, out, json_array_get(arr, i), indent, depth + 1);
    }
}

/* Appends the union/intersection/tuple etc. for `schema`, then " | null"
 * when it is OpenAPI-nullable and the result is not unknown/never. */
static void convert_body(conv_ctx *c, cm_buf *out, const json_t *schema, int indent, int depth);

static void convert(conv_ctx *c, cm_buf *out, const json_t *schema, int indent, int depth) {
    if (c->err) return;
    if (schema && json_is_boolean(schema)) {
        cm_buf_puts(out, json_is_true(schema) ? "unknown" : "never");
        return;
    }
    if (depth >= MAX_DEPTH) { cm_buf_puts(out, "unknown"); return; }
    if (++c->visits > MAX_VISITS || out->len > CM_TYPEGEN_MAX_OUTPUT) { c->err = 1; return; }
    /* Property access on undefined or null throws in the reference. */
    if (!schema || json_is_null(schema)) { c->err = 1; return; }
    for (size_t i = 0; i < c->nstack; i++)
        if (c->stack[i] == schema) { cm_buf_puts(out, "unknown"); return; }
    if (c->nstack == c->capstack) {
        size_t cap = c->capstack ? c->capstack * 2 : 32;
        const json_t **s = realloc(c->stack, cap * sizeof *s);
        if (!s) { c->err = 1; return; }
        c->stack = s;
        c->capstack = cap;
    }
    c->stack[c->nstack++] = schema;
    convert_body(c, out, schema, indent, depth);
    c->nstack--;
}

/* Whether applyNullable adds " | null" to the text appended since `mark`. */
static void apply_nullable(cm_buf *out, size_t mark, const json_t *schema) {
    if (out->oom) return;
    const char *res = out->p ? out->p + mark : "";
    size_t rlen = out->len - mark;
    if ((rlen == 7 && memcmp(res, "unknown", 7) == 0) || (rlen == 5 && memcmp(res, "never", 5) == 0))
        return;
    if (json_is_true(prop(schema, "nullable"))) cm_buf_puts(out, " | null");
}

static void convert_object(conv_ctx *c, cm_buf *out, const json_t *schema, int indent, int depth) {
    size_t mark = out->len;
    const json_t *props = prop(schema, "properties");
    const json_t *req = prop(schema, "required");
    if (truthy(req) && !json_is_array(req) && !json_is_string(req)) { c->err = 1; return; }
    cm_buf lines = {0};
    size_t nlines = 0;
#define NEWLINE() do { if (nlines++) cm_buf_putc(&lines, '\n'); } while (0)
    /* Object.entries(properties): a string's entries are its characters,
     * which convert to `unknown`; an array's are its indices. */
    size_t nkeys = 0;
    const char **keys = NULL;
    size_t nidx = 0;
    if (json_is_object(props)) keys = cm_js_keys(props, &nkeys);
    else if (json_is_array(props)) nidx = json_array_size(props);
    else if (json_is_string(props)) nidx = cm_utf16_len(json_string_value(props), json_string_length(props));
    size_t n = keys ? nkeys : nidx;
    for (size_t k = 0; k < n && !c->err; k++) {
        char idxname[32];
        const char *name;
        const json_t *ps;
        json_t *tmp = NULL;
        if (keys) {
            name = keys[k];
            ps = json_object_get(props, name);
        } else {
            snprintf(idxname, sizeof idxname, "%zu", k);
            name = idxname;
            ps = json_is_array(props) ? json_array_get(props, k) : (tmp = json_string("x"));
        }
        /* required.has(name): array members are compared as strings; a
         * string `required` is a set of its characters. */
        int required = 0;
        if (json_is_array(req)) {
            for (size_t r = 0; r < json_array_size(req) && !required; r++) {
                const json_t *rv = json_array_get(req, r);
                required = json_is_string(rv) && strcmp(json_string_value(rv), name) == 0;
            }
        } else if (json_is_string(req)) {
            const char *rs = json_string_value(req);
            size_t rl = json_string_length(req), i = 0, nl = strlen(name);
            while (i < rl && !required) {
                size_t at = i;
                cm_utf8_next(rs, rl, &i);
                required = i - at == nl && memcmp(rs + at, name, nl) == 0;
            }
        }
        if (ps && json_is_boolean(ps)) {
            NEWLINE();
            indent_spaces(&lines, indent + 4);
            quote_prop(&lines, name);
            cm_buf_printf(&lines, "%s: %s;", required ? "" : "?", json_is_true(ps) ? "unknown" : "never");
            json_decref(tmp);
            continue;
        }
        cm_buf t = {0};
        convert(c, &t, ps, indent + 4, depth + 1);
        json_decref(tmp);
        if (c->err) { cm_buf_free(&t); break; }
        if (!ps || json_is_null(ps)) { c->err = 1; cm_buf_free(&t); break; }
        const json_t *desc = prop(ps, "description"), *fmt = prop(ps, "format");
        int has_desc = truthy(desc), has_fmt = truthy(fmt);
        if ((has_desc && !json_is_string(desc)) || (has_fmt && !json_is_string(fmt))) {
            c->err = 1; /* .replace is not a function */
            cm_buf_free(&t);
            break;
        }
        if (has_desc && has_fmt) {
            NEWLINE(); indent_spaces(&lines, indent + 4); cm_buf_puts(&lines, "/**");
            NEWLINE(); indent_spaces(&lines, indent + 4); cm_buf_puts(&lines, " * ");
            jsdoc_text(&lines, json_string_value(desc), json_string_length(desc));
            NEWLINE(); indent_spaces(&lines, indent + 4); cm_buf_puts(&lines, " * @format ");
            jsdoc_escape(&lines, json_string_value(fmt), json_string_length(fmt));
            NEWLINE(); indent_spaces(&lines, indent + 4); cm_buf_puts(&lines, " */");
        } else if (has_desc || has_fmt) {
            NEWLINE(); indent_spaces(&lines, indent + 4); cm_buf_puts(&lines, "/** ");
            if (has_desc) {
                jsdoc_text(&lines, json_string_value(desc), json_string_length(desc));
            } else {
                /* The format is only escaped: it keeps its newlines. */
                cm_buf_puts(&lines, "@format ");
                jsdoc_escape(&lines, json_string_value(fmt), json_string_length(fmt));
            }
            cm_buf_puts(&lines, " */");
        }
        NEWLINE();
        indent_spaces(&lines, indent + 4);
        quote_prop(&lines, name);
        cm_buf_printf(&lines, "%s: ", required ? "" : "?");
        if (t.len) cm_buf_add(&lines, t.p, t.len);
        cm_buf_putc(&lines, ';');
        cm_buf_free(&t);
    }
    free(keys);
    const json_t *ap = prop(schema, "additionalProperties");
    if (!c->err && truthy(ap)) {
        NEWLINE();
        indent_spaces(&lines, indent + 4);
        cm_buf_puts(&lines, "[key: string]: ");
        if (json_is_true(ap)) cm_buf_puts(&lines, "unknown");
        else convert(c, &lines, ap, indent + 4, depth + 1);
        cm_buf_putc(&lines, ';');
    }
#undef NEWLINE
    if (c->err || lines.oom) { c->err = 1; cm_buf_free(&lines); return; }
    if (nlines == 0) {
        cm_buf_puts(out, json_is_false(ap) ? "{}" : "Record<string, unknown>");
    } else {
        cm_buf_puts(out, "{\n");
        cm_buf_add(out, lines.p, lines.len);
        cm_buf_putc(out, '\n');
        indent_spaces(out, indent);
        cm_buf_putc(out, '}');
    }
    cm_buf_free(&lines);
    apply_nullable(out, mark, schema);
}

static void convert_body(conv_ctx *c, cm_buf *out, const json_t *schema, int indent, int depth) {
    size_t mark = out->len;
    if (!json_is_object(schema)) { cm_buf_puts(out, "unknown"); return; }

    const json_t *ref = prop(schema, "$ref");
    if (truthy(ref)) {
        if (!json_is_string(ref)) { c->err = 1; return; } /* ref.startsWith is not a function */
        const json_t *target = resolve_ref(c->root, json_string_value(ref));
        if (!target) { cm_buf_puts(out, "unknown"); return; }
        convert(c, out, target, indent, depth + 1);
        apply_nullable(out, mark, schema);
        return;
    }
    static const char *const unions[] = {"anyOf", "oneOf", "allOf"};
    for (int u = 0; u < 3; u++) {
        const json_t *arr = prop(schema, unions[u]);
        if (!truthy(arr)) continue;
        if (!json_is_array(arr)) { c->err = 1; return; } /* .map is not a function */
        join_members(c, out, arr, u == 2 ? " & " : " | ", indent, depth);
        apply_nullable(out, mark, schema);
        return;
    }
    const json_t *en = prop(schema, "enum");
    if (truthy(en)) {
        if (!json_is_array(en)) { c->err = 1; return; }
        if (json_array_size(en) == 0) { cm_buf_puts(out, "never"); return; }
        for (size_t i = 0; i < json_array_size(en); i++) {
            if (i) cm_buf_puts(out, " | ");
            literal(out, json_array_get(en, i));
        }
        apply_nullable(out, mark, schema);
        return;
    }
    const json_t *cst = prop(schema, "const");
    if (cst) {
        literal(out, cst);
        apply_nullable(out, mark, schema);
        return;
    }
    const json_t *type = prop(schema, "type");
    const char *ts = json_is_string(type) ? json_string_value(type) : NULL;
    if (ts && strcmp(ts, "string") == 0) { cm_buf_puts(out, "string"); apply_nullable(out, mark, schema); return; }
    if (ts && (strcmp(ts, "number") == 0 || strcmp(ts, "integer") == 0)) {
        cm_buf_puts(out, "number"); apply_nullable(out, mark, schema); return;
    }
    if (ts && strcmp(ts, "boolean") == 0) { cm_buf_puts(out, "boolean"); apply_nullable(out, mark, schema); return; }
    if (ts && strcmp(ts, "null") == 0) { cm_buf_puts(out, "null"); return; }
    if (ts && strcmp(ts, "array") == 0) {
        const json_t *pi = prop(schema, "prefixItems"), *items = prop(schema, "items");
        const json_t *tuple = json_is_array(pi) ? pi : json_is_array(items) ? items : NULL;
        if (tuple) {
            cm_buf_putc(out, '[');
            join_members(c, out, tuple, ", ", indent, depth);
            cm_buf_putc(out, ']');
        } else if (truthy(items)) {
            convert(c, out, items, indent, depth + 1);
            cm_buf_puts(out, "[]");
        } else {
            cm_buf_puts(out, "unknown[]");
        }
        apply_nullable(out, mark, schema);
        return;
    }
    if ((ts && strcmp(ts, "object") == 0) || truthy(prop(schema, "properties"))) {
        convert_object(c, out, schema, indent, depth);
        return;
    }
    if (json_is_array(type)) {
        for (size_t i = 0; i < json_array_size(type); i++) {
            const json_t *t = json_array_get(type, i);
            const char *s = json_is_string(t) ? json_string_value(t) : "";
            if (i) cm_buf_puts(out, " | ");
            if (!strcmp(s, "string") || !strcmp(s, "boolean") || !strcmp(s, "null")) cm_buf_puts(out, s);
            else if (!strcmp(s, "number") || !strcmp(s, "integer")) cm_buf_puts(out, "number");
            else if (!strcmp(s, "array")) cm_buf_puts(out, "unknown[]");
            else if (!strcmp(s, "object")) cm_buf_puts(out, "Record<string, unknown>");
            else cm_buf_puts(out, "unknown");
        }
        apply_nullable(out, mark, schema);
        return;
    }
    cm_buf_puts(out, "unknown");
}

/* The type body alone, or NULL where the reference throws. */
static char *type_body(const json_t *schema) {
    conv_ctx c = {0};
    c.root = schema;
    cm_buf out = {0};
    convert(&c, &out, schema, 0, 0);
    free(c.stack);
    if (c.err || out.oom || out.len > CM_TYPEGEN_MAX_OUTPUT) { cm_buf_free(&out); return NULL; }
    return cm_buf_take(&out);
}

char *cm_json_schema_to_type(const json_t *schema, const char *type_name) {
    char *body = type_body(schema);
    if (!body) return NULL;
    cm_buf b = {0};
    cm_buf_printf(&b, "type %s = %s", type_name ? type_name : "undefined", body);
    free(body);
    return cm_buf_take(&b);
}

char *cm_pascal_case(const char *safe) {
    cm_buf b = {0};
    size_t n = safe ? strlen(safe) : 0;
    for (size_t i = 0; i < n; i++) {
        if (safe[i] == '_' && i + 1 < n && safe[i + 1] >= 'a' && safe[i + 1] <= 'z') {
            cm_buf_putc(&b, (char)(safe[i + 1] - 'a' + 'A'));
            i++;
        } else {
            cm_buf_putc(&b, safe[i]);
        }
    }
    char *s = cm_buf_take(&b);
    if (s && s[0] >= 'a' && s[0] <= 'z') s[0] = (char)(s[0] - 'a' + 'A');
    return s;
}

/* String(v) for a description that is not a string (only reachable in the
 * @param lines, where the reference interpolates it into a template). */
static void js_string_of(cm_buf *b, const json_t *v, int depth) {
    char num[40];
    switch (json_typeof(v)) {
    case JSON_STRING: cm_buf_add(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: case JSON_REAL:
        cm_js_number(json_number_value(v), num);
        cm_buf_puts(b, num);
        break;
    case JSON_TRUE: cm_buf_puts(b, "true"); break;
    case JSON_FALSE: cm_buf_puts(b, "false"); break;
    case JSON_NULL: cm_buf_puts(b, "null"); break;
    case JSON_OBJECT: cm_buf_puts(b, "[object Object]"); break;
    case JSON_ARRAY:
        /* Array.prototype.join: null members print as "". */
        for (size_t i = 0; i < json_array_size(v) && depth < 32; i++) {
            const json_t *e = json_array_get(v, i);
            if (i) cm_buf_putc(b, ',');
            if (!json_is_null(e)) js_string_of(b, e, depth + 1);
        }
        break;
    }
}

/* Appends "\n<trimmed s>". */
static void append_trimmed_line(cm_buf *b, const char *s) {
    size_t a, e;
    cm_js_trim(s, strlen(s), &a, &e);
    cm_buf_putc(b, '\n');
    cm_buf_add(b, s + a, e - a);
}

static void degraded_tool(cm_buf *types, cm_buf *decls, const char *key, const char *safe,
                          const char *tn) {
    cm_buf_printf(types, "\ntype %sInput = unknown", tn);
    cm_buf_printf(types, "\ntype %sOutput = unknown", tn);
    cm_buf_puts(decls, "\n\t/**\n\t * ");
    jsdoc_escape(decls, key, strlen(key));
    cm_buf_puts(decls, "\n\t */");
    cm_buf_printf(decls, "\n\t%s: (input: %sInput) => Promise<%sOutput>;\n", safe, tn, tn);
}

char *cm_generate_types(const json_t *tools, const char *ns) {
    cm_buf types = {0}, decls = {0};
    size_t n = 0;
    const char **keys = json_is_object(tools) ? cm_js_keys(tools, &n) : NULL;
    for (size_t k = 0; k < n; k++) {
        const char *key = keys[k];
        const json_t *tool = json_object_get(tools, key);
        char *safe = cm_sanitize_tool_name(key);
        char *tn = safe ? cm_pascal_case(safe) : NULL;
        if (!safe || !tn) { free(safe); free(tn); types.oom = 1; break; }
        char in_name[strlen(tn) + 8], out_name[strlen(tn) + 8];
        snprintf(in_name, sizeof in_name, "%sInput", tn);
        snprintf(out_name, sizeof out_name, "%sOutput", tn);
        /* tool.inputSchema on a non-object tool is undefined, which throws. */
        const json_t *in_schema = json_is_object(tool) ? json_object_get(tool, "inputSchema") : NULL;
        const json_t *out_schema = json_is_object(tool) ? json_object_get(tool, "outputSchema") : NULL;
        char *in_type = cm_json_schema_to_type(in_schema, in_name);
        char *out_type = NULL;
        int failed = in_type == NULL;
        if (!failed) {
            if (truthy(out_schema)) {
                out_type = cm_json_schema_to_type(out_schema, out_name);
                failed = out_type == NULL;
            } else {
                cm_buf ob = {0};
                cm_buf_printf(&ob, "type %s = unknown", out_name);
                out_type = cm_buf_take(&ob);
                failed = out_type == NULL;
            }
        }
        if (failed) {
            degraded_tool(&types, &decls, key, safe, tn);
        } else {
            append_trimmed_line(&types, in_type);
            append_trimmed_line(&types, out_type);
            const json_t *desc = json_object_get(tool, "description");
            /* tool.description?.trim() throws for a non-string, after the
             * types were already appended: the reference then appends the
             * unknown types too. */
            if (desc && !json_is_null(desc) && !json_is_string(desc)) {
                degraded_tool(&types, &decls, key, safe, tn);
            } else {
                cm_buf_puts(&decls, "\n\t/**\n\t * ");
                size_t a = 0, e = 0;
                if (desc) cm_js_trim(json_string_value(desc), json_string_length(desc), &a, &e);
                if (desc && e > a) jsdoc_text(&decls, json_string_value(desc) + a, e - a);
                else jsdoc_escape(&decls, key, strlen(key));
                const json_t *props = json_is_object(in_schema) ? json_object_get(in_schema, "properties") : NULL;
                size_t np = 0;
                const char **pk = json_is_object(props) ? cm_js_keys(props, &np) : NULL;
                for (size_t i = 0; i < np; i++) {
                    const json_t *ps = json_object_get(props, pk[i]);
                    const json_t *pd = json_is_object(ps) ? json_object_get(ps, "description") : NULL;
                    if (!truthy(pd)) continue;
                    cm_buf line = {0};
                    cm_buf_printf(&line, "@param input.%s - ", pk[i]);
                    js_string_of(&line, pd, 0);
                    cm_buf_puts(&decls, "\n\t * ");
                    if (line.p) jsdoc_text(&decls, line.p, line.len);
                    if (line.oom) decls.oom = 1;
                    cm_buf_free(&line);
                }
                free(pk);
                cm_buf_puts(&decls, "\n\t */");
                cm_buf_printf(&decls, "\n\t%s: (input: %sInput) => Promise<%sOutput>;\n", safe, tn, tn);
            }
        }
        free(in_type);
        free(out_type);
        free(safe);
        free(tn);
    }
    free(keys);
    cm_buf all = {0};
    cm_buf_putc(&all, '\n');
    if (types.p) cm_buf_add(&all, types.p, types.len);
    cm_buf_printf(&all, "\n\ndeclare const %s: {", ns ? ns : "codemode");
    if (decls.p) cm_buf_add(&all, decls.p, decls.len);
    cm_buf_puts(&all, "}\n  ");
    if (types.oom || decls.oom) all.oom = 1;
    cm_buf_free(&types);
    cm_buf_free(&decls);
    char *s = cm_buf_take(&all);
    if (!s) return NULL;
    size_t a, e;
    cm_js_trim(s, strlen(s), &a, &e);
    memmove(s, s + a, e - a);
    s[e - a] = '\0';
    return s;
}
