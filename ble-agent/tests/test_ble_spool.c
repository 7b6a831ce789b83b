/* Tests of the spool on a real file: arrival order and per-device heads, the byte and frame
 * limits, --spool-max parsing, a process killed in the middle of its writes, a torn last record. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "spool.h"
#include "test_dirs.h"

enum { MAX_SEEN = 64 };

struct fixture {
    char dir[64];
    char path[96];
    struct spool *sp;
};

/* What spool_heads (or a walk of the whole spool) saw, in order. */
struct seen {
    size_t n;
    int64_t seq[MAX_SEEN];
    char text[MAX_SEEN][80]; /* "id:body" */
};

static const struct spool_limits roomy = {1024 * 1024, 1000};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/ble-spool-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/spool.sqlite3", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    spool_close(f->sp);
    remove_tree(f->dir);
    free(f);
    return 0;
}

static struct spool *open_spool(struct fixture *f, const struct spool_limits *limits)
{
    char why[200] = "";
    int err;

    spool_close(f->sp);
    f->sp = NULL;
    err = spool_open(f->path, limits, &f->sp, why, sizeof(why));
    if (err)
        fail_msg("spool_open: %d %s", err, why);
    return f->sp;
}

static int64_t put(struct spool *sp, const char *id, const char *body)
{
    int64_t seq = 0;

    assert_int_equal(spool_put(sp, id, (const uint8_t *)body, strlen(body), &seq), 0);
    assert_true(seq > 0);
    return seq;
}

static bool note(void *user_data, const struct spool_frame *fr)
{
    struct seen *s = user_data;

    assert_true(s->n < MAX_SEEN);
    s->seq[s->n] = fr->seq;
    snprintf(s->text[s->n], sizeof(s->text[0]), "%s:%.*s", fr->id, (int)fr->body_len, (const char *)fr->body);
    s->n++;
    return true;
}

/* The heads from the first device after `after`. */
static void heads(struct spool *sp, const char *after, struct seen *s)
{
    memset(s, 0, sizeof(*s));
    assert_int_equal(spool_heads(sp, after, note, s), 0);
}

/* The heads from the first device after `after`, as "id:body" joined by spaces, must be want. */
static void expect_heads(struct spool *sp, const char *after, const char *want)
{
    struct seen h;
    char got[MAX_SEEN * 81] = "";

    heads(sp, after, &h);
    for (size_t i = 0; i < h.n; i++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "", h.text[i]);
    assert_string_equal(got, want);
}

/* Every frame in the spool, oldest first: take the heads and remove them until it is empty.
 * The spool is empty afterwards. */
static void drain(struct spool *sp, struct seen *all)
{
    struct seen h;

    memset(all, 0, sizeof(*all));
    for (heads(sp, "", &h); h.n > 0; heads(sp, "", &h)) {
        for (size_t i = 0; i < h.n; i++) {
            assert_true(all->n < MAX_SEEN);
            all->seq[all->n] = h.seq[i];
            memcpy(all->text[all->n++], h.text[i], sizeof(h.text[i]));
            assert_int_equal(spool_remove(sp, h.seq[i]), 0);
        }
    }
    assert_int_equal(spool_frames(sp), 0);
    assert_int_equal(spool_bytes(sp), 0);
}

static void order_and_heads(void **state)
{
    struct fixture *f = *state;
    struct spool *sp = open_spool(f, &roomy);
    struct seen h;
    int64_t a1 = put(sp, "a", "{1}"), b1 = put(sp, "b", "{2}"), a2 = put(sp, "a", "{3}");
    int64_t c1 = put(sp, "c", "{4}"), b2 = put(sp, "b", "{5}");

    assert_true(a1 < b1 && b1 < a2 && a2 < c1 && c1 < b2);
    assert_int_equal(spool_frames(sp), 5);
    assert_int_equal(spool_bytes(sp), 5 * strlen("a\n{1}"));
    /* The oldest frame of each device, the devices in turn from the one after `after` */
    expect_heads(sp, "", "a:{1} b:{2} c:{4}");
    assert_int_equal(spool_remove(sp, a1), 0);
    expect_heads(sp, "", "a:{3} b:{2} c:{4}");
    expect_heads(sp, "a", "b:{2} c:{4} a:{3}");
    expect_heads(sp, "b", "c:{4} a:{3} b:{2}");
    expect_heads(sp, "c", "a:{3} b:{2} c:{4}");
    expect_heads(sp, "bb", "c:{4} a:{3} b:{2}");
    expect_heads(sp, "zz", "a:{3} b:{2} c:{4}");
    /* Removing what is not there changes nothing */
    assert_int_equal(spool_remove(sp, a1), 0);
    assert_int_equal(spool_frames(sp), 4);
    /* Closed and opened again: the same frames, the same totals, the same order */
    sp = open_spool(f, &roomy);
    assert_int_equal(spool_frames(sp), 4);
    assert_int_equal(spool_bytes(sp), 4 * strlen("a\n{1}"));
    expect_heads(sp, "", "a:{3} b:{2} c:{4}");
    heads(sp, "", &h);
    assert_int_equal(h.seq[1], b1);
    /* A seq is never given twice, even once the newest frame is gone */
    assert_int_equal(spool_remove(sp, b2), 0);
    assert_true(put(sp, "b", "{6}") > b2);
    /* An id longer than any Telemetry In id is no frame of ours */
    char long_id[TELEMETRY_ID_MAX + 2];
    int64_t seq;

    memset(long_id, 'i', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_int_equal(spool_put(sp, long_id, (const uint8_t *)"{}", 2, &seq), -EINVAL);
    long_id[TELEMETRY_ID_MAX] = '\0';
    put(sp, long_id, "{}");
    /* Nor a body longer than any attribute value */
    uint8_t body[SPOOL_BODY_MAX + 1] = {0};

    assert_int_equal(spool_put(sp, "b", body, sizeof(body), &seq), -EINVAL);
    assert_int_equal(spool_put(sp, "b", body, SPOOL_BODY_MAX, &seq), 0);
}

static void limits(void **state)
{
    struct fixture *f = *state;
    const struct spool_limits three = {1024 * 1024, 3}, bytes = {SPOOL_BYTES_MIN, 100};
    struct spool *sp = open_spool(f, &three);
    int64_t seq = 0, first = put(sp, "d", "{1}");
    char big[SPOOL_BYTES_MIN];

    put(sp, "d", "{2}");
    put(sp, "d", "{3}");
    assert_int_equal(spool_put(sp, "d", (const uint8_t *)"{4}", 3, &seq), -ENOSPC);
    assert_int_equal(spool_frames(sp), 3);
    /* The refusal stored nothing, and room comes back when a frame ends */
    assert_int_equal(spool_remove(sp, first), 0);
    put(sp, "d", "{5}");
    assert_int_equal(spool_put(sp, "e", (const uint8_t *)"{6}", 3, &seq), -ENOSPC);

    /* Bytes: the frames as written, "id\nenvelope"; the totals are read back on open */
    sp = open_spool(f, &bytes);
    assert_int_equal(spool_bytes(sp), 3 * strlen("d\n{1}"));
    memset(big, 'x', sizeof(big));
    assert_int_equal(spool_put(sp, "d", (const uint8_t *)big, SPOOL_BYTES_MIN - 3 * 5 - 2 + 1, &seq), -ENOSPC);
    assert_int_equal(spool_put(sp, "d", (const uint8_t *)big, SPOOL_BYTES_MIN - 3 * 5 - 2, &seq), 0);
    assert_int_equal(spool_bytes(sp), SPOOL_BYTES_MIN);
    assert_int_equal(spool_put(sp, "d", (const uint8_t *)"{}", 2, &seq), -ENOSPC);
}

static void limits_parse(void **state)
{
    struct spool_limits l;

    (void)state;
    assert_int_equal(spool_limits_parse("16M,65536", &l), 0);
    assert_int_equal(l.max_bytes, 16 * 1024 * 1024);
    assert_int_equal(l.max_frames, 65536);
    assert_int_equal(spool_limits_parse("512,1", &l), 0);
    assert_int_equal(l.max_bytes, 512);
    assert_int_equal(l.max_frames, 1);
    assert_int_equal(spool_limits_parse("4K,2", &l), 0);
    assert_int_equal(l.max_bytes, 4096);
    assert_int_equal(spool_limits_parse("1024M,1000000", &l), 0);
    static const char *const bad[] = {
        "", "511,1", "1K,0", "1025M,1", "1K,1000001", "1K", "1K,", ",1", "1K,1x", "1G,1", "-1,1",
        "1K,-1", " 1K,1", "1K, 1", "18446744073709551616,1", "1K,18446744073709551617", "99999999999999999M,1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (spool_limits_parse(bad[i], &l) != -EINVAL)
            fail_msg("\"%s\" was accepted", bad[i]);
}

static void one_process_at_a_time(void **state)
{
    struct fixture *f = *state;
    struct spool *other = NULL;
    char why[200] = "", junk_path[96];

    open_spool(f, &roomy);
    put(f->sp, "a", "{1}");
    assert_int_equal(spool_open(f->path, &roomy, &other, why, sizeof(why)), -EBUSY);
    assert_null(other);
    /* A file that is no spool is refused, not emptied */
    snprintf(junk_path, sizeof(junk_path), "%s/not-a-spool", f->dir);
    FILE *junk = fopen(junk_path, "w");
    assert_non_null(junk);
    fputs("this is not an SQLite database, and long enough to have a header of sorts........\n", junk);
    fclose(junk);
    assert_int_equal(spool_open(junk_path, &roomy, &other, why, sizeof(why)), -EIO);
    assert_non_null(strstr(why, "not a database"));
}

/* A child that puts frames "{n}" for device "d" with n = 1, 2, ... and writes n to fd after each
 * put returned; it never closes the spool (it is killed, or _exits, as after kill -9). */
static pid_t writer(struct fixture *f, int fd, int count)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid > 0)
        return pid;
    struct spool *sp;
    char why[200];

    if (spool_open(f->path, &roomy, &sp, why, sizeof(why)) < 0)
        _exit(2);
    for (int n = 1; count == 0 || n <= count; n++) {
        char body[32];
        int64_t seq;

        snprintf(body, sizeof(body), "{%d}", n);
        if (spool_put(sp, "d", (const uint8_t *)body, strlen(body), &seq) < 0 ||
            write(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
            _exit(3);
    }
    _exit(0);
}

/* The frames d:{1} .. d:{n} and nothing else, in that order. */
static void assert_prefix(struct spool *sp, int at_least)
{
    struct seen all;

    drain(sp, &all);
    assert_true((int)all.n >= at_least);
    for (size_t i = 0; i < all.n; i++) {
        char want[32];

        snprintf(want, sizeof(want), "d:{%zu}", i + 1);
        assert_string_equal(all.text[i], want);
        assert_true(i == 0 || all.seq[i] > all.seq[i - 1]);
    }
}

/* kill -9 in the middle of a stream of writes: every acknowledged frame is there, in order,
 * followed by at most the one being written, and the spool takes writes again. */
static void killed_while_writing(void **state)
{
    struct fixture *f = *state;
    int fds[2], n = 0, last = 0, status;

    assert_int_equal(pipe(fds), 0);
    pid_t pid = writer(f, fds[1], 0);

    close(fds[1]);
    while (last < 25 && read(fds[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
        last = n;
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    while (read(fds[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
        last = n; /* acknowledged before the kill landed */
    close(fds[0]);
    assert_int_equal(last >= 25, true);
    struct spool *sp = open_spool(f, &roomy);
    size_t frames = spool_frames(sp);

    assert_true(frames == (size_t)last || frames == (size_t)last + 1);
    assert_prefix(sp, last);
    put(sp, "d", "{after}");
    assert_int_equal(spool_frames(sp), 1);
}

/* The last transaction in the write-ahead log cut short, as a power cut in the middle of its
 * write leaves it: that frame is gone, every earlier one intact, and the spool works on. */
static void torn_last_record(void **state)
{
    struct fixture *f = *state;
    char wal[128];
    struct stat st;
    int status, fds[2];

    assert_int_equal(pipe(fds), 0);
    pid_t pid = writer(f, fds[1], 3);

    close(fds[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(fds[0]);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    assert_int_equal(stat(wal, &st), 0);
    assert_true(st.st_size > 100);
    assert_int_equal(truncate(wal, st.st_size - 100), 0);

    struct spool *sp = open_spool(f, &roomy);

    assert_int_equal(spool_frames(sp), 2);
    assert_int_equal(spool_bytes(sp), 2 * strlen("d\n{1}"));
    put(sp, "d", "{3}");
    assert_prefix(sp, 3);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(order_and_heads),        T(limits),          T(limits_parse),
        T(one_process_at_a_time),  T(killed_while_writing), T(torn_last_record),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
