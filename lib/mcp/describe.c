/* What a Code Mode MCP server tells the model, and how it answers.
 *
 * The `code` tool's description follows @cloudflare/codemode's codeMcpServer
 * (reference §2.7 and §3.1): a short instruction, the TypeScript
 * declarations of every upstream tool, three rules and an example built from
 * the first tool's parameters. Two corral additions: with one upstream the
 * description says its tools are also reachable under the upstream's own
 * name, and when the declarations of a large tool surface would not fit the
 * token budget it lists namespaces and tool names only and points to
 * codemode.search()/describe(), which hand out declarations on demand.
 *
 * Results are formatted as the reference's responseText does: strings as
 * they are (truncated), other values pretty-printed when they fit, and a
 * second text item with the console output, so a model can debug its own
 * program.
 */
#include "mcp/service.h"

#include <stdlib.h>
#include <string.h>

#include "codemode/codemode.h"

#define RESPONSE_MAX_CHARS 24000
#define CONSOLE_MAX_CHARS 24000

/* Arguments for the example line: every property of the first tool's input
 * schema as `key: 0`, `key: true` or `key: "..."`. */
static void example_args(cm_buf *b, const json_t *schema) {
    const json_t *props = json_is_object(schema) ? json_object_get(schema, "properties") : NULL;
    size_t n = 0;
    const char **keys = json_is_object(props) ? cm_js_keys(props, &n) : NULL;
    if (!n) {
        cm_buf_puts(b, "{}");
        free(keys);
        return;
    }
    cm_buf_puts(b, "{ ");
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_object_get(props, keys[i]);
        const char *type = json_string_value(json_object_get(p, "type"));
        if (i) cm_buf_puts(b, ", ");
        cm_buf_printf(b, "%s: ", keys[i]);
        if (type && (!strcmp(type, "number") || !strcmp(type, "integer"))) cm_buf_puts(b, "0");
        else if (type && !strcmp(type, "boolean")) cm_buf_puts(b, "true");
        else cm_buf_puts(b, "\"...\"");
    }
    cm_buf_puts(b, " }");
    free(keys);
}

static void rules(cm_buf *b) {
    cm_buf_puts(b,
                "Write an async arrow function in JavaScript that returns the result.\n"
                "Do NOT use TypeScript syntax: no type annotations, interfaces or generics.\n"
                "Do NOT define named functions and then call them: write the arrow function body "
                "directly.\n\n");
}

char *mcp_code_description(const struct mcp_surface *s, const char *extra) {
    cm_buf b = {0};
    cm_buf_puts(&b, "Execute code to achieve a goal.\n\nAvailable:\n");
    if (s->summary_only) {
        cm_buf_puts(&b, s->types);
        cm_buf_puts(&b,
                    "\nThe full declarations are too large to list here. Inside the program, "
                    "`await codemode.search(\"query\")` ranks the tools matching a query "
                    "({results: [{path, description, score}], total, truncated}) and "
                    "`await codemode.describe(\"ns.tool\")` returns one tool's TypeScript "
                    "declarations ({path, description, types}); describe(\"ns\") returns a whole "
                    "namespace.\n\n");
    } else {
        cm_buf_puts(&b, s->types);
        cm_buf_puts(&b, "\n\n");
    }
    if (s->alias) {
        cm_buf_printf(&b,
                      "The tools of the upstream \"%s\" are reachable as codemode.<tool> and "
                      "as %s.<tool>.\n\n",
                      s->alias, s->alias);
    }
    rules(&b);
    if (s->first_tool) {
        char *safe = cm_sanitize_tool_name(s->first_tool);
        cm_buf_printf(&b, "Example: async () => { const r = await %s.%s(", s->first_ns,
                      safe ? safe : "_");
        example_args(&b, s->first_schema);
        cm_buf_puts(&b, "); return r; }");
        free(safe);
    } else {
        cm_buf_puts(&b, "Example: async () => { return 1 + 1; }");
    }
    if (extra && *extra) cm_buf_printf(&b, "\n\n%s", extra);
    return cm_buf_take(&b);
}

json_t *mcp_code_input_schema(void) {
    return json_pack("{s:s, s:{s:{s:s, s:s}}, s:[s]}", "type", "object", "properties", "code",
                     "type", "string", "description", "JavaScript async arrow function to execute",
                     "required", "code");
}

static json_t *text_item(const char *text) {
    return json_pack("{s:s, s:s}", "type", "text", "text", text ? text : "");
}

/* responseText(): strings as they are, truncated; other values truncated
 * structurally, then pretty JSON when it fits, compact JSON otherwise. */
static char *response_text(const char *result_json) {
    if (!result_json) return strdup("undefined");
    json_error_t je;
    json_t *v = json_loads(result_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v) return strdup(result_json);
    cm_truncate_opts opts = {RESPONSE_MAX_CHARS, -1};
    char *out = NULL;
    if (json_is_string(v)) {
        out = cm_truncate_response(json_string_value(v), json_string_length(v), &opts);
    } else {
        json_t *t = cm_truncate_result(v, &opts);
        out = t ? cm_json_stringify(t, 2) : NULL;
        if (out && cm_utf16_len(out, strlen(out)) > RESPONSE_MAX_CHARS) {
            free(out);
            out = cm_json_stringify(t, 0);
        }
        json_decref(t);
    }
    json_decref(v);
    return out ? out : strdup(result_json);
}

static char *console_text(const char *const *logs, size_t n) {
    cm_buf b = {0};
    cm_buf_puts(&b, "Console output:");
    for (size_t i = 0; i < n; i++) {
        cm_buf_putc(&b, '\n');
        cm_buf_puts(&b, logs[i]);
    }
    char *all = cm_buf_take(&b);
    if (!all) return NULL;
    cm_truncate_opts opts = {CONSOLE_MAX_CHARS, -1};
    char *cut = cm_truncate_response(all, strlen(all), &opts);
    free(all);
    return cut;
}

json_t *mcp_call_result(const corral_exec_result *r) {
    json_t *content = json_array();
    json_t *out = json_pack("{s:o}", "content", content);
    if (!out) return NULL;
    char *text;
    if (r->error) {
        size_t n = strlen(r->error) + 8;
        text = malloc(n);
        if (text) snprintf(text, n, "Error: %s", r->error);
        json_object_set_new(out, "isError", json_true());
    } else {
        text = response_text(r->result_json);
    }
    json_array_append_new(content, text_item(text ? text : "Error: out of memory"));
    free(text);
    if (r->log_count) {
        char *c = console_text(r->logs, r->log_count);
        if (c) json_array_append_new(content, text_item(c));
        free(c);
    }
    return out;
}

json_t *mcp_unwrap_tool_result(json_t *result, char **error) {
    *error = NULL;
    json_t *v;
    if ((v = json_object_get(result, "toolResult"))) return json_incref(v);
    json_t *content = json_object_get(result, "content");
    int all_text = json_is_array(content) && json_array_size(content) > 0;
    cm_buf b = {0};
    size_t i;
    json_t *item;
    json_array_foreach(content, i, item) {
        const char *type = json_string_value(json_object_get(item, "type"));
        const char *text = json_string_value(json_object_get(item, "text"));
        if (!type || strcmp(type, "text") || !text) {
            all_text = 0;
            continue;
        }
        if (b.len) cm_buf_putc(&b, '\n');
        cm_buf_puts(&b, text);
    }
    char *joined = cm_buf_take(&b);
    if (json_is_true(json_object_get(result, "isError"))) {
        *error = joined && *joined ? joined : strdup("Tool call failed");
        if (joined && !*joined) free(joined);
        return NULL;
    }
    v = json_object_get(result, "structuredContent");
    if (v && !json_is_null(v)) {
        free(joined);
        return json_incref(v);
    }
    if (all_text && joined) {
        json_error_t je;
        json_t *parsed = json_loads(joined, JSON_DECODE_ANY, &je);
        if (parsed) {
            free(joined);
            return parsed;
        }
        json_t *s = json_string(joined);
        free(joined);
        return s ? s : json_string("");
    }
    free(joined);
    return json_incref(result);
}
