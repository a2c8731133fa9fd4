/* search / describe (§2.8.7): the reference's verified scores and result
 * shapes over its example catalogue, then ranking details and the prompt
 * budget summary. */
#include "check.h"
#include "codemode/codemode.h"

static json_t *catalog(void) {
    json_error_t e;
    json_t *c = json_loads(
        "{\"connectors\":[{\"name\":\"github\",\"instructions\":\"GitHub access.\",\"tools\":{"
        "\"list_issues\":{\"description\":\"List repository issues\",\"inputSchema\":{\"type\":\"object\",\"properties\":"
        "{\"repo\":{\"type\":\"string\",\"description\":\"owner/name\"}},\"required\":[\"repo\"]}},"
        "\"create_issue\":{\"description\":\"Create a repository issue\",\"requiresApproval\":true,"
        "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"title\":{\"type\":\"string\"}}}},"
        "\"listPullRequests\":{\"description\":\"List pull requests\",\"inputSchema\":{\"type\":\"object\"}}}}],"
        "\"snippets\":[{\"name\":\"triage\",\"description\":\"Triage open issues\",\"code\":\"async () => 1\"}]}",
        0, &e);
    if (!c) fprintf(stderr, "catalog: %s\n", e.text);
    return c;
}

static const char *path_at(const json_t *r, size_t i) {
    return json_string_value(json_object_get(json_array_get(json_object_get(r, "results"), i), "path"));
}

static long score_at(const json_t *r, size_t i) {
    return (long)json_integer_value(json_object_get(json_array_get(json_object_get(r, "results"), i), "score"));
}

static size_t count(const json_t *r) { return json_array_size(json_object_get(r, "results")); }

TEST(reference_scores) {
    json_t *c = catalog();
    json_t *r = cm_search(c, "create issue");
    CHECK_EQ_INT(count(r), 1);
    CHECK_EQ_STR(path_at(r, 0), "github.create_issue");
    CHECK_EQ_INT(score_at(r, 0), 481);
    CHECK(json_is_true(json_object_get(json_array_get(json_object_get(r, "results"), 0), "requiresApproval")));
    CHECK_EQ_INT(json_integer_value(json_object_get(r, "total")), 1);
    CHECK(json_is_false(json_object_get(r, "truncated")));
    json_decref(r);

    r = cm_search(c, "issue");
    CHECK_EQ_INT(count(r), 3);
    CHECK_EQ_STR(path_at(r, 0), "github.create_issue");
    CHECK_EQ_INT(score_at(r, 0), 295);
    CHECK_EQ_STR(path_at(r, 1), "github.list_issues");
    CHECK_EQ_INT(score_at(r, 1), 241);
    CHECK_EQ_STR(path_at(r, 2), "triage");
    CHECK_EQ_INT(score_at(r, 2), 65);
    json_decref(r);

    r = cm_search(c, "pull request");
    CHECK_EQ_INT(count(r), 1);
    CHECK_EQ_STR(path_at(r, 0), "github.listPullRequests");
    CHECK_EQ_INT(score_at(r, 0), 349);
    json_decref(r);

    r = cm_search(c, "github");
    CHECK_EQ_INT(count(r), 3);
    for (size_t i = 0; i < 3; i++) CHECK_EQ_INT(score_at(r, i), 333);
    /* localeCompare order: "_" sorts before letters */
    CHECK_EQ_STR(path_at(r, 0), "github.create_issue");
    CHECK_EQ_STR(path_at(r, 1), "github.list_issues");
    CHECK_EQ_STR(path_at(r, 2), "github.listPullRequests");
    json_decref(r);

    r = cm_search(c, "zzz");
    CHECK_EQ_INT(count(r), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(r, "total")), 0);
    json_decref(r);
    json_decref(c);
}

TEST(result_shape) {
    json_t *c = catalog();
    json_t *r = cm_search(c, "triage");
    char *s = cm_json_stringify(r, 0);
    CHECK_EQ_STR(s, "{\"results\":[{\"path\":\"triage\",\"connector\":\"snippet\",\"method\":\"triage\","
                    "\"description\":\"Triage open issues\",\"kind\":\"snippet\",\"score\":514}],\"total\":1,\"truncated\":false}");
    free(s);
    json_decref(r);
    json_decref(c);
}

TEST(blank_queries_and_bad_catalogues) {
    json_t *c = catalog();
    const char *blank[] = {"", "   ", "___", "..", NULL};
    for (int i = 0; i < 5; i++) {
        json_t *r = cm_search(c, blank[i]);
        CHECK(r != NULL);
        CHECK_EQ_INT(count(r), 0);
        json_decref(r);
    }
    json_t *r = cm_search(NULL, "x");
    CHECK_EQ_INT(count(r), 0);
    json_decref(r);
    json_t *junk = json_pack("{s:[i,{s:i}],s:s}", "connectors", 1, "name", 2, "snippets", "x");
    r = cm_search(junk, "x");
    CHECK_EQ_INT(count(r), 0);
    json_decref(r);
    json_decref(junk);
    json_decref(c);
}

TEST(coverage_rules_and_truncation) {
    json_t *cat = json_object(), *conns = json_array(), *conn = json_object(), *tools = json_object();
    char name[32];
    for (int i = 0; i < 60; i++) {
        snprintf(name, sizeof name, "get_item_%02d", i);
        json_object_set_new(tools, name, json_pack("{s:s}", "description", "Fetch one item"));
    }
    json_object_set_new(conn, "name", json_string("store"));
    json_object_set_new(conn, "tools", tools);
    json_array_append_new(conns, conn);
    json_object_set_new(cat, "connectors", conns);
    json_t *r = cm_search(cat, "item");
    CHECK_EQ_INT(count(r), 50);
    CHECK_EQ_INT(json_integer_value(json_object_get(r, "total")), 60);
    CHECK(json_is_true(json_object_get(r, "truncated")));
    CHECK_EQ_STR(path_at(r, 0), "store.get_item_00");
    json_decref(r);
    /* two tokens need full coverage */
    r = cm_search(cat, "item banana");
    CHECK_EQ_INT(count(r), 0);
    json_decref(r);
    /* three tokens: 2/3 >= 0.6 */
    r = cm_search(cat, "fetch item banana");
    CHECK_EQ_INT(count(r), 50);
    json_decref(r);
    json_decref(cat);
}

TEST(describe_shapes) {
    json_t *c = catalog();
    json_t *r = cm_describe(c, "github.list_issues");
    char *s = cm_json_stringify(r, 0);
    CHECK_EQ_STR(s, "{\"path\":\"github.list_issues\",\"description\":\"List repository issues\","
                    "\"types\":\"type ListIssuesInput = {\\n    /** owner/name */\\n    repo: string;\\n}\\n"
                    "type ListIssuesOutput = unknown\",\"kind\":\"method\"}");
    free(s);
    json_decref(r);

    r = cm_describe(c, "create_issue");
    CHECK_EQ_STR(json_string_value(json_object_get(r, "path")), "github.create_issue");
    CHECK(json_is_true(json_object_get(r, "requiresApproval")));
    json_decref(r);

    r = cm_describe(c, "github");
    CHECK_EQ_STR(json_string_value(json_object_get(r, "kind")), "connector");
    CHECK_EQ_STR(json_string_value(json_object_get(r, "description")), "GitHub access.");
    const char *types = json_string_value(json_object_get(r, "types"));
    CHECK(types && strncmp(types, "GitHub access.\n\ntype ListIssuesInput = {", 40) == 0);
    CHECK_CONTAINS(types, "\n\ndeclare const github: {\n\t/**\n\t * List repository issues\n\t * @param input.repo - owner/name\n\t */\n");
    CHECK_CONTAINS(types, "\tlistPullRequests: (input: ListPullRequestsInput) => Promise<ListPullRequestsOutput>;\n}");
    json_decref(r);

    r = cm_describe(c, "triage");
    s = cm_json_stringify(r, 0);
    CHECK_EQ_STR(s, "{\"path\":\"triage\",\"description\":\"Triage open issues\","
                    "\"types\":\"Triage open issues\\n\\n```ts\\nasync () => 1\\n```\",\"kind\":\"snippet\"}");
    free(s);
    json_decref(r);

    r = cm_describe(c, "nope.x");
    s = cm_json_stringify(r, 0);
    CHECK_EQ_STR(s, "{\"path\":\"nope.x\",\"types\":\"\\\"nope.x\\\" not found.\",\"kind\":\"method\"}");
    free(s);
    json_decref(r);

    r = cm_describe(NULL, NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(r, "kind")), "method");
    json_decref(r);
    json_decref(c);
}

TEST(catalog_prompt_budget) {
    json_t *c = catalog();
    char *full = cm_catalog_prompt(c, 100000);
    CHECK(full && strncmp(full, "GitHub access.\n\ntype ListIssuesInput", 36) == 0);
    free(full);
    char *sum = cm_catalog_prompt(c, 10);
    CHECK_EQ_STR(sum, "Available namespaces (use codemode.describe for types):\n"
                      "- github: list_issues, create_issue, listPullRequests\n");
    free(sum);
    json_decref(c);
}
