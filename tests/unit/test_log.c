/* provd's logfmt lines (cgi-bin/log.c): the fields in order, absent ones left out, msg quoted with
 * quotes, backslashes, newlines and control characters escaped, so one event stays one line. */
#include "testlib.h"

#include <fcntl.h>

#include "log.h"

/* The one line log_event() wrote (stderr sent to a file for the call), without its newline. */
static char *logged(char *out, size_t out_len, void (*emit)(void))
{
    char path[] = "/tmp/provd-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    emit();
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, out, out_len - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    out[n] = '\0';
    assert_int_equal(out[n - 1], '\n');
    assert_null(memchr(out, '\n', (size_t)n - 1)); /* one line */
    out[n - 1] = '\0';
    return out;
}

static void emit_full(void)
{
    log_event("info", "reading_unreadable", "0123456789abcdef0123456789abcdef", "lamp-1", "tag %s \"x\" a\\b\nc\td",
              "mismatch");
}

static void emit_bare(void)
{
    log_event("error", "writer", NULL, NULL, "no writer here");
}

static void fields_in_order_and_msg_escaped(void **state)
{
    (void)state;
    char line[1024];
    logged(line, sizeof line, emit_full);
    assert_int_equal(strncmp(line, "time=", 5), 0);
    assert_int_equal(line[5 + 19], 'Z'); /* time=YYYY-MM-DDTHH:MM:SSZ */
    assert_string_equal(line + 5 + 20, " level=info event=reading_unreadable request_id=0123456789abcdef0123456789abcdef "
                                       "device=lamp-1 msg=\"tag mismatch \\\"x\\\" a\\\\b\\nc\\x09d\"");
    logged(line, sizeof line, emit_bare);
    assert_string_equal(line + 5 + 20, " level=error event=writer msg=\"no writer here\"");
}

static void emit_long(void)
{
    char big[3 * LOG_MSG_MAX];
    memset(big, '"', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    log_event("warn", "long", NULL, NULL, "%s", big);
}

/* A message longer than LOG_MSG_MAX, every byte escaped: cut, still one closed line. */
static void long_messages_are_cut_whole(void **state)
{
    (void)state;
    char line[8192];
    logged(line, sizeof line, emit_long);
    size_t len = strlen(line);
    assert_true(len < 2 * LOG_MSG_MAX + 256);
    assert_int_equal(line[len - 1], '"');
    assert_int_equal(line[len - 2], '"'); /* the last escaped quote is whole: \" then the closing one */
    assert_int_equal(line[len - 3], '\\');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fields_in_order_and_msg_escaped),
        cmocka_unit_test(long_messages_are_cut_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
