/* record_store.c: the per-device record in memory, written through to <dir>/<id>.seqn.
 * No fsync: the record has to survive a restart of the simulator, not a power cut of the host. */
#include "record_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int record_path(char *path, size_t cap, const char *dir, const char *id, const char *suffix)
{
    int n = snprintf(path, cap, "%s/%s.seqn%s", dir, id, suffix);

    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int record_load(struct record *r, const char *dir, const char *id)
{
    char path[PATH_MAX];
    uint8_t buf[RECORD_MAX + 1];
    ssize_t n;
    int fd;

    r->len = -1;
    if (!dir)
        return 0;
    if (record_path(path, sizeof path, dir, id, "") != 0)
        return -1;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    n = read(fd, buf, sizeof buf);
    close(fd);
    if (n < 0)
        return -1;
    if (n <= RECORD_MAX) {
        memcpy(r->bytes, buf, (size_t)n);
        r->len = (int)n;
    }
    return 0;
}

int record_read(const struct record *r, uint8_t *buf, size_t cap)
{
    if (r->len < 0 || (size_t)r->len > cap)
        return -1;
    memcpy(buf, r->bytes, (size_t)r->len);
    return r->len;
}

static int write_file(const char *dir, const char *id, const uint8_t *buf, size_t len)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    ssize_t n;
    int fd, err;

    if (record_path(tmp, sizeof tmp, dir, id, ".tmp") != 0 ||
        record_path(path, sizeof path, dir, id, "") != 0)
        return -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    n = write(fd, buf, len);
    if (n != (ssize_t)len) {
        err = n < 0 ? errno : EIO;
        close(fd);
        goto fail;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        err = errno;
        goto fail;
    }
    return 0;
fail:
    unlink(tmp);
    errno = err;
    return -1;
}

int record_write(struct record *r, const char *dir, const char *id, const uint8_t *buf, size_t len)
{
    if (len > RECORD_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (dir && write_file(dir, id, buf, len) != 0)
        return -1;
    memcpy(r->bytes, buf, len);
    r->len = (int)len;
    return 0;
}
