/* A small C host built against the installed libcorral: it lends a
 * sandboxed worker one capability ("KV", a tiny in-memory store whose get
 * completes later, as a real host's I/O would) and calls the worker. */
#include <stdio.h>
#include <string.h>

#include <corral.h>

static corral_call *pending_get;

static void kv_get(corral_call *call, void *ud) {
    (void)ud;
    pending_get = call; /* completed from the host's own loop below */
}

static void kv_put(corral_call *call, void *ud) {
    (void)ud;
    size_t len;
    printf("host: KV.put%s\n", corral_call_args_json(call, &len));
    corral_call_return_json(call, "true", 4);
}

static void done(const corral_result *r, void *ud) {
    int *exit_code = ud;
    for (size_t i = 0; i < r->log_count; i++)
        printf("worker [%s] %s\n", corral_log_level_name(r->logs[i].level), r->logs[i].text);
    if (r->outcome == CORRAL_OUTCOME_OK) {
        printf("result: %s\n", r->value_json ? r->value_json : "undefined");
        *exit_code = 0;
    } else {
        printf("failed: %s: %s\n", r->error_name, r->error_message);
    }
}

static const char worker_js[] =
    "export default {\n"
    "  async greet(name, env) {\n"
    "    await env.KV.put('last', name);\n"
    "    const count = await env.KV.get('count');\n"
    "    console.log('count from the host:', count);\n"
    "    return { greeting: `Hello, ${name}!`, count };\n"
    "  }\n"
    "};\n";

int main(void) {
    corral_error err;
    corral_loader *l = corral_loader_new(NULL, &err);
    if (!l) return 1;
    corral_capability *kv = corral_capability_new(l, "KV");
    corral_capability_add_method(kv, "get", kv_get, NULL, &err);
    corral_capability_add_method(kv, "put", kv_put, NULL, &err);

    corral_code *code = corral_code_new();
    corral_code_set_compatibility_date(code, "2025-06-01");
    corral_code_set_main_module(code, "worker.js");
    corral_code_add_module(code, "worker.js", CORRAL_MODULE_INFER, worker_js, strlen(worker_js));
    corral_code_bind_capability(code, "KV", kv);
    corral_worker *w = corral_load(l, code, &err);
    corral_code_free(code);
    corral_capability_release(kv);
    if (!w) {
        fprintf(stderr, "%s: %s\n", err.name, err.message);
        return 1;
    }
    int exit_code = 1;
    corral_invoke(w, NULL, "greet", "[\"corral\"]", done, &exit_code);
    /* The host's own loop: step corral, and answer KV.get when it arrives. */
    while (corral_loader_step(l, 100) > 0) {
        if (pending_get) {
            corral_call_return_json(pending_get, "41", 2);
            pending_get = NULL;
        }
    }
    corral_worker_release(w);
    corral_loader_free(l);
    return exit_code;
}
