/* truncate.c — keeping tool and sandbox results inside a model's context.
 *
 * truncateResponse clips text with a notice; truncateResult (0.5.6
 * semantics, §2.10) shrinks an oversized JSON value *structurally*: the
 * output is valid JSON of the same shape, strings are clipped with a marker,
 * arrays keep a prefix plus a marker element, objects drop their largest
 * values and name them in a marker entry. Budgets are shared between
 * siblings by water-filling (smallest first, each taking at most an equal
 * share of what is left), and every decision is made on the length of the
 * compact JSON text in UTF-16 code units, because that is what the
 * reference measures; matching its output byte for byte means measuring the
 * same thing.
 *
 * Measuring needs JSON text exactly as V8's JSON.stringify writes it
 * (JavaScript property order, number formatting, escapes), so that lives here
 * too and the other codemode files use it (enum/const literals in typegen).
 */
#include "codemode/codemode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARKER "--- TRUNCATED ---"
#define CHARS_PER_TOKEN 4
#define DEFAULT_MAX_TOKENS 6000
/* The least a string or container is kept at before it is dropped instead. */
#define MIN_SLOT 128

/* ---- JavaScript numbers --------------------------------------------------- */

void cm_js_number(double v, char out[40]) {
    if (v != v) { strcpy(out, "NaN"); return; }
    if (isinf(v)) { strcpy(out, v < 0 ? "-Infinity" : "Infinity"); return; }
    if (v == 0) { strcpy(out, "0"); return; }
    /* Shortest digit string that reads back as v, as ECMA-262
     * Number::toString requires. */
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v) break;
    }
    /* tmp = [-]d[.ddd]e[+-]xx */
    const char *p = tmp;
    int neg = 0;
    if (*p == '-') { neg = 1; p++; }
    char digits[24];
    int k = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[k++] = *p;
    int e = atoi(p + 1);
    while (k > 1 && digits[k - 1] == '0') k--;
    digits[k] = '\0';
    int n = e + 1; /* position of the decimal point relative to digits */
    int o = 0;
    if (neg) out[o++] = '-';
    if (k <= n && n <= 21) {
        memcpy(out + o, digits, (size_t)k); o += k;
        for (int i = k; i < n; i++) out[o++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(out + o, digits, (size_t)n); o += n;
        out[o++] = '.';
        memcpy(out + o, digits + n, (size_t)(k - n)); o += k - n;
    } else if (-6 < n && n <= 0) {
        out[o++] = '0'; out[o++] = '.';
        for (int i = 0; i < -n; i++) out[o++] = '0';
        memcpy(out + o, digits, (size_t)k); o += k;
    } else {
        out[o++] = digits[0];
        if (k > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, (size_t)(k - 1)); o += k - 1;
        }
        o += snprintf(out + o, 12, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    out[o] = '\0';
}

static void number_text(const json_t *v, char out[40]) {
    if (json_is_integer(v)) cm_js_number((double)json_integer_value(v), out);
    else cm_js_number(json_real_value(v), out);
}

/* ---- JavaScript property order -------------------------------------------- */

static int array_index_key(const char *k, unsigned long long *out) {
    if (!k[0]) return 0;
    if (k[0] == '0') { *out = 0; return k[1] == '\0'; }
    unsigned long long v = 0;
    for (const char *p = k; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        v = v * 10 + (unsigned)(*p - '0');
        if (v > 4294967294ULL) return 0;
    }
    *out = v;
    return 1;
}

const char **cm_js_keys(const json_t *obj, size_t *n) {
    *n = 0;
    size_t total = json_is_object(obj) ? json_object_size(obj) : 0;
    if (!total) return NULL;
    const char **keys = malloc(total * sizeof *keys);
    unsigned long long *idx = malloc(total * sizeof *idx);
    if (!keys || !idx) { free(keys); free(idx); return NULL; }
    size_t ni = 0;
    const char *k;
    json_t *v;
    /* Array-index keys first, ascending (insertion sort: they are few). */
    json_object_foreach((json_t *)obj, k, v) {
        unsigned long long x;
        if (!array_index_key(k, &x)) continue;
        size_t j = ni++;
        while (j > 0 && idx[j - 1] > x) { idx[j] = idx[j - 1]; keys[j] = keys[j - 1]; j--; }
        idx[j] = x;
        keys[j] = k;
    }
    size_t m = ni;
    json_object_foreach((json_t *)obj, k, v) {
        unsigned long long x;
        if (!array_index_key(k, &x)) keys[m++] = k;
    }
    free(idx);
    *n = m;
    return keys;
}

/* ---- JSON.stringify ------------------------------------------------------- */

/* Appends a JSON string literal; returns its length in UTF-16 units when
 * `b` is NULL (measure only). */
static size_t json_quote(cm_buf *b, const char *s, size_t len) {
    size_t units = 2, i = 0;
    if (b) cm_buf_putc(b, '"');
    while (i < len) {
        size_t at = i;
        unsigned cp = cm_utf8_next(s, len, &i);
        const char *esc = NULL;
        char tmp[8];
        switch (cp) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (cp < 0x20) { snprintf(tmp, sizeof tmp, "\\u%04x", cp); esc = tmp; }
        }
        if (esc) {
            units += strlen(esc);
            if (b) cm_buf_puts(b, esc);
        } else {
            units += cp >= 0x10000 ? 2 : 1;
            if (b) cm_buf_add(b, s + at, i - at);
        }
    }
    if (b) cm_buf_putc(b, '"');
    return units;
}

static void indent_to(cm_buf *b, int indent, int level) {
    cm_buf_putc(b, '\n');
    for (int i = 0; i < indent * level; i++) cm_buf_putc(b, ' ');
}

static int stringify(cm_buf *b, const json_t *v, int indent, int level) {
    if (level > CM_JSON_MAX_DEPTH) return 0;
    char num[40];
    switch (json_typeof(v)) {
    case JSON_NULL: cm_buf_puts(b, "null"); return 1;
    case JSON_TRUE: cm_buf_puts(b, "true"); return 1;
    case JSON_FALSE: cm_buf_puts(b, "false"); return 1;
    case JSON_INTEGER: case JSON_REAL:
        number_text(v, num);
        /* JSON.stringify writes non-finite numbers as null. */
        cm_buf_puts(b, isfinite(json_number_value(v)) ? num : "null");
        return 1;
    case JSON_STRING:
        json_quote(b, json_string_value(v), json_string_length(v));
        return 1;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (!n) { cm_buf_puts(b, "[]"); return 1; }
        cm_buf_putc(b, '[');
        for (size_t i = 0; i < n; i++) {
            if (i) cm_buf_putc(b, ',');
            if (indent) indent_to(b, indent, level + 1);
            if (!stringify(b, json_array_get(v, i), indent, level + 1)) return 0;
        }
        if (indent) indent_to(b, indent, level);
        cm_buf_putc(b, ']');
        return 1;
    }
    case JSON_OBJECT: {
        size_t n;
        const char **keys = cm_js_keys(v, &n);
        if (!n) { cm_buf_puts(b, "{}"); return 1; }
        cm_buf_putc(b, '{');
        int ok = 1;
        for (size_t i = 0; i < n && ok; i++) {
            if (i) cm_buf_putc(b, ',');
            if (indent) indent_to(b, indent, level + 1);
            json_quote(b, keys[i], strlen(keys[i]));
            cm_buf_puts(b, indent ? ": " : ":");
            ok = stringify(b, json_object_get(v, keys[i]), indent, level + 1);
        }
        free(keys);
        if (!ok) return 0;
        if (indent) indent_to(b, indent, level);
        cm_buf_putc(b, '}');
        return 1;
    }
    }
    return 0;
}

char *cm_json_stringify(const json_t *value, int indent) {
    if (!value) return NULL;
    cm_buf b = {0};
    if (!stringify(&b, value, indent, 0)) { cm_buf_free(&b); return NULL; }
    return cm_buf_take(&b);
}

/* Compact serialized length in UTF-16 units, without building the text;
 * (size_t)-1 when too deep. Object keys do not depend on order for size. */
static size_t json_size_depth(const json_t *v, int depth) {
    if (depth > CM_JSON_MAX_DEPTH) return (size_t)-1;
    char num[40];
    switch (json_typeof(v)) {
    case JSON_NULL: return 4;
    case JSON_TRUE: return 4;
    case JSON_FALSE: return 5;
    case JSON_INTEGER: case JSON_REAL:
        if (!isfinite(json_number_value(v))) return 4;
        number_text(v, num);
        return strlen(num);
    case JSON_STRING: return json_quote(NULL, json_string_value(v), json_string_length(v));
    case JSON_ARRAY: {
        size_t n = json_array_size(v), total = 2 + (n ? n - 1 : 0);
        for (size_t i = 0; i < n; i++) {
            size_t s = json_size_depth(json_array_get(v, i), depth + 1);
            if (s == (size_t)-1) return s;
            total += s;
        }
        return total;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(v), total = 2 + (n ? n - 1 : 0);
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            size_t s = json_size_depth(x, depth + 1);
            if (s == (size_t)-1) return s;
            total += json_quote(NULL, k, strlen(k)) + 1 + s;
        }
        return total;
    }
    }
    return 0;
}

static long jsize(const json_t *v) { return (long)json_size_depth(v, 0); }
static long str_jsize(const char *s) { return (long)json_quote(NULL, s, strlen(s)); }

/* ---- truncateResponse ------------------------------------------------------ */

static void budget(const cm_truncate_opts *o, long *max_chars, long *max_tokens) {
    long mt = o && o->max_tokens >= 0 ? o->max_tokens : DEFAULT_MAX_TOKENS;
    *max_tokens = mt;
    *max_chars = o && o->max_chars >= 0 ? o->max_chars : mt * CHARS_PER_TOKEN;
}

long long cm_estimate_tokens(size_t units) {
    return (long long)((units + CHARS_PER_TOKEN - 1) / CHARS_PER_TOKEN);
}

char *cm_truncate_response(const char *text, size_t len, const cm_truncate_opts *opts) {
    long max_chars, max_tokens;
    budget(opts, &max_chars, &max_tokens);
    if (!text) len = 0;
    size_t units = cm_utf16_len(text, len);
    cm_buf b = {0};
    if (units <= (size_t)max_chars) {
        cm_buf_add(&b, text, len);
        return cm_buf_take(&b);
    }
    char est[32], lim[32];
    cm_group_thousands(cm_estimate_tokens(units), est);
    cm_group_thousands(max_tokens, lim);
    cm_buf_add(&b, text, cm_utf16_prefix(text, len, (size_t)max_chars));
    cm_buf_printf(&b, "\n\n" MARKER "\nResponse was ~%s tokens (limit: %s). "
                  "Narrow the request to reduce response size.", est, lim);
    return cm_buf_take(&b);
}

/* ---- structural shrinking ------------------------------------------------- */

static json_t *shrink(json_t *v, long max_chars);

static int shrinkable(const json_t *v) { return json_is_string(v) || json_is_array(v) || json_is_object(v); }

static long lmin(long a, long b) { return a < b ? a : b; }
static long lmax(long a, long b) { return a > b ? a : b; }
/* Math.floor(a / b) for b > 0, including negative a. */
static long floordiv(long a, long b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

static long floor_size(const json_t *v, long max_chars) {
    long full = jsize(v);
    return shrinkable(v) ? lmin(full, lmin(MIN_SLOT, lmax(2, floordiv(max_chars, 2)))) : full;
}

static json_t *make_string_with_suffix(const char *s, size_t keep_bytes, const char *suffix) {
    cm_buf b = {0};
    cm_buf_add(&b, s, keep_bytes);
    cm_buf_puts(&b, suffix);
    char *t = cm_buf_take(&b);
    if (!t) return NULL;
    json_t *j = json_stringn(t, strlen(t));
    free(t);
    return j;
}

static json_t *shrink_string(json_t *v, long max_chars) {
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    char n[32], suffix[64];
    cm_group_thousands((long long)cm_utf16_len(s, len), n);
    snprintf(suffix, sizeof suffix, " " MARKER " %s chars", n);
    long keep = lmax(0, max_chars - (long)strlen(suffix) - 2);
    json_t *out = make_string_with_suffix(s, cm_utf16_prefix(s, len, (size_t)keep), suffix);
    /* Escapes inflate the serialized form: back off until it fits. */
    while (out && keep > 0 && jsize(out) > max_chars) {
        keep = lmax(0, keep - (jsize(out) - max_chars));
        json_decref(out);
        out = make_string_with_suffix(s, cm_utf16_prefix(s, len, (size_t)keep), suffix);
    }
    if (out && jsize(out) <= max_chars) return out;
    json_decref(out);
    long m = lmax(0, max_chars - 2);
    return json_stringn(MARKER, (size_t)lmin(m, (long)strlen(MARKER)));
}

/* Water-filling: values admitted smallest first (stable), each taking the
 * lesser of its full size and an equal share of what is left. */
static void allocate(json_t *const *values, size_t n, long available, long *alloc) {
    if (!n) return;
    size_t *order = malloc(n * sizeof *order);
    long *sizes = malloc(n * sizeof *sizes);
    if (!order || !sizes) {
        for (size_t i = 0; i < n; i++) alloc[i] = 0;
        free(order); free(sizes);
        return;
    }
    for (size_t i = 0; i < n; i++) { sizes[i] = jsize(values[i]); order[i] = i; }
    for (size_t i = 1; i < n; i++) { /* stable insertion sort by size */
        size_t x = order[i], j = i;
        while (j > 0 && sizes[order[j - 1]] > sizes[x]) { order[j] = order[j - 1]; j--; }
        order[j] = x;
    }
    long remaining = available, count = (long)n;
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        long a = lmin(sizes[i], floordiv(remaining, count));
        alloc[i] = a;
        remaining -= a;
        count--;
    }
    free(order);
    free(sizes);
}

static long skeleton(long count) { return 2 + lmax(0, count - 1); }

static json_t *array_marker(long dropped) {
    char n[32], t[80];
    cm_group_thousands(dropped, n);
    snprintf(t, sizeof t, MARKER " %s more items", n);
    return json_string(t);
}

static json_t *shrink_array(json_t *v, long max_chars) {
    size_t n = json_array_size(v);
    long *floors = calloc(n ? n : 1, sizeof *floors);
    long *alloc = calloc(n ? n : 1, sizeof *alloc);
    json_t **items = calloc(n ? n : 1, sizeof *items);
    json_t *out = json_array();
    if (!floors || !alloc || !items || !out) goto fail;
    long sum = 0;
    for (size_t i = 0; i < n; i++) {
        items[i] = json_array_get(v, i);
        floors[i] = floor_size(items[i], max_chars);
        sum += floors[i];
    }
    size_t keep = n;
    if (sum + skeleton((long)keep) > max_chars) {
        /* Longest prefix whose floors fit beside a tail marker sized for the
         * largest possible count, so the real one always fits. */
        json_t *m = array_marker((long)n);
        long tail = (m ? jsize(m) : 0) + 1;
        json_decref(m);
        long used = skeleton(0) + tail;
        keep = 0;
        while (keep < n && used + floors[keep] + 1 <= max_chars) {
            used += floors[keep] + 1;
            keep++;
        }
    }
    long dropped = (long)(n - keep);
    json_t *marker = dropped > 0 ? array_marker(dropped) : NULL;
    long tail = dropped > 0 ? (marker ? jsize(marker) : 0) + (keep > 0 ? 1 : 0) : 0;
    allocate(items, keep, max_chars - skeleton((long)keep) - tail, alloc);
    for (size_t i = 0; i < keep; i++) {
        json_t *c = shrink(items[i], alloc[i]);
        if (!c || json_array_append_new(out, c)) goto fail_marker;
    }
    if (marker) {
        json_array_append(out, marker);
        if (jsize(out) > max_chars) json_array_remove(out, json_array_size(out) - 1);
        json_decref(marker);
    }
    free(floors); free(alloc); free(items);
    return out;
fail_marker:
    json_decref(marker);
fail:
    free(floors); free(alloc); free(items);
    json_decref(out);
    return NULL;
}

/* Length of "<n> keys omitted: " with n grouped as en-US does. */
static long note_prefix_len(long n) {
    char num[32];
    cm_group_thousands(n, num);
    return (long)strlen(num) + (long)strlen(" keys omitted: ");
}

static json_t *omitted_note(const char *const *keys, const unsigned char *dropped, size_t n) {
    cm_buf b = {0};
    char num[32];
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) nd += dropped[i];
    cm_group_thousands((long long)nd, num);
    cm_buf_printf(&b, "%s keys omitted: ", num);
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (!dropped[i]) continue;
        if (!first) cm_buf_puts(&b, ", ");
        cm_buf_puts(&b, keys[i]);
        first = 0;
    }
    char *t = cm_buf_take(&b);
    if (!t) return NULL;
    json_t *j = json_string(t);
    free(t);
    return j;
}

/* Objects drop their largest values first, only until the floors of what is
 * left plus a marker entry naming the dropped keys fit. The marker's cost is
 * estimated from the key lengths as the reference does (escaped length,
 * so a key with escapes is over-counted slightly). */
static json_t *shrink_object(json_t *v, long max_chars) {
    size_t n;
    const char **keys = cm_js_keys(v, &n);
    size_t m = n ? n : 1;
    size_t *order = calloc(m, sizeof *order);
    unsigned char *dropped = calloc(m, 1);
    long *vsize = calloc(m, sizeof *vsize), *floors = calloc(m, sizeof *floors), *alloc = NULL;
    json_t **vals = calloc(m + 1, sizeof *vals);
    const char **names = calloc(m + 1, sizeof *names);
    json_t *out = json_object(), *note = NULL;
    cm_buf mk = {0};
    if ((n && !keys) || !order || !dropped || !vsize || !floors || !vals || !names || !out) goto fail;
    /* The marker entry must not shadow a real key. */
    cm_buf_puts(&mk, MARKER);
    while (!mk.oom && json_object_get(v, mk.p)) cm_buf_putc(&mk, ' ');
    if (mk.oom) goto fail;
    long mk_cost = str_jsize(mk.p) + 1;
    long floors_sum = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_object_get(v, keys[i]);
        vsize[i] = jsize(x);
        floors[i] = str_jsize(keys[i]) + 1 + floor_size(x, max_chars);
        floors_sum += floors[i];
        order[i] = i;
    }
    for (size_t i = 1; i < n; i++) { /* stable sort, largest value first */
        size_t x = order[i], j = i;
        while (j > 0 && vsize[order[j - 1]] < vsize[x]) { order[j] = order[j - 1]; j--; }
        order[j] = x;
    }
    long present = (long)n, ndropped = 0, names_len = 0;
    long slot = lmin(MIN_SLOT, lmax(2, floordiv(max_chars, 2)));
#define COST()                                                                       \
    (2 + lmax(0, present + (ndropped ? 1 : 0) - 1) + floors_sum +                    \
     (ndropped ? mk_cost + lmin(note_prefix_len(ndropped) + names_len +              \
                                2 * (ndropped - 1) + 2, slot) : 0))
    for (size_t oi = 0; oi < n; oi++) {
        if (COST() <= max_chars) break;
        size_t i = order[oi];
        dropped[i] = 1;
        ndropped++;
        present--;
        floors_sum -= floors[i];
        names_len += str_jsize(keys[i]) - 2;
    }
    note = omitted_note(keys, dropped, n);
    if (!note) goto fail;
    if (COST() > max_chars) {
        long room = max_chars - 2 - mk_cost;
        if (room >= 2) {
            json_t *c = shrink(note, room);
            if (!c || json_object_set_new(out, mk.p, c)) goto fail;
        }
    } else {
        size_t na = 0;
        long fixed = 0;
        for (size_t i = 0; i < n; i++) {
            if (dropped[i]) continue;
            names[na] = keys[i];
            vals[na++] = json_object_get(v, keys[i]);
            fixed += str_jsize(keys[i]) + 1;
        }
        if (ndropped) {
            names[na] = mk.p;
            vals[na++] = note;
            fixed += mk_cost;
        }
        fixed += 2 + lmax(0, (long)na - 1);
        alloc = calloc(na ? na : 1, sizeof *alloc);
        if (!alloc) goto fail;
        allocate(vals, na, max_chars - fixed, alloc);
        for (size_t i = 0; i < na; i++) {
            json_t *c = shrink(vals[i], alloc[i]);
            if (!c || json_object_set_new(out, names[i], c)) goto fail;
        }
    }
#undef COST
    json_decref(note);
    cm_buf_free(&mk);
    free(keys); free(order); free(dropped); free(vsize); free(floors); free(alloc);
    free(vals); free(names);
    return out;
fail:
    json_decref(note);
    cm_buf_free(&mk);
    free(keys); free(order); free(dropped); free(vsize); free(floors); free(alloc);
    free(vals); free(names);
    json_decref(out);
    return NULL;
}

static json_t *shrink(json_t *v, long max_chars) {
    if (jsize(v) <= max_chars) return json_incref(v);
    if (json_is_string(v)) return shrink_string(v, max_chars);
    if (json_is_array(v)) return shrink_array(v, max_chars);
    if (json_is_object(v)) return shrink_object(v, max_chars);
    return json_incref(v);
}

json_t *cm_truncate_result(json_t *value, const cm_truncate_opts *opts) {
    if (!value) return NULL;
    if (json_is_string(value)) {
        char *t = cm_truncate_response(json_string_value(value), json_string_length(value), opts);
        if (!t) return NULL;
        json_t *j = json_string(t);
        free(t);
        return j;
    }
    size_t sz = json_size_depth(value, 0);
    if (sz == (size_t)-1) return json_incref(value); /* JSON.stringify would throw */
    long max_chars, max_tokens;
    budget(opts, &max_chars, &max_tokens);
    if ((long)sz <= max_chars) return json_incref(value);
    json_t *shrunk = shrink(value, max_chars);
    if (shrunk && jsize(shrunk) <= max_chars) return shrunk;
    json_decref(shrunk);
    /* Only a scalar too long for the budget gets here. */
    char *text = cm_json_stringify(value, 0);
    if (!text) return NULL;
    char *t = cm_truncate_response(text, strlen(text), opts);
    free(text);
    if (!t) return NULL;
    json_t *j = json_string(t);
    free(t);
    return j;
}
