/* lib/net/http.c — corral's built-in outbound HTTP client (libcurl).
 *
 * A worker whose outbound is CORRAL_OUTBOUND_HOST hands every fetch() to the
 * loader's outbound handler. corral_loader_allow_net() installs this file's
 * handler, which performs the request with libcurl, but only towards the
 * hosts (and ports) the operator listed, only over http and https, and it
 * re-checks both rules on every redirect hop: redirects are followed here,
 * not by curl, precisely so that no hop escapes the list.
 *
 * Shape. The loader is single-threaded and must never block, so all curl
 * work happens on one background thread per client, started on the first
 * fetch, driving one curl multi handle. The loop thread copies each request
 * into a `struct xfer`, queues it under the client's mutex and wakes the
 * thread with curl_multi_wakeup(). When a transfer ends, the thread hands
 * the finished xfer back with ld_post() — the one loader function that is
 * safe off the loop thread — and the posted function, on the loop thread,
 * answers the call (corral_outbound_respond/fail) and drops the ld_hold()
 * taken when the request came in. A finished xfer carries everything its
 * answer needs and never points back at the client, because the loader may
 * run posted work after the client is gone (corral_loader_free frees the
 * client first, then runs what was posted).
 *
 * URLs are parsed once, by curl's own URL parser, and the parsed handle is
 * what curl connects to (CURLOPT_CURLU): the host we check is by
 * construction the host curl dials, so no difference between two URL
 * parsers can smuggle a request past the list.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine/workercode.h"
#include "loader/loader.h"
#include "net/http.h"

/* ---- the allow list ------------------------------------------------------ */

struct allow_entry {
    char *host;             /* lowercase; NULL for an IPv6 entry */
    int is_v6;
    struct in6_addr v6;
    unsigned port;          /* 0: any port */
};

struct allow_list {
    int any;                /* "*" was listed */
    size_t n;
    struct allow_entry *e;
    char *text;             /* as given, for messages */
};

static void allow_free(struct allow_list *a) {
    if (!a) return;
    for (size_t i = 0; i < a->n; i++) free(a->e[i].host);
    free(a->e);
    free(a->text);
    free(a);
}

static int is_host_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_';
}

/* "8080" → 8080; anything but 1..65535 in plain decimal → 0. */
static unsigned parse_port(const char *s, size_t len) {
    if (len == 0 || len > 5) return 0;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v <= 65535 ? v : 0;
}

/* Parses one trimmed entry into *e (or sets a->any). */
static int parse_entry(struct allow_list *a, const char *s, size_t len, struct allow_entry *e,
                       corral_error *err) {
    memset(e, 0, sizeof *e);
    if (len == 1 && s[0] == '*') {
        a->any = 1;
        return 0;
    }
    const char *colon = NULL;
    if (memmem(s, len, "://", 3)) {
        corral_error_set(err, CORRAL_EINVAL, "TypeError",
                         "bad entry \"%.*s\": write HOST or HOST:PORT, without a scheme", (int)len, s);
        return -1;
    }
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        char buf[INET6_ADDRSTRLEN + 1];
        size_t alen = close ? (size_t)(close - s - 1) : 0;
        if (!close || alen >= sizeof buf) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError",
                             "bad entry \"%.*s\": an IPv6 address is written [ADDRESS] or "
                             "[ADDRESS]:PORT",
                             (int)len, s);
            return -1;
        }
        memcpy(buf, s + 1, alen);
        buf[alen] = 0;
        if (inet_pton(AF_INET6, buf, &e->v6) != 1) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError",
                             "bad entry \"%.*s\": \"%s\" is not an IPv6 address", (int)len, s, buf);
            return -1;
        }
        e->is_v6 = 1;
        size_t rest = len - (size_t)(close + 1 - s);
        if (rest == 0) return 0;
        if (close[1] != ':') {
            corral_error_set(err, CORRAL_EINVAL, "TypeError",
                             "bad entry \"%.*s\": expected \":PORT\" after \"]\"", (int)len, s);
            return -1;
        }
        colon = close + 1;
    } else {
        colon = memchr(s, ':', len);
        if (colon && memchr(colon + 1, ':', len - (size_t)(colon + 1 - s))) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError",
                             "bad entry \"%.*s\": an IPv6 address needs brackets, as [::1] or "
                             "[::1]:8080",
                             (int)len, s);
            return -1;
        }
        size_t hlen = colon ? (size_t)(colon - s) : len;
        if (hlen == 0) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError", "bad entry \"%.*s\": the host is empty",
                             (int)len, s);
            return -1;
        }
        for (size_t i = 0; i < hlen; i++) {
            if (!is_host_char(s[i])) {
                corral_error_set(err, CORRAL_EINVAL, "TypeError",
                                 "bad entry \"%.*s\": '%c' cannot appear in a host name (\"*\" "
                                 "alone allows every host; internationalised names are written "
                                 "in their xn-- form)",
                                 (int)len, s, s[i]);
                return -1;
            }
        }
        e->host = strndup(s, hlen);
        if (!e->host) {
            corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory.");
            return -1;
        }
        for (char *p = e->host; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    }
    if (colon) {
        size_t plen = len - (size_t)(colon + 1 - s);
        e->port = parse_port(colon + 1, plen);
        if (!e->port) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError",
                             "bad entry \"%.*s\": the port \"%.*s\" is not a number from 1 to 65535",
                             (int)len, s, (int)plen, colon + 1);
            free(e->host);
            e->host = NULL;
            return -1;
        }
    }
    return 0;
}

static struct allow_list *allow_parse(const char *allow, corral_error *err) {
    if (!allow) {
        corral_error_set(err, CORRAL_EINVAL, "TypeError",
                         "the allow list is missing: pass \"*\" or HOST[:PORT],...");
        return NULL;
    }
    struct allow_list *a = calloc(1, sizeof *a);
    if (!a || !(a->text = strdup(allow))) {
        free(a);
        corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory.");
        return NULL;
    }
    const char *p = allow;
    for (;;) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *s = p, *t = end;
        while (s < t && (*s == ' ' || *s == '\t')) s++;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t')) t--;
        if (s == t) {
            corral_error_set(err, CORRAL_EINVAL, "TypeError",
                             "the allow list \"%s\" has an empty entry: write \"*\" or "
                             "HOST[:PORT],... with no empty items",
                             allow);
            allow_free(a);
            return NULL;
        }
        struct allow_entry e;
        if (parse_entry(a, s, (size_t)(t - s), &e, err) < 0) {
            allow_free(a);
            return NULL;
        }
        if (e.host || e.is_v6) {
            struct allow_entry *ne = realloc(a->e, (a->n + 1) * sizeof *ne);
            if (!ne) {
                free(e.host);
                allow_free(a);
                corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory.");
                return NULL;
            }
            a->e = ne;
            a->e[a->n++] = e;
        }
        if (!*end) break;
        p = end + 1;
    }
    return a;
}

enum allow_verdict { ALLOW_NO_HOST, ALLOW_NO_PORT, ALLOW_YES };

/* `host` as curl's URL parser gives it: IPv6 literals keep their brackets. */
static enum allow_verdict allow_check(const struct allow_list *a, const char *host, unsigned port) {
    if (a->any) return ALLOW_YES;
    struct in6_addr v6;
    int is_v6 = 0;
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < INET6_ADDRSTRLEN) {
        char buf[INET6_ADDRSTRLEN];
        memcpy(buf, host + 1, hl - 2);
        buf[hl - 2] = 0;
        is_v6 = inet_pton(AF_INET6, buf, &v6) == 1;
        if (!is_v6) return ALLOW_NO_HOST;
    }
    enum allow_verdict v = ALLOW_NO_HOST;
    for (size_t i = 0; i < a->n; i++) {
        const struct allow_entry *e = &a->e[i];
        int same = is_v6 ? e->is_v6 && memcmp(&e->v6, &v6, sizeof v6) == 0
                         : e->host && strcasecmp(e->host, host) == 0;
        if (!same) continue;
        if (!e->port || e->port == port) return ALLOW_YES;
        v = ALLOW_NO_PORT;
    }
    return v;
}

/* ---- the client ---------------------------------------------------------- */

struct hdr {
    char *name, *value;
};

/* One fetch, from the handler call to its answer. Fields above `next` are
 * set on the loop thread before the xfer is queued and read by the thread;
 * the response fields are written by the thread and read by complete() on
 * the loop thread after ld_post(), which orders the two. */
struct xfer {
    corral_loader *l;
    corral_outbound_call *call;
    char *shown_url;            /* the URL the worker fetched, for messages */
    char *method;
    struct hdr *req_h;
    size_t req_hn;
    uint8_t *body;
    size_t body_len;
    struct net_limits lim;      /* a snapshot: limits changed later do not apply */
    double deadline_ms;
    /* thread side */
    struct net_client *c;       /* never used by complete() */
    CURLU *url;                 /* the current hop */
    CURL *easy;
    struct curl_slist *slist;
    int hops;
    int too_big, oom;
    char errbuf[CURL_ERROR_SIZE];
    struct xfer *prev, *next;
    /* the answer */
    long status;
    struct hdr *resp_h;
    size_t resp_hn, resp_hcap;
    uint8_t *resp;
    size_t resp_len, resp_cap;
    char *error;                /* set: the fetch fails with this message */
};

struct net_client {
    corral_loader *l;
    pthread_mutex_t lock;
    /* guarded by lock */
    struct allow_list *allow;
    struct xfer *incoming, *incoming_tail;
    int started, stop;
    /* loop thread only */
    struct net_limits lim;
    /* the thread only, until it is joined */
    CURLM *multi;
    pthread_t thread;
    struct xfer *active;
    struct xfer *unposted;      /* ld_post() ran out of memory: retried */
};

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0) s = NULL;
    va_end(ap);
    return s;
}

static const char *size_text(size_t n, char *buf, size_t cap) {
    if (n && n % ((size_t)1 << 20) == 0) snprintf(buf, cap, "%zu MiB", n >> 20);
    else if (n && n % 1024 == 0) snprintf(buf, cap, "%zu KiB", n >> 10);
    else snprintf(buf, cap, "%zu bytes", n);
    return buf;
}

static void hdrs_free(struct hdr *h, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
}

static void xfer_free(struct xfer *x) {
    if (!x) return;
    if (x->easy) curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->slist);
    if (x->url) curl_url_cleanup(x->url);
    free(x->shown_url);
    free(x->method);
    hdrs_free(x->req_h, x->req_hn);
    free(x->body);
    hdrs_free(x->resp_h, x->resp_hn);
    free(x->resp);
    free(x->error);
    free(x);
}

/* The URL's scheme, lowercased into buf; 0 if it has none. */
static int url_scheme(const char *url, char *buf, size_t cap) {
    size_t i = 0;
    for (; url[i] && url[i] != ':'; i++) {
        char ch = url[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (i > 0 && ((ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.'));
        if (!ok || i + 1 >= cap) return 0;
        buf[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    if (!i || url[i] != ':') return 0;
    buf[i] = 0;
    return 1;
}

/* Checks `url` against the scheme rule and the list. Returns curl's parse of
 * it, or NULL with *why set. `via` names the hop that redirected here. */
static CURLU *check_url(struct net_client *c, const char *shown, const char *url, int via,
                        char **why) {
    char scheme[16];
    const char *hop = via ? "it redirected to " : "";
    const char *hop_url = via ? url : "";
    const char *sep = via ? ", and " : "";
    *why = NULL;
    if (!url_scheme(url, scheme, sizeof scheme) ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        *why = fmt("fetch to %.512s is refused: %s%.512s%sonly http and https are allowed", shown,
                   hop, hop_url, sep);
        return NULL;
    }
    CURLU *u = curl_url();
    if (!u) return NULL;
    char *host = NULL, *port = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OK) uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    if (uc == CURLUE_OK) uc = curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    if (uc != CURLUE_OK) {
        *why = fmt("fetch to %.512s failed: %s%.512s%sthe URL could not be parsed (%s)", shown, hop,
                   hop_url, via ? ", but " : "", curl_url_strerror(uc));
        curl_url_cleanup(u);
        return NULL;
    }
    unsigned pn = parse_port(port, strlen(port));
    pthread_mutex_lock(&c->lock);
    enum allow_verdict v = allow_check(c->allow, host, pn);
    if (v == ALLOW_NO_HOST)
        *why = fmt("fetch to %.512s is refused: %s%.512s%shost %s is not in the --allow-net list "
                   "(%.256s)",
                   shown, hop, hop_url, sep, host, c->allow->text);
    else if (v == ALLOW_NO_PORT)
        *why = fmt("fetch to %.512s is refused: %s%.512s%sport %u of host %s is not in the "
                   "--allow-net list (%.256s)",
                   shown, hop, hop_url, sep, pn, host, c->allow->text);
    pthread_mutex_unlock(&c->lock);
    curl_free(host);
    curl_free(port);
    if (v != ALLOW_YES) {
        curl_url_cleanup(u);
        return NULL;
    }
    return u;
}

/* ---- the thread: curl callbacks ------------------------------------------ */

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
    struct xfer *x = ud;
    size_t len = size * n;
    if (len > x->lim.max_body - x->resp_len) {
        x->too_big = 1;
        return 0;
    }
    if (x->resp_len + len > x->resp_cap) {
        size_t cap = x->resp_cap ? x->resp_cap : 16384;
        while (cap < x->resp_len + len) cap *= 2;
        if (cap > x->lim.max_body) cap = x->lim.max_body;
        uint8_t *nb = realloc(x->resp, cap);
        if (!nb) {
            x->oom = 1;
            return 0;
        }
        x->resp = nb;
        x->resp_cap = cap;
    }
    memcpy(x->resp + x->resp_len, p, len);
    x->resp_len += len;
    return len;
}

/* One header line; a status line starts a new header block (after a 1xx
 * interim response the final response's headers replace it). */
static size_t on_header(char *p, size_t size, size_t n, void *ud) {
    struct xfer *x = ud;
    size_t len = size * n, l = len;
    while (l && (p[l - 1] == '\r' || p[l - 1] == '\n')) l--;
    if (l >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        hdrs_free(x->resp_h, x->resp_hn);
        x->resp_h = NULL;
        x->resp_hn = x->resp_hcap = 0;
        return len;
    }
    if (l == 0) return len;
    if (p[0] == ' ' || p[0] == '\t') {
        /* an obsolete folded continuation of the previous value */
        if (!x->resp_hn) return len;
        struct hdr *h = &x->resp_h[x->resp_hn - 1];
        size_t s = 0;
        while (s < l && (p[s] == ' ' || p[s] == '\t')) s++;
        char *v = fmt("%s %.*s", h->value, (int)(l - s), p + s);
        if (!v) goto oom;
        free(h->value);
        h->value = v;
        return len;
    }
    char *colon = memchr(p, ':', l);
    if (!colon || colon == p) return len;
    size_t vs = (size_t)(colon + 1 - p), ve = l;
    while (vs < ve && (p[vs] == ' ' || p[vs] == '\t')) vs++;
    while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t')) ve--;
    if (x->resp_hn == x->resp_hcap) {
        size_t cap = x->resp_hcap ? x->resp_hcap * 2 : 16;
        struct hdr *nh = realloc(x->resp_h, cap * sizeof *nh);
        if (!nh) goto oom;
        x->resp_h = nh;
        x->resp_hcap = cap;
    }
    char *name = strndup(p, (size_t)(colon - p)), *value = strndup(p + vs, ve - vs);
    if (!name || !value) {
        free(name);
        free(value);
        goto oom;
    }
    for (char *q = name; *q; q++)
        if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
    x->resp_h[x->resp_hn].name = name;
    x->resp_h[x->resp_hn].value = value;
    x->resp_hn++;
    return len;
oom:
    x->oom = 1;
    return 0;
}

/* ---- the thread: transfers ----------------------------------------------- */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Request headers curl must own (it frames the message and negotiates the
 * encodings it can decode), or that fetch() does not let a page set. */
static int header_is_ours(const char *name) {
    static const char *const ours[] = {
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
        "te",   "trailer",        "expect",            "accept-encoding", "proxy-connection",
    };
    for (size_t i = 0; i < sizeof ours / sizeof *ours; i++)
        if (strcasecmp(name, ours[i]) == 0) return 1;
    return 0;
}

static int method_is(const struct xfer *x, const char *m) { return strcmp(x->method, m) == 0; }

/* Configures and starts the current hop. Returns 0, or -1 with x->error. */
static int start_hop(struct net_client *c, struct xfer *x) {
    double left = x->deadline_ms - now_ms();
    if (left < 1) {
        x->error = fmt("fetch to %.512s failed: it took longer than %ld ms (corral's outbound "
                       "time limit)",
                       x->shown_url, x->lim.total_ms);
        return -1;
    }
    x->easy = curl_easy_init();
    if (!x->easy) goto oom;
    CURL *e = x->easy;
    x->errbuf[0] = 0;
    int has_type = 0;
    struct curl_slist *sl = NULL;
    for (size_t i = 0; i < x->req_hn; i++) {
        const struct hdr *h = &x->req_h[i];
        if (header_is_ours(h->name)) continue;
        if (strcasecmp(h->name, "content-type") == 0) has_type = 1;
        /* "Name;" is curl's way to send a header with an empty value. */
        char *line = *h->value ? fmt("%s: %s", h->name, h->value) : fmt("%s;", h->name);
        struct curl_slist *ns = line ? curl_slist_append(sl, line) : NULL;
        free(line);
        if (!ns) {
            curl_slist_free_all(sl);
            goto oom;
        }
        sl = ns;
    }
    /* No "Expect: 100-continue" round trip; no form content type that the
     * worker did not ask for. */
    const char *extra[2] = {"Expect:", x->body && !has_type ? "Content-Type:" : NULL};
    for (int i = 0; i < 2 && extra[i]; i++) {
        struct curl_slist *ns = curl_slist_append(sl, extra[i]);
        if (!ns) {
            curl_slist_free_all(sl);
            goto oom;
        }
        sl = ns;
    }
    x->slist = sl;

    long connect_ms = x->lim.connect_ms < (long)left ? x->lim.connect_ms : (long)left;
    curl_easy_setopt(e, CURLOPT_CURLU, x->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)left);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "corral/" CORRAL_VERSION);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->slist);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    if (method_is(x, "HEAD")) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->lim.max_body);
        if (method_is(x, "GET") && !x->body) {
            curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        } else {
            if (x->body || method_is(x, "POST")) {
                curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
                curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body ? (const char *)x->body : "");
            }
            if (!method_is(x, "POST")) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
        }
    }
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) goto oom;
    return 0;
oom:
    x->error = fmt("fetch to %.512s failed: out of memory", x->shown_url);
    return -1;
}

static void complete(corral_loader *l, void *arg);

/* Takes x off the active list and hands it to the loop thread. */
static void finish(struct net_client *c, struct xfer *x) {
    if (x->prev) x->prev->next = x->next;
    else c->active = x->next;
    if (x->next) x->next->prev = x->prev;
    x->prev = x->next = NULL;
    if (x->easy) {
        curl_multi_remove_handle(c->multi, x->easy);
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
    }
    if (x->error || x->oom) {
        free(x->resp);
        x->resp = NULL;
        x->resp_len = 0;
        if (!x->error) x->error = fmt("fetch to %.512s failed: out of memory", x->shown_url);
    }
    if (ld_post(x->l, complete, x) < 0) {
        x->next = c->unposted;
        c->unposted = x;
    }
}

static int same_origin(CURLU *a, CURLU *b) {
    static const CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
    int same = 1;
    for (size_t i = 0; same && i < 3; i++) {
        char *pa = NULL, *pb = NULL;
        unsigned flags = parts[i] == CURLUPART_PORT ? CURLU_DEFAULT_PORT : 0;
        curl_url_get(a, parts[i], &pa, flags);
        curl_url_get(b, parts[i], &pb, flags);
        same = pa && pb && strcasecmp(pa, pb) == 0;
        curl_free(pa);
        curl_free(pb);
    }
    return same;
}

static void drop_req_headers(struct xfer *x, const char *const *names, size_t count) {
    size_t k = 0;
    for (size_t i = 0; i < x->req_hn; i++) {
        int drop = 0;
        for (size_t j = 0; j < count; j++) drop |= strcasecmp(x->req_h[i].name, names[j]) == 0;
        if (drop) {
            free(x->req_h[i].name);
            free(x->req_h[i].value);
        } else {
            x->req_h[k++] = x->req_h[i];
        }
    }
    x->req_hn = k;
}

/* A 3xx with a Location: checks the next hop and starts it as a browser
 * would. Returns 1 if a new hop is under way. */
static int follow(struct net_client *c, struct xfer *x, long status) {
    if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308)
        return 0;
    char *loc = NULL;
    curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &loc);
    if (!loc) return 0;
    if (x->hops >= NET_MAX_REDIRECTS) {
        x->error = fmt("fetch to %.512s failed: it redirected more than %d times (corral's "
                       "redirect limit)",
                       x->shown_url, NET_MAX_REDIRECTS);
        return -1;
    }
    char *why = NULL;
    CURLU *next = check_url(c, x->shown_url, loc, 1, &why);
    if (!next) {
        x->error = why ? why : fmt("fetch to %.512s failed: out of memory", x->shown_url);
        return -1;
    }
    if (!same_origin(x->url, next)) {
        static const char *const cred[] = {"authorization", "proxy-authorization", "cookie"};
        drop_req_headers(x, cred, 3);
    }
    if (status == 303 ? !method_is(x, "HEAD") : (status <= 302 && method_is(x, "POST"))) {
        static const char *const body_h[] = {"content-type", "content-encoding",
                                             "content-language", "content-location"};
        free(x->method);
        x->method = strdup("GET");
        free(x->body);
        x->body = NULL;
        x->body_len = 0;
        drop_req_headers(x, body_h, 4);
        if (!x->method) {
            curl_url_cleanup(next);
            x->oom = 1;
            return -1;
        }
    }
    curl_multi_remove_handle(c->multi, x->easy);
    curl_easy_cleanup(x->easy);
    x->easy = NULL;
    curl_slist_free_all(x->slist);
    x->slist = NULL;
    curl_url_cleanup(x->url);
    x->url = next;
    hdrs_free(x->resp_h, x->resp_hn);
    x->resp_h = NULL;
    x->resp_hn = x->resp_hcap = 0;
    x->resp_len = 0;
    x->hops++;
    return start_hop(c, x) == 0 ? 1 : -1;
}

static void on_done(struct net_client *c, struct xfer *x, CURLcode rc) {
    char lim[32];
    if (rc != CURLE_OK) {
        if (x->oom) {
            /* finish() words it */
        } else if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
            x->error = fmt("fetch to %.512s failed: the response body is larger than %s (corral's "
                           "outbound response size limit)",
                           x->shown_url, size_text(x->lim.max_body, lim, sizeof lim));
        } else if (rc == CURLE_OPERATION_TIMEDOUT) {
            x->error = fmt("fetch to %.512s failed: %s (corral's outbound limits: %ld ms to "
                           "connect, %ld ms in all)",
                           x->shown_url, x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc),
                           x->lim.connect_ms, x->lim.total_ms);
        } else {
            x->error = fmt("fetch to %.512s failed: %s", x->shown_url,
                           x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
        }
        finish(c, x);
        return;
    }
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (follow(c, x, status) == 1) return;
    x->status = status;
    finish(c, x);
}

static void retry_unposted(struct net_client *c) {
    struct xfer *list = c->unposted;
    c->unposted = NULL;
    while (list) {
        struct xfer *x = list;
        list = x->next;
        x->next = NULL;
        if (ld_post(x->l, complete, x) < 0) {
            x->next = c->unposted;
            c->unposted = x;
        }
    }
}

static void *client_main(void *arg) {
    struct net_client *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        if (c->stop) {
            pthread_mutex_unlock(&c->lock);
            break;
        }
        struct xfer *in = c->incoming;
        c->incoming = c->incoming_tail = NULL;
        pthread_mutex_unlock(&c->lock);
        while (in) {
            struct xfer *x = in;
            in = x->next;
            x->prev = NULL;
            x->next = c->active;
            if (c->active) c->active->prev = x;
            c->active = x;
            if (start_hop(c, x) < 0) finish(c, x);
        }
        retry_unposted(c);
        int running;
        curl_multi_perform(c->multi, &running);
        CURLMsg *m;
        int queued;
        while ((m = curl_multi_info_read(c->multi, &queued))) {
            if (m->msg != CURLMSG_DONE) continue;
            CURL *e = m->easy_handle;
            CURLcode rc = m->data.result;
            char *priv = NULL;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
            on_done(c, (struct xfer *)priv, rc);
        }
        curl_multi_poll(c->multi, NULL, 0, c->unposted ? 10 : 1000, NULL);
    }
    return NULL;
}

/* ---- the loop thread ----------------------------------------------------- */

/* Runs on the loop thread, after the thread posted x. It must not touch the
 * client: during corral_loader_free it runs after client_free(). */
static void complete(corral_loader *l, void *arg) {
    struct xfer *x = arg;
    corral_header *h = x->error ? NULL : calloc(x->resp_hn ? x->resp_hn : 1, sizeof *h);
    if (x->error || !h) {
        corral_outbound_fail(x->call, x->error ? x->error : "fetch failed: out of memory");
    } else {
        for (size_t i = 0; i < x->resp_hn; i++) {
            h[i].name = x->resp_h[i].name;
            h[i].value = x->resp_h[i].value;
        }
        corral_outbound_respond(x->call, (int)x->status, h, x->resp_hn, x->resp, x->resp_len);
    }
    free(h);
    ld_hold(l, -1);
    xfer_free(x);
}

static int is_token(const char *s) {
    if (!*s) return 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch <= 32 || ch >= 127 || strchr("\"(),/:;<=>?@[\\]{}", ch)) return 0;
    }
    return 1;
}

static int value_ok(const char *s) {
    for (; *s; s++)
        if (*s == '\r' || *s == '\n') return 0;
    return 1;
}

static void refuse(corral_outbound_call *call, char *why) {
    corral_outbound_fail(call, why ? why : "fetch failed: out of memory");
    free(why);
}

static void on_outbound(corral_outbound_call *call, const corral_request *req, void *ud) {
    struct net_client *c = ud;
    const char *method = req->method ? req->method : "GET";
    const char *url = req->url ? req->url : "";
    if (!is_token(method) || strcasecmp(method, "CONNECT") == 0 ||
        strcasecmp(method, "TRACE") == 0 || strcasecmp(method, "TRACK") == 0) {
        refuse(call, fmt("fetch to %.512s is refused: the method \"%.64s\" is not allowed", url,
                         method));
        return;
    }
    for (size_t i = 0; i < req->header_count; i++) {
        const corral_header *h = &req->headers[i];
        if (!h->name || !h->value) continue;
        if (!is_token(h->name) || !value_ok(h->value)) {
            refuse(call, fmt("fetch to %.512s is refused: the header \"%.64s\" has characters "
                             "HTTP does not allow",
                             url, h->name));
            return;
        }
    }
    char *why = NULL;
    CURLU *u = check_url(c, url, url, 0, &why);
    if (!u) {
        refuse(call, why);
        return;
    }
    struct xfer *x = calloc(1, sizeof *x);
    if (!x) goto oom;
    x->l = c->l;
    x->call = call;
    x->c = c;
    x->url = u;
    u = NULL;
    x->lim = c->lim;
    x->deadline_ms = now_ms() + (double)x->lim.total_ms;
    x->shown_url = strdup(url);
    x->method = strdup(method);
    x->req_h = calloc(req->header_count ? req->header_count : 1, sizeof *x->req_h);
    if (!x->shown_url || !x->method || !x->req_h) goto oom;
    /* fetch() normalises these six; other methods keep their case. */
    static const char *const norm[] = {"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"};
    for (size_t i = 0; i < 6; i++)
        if (strcasecmp(x->method, norm[i]) == 0) memcpy(x->method, norm[i], strlen(norm[i]));
    for (size_t i = 0; i < req->header_count; i++) {
        const corral_header *h = &req->headers[i];
        if (!h->name || !h->value) continue;
        struct hdr *d = &x->req_h[x->req_hn];
        d->name = strdup(h->name);
        d->value = strdup(h->value);
        x->req_hn++;
        if (!d->name || !d->value) goto oom;
    }
    if (req->body && !method_is(x, "GET") && !method_is(x, "HEAD")) {
        x->body = malloc(req->body_len ? req->body_len : 1);
        if (!x->body) goto oom;
        memcpy(x->body, req->body, req->body_len);
        x->body_len = req->body_len;
    }
    pthread_mutex_lock(&c->lock);
    if (!c->started) {
        if (ld_thread_start(&c->thread, client_main, c) != 0) {
            pthread_mutex_unlock(&c->lock);
            xfer_free(x);
            refuse(call, fmt("fetch to %.512s failed: the HTTP client's thread could not start",
                             url));
            return;
        }
        c->started = 1;
    }
    if (c->incoming_tail) c->incoming_tail->next = x;
    else c->incoming = x;
    c->incoming_tail = x;
    pthread_mutex_unlock(&c->lock);
    curl_multi_wakeup(c->multi);
    ld_hold(c->l, +1);
    return;
oom:
    if (u) curl_url_cleanup(u);
    xfer_free(x);
    refuse(call, fmt("fetch to %.512s failed: out of memory", url));
}

/* An xfer that will never be answered: the loader is going away and frees
 * the call record itself; the corral_outbound_call wrapper, which only the
 * answer would free, goes here. */
static void xfer_drop(struct net_client *c, struct xfer *x) {
    if (x->easy) curl_multi_remove_handle(c->multi, x->easy);
    free(x->call);
    xfer_free(x);
}

static void client_free(void *arg) {
    struct net_client *c = arg;
    if (!c) return;
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    int started = c->started;
    pthread_mutex_unlock(&c->lock);
    if (started) {
        curl_multi_wakeup(c->multi);
        pthread_join(c->thread, NULL);
    }
    struct xfer *lists[3] = {c->incoming, c->active, c->unposted};
    for (int i = 0; i < 3; i++) {
        while (lists[i]) {
            struct xfer *x = lists[i];
            lists[i] = x->next;
            xfer_drop(c, x);
        }
    }
    curl_multi_cleanup(c->multi);
    allow_free(c->allow);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int ld_net_enable(corral_loader *l, const char *allow, corral_error *err) {
    struct allow_list *a = allow_parse(allow, err);
    if (!a) return err ? err->status : CORRAL_EINVAL;
    if (l->net && l->net_free == client_free) {
        /* A second call replaces the list; fetches already past their
         * check keep going, and their later redirect hops meet the new list. */
        struct net_client *c = l->net;
        pthread_mutex_lock(&c->lock);
        struct allow_list *old = c->allow;
        c->allow = a;
        pthread_mutex_unlock(&c->lock);
        allow_free(old);
        corral_loader_set_outbound(l, on_outbound, c);
        return CORRAL_OK;
    }
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        allow_free(a);
        corral_error_set(err, CORRAL_EINVAL, "Error", "libcurl failed to initialise: %s",
                         curl_easy_strerror(curl_init_rc));
        return CORRAL_EINVAL;
    }
    struct net_client *c = calloc(1, sizeof *c);
    if (!c || !(c->multi = curl_multi_init())) {
        free(c);
        allow_free(a);
        corral_error_set(err, CORRAL_ENOMEM, "Error", "Out of memory.");
        return CORRAL_ENOMEM;
    }
    /* Bounds sockets, not fetches: more transfers wait inside curl. */
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 256L);
    pthread_mutex_init(&c->lock, NULL);
    c->l = l;
    c->allow = a;
    c->lim.connect_ms = NET_DEFAULT_CONNECT_MS;
    c->lim.total_ms = NET_DEFAULT_TOTAL_MS;
    c->lim.max_body = NET_DEFAULT_MAX_BODY;
    if (l->net_free) l->net_free(l->net);
    l->net = c;
    l->net_free = client_free;
    corral_loader_set_outbound(l, on_outbound, c);
    return CORRAL_OK;
}

int net_set_limits(corral_loader *l, const struct net_limits *lim) {
    if (!l->net || l->net_free != client_free) return CORRAL_ESTATE;
    struct net_client *c = l->net;
    if (lim->connect_ms > 0) c->lim.connect_ms = lim->connect_ms;
    if (lim->total_ms > 0) c->lim.total_ms = lim->total_ms;
    if (lim->max_body > 0) c->lim.max_body = lim->max_body;
    return CORRAL_OK;
}
