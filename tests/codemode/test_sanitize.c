/* sanitizeToolName (§2.5) and the executor's provider/connector name checks
 * (§2.3.1): every verified example, then the error messages in order. */
#include "check.h"
#include "codemode/codemode.h"

#define SAN(in, expected)                          \
    do {                                           \
        char *got_ = cm_sanitize_tool_name(in);    \
        CHECK_EQ_STR(got_, expected);              \
        free(got_);                                \
    } while (0)

TEST(reference_examples) {
    SAN("my-tool", "my_tool");
    SAN("get-weather", "get_weather");
    SAN("api.v2.search", "api_v2_search");
    SAN("my tool", "my_tool");
    SAN("3d-render", "_3d_render");
    SAN("3drender", "_3drender");
    SAN("delete", "delete_");
    SAN("class", "class_");
    SAN("undefined", "undefined_");
    SAN("hello@world!", "helloworld");
    SAN("@#$", "$");
    SAN("@#!", "_");
    SAN("", "_");
    SAN("\xcf\x83", "_"); /* σ */
    SAN("getWeather", "getWeather");
    SAN("_private", "_private");
    SAN("$jquery", "$jquery");
    SAN("foo.bar-baz", "foo_bar_baz");
}

TEST(more_cases) {
    SAN(NULL, "_");
    SAN("NaN", "NaN");
    SAN("yield", "yield_");
    SAN("a\tb\nc", "a_b_c");
    SAN("a\xc2\xa0" "b", "a_b");      /* NBSP is \s */
    SAN("a\xe3\x80\x80" "b", "a_b");  /* ideographic space */
    SAN("caf\xc3\xa9", "caf");
    SAN("1", "_1");
    SAN("list-issues", "list_issues");
    SAN("***", "_");
    SAN("a.b c", "a_b_c");
    SAN("\xff\xfe", "_");             /* invalid UTF-8 never crashes */
}

TEST(identifier_check) {
    CHECK(cm_is_identifier("a", 1));
    CHECK(cm_is_identifier("$_a9", 4));
    CHECK(!cm_is_identifier("9a", 2));
    CHECK(!cm_is_identifier("my-tools", 8));
    CHECK(!cm_is_identifier("", 0));
}

static char *validate(const cm_provider *p, size_t n, const char *const *c, size_t nc) {
    return cm_validate_names(p, n, c, nc);
}

#define VALID(p, n, c, nc, expected)                                   \
    do {                                                               \
        char *got_ = validate(p, n, c, nc);                            \
        if (expected) CHECK_EQ_STR(got_, (const char *)expected);      \
        else CHECK(got_ == NULL);                                      \
        free(got_);                                                    \
    } while (0)

TEST(provider_validation_messages) {
    static const char *const tools[] = {"list-issues", "list_issues"};
    static const char *const ok_tools[] = {"a", "b-c"};
    cm_provider reserved[] = {{"console", NULL, 0}};
    VALID(reserved, 1, NULL, 0, "Provider name \"console\" is reserved");
    cm_provider reserved2[] = {{"__dispatchers", NULL, 0}};
    VALID(reserved2, 1, NULL, 0, "Provider name \"__dispatchers\" is reserved");
    cm_provider bad[] = {{"my-tools", NULL, 0}};
    VALID(bad, 1, NULL, 0, "Provider name \"my-tools\" is not a valid JavaScript identifier");
    cm_provider dup[] = {{"a", NULL, 0}, {"a", NULL, 0}};
    VALID(dup, 2, NULL, 0, "Duplicate provider name \"a\"");
    cm_provider collide[] = {{"codemode", tools, 2}};
    VALID(collide, 1, NULL, 0,
          "Tool names \"list-issues\" and \"list_issues\" both sanitize to \"list_issues\" in provider \"codemode\"");
    cm_provider fine[] = {{"codemode", ok_tools, 2}, {"state", NULL, 0}};
    VALID(fine, 2, NULL, 0, NULL);
    VALID(NULL, 0, NULL, 0, NULL);
}

TEST(connector_validation_messages) {
    cm_provider a[] = {{"a", NULL, 0}};
    static const char *const clash[] = {"a"};
    VALID(a, 1, clash, 1, "Duplicate name \"a\" (connector clashes with provider)");
    static const char *const res[] = {"Promise"};
    VALID(a, 1, res, 1, "Connector name \"Promise\" is reserved");
    static const char *const bad[] = {"x y"};
    VALID(a, 1, bad, 1, "Connector name \"x y\" is not a valid JavaScript identifier");
    static const char *const twice[] = {"gh", "gh"};
    VALID(a, 1, twice, 2, "Duplicate name \"gh\" (connector clashes with provider)");
    static const char *const fine[] = {"gh", "db"};
    VALID(a, 1, fine, 2, NULL);
    /* Providers are checked first, in order. */
    cm_provider bad_first[] = {{"bad-name", NULL, 0}};
    VALID(bad_first, 1, res, 1, "Provider name \"bad-name\" is not a valid JavaScript identifier");
}
