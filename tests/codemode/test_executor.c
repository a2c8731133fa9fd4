/* The Code Mode executor through the public API (corral_execute): tools as
 * capability methods with sanitized names, tool errors, the reference's
 * provider-name validation, late tool calls, truncation and limits. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "corral.h"

struct out {
    int done;
    char result[65536];
    int has_result;
    char error[1024];
    int has_error;
    size_t logs;
    char log0[256];
};

static void on_exec(const corral_exec_result *r, void *ud) {
    struct out *o = ud;
    o->done++;
    o->has_result = r->result_json != NULL;
    snprintf(o->result, sizeof o->result, "%s", r->result_json ? r->result_json : "");
    o->has_error = r->error != NULL;
    snprintf(o->error, sizeof o->error, "%s", r->error ? r->error : "");
    o->logs = r->log_count;
    snprintf(o->log0, sizeof o->log0, "%s", r->log_count ? r->logs[0] : "");
}

static corral_call *held;

static void weather(corral_call *call, void *ud) {
    size_t n;
    const char *args = corral_call_args_json(call, &n);
    char buf[512];
    snprintf(buf, sizeof buf, "{\"args\":%s,\"temp\":21}", args);
    corral_call_return_json(call, buf, strlen(buf));
}

static void fails(corral_call *call, void *ud) { corral_call_throw(call, "Error", "the tool broke"); }
static void later(corral_call *call, void *ud) { held = call; }

static corral_capability *tools(corral_loader *l) {
    corral_capability *c = corral_capability_new(l, "codemode");
    corral_capability_add_method(c, "get-weather", weather, NULL, NULL);
    corral_capability_add_method(c, "fails", fails, NULL, NULL);
    corral_capability_add_method(c, "later", later, NULL, NULL);
    return c;
}

static struct out run(corral_loader *l, const char *code, const corral_provider *p, size_t n,
                      const corral_limits *lim) {
    struct out o;
    memset(&o, 0, sizeof o);
    CHECK_EQ_INT(corral_execute(l, code, p, n, lim, on_exec, &o), CORRAL_OK);
    CHECK_EQ_INT(o.done, 0); /* never from inside corral_execute */
    while (!o.done && corral_loader_step(l, -1) > 0) {
        if (held) {
            corral_call_return_json(held, "\"late\"", 6);
            held = NULL;
        }
    }
    CHECK_EQ_INT(o.done, 1);
    return o;
}

TEST(tools_with_sanitized_names_and_positional_arguments) {
    corral_loader *l = corral_loader_new(NULL, NULL);
    corral_capability *c = tools(l);
    corral_provider p = {"codemode", c};
    struct out o = run(l, "async () => (await codemode.get_weather({city: 'Oslo'}, 2)).args", &p, 1, NULL);
    CHECK_EQ_STR(o.result, "[{\"city\":\"Oslo\"},2]");
    o = run(l, "const w = await codemode.get_weather(); w.temp + 1", &p, 1, NULL);
    CHECK_EQ_STR(o.result, "22");
    corral_capability_release(c);
    corral_loader_free(l);
}

TEST(several_providers_are_namespaces) {
    corral_loader *l = corral_loader_new(NULL, NULL);
    corral_capability *c = tools(l);
    corral_provider p[2] = {{"codemode", c}, {"weather", c}};
    struct out o = run(l, "(await weather.get_weather()).temp + (await codemode.get_weather()).temp", p, 2, NULL);
    CHECK_EQ_STR(o.result, "42");
    corral_capability_release(c);
    corral_loader_free(l);
}

TEST(tool_errors_are_catchable_and_uncaught_ones_are_the_error) {
    corral_loader *l = corral_loader_new(NULL, NULL);
    corral_capability *c = tools(l);
    corral_provider p = {"codemode", c};
    struct out o = run(l, "try { await codemode.fails(); } catch (e) { return 'caught: ' + e.message; }", &p, 1, NULL);
    CHECK_EQ_STR(o.result, "\"caught: the tool broke\"");
    o = run(l, "await codemode.fails()", &p, 1, NULL);
    CHECK(o.has_error);
    CHECK_EQ_STR(o.error, "the tool broke");
    o = run(l, "try { await codemode.nope(); } catch (e) { return e.message; }", &p, 1, NULL);
    CHECK_EQ_STR(o.result, "\"Tool \\\"nope\\\" not found\"");
    corral_capability_release(c);
    corral_loader_free(l);
}

TEST(provider_names_are_validated_before_anything_runs) {
    corral_loader *l = corral_loader_new(NULL, NULL);
    corral_capability *c = tools(l);
    corral_provider reserved = {"console", c};
    struct out o = run(l, "1", &reserved, 1, NULL);
    CHECK_EQ_STR(o.error, "Provider name \"console\" is reserved");
    corral_provider bad = {"1abc", c};
    o = run(l, "1", &bad, 1, NULL);
    CHECK_EQ_STR(o.error, "Provider name \"1abc\" is not a valid JavaScript identifier");
    corral_provider dup[2] = {{"a", c}, {"a", c}};
    o = run(l, "1", dup, 2, NULL);
    CHECK_EQ_STR(o.error, "Duplicate provider name \"a\"");
    corral_capability *clash = corral_capability_new(l, "clash");
    corral_capability_add_method(clash, "a-b", weather, NULL, NULL);
    corral_capability_add_method(clash, "a_b", weather, NULL, NULL);
    corral_provider cp = {"x", clash};
    o = run(l, "1", &cp, 1, NULL);
    CHECK_EQ_STR(o.error, "Tool names \"a-b\" and \"a_b\" both sanitize to \"a_b\" in provider \"x\"");
    corral_stats st;
    corral_loader_stats(l, &st);
    CHECK_EQ_INT(st.sandboxes_created, 0);
    corral_capability_release(clash);
    corral_capability_release(c);
    corral_loader_free(l);
}

TEST(programs_without_providers_and_their_forms) {
    corral_loader *l = corral_loader_new(NULL, NULL);
    struct out o = run(l, "async () => 42", NULL, 0, NULL);
    CHECK_EQ_STR(o.result, "42");
    o = run(l, "", NULL, 0, NULL);
    CHECK(!o.has_result && !o.has_error);
    o = run(l, "```js\nconst x = 2;\nx * 21\n```", NULL, 0, NULL);
    CHECK_EQ_STR(o.result, "42");
    o = run(l, "throw 'not an Error'", NULL, 0, NULL);
    CHECK(o.has_error);
    CHECK_CONTAINS(o.error, "not an Error");
    o = run(l, "console.log('x', {a: [1]}); console.error('e'); 1", NULL, 0, NULL);
    CHECK_EQ_INT(o.logs, 2);
    CHECK_EQ_STR(o.log0, "x { a: [ 1 ] }");
    corral_loader_free(l);
}

TEST(tool_call_still_running_when_the_program_returns) {
    corral_loader *l = corral_loader_new(NULL, NULL);
    corral_capability *c = tools(l);
    corral_provider p = {"codemode", c};
    struct out o = run(l, "codemode.later(); return 'returned first'", &p, 1, NULL);
    CHECK_EQ_STR(o.result, "\"returned first\"");
    /* the host answers the late call after the program ended: dropped */
    if (held) {
        corral_call_return_json(held, "1", 1);
        held = NULL;
    }
    corral_loader_run(l);
    corral_capability_release(c);
    corral_loader_free(l);
}

TEST(limits_and_truncation) {
    corral_loader *l = corral_loader_new(NULL, NULL);
    corral_capability *c = tools(l);
    corral_provider p = {"codemode", c};
    corral_limits lim = {0};
    lim.calls = 3;
    struct out o = run(l, "for (let i = 0; i < 5; i++) await codemode.get_weather(); 1", &p, 1, &lim);
    CHECK_CONTAINS(o.error, "more than 3 capability calls");
    memset(&lim, 0, sizeof lim);
    lim.cpu_ms = 50;
    o = run(l, "for (;;) {}", NULL, 0, &lim);
    CHECK_CONTAINS(o.error, "CPU time limit of 50 ms");
    o = run(l, "'x'.repeat(100000)", NULL, 0, NULL);
    CHECK_CONTAINS(o.result, "--- TRUNCATED ---");
    CHECK(strlen(o.result) < 30000);
    corral_capability_release(c);
    corral_loader_free(l);
}

static corral_call *parked;
static void park(corral_call *call, void *ud) { parked = call; }

TEST(a_running_program_is_cancelled_with_its_pending_tool_call) {
    corral_loader *l = corral_loader_new(NULL, NULL);
    corral_capability *c = corral_capability_new(l, "codemode");
    corral_capability_add_method(c, "wait", park, NULL, NULL);
    corral_provider p = {"codemode", c};
    struct out o;
    memset(&o, 0, sizeof o);
    corral_execution *e = NULL;
    parked = NULL;
    CHECK_EQ_INT(corral_execute_start(l, "await codemode.wait(); return 1", &p, 1, NULL, on_exec, &o, &e),
                 CORRAL_OK);
    CHECK(e != NULL);
    while (!parked && corral_loader_step(l, -1) > 0) {}
    CHECK(parked != NULL);
    corral_execution_cancel(e, "the client cancelled");
    while (!o.done && corral_loader_step(l, -1) > 0) {}
    CHECK_EQ_INT(o.done, 1);
    CHECK_EQ_STR(o.error, "the client cancelled");
    /* The tool answering afterwards is harmless. */
    CHECK_EQ_INT(corral_call_return_json(parked, "1", 1), CORRAL_OK);
    corral_loader_step(l, 0);
    /* The loader carries on. */
    struct out again = run(l, "return 2", &p, 1, NULL);
    CHECK_EQ_STR(again.result, "2");
    corral_capability_release(c);
    corral_loader_free(l);
}

TEST(a_cpu_bound_program_is_cancelled_between_turns) {
    corral_loader *l = corral_loader_new(NULL, NULL);
    struct out o;
    memset(&o, 0, sizeof o);
    corral_execution *e = NULL;
    CHECK_EQ_INT(corral_execute_start(l, "for (;;) await new Promise(r => setTimeout(r, 1));", NULL,
                                      0, NULL, on_exec, &o, &e),
                 CORRAL_OK);
    for (int i = 0; i < 5; i++) corral_loader_step(l, 5);
    CHECK_EQ_INT(o.done, 0);
    corral_execution_cancel(e, NULL);
    while (!o.done && corral_loader_step(l, -1) > 0) {}
    CHECK_EQ_INT(o.done, 1);
    CHECK_EQ_STR(o.error, "The program was cancelled.");
    corral_loader_free(l);
}
