/* OpenAPI mode, the configuration half (lib/mcp/openapi.h): reading and
 * checking the spec, the base URL and the configured headers, resolving
 * local $refs for codemode.spec(), and the two tools' descriptions.
 *
 * The spec is read once, at start-up, and kept as parsed; its resolved form
 * is built the first time a program calls codemode.spec() and kept too,
 * since every later program sees the same thing. Resolution copies each
 * $ref's target at each place it is used, which is what programs expect (a
 * mutation stays local) but which can grow exponentially on purpose-built
 * specs, so the copy counts the JSON size it produces and stops at the
 * caller's limit instead of after it.
 *
 * The headers carry credentials. Their values are expanded from the host's
 * environment here and never leave the host: the descriptions never mention
 * them, and the redactor built here is what the request path runs over
 * everything a server sends back.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mcp/errbuf.h"
#include "mcp/openapi_internal.h"

/* ---- the spec ------------------------------------------------------------ */

static int version_ok(const json_t *v) {
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        return (strncmp(s, "3.0", 3) == 0 || strncmp(s, "3.1", 3) == 0) && (s[3] == 0 || s[3] == '.');
    }
    /* `openapi: 3.1` unquoted in YAML is a number. */
    if (json_is_number(v)) {
        double d = json_number_value(v);
        return d == 3.0 || d == 3.1;
    }
    return 0;
}

json_t *mcp_openapi_parse(const char *data, size_t len, char *err, size_t errlen) {
    if (len > MCP_OPENAPI_MAX_SPEC_BYTES) {
        mcp_set_err(err, errlen, "OpenAPI spec: %zu bytes, more than the limit of %zu", len,
                (size_t)MCP_OPENAPI_MAX_SPEC_BYTES);
        return NULL;
    }
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) data += 3, len -= 3;
    size_t i = 0;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n')) i++;
    json_t *spec;
    if (i < len && data[i] == '{') {
        json_error_t je;
        spec = json_loadb(data, len, 0, &je);
        /* "{openapi: 3.0.0, ...}" is YAML's flow style, not JSON: when JSON
         * fails, YAML gets a try, but the JSON error is what is reported. */
        if (!spec) spec = mcp_openapi_yaml_parse(data, len, err, errlen);
        if (!spec) {
            mcp_set_err(err, errlen, "OpenAPI spec: invalid JSON at line %d, column %d: %s", je.line,
                    je.column, je.text);
            return NULL;
        }
    } else {
        spec = mcp_openapi_yaml_parse(data, len, err, errlen);
        if (!spec) return NULL;
    }
    const char *problem = NULL;
    if (!json_is_object(spec)) {
        problem = "OpenAPI spec: the top level is not a mapping (is this an OpenAPI document?)";
    } else {
        json_t *v = json_object_get(spec, "openapi");
        json_t *sw = json_object_get(spec, "swagger");
        if (!v && sw) {
            problem = "OpenAPI spec: this is Swagger 2.0; OpenAPI 3.0.x or 3.1.x is needed "
                      "(convert it first)";
        } else if (!v) {
            problem = "OpenAPI spec: no \"openapi\" field (is this an OpenAPI document?)";
        } else if (!version_ok(v)) {
            char *shown = json_dumps(v, JSON_ENCODE_ANY);
            mcp_set_err(err, errlen, "OpenAPI spec: \"openapi\" is %.60s; version 3.0.x or 3.1.x is needed",
                    shown ? shown : "?");
            free(shown);
            json_decref(spec);
            return NULL;
        } else if (!json_is_object(json_object_get(spec, "paths"))) {
            problem = "OpenAPI spec: no \"paths\" object";
        }
    }
    if (problem) {
        mcp_set_err(err, errlen, "%s", problem);
        json_decref(spec);
        return NULL;
    }
    return spec;
}

static char *read_spec(const char *path, size_t *len, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        mcp_set_err(err, errlen, "OpenAPI spec: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        mcp_set_err(err, errlen, "OpenAPI spec: %s is a directory", path);
        close(fd);
        return NULL;
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size > MCP_OPENAPI_MAX_SPEC_BYTES) {
        mcp_set_err(err, errlen, "OpenAPI spec: %s is %lld bytes, more than the limit of %zu", path,
                (long long)st.st_size, (size_t)MCP_OPENAPI_MAX_SPEC_BYTES);
        close(fd);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap > MCP_OPENAPI_MAX_SPEC_BYTES) {
                mcp_set_err(err, errlen, "OpenAPI spec: %s is more than the limit of %zu bytes", path,
                        (size_t)MCP_OPENAPI_MAX_SPEC_BYTES);
                free(buf);
                close(fd);
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            mcp_set_err(err, errlen, "OpenAPI spec: cannot read %s: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0) {
            close(fd);
            *len = n;
            return buf;
        }
        n += (size_t)r;
    }
    free(buf);
    close(fd);
    mcp_set_err(err, errlen, "OpenAPI spec: out of memory reading %s", path);
    return NULL;
}

/* ---- base URL ------------------------------------------------------------ */

static int parse_base(mcp_openapi *o, const char *url, char *err, size_t errlen) {
    size_t slen;
    if (!url) {
        mcp_set_err(err, errlen, "base URL: missing (--base-url http(s)://host[:port][/prefix])");
        return -1;
    }
    if (strncasecmp(url, "http://", 7) == 0) slen = 4;
    else if (strncasecmp(url, "https://", 8) == 0) slen = 5;
    else {
        mcp_set_err(err, errlen, "base URL \"%.200s\": must start with http:// or https://", url);
        return -1;
    }
    const char *auth = url + slen + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *path = auth + alen;
    if (memchr(auth, '@', alen)) {
        mcp_set_err(err, errlen, "base URL \"%.200s\": user info (user:password@) is not allowed; "
                "pass credentials with --header", url);
        return -1;
    }
    size_t hlen;
    if (alen && auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        hlen = close ? (size_t)(close - auth) + 1 : 0;
        for (size_t i = 1; hlen && i + 1 < hlen; i++)
            if (!isxdigit((unsigned char)auth[i]) && auth[i] != ':' && auth[i] != '.') hlen = 0;
    } else {
        hlen = 0;
        while (hlen < alen && (isalnum((unsigned char)auth[hlen]) || auth[hlen] == '.' ||
                               auth[hlen] == '-' || auth[hlen] == '_'))
            hlen++;
    }
    if (!hlen || hlen > 253) {
        mcp_set_err(err, errlen, "base URL \"%.200s\": the host is missing or not valid", url);
        return -1;
    }
    if (hlen < alen) {
        const char *p = auth + hlen;
        size_t plen = alen - hlen;
        long port = 0;
        int ok = p[0] == ':' && plen >= 2 && plen <= 6;
        for (size_t i = 1; ok && i < plen; i++) {
            if (!isdigit((unsigned char)p[i])) ok = 0;
            else port = port * 10 + (p[i] - '0');
        }
        if (!ok || port < 1 || port > 65535) {
            mcp_set_err(err, errlen, "base URL \"%.200s\": the port is not valid (1-65535)", url);
            return -1;
        }
    }
    for (const char *c = path; *c; c++) {
        if (*c == '?' || *c == '#') {
            mcp_set_err(err, errlen, "base URL \"%.200s\": a query or fragment is not allowed", url);
            return -1;
        }
        if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '\\') {
            mcp_set_err(err, errlen, "base URL \"%.200s\": the path holds a space, a control character "
                    "or a backslash", url);
            return -1;
        }
    }
    size_t plen = strlen(path);
    while (plen && path[plen - 1] == '/') plen--;
    for (size_t i = 0; i < plen;) {
        size_t j = i + 1;
        while (j < plen && path[j] != '/') j++;
        size_t seg = j - i - 1;
        if ((seg == 1 && path[i + 1] == '.') || (seg == 2 && path[i + 1] == '.' && path[i + 2] == '.')) {
            mcp_set_err(err, errlen, "base URL \"%.200s\": \".\" and \"..\" segments are not allowed", url);
            return -1;
        }
        i = j;
    }
    o->origin = malloc(slen + 3 + alen + 1);
    o->prefix = strndup(path, plen);
    o->base = malloc(slen + 3 + alen + plen + 1);
    if (!o->origin || !o->prefix || !o->base) {
        mcp_set_err(err, errlen, "out of memory");
        return -1;
    }
    memcpy(o->origin, url, slen + 3 + alen);
    o->origin[slen + 3 + alen] = 0;
    for (char *c = o->origin; *c; c++) *c = (char)tolower((unsigned char)*c);
    sprintf(o->base, "%s%s", o->origin, o->prefix);
    return 0;
}

/* ---- headers ------------------------------------------------------------- */

static int is_tchar(int c) {
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Expands ${VAR} from the environment. NULL with err set on an unset or
 * malformed reference. */
static char *expand(const char *name, const char *v, char *err, size_t errlen) {
    size_t cap = strlen(v) + 1, n = 0;
    char *out = malloc(cap);
    while (out && *v) {
        const char *add = v;
        size_t alen = 1;
        if (v[0] == '$' && v[1] == '{') {
            const char *end = strchr(v + 2, '}');
            size_t vlen = end ? (size_t)(end - v - 2) : 0;
            int ok = end && vlen && (isalpha((unsigned char)v[2]) || v[2] == '_');
            for (size_t i = 0; ok && i < vlen; i++)
                if (!isalnum((unsigned char)v[2 + i]) && v[2 + i] != '_') ok = 0;
            if (!ok) {
                mcp_set_err(err, errlen, "--header \"%.100s\": malformed ${...} (expected ${NAME} "
                        "with letters, digits and _)", name);
                free(out);
                return NULL;
            }
            char var[256];
            snprintf(var, sizeof var, "%.*s", (int)(vlen < 255 ? vlen : 255), v + 2);
            add = getenv(var);
            if (!add) {
                mcp_set_err(err, errlen, "--header \"%.100s\": environment variable %s is not set",
                        name, var);
                free(out);
                return NULL;
            }
            alen = strlen(add);
            v = end + 1;
        } else {
            v++;
        }
        if (n + alen + 1 > cap) {
            cap = (n + alen + 1) * 2;
            char *nb = realloc(out, cap);
            if (!nb) {
                free(out);
                out = NULL;
                break;
            }
            out = nb;
        }
        memcpy(out + n, add, alen);
        n += alen;
    }
    if (!out) {
        mcp_set_err(err, errlen, "out of memory");
        return NULL;
    }
    out[n] = 0;
    return out;
}

/* Values of these describe the request, not who makes it. */
static int header_is_public(const char *name) {
    static const char *const names[] = {"accept", "accept-language", "content-type", "user-agent",
                                        NULL};
    for (size_t i = 0; names[i]; i++)
        if (strcasecmp(name, names[i]) == 0) return 1;
    return 0;
}

static int add_secret(mcp_openapi_redactor *r, const char *s, size_t len) {
    for (size_t i = 0; i < r->n; i++)
        if (r->lens[i] == len && memcmp(r->secrets[i], s, len) == 0) return 0;
    char **ns = realloc(r->secrets, (r->n + 1) * sizeof *ns);
    if (!ns) return -1;
    r->secrets = ns;
    size_t *nl = realloc(r->lens, (r->n + 1) * sizeof *nl);
    if (!nl) return -1;
    r->lens = nl;
    char *copy = strndup(s, len);
    if (!copy) return -1;
    size_t at = 0; /* longest first */
    while (at < r->n && r->lens[at] >= len) at++;
    memmove(r->secrets + at + 1, r->secrets + at, (r->n - at) * sizeof *ns);
    memmove(r->lens + at + 1, r->lens + at, (r->n - at) * sizeof *nl);
    r->secrets[at] = copy;
    r->lens[at] = len;
    r->n++;
    return 0;
}

/* A secret as it is, percent-encoded, and JSON-escaped: the spellings in
 * which servers commonly echo what they were sent. */
static int add_secret_forms(mcp_openapi_redactor *r, const char *s, size_t len) {
    if (add_secret(r, s, len) < 0) return -1;
    char *pct = malloc(len * 3 + 1), *js = malloc(len * 6 + 1);
    if (!pct || !js) {
        free(pct);
        free(js);
        return -1;
    }
    size_t np = 0, nj = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || strchr("-._~", c)) pct[np++] = (char)c;
        else np += (size_t)sprintf(pct + np, "%%%02X", c);
        if (c == '"' || c == '\\' || c == '/') {
            js[nj++] = '\\';
            js[nj++] = (char)c;
        } else if (c < 0x20) {
            nj += (size_t)sprintf(js + nj, "\\u%04x", c);
        } else {
            js[nj++] = (char)c;
        }
    }
    int rc = 0;
    if (np != len || memcmp(pct, s, len) != 0) rc |= add_secret(r, pct, np);
    if (nj != len || memcmp(js, s, len) != 0) rc |= add_secret(r, js, nj);
    free(pct);
    free(js);
    return rc;
}

static int parse_headers(mcp_openapi *o, const char *const *headers, size_t n, char *err,
                         size_t errlen) {
    o->headers = calloc(n ? n : 1, sizeof *o->headers);
    if (!o->headers) {
        mcp_set_err(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *h = headers[i], *colon = strchr(h, ':');
        size_t nlen = colon ? (size_t)(colon - h) : 0;
        while (nlen && (h[nlen - 1] == ' ' || h[nlen - 1] == '\t')) nlen--;
        int ok = nlen > 0 && nlen < 256;
        for (size_t k = 0; ok && k < nlen; k++)
            if (!is_tchar((unsigned char)h[k])) ok = 0;
        if (!ok) {
            mcp_set_err(err, errlen, "--header \"%.100s\": expected \"Name: value\" with a valid name", h);
            return -1;
        }
        char *name = strndup(h, nlen);
        if (!name) {
            mcp_set_err(err, errlen, "out of memory");
            return -1;
        }
        o->headers[o->n_headers].name = name;
        o->n_headers++;
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        char *value = expand(name, v, err, errlen);
        if (!value) return -1;
        o->headers[o->n_headers - 1].value = value;
        size_t vlen = strlen(value);
        while (vlen && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t')) value[--vlen] = 0;
        for (size_t k = 0; k < vlen; k++) {
            unsigned char c = (unsigned char)value[k];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                mcp_set_err(err, errlen, "--header \"%s\": the value holds a control character "
                        "(line break?)", name);
                return -1;
            }
        }
        if (header_is_public(name)) continue;
        if (vlen >= 4 && add_secret_forms(&o->red, value, vlen) < 0) goto oom;
        for (size_t k = 0; k < vlen;) {
            while (k < vlen && (value[k] == ' ' || value[k] == '\t')) k++;
            size_t start = k;
            while (k < vlen && value[k] != ' ' && value[k] != '\t') k++;
            if (k - start >= 8 && add_secret_forms(&o->red, value + start, k - start) < 0) goto oom;
        }
    }
    return 0;
oom:
    mcp_set_err(err, errlen, "out of memory");
    return -1;
}

/* ---- life cycle ---------------------------------------------------------- */

void mcp_openapi_limits_default(mcp_openapi_limits *l) {
    l->timeout_ms = 60000;
    l->connect_timeout_ms = 15000;
    l->max_body = (size_t)32 << 20;
    l->max_request_body = (size_t)32 << 20;
    l->max_redirects = 5;
}

void mcp_openapi_set_limits(mcp_openapi *o, const mcp_openapi_limits *l) { o->lim = *l; }

mcp_openapi *mcp_openapi_new_from_memory(const char *data, size_t len, const char *base_url,
                                         const char *const *headers, size_t n_headers,
                                         char *err, size_t errlen) {
    mcp_openapi *o = calloc(1, sizeof *o);
    if (!o) {
        mcp_set_err(err, errlen, "out of memory");
        return NULL;
    }
    mcp_openapi_limits_default(&o->lim);
    if (parse_base(o, base_url, err, errlen) < 0 ||
        parse_headers(o, headers, n_headers, err, errlen) < 0 ||
        !(o->spec = mcp_openapi_parse(data, len, err, errlen))) {
        mcp_openapi_free(o);
        return NULL;
    }
    return o;
}

mcp_openapi *mcp_openapi_new(const char *spec_path, const char *base_url,
                             const char *const *headers, size_t n_headers, char *err,
                             size_t errlen) {
    size_t len;
    char *data = read_spec(spec_path, &len, err, errlen);
    if (!data) return NULL;
    mcp_openapi *o =
        mcp_openapi_new_from_memory(data, len, base_url, headers, n_headers, err, errlen);
    free(data);
    return o;
}

void mcp_openapi_free(mcp_openapi *o) {
    if (!o) return;
    mcp_openapi_pool_free(o->pool);
    json_decref(o->spec);
    json_decref(o->resolved);
    free(o->base);
    free(o->origin);
    free(o->prefix);
    for (size_t i = 0; i < o->n_headers; i++) {
        if (o->headers[i].value) explicit_bzero(o->headers[i].value, strlen(o->headers[i].value));
        free(o->headers[i].name);
        free(o->headers[i].value);
    }
    free(o->headers);
    mcp_openapi_redactor_free(&o->red);
    free(o);
}

void mcp_openapi_redactor_free(mcp_openapi_redactor *r) {
    for (size_t i = 0; i < r->n; i++) {
        explicit_bzero(r->secrets[i], r->lens[i]);
        free(r->secrets[i]);
    }
    free(r->secrets);
    free(r->lens);
    memset(r, 0, sizeof *r);
}

const json_t *mcp_openapi_spec(const mcp_openapi *o) { return o->spec; }

/* ---- $ref resolution ----------------------------------------------------- */

struct rctx {
    const json_t *root;
    const json_t **stack; /* targets being resolved, for cycle detection */
    size_t n, cap;
    size_t used, max;
    int depth, failed;
    char *err;
    size_t errlen;
};

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The node a local ref ("#/a/b~1c") names, or NULL. */
static const json_t *pointer_target(const json_t *root, const char *ref) {
    size_t len = strlen(ref + 1);
    char *frag = malloc(len + 1);
    if (!frag) return NULL;
    size_t n = 0;
    for (const char *s = ref + 1; *s; s++) {
        if (*s == '%') {
            int h = hexval((unsigned char)s[1]), l = h < 0 ? -1 : hexval((unsigned char)s[2]);
            if (l < 0) {
                free(frag);
                return NULL;
            }
            frag[n++] = (char)(h * 16 + l);
            s += 2;
        } else {
            frag[n++] = *s;
        }
    }
    const json_t *cur = root;
    if (n && frag[0] != '/') cur = NULL; /* "#name" anchors are not pointers */
    size_t i = 1;
    while (cur && i <= n && n) {
        char *tok = malloc(n + 1);
        if (!tok) {
            cur = NULL;
            break;
        }
        size_t t = 0;
        while (i < n && frag[i] != '/') {
            if (frag[i] == '~') {
                if (i + 1 < n && frag[i + 1] == '0') tok[t++] = '~';
                else if (i + 1 < n && frag[i + 1] == '1') tok[t++] = '/';
                else {
                    t = (size_t)-1;
                    break;
                }
                i += 2;
            } else {
                tok[t++] = frag[i++];
            }
        }
        if (t == (size_t)-1) {
            cur = NULL;
        } else if (json_is_object(cur)) {
            cur = json_object_getn(cur, tok, t);
        } else if (json_is_array(cur)) {
            size_t idx = 0;
            int ok = t > 0 && t < 10 && !(t > 1 && tok[0] == '0');
            for (size_t k = 0; ok && k < t; k++) {
                if (tok[k] < '0' || tok[k] > '9') ok = 0;
                else idx = idx * 10 + (size_t)(tok[k] - '0');
            }
            cur = ok ? json_array_get(cur, idx) : NULL;
        } else {
            cur = NULL;
        }
        free(tok);
        i++; /* past the '/' */
    }
    free(frag);
    return cur;
}

static int charge(struct rctx *c, size_t bytes) {
    c->used += bytes;
    if (c->used > c->max && !c->failed) {
        c->failed = 1;
        mcp_set_err(c->err, c->errlen, "OpenAPI spec: the resolved spec is larger than %zu bytes "
                "(limit on the resolved spec's size)", c->max);
    }
    return c->failed ? -1 : 0;
}

/* A fresh copy of v with local refs resolved (raw: as it is). *omit is set
 * when v is a ref to nothing. */
static json_t *rcopy(struct rctx *c, const json_t *v, int raw, int *omit) {
    *omit = 0;
    if (c->failed) return NULL;
    if (++c->depth > MCP_OPENAPI_MAX_DEPTH) {
        c->failed = 1;
        mcp_set_err(c->err, c->errlen, "OpenAPI spec: the resolved spec nests deeper than %d levels",
                MCP_OPENAPI_MAX_DEPTH);
        c->depth--;
        return NULL;
    }
    json_t *out = NULL;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        json_t *ref = raw ? NULL : json_object_get(v, "$ref");
        if (json_is_string(ref)) {
            const char *rs = json_string_value(ref);
            if (rs[0] != '#') {
                out = rcopy(c, v, 1, omit);
                break;
            }
            const json_t *target = pointer_target(c->root, rs);
            if (!target) {
                *omit = 1;
                break;
            }
            for (size_t i = 0; i < c->n; i++) {
                if (c->stack[i] == target) {
                    if (charge(c, json_string_length(ref) + 16) == 0)
                        out = json_pack("{s:O}", "$circular", ref);
                    goto done;
                }
            }
            if (c->n == c->cap) {
                size_t ncap = c->cap ? c->cap * 2 : 32;
                const json_t **ns = realloc(c->stack, ncap * sizeof *ns);
                if (!ns) break;
                c->stack = ns;
                c->cap = ncap;
            }
            c->stack[c->n++] = target;
            out = rcopy(c, target, 0, omit);
            c->n--;
            break;
        }
        out = json_object();
        if (!out || charge(c, 2) < 0) break;
        const char *k;
        size_t klen;
        json_t *child;
        json_object_keylen_foreach((json_t *)v, k, klen, child) {
            int skip;
            json_t *cc = rcopy(c, child, raw, &skip);
            if (skip) continue;
            if (cc && charge(c, klen + 4) < 0) {
                json_decref(cc);
                cc = NULL;
            }
            if (!cc || json_object_setn_new_nocheck(out, k, klen, cc) < 0) {
                json_decref(out);
                out = NULL;
                break;
            }
        }
        break;
    }
    case JSON_ARRAY: {
        out = json_array();
        if (!out || charge(c, 2) < 0) break;
        for (size_t i = 0; i < json_array_size(v); i++) {
            int skip;
            json_t *cc = rcopy(c, json_array_get(v, i), raw, &skip);
            if (skip) cc = json_null();
            if (cc && charge(c, 1) < 0) {
                json_decref(cc);
                cc = NULL;
            }
            if (!cc || json_array_append_new(out, cc) < 0) {
                json_decref(out);
                out = NULL;
                break;
            }
        }
        break;
    }
    case JSON_STRING:
        if (charge(c, json_string_length(v) + 2) == 0)
            out = json_stringn_nocheck(json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        if (charge(c, 20) == 0) out = json_integer(json_integer_value(v));
        break;
    case JSON_REAL:
        if (charge(c, 24) == 0) out = json_real(json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        if (charge(c, 5) == 0) out = json_incref((json_t *)v);
        break;
    }
done:
    c->depth--;
    if (!out && !*omit && !c->failed) {
        c->failed = 1;
        mcp_set_err(c->err, c->errlen, "OpenAPI spec: out of memory resolving $refs");
    }
    if (c->failed) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *mcp_openapi_resolve(const json_t *spec, size_t max_bytes, char *err, size_t errlen) {
    struct rctx c = {.root = spec, .max = max_bytes, .err = err, .errlen = errlen};
    int omit;
    json_t *out = rcopy(&c, spec, 0, &omit);
    free(c.stack);
    if (omit) return json_null();
    return out;
}

const json_t *mcp_openapi_resolved(mcp_openapi *o, size_t max_bytes, char *err, size_t errlen) {
    if (!o->resolved) o->resolved = mcp_openapi_resolve(o->spec, max_bytes, err, errlen);
    return o->resolved;
}

/* ---- descriptions -------------------------------------------------------- */

/* Both texts are fixed: the model reads the spec through search, so their
 * size does not grow with the API (the benchmark holds them to 800 tokens
 * together). */
static const char search_text[] =
    "Search this API's OpenAPI spec by writing JavaScript: an async arrow function, run in a "
    "sandbox, whose return value you see. codemode.spec() gives the whole spec with local $refs "
    "inlined (a cycle shows as {$circular: ref}). Return only what you need, never the whole "
    "spec.\n\n"
    "declare const codemode: { spec(): Promise<OpenApiSpec> };\n"
    "interface OpenApiSpec { info: { title: string; version: string }; paths: Record<string, "
    "PathItem>; components?: Record<string, unknown> }\n"
    "type PathItem = Record<string, Operation>; // keys: get, post, put, patch, delete, parameters\n"
    "interface Operation { operationId?: string; summary?: string; description?: string; tags?: "
    "string[]; parameters?: { name: string; in: \"path\" | \"query\" | \"header\"; required?: "
    "boolean; schema?: unknown }[]; requestBody?: { content: Record<string, { schema?: unknown }> "
    "}; responses?: Record<string, unknown> }\n\n"
    "Examples:\n"
    "async () => Object.keys((await codemode.spec()).paths)\n"
    "async () => {\n"
    "  const spec = await codemode.spec(), hits = [];\n"
    "  for (const [path, item] of Object.entries(spec.paths))\n"
    "    for (const [method, op] of Object.entries(item))\n"
    "      if (op.tags?.includes(\"users\")) hits.push({ method: method.toUpperCase(), path, "
    "summary: op.summary });\n"
    "  return hits;\n"
    "}";

static const char execute_text[] =
    "Call this API by writing JavaScript: an async arrow function, run in a sandbox, whose return "
    "value you see. Use the search tool first to find paths and parameters. Credentials are added "
    "outside the sandbox; do not send any. Paths are relative to the API's base URL.\n"
    "request() resolves to the response body (parsed JSON, else text; {$bytes: base64} with "
    "rawBody), or {status, headers, body} with fullResponse. A non-2xx status throws an Error "
    "with .status set. codemode.spec() works as in search.\n\n"
    "declare const codemode: { spec(): Promise<OpenApiSpec>; request(o: RequestOptions): "
    "Promise<unknown> };\n"
    "interface RequestOptions { method: \"GET\" | \"POST\" | \"PUT\" | \"PATCH\" | \"DELETE\"; "
    "path: string; query?: Record<string, string | number | boolean | undefined>; body?: unknown; "
    "headers?: Record<string, string>; contentType?: string; rawBody?: boolean; fullResponse?: "
    "boolean }\n\n"
    "Example:\n"
    "async () => {\n"
    "  const list = await codemode.request({ method: \"GET\", path: \"/your/endpoint\", query: "
    "{ limit: 10 } });\n"
    "  return list;\n"
    "}";

char *mcp_openapi_search_description(void) { return strdup(search_text); }

char *mcp_openapi_execute_description(const char *extra) {
    if (!extra || !*extra) return strdup(execute_text);
    size_t n = sizeof execute_text + 2 + strlen(extra);
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s\n\n%s", execute_text, extra);
    return s;
}
