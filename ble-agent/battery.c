/* Battery level source: one small text file holding a percentage, re-read on every poll
 * so that a change reaches subscribers. */
#include "battery.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The file's first line, trailing whitespace removed. */
static int read_text(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, cap - 1);
    int err = n < 0 ? -errno : 0;

    close(fd);
    if (err)
        return err;
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = 0;
    return 0;
}

int battery_read(const char *path)
{
    char text[16], *end;
    int err = read_text(path, text, sizeof(text));

    if (err)
        return err;
    errno = 0;
    long v = strtol(text, &end, 10);

    if (end == text || *end || errno || v < 0 || v > 100)
        return -EINVAL;
    return (int)v;
}

int battery_find(const char *sys_root, char *path, size_t cap)
{
    char dir_path[PATH_MAX], file[PATH_MAX + 512], type[32], best[256] = "";
    struct dirent *de;
    DIR *dir;
    int err = -ENOENT;

    snprintf(dir_path, sizeof(dir_path), "%s/class/power_supply", sys_root);
    if (!(dir = opendir(dir_path)))
        return -ENOENT;
    /* readdir order is arbitrary; the smallest name (BAT0 before BAT1) is "the first". */
    while ((de = readdir(dir))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(file, sizeof(file), "%s/%s/type", dir_path, de->d_name);
        if (read_text(file, type, sizeof(type)) || strcmp(type, "Battery"))
            continue;
        if (!best[0] || strcmp(de->d_name, best) < 0)
            snprintf(best, sizeof(best), "%s", de->d_name);
    }
    closedir(dir);
    if (best[0] && (size_t)snprintf(path, cap, "%s/%s/capacity", dir_path, best) < cap)
        err = 0;
    return err;
}
