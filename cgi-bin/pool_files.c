/* A pool's lock file and socket address (see pool_files.h). */
#include "pool_files.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

bool pool_files_open(struct pool_files *files, const char *db_path, const char *name)
{
    char lock_path[4096];
    files->addr = (struct sockaddr_un){.sun_family = AF_UNIX};
    int len = snprintf(files->addr.sun_path, sizeof files->addr.sun_path, "%s-%s.sock", db_path, name);
    if (len < 0 || (size_t)len >= sizeof files->addr.sun_path ||
        snprintf(lock_path, sizeof lock_path, "%s-%s.lock", db_path, name) >= (int)sizeof lock_path)
        return false;
    files->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    return files->lock_fd >= 0;
}

void pool_files_close(struct pool_files *files)
{
    close(files->lock_fd);
}

bool pool_files_lock(struct pool_files *files)
{
    return flock(files->lock_fd, LOCK_EX | LOCK_NB) == 0;
}

void pool_files_unlock(struct pool_files *files)
{
    flock(files->lock_fd, LOCK_UN);
}

int pool_files_bind(const struct pool_files *files, int type)
{
    int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    unlink(files->addr.sun_path);
    if (bind(fd, (const struct sockaddr *)&files->addr, sizeof files->addr) != 0 ||
        chmod(files->addr.sun_path, 0600) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

void pool_files_unbind(const struct pool_files *files)
{
    unlink(files->addr.sun_path);
}
