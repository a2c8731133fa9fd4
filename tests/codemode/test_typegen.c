/* JSON Schema to TypeScript (§2.6): the reference's verified examples byte
 * for byte, then each conversion rule, the depth and cycle guards and the
 * degrade-to-unknown behaviour for schemas the reference cannot walk. */
#include "check.h"
#include "codemode/codemode.h"

static json_t *J(const char *text) {
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v) fprintf(stderr, "bad test JSON: %s: %s\n", text, e.text);
    return v;
}

static char *ty(const char *schema, const char *name) {
    json_t *s = J(schema);
    char *out = cm_json_schema_to_type(s, name);
    json_decref(s);
    return out;
}

#define TY(schema, expected)                     \
    do {                                         \
        char *got_ = ty(schema, "T");            \
        CHECK_EQ_STR(got_, "type T = " expected); \
        free(got_);                              \
    } while (0)

static char *gen(const char *tools, const char *ns) {
    json_t *t = tools ? J(tools) : NULL;
    char *out = cm_generate_types(t, ns);
    json_decref(t);
    return out;
}

TEST(reference_json_schema_to_type) {
    char *got = ty("{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"age\":{\"type\":\"number\"}},\"required\":[\"name\"]}",
                   "UserInput");
    CHECK_EQ_STR(got, "type UserInput = {\n    name: string;\n    age?: number;\n}");
    free(got);
    got = ty("{\"type\":\"string\"}", "NameInput");
    CHECK_EQ_STR(got, "type NameInput = string");
    free(got);
    got = ty("{\"type\":\"object\"}", "EmptyInput");
    CHECK_EQ_STR(got, "type EmptyInput = Record<string, unknown>");
    free(got);
    TY("{}", "unknown");
    TY("{\"enum\": []}", "never");
    TY("{\"type\":\"array\",\"items\":{\"type\":\"string\"}}", "string[]");
}

TEST(reference_generate_types_get_weather) {
    char *got = gen("{\"getWeather\":{\"description\":\"Get weather for a city\",\"inputSchema\":{\"type\":\"object\","
                    "\"properties\":{\"city\":{\"type\":\"string\",\"description\":\"City name\"},"
                    "\"units\":{\"type\":\"string\",\"enum\":[\"celsius\",\"fahrenheit\"]}},\"required\":[\"city\"]}}}",
                    NULL);
    CHECK_EQ_STR(got,
                 "type GetWeatherInput = {\n"
                 "    /** City name */\n"
                 "    city: string;\n"
                 "    units?: \"celsius\" | \"fahrenheit\";\n"
                 "}\n"
                 "type GetWeatherOutput = unknown\n"
                 "\n"
                 "declare const codemode: {\n"
                 "\t/**\n"
                 "\t * Get weather for a city\n"
                 "\t * @param input.city - City name\n"
                 "\t */\n"
                 "\tgetWeather: (input: GetWeatherInput) => Promise<GetWeatherOutput>;\n"
                 "}");
    free(got);
}

TEST(empty_and_null_tool_sets) {
    char *got = gen("{}", NULL);
    CHECK_EQ_STR(got, "declare const codemode: {}");
    free(got);
    got = gen(NULL, "github");
    CHECK_EQ_STR(got, "declare const github: {}");
    free(got);
}

TEST(two_tools_output_schema_and_names) {
    char *got = gen("{\"add\":{\"description\":\"Add two numbers\",\"inputSchema\":{\"type\":\"object\",\"properties\":"
                    "{\"a\":{\"type\":\"number\",\"description\":\"First number\"},\"b\":{\"type\":\"number\",\"description\":\"Second number\"}},"
                    "\"required\":[\"a\",\"b\"]},\"outputSchema\":{\"type\":\"number\"}},"
                    "\"get-item_list\":{\"inputSchema\":{\"type\":\"object\"}}}", "ns");
    CHECK_EQ_STR(got,
                 "type AddInput = {\n"
                 "    /** First number */\n"
                 "    a: number;\n"
                 "    /** Second number */\n"
                 "    b: number;\n"
                 "}\n"
                 "type AddOutput = number\n"
                 "type GetItemListInput = Record<string, unknown>\n"
                 "type GetItemListOutput = unknown\n"
                 "\n"
                 "declare const ns: {\n"
                 "\t/**\n"
                 "\t * Add two numbers\n"
                 "\t * @param input.a - First number\n"
                 "\t * @param input.b - Second number\n"
                 "\t */\n"
                 "\tadd: (input: AddInput) => Promise<AddOutput>;\n"
                 "\n"
                 "\t/**\n"
                 "\t * get-item_list\n"
                 "\t */\n"
                 "\tget_item_list: (input: GetItemListInput) => Promise<GetItemListOutput>;\n"
                 "}");
    free(got);
}

TEST(pascal_case) {
    const char *cases[][2] = {{"get_item", "GetItem"}, {"listPullRequests", "ListPullRequests"},
                              {"_private", "Private"}, {"a__b", "A_B"}, {"_3d_render", "_3dRender"},
                              {"$x", "$x"}, {"delete_", "Delete_"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = cm_pascal_case(cases[i][0]);
        CHECK_EQ_STR(got, cases[i][1]);
        free(got);
    }
}

TEST(refs_and_cycles) {
    TY("{\"$defs\":{\"X\":{\"type\":\"string\"}},\"type\":\"object\",\"properties\":{\"x\":{\"$ref\":\"#/$defs/X\"}}}",
       "{\n    x?: string;\n}");
    TY("{\"definitions\":{\"a/b\":{\"type\":\"number\"},\"c~d\":{\"type\":\"boolean\"}},\"anyOf\":"
       "[{\"$ref\":\"#/definitions/a~1b\"},{\"$ref\":\"#/definitions/c~0d\"}]}", "number | boolean");
    TY("{\"$ref\":\"https://example.com/x.json\"}", "unknown");
    TY("{\"$ref\":\"#/nope\"}", "unknown");
    /* self reference: the root is on the stack */
    TY("{\"type\":\"object\",\"properties\":{\"next\":{\"$ref\":\"#\"}}}", "{\n    next?: unknown;\n}");
    /* a linked list through $defs: cycle stops at the repeated node */
    TY("{\"$ref\":\"#/$defs/N\",\"$defs\":{\"N\":{\"type\":\"object\",\"properties\":{\"n\":{\"$ref\":\"#/$defs/N\"}}}}}",
       "{\n    n?: unknown;\n}");
    TY("{\"$ref\":\"#/$defs/F\",\"$defs\":{\"F\":false}}", "unknown");
    TY("{\"$ref\":\"#/$defs/T\",\"$defs\":{\"T\":true}}", "unknown");
    TY("{\"$ref\":\"#/$defs/S\",\"nullable\":true,\"$defs\":{\"S\":{\"type\":\"string\"}}}", "string | null");
    TY("{\"$ref\":\"#/items/0\",\"items\":[{\"type\":\"string\"}]}", "string");
}

TEST(enums_consts_literals) {
    TY("{\"enum\":[\"a\\\"b\",\"c\\\\d\",\"e\\nf\",null,1,2.5,true,{\"k\":[1]},1e21,\"\\u0001\\u007f\\u2028\"]}",
       "\"a\\\"b\" | \"c\\\\d\" | \"e\\nf\" | null | 1 | 2.5 | true | {\"k\":[1]} | 1e+21 | \"\\u0001\\u007f\\u2028\"");
    TY("{\"const\":\"x\"}", "\"x\"");
    TY("{\"const\":null}", "null");
    TY("{\"const\":0.1}", "0.1");
    TY("{\"const\":[1,\"a\"]}", "[1,\"a\"]");
    TY("{\"enum\":[\"a\"],\"nullable\":true}", "\"a\" | null");
    TY("{\"enum\":[],\"nullable\":true}", "never");
}

TEST(types_unions_arrays) {
    TY("{\"type\":\"integer\"}", "number");
    TY("{\"type\":\"boolean\",\"nullable\":true}", "boolean | null");
    TY("{\"type\":\"null\",\"nullable\":true}", "null");
    TY("{\"type\":[\"string\",\"null\"]}", "string | null");
    TY("{\"type\":[\"array\",\"object\",\"integer\",\"weird\"]}", "unknown[] | Record<string, unknown> | number | unknown");
    TY("{\"type\":\"array\"}", "unknown[]");
    TY("{\"type\":\"array\",\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"number\"}]}", "[string, number]");
    TY("{\"type\":\"array\",\"items\":[{\"type\":\"boolean\"}]}", "[boolean]");
    TY("{\"type\":\"array\",\"items\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"number\"}]}}", "string | number[]");
    TY("{\"oneOf\":[{\"type\":\"string\"},true,false]}", "string | unknown | never");
    TY("{\"allOf\":[{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}},{\"type\":\"object\"}]}",
       "{\n    a?: string;\n} & Record<string, unknown>");
    TY("true", "unknown");
    TY("false", "never");
    TY("{\"type\":\"whatever\"}", "unknown");
    TY("{\"type\":\"string\",\"nullable\":\"yes\"}", "string");
}

TEST(objects_properties_jsdoc) {
    TY("{\"type\":\"object\",\"properties\":{\"bad-key\":{\"type\":\"string\"},\"\":{},\"ok\":true,\"no\":false},\"required\":[\"ok\"]}",
       "{\n    \"bad-key\"?: string;\n    \"\"?: unknown;\n    ok: unknown;\n    no?: never;\n}");
    TY("{\"type\":\"object\",\"properties\":{\"d\":{\"type\":\"string\",\"format\":\"date-time\"},"
       "\"e\":{\"type\":\"string\",\"description\":\"line1\\nline2 */\",\"format\":\"email\"}}}",
       "{\n    /** @format date-time */\n    d?: string;\n    /**\n     * line1 line2 *\\/\n     * @format email\n     */\n    e?: string;\n}");
    TY("{\"type\":\"object\",\"additionalProperties\":false}", "{}");
    TY("{\"type\":\"object\",\"additionalProperties\":true}", "{\n    [key: string]: unknown;\n}");
    TY("{\"type\":\"object\",\"additionalProperties\":{\"type\":\"number\"}}", "{\n    [key: string]: number;\n}");
    TY("{\"type\":\"object\",\"nullable\":true}", "Record<string, unknown> | null");
    TY("{\"properties\":{\"o\":{\"type\":\"object\",\"properties\":{\"i\":{\"type\":\"number\"}}}}}",
       "{\n    o?: {\n        i?: number;\n    };\n}");
    /* integer-like keys come first, as in a JavaScript object */
    TY("{\"properties\":{\"b\":{},\"2\":{},\"1\":{}}}", "{\n    \"1\"?: unknown;\n    \"2\"?: unknown;\n    b?: unknown;\n}");
    /* a string `required` is a set of its characters */
    TY("{\"properties\":{\"a\":{},\"ab\":{}},\"required\":\"abc\"}", "{\n    a: unknown;\n    ab?: unknown;\n}");
}

TEST(depth_limit) {
    /* 25 nested arrays: the 21st level is unknown */
    char buf[2048] = "";
    for (int i = 0; i < 25; i++) strcat(buf, "{\"type\":\"array\",\"items\":");
    strcat(buf, "{\"type\":\"string\"}");
    for (int i = 0; i < 25; i++) strcat(buf, "}");
    char expected[256] = "unknown";
    for (int i = 0; i < 20; i++) strcat(expected, "[]");
    char *got = ty(buf, "T");
    char full[300];
    snprintf(full, sizeof full, "type T = %s", expected);
    CHECK_EQ_STR(got, full);
    free(got);
}

TEST(malformed_schemas_throw_and_degrade) {
    CHECK(ty("{\"anyOf\":{}}", "T") == NULL);
    CHECK(ty("{\"enum\":\"abc\"}", "T") == NULL);
    CHECK(ty("{\"$ref\":5}", "T") == NULL);
    CHECK(ty("{\"properties\":{\"a\":null}}", "T") == NULL);
    CHECK(ty("{\"properties\":{\"a\":{\"description\":5}}}", "T") == NULL);
    CHECK(ty("{\"properties\":{\"a\":{}},\"required\":5}", "T") == NULL);
    CHECK(ty("null", "T") == NULL);
    CHECK(cm_json_schema_to_type(NULL, "T") == NULL);
    TY("\"a string\"", "unknown");
    TY("[1,2]", "unknown");
    TY("{\"$ref\":\"\"}", "unknown");
    char *got = gen("{\"bad\":{\"description\":\"d\",\"inputSchema\":{\"anyOf\":5}},\"none\":{},\"num\":7,"
                    "\"ok\":{\"inputSchema\":{\"type\":\"string\"}},\"descnum\":{\"description\":3,\"inputSchema\":{}}}", NULL);
    CHECK_EQ_STR(got,
                 "type BadInput = unknown\n"
                 "type BadOutput = unknown\n"
                 "type NoneInput = unknown\n"
                 "type NoneOutput = unknown\n"
                 "type NumInput = unknown\n"
                 "type NumOutput = unknown\n"
                 "type OkInput = string\n"
                 "type OkOutput = unknown\n"
                 "type DescnumInput = unknown\n"
                 "type DescnumOutput = unknown\n"
                 "type DescnumInput = unknown\n"
                 "type DescnumOutput = unknown\n"
                 "\n"
                 "declare const codemode: {\n"
                 "\t/**\n\t * bad\n\t */\n\tbad: (input: BadInput) => Promise<BadOutput>;\n\n"
                 "\t/**\n\t * none\n\t */\n\tnone: (input: NoneInput) => Promise<NoneOutput>;\n\n"
                 "\t/**\n\t * num\n\t */\n\tnum: (input: NumInput) => Promise<NumOutput>;\n\n"
                 "\t/**\n\t * ok\n\t */\n\tok: (input: OkInput) => Promise<OkOutput>;\n\n"
                 "\t/**\n\t * descnum\n\t */\n\tdescnum: (input: DescnumInput) => Promise<DescnumOutput>;\n"
                 "}");
    free(got);
}

TEST(ref_fanout_is_bounded) {
    /* Each level references the next eight times: 8^10 leaves before the
     * depth limit in the reference. We stop at the work bound and degrade
     * instead of running for ever. */
    char buf[16384];
    size_t o = (size_t)snprintf(buf, sizeof buf, "{\"$ref\":\"#/$defs/L0\",\"$defs\":{");
    for (int i = 0; i < 30; i++) {
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\"L%d\":{\"anyOf\":[", i ? "," : "", i);
        for (int k = 0; k < 8; k++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s{\"$ref\":\"#/$defs/L%d\"}", k ? "," : "", i + 1);
        o += (size_t)snprintf(buf + o, sizeof buf - o, "]}");
    }
    snprintf(buf + o, sizeof buf - o, "}}");
    char *got = ty(buf, "T");
    CHECK(got == NULL);
    free(got);
    /* A small fan-out is converted in full, as the reference does. */
    got = ty("{\"$ref\":\"#/$defs/A\",\"$defs\":{\"A\":{\"anyOf\":[{\"$ref\":\"#/$defs/B\"},{\"$ref\":\"#/$defs/B\"}]},"
             "\"B\":{\"type\":\"string\"}}}", "T");
    CHECK_EQ_STR(got, "type T = string | string");
    free(got);
}
