/* lib/mcp/mcpconfig.c — how upstreams are named on the command line and in
 * "mcpServers" files, turned into mcp_upstream_spec values.
 *
 * `--upstream NAME=COMMAND` takes one string, so the command has to be split
 * into words. People paste commands they would type into a shell, so the
 * splitting follows the POSIX shell's quoting rules exactly (quotes and
 * backslashes), but nothing is expanded and no shell ever runs: `$HOME` and
 * `*` stay literal, and unquoted operators such as `|` are refused with an
 * error that says why, instead of silently becoming arguments.
 *
 * The file format is the one Claude Desktop and Cursor use. Fields we do not
 * know are ignored so that files written for those clients load unchanged;
 * fields we do know are checked strictly, and every error names the file,
 * the server and the field.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "mcp/errbuf.h"
#include "mcp/upstream.h"

#define MAX_NAME 128
#define MAX_CONFIG_BYTES (16u * 1024u * 1024u)

static void free_strv(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void mcp_upstream_spec_clear(mcp_upstream_spec *s) {
    if (!s) return;
    free(s->name);
    free_strv(s->argv, s->argc);
    free_strv(s->env, s->envc);
    free(s->url);
    free_strv(s->headers, s->headerc);
    memset(s, 0, sizeof *s);
}

/* Appends a string to a NULL-terminated vector (kept NULL-terminated so argv
 * can go straight to exec). */
static int strv_push(char ***v, size_t *n, char *s) {
    char **nv = realloc(*v, (*n + 2) * sizeof *nv);
    if (!nv) return -1;
    nv[(*n)++] = s;
    nv[*n] = NULL;
    *v = nv;
    return 0;
}

/* A growing word buffer for the splitter. */
struct word {
    char *p;
    size_t len, cap;
    int started; /* "" is a word when it was quoted */
};

static int word_add(struct word *w, char c) {
    if (w->len + 2 > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 32;
        char *p = realloc(w->p, cap);
        if (!p) return -1;
        w->p = p;
        w->cap = cap;
    }
    w->p[w->len++] = c;
    w->p[w->len] = '\0';
    w->started = 1;
    return 0;
}

static int word_end(struct word *w, char ***argv, size_t *argc) {
    if (!w->started) return 0;
    char *s = w->p ? w->p : strdup("");
    if (!s || strv_push(argv, argc, s) < 0) {
        free(s);
        w->p = NULL;
        return -1;
    }
    *w = (struct word){0};
    return 0;
}

/* Splits cmd into words (see the file comment). Returns 0 or -1 with err. */
static int shell_split(const char *cmd, char ***argv, size_t *argc, char *err, size_t errlen) {
    struct word w = {0};
    const char *p = cmd;
    while (*p) {
        char c = *p;
        if (c == ' ' || c == '\t' || c == '\n') {
            if (word_end(&w, argv, argc) < 0) goto oom;
            p++;
        } else if (c == '\\') {
            if (!p[1]) {
                mcp_set_err(err, errlen, "command ends with a lone backslash");
                goto fail;
            }
            /* Backslash-newline is a line continuation: both vanish. */
            if (p[1] != '\n' && word_add(&w, p[1]) < 0) goto oom;
            p += 2;
        } else if (c == '\'') {
            const char *q = strchr(p + 1, '\'');
            if (!q) {
                mcp_set_err(err, errlen, "unterminated single quote in command (opened at offset %zu)",
                        (size_t)(p - cmd));
                goto fail;
            }
            w.started = 1;
            for (const char *s = p + 1; s < q; s++)
                if (word_add(&w, *s) < 0) goto oom;
            p = q + 1;
        } else if (c == '"') {
            size_t open = (size_t)(p - cmd);
            p++;
            w.started = 1;
            for (;;) {
                if (!*p) {
                    mcp_set_err(err, errlen, "unterminated double quote in command (opened at offset %zu)",
                            open);
                    goto fail;
                }
                if (*p == '"') break;
                if (*p == '\\' && p[1] && strchr("$`\"\\\n", p[1])) {
                    if (p[1] != '\n' && word_add(&w, p[1]) < 0) goto oom;
                    p += 2;
                    continue;
                }
                if (word_add(&w, *p) < 0) goto oom;
                p++;
            }
            p++;
        } else if (strchr("|&;<>()", c)) {
            mcp_set_err(err, errlen,
                    "unquoted '%c' in command at offset %zu: the command runs directly, not through a "
                    "shell; quote it to pass it as an argument",
                    c, (size_t)(p - cmd));
            goto fail;
        } else {
            if (word_add(&w, c) < 0) goto oom;
            p++;
        }
    }
    if (word_end(&w, argv, argc) < 0) goto oom;
    if (*argc == 0) {
        mcp_set_err(err, errlen, "empty command");
        return -1;
    }
    return 0;
oom:
    mcp_set_err(err, errlen, "out of memory");
fail:
    free(w.p);
    return -1;
}

static int check_name(const char *name, size_t len, char *err, size_t errlen) {
    if (len == 0) {
        mcp_set_err(err, errlen, "empty upstream name");
        return -1;
    }
    if (len > MAX_NAME) {
        mcp_set_err(err, errlen, "upstream name is %zu bytes long, limit %d", len, MAX_NAME);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) {
            mcp_set_err(err, errlen, "upstream name contains a control character at offset %zu", i);
            return -1;
        }
    }
    return 0;
}

static int is_http_url(const char *s) {
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

int mcp_upstream_spec_parse(const char *arg, mcp_upstream_spec *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    const char *eq = strchr(arg, '=');
    if (!eq) {
        mcp_set_err(err, errlen, "--upstream \"%s\": expected NAME=COMMAND or NAME=URL", arg);
        return -1;
    }
    char msg[256];
    if (check_name(arg, (size_t)(eq - arg), msg, sizeof msg) < 0) {
        mcp_set_err(err, errlen, "--upstream: %s", msg);
        return -1;
    }
    out->name = strndup(arg, (size_t)(eq - arg));
    if (!out->name) goto oom;
    const char *val = eq + 1;
    while (*val == ' ' || *val == '\t') val++;
    if (is_http_url(val)) {
        size_t n = strlen(val);
        while (n && (val[n - 1] == ' ' || val[n - 1] == '\t' || val[n - 1] == '\n')) n--;
        for (size_t i = 0; i < n; i++) {
            if ((unsigned char)val[i] <= 0x20 || val[i] == 0x7f) {
                mcp_set_err(err, errlen, "--upstream %s: URL contains a space or control character", out->name);
                goto fail;
            }
        }
        out->url = strndup(val, n);
        if (!out->url) goto oom;
        return 0;
    }
    if (shell_split(val, &out->argv, &out->argc, msg, sizeof msg) < 0) {
        mcp_set_err(err, errlen, "--upstream %s: %s", out->name, msg);
        goto fail;
    }
    return 0;
oom:
    mcp_set_err(err, errlen, "out of memory");
fail:
    mcp_upstream_spec_clear(out);
    return -1;
}

/* ---- mcpServers files ---------------------------------------------------- */

/* Copies an object of strings into "K<sep>V" entries. */
static int object_pairs(json_t *obj, const char *sep, char ***v, size_t *n, const char *file,
                        const char *server, const char *field, char *err, size_t errlen) {
    if (!json_is_object(obj)) {
        mcp_set_err(err, errlen, "%s: server \"%s\": \"%s\" must be an object of strings", file, server,
                field);
        return -1;
    }
    const char *k;
    json_t *val;
    json_object_foreach(obj, k, val) {
        if (!json_is_string(val)) {
            mcp_set_err(err, errlen, "%s: server \"%s\": \"%s\".\"%s\" must be a string", file, server,
                    field, k);
            return -1;
        }
        if (!*k || (sep[0] == '=' && strchr(k, '=')) || (sep[0] == ':' && strpbrk(k, ":\r\n "))) {
            mcp_set_err(err, errlen, "%s: server \"%s\": \"%s\" has an invalid name \"%s\"", file, server,
                    field, k);
            return -1;
        }
        if (sep[0] == ':' && strpbrk(json_string_value(val), "\r\n")) {
            mcp_set_err(err, errlen, "%s: server \"%s\": \"%s\".\"%s\" contains a line break", file,
                    server, field, k);
            return -1;
        }
        char *s;
        if (asprintf(&s, "%s%s%s", k, sep, json_string_value(val)) < 0) goto oom;
        if (strv_push(v, n, s) < 0) {
            free(s);
            goto oom;
        }
    }
    return 0;
oom:
    mcp_set_err(err, errlen, "out of memory");
    return -1;
}

static int load_server(const char *file, const char *name, json_t *e, mcp_upstream_spec *s,
                       char *err, size_t errlen) {
    char msg[256];
    if (check_name(name, strlen(name), msg, sizeof msg) < 0) {
        mcp_set_err(err, errlen, "%s: server \"%s\": %s", file, name, msg);
        return -1;
    }
    if (!json_is_object(e)) {
        mcp_set_err(err, errlen, "%s: server \"%s\" must be an object", file, name);
        return -1;
    }
    s->name = strdup(name);
    if (!s->name) goto oom;
    json_t *type = json_object_get(e, "type"), *command = json_object_get(e, "command"),
           *args = json_object_get(e, "args"), *env = json_object_get(e, "env"),
           *url = json_object_get(e, "url"), *headers = json_object_get(e, "headers");
    int want_http = -1;
    if (type) {
        const char *t = json_string_value(type);
        if (!t) {
            mcp_set_err(err, errlen, "%s: server \"%s\": \"type\" must be a string", file, name);
            return -1;
        }
        if (strcmp(t, "stdio") == 0) want_http = 0;
        else if (strcmp(t, "http") == 0 || strcmp(t, "streamable-http") == 0 ||
                 strcmp(t, "streamableHttp") == 0)
            want_http = 1;
        else if (strcmp(t, "sse") == 0) {
            mcp_set_err(err, errlen,
                    "%s: server \"%s\": \"type\": \"sse\" (the old HTTP+SSE transport) is not "
                    "supported; use a streamable HTTP URL",
                    file, name);
            return -1;
        } else {
            mcp_set_err(err, errlen,
                    "%s: server \"%s\": unknown \"type\" \"%s\" (expected stdio, http or "
                    "streamable-http)",
                    file, name, t);
            return -1;
        }
    }
    if (command && url) {
        mcp_set_err(err, errlen, "%s: server \"%s\" has both \"command\" and \"url\"; give one", file, name);
        return -1;
    }
    if (!command && !url) {
        mcp_set_err(err, errlen, "%s: server \"%s\" needs \"command\" (stdio) or \"url\" (HTTP)", file, name);
        return -1;
    }
    if (url) {
        if (want_http == 0) {
            mcp_set_err(err, errlen, "%s: server \"%s\": \"type\" is \"stdio\" but it has a \"url\"", file,
                    name);
            return -1;
        }
        const char *u = json_string_value(url);
        if (!u || !is_http_url(u)) {
            mcp_set_err(err, errlen, "%s: server \"%s\": \"url\" must be a string starting with http:// or https://",
                    file, name);
            return -1;
        }
        for (const char *c = u; *c; c++) {
            if ((unsigned char)*c <= 0x20 || *c == 0x7f) {
                mcp_set_err(err, errlen, "%s: server \"%s\": \"url\" contains a space or control character",
                        file, name);
                return -1;
            }
        }
        if (!(s->url = strdup(u))) goto oom;
        if (headers && object_pairs(headers, ": ", &s->headers, &s->headerc, file, name, "headers",
                                    err, errlen) < 0)
            return -1;
        return 0;
    }
    if (want_http == 1) {
        mcp_set_err(err, errlen, "%s: server \"%s\": \"type\" is HTTP but it has a \"command\"", file, name);
        return -1;
    }
    const char *c = json_string_value(command);
    if (!c || !*c) {
        mcp_set_err(err, errlen, "%s: server \"%s\": \"command\" must be a non-empty string", file, name);
        return -1;
    }
    char *dup = strdup(c);
    if (!dup || strv_push(&s->argv, &s->argc, dup) < 0) {
        free(dup);
        goto oom;
    }
    if (args) {
        if (!json_is_array(args)) {
            mcp_set_err(err, errlen, "%s: server \"%s\": \"args\" must be an array of strings", file, name);
            return -1;
        }
        size_t i;
        json_t *a;
        json_array_foreach(args, i, a) {
            if (!json_is_string(a)) {
                mcp_set_err(err, errlen, "%s: server \"%s\": \"args\"[%zu] must be a string", file, name, i);
                return -1;
            }
            dup = strdup(json_string_value(a));
            if (!dup || strv_push(&s->argv, &s->argc, dup) < 0) {
                free(dup);
                goto oom;
            }
        }
    }
    if (env && object_pairs(env, "=", &s->env, &s->envc, file, name, "env", err, errlen) < 0) return -1;
    return 0;
oom:
    mcp_set_err(err, errlen, "out of memory");
    return -1;
}

int mcp_config_load(const char *path, mcp_upstream_spec **specs, size_t *count, char *err,
                    size_t errlen) {
    *specs = NULL;
    *count = 0;
    struct stat st;
    if (stat(path, &st) < 0) {
        mcp_set_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        mcp_set_err(err, errlen, "%s: is a directory", path);
        return -1;
    }
    if ((uint64_t)st.st_size > MAX_CONFIG_BYTES) {
        mcp_set_err(err, errlen, "%s: %lld bytes, limit %u", path, (long long)st.st_size, MAX_CONFIG_BYTES);
        return -1;
    }
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        mcp_set_err(err, errlen, "%s: line %d column %d: %s", path, je.line, je.column, je.text);
        return -1;
    }
    int rc = -1;
    json_t *servers = json_object_get(root, "mcpServers");
    if (!json_is_object(root) || !servers) {
        mcp_set_err(err, errlen, "%s: expected an object with a \"mcpServers\" field", path);
        goto out;
    }
    if (!json_is_object(servers)) {
        mcp_set_err(err, errlen, "%s: \"mcpServers\" must be an object of servers", path);
        goto out;
    }
    size_t n = json_object_size(servers);
    mcp_upstream_spec *v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        mcp_set_err(err, errlen, "out of memory");
        goto out;
    }
    size_t i = 0;
    const char *name;
    json_t *e;
    json_object_foreach(servers, name, e) {
        if (load_server(path, name, e, &v[i], err, errlen) < 0) {
            for (size_t j = 0; j <= i; j++) mcp_upstream_spec_clear(&v[j]);
            free(v);
            goto out;
        }
        i++;
    }
    *specs = v;
    *count = n;
    rc = 0;
out:
    json_decref(root);
    return rc;
}
