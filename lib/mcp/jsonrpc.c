/* JSON-RPC 2.0 framing and classification (see jsonrpc.h). Nothing here
 * does I/O or keeps state between calls except the line buffer, so the
 * fuzzer can drive every function directly. */
#include "mcp/jsonrpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int valid_id(const json_t *id) { return json_is_string(id) || json_is_integer(id); }

/* A string with no U+0000 inside (jansson keeps them with JSON_ALLOW_NUL). */
static const char *clean_string(const json_t *v) {
    if (!json_is_string(v)) return NULL;
    const char *s = json_string_value(v);
    return strlen(s) == json_string_length(v) ? s : NULL;
}

static jsonrpc_kind invalid(jsonrpc_msg *out, const char *why) {
    out->kind = JSONRPC_INVALID;
    out->error_code = JSONRPC_INVALID_REQUEST;
    out->error_text = why;
    out->method = NULL;
    out->params = NULL;
    return JSONRPC_INVALID;
}

jsonrpc_kind jsonrpc_classify(json_t *m, jsonrpc_msg *out) {
    memset(out, 0, sizeof *out);
    if (!json_is_object(m)) return invalid(out, "Invalid Request: a message must be a JSON object");
    json_t *id = json_object_get(m, "id");
    if (valid_id(id)) out->id = id;
    const char *version = clean_string(json_object_get(m, "jsonrpc"));
    if (!version || strcmp(version, "2.0") != 0)
        return invalid(out, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
    json_t *method = json_object_get(m, "method");
    if (method) {
        out->method = clean_string(method);
        if (!out->method) return invalid(out, "Invalid Request: \"method\" must be a string");
        json_t *params = json_object_get(m, "params");
        if (params && !json_is_object(params) && !json_is_array(params))
            return invalid(out, "Invalid Request: \"params\" must be an object or an array");
        out->params = params;
        if (!id) {
            out->kind = JSONRPC_NOTIFICATION;
            return out->kind;
        }
        if (!out->id) return invalid(out, "Invalid Request: \"id\" must be a string or an integer");
        out->kind = JSONRPC_REQUEST;
        return out->kind;
    }
    if (json_object_get(m, "result") || json_object_get(m, "error")) {
        out->kind = JSONRPC_RESPONSE;
        return out->kind;
    }
    return invalid(out, "Invalid Request: a message needs \"method\" (request) or \"result\"/\"error\" (response)");
}

int jsonrpc_blank(const char *text, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r' && text[i] != '\n') return 0;
    return 1;
}

json_t *jsonrpc_parse(const char *text, size_t len, char *err, size_t errlen) {
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v && err && errlen)
        snprintf(err, errlen, "Parse error: %s at line %d, column %d", je.text[0] ? je.text : "out of memory",
                 je.line, je.column);
    return v;
}

json_t *jsonrpc_error(json_t *id, int code, const char *message) {
    json_t *e = json_pack("{s:i,s:s}", "code", code, "message", message ? message : "");
    if (!e) return NULL;
    return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", e);
}

json_t *jsonrpc_result(json_t *id, json_t *result) {
    if (!result) result = json_object();
    if (!result) return NULL;
    return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "result", result);
}

json_t *jsonrpc_notification(const char *method, json_t *params) {
    if (params) return json_pack("{s:s,s:s,s:o}", "jsonrpc", "2.0", "method", method, "params", params);
    return json_pack("{s:s,s:s}", "jsonrpc", "2.0", "method", method);
}

char *jsonrpc_dump(const json_t *m, size_t *len) {
    char *s = json_dumps(m, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s && len) *len = strlen(s);
    return s;
}

void jsonrpc_lines_init(jsonrpc_lines *lb, size_t max) {
    memset(lb, 0, sizeof *lb);
    lb->max = max;
}

void jsonrpc_lines_free(jsonrpc_lines *lb) {
    free(lb->buf);
    memset(lb, 0, sizeof *lb);
}

static int append(jsonrpc_lines *lb, const char *p, size_t n) {
    if (lb->len + n > lb->cap) {
        size_t cap = lb->cap ? lb->cap : 4096;
        while (cap < lb->len + n) cap *= 2;
        char *b = realloc(lb->buf, cap);
        if (!b) return -1;
        lb->buf = b;
        lb->cap = cap;
    }
    memcpy(lb->buf + lb->len, p, n);
    lb->len += n;
    return 0;
}

static void deliver(const char *line, size_t len, jsonrpc_line_fn on_line, void *ud) {
    if (len && line[len - 1] == '\r') len--;
    on_line(ud, line, len);
}

/* After a long line, give back a buffer that grew past 1 MiB. */
static void reset(jsonrpc_lines *lb) {
    lb->len = 0;
    if (lb->cap > (1u << 20)) {
        free(lb->buf);
        lb->buf = NULL;
        lb->cap = 0;
    }
}

int jsonrpc_lines_feed(jsonrpc_lines *lb, const char *data, size_t n, jsonrpc_line_fn on_line, void *ud,
                       const int *stop) {
    while (n) {
        if (stop && *stop) return 0;
        const char *nl = memchr(data, '\n', n);
        size_t seg = nl ? (size_t)(nl - data) : n;
        if (lb->discarding) {
            lb->discarding += seg;
            if (!nl) return 0;
            size_t total = lb->discarding;
            lb->discarding = 0;
            on_line(ud, NULL, total);
        } else if (lb->len + seg > lb->max) {
            lb->discarding = lb->len + seg;
            reset(lb);
            if (!nl) return 0;
            size_t total = lb->discarding;
            lb->discarding = 0;
            on_line(ud, NULL, total);
        } else if (!nl) {
            if (append(lb, data, seg) < 0) {
                reset(lb);
                return -1;
            }
            return 0;
        } else if (lb->len == 0) {
            deliver(data, seg, on_line, ud);
        } else {
            if (append(lb, data, seg) < 0) {
                reset(lb);
                return -1;
            }
            /* on_line may not feed this buffer, so buf stays put while it runs. */
            deliver(lb->buf, lb->len, on_line, ud);
            reset(lb);
        }
        data += seg + 1;
        n -= seg + 1;
    }
    return 0;
}

void jsonrpc_lines_finish(jsonrpc_lines *lb, jsonrpc_line_fn on_line, void *ud) {
    if (lb->discarding) {
        size_t total = lb->discarding;
        lb->discarding = 0;
        on_line(ud, NULL, total);
    } else if (lb->len) {
        deliver(lb->buf, lb->len, on_line, ud);
        reset(lb);
    }
}
