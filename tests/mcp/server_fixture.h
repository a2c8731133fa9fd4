/* What tests/mcp/test_server.c and test_server_http.c share: a fake tool
 * host for lib/mcp/server.h and small JSON helpers.
 *
 * The host's tools:
 *   echo      finishes at once; the text is the arguments printed as JSON
 *   later     finishes after arguments.ms (default 20) from a reactor timer
 *   hold      never finishes by itself; cancel_tool finishes it on the spot
 *   progress  reports progress twice and logs at four levels, then finishes
 *             after 10 ms
 *   fail      mcp_call_fail -32602 "Unknown tool: fail"
 *   null      finishes with NULL (the server answers -32603)
 *   big       text of arguments.bytes 'x' characters
 */
#ifndef CORRAL_TESTS_MCP_SERVER_FIXTURE_H
#define CORRAL_TESTS_MCP_SERVER_FIXTURE_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/server.h"
#include "net/reactor.h"

struct timer_ctx;

struct host {
    net_reactor *r;
    struct timer_ctx *timers; /* pending finish_after timers */
    int closes, cancels, calls, list_fails, timers_pending, stop_on_close;
    int last_has_progress;
    mcp_call *held[16];
    int n_held;
};

static json_t *text_result(const char *text) {
    return json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", text);
}

static json_t *host_list(void *ud) {
    struct host *h = ud;
    if (h->list_fails) return NULL;
    return json_pack("[{s:s,s:s,s:{s:s}},{s:s,s:{s:s}}]", "name", "echo", "description", "Echoes its arguments",
                     "inputSchema", "type", "object", "name", "later", "inputSchema", "type", "object");
}

struct timer_ctx {
    struct host *h;
    mcp_call *c;
    const char *text;
    uint64_t id;
    struct timer_ctx *next;
};

static void host_timer_fire(net_reactor *r, void *ud) {
    struct timer_ctx *t = ud;
    for (struct timer_ctx **p = &t->h->timers; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    t->h->timers_pending--;
    mcp_call_finish(t->c, text_result(t->text));
    free(t);
}

static void finish_after(struct host *h, mcp_call *c, unsigned ms, const char *text) {
    struct timer_ctx *t = malloc(sizeof *t);
    *t = (struct timer_ctx){h, c, text, 0, h->timers};
    h->timers = t;
    h->timers_pending++;
    t->id = net_reactor_timer(h->r, ms, host_timer_fire, t);
}

static void host_call(mcp_call *c, const char *name, json_t *args, void *ud) {
    struct host *h = ud;
    h->calls++;
    h->last_has_progress = mcp_call_has_progress(c);
    if (strcmp(name, "echo") == 0) {
        char *t = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
        mcp_call_finish(c, text_result(t));
        free(t);
    } else if (strcmp(name, "later") == 0) {
        json_t *ms = json_object_get(args, "ms");
        finish_after(h, c, ms ? (unsigned)json_integer_value(ms) : 20, "done later");
    } else if (strcmp(name, "hold") == 0) {
        if (h->n_held < 16) h->held[h->n_held++] = c;
    } else if (strcmp(name, "progress") == 0) {
        mcp_call_progress(c, "starting");
        mcp_call_progress(c, NULL);
        mcp_call_log(c, "debug", "a debug line");
        mcp_call_log(c, "info", "an info line");
        mcp_call_log(c, "warning", "a warning line");
        mcp_call_log(c, "error", "an error line");
        finish_after(h, c, 10, "progressed");
    } else if (strcmp(name, "fail") == 0) {
        mcp_call_fail(c, JSONRPC_INVALID_PARAMS, "Unknown tool: fail");
    } else if (strcmp(name, "null") == 0) {
        mcp_call_finish(c, NULL);
    } else if (strcmp(name, "big") == 0) {
        size_t n = (size_t)json_integer_value(json_object_get(args, "bytes"));
        char *t = malloc(n + 1);
        memset(t, 'x', n);
        t[n] = '\0';
        mcp_call_finish(c, text_result(t));
        free(t);
    } else {
        mcp_call_fail(c, JSONRPC_INVALID_PARAMS, "Unknown tool");
    }
}

static void host_cancel(mcp_call *c, void *ud) {
    struct host *h = ud;
    h->cancels++;
    for (int i = 0; i < h->n_held; i++) {
        if (h->held[i] == c) {
            h->held[i] = h->held[--h->n_held];
            mcp_call_finish(c, text_result("too late"));
            return;
        }
    }
}

static void host_close(void *ud) {
    struct host *h = ud;
    h->closes++;
    if (h->stop_on_close) net_reactor_stop(h->r);
}

static const mcp_server_host fake_host = {host_list, host_call, host_cancel, host_close};

/* After the server is gone: let pending host timers finish their calls
 * (no-op finishes) and finish held calls, so nothing leaks. */
static void host_drain(struct host *h) {
    while (h->timers) {
        struct timer_ctx *t = h->timers;
        net_reactor_cancel_timer(h->r, t->id);
        host_timer_fire(h->r, t);
    }
    while (h->n_held) mcp_call_finish(h->held[--h->n_held], NULL);
}

/* "a.b.0.c": objects by key, arrays by index. */
static json_t *jpath(json_t *v, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && v; tok = strtok_r(NULL, ".", &save)) {
        if (json_is_array(v)) v = json_array_get(v, (size_t)atoi(tok));
        else v = json_object_get(v, tok);
    }
    return v;
}

static const char *jstr(json_t *v, const char *path) { return json_string_value(jpath(v, path)); }
static long long jint(json_t *v, const char *path) {
    json_t *x = jpath(v, path);
    return x ? (long long)json_integer_value(x) : -999999;
}

#endif
