/* The public C API of libcorral (include/corral.h), exercised the way an
 * embedding host uses it: loaders and options, WorkerCode from C and from
 * JSON, corral_load() validation with the reference's error strings,
 * corral_invoke()/corral_fetch() and the result mapping, capabilities
 * completed now or later, corral_get() caching, capacity, per-call limits,
 * tails, logs, driving the loop from an external poll(), and the outbound
 * handler. Every case frees everything it creates (the suite also runs
 * under ASan and valgrind).
 */
#include <poll.h>
#include <stdint.h>

#include "check.h"
#include "corral.h"

/* ---- helpers ------------------------------------------------------------- */

#define MAX_LOGS 16
#define MAX_HEADERS 16

/* A copy of one corral_result (its pointers die with the callback). */
struct res {
    int done;
    int calls;
    corral_outcome outcome;
    int has_value;
    char value[4096];
    int status;
    size_t header_count;
    char hname[MAX_HEADERS][64];
    char hvalue[MAX_HEADERS][256];
    char body[4096];
    size_t body_len;
    char error_name[64];
    char error_message[1024];
    char worker_id[64];
    char entrypoint[64];
    char method[64];
    size_t log_count;
    corral_log_level levels[MAX_LOGS];
    char logs[MAX_LOGS][256];
    size_t unhandled;
};

static void copy_str(char *dst, size_t n, const char *s) { snprintf(dst, n, "%s", s ? s : ""); }

static void copy_result(struct res *r, const corral_result *x) {
    r->calls++;
    r->done = 1;
    r->outcome = x->outcome;
    r->has_value = x->value_json != NULL;
    copy_str(r->value, sizeof r->value, x->value_json);
    r->status = x->status;
    r->header_count = x->header_count;
    for (size_t i = 0; i < x->header_count && i < MAX_HEADERS; i++) {
        copy_str(r->hname[i], sizeof r->hname[i], x->headers[i].name);
        copy_str(r->hvalue[i], sizeof r->hvalue[i], x->headers[i].value);
    }
    r->body_len = x->body_len;
    if (x->body) {
        size_t n = x->body_len < sizeof r->body - 1 ? x->body_len : sizeof r->body - 1;
        memcpy(r->body, x->body, n);
        r->body[n] = 0;
    }
    copy_str(r->error_name, sizeof r->error_name, x->error_name);
    copy_str(r->error_message, sizeof r->error_message, x->error_message);
    copy_str(r->worker_id, sizeof r->worker_id, x->worker_id);
    copy_str(r->entrypoint, sizeof r->entrypoint, x->entrypoint);
    copy_str(r->method, sizeof r->method, x->method);
    r->log_count = x->log_count;
    for (size_t i = 0; i < x->log_count && i < MAX_LOGS; i++) {
        r->levels[i] = x->logs[i].level;
        copy_str(r->logs[i], sizeof r->logs[i], x->logs[i].text);
    }
    r->unhandled = x->unhandled_rejections;
}

static void on_done(const corral_result *x, void *ud) { copy_result(ud, x); }

/* Steps until r->done (or a bounded number of steps, so a bug fails the
 * case instead of hanging the suite). */
static void wait_done(corral_loader *l, struct res *r) {
    for (int i = 0; i < 2000 && !r->done; i++) {
        if (corral_loader_step(l, 50) < 0) break;
    }
}

static corral_loader *new_loader(void) {
    corral_error err = {0};
    corral_options o;
    corral_options_default(&o);
    o.today = "2025-06-01";
    corral_loader *l = corral_loader_new(&o, &err);
    CHECK(l != NULL);
    return l;
}

static corral_code *code_with(const char *src) {
    corral_code *c = corral_code_new();
    corral_code_set_compatibility_date(c, "2025-06-01");
    corral_code_set_main_module(c, "main.js");
    corral_code_add_module(c, "main.js", CORRAL_MODULE_INFER, src, strlen(src));
    return c;
}

static corral_worker *load_src(corral_loader *l, const char *src) {
    corral_error err = {0};
    corral_code *c = code_with(src);
    corral_worker *w = corral_load(l, c, &err);
    corral_code_free(c);
    if (!w) CHECK_FAIL_AT("corral_load: %s: %s", err.name, err.message);
    return w;
}

/* Invokes `method` and waits for the answer. */
static void invoke(corral_loader *l, corral_worker *w, const char *method, const char *args,
                   struct res *r) {
    memset(r, 0, sizeof *r);
    CHECK_EQ_INT(corral_invoke(w, NULL, method, args, on_done, r), CORRAL_OK);
    wait_done(l, r);
    CHECK(r->done);
}

/* Loads `src`, calls `method` once and tears everything down. */
static void run_once(const char *src, const char *method, const char *args, struct res *r) {
    corral_loader *l = new_loader();
    corral_worker *w = load_src(l, src);
    if (w) invoke(l, w, method, args, r);
    corral_worker_release(w);
    corral_loader_free(l);
}

/* Validation of one WorkerCode: the expected error name and message. */
static void expect_load_error(corral_loader *l, corral_code *c, int status, const char *name,
                              const char *message) {
    corral_error err = {0};
    corral_worker *w = corral_load(l, c, &err);
    CHECK(w == NULL);
    corral_worker_release(w);
    CHECK_EQ_INT(err.status, status);
    CHECK_EQ_STR(err.name, name);
    CHECK_EQ_STR(err.message, message);
}

/* ---- loaders and options ------------------------------------------------ */

TEST(limits_defaults) {
    corral_limits d;
    memset(&d, 0xff, sizeof d);
    corral_limits_default(&d);
    CHECK_EQ_INT(d.cpu_ms, 30000);
    CHECK_EQ_INT(d.wall_ms, 60000);
    CHECK_EQ_INT(d.memory_bytes, 128u << 20);
    CHECK_EQ_INT(d.stack_bytes, 512u << 10);
    CHECK_EQ_INT(d.module_bytes, 64u << 20);
    CHECK_EQ_INT(d.env_bytes, 1u << 20);
    CHECK_EQ_INT(d.arg_bytes, 32u << 20);
    CHECK_EQ_INT(d.result_bytes, 32u << 20);
    CHECK_EQ_INT(d.subrequests, 1000);
    CHECK_EQ_INT(d.calls, 10000);
    CHECK_EQ_INT(d.log_bytes, 256u << 10);
    corral_options o;
    memset(&o, 0xff, sizeof o);
    corral_options_default(&o);
    CHECK_EQ_INT(o.cache_capacity, 1024);
    CHECK_EQ_INT(o.max_sandboxes, 100000);
    CHECK(o.today == NULL);
}

TEST(names_of_outcomes_and_levels) {
    CHECK_EQ_STR(corral_outcome_name(CORRAL_OUTCOME_OK), "ok");
    CHECK_EQ_STR(corral_outcome_name(CORRAL_OUTCOME_EXCEPTION), "exception");
    CHECK_EQ_STR(corral_outcome_name(CORRAL_OUTCOME_EXCEEDED_CPU), "exceededCpu");
    CHECK_EQ_STR(corral_outcome_name(CORRAL_OUTCOME_EXCEEDED_MEMORY), "exceededMemory");
    CHECK_EQ_STR(corral_outcome_name(CORRAL_OUTCOME_EXCEEDED_WALL), "exceededWall");
    CHECK_EQ_STR(corral_outcome_name(CORRAL_OUTCOME_EXCEEDED_LIMIT), "exceededLimit");
    CHECK_EQ_STR(corral_outcome_name(CORRAL_OUTCOME_CANCELED), "canceled");
    CHECK_EQ_STR(corral_outcome_name(CORRAL_OUTCOME_INTERNAL), "internal");
    CHECK_EQ_STR(corral_log_level_name(CORRAL_LOG_DEBUG), "debug");
    CHECK_EQ_STR(corral_log_level_name(CORRAL_LOG_INFO), "info");
    CHECK_EQ_STR(corral_log_level_name(CORRAL_LOG_LOG), "log");
    CHECK_EQ_STR(corral_log_level_name(CORRAL_LOG_WARN), "warn");
    CHECK_EQ_STR(corral_log_level_name(CORRAL_LOG_ERROR), "error");
}

TEST(loader_default_options) {
    corral_error err = {0};
    corral_loader *l = corral_loader_new(NULL, &err);
    CHECK(l != NULL);
    corral_stats s;
    memset(&s, 0xff, sizeof s);
    corral_loader_stats(l, &s);
    CHECK_EQ_INT(s.live_sandboxes, 0);
    CHECK_EQ_INT(s.cached_workers, 0);
    CHECK_EQ_INT(s.sandboxes_created, 0);
    CHECK_EQ_INT(s.invocations, 0);
    CHECK_EQ_INT(corral_loader_timeout(l), -1);
    CHECK_EQ_INT(corral_loader_step(l, 0), 0);
    /* a loader with defaults runs code (today = the real date) */
    corral_worker *w = load_src(l, "export default { add(a, b) { return a + b; } }");
    struct res r;
    if (w) invoke(l, w, "add", "[2, 3]", &r);
    CHECK_EQ_STR(r.value, "5");
    corral_loader_stats(l, &s);
    CHECK_EQ_INT(s.sandboxes_created, 1);
    CHECK_EQ_INT(s.invocations, 1);
    corral_worker_release(w);
    corral_loader_free(l);
    corral_loader_free(corral_loader_new(NULL, NULL)); /* err may be NULL */
}

TEST(loader_custom_options) {
    corral_error err = {0};
    corral_options o;
    corral_options_default(&o);
    o.limits.cpu_ms = 5000;
    o.limits.memory_bytes = 16u << 20;
    o.limits.module_bytes = 1000;
    o.cache_capacity = 3;
    o.max_sandboxes = 10;
    o.today = "2024-01-01";
    corral_loader *l = corral_loader_new(&o, &err);
    CHECK(l != NULL);
    /* `today` is copied: the loader does not keep the host's pointer */
    corral_code *c = code_with("export default {}");
    corral_code_set_compatibility_date(c, "2024-01-02");
    expect_load_error(l, c, CORRAL_EINVAL, "Error",
                      "Can't set compatibility date in the future: \"2024-01-02\". Today's date "
                      "(UTC) is \"2024-01-01\".");
    corral_code_set_compatibility_date(c, "2024-01-01");
    corral_error e2 = {0};
    corral_worker *w = corral_load(l, c, &e2);
    CHECK(w != NULL);
    corral_worker_release(w);
    corral_code_free(c);
    corral_loader_free(l);
}

/* ---- WorkerCode from JSON ----------------------------------------------- */

static const char good_json[] =
    "{\"compatibilityDate\": \"2025-06-01\", \"mainModule\": \"main.js\","
    " \"compatibilityFlags\": [\"nodejs_compat\"],"
    " \"env\": {\"GREETING\": \"hi\", \"N\": 3, \"LIST\": [1, {\"a\": null}]},"
    " \"limits\": {\"cpuMs\": 1000, \"subRequests\": 5},"
    " \"modules\": {"
    "  \"main.js\": \"import t from './t.txt'; import b64 from './b64.bin'; import arr from './arr.bin';"
    "   import j from './j.json'; import c from './c.cjs'; import { two } from './lib/two.js';"
    "   export default { kinds(x, env) { return [t, [...new Uint8Array(b64)], [...new Uint8Array(arr)],"
    "   j, c, two(), env.GREETING, env.N, env.LIST, b64 instanceof ArrayBuffer]; } }\","
    "  \"t.txt\": {\"text\": \"some text\"},"
    "  \"b64.bin\": {\"data\": \"AQID/w==\"},"
    "  \"arr.bin\": {\"data\": [0, 7, 255]},"
    "  \"j.json\": {\"json\": {\"k\": [true, 1.5]}},"
    "  \"c.cjs\": {\"cjs\": \"module.exports = 'cjs:' + typeof require;\"},"
    "  \"lib/two.js\": {\"js\": \"export const two = () => 2;\"}"
    " }}";

TEST(code_from_json_good) {
    corral_error err = {0};
    corral_code *c = corral_code_from_json(good_json, strlen(good_json), &err);
    CHECK(c != NULL);
    if (!c) {
        CHECK_FAIL_AT("%s: %s", err.name, err.message);
        return;
    }
    corral_loader *l = new_loader();
    corral_worker *w = corral_load(l, c, &err);
    corral_code_free(c);
    CHECK(w != NULL);
    struct res r;
    if (w) invoke(l, w, "kinds", "[0]", &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK_EQ_STR(r.value,
                 "[\"some text\",[1,2,3,255],[0,7,255],{\"k\":[true,1.5]},\"cjs:function\",2,\"hi\",3,"
                 "[1,{\"a\":null}],true]");
    corral_worker_release(w);
    corral_loader_free(l);
}

static void expect_json_error(const char *json, const char *name, const char *message) {
    corral_error err = {0};
    corral_code *c = corral_code_from_json(json, strlen(json), &err);
    CHECK(c == NULL);
    corral_code_free(c);
    CHECK_EQ_INT(err.status, CORRAL_EINVAL);
    CHECK_EQ_STR(err.name, name);
    if (message[0] == '~') CHECK_CONTAINS(err.message, message + 1);
    else CHECK_EQ_STR(err.message, message);
}

TEST(code_from_json_bad) {
    expect_json_error("{\"mainModule\": ", "TypeError", "~WorkerCode must be a JSON object (");
    expect_json_error("not json", "TypeError", "~WorkerCode must be a JSON object (");
    expect_json_error("[1, 2]", "TypeError", "~WorkerCode must be a JSON object (not an object");
    expect_json_error("\"x\"", "TypeError", "~WorkerCode must be a JSON object (");
    expect_json_error("{\"a\": 1, \"a\": 2}", "TypeError", "~WorkerCode must be a JSON object (");
    expect_json_error("{\"modules\": {\"main.js\": {\"js\": \"\", \"text\": \"\"}}}", "TypeError",
                      "Each module must contain exactly one of 'js', 'cjs', 'text', 'data', 'json', "
                      "'py', or 'wasm'. Module 'main.js' contained 2 properties.");
    expect_json_error("{\"modules\": {\"main.js\": {}}}", "TypeError",
                      "Each module must contain exactly one of 'js', 'cjs', 'text', 'data', 'json', "
                      "'py', or 'wasm'. Module 'main.js' contained 0 properties.");
    expect_json_error("{\"modules\": {\"main.js\": {\"ts\": \"x\"}}}", "TypeError",
                      "Each module must contain exactly one of 'js', 'cjs', 'text', 'data', 'json', "
                      "'py', or 'wasm'. Module 'main.js' contained 1 properties.");
    expect_json_error("{\"modules\": {\"main.js\": {\"js\": 5}}}", "TypeError",
                      "Module 'main.js': 'js' must be a string.");
    expect_json_error("{\"modules\": {\"t.txt\": {\"text\": null}}}", "TypeError",
                      "Module 't.txt': 'text' must be a string.");
    expect_json_error("{\"modules\": {\"d.bin\": {\"data\": 5}}}", "TypeError",
                      "Module 'd.bin': 'data' must be base64 text or an array of bytes.");
    expect_json_error("{\"modules\": {\"d.bin\": {\"data\": {}}}}", "TypeError",
                      "Module 'd.bin': 'data' must be base64 text or an array of bytes.");
    expect_json_error("{\"compatibilityFlags\": [\"nodejs_compat\", 3]}", "TypeError",
                      "WorkerCode.compatibilityFlags must be an array of strings.");
    expect_json_error("{\"env\": [1]}", "TypeError", "WorkerCode.env must be an object.");
    expect_json_error("{\"env\": \"x\"}", "TypeError", "WorkerCode.env must be an object.");
    /* err may be NULL */
    CHECK(corral_code_from_json("nope", 4, NULL) == NULL);
}

TEST(code_from_json_shape_ok_semantics_later) {
    /* Shape-valid JSON whose semantics are wrong: accepted here, refused by corral_load(). */
    corral_loader *l = new_loader();
    static const char *cases[][3] = {
        {"{\"compatibilityDate\": \"2025-06-01\", \"mainModule\": \"main.js\", \"modules\": {}}",
         "TypeError", "Dynamic Worker code must contain at least one module."},
        {"{\"compatibilityDate\": \"2025-06-01\", \"mainModule\": \"main.js\", \"modules\": 7}",
         "TypeError", "Dynamic Worker code must contain at least one module."},
        {"{\"compatibilityDate\": \"2025-06-01\", \"mainModule\": \"a.mjs\", \"modules\": {\"a.mjs\": \"x\"}}",
         "TypeError",
         "Module name must end with '.js' or '.py' (or the content must be an object indicating the "
         "type explicitly). Got: a.mjs"},
        {"{\"compatibilityDate\": \"2025-06-01\", \"mainModule\": \"main.js\", \"modules\": {\"main.js\": \"\"},"
         " \"compatibilityFlags\": [\"bogus_flag\"]}",
         "Error", "No such compatibility flag: bogus_flag"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        corral_error err = {0};
        corral_code *c = corral_code_from_json(cases[i][0], strlen(cases[i][0]), &err);
        CHECK(c != NULL);
        if (!c) continue;
        expect_load_error(l, c, CORRAL_EINVAL, cases[i][1], cases[i][2]);
        corral_code_free(c);
    }
    corral_loader_free(l);
}

/* ---- corral_load() validation ------------------------------------------- */

TEST(load_validation_modules) {
    corral_loader *l = new_loader();
    corral_code *c = corral_code_new();
    corral_code_set_compatibility_date(c, "2025-06-01");
    corral_code_set_main_module(c, "main.js");
    expect_load_error(l, c, CORRAL_EINVAL, "TypeError",
                      "Dynamic Worker code must contain at least one module.");
    corral_code_free(c);

    c = corral_code_new();
    corral_code_set_compatibility_date(c, "2025-06-01");
    corral_code_set_main_module(c, "main.ts");
    corral_code_add_module(c, "main.ts", CORRAL_MODULE_INFER, "x", 1);
    expect_load_error(l, c, CORRAL_EINVAL, "TypeError",
                      "Module name must end with '.js' or '.py' (or the content must be an object "
                      "indicating the type explicitly). Got: main.ts. If you're trying to load "
                      "TypeScript, bundle it first with '@cloudflare/worker-bundler' and pass the "
                      "generated JavaScript modules.");
    corral_code_free(c);

    static const char *other[] = {"data.json", "lib.cjs", "main.mjs", "README", "x.jsx"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        c = code_with("export default {}");
        corral_code_add_module(c, other[i], CORRAL_MODULE_INFER, "1", 1);
        char want[512];
        snprintf(want, sizeof want,
                 "Module name must end with '.js' or '.py' (or the content must be an object "
                 "indicating the type explicitly). Got: %s%s",
                 other[i],
                 strcmp(other[i], "x.jsx") == 0
                     ? ". If you're trying to load TypeScript, bundle it first with "
                       "'@cloudflare/worker-bundler' and pass the generated JavaScript modules."
                     : "");
        expect_load_error(l, c, CORRAL_EINVAL, "TypeError", want);
        corral_code_free(c);
    }

    c = code_with("export default {}");
    corral_code_add_module(c, "w.wasm", CORRAL_MODULE_WASM, "\0asm", 4);
    expect_load_error(l, c, CORRAL_EINVAL, "TypeError",
                      "Module \"w.wasm\": WebAssembly modules are not supported yet by corral.");
    corral_code_free(c);

    c = code_with("export default {}");
    corral_code_add_module(c, "helper.py", CORRAL_MODULE_PY, "x = 1", 5);
    expect_load_error(l, c, CORRAL_EINVAL, "TypeError",
                      "Module \"helper.py\" is a Python module, but the main module isn't a Python "
                      "module.");
    corral_code_free(c);

    c = code_with("export default {}");
    corral_code_add_module(c, "main.js", CORRAL_MODULE_JS, "export default {}", 17);
    expect_load_error(l, c, CORRAL_EINVAL, "TypeError", "Module \"main.js\" is given more than once.");
    corral_code_free(c);

    /* a missing mainModule is a startup error on each call, not a load() error */
    c = code_with("export default { f() { return 1; } }");
    corral_code_set_main_module(c, "other.js");
    corral_error err = {0};
    corral_worker *w = corral_load(l, c, &err);
    CHECK(w != NULL);
    corral_code_free(c);
    struct res r;
    for (int i = 0; w && i < 2; i++) {
        invoke(l, w, "f", NULL, &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEPTION);
        CHECK_CONTAINS(r.error_message, "other.js");
    }
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(load_validation_dates) {
    corral_loader *l = new_loader(); /* today = 2025-06-01 */
    corral_code *c = code_with("export default {}");
    static const char *invalid[] = {"yesterday", "2025-6-01", "2025-06-1", "1999-12-31", "2025-13-01",
                                    "2025-00-10", "2025-01-32", "2025-01-00", "2025/06/01",
                                    "2025-06-01T00:00", ""};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        corral_code_set_compatibility_date(c, invalid[i]);
        char want[128];
        snprintf(want, sizeof want, "Invalid compatibility date: %s", invalid[i]);
        expect_load_error(l, c, CORRAL_EINVAL, "Error", want);
    }
    corral_code_set_compatibility_date(c, "2025-06-02");
    expect_load_error(l, c, CORRAL_EINVAL, "Error",
                      "Can't set compatibility date in the future: \"2025-06-02\". Today's date "
                      "(UTC) is \"2025-06-01\".");
    corral_code_set_compatibility_date(c, "2999-12-31");
    expect_load_error(l, c, CORRAL_EINVAL, "Error",
                      "Can't set compatibility date in the future: \"2999-12-31\". Today's date "
                      "(UTC) is \"2025-06-01\".");
    /* no calendar check, as the reference says */
    static const char *valid[] = {"2025-02-31", "2025-06-01", "2000-01-01"};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        corral_code_set_compatibility_date(c, valid[i]);
        corral_error err = {0};
        corral_worker *w = corral_load(l, c, &err);
        if (!w) CHECK_FAIL_AT("%s refused: %s", valid[i], err.message);
        corral_worker_release(w);
    }
    corral_code_set_compatibility_date(c, NULL);
    expect_load_error(l, c, CORRAL_EINVAL, "TypeError",
                      "WorkerCode is missing the required field 'compatibilityDate'.");
    corral_code_free(c);
    corral_loader_free(l);

    /* a date past this build's newest supported date (but not in the future) */
    corral_options o;
    corral_options_default(&o);
    o.today = "2999-12-31";
    l = corral_loader_new(&o, NULL);
    c = code_with("export default {}");
    corral_code_set_compatibility_date(c, "2999-01-01");
    corral_error err = {0};
    corral_worker *w = corral_load(l, c, &err);
    CHECK(w == NULL);
    corral_worker_release(w);
    CHECK_EQ_STR(err.name, "Error");
    CHECK_CONTAINS(err.message,
                   "This Worker requires compatibility date \"2999-01-01\", but the newest date "
                   "supported by this server binary is \"");
    corral_code_free(c);
    corral_loader_free(l);
}

TEST(load_validation_flags) {
    corral_loader *l = new_loader();
    corral_code *c = code_with("export default {}");
    CHECK_EQ_INT(corral_code_add_compatibility_flag(c, "no_such_flag"), CORRAL_OK);
    expect_load_error(l, c, CORRAL_EINVAL, "Error", "No such compatibility flag: no_such_flag");
    corral_code_free(c);

    c = code_with("export default {}");
    corral_code_add_compatibility_flag(c, "nodejs_compat");
    corral_code_add_compatibility_flag(c, "nodejs_compat");
    expect_load_error(l, c, CORRAL_EINVAL, "Error",
                      "Compatibility flag specified multiple times: nodejs_compat");
    corral_code_free(c);

    c = code_with("export default {}");
    corral_code_add_compatibility_flag(c, "global_navigator");
    corral_code_add_compatibility_flag(c, "no_global_navigator");
    expect_load_error(l, c, CORRAL_EINVAL, "Error",
                      "Compatibility flags are mutually contradictory: global_navigator vs "
                      "no_global_navigator");
    corral_code_free(c);

    c = code_with("export default {}");
    corral_code_add_compatibility_flag(c, "experimental");
    corral_error err = {0};
    corral_worker *w = corral_load(l, c, &err);
    CHECK(w == NULL);
    corral_worker_release(w);
    CHECK_EQ_STR(err.name, "Error");
    CHECK_CONTAINS(err.message, "experimental");
    corral_code_free(c);

    c = code_with("export default { nav() { return typeof navigator; } }");
    corral_code_add_compatibility_flag(c, "nodejs_compat");
    corral_code_add_compatibility_flag(c, "no_global_navigator");
    w = corral_load(l, c, &err);
    CHECK(w != NULL);
    struct res r;
    if (w) invoke(l, w, "nav", NULL, &r);
    CHECK_EQ_STR(r.value, "\"undefined\"");
    corral_worker_release(w);
    corral_code_free(c);
    corral_loader_free(l);
}

TEST(load_validation_sizes) {
    corral_options o;
    corral_options_default(&o);
    o.today = "2025-06-01";
    o.limits.module_bytes = 100;
    o.limits.env_bytes = 64;
    corral_loader *l = corral_loader_new(&o, NULL);
    CHECK(l != NULL);
    char src[128];
    memset(src, ' ', sizeof src);
    memcpy(src, "export default {}", 17);
    corral_code *c = corral_code_new();
    corral_code_set_compatibility_date(c, "2025-06-01");
    corral_code_set_main_module(c, "main.js");
    corral_code_add_module(c, "main.js", CORRAL_MODULE_JS, src, 60);
    corral_code_add_module(c, "t.txt", CORRAL_MODULE_TEXT, src, 40); /* 100 bytes: at the limit */
    corral_error err = {0};
    corral_worker *w = corral_load(l, c, &err);
    if (!w) CHECK_FAIL_AT("at the module limit: %s", err.message);
    corral_worker_release(w);
    corral_code_add_module(c, "one.bin", CORRAL_MODULE_DATA, "x", 1);
    expect_load_error(l, c, CORRAL_ELIMIT, "Error",
                      "Dynamic Worker code size (101 bytes) exceeds the maximum allowed size of 100 "
                      "bytes.");
    corral_code_free(c);

    /* env: the serialized size of the JSON env ({"K":"..."} compact) */
    c = code_with("export default { k(x, env) { return env.K.length; } }");
    char env[128];
    snprintf(env, sizeof env, "{\"K\": \"%.*s\"}", 56, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    CHECK_EQ_INT(corral_code_set_env_json(c, env, strlen(env), &err), CORRAL_OK); /* 64 bytes compact */
    w = corral_load(l, c, &err);
    if (!w) CHECK_FAIL_AT("at the env limit: %s", err.message);
    struct res r;
    if (w) invoke(l, w, "k", "[0]", &r);
    CHECK_EQ_STR(r.value, "56");
    corral_worker_release(w);
    snprintf(env, sizeof env, "{\"K\": \"%.*s\"}", 57, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    CHECK_EQ_INT(corral_code_set_env_json(c, env, strlen(env), &err), CORRAL_OK);
    expect_load_error(l, c, CORRAL_ELIMIT, "Error",
                      "Dynamic Worker env size (65 bytes) exceeds the maximum allowed size of 64 "
                      "bytes.");
    /* env must be a JSON object */
    CHECK_EQ_INT(corral_code_set_env_json(c, "[1]", 3, &err), CORRAL_EINVAL);
    CHECK_EQ_STR(err.name, "TypeError");
    CHECK_CONTAINS(err.message, "env must be a JSON object");
    CHECK_EQ_INT(corral_code_set_env_json(c, "{", 1, &err), CORRAL_EINVAL);
    CHECK_CONTAINS(err.message, "env must be a JSON object");
    corral_code_free(c);
    corral_loader_free(l);
}

TEST(load_default_env_limit_is_1mib) {
    corral_loader *l = new_loader();
    size_t n = (1u << 20) + 64;
    char *env = malloc(n + 16);
    int k = snprintf(env, n + 16, "{\"K\":\"");
    memset(env + k, 'x', n);
    memcpy(env + k + n, "\"}", 3);
    corral_code *c = code_with("export default {}");
    corral_error err = {0};
    CHECK_EQ_INT(corral_code_set_env_json(c, env, strlen(env), &err), CORRAL_OK);
    char want[256];
    snprintf(want, sizeof want,
             "Dynamic Worker env size (%zu bytes) exceeds the maximum allowed size of 1048576 bytes.",
             strlen(env));
    expect_load_error(l, c, CORRAL_ELIMIT, "Error", want);
    free(env);
    corral_code_free(c);
    corral_loader_free(l);
}

/* ---- corral_invoke(): arguments and the result mapping -------------------- */

static const char values_src[] =
    "export default {\n"
    "  args(...a) { return JSON.stringify(a.slice(0, -2)); },\n"
    "  count(...a) { return a.length; },\n"
    "  nothing() {},\n"
    "  nul() { return null; },\n"
    "  big() { return 10n ** 20n; },\n"
    "  date() { return new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 6)); },\n"
    "  map() { return new Map([[1, 'a'], ['k', [true]]]); },\n"
    "  set() { return new Set([1, 'two']); },\n"
    "  bytes() { return new Uint8Array([1, 2, 3, 255]); },\n"
    "  buffer() { return new Uint8Array([104, 105]).buffer; },\n"
    "  err() { const e = new TypeError('bad thing'); return e; },\n"
    "  nested() { return { a: [1, 2.5, 'x', null, false], b: { c: 'd' } }; },\n"
    "  str() { return 'quote \" backslash \\\\ newline \\n unicode \\u00e9'; },\n"
    "  nan() { return [NaN, Infinity, -0]; },\n"
    "  async later() { await null; return 'later'; },\n"
    "  throws() { throw new RangeError('out of range'); },\n"
    "  rejects() { return Promise.reject(new Error('rejected')); },\n"
    "  sym() { return Symbol('s'); },\n"
    "  weak() { return { w: new WeakMap() }; },\n"
    "  proto() { return JSON.parse('{\"__proto__\": {\"polluted\": 1}}'); },\n"
    "};\n";

TEST(invoke_arguments) {
    corral_loader *l = new_loader();
    corral_worker *w = load_src(l, values_src);
    struct res r;
    if (!w) goto out;
    invoke(l, w, "args", "[1, \"two\", {\"three\": [3]}, null, true, 1.5]", &r);
    CHECK_EQ_STR(r.value, "\"[1,\\\"two\\\",{\\\"three\\\":[3]},null,true,1.5]\"");
    invoke(l, w, "count", NULL, &r); /* NULL = no arguments (then env and ctx) */
    CHECK_EQ_STR(r.value, "2");
    invoke(l, w, "count", "[]", &r);
    CHECK_EQ_STR(r.value, "2");
    /* arguments must be a JSON array */
    CHECK_EQ_INT(corral_invoke(w, NULL, "count", "{}", on_done, &r), CORRAL_EINVAL);
    CHECK_EQ_INT(corral_invoke(w, NULL, "count", "1", on_done, &r), CORRAL_EINVAL);
    CHECK_EQ_INT(corral_invoke(w, NULL, "count", "[1,", on_done, &r), CORRAL_EINVAL);
    CHECK_EQ_INT(corral_invoke(w, NULL, "count", "not json", on_done, &r), CORRAL_EINVAL);
    CHECK_EQ_INT(corral_invoke(w, NULL, NULL, "[]", on_done, &r), CORRAL_EINVAL);
    CHECK_EQ_INT(corral_invoke(w, NULL, "count", "[]", NULL, &r), CORRAL_EINVAL);
    CHECK_EQ_INT(corral_invoke(NULL, NULL, "count", "[]", on_done, &r), CORRAL_EINVAL);
    /* refused calls never call `done` */
    memset(&r, 0, sizeof r);
    corral_loader_step(l, 0);
    CHECK_EQ_INT(r.calls, 0);
out:
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(invoke_result_mapping) {
    corral_loader *l = new_loader();
    corral_worker *w = load_src(l, values_src);
    struct res r;
    if (!w) goto out;
    invoke(l, w, "nothing", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK(!r.has_value); /* undefined → NULL */
    CHECK_EQ_STR(r.method, "nothing");
    CHECK_EQ_STR(r.entrypoint, "default");
    invoke(l, w, "nul", NULL, &r);
    CHECK(r.has_value);
    CHECK_EQ_STR(r.value, "null");
    invoke(l, w, "big", NULL, &r);
    CHECK_EQ_STR(r.value, "\"100000000000000000000\"");
    invoke(l, w, "date", NULL, &r);
    CHECK_EQ_STR(r.value, "\"2025-01-02T03:04:05.006Z\"");
    invoke(l, w, "map", NULL, &r);
    CHECK_EQ_STR(r.value, "[[1,\"a\"],[\"k\",[true]]]");
    invoke(l, w, "set", NULL, &r);
    CHECK_EQ_STR(r.value, "[1,\"two\"]");
    invoke(l, w, "bytes", NULL, &r);
    CHECK_EQ_STR(r.value, "\"AQID/w==\"");
    invoke(l, w, "buffer", NULL, &r);
    CHECK_EQ_STR(r.value, "\"aGk=\"");
    invoke(l, w, "err", NULL, &r);
    CHECK_CONTAINS(r.value, "\"name\":\"TypeError\"");
    CHECK_CONTAINS(r.value, "\"message\":\"bad thing\"");
    CHECK_CONTAINS(r.value, "\"stack\":");
    invoke(l, w, "nested", NULL, &r);
    CHECK_EQ_STR(r.value, "{\"a\":[1,2.5,\"x\",null,false],\"b\":{\"c\":\"d\"}}");
    invoke(l, w, "str", NULL, &r);
    CHECK_EQ_STR(r.value, "\"quote \\\" backslash \\\\ newline \\n unicode \xc3\xa9\"");
    invoke(l, w, "later", NULL, &r);
    CHECK_EQ_STR(r.value, "\"later\"");
    invoke(l, w, "proto", NULL, &r);
    CHECK_EQ_STR(r.value, "{\"__proto__\":{\"polluted\":1}}");
out:
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(invoke_errors) {
    corral_loader *l = new_loader();
    corral_worker *w = load_src(l, values_src);
    struct res r;
    if (!w) goto out;
    invoke(l, w, "throws", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEPTION);
    CHECK_EQ_STR(r.error_name, "RangeError");
    CHECK_EQ_STR(r.error_message, "out of range");
    invoke(l, w, "rejects", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEPTION);
    CHECK_EQ_STR(r.error_name, "Error");
    CHECK_EQ_STR(r.error_message, "rejected");
    invoke(l, w, "sym", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEPTION);
    CHECK_EQ_STR(r.error_name, "DataCloneError");
    CHECK_EQ_STR(r.error_message, "A Symbol could not be cloned (at value).");
    invoke(l, w, "weak", NULL, &r);
    CHECK_EQ_STR(r.error_name, "DataCloneError");
    CHECK_CONTAINS(r.error_message, "A WeakMap could not be cloned");
    invoke(l, w, "nope", NULL, &r);
    CHECK_EQ_STR(r.error_name, "TypeError");
    CHECK_EQ_STR(r.error_message, "The RPC receiver does not implement the method \"nope\".");
    invoke(l, w, "toString", NULL, &r);
    CHECK_EQ_STR(r.error_message, "The RPC receiver does not implement the method \"toString\".");
    /* the worker still answers after every failure */
    invoke(l, w, "nul", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    /* a missing entrypoint */
    corral_invoke_options io = {0};
    io.entrypoint = "Nope";
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(corral_invoke(w, &io, "nul", NULL, on_done, &r), CORRAL_OK);
    wait_done(l, &r);
    CHECK_EQ_STR(r.error_name, "Error");
    CHECK_EQ_STR(r.error_message, "Worker has no such entrypoint: Nope");
out:
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(invoke_named_entrypoint_props) {
    corral_loader *l = new_loader();
    corral_worker *w = load_src(l,
        "import { WorkerEntrypoint } from 'cloudflare:workers';\n"
        "export class Greeter extends WorkerEntrypoint { greet(n) { return this.ctx.props.greeting + ', ' + n; } }\n"
        "export const Plain = { who(x, env, ctx) { return ctx.props; } };\n"
        "export default { f() { return 'default'; } };\n");
    struct res r;
    corral_invoke_options io = {0};
    io.entrypoint = "Greeter";
    io.props_json = "{\"greeting\": \"Hi\"}";
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(corral_invoke(w, &io, "greet", "[\"Ann\"]", on_done, &r), CORRAL_OK);
    wait_done(l, &r);
    CHECK_EQ_STR(r.value, "\"Hi, Ann\"");
    CHECK_EQ_STR(r.entrypoint, "Greeter");
    io.entrypoint = "Plain";
    io.props_json = "{\"n\": [1]}";
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(corral_invoke(w, &io, "who", "[0]", on_done, &r), CORRAL_OK);
    wait_done(l, &r);
    CHECK_EQ_STR(r.value, "{\"n\":[1]}");
    io.entrypoint = "default";
    io.props_json = "{bad";
    CHECK_EQ_INT(corral_invoke(w, &io, "f", NULL, on_done, &r), CORRAL_EINVAL);
    io.props_json = NULL;
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(corral_invoke(w, &io, "f", NULL, on_done, &r), CORRAL_OK);
    wait_done(l, &r);
    CHECK_EQ_STR(r.value, "\"default\"");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(startup_errors_surface_per_call) {
    corral_loader *l = new_loader();
    corral_code *c = code_with("import { x } from './lib/bad.js'; export default { f() { return x; } }");
    corral_code_add_module(c, "lib/bad.js", CORRAL_MODULE_JS, "export const x = 1;\nexport const y = {;\n", 39);
    corral_error err = {0};
    corral_worker *w = corral_load(l, c, &err);
    corral_code_free(c);
    struct res r;
    for (int i = 0; w && i < 2; i++) {
        invoke(l, w, "f", NULL, &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEPTION);
        CHECK_EQ_STR(r.error_name, "SyntaxError");
        CHECK_EQ_STR(r.error_message, "invalid property name (at lib/bad.js:2:19)");
    }
    corral_worker_release(w);
    w = load_src(l, "throw new TypeError('top-level boom'); export default {}");
    if (w) invoke(l, w, "f", NULL, &r);
    CHECK_EQ_STR(r.error_name, "TypeError");
    CHECK_EQ_STR(r.error_message, "top-level boom");
    corral_worker_release(w);
    w = load_src(l, "import x from './nope.js'; export default {}");
    if (w) invoke(l, w, "f", NULL, &r);
    CHECK_EQ_STR(r.error_message, "No such module \"./nope.js\" imported from \"main.js\".");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(module_kinds_from_c) {
    corral_loader *l = new_loader();
    corral_code *c = code_with(
        "import t from './t.txt'; import d from './d.bin'; import j from './j.json'; import c from './c.cjs';\n"
        "export default { f() { return [t, [...new Uint8Array(d)], j, c]; } }");
    static const uint8_t bytes[] = {0, 1, 254};
    corral_code_add_module(c, "t.txt", CORRAL_MODULE_TEXT, "hello", 5);
    corral_code_add_module(c, "d.bin", CORRAL_MODULE_DATA, bytes, 3);
    corral_code_add_module(c, "j.json", CORRAL_MODULE_JSON, "{\"a\": [1, 2]}", 13);
    corral_code_add_module(c, "c.cjs", CORRAL_MODULE_CJS, "module.exports = require('./e.cjs') + 1;", 40);
    corral_code_add_module(c, "e.cjs", CORRAL_MODULE_CJS, "module.exports = 41;", 20);
    corral_error err = {0};
    corral_worker *w = corral_load(l, c, &err);
    corral_code_free(c);
    struct res r;
    if (w) invoke(l, w, "f", NULL, &r);
    CHECK_EQ_STR(r.value, "[\"hello\",[0,1,254],{\"a\":[1,2]},42]");
    corral_worker_release(w);
    c = corral_code_new();
    CHECK_EQ_INT(corral_code_add_module(c, NULL, CORRAL_MODULE_JS, "", 0), CORRAL_EINVAL);
    CHECK_EQ_INT(corral_code_add_module(c, "x.js", CORRAL_MODULE_JS, NULL, 3), CORRAL_EINVAL);
    corral_code_free(c);
    corral_loader_free(l);
}

/* ---- corral_fetch() ------------------------------------------------------ */

TEST(fetch_request_and_response) {
    corral_loader *l = new_loader();
    corral_worker *w = load_src(l,
        "export default { async fetch(req, env, ctx) {\n"
        "  const body = await req.text();\n"
        "  return new Response(JSON.stringify({ m: req.method, u: req.url, h: req.headers.get('x-test'),\n"
        "    ct: req.headers.get('content-type'), body }), { status: 201, statusText: 'Made',\n"
        "    headers: { 'x-answer': '42', 'content-type': 'application/json' } });\n"
        "} }");
    static const corral_header hs[] = {{"X-Test", "yes"}, {"Content-Type", "text/plain"}};
    corral_request req = {0};
    req.method = "POST";
    req.url = "https://example.com/path?q=1";
    req.headers = hs;
    req.header_count = 2;
    req.body = (const uint8_t *)"payload \0 with nul";
    req.body_len = 18;
    struct res r;
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(corral_fetch(w, NULL, &req, on_done, &r), CORRAL_OK);
    wait_done(l, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK_EQ_STR(r.method, "fetch");
    CHECK_EQ_INT(r.status, 201);
    CHECK_EQ_STR(r.body, "{\"m\":\"POST\",\"u\":\"https://example.com/path?q=1\",\"h\":\"yes\","
                         "\"ct\":\"text/plain\",\"body\":\"payload \\u0000 with nul\"}");
    int seen = 0;
    for (size_t i = 0; i < r.header_count && i < MAX_HEADERS; i++)
        if (strcmp(r.hname[i], "x-answer") == 0 && strcmp(r.hvalue[i], "42") == 0) seen = 1;
    CHECK(seen);
    /* GET by default, no body */
    corral_request get = {0};
    get.url = "http://localhost/";
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(corral_fetch(w, NULL, &get, on_done, &r), CORRAL_OK);
    wait_done(l, &r);
    CHECK_CONTAINS(r.body, "\"m\":\"GET\"");
    CHECK_CONTAINS(r.body, "\"body\":\"\"");
    /* bad calls */
    CHECK_EQ_INT(corral_fetch(w, NULL, NULL, on_done, &r), CORRAL_EINVAL);
    corral_request nourl = {0};
    CHECK_EQ_INT(corral_fetch(w, NULL, &nourl, on_done, &r), CORRAL_EINVAL);
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(fetch_binary_body_and_errors) {
    corral_loader *l = new_loader();
    corral_worker *w = load_src(l,
        "export default { async fetch(req) {\n"
        "  if (req.url.endsWith('/throw')) throw new Error('handler failed');\n"
        "  if (req.url.endsWith('/notresponse')) return 'a string';\n"
        "  return new Response(new Uint8Array([0, 1, 2, 255]));\n"
        "} }");
    corral_request req = {0};
    req.url = "http://localhost/bin";
    struct res r;
    memset(&r, 0, sizeof r);
    corral_fetch(w, NULL, &req, on_done, &r);
    wait_done(l, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(r.body_len, 4);
    CHECK(memcmp(r.body, "\0\1\2\377", 4) == 0);
    req.url = "http://localhost/throw";
    memset(&r, 0, sizeof r);
    corral_fetch(w, NULL, &req, on_done, &r);
    wait_done(l, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEPTION);
    CHECK_EQ_STR(r.error_message, "handler failed");
    corral_worker_release(w);
    corral_loader_free(l);
}

/* ---- capabilities --------------------------------------------------------- */

struct cap_state {
    int calls;
    char method[64];
    char args[256];
    char worker_id[64];
    corral_call *pending;
    const char *mode; /* "return", "later", "throw", "throw-noname", "bad-json", "undefined" */
};

static void cap_fn(corral_call *call, void *ud) {
    struct cap_state *s = ud;
    s->calls++;
    size_t len = 0;
    const char *a = corral_call_args_json(call, &len);
    snprintf(s->args, sizeof s->args, "%.*s", (int)len, a ? a : "");
    copy_str(s->method, sizeof s->method, corral_call_method(call));
    copy_str(s->worker_id, sizeof s->worker_id, corral_call_worker_id(call));
    if (strcmp(s->mode, "later") == 0) {
        s->pending = call;
    } else if (strcmp(s->mode, "throw") == 0) {
        corral_call_throw(call, "NotFoundError", "no such key: k");
    } else if (strcmp(s->mode, "throw-noname") == 0) {
        corral_call_throw(call, NULL, "plain failure");
    } else if (strcmp(s->mode, "bad-json") == 0) {
        CHECK_EQ_INT(corral_call_return_json(call, "{nope", 5), CORRAL_EINVAL);
    } else if (strcmp(s->mode, "undefined") == 0) {
        corral_call_return_json(call, NULL, 0);
    } else {
        corral_call_return_json(call, "{\"v\": [1, \"two\"]}", 17);
    }
}

static const char cap_src[] =
    "export default {\n"
    "  async get(k, env) { return await env.KV.get(k, { deep: [1n, new Date(0)] }); },\n"
    "  async caught(k, env) { try { await env.KV.get(k); return 'no error'; }\n"
    "    catch (e) { return [e instanceof Error, e.name, e.message]; } },\n"
    "  async typeofResult(k, env) { return typeof (await env.KV.get(k)); },\n"
    "  async unknown(k, env) { try { await env.KV.nope(k); return 'no error'; }\n"
    "    catch (e) { return e.name + ': ' + e.message; } },\n"
    "  keys(x, env) { return [typeof env.KV, typeof env.KV.get]; },\n"
    "};\n";

static corral_worker *cap_worker(corral_loader *l, struct cap_state *s) {
    corral_error err = {0};
    corral_capability *cap = corral_capability_new(l, "KV");
    CHECK_EQ_INT(corral_capability_add_method(cap, "get", cap_fn, s, &err), CORRAL_OK);
    CHECK_EQ_INT(corral_capability_add_method(cap, "", cap_fn, s, &err), CORRAL_EINVAL);
    CHECK_EQ_STR(err.name, "TypeError");
    CHECK_EQ_INT(corral_capability_add_method(cap, "put", NULL, s, &err), CORRAL_EINVAL);
    corral_code *c = code_with(cap_src);
    CHECK_EQ_INT(corral_code_bind_capability(c, "KV", cap), CORRAL_OK);
    CHECK_EQ_INT(corral_code_bind_capability(c, "X", NULL), CORRAL_EINVAL);
    corral_capability_release(cap); /* the code keeps it alive */
    corral_worker *w = corral_load(l, c, &err);
    corral_code_free(c);
    if (!w) CHECK_FAIL_AT("%s: %s", err.name, err.message);
    return w;
}

TEST(capability_completes_synchronously) {
    corral_loader *l = new_loader();
    struct cap_state s = {0};
    s.mode = "return";
    corral_worker *w = cap_worker(l, &s);
    struct res r;
    if (w) invoke(l, w, "get", "[\"k\"]", &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK_EQ_STR(r.value, "{\"v\":[1,\"two\"]}");
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_STR(s.method, "get");
    CHECK_EQ_STR(s.args, "[\"k\",{\"deep\":[\"1\",\"1970-01-01T00:00:00.000Z\"]}]");
    CHECK(s.worker_id[0] != 0);
    if (w) invoke(l, w, "keys", "[0]", &r);
    CHECK_EQ_STR(r.value, "[\"object\",\"function\"]");
    s.mode = "undefined";
    if (w) invoke(l, w, "typeofResult", "[\"k\"]", &r);
    CHECK_EQ_STR(r.value, "\"undefined\"");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(capability_completes_later) {
    corral_loader *l = new_loader();
    struct cap_state s = {0};
    s.mode = "later";
    corral_worker *w = cap_worker(l, &s);
    struct res r;
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(corral_invoke(w, NULL, "get", "[\"k\"]", on_done, &r), CORRAL_OK);
    for (int i = 0; i < 10; i++) CHECK(corral_loader_step(l, 0) > 0);
    CHECK(s.pending != NULL);
    CHECK(!r.done);
    /* the host's own loop answers some time later */
    if (s.pending) CHECK_EQ_INT(corral_call_return_json(s.pending, "\"late answer\"", 13), CORRAL_OK);
    s.pending = NULL;
    wait_done(l, &r);
    CHECK_EQ_STR(r.value, "\"late answer\"");
    CHECK_EQ_INT(corral_loader_step(l, 0), 0);
    /* completing later by throwing */
    memset(&r, 0, sizeof r);
    corral_invoke(w, NULL, "caught", "[\"k\"]", on_done, &r);
    for (int i = 0; i < 5; i++) corral_loader_step(l, 0);
    CHECK(!r.done);
    if (s.pending) corral_call_throw(s.pending, "TimeoutError", "backend slow");
    s.pending = NULL;
    wait_done(l, &r);
    CHECK_EQ_STR(r.value, "[true,\"TimeoutError\",\"backend slow\"]");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(capability_late_answer_after_invocation_ended) {
    /* Completing a call whose invocation has already ended is safe. */
    corral_loader *l = new_loader();
    struct cap_state s = {0};
    s.mode = "later";
    corral_worker *w = cap_worker(l, &s);
    struct res r;
    memset(&r, 0, sizeof r);
    corral_invoke_options io = {0};
    io.limits.wall_ms = 30;
    CHECK_EQ_INT(corral_invoke(w, &io, "get", "[\"k\"]", on_done, &r), CORRAL_OK);
    for (int i = 0; i < 200 && !r.done; i++) corral_loader_step(l, 10);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEEDED_WALL);
    CHECK_EQ_STR(r.error_name, "WallTimeLimitError");
    CHECK(s.pending != NULL);
    if (s.pending) CHECK_EQ_INT(corral_call_return_json(s.pending, "1", 1), CORRAL_OK);
    s.pending = NULL;
    corral_loader_step(l, 0);
    CHECK_EQ_INT(r.calls, 1);
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(capability_throws) {
    corral_loader *l = new_loader();
    struct cap_state s = {0};
    s.mode = "throw";
    corral_worker *w = cap_worker(l, &s);
    struct res r;
    if (w) invoke(l, w, "caught", "[\"k\"]", &r);
    CHECK_EQ_STR(r.value, "[true,\"NotFoundError\",\"no such key: k\"]");
    s.mode = "throw-noname";
    if (w) invoke(l, w, "caught", "[\"k\"]", &r);
    CHECK_EQ_STR(r.value, "[true,\"Error\",\"plain failure\"]");
    /* uncaught: the invocation's error */
    s.mode = "throw";
    if (w) invoke(l, w, "get", "[\"k\"]", &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEPTION);
    CHECK_EQ_STR(r.error_name, "NotFoundError");
    CHECK_EQ_STR(r.error_message, "no such key: k");
    /* invalid JSON from the host becomes a TypeError in the sandbox */
    s.mode = "bad-json";
    if (w) invoke(l, w, "caught", "[\"k\"]", &r);
    CHECK_EQ_STR(r.value, "[true,\"TypeError\",\"The host returned invalid JSON.\"]");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(capability_unknown_method) {
    corral_loader *l = new_loader();
    struct cap_state s = {0};
    s.mode = "return";
    corral_worker *w = cap_worker(l, &s);
    struct res r;
    if (w) invoke(l, w, "unknown", "[\"k\"]", &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK_EQ_STR(r.value, "\"TypeError: The RPC receiver does not implement the method \\\"nope\\\".\"");
    CHECK_EQ_INT(s.calls, 0);
    corral_worker_release(w);
    corral_loader_free(l);
}

/* ---- corral_get() --------------------------------------------------------- */

struct factory_state {
    int calls;
    int fail;
};

static corral_code *counter_factory(void *ud, corral_error *err) {
    struct factory_state *f = ud;
    f->calls++;
    if (f->fail) {
        snprintf(err->name, sizeof err->name, "Error");
        snprintf(err->message, sizeof err->message, "Code loader failed!");
        return NULL;
    }
    return code_with("let n = 0; export default { inc() { return ++n; } }");
}

static corral_code *empty_factory(void *ud, corral_error *err) {
    struct factory_state *f = ud;
    f->calls++;
    return corral_code_new(); /* no modules: fails validation */
}

static int get_inc(corral_loader *l, const char *id, struct factory_state *f, struct res *r) {
    corral_worker *w = corral_get(l, id, counter_factory, f);
    CHECK(w != NULL);
    invoke(l, w, "inc", NULL, r);
    corral_worker_release(w);
    return r->outcome == CORRAL_OUTCOME_OK ? atoi(r->value) : -1;
}

TEST(get_caches_by_id) {
    corral_loader *l = new_loader();
    struct factory_state f = {0};
    struct res r;
    CHECK_EQ_INT(get_inc(l, "counter:v1", &f, &r), 1);
    CHECK_EQ_INT(get_inc(l, "counter:v1", &f, &r), 2);
    CHECK_EQ_INT(get_inc(l, "counter:v1", &f, &r), 3);
    CHECK_EQ_INT(f.calls, 1);
    CHECK_EQ_STR(r.worker_id, "counter:v1");
    CHECK_EQ_INT(get_inc(l, "counter:v2", &f, &r), 1);
    CHECK_EQ_INT(f.calls, 2);
    /* one stub, several calls */
    corral_worker *w = corral_get(l, "counter:v1", counter_factory, &f);
    invoke(l, w, "inc", NULL, &r);
    CHECK_EQ_STR(r.value, "4");
    invoke(l, w, "inc", NULL, &r);
    CHECK_EQ_STR(r.value, "5");
    corral_worker_release(w);
    CHECK_EQ_INT(f.calls, 2);
    /* id NULL: fresh every time */
    CHECK_EQ_INT(get_inc(l, NULL, &f, &r), 1);
    CHECK_EQ_INT(get_inc(l, NULL, &f, &r), 1);
    CHECK_EQ_INT(f.calls, 4);
    corral_stats st;
    corral_loader_stats(l, &st);
    CHECK_EQ_INT(st.cached_workers, 2);
    corral_loader_free(l);
}

TEST(get_cache_eviction) {
    corral_options o;
    corral_options_default(&o);
    o.today = "2025-06-01";
    o.cache_capacity = 2;
    corral_loader *l = corral_loader_new(&o, NULL);
    struct factory_state fa = {0}, fb = {0}, fc = {0};
    struct res r;
    CHECK_EQ_INT(get_inc(l, "a", &fa, &r), 1);
    CHECK_EQ_INT(get_inc(l, "b", &fb, &r), 1);
    CHECK_EQ_INT(get_inc(l, "a", &fa, &r), 2); /* a is now the most recent */
    CHECK_EQ_INT(get_inc(l, "c", &fc, &r), 1); /* evicts b */
    corral_stats st;
    corral_loader_stats(l, &st);
    CHECK_EQ_INT(st.cached_workers, 2);
    CHECK(st.evictions >= 1);
    CHECK_EQ_INT(get_inc(l, "a", &fa, &r), 3); /* still cached */
    CHECK_EQ_INT(fa.calls, 1);
    CHECK_EQ_INT(get_inc(l, "b", &fb, &r), 1); /* rebuilt: fresh module state */
    CHECK_EQ_INT(fb.calls, 2);
    corral_loader_free(l);
}

TEST(get_factory_failure) {
    corral_loader *l = new_loader();
    struct factory_state f = {0};
    f.fail = 1;
    corral_worker *w = corral_get(l, "bad", counter_factory, &f);
    CHECK(w != NULL); /* a stub at once */
    struct res r;
    for (int i = 0; i < 2; i++) {
        invoke(l, w, "inc", NULL, &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEPTION);
        CHECK_EQ_STR(r.error_name, "Error");
        CHECK_EQ_STR(r.error_message, "Code loader failed!");
    }
    corral_worker_release(w);
    /* a validation error of the returned code surfaces per call too */
    struct factory_state e = {0};
    w = corral_get(l, "bad2", empty_factory, &e);
    invoke(l, w, "inc", NULL, &r);
    CHECK_EQ_STR(r.error_name, "TypeError");
    CHECK_EQ_STR(r.error_message, "Dynamic Worker code must contain at least one module.");
    corral_worker_release(w);
    /* once the factory works, the id starts */
    f.fail = 0;
    CHECK_EQ_INT(get_inc(l, "bad", &f, &r), 1);
    corral_loader_free(l);
}

/* ---- capacity and limits --------------------------------------------------- */

TEST(max_sandboxes_refused_with_capacity_error) {
    corral_options o;
    corral_options_default(&o);
    o.today = "2025-06-01";
    o.max_sandboxes = 2;
    corral_loader *l = corral_loader_new(&o, NULL);
    const char *src = "let n = 0; export default { inc() { return ++n; } }";
    corral_worker *a = load_src(l, src), *b = load_src(l, src), *c = load_src(l, src);
    struct res r;
    invoke(l, a, "inc", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    invoke(l, b, "inc", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    corral_stats st;
    corral_loader_stats(l, &st);
    CHECK_EQ_INT(st.live_sandboxes, 2);
    invoke(l, c, "inc", NULL, &r);
    CHECK(r.outcome != CORRAL_OUTCOME_OK);
    CHECK_EQ_STR(r.error_name, "CapacityError");
    CHECK_CONTAINS(r.error_message, "2 live sandboxes");
    /* the live ones carry on */
    invoke(l, a, "inc", NULL, &r);
    CHECK_EQ_STR(r.value, "2");
    /* releasing one frees its sandbox; the refused worker then starts */
    corral_worker_release(b);
    for (int i = 0; i < 5; i++) corral_loader_step(l, 0);
    invoke(l, c, "inc", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK_EQ_STR(r.value, "1");
    corral_worker_release(a);
    corral_worker_release(c);
    corral_loader_free(l);
}

TEST(per_call_limits) {
    corral_loader *l = new_loader();
    corral_worker *w = load_src(l,
        "export default { spin() { for (;;) {} }, hang() { return new Promise(() => {}); },\n"
        "  ok() { return 'fine'; } }");
    struct res r;
    corral_invoke_options io = {0};
    io.limits.cpu_ms = 50;
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(corral_invoke(w, &io, "spin", NULL, on_done, &r), CORRAL_OK);
    wait_done(l, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEEDED_CPU);
    CHECK_EQ_STR(r.error_name, "CpuLimitError");
    CHECK_EQ_STR(r.error_message, "The worker exceeded its CPU time limit of 50 ms.");
    memset(&io, 0, sizeof io);
    io.limits.wall_ms = 40;
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(corral_invoke(w, &io, "hang", NULL, on_done, &r), CORRAL_OK);
    wait_done(l, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEEDED_WALL);
    CHECK_EQ_STR(r.error_name, "WallTimeLimitError");
    CHECK_EQ_STR(r.error_message, "The invocation exceeded its wall-time limit of 40 ms.");
    /* the worker (a fresh sandbox) and the loader carry on */
    invoke(l, w, "ok", NULL, &r);
    CHECK_EQ_STR(r.value, "\"fine\"");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(per_call_limits_only_lower) {
    /* WorkerCode sets 60 ms; a call asking for more still gets 60 ms. */
    corral_loader *l = new_loader();
    corral_code *c = code_with("export default { spin() { for (;;) {} } }");
    corral_limits lim = {0};
    lim.cpu_ms = 60;
    corral_code_set_limits(c, &lim);
    corral_worker *w = corral_load(l, c, NULL);
    corral_code_free(c);
    corral_invoke_options io = {0};
    io.limits.cpu_ms = 100000;
    struct res r;
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(corral_invoke(w, &io, "spin", NULL, on_done, &r), CORRAL_OK);
    wait_done(l, &r);
    CHECK_EQ_STR(r.error_name, "CpuLimitError");
    CHECK_EQ_STR(r.error_message, "The worker exceeded its CPU time limit of 60 ms.");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(memory_limit_from_loader_options) {
    corral_options o;
    corral_options_default(&o);
    o.today = "2025-06-01";
    o.limits.memory_bytes = 16u << 20;
    corral_loader *l = corral_loader_new(&o, NULL);
    corral_worker *w = load_src(l, "export default { grow() { const a = []; for (;;) a.push({ x: [1, 2] }); } }");
    struct res r;
    if (w) invoke(l, w, "grow", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEEDED_MEMORY);
    CHECK_EQ_STR(r.error_name, "MemoryLimitError");
    CHECK_EQ_STR(r.error_message, "The worker exceeded its memory limit of 16777216 bytes.");
    corral_worker_release(w);
    corral_loader_free(l);
}

/* ---- tails, logs, unhandled rejections -------------------------------------- */

#define MAX_EVENTS 8
struct tail_state {
    int n;
    struct res ev[MAX_EVENTS];
};

static void on_tail(const corral_result *x, void *ud) {
    struct tail_state *t = ud;
    if (t->n < MAX_EVENTS) copy_result(&t->ev[t->n], x);
    t->n++;
}

TEST(tail_receives_every_invocation) {
    corral_loader *l = new_loader();
    struct tail_state t = {0};
    corral_loader_set_tail(l, on_tail, &t);
    corral_code *c = code_with(
        "export default { async parent(x, env) {\n"
        "  console.log('parent says', x);\n"
        "  const w = env.LOADER.load({ compatibilityDate: '2025-06-01', mainModule: 'c.js',\n"
        "    modules: { 'c.js': \"export default { child(v) { console.warn('child got', v); return v * 2; },\"\n"
        "                       + \" boom() { throw new Error('child failed'); } }\" } });\n"
        "  const v = await w.getEntrypoint().child(x);\n"
        "  try { await w.getEntrypoint().boom(); } catch (e) {}\n"
        "  return v;\n"
        "} }");
    CHECK_EQ_INT(corral_code_bind_loader(c, "LOADER"), CORRAL_OK);
    corral_worker *w = corral_load(l, c, NULL);
    corral_code_free(c);
    struct res r;
    if (w) invoke(l, w, "parent", "[21]", &r);
    CHECK_EQ_STR(r.value, "42");
    corral_loader_step(l, 0);
    CHECK_EQ_INT(t.n, 3);
    int child = -1, boom = -1, parent = -1;
    for (int i = 0; i < t.n && i < MAX_EVENTS; i++) {
        if (strcmp(t.ev[i].method, "child") == 0) child = i;
        if (strcmp(t.ev[i].method, "boom") == 0) boom = i;
        if (strcmp(t.ev[i].method, "parent") == 0) parent = i;
    }
    CHECK(child >= 0 && boom >= 0 && parent >= 0);
    if (child >= 0) {
        CHECK_EQ_INT(t.ev[child].outcome, CORRAL_OUTCOME_OK);
        CHECK_EQ_STR(t.ev[child].value, "42");
        CHECK_EQ_INT(t.ev[child].log_count, 1);
        CHECK_EQ_INT(t.ev[child].levels[0], CORRAL_LOG_WARN);
        CHECK_EQ_STR(t.ev[child].logs[0], "child got 21");
        CHECK_CONTAINS(t.ev[child].worker_id, "load:");
    }
    if (boom >= 0) {
        CHECK_EQ_INT(t.ev[boom].outcome, CORRAL_OUTCOME_EXCEPTION);
        CHECK_EQ_STR(t.ev[boom].error_message, "child failed");
    }
    if (parent >= 0) {
        CHECK_EQ_INT(parent, 2); /* the outer invocation ends last */
        CHECK_EQ_INT(t.ev[parent].outcome, CORRAL_OUTCOME_OK);
        CHECK_EQ_INT(t.ev[parent].log_count, 1);
        CHECK_EQ_STR(t.ev[parent].logs[0], "parent says 21");
    }
    /* the tail also sees failed host invocations */
    if (w) invoke(l, w, "nope", NULL, &r);
    corral_loader_step(l, 0);
    CHECK_EQ_INT(t.n, 4);
    if (t.n == 4) CHECK_EQ_INT(t.ev[3].outcome, CORRAL_OUTCOME_EXCEPTION);
    corral_loader_set_tail(l, NULL, NULL);
    if (w) invoke(l, w, "parent", "[1]", &r);
    CHECK_EQ_INT(t.n, 4);
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(logs_with_levels) {
    struct res r;
    run_once("export default { f() {\n"
             "  console.debug('d', 1); console.info('i'); console.log('l', { a: [1, 'x'], b: null });\n"
             "  console.warn('w'); console.error('e', new Error('oops').message); return 1; } }",
             "f", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK_EQ_INT(r.log_count, 5);
    CHECK_EQ_INT(r.levels[0], CORRAL_LOG_DEBUG);
    CHECK_EQ_INT(r.levels[1], CORRAL_LOG_INFO);
    CHECK_EQ_INT(r.levels[2], CORRAL_LOG_LOG);
    CHECK_EQ_INT(r.levels[3], CORRAL_LOG_WARN);
    CHECK_EQ_INT(r.levels[4], CORRAL_LOG_ERROR);
    CHECK_EQ_STR(r.logs[0], "d 1");
    CHECK_EQ_STR(r.logs[1], "i");
    CHECK_CONTAINS(r.logs[2], "l {");
    CHECK(strstr(r.logs[2], "[object Object]") == NULL);
    CHECK_EQ_STR(r.logs[3], "w");
    CHECK_EQ_STR(r.logs[4], "e oops");
    /* logs are kept when the call fails too */
    run_once("export default { f() { console.log('before'); throw new Error('after'); } }", "f", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEPTION);
    CHECK_EQ_INT(r.log_count, 1);
    CHECK_EQ_STR(r.logs[0], "before");
}

TEST(log_budget_truncates) {
    corral_loader *l = new_loader();
    corral_code *c = code_with("export default { f() { for (let i = 0; i < 1000; i++) console.log('x'.repeat(100)); return 'done'; } }");
    corral_limits lim = {0};
    lim.log_bytes = 1000;
    corral_code_set_limits(c, &lim);
    corral_worker *w = corral_load(l, c, NULL);
    corral_code_free(c);
    struct res r;
    memset(&r, 0, sizeof r);
    if (w) invoke(l, w, "f", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK); /* not an error */
    CHECK_EQ_STR(r.value, "\"done\"");
    CHECK(r.log_count < 1000);
    corral_worker_release(w);
    corral_loader_free(l);
}

static void on_done_trunc(const corral_result *x, void *ud) {
    int *t = ud;
    *t = x->logs_truncated ? 1 : 0;
}

TEST(log_budget_flag) {
    corral_loader *l = new_loader();
    corral_code *c = code_with("export default { f() { for (let i = 0; i < 1000; i++) console.log('x'.repeat(100)); } }");
    corral_limits lim = {0};
    lim.log_bytes = 1000;
    corral_code_set_limits(c, &lim);
    corral_worker *w = corral_load(l, c, NULL);
    corral_code_free(c);
    int t = -1;
    corral_invoke(w, NULL, "f", NULL, on_done_trunc, &t);
    for (int i = 0; i < 200 && t < 0; i++) corral_loader_step(l, 20);
    CHECK_EQ_INT(t, 1);
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(unhandled_rejection_counted) {
    struct res r;
    run_once("export default { async f() { Promise.reject(new Error('nobody listens'));\n"
             "  Promise.reject(new Error('nor here')); return 'fine'; } }",
             "f", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK_EQ_STR(r.value, "\"fine\"");
    CHECK_EQ_INT(r.unhandled, 2);
    int errors = 0;
    for (size_t i = 0; i < r.log_count && i < MAX_LOGS; i++)
        if (r.levels[i] == CORRAL_LOG_ERROR && strstr(r.logs[i], "nobody listens")) errors++;
    CHECK_EQ_INT(errors, 1);
    /* a rejection handled before the queue drains is not counted */
    run_once("export default { async f() { const p = Promise.reject(new Error('x')); await null;\n"
             "  p.catch(() => {}); return 'fine'; } }",
             "f", NULL, &r);
    CHECK_EQ_INT(r.unhandled, 0);
}

/* ---- driving the loop from an external poll loop --------------------------- */

TEST(external_poll_loop) {
    corral_loader *l = new_loader();
    int fd = corral_loader_fd(l);
    CHECK(fd >= 0);
    CHECK_EQ_INT(corral_loader_timeout(l), -1);
    corral_worker *w = load_src(l,
        "export default { async f() { await new Promise((r) => setTimeout(r, 30)); return 'woke'; } }");
    struct res r;
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(corral_invoke(w, NULL, "f", NULL, on_done, &r), CORRAL_OK);
    int saw_timeout = 0, steps = 0;
    for (int i = 0; i < 1000 && !r.done; i++) {
        int t = corral_loader_timeout(l);
        if (t > 0 && t <= 60000) saw_timeout = 1;
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, t < 0 || t > 100 ? 100 : t);
        CHECK(corral_loader_step(l, 0) >= 0);
        steps++;
    }
    CHECK(r.done);
    CHECK_EQ_STR(r.value, "\"woke\"");
    CHECK(saw_timeout);
    CHECK(steps >= 2);
    /* idle again: nothing pending (the wall timer ended with its invocation) */
    CHECK_EQ_INT(corral_loader_step(l, 0), 0);
    CHECK_EQ_INT(corral_loader_timeout(l), -1);
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(fd_readable_when_work_is_queued) {
    corral_loader *l = new_loader();
    int fd = corral_loader_fd(l);
    corral_worker *w = load_src(l, "export default { f() { return 1; } }");
    struct res r;
    memset(&r, 0, sizeof r);
    corral_invoke(w, NULL, "f", NULL, on_done, &r);
    CHECK(!r.done); /* never called from inside corral_invoke */
    struct pollfd p = {fd, POLLIN, 0};
    int n = poll(&p, 1, corral_loader_timeout(l) < 0 ? 1000 : corral_loader_timeout(l));
    int readable = n == 1 && (p.revents & POLLIN);
    for (int i = 0; i < 100 && !r.done; i++) corral_loader_step(l, 0);
    CHECK(r.done);
    /* either the fd was readable or a timer said when to step */
    CHECK(readable || corral_loader_timeout(l) >= 0);
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(loader_run_blocks_until_idle) {
    corral_loader *l = new_loader();
    corral_worker *w = load_src(l, "export default { async f() { await new Promise((r) => setTimeout(r, 10)); return 2; } }");
    struct res a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    corral_invoke(w, NULL, "f", NULL, on_done, &a);
    corral_invoke(w, NULL, "f", NULL, on_done, &b);
    CHECK_EQ_INT(corral_loader_run(l), CORRAL_OK);
    CHECK(a.done && b.done);
    CHECK_EQ_STR(a.value, "2");
    CHECK_EQ_STR(b.value, "2");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(free_with_pending_work) {
    /* Freeing the loader drops pending operations without calling `done`. */
    corral_loader *l = new_loader();
    struct cap_state s = {0};
    s.mode = "later";
    corral_worker *w = cap_worker(l, &s);
    corral_worker *w2 = load_src(l, "export default { f() { return new Promise((r) => setTimeout(r, 10000)); } }");
    struct res r, r2;
    memset(&r, 0, sizeof r);
    memset(&r2, 0, sizeof r2);
    corral_invoke(w, NULL, "get", "[\"k\"]", on_done, &r);
    corral_invoke(w2, NULL, "f", NULL, on_done, &r2);
    for (int i = 0; i < 10; i++) corral_loader_step(l, 0);
    CHECK(s.pending != NULL);
    corral_worker_release(w);
    corral_worker_release(w2);
    corral_loader_free(l);
    CHECK_EQ_INT(r.calls, 0);
    CHECK_EQ_INT(r2.calls, 0);
}

/* ---- outbound ------------------------------------------------------------- */

struct ob_state {
    int calls;
    char method[16];
    char url[256];
    char headers[512];
    char body[256];
    size_t body_len;
    corral_outbound_call *pending;
    const char *mode; /* "respond", "fail", "later" */
};

static void on_outbound(corral_outbound_call *call, const corral_request *req, void *ud) {
    struct ob_state *s = ud;
    s->calls++;
    copy_str(s->method, sizeof s->method, req->method);
    copy_str(s->url, sizeof s->url, req->url);
    s->headers[0] = 0;
    for (size_t i = 0; i < req->header_count; i++) {
        size_t n = strlen(s->headers);
        snprintf(s->headers + n, sizeof s->headers - n, "%s=%s;", req->headers[i].name,
                 req->headers[i].value);
    }
    s->body_len = req->body_len;
    snprintf(s->body, sizeof s->body, "%.*s", (int)req->body_len, req->body ? (const char *)req->body : "");
    if (strcmp(s->mode, "fail") == 0) {
        corral_outbound_fail(call, "connection refused by the host");
    } else if (strcmp(s->mode, "later") == 0) {
        s->pending = call;
    } else {
        static const corral_header hs[] = {{"Content-Type", "text/plain"}, {"X-Upstream", "host"}};
        corral_outbound_respond(call, 201, hs, 2, (const uint8_t *)"from the host", 13);
    }
}

static const char fetcher_src[] =
    "export default { async go() {\n"
    "  try {\n"
    "    const r = await fetch('https://api.example.com/v1/items?x=1', { method: 'POST',\n"
    "      headers: { 'X-Token': 'abc', 'Content-Type': 'application/json' }, body: JSON.stringify({ a: 1 }) });\n"
    "    return [r.status, r.headers.get('x-upstream'), await r.text()];\n"
    "  } catch (e) { return e.name + ': ' + e.message; }\n"
    "} }";

static corral_worker *fetcher(corral_loader *l, int host) {
    corral_code *c = code_with(fetcher_src);
    if (host) corral_code_set_outbound(c, CORRAL_OUTBOUND_HOST);
    corral_worker *w = corral_load(l, c, NULL);
    corral_code_free(c);
    return w;
}

TEST(outbound_handler_respond) {
    corral_loader *l = new_loader();
    struct ob_state s = {0};
    s.mode = "respond";
    corral_loader_set_outbound(l, on_outbound, &s);
    corral_worker *w = fetcher(l, 1);
    struct res r;
    if (w) invoke(l, w, "go", NULL, &r);
    CHECK_EQ_STR(r.value, "[201,\"host\",\"from the host\"]");
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_STR(s.method, "POST");
    CHECK_EQ_STR(s.url, "https://api.example.com/v1/items?x=1");
    CHECK_CONTAINS(s.headers, "x-token=abc;");
    CHECK_CONTAINS(s.headers, "content-type=application/json;");
    CHECK_EQ_STR(s.body, "{\"a\":1}");
    CHECK_EQ_INT(s.body_len, 7);
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(outbound_handler_fail_and_later) {
    corral_loader *l = new_loader();
    struct ob_state s = {0};
    s.mode = "fail";
    corral_loader_set_outbound(l, on_outbound, &s);
    corral_worker *w = fetcher(l, 1);
    struct res r;
    if (w) invoke(l, w, "go", NULL, &r);
    CHECK_EQ_STR(r.value, "\"TypeError: connection refused by the host\"");
    s.mode = "later";
    memset(&r, 0, sizeof r);
    corral_invoke(w, NULL, "go", NULL, on_done, &r);
    for (int i = 0; i < 10; i++) corral_loader_step(l, 0);
    CHECK(!r.done);
    CHECK(s.pending != NULL);
    if (s.pending) corral_outbound_respond(s.pending, 204, NULL, 0, NULL, 0);
    s.pending = NULL;
    wait_done(l, &r);
    CHECK_EQ_STR(r.value, "[204,null,\"\"]");
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(outbound_blocked_by_default) {
    static const char blocked[] =
        "\"Error: This worker is not permitted to access the internet via global functions like "
        "fetch(). It must use capabilities (such as bindings in 'env') to talk to the outside "
        "world.\"";
    corral_loader *l = new_loader();
    struct ob_state s = {0};
    s.mode = "respond";
    /* no handler, default outbound */
    corral_worker *w = fetcher(l, 0);
    struct res r;
    if (w) invoke(l, w, "go", NULL, &r);
    CHECK_EQ_STR(r.value, blocked);
    corral_worker_release(w);
    /* a handler is installed, but this worker's outbound is BLOCK */
    corral_loader_set_outbound(l, on_outbound, &s);
    w = fetcher(l, 0);
    if (w) invoke(l, w, "go", NULL, &r);
    CHECK_EQ_STR(r.value, blocked);
    CHECK_EQ_INT(s.calls, 0);
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(outbound_host_mode_without_handler) {
    corral_loader *l = new_loader();
    corral_worker *w = fetcher(l, 1);
    struct res r;
    if (w) invoke(l, w, "go", NULL, &r);
    CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_OK);
    CHECK(r.value[0] == '"'); /* a caught error, not a crash */
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(allow_net_reports_clearly) {
    corral_loader *l = new_loader();
    corral_error err = {0};
    int st = corral_loader_allow_net(l, "example.com", &err);
    if (st != CORRAL_OK) {
        CHECK(st < 0);
        CHECK(err.name[0] != 0);
        CHECK(err.message[0] != 0);
    }
    corral_loader_free(l);
}

TEST(json_module_with_invalid_json) {
    /* The source of a JSON module is JSON text; invalid text is a startup
     * error (SyntaxError) on each call, and the worker never runs. */
    corral_loader *l = new_loader();
    corral_code *c = code_with("import j from './data.json'; export default { f() { return j; } }");
    corral_code_add_module(c, "data.json", CORRAL_MODULE_JSON, "{\"a\": 1,}", 9);
    corral_error err = {0};
    corral_worker *w = corral_load(l, c, &err);
    corral_code_free(c);
    CHECK(w != NULL);
    struct res r;
    for (int i = 0; w && i < 2; i++) {
        invoke(l, w, "f", NULL, &r);
        CHECK_EQ_INT(r.outcome, CORRAL_OUTCOME_EXCEPTION);
        CHECK_EQ_STR(r.error_name, "SyntaxError");
    }
    corral_worker_release(w);
    corral_loader_free(l);
}

TEST(code_from_json_data_base64_invalid) {
    corral_error err = {0};
    const char *j = "{\"modules\": {\"d.bin\": {\"data\": \"not base64!\"}}}";
    corral_code *c = corral_code_from_json(j, strlen(j), &err);
    CHECK(c == NULL);
    corral_code_free(c);
    CHECK_EQ_STR(err.name, "TypeError");
    CHECK_EQ_STR(err.message, "Module 'd.bin': 'data' must be base64 text or an array of bytes.");
}
