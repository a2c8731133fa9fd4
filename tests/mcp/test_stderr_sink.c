/* Tests of lib/mcp/stderr_sink.c: what reaches corral's stderr from an
 * upstream is escaped and bounded, a stderr nobody reads never blocks the
 * writer (lines are dropped and the drop is noted once the reader catches
 * up), and the descriptor the sink was given keeps its own flags. Each case
 * writes to a pipe it reads itself, so nothing here depends on timing.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mcp/stderr_sink.h"
#include "net/reactor.h"

/* Everything readable on fd now (fd is non-blocking), NUL-terminated. */
static char *drain(int fd, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
        ssize_t r = read(fd, buf + n, cap - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

struct pipe_pair { int rd, wr; };

static struct pipe_pair open_pipe(void) {
    int p[2] = {-1, -1};
    if (pipe2(p, O_CLOEXEC) < 0) perror("pipe2");
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    return (struct pipe_pair){p[0], p[1]};
}

TEST(lines_are_prefixed_and_escaped) {
    struct pipe_pair p = open_pipe();
    net_reactor *r = net_reactor_new(NULL);
    mcp_stderr_sink *k = mcp_stderr_sink_new(r, p.wr, "[fs] ");
    mcp_stderr_sink_line(k, "plain text", 10);
    static const char junk[] = "bell\a esc\x1b[31m nul\0 del\x7f bad\xff\xfe tab\tok \xc3\xa9";
    mcp_stderr_sink_line(k, junk, sizeof junk - 1);
    mcp_stderr_sink_line(k, "\xed\xa0\x80", 3); /* a lone surrogate as QuickJS prints it */
    char *got = drain(p.rd, NULL);
    CHECK_EQ_STR(got, "[fs] plain text\n"
                      "[fs] bell\\x07 esc\\x1b[31m nul\\x00 del\\x7f bad\\xff\\xfe tab\tok \xc3\xa9\n"
                      "[fs] \\xed\\xa0\\x80\n");
    free(got);
    mcp_stderr_sink_free(k);
    net_reactor_free(r);
    close(p.rd);
    close(p.wr);
}

TEST(long_lines_are_cut_with_a_marker) {
    struct pipe_pair p = open_pipe();
    net_reactor *r = net_reactor_new(NULL);
    mcp_stderr_sink *k = mcp_stderr_sink_new(r, p.wr, "[x] ");
    size_t n = 100000;
    char *big = malloc(n);
    memset(big, 'a', n);
    mcp_stderr_sink_line(k, big, n);
    size_t len;
    char *got = drain(p.rd, &len);
    CHECK_EQ_INT(len, 4 + MCP_STDERR_LINE_MAX + strlen(" [corral: line cut at 2048 bytes]") + 1);
    CHECK(strstr(got, "aaaa [corral: line cut at 2048 bytes]\n") != NULL);
    free(got);
    /* Escapes count towards the bound too. */
    memset(big, 0x01, n);
    mcp_stderr_sink_line(k, big, n);
    got = drain(p.rd, &len);
    CHECK(len <= 4 + MCP_STDERR_LINE_MAX + 40);
    CHECK(strstr(got, "\\x01 [corral: line cut") != NULL);
    free(got);
    free(big);
    mcp_stderr_sink_free(k);
    net_reactor_free(r);
    close(p.rd);
    close(p.wr);
}

TEST(a_stderr_nobody_reads_never_blocks_and_drops_with_a_note) {
    struct pipe_pair p = open_pipe();
    int flags_before = fcntl(p.wr, F_GETFL);
    net_reactor *r = net_reactor_new(NULL);
    mcp_stderr_sink *k = mcp_stderr_sink_new(r, p.wr, "[flood] ");
    /* Far more than the pipe (64 KiB) and the queue hold together: with a
     * blocking write this would hang here for ever. */
    char line[1000];
    memset(line, 'z', sizeof line);
    for (int i = 0; i < 2000; i++) mcp_stderr_sink_line(k, line, sizeof line);
    unsigned long long dropped = mcp_stderr_sink_dropped(k);
    CHECK(dropped > 0);
    CHECK(dropped < 2000);
    /* The sink wrote through a description of its own. */
    CHECK_EQ_INT(fcntl(p.wr, F_GETFL), flags_before);
    CHECK(!(fcntl(p.wr, F_GETFL) & O_NONBLOCK));
    /* The reader catches up: the reactor flushes the queue, then the note. */
    size_t total = 0;
    char *all = NULL;
    int found = 0;
    for (int round = 0; round < 10000 && !found; round++) {
        size_t len;
        char *got = drain(p.rd, &len);
        all = realloc(all, total + len + 1);
        memcpy(all + total, got, len);
        total += len;
        all[total] = 0;
        free(got);
        found = strstr(all, "[flood] [corral] ") != NULL;
        if (!found) net_reactor_run_once(r, 100);
    }
    CHECK(found);
    char want[200];
    snprintf(want, sizeof want, "[flood] [corral] %llu lines were dropped: corral's stderr was not taking them fast enough",
             dropped);
    CHECK(strstr(all, want) != NULL);
    /* Only whole lines reached the pipe. */
    size_t lines = 0;
    for (size_t i = 0; i < total; i++) lines += all[i] == '\n';
    CHECK_EQ_INT(lines, 2000 - dropped + 1);
    CHECK(total > 0 && all[total - 1] == '\n');
    free(all);
    mcp_stderr_sink_free(k);
    net_reactor_free(r);
    close(p.rd);
    close(p.wr);
}

TEST(a_stderr_whose_reader_is_gone_turns_the_sink_off) {
    struct pipe_pair p = open_pipe();
    net_reactor *r = net_reactor_new(NULL);
    mcp_stderr_sink *k = mcp_stderr_sink_new(r, p.wr, "[gone] ");
    close(p.rd);
    /* No SIGPIPE ends the test process, nothing blocks. */
    for (int i = 0; i < 100; i++) mcp_stderr_sink_line(k, "into the void", 13);
    CHECK_EQ_INT(mcp_stderr_sink_dropped(k), 0);
    mcp_stderr_sink_free(k);
    net_reactor_free(r);
    close(p.wr);
}

TEST(a_regular_file_gets_every_line) {
    char path[] = "/tmp/corral-sink-XXXXXX";
    int fd = mkstemp(path);
    net_reactor *r = net_reactor_new(NULL);
    mcp_stderr_sink *k = mcp_stderr_sink_new(r, fd, "[f] ");
    for (int i = 0; i < 5000; i++) mcp_stderr_sink_line(k, "line", 4);
    mcp_stderr_sink_free(k);
    net_reactor_free(r);
    CHECK_EQ_INT(lseek(fd, 0, SEEK_END), 5000 * 9);
    close(fd);
    unlink(path);
}
