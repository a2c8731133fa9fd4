/* Truncation (§2.10, 0.5.6 semantics) and the JavaScript-compatible JSON
 * text it measures with. */
#include "check.h"
#include "codemode/codemode.h"

static json_t *J(const char *text) {
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v) fprintf(stderr, "bad test JSON: %s: %s\n", text, e.text);
    return v;
}

static char *dump(const json_t *v) { return cm_json_stringify(v, 0); }

TEST(truncate_response_reference) {
    const char *text = "abcdefghijklmnopqrstuvwxyz0123"; /* 30 chars */
    cm_truncate_opts o = {10, -1};
    char *got = cm_truncate_response(text, strlen(text), &o);
    CHECK_EQ_STR(got, "abcdefghij\n\n--- TRUNCATED ---\nResponse was ~8 tokens (limit: 6,000). "
                      "Narrow the request to reduce response size.");
    free(got);
    got = cm_truncate_response(text, strlen(text), NULL);
    CHECK_EQ_STR(got, text);
    free(got);
    /* maxChars defaults to maxTokens * 4 */
    cm_truncate_opts t = {-1, 5};
    got = cm_truncate_response(text, strlen(text), &t);
    CHECK_EQ_STR(got, "abcdefghijklmnopqrst\n\n--- TRUNCATED ---\nResponse was ~8 tokens (limit: 5). "
                      "Narrow the request to reduce response size.");
    free(got);
}

TEST(truncate_response_counts_utf16) {
    /* "é" is one unit, "😀" two; a pair is never split */
    const char *text = "\xc3\xa9\xc3\xa9\xf0\x9f\x98\x80xyz";
    cm_truncate_opts o = {3, 1000000};
    char *got = cm_truncate_response(text, strlen(text), &o);
    CHECK_EQ_STR(got, "\xc3\xa9\xc3\xa9\n\n--- TRUNCATED ---\nResponse was ~2 tokens (limit: 1,000,000). "
                      "Narrow the request to reduce response size.");
    free(got);
    CHECK_EQ_INT(cm_estimate_tokens(0), 0);
    CHECK_EQ_INT(cm_estimate_tokens(1), 1);
    CHECK_EQ_INT(cm_estimate_tokens(8), 2);
    CHECK_EQ_INT(cm_estimate_tokens(9), 3);
}

TEST(truncate_result_reference_items) {
    json_t *items = json_array();
    for (int i = 0; i < 500; i++) json_array_append_new(items, json_pack("{s:i}", "i", i));
    json_t *v = json_pack("{s:o}", "items", items);
    cm_truncate_opts o = {200, -1};
    json_t *r = cm_truncate_result(v, &o);
    char *got = dump(r);
    cm_buf want = {0};
    cm_buf_puts(&want, "{\"items\":[");
    for (int i = 0; i <= 17; i++) cm_buf_printf(&want, "{\"i\":%d},", i);
    cm_buf_puts(&want, "\"--- TRUNCATED --- 482 more items\"]}");
    char *w = cm_buf_take(&want);
    CHECK_EQ_STR(got, w);
    CHECK(strlen(got) <= 200);
    free(w);
    free(got);
    json_decref(r);
    json_decref(v);
}

TEST(truncate_result_within_budget_is_same_value) {
    json_t *v = J("{\"a\":[1,2,3]}");
    json_t *r = cm_truncate_result(v, NULL);
    CHECK(r == v);
    json_decref(r);
    json_decref(v);
    CHECK(cm_truncate_result(NULL, NULL) == NULL);
}

TEST(truncate_result_string_and_object) {
    json_t *s = json_string("0123456789abcdefghij");
    cm_truncate_opts o = {5, -1};
    json_t *r = cm_truncate_result(s, &o);
    CHECK_EQ_STR(json_string_value(r), "01234\n\n--- TRUNCATED ---\nResponse was ~5 tokens (limit: 6,000). "
                                       "Narrow the request to reduce response size.");
    json_decref(r);
    json_decref(s);

    /* A long string inside an object is clipped with its size note. */
    cm_buf big = {0};
    for (int i = 0; i < 1000; i++) cm_buf_putc(&big, 'x');
    char *bs = cm_buf_take(&big);
    json_t *v = json_pack("{s:s,s:i}", "text", bs, "n", 1);
    cm_truncate_opts o2 = {100, -1};
    r = cm_truncate_result(v, &o2);
    char *got = dump(r);
    CHECK(got && strlen(got) <= 100);
    CHECK_CONTAINS(got, " --- TRUNCATED --- 1,000 chars\"");
    CHECK_CONTAINS(got, "\"n\":1");
    free(got);
    json_decref(r);
    json_decref(v);

    /* Many big values: the largest are dropped and named in a marker. */
    v = json_object();
    const char *keys[] = {"a", "b", "c", "d", "e", "f"};
    for (int i = 0; i < 6; i++) json_object_set_new(v, keys[i], json_string(bs));
    cm_truncate_opts o3 = {300, -1};
    r = cm_truncate_result(v, &o3);
    got = dump(r);
    CHECK(got && strlen(got) <= 300);
    CHECK_CONTAINS(got, "\"--- TRUNCATED ---\":\"");
    CHECK_CONTAINS(got, "keys omitted: ");
    free(got);
    json_decref(r);
    json_decref(v);
    free(bs);
}

TEST(truncate_result_marker_key_never_shadows) {
    json_t *v = J("{\"--- TRUNCATED ---\":1,\"a\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\","
                  "\"b\":\"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\"}");
    cm_truncate_opts o = {120, -1};
    json_t *r = cm_truncate_result(v, &o);
    char *got = dump(r);
    CHECK(got && strlen(got) <= 120);
    CHECK_EQ_INT(json_integer_value(json_object_get(r, "--- TRUNCATED ---")), 1);
    CHECK(json_is_string(json_object_get(r, "--- TRUNCATED --- ")));
    free(got);
    json_decref(r);
    json_decref(v);
}

TEST(truncate_result_tiny_budgets_and_scalars) {
    json_t *v = J("[\"abcdefghijklmnopqrstuvwxyz\", 1234567890123]");
    for (long b = 0; b < 40; b++) {
        cm_truncate_opts o = {b, -1};
        json_t *r = cm_truncate_result(v, &o);
        CHECK(r != NULL);
        if (json_is_array(r)) {
            char *got = dump(r);
            CHECK(got && (long)strlen(got) <= b);
            free(got);
        } else {
            CHECK(json_is_string(r)); /* the text fallback */
        }
        json_decref(r);
    }
    json_decref(v);
    /* A bare number too long for the budget falls back to text. */
    json_t *n = json_real(1.2345678901234567e-300);
    cm_truncate_opts o = {5, -1};
    json_t *r = cm_truncate_result(n, &o);
    CHECK(json_is_string(r));
    CHECK_CONTAINS(json_string_value(r), "1.234\n\n--- TRUNCATED ---");
    json_decref(r);
    json_decref(n);
}

TEST(js_json_stringify) {
    json_t *v = J("{\"b\":1,\"10\":2,\"2\":3,\"a\":[1.5,1e21,1e-7,-0.0,100,\"\\u0001\\\"\\u2028\"],\"e\":{},\"f\":[]}");
    char *got = dump(v);
    CHECK_EQ_STR(got, "{\"2\":3,\"10\":2,\"b\":1,\"a\":[1.5,1e+21,1e-7,0,100,\"\\u0001\\\"\xe2\x80\xa8\"],\"e\":{},\"f\":[]}");
    free(got);
    got = cm_json_stringify(v, 2);
    CHECK_EQ_STR(got, "{\n  \"2\": 3,\n  \"10\": 2,\n  \"b\": 1,\n  \"a\": [\n    1.5,\n    1e+21,\n    1e-7,\n    0,\n    100,\n"
                      "    \"\\u0001\\\"\xe2\x80\xa8\"\n  ],\n  \"e\": {},\n  \"f\": []\n}");
    free(got);
    json_decref(v);
    char num[40];
    cm_js_number(0.1 + 0.2, num);
    CHECK_EQ_STR(num, "0.30000000000000004");
    cm_js_number(123456789012345680000.0, num);
    CHECK_EQ_STR(num, "123456789012345680000");
    cm_js_number(0.000001, num);
    CHECK_EQ_STR(num, "0.000001");
    cm_js_number(-2.5e-7, num);
    CHECK_EQ_STR(num, "-2.5e-7");
    char g[32];
    cm_group_thousands(1234567, g);
    CHECK_EQ_STR(g, "1,234,567");
    cm_group_thousands(999, g);
    CHECK_EQ_STR(g, "999");
}

TEST(too_deep_is_unserializable) {
    json_t *root = json_array(), *cur = root;
    for (int i = 0; i < CM_JSON_MAX_DEPTH + 10; i++) {
        json_t *n = json_array();
        json_array_append_new(cur, n);
        cur = n;
    }
    cm_truncate_opts o = {10, -1};
    json_t *r = cm_truncate_result(root, &o);
    CHECK(r == root);
    json_decref(r);
    CHECK(cm_json_stringify(root, 0) == NULL);
    json_decref(root);
}
