/* The public C API of libcorral (include/corral.h), exercised the way an
 * embedding host uses it, part one: loaders and options, WorkerCode from C
 * and from JSON, corral_load() validation with the reference's error
 * strings, corral_invoke()/corral_fetch() and the result mapping. Part two
 * (test_api_host.c) covers what the host lends and drives. Every case frees
 * everything it creates (the suite also runs under ASan and valgrind).
 */
#include "api_helpers.h"

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
    o.isolation = CORRAL_ISOLATION_INLINE;
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
    o.isolation = CORRAL_ISOLATION_INLINE;
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
    o.isolation = CORRAL_ISOLATION_INLINE;
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

