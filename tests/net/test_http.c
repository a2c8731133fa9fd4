/* Tests of the built-in HTTP client (lib/net/http.c) through the public API:
 * a worker whose outbound goes to the host calls fetch(), and
 * corral_loader_allow_net() decides what it may reach.
 *
 * The server is in this process: a small HTTP/1.1 responder on a thread,
 * listening on 127.0.0.1 at a port the kernel picks, one thread per
 * connection so that slow and concurrent requests overlap. Every request
 * any test makes goes to loopback (127.0.0.1, or localhost); 127.0.0.2 is
 * only ever named as a host the client must refuse before connecting.
 *
 * Routes: /echo answers the request as JSON (method, path, body, headers);
 * /redirect?code=N&to=URL answers N with Location: URL (the rest of the
 * query after "to=", raw); /loop redirects to itself; /big?n=N[&close=1]
 * sends N bytes, with a Content-Length or ended by closing; /slow?ms=N
 * waits N ms first.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "corral.h"
#include "net/http.h"

/* ---- the server ---------------------------------------------------------- */

static int srv_fd = -1;
static int srv_port;
static pthread_t srv_thread;
static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t srv_cond = PTHREAD_COND_INITIALIZER;
static int srv_stop, srv_conns, srv_slow_seen;

static int srv_stopping(void) {
    pthread_mutex_lock(&srv_lock);
    int s = srv_stop;
    pthread_mutex_unlock(&srv_lock);
    return s;
}

static int send_all(int fd, const void *p, size_t len) {
    const char *c = p;
    while (len) {
        ssize_t n = send(fd, c, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        c += n;
        len -= (size_t)n;
    }
    return 0;
}

static void respond(int fd, int status, const char *extra_headers, const char *body, size_t len) {
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", status,
                     len, extra_headers ? extra_headers : "");
    if (send_all(fd, head, (size_t)n) == 0 && len) send_all(fd, body, len);
}

/* JSON string escaping into a growing buffer. */
struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(struct sbuf *b, const char *s, size_t n) {
    sb_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[8];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            sb_add(b, esc, 2);
        } else if (ch < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            sb_add(b, esc, 6);
        } else {
            sb_add(b, (const char *)&ch, 1);
        }
    }
    sb_add(b, "\"", 1);
}

static long query_num(const char *query, const char *key, long dflt) {
    if (!query) return dflt;
    const char *p = strstr(query, key);
    return p ? strtol(p + strlen(key), NULL, 10) : dflt;
}

static void serve(int fd) {
    char req[65536];
    size_t got = 0;
    char *end = NULL;
    while (!end) {
        if (got + 1 >= sizeof req) return;
        ssize_t n = recv(fd, req + got, sizeof req - 1 - got, 0);
        if (n <= 0) return;
        got += (size_t)n;
        req[got] = 0;
        end = strstr(req, "\r\n\r\n");
    }
    size_t head_len = (size_t)(end + 4 - req);
    char method[32], target[8192];
    if (sscanf(req, "%31s %8191s", method, target) != 2) return;
    size_t body_len = 0;
    for (char *line = strstr(req, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2)
        if (strncasecmp(line, "content-length:", 15) == 0) body_len = strtoul(line + 15, NULL, 10);
    if (body_len > sizeof req - 1 - head_len) return;
    while (got < head_len + body_len) {
        ssize_t n = recv(fd, req + got, head_len + body_len - got, 0);
        if (n <= 0) return;
        got += (size_t)n;
    }
    char *query = strchr(target, '?');
    if (query) *query++ = 0;
    const char *path = target;

    if (strcmp(path, "/redirect") == 0) {
        const char *to = query ? strstr(query, "to=") : NULL;
        char hdr[8300];
        snprintf(hdr, sizeof hdr, "Location: %s\r\n", to ? to + 3 : "/echo");
        respond(fd, (int)query_num(query, "code=", 302), hdr, "", 0);
    } else if (strcmp(path, "/loop") == 0) {
        respond(fd, 302, "Location: /loop\r\n", "", 0);
    } else if (strcmp(path, "/big") == 0) {
        size_t n = (size_t)query_num(query, "n=", 0);
        int close_delimited = query && strstr(query, "close=1");
        char head[256];
        int hl = close_delimited
                     ? snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                     : snprintf(head, sizeof head,
                                "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                                n);
        if (send_all(fd, head, (size_t)hl) < 0) return;
        static char chunk[65536];
        memset(chunk, 'x', sizeof chunk);
        while (n) {
            size_t k = n < sizeof chunk ? n : sizeof chunk;
            if (send_all(fd, chunk, k) < 0) return;
            n -= k;
        }
    } else if (strcmp(path, "/slow") == 0) {
        pthread_mutex_lock(&srv_lock);
        srv_slow_seen++;
        pthread_mutex_unlock(&srv_lock);
        long ms = query_num(query, "ms=", 1000);
        for (long t = 0; t < ms && !srv_stopping(); t += 10) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        respond(fd, 200, NULL, "slow", 4);
    } else {
        struct sbuf b = {0};
        sb_add(&b, "{\"method\":", 10);
        sb_str(&b, method, strlen(method));
        sb_add(&b, ",\"path\":", 8);
        sb_str(&b, path, strlen(path));
        sb_add(&b, ",\"body\":", 8);
        sb_str(&b, req + head_len, body_len);
        sb_add(&b, ",\"headers\":{", 12);
        int first = 1;
        for (char *line = strstr(req, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
            char *colon = strchr(line, ':');
            char *eol = strstr(line, "\r\n");
            if (!colon || colon > eol) continue;
            char *v = colon + 1;
            while (*v == ' ') v++;
            for (char *q = line; q < colon; q++)
                if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
            if (!first) sb_add(&b, ",", 1);
            first = 0;
            sb_str(&b, line, (size_t)(colon - line));
            sb_add(&b, ":", 1);
            sb_str(&b, v, (size_t)(eol - v));
        }
        sb_add(&b, "}}", 2);
        respond(fd, 200, "Content-Type: application/json\r\nX-Echo: yes\r\nX-Two: a\r\nX-Two: b\r\n",
                b.p, b.len);
        free(b.p);
    }
}

static void *conn_main(void *arg) {
    int fd = (int)(intptr_t)arg;
    serve(fd);
    shutdown(fd, SHUT_WR);
    close(fd);
    pthread_mutex_lock(&srv_lock);
    srv_conns--;
    pthread_cond_broadcast(&srv_cond);
    pthread_mutex_unlock(&srv_lock);
    return NULL;
}

static void *srv_main(void *arg) {
    (void)arg;
    while (!srv_stopping()) {
        struct pollfd p = {.fd = srv_fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        int fd = accept(srv_fd, NULL, NULL);
        if (fd < 0) continue;
        pthread_t t;
        pthread_mutex_lock(&srv_lock);
        srv_conns++;
        pthread_mutex_unlock(&srv_lock);
        if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) != 0) {
            close(fd);
            pthread_mutex_lock(&srv_lock);
            srv_conns--;
            pthread_mutex_unlock(&srv_lock);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

static void srv_shutdown(void) {
    pthread_mutex_lock(&srv_lock);
    srv_stop = 1;
    pthread_mutex_unlock(&srv_lock);
    pthread_join(srv_thread, NULL);
    pthread_mutex_lock(&srv_lock);
    while (srv_conns > 0) pthread_cond_wait(&srv_cond, &srv_lock);
    pthread_mutex_unlock(&srv_lock);
    close(srv_fd);
}

static int srv_start(void) {
    if (srv_fd >= 0) return srv_port;
    srv_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(srv_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(srv_fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(srv_fd, 256) < 0 ||
        getsockname(srv_fd, (struct sockaddr *)&a, &al) < 0) {
        perror("test server");
        exit(2);
    }
    srv_port = ntohs(a.sin_port);
    pthread_create(&srv_thread, NULL, srv_main, NULL);
    atexit(srv_shutdown);
    return srv_port;
}

/* ---- driving corral ------------------------------------------------------ */

static const char worker_js[] =
    "async function show(r) {\n"
    "  const text = await r.text();\n"
    "  const out = { status: r.status, type: r.headers.get('content-type'),\n"
    "                echo: r.headers.get('x-echo'), two: r.headers.get('x-two'), len: text.length };\n"
    "  if (out.type === 'application/json' && text) out.json = JSON.parse(text);\n"
    "  else if (text.length < 100) out.text = text;\n"
    "  return out;\n"
    "}\n"
    "export default {\n"
    "  async go(url, init) {\n"
    "    try { return await show(await fetch(url, init || {})); }\n"
    "    catch (e) { return { error: e.message, name: e.name }; }\n"
    "  },\n"
    "  async many(urls) {\n"
    "    const rs = await Promise.all(urls.map((u) => fetch(u).then((r) => r.json())));\n"
    "    return rs.map((j) => j.path).join(',');\n"
    "  },\n"
    "};\n";

struct outcome {
    int done;
    char *text;         /* value_json, or "ERROR name: message" */
};

static void on_done(const corral_result *r, void *ud) {
    struct outcome *o = ud;
    o->done = 1;
    if (r->outcome == CORRAL_OUTCOME_OK) {
        o->text = strdup(r->value_json ? r->value_json : "undefined");
    } else {
        size_t n = strlen(r->error_name) + strlen(r->error_message) + 16;
        o->text = malloc(n);
        snprintf(o->text, n, "ERROR %s: %s", r->error_name, r->error_message);
    }
}

static corral_worker *load_worker(corral_loader *l) {
    corral_code *code = corral_code_new();
    corral_code_set_compatibility_date(code, "2025-06-01");
    corral_code_set_main_module(code, "main.js");
    corral_code_add_module(code, "main.js", CORRAL_MODULE_INFER, worker_js, strlen(worker_js));
    corral_code_set_outbound(code, CORRAL_OUTBOUND_HOST);
    corral_error err;
    corral_worker *w = corral_load(l, code, &err);
    corral_code_free(code);
    if (!w) fprintf(stderr, "load: %s: %s\n", err.name, err.message);
    return w;
}

static corral_loader *net_loader(const char *allow) {
    corral_error err;
    corral_loader *l = corral_loader_new(NULL, &err);
    if (!l) return NULL;
    if (corral_loader_allow_net(l, allow, &err) != CORRAL_OK) {
        fprintf(stderr, "allow_net(%s): %s\n", allow, err.message);
        corral_loader_free(l);
        return NULL;
    }
    return l;
}

/* Calls method(args) on a fresh worker of `l`; returns what it answered. */
static char *call_on(corral_loader *l, const char *method, const char *args_json) {
    corral_worker *w = load_worker(l);
    if (!w) return strdup("no worker");
    struct outcome o = {0};
    if (corral_invoke(w, NULL, method, args_json, on_done, &o) != CORRAL_OK) o.text = strdup("invoke failed");
    else corral_loader_run(l);
    corral_worker_release(w);
    return o.text ? o.text : strdup("not done");
}

/* One fetch from a worker of a loader allowing `allow` ("%d" = our port).
 * `url` may name the port twice (%d), `init` once. */
static char *fetch_with(const char *allow, const char *url, const char *init) {
    int port = srv_start();
    char a[256], u[1024], args[2200];
    snprintf(a, sizeof a, allow, port);
    snprintf(u, sizeof u, url, port, port);
    char ini[1024];
    snprintf(ini, sizeof ini, init ? init : "{}", port);
    snprintf(args, sizeof args, "[\"%s\", %s]", u, ini);
    corral_loader *l = net_loader(a);
    if (!l) return strdup("no loader");
    char *r = call_on(l, "go", args);
    corral_loader_free(l);
    return r;
}

#define EXPECT(allow, url, init, ...)                                          \
    do {                                                                       \
        char *r_ = fetch_with(allow, url, init);                               \
        const char *want_[] = {__VA_ARGS__};                                   \
        for (size_t i_ = 0; i_ < sizeof want_ / sizeof *want_; i_++)           \
            CHECK_CONTAINS(r_, want_[i_]);                                     \
        free(r_);                                                              \
    } while (0)

/* ---- cases --------------------------------------------------------------- */

TEST(get_echoes_and_returns_headers) {
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/echo?x=1", "{\"headers\": {\"X-Test\": \"hello\"}}",
           "\"status\":200", "\"method\":\"GET\"", "\"path\":\"/echo\"", "\"x-test\":\"hello\"",
           "\"echo\":\"yes\"", "\"two\":\"a, b\"", "\"type\":\"application/json\"");
}

TEST(post_sends_body_and_headers) {
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/echo",
           "{\"method\": \"POST\", \"body\": \"a=1&b=\\u00e9\", \"headers\": {\"content-type\": "
           "\"text/x-test\", \"x-n\": \"7\"}}",
           "\"method\":\"POST\"", "\"body\":\"a=1&b=\u00e9\"", "\"content-type\":\"text/x-test\"",
           "\"x-n\":\"7\"");
}

TEST(put_and_delete_keep_their_method) {
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/echo", "{\"method\": \"PUT\", \"body\": \"v\"}",
           "\"method\":\"PUT\"", "\"body\":\"v\"");
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/echo", "{\"method\": \"DELETE\"}",
           "\"method\":\"DELETE\"");
}

TEST(head_and_plain_statuses_pass_through) {
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/echo", "{\"method\": \"HEAD\"}", "\"status\":200",
           "\"len\":0", "\"echo\":\"yes\"");
    /* a Location on a status that is not a redirect is just a header */
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/redirect?code=404&to=/echo", NULL,
           "\"status\":404");
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/redirect?code=300&to=/echo", NULL,
           "\"status\":300");
}

TEST(host_not_on_list_is_refused) {
    EXPECT("127.0.0.1:%d", "http://evil.example/", NULL, "\"name\":\"TypeError\"",
           "fetch to http://evil.example/ is refused: host evil.example is not in the --allow-net "
           "list (127.0.0.1:");
    /* localhost is another name for the same machine, but not on the list */
    EXPECT("127.0.0.1:%d", "http://localhost:%d/echo", NULL, "host localhost is not in");
    /* the list sees the host the URL really names, not a look-alike part */
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d@127.0.0.2/echo", NULL, "host 127.0.0.2 is not in");
    EXPECT("127.0.0.1:%d", "http://127.0.0.2\\\\@127.0.0.1:%d/echo", NULL,
           "host 127.0.0.2 is not in");
}

TEST(port_not_on_list_is_refused) {
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:1/echo", NULL,
           "is refused: port 1 of host 127.0.0.1 is not in the --allow-net list");
    /* the default port counts as the port */
    EXPECT("127.0.0.1:%d", "http://127.0.0.1/echo", NULL, "port 80 of host 127.0.0.1");
}

TEST(host_without_port_allows_any_port) {
    EXPECT("127.0.0.1", "http://127.0.0.1:%d/echo", NULL, "\"status\":200");
}

TEST(host_names_compare_case_insensitively) {
    EXPECT("LocalHost:%d", "http://localhost:%d/echo", NULL, "\"status\":200",
           "\"path\":\"/echo\"");
}

TEST(star_allows_any_host) {
    EXPECT("*", "http://127.0.0.1:%d/echo", NULL, "\"status\":200");
    EXPECT("localhost:1, *", "http://127.0.0.1:%d/echo", NULL, "\"status\":200");
}

TEST(ipv6_entries_compare_as_addresses) {
    /* [::1] and [0:0::1] are one address: the list lets it through and only
     * the connection fails (nothing listens on port 1). */
    EXPECT("[0:0::1]:1", "http://[::1]:1/", NULL, "fetch to http://[::1]:1/ failed");
    EXPECT("[::2]", "http://[::1]:1/", NULL, "host [::1] is not in");
}

TEST(non_http_schemes_are_refused) {
    EXPECT("*", "ftp://127.0.0.1/x", NULL,
           "fetch to ftp://127.0.0.1/x is refused: only http and https are allowed");
    EXPECT("*", "file:///etc/passwd", NULL, "only http and https are allowed");
}

TEST(redirect_to_allowed_path_is_followed) {
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/redirect?to=/echo", NULL, "\"status\":200",
           "\"path\":\"/echo\"", "\"method\":\"GET\"");
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/redirect?code=301&to=http://127.0.0.1:%d/echo",
           NULL, "\"status\":200", "\"path\":\"/echo\"");
}

TEST(redirect_changes_post_to_get_as_browsers_do) {
    const char *post = "{\"method\": \"POST\", \"body\": \"payload\"}";
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/redirect?code=302&to=/echo", post,
           "\"method\":\"GET\"", "\"body\":\"\"");
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/redirect?code=303&to=/echo", post,
           "\"method\":\"GET\"");
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/redirect?code=307&to=/echo", post,
           "\"method\":\"POST\"", "\"body\":\"payload\"");
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/redirect?code=308&to=/echo", post,
           "\"method\":\"POST\"", "\"body\":\"payload\"");
}

TEST(redirect_to_disallowed_host_is_refused) {
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/redirect?to=http://127.0.0.2:%d/echo", NULL,
           "\"name\":\"TypeError\"", "is refused: it redirected to http://127.0.0.2:",
           "host 127.0.0.2 is not in the --allow-net list");
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/redirect?to=http://127.0.0.1:1/", NULL,
           "port 1 of host 127.0.0.1 is not in");
}

TEST(redirect_to_other_scheme_is_refused) {
    EXPECT("*", "http://127.0.0.1:%d/redirect?to=ftp://127.0.0.1/", NULL,
           "it redirected to ftp://127.0.0.1/, and only http and https are allowed");
}

TEST(redirect_loop_stops_at_limit) {
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/loop", NULL,
           "redirected more than 20 times (corral's redirect limit)");
}

TEST(cross_origin_redirect_drops_credentials) {
    const char *auth = "{\"headers\": {\"authorization\": \"Bearer s\", \"x-keep\": \"1\"}}";
    EXPECT("127.0.0.1, localhost", "http://127.0.0.1:%d/redirect?to=http://localhost:%d/echo", auth,
           "\"x-keep\":\"1\"");
    char *r = fetch_with("127.0.0.1, localhost",
                         "http://127.0.0.1:%d/redirect?to=http://localhost:%d/echo", auth);
    CHECK(r && !strstr(r, "Bearer"));
    free(r);
    EXPECT("127.0.0.1", "http://127.0.0.1:%d/redirect?to=/echo", auth, "\"authorization\":\"Bearer s\"");
}

TEST(response_over_size_limit_fails) {
    /* a declared Content-Length over the limit fails before the body moves */
    EXPECT("127.0.0.1:%d", "http://127.0.0.1:%d/big?n=33554433", NULL,
           "failed: the response body is larger than 32 MiB (corral's outbound response size "
           "limit)");
}

TEST(size_limit_counts_bytes_without_content_length) {
    int port = srv_start();
    char allow[64], args[256];
    snprintf(allow, sizeof allow, "127.0.0.1:%d", port);
    corral_loader *l = net_loader(allow);
    struct net_limits lim = {.max_body = 100000};
    CHECK_EQ_INT(net_set_limits(l, &lim), CORRAL_OK);
    snprintf(args, sizeof args, "[\"http://127.0.0.1:%d/big?n=100000&close=1\"]", port);
    char *r = call_on(l, "go", args);
    CHECK_CONTAINS(r, "\"len\":100000");
    free(r);
    snprintf(args, sizeof args, "[\"http://127.0.0.1:%d/big?n=100001&close=1\"]", port);
    r = call_on(l, "go", args);
    CHECK_CONTAINS(r, "larger than 100000 bytes (corral's outbound response size limit)");
    free(r);
    corral_loader_free(l);
}

TEST(total_timeout_fails_the_fetch) {
    int port = srv_start();
    char allow[64], args[256];
    snprintf(allow, sizeof allow, "127.0.0.1:%d", port);
    corral_loader *l = net_loader(allow);
    struct net_limits lim = {.total_ms = 200};
    net_set_limits(l, &lim);
    snprintf(args, sizeof args, "[\"http://127.0.0.1:%d/slow?ms=3000\"]", port);
    char *r = call_on(l, "go", args);
    CHECK_CONTAINS(r, "failed: ");
    CHECK_CONTAINS(r, "200 ms in all");
    free(r);
    corral_loader_free(l);
}

TEST(bad_allow_strings_are_refused) {
    static const struct {
        const char *allow, *want;
    } bad[] = {
        {"", "has an empty entry"},
        {"a,,b", "\"a,,b\" has an empty entry"},
        {"a,", "has an empty entry"},
        {"http://a.example", "bad entry \"http://a.example\": write HOST or HOST:PORT, without a scheme"},
        {"::1", "bad entry \"::1\": an IPv6 address needs brackets"},
        {"[::1", "bad entry \"[::1\""},
        {"[nope]:80", "\"nope\" is not an IPv6 address"},
        {"[::1]x", "expected \":PORT\" after \"]\""},
        {"h:0", "bad entry \"h:0\": the port \"0\" is not a number from 1 to 65535"},
        {"h:65536", "the port \"65536\""},
        {"h:8x", "the port \"8x\""},
        {"h:", "the port \"\""},
        {":80", "bad entry \":80\": the host is empty"},
        {"*.example.com", "'*' cannot appear in a host name"},
        {"a b", "bad entry \"a b\": ' ' cannot appear"},
    };
    corral_loader *l = corral_loader_new(NULL, NULL);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        corral_error err = {0};
        CHECK_EQ_INT(corral_loader_allow_net(l, bad[i].allow, &err), CORRAL_EINVAL);
        CHECK_CONTAINS(err.message, bad[i].want);
    }
    corral_error err = {0};
    CHECK_EQ_INT(corral_loader_allow_net(l, NULL, &err), CORRAL_EINVAL);
    CHECK_EQ_INT(corral_loader_allow_net(l, "localhost, a.example:8080,[::1]:8080,[fe80::1],*", &err),
                 CORRAL_OK);
    corral_loader_free(l);
}

TEST(second_allow_net_replaces_the_list) {
    int port = srv_start();
    char allow[64], args[256];
    snprintf(args, sizeof args, "[\"http://127.0.0.1:%d/echo\"]", port);
    corral_loader *l = net_loader("127.0.0.1:1");
    char *r = call_on(l, "go", args);
    CHECK_CONTAINS(r, "is not in the --allow-net list (127.0.0.1:1)");
    free(r);
    snprintf(allow, sizeof allow, "127.0.0.1:%d", port);
    CHECK_EQ_INT(corral_loader_allow_net(l, allow, NULL), CORRAL_OK);
    r = call_on(l, "go", args);
    CHECK_CONTAINS(r, "\"status\":200");
    free(r);
    /* a bad list leaves the current one in force */
    CHECK_EQ_INT(corral_loader_allow_net(l, "a,,", NULL), CORRAL_EINVAL);
    r = call_on(l, "go", args);
    CHECK_CONTAINS(r, "\"status\":200");
    free(r);
    CHECK_EQ_INT(corral_loader_allow_net(l, "127.0.0.2", NULL), CORRAL_OK);
    r = call_on(l, "go", args);
    CHECK_CONTAINS(r, "host 127.0.0.1 is not in the --allow-net list (127.0.0.2)");
    free(r);
    corral_loader_free(l);
}

TEST(blocked_outbound_never_reaches_the_client) {
    /* allow_net lends the network only to code whose outbound is the host */
    int port = srv_start();
    char allow[64], args[256];
    snprintf(allow, sizeof allow, "127.0.0.1:%d", port);
    corral_loader *l = net_loader(allow);
    corral_code *code = corral_code_new();
    corral_code_set_compatibility_date(code, "2025-06-01");
    corral_code_set_main_module(code, "main.js");
    corral_code_add_module(code, "main.js", CORRAL_MODULE_INFER, worker_js, strlen(worker_js));
    corral_worker *w = corral_load(l, code, NULL);
    corral_code_free(code);
    snprintf(args, sizeof args, "[\"http://127.0.0.1:%d/echo\"]", port);
    struct outcome o = {0};
    corral_invoke(w, NULL, "go", args, on_done, &o);
    corral_loader_run(l);
    CHECK_CONTAINS(o.text, "is not permitted to access the internet");
    free(o.text);
    corral_worker_release(w);
    corral_loader_free(l);
}

static int done_after_free;
static void count_done(const corral_result *r, void *ud) {
    (void)r;
    (void)ud;
    done_after_free++;
}

TEST(loader_freed_with_fetch_in_flight) {
    int port = srv_start();
    char allow[64], args[256];
    snprintf(allow, sizeof allow, "127.0.0.1:%d", port);
    pthread_mutex_lock(&srv_lock);
    int seen0 = srv_slow_seen;
    pthread_mutex_unlock(&srv_lock);
    corral_loader *l = net_loader(allow);
    corral_worker *w = load_worker(l);
    snprintf(args, sizeof args, "[\"http://127.0.0.1:%d/slow?ms=5000\"]", port);
    for (int i = 0; i < 3; i++) corral_invoke(w, NULL, "go", args, count_done, NULL);
    int seen = 0;
    for (int i = 0; i < 200 && seen < seen0 + 3; i++) {
        corral_loader_step(l, 10);
        pthread_mutex_lock(&srv_lock);
        seen = srv_slow_seen;
        pthread_mutex_unlock(&srv_lock);
    }
    CHECK_EQ_INT(seen, seen0 + 3);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    corral_worker_release(w);
    corral_loader_free(l);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    CHECK(ms < 1000);
    CHECK_EQ_INT(done_after_free, 0);
}

TEST(loader_freed_before_the_thread_started) {
    corral_loader *l = net_loader("127.0.0.1");
    corral_loader_free(l);
}

TEST(fifty_concurrent_fetches) {
    int port = srv_start();
    char allow[64];
    snprintf(allow, sizeof allow, "127.0.0.1:%d", port);
    size_t cap = 50 * 64 + 16, len = 0;
    char *args = malloc(cap);
    len += (size_t)snprintf(args + len, cap - len, "[[");
    for (int i = 0; i < 50; i++)
        len += (size_t)snprintf(args + len, cap - len, "%s\"http://127.0.0.1:%d/p%d\"", i ? "," : "",
                                port, i);
    snprintf(args + len, cap - len, "]]");
    corral_loader *l = net_loader(allow);
    char *r = call_on(l, "many", args);
    CHECK_CONTAINS(r, "\"/p0,/p1,/p2,");
    CHECK_CONTAINS(r, ",/p48,/p49\"");
    free(r);
    free(args);
    corral_loader_free(l);
}
