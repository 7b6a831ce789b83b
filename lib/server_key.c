/* The server key file: found, made once, checked to be private, read. */
#include "server_key.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret.h"
#include "store.h"

#define KEY_FILE_TEXT_LEN (2 * SERVER_KEY_LEN + 1) /* hex digits and a newline */

bool server_key_path(const char *db_target, char *path, size_t path_len, char *err, size_t err_len)
{
    const char *set = getenv("PROVD_KEY_FILE");
    int len;
    if (set && *set) {
        len = snprintf(path, path_len, "%s", set);
    } else if (store_target_is_pg(db_target)) {
        snprintf(err, err_len,
                 "PROVD_KEY_FILE must name the server key file: with PostgreSQL it has no default");
        return false;
    } else {
        const char *slash = strrchr(db_target, '/');
        len = slash ? snprintf(path, path_len, "%.*s/provd.key", (int)(slash - db_target), db_target)
                    : snprintf(path, path_len, "provd.key");
    }
    if (len < 0 || (size_t)len >= path_len) {
        snprintf(err, err_len, "the server key file's path is too long");
        return false;
    }
    return true;
}

/* Makes the file with a new key, unless it exists. */
static bool create_key_file(const char *path, char *err, size_t err_len)
{
    char text[KEY_FILE_TEXT_LEN + 1];
    if (!secret_random_hex(text, SERVER_KEY_LEN)) {
        snprintf(err, err_len, "no randomness for a new server key");
        return false;
    }
    text[KEY_FILE_TEXT_LEN - 1] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, text, KEY_FILE_TEXT_LEN) == KEY_FILE_TEXT_LEN && fsync(fd) == 0;
    int saved = errno;
    OPENSSL_cleanse(text, sizeof text);
    if (fd < 0 && saved == EEXIST)
        return true;
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        if (fd >= 0)
            unlink(path);
        snprintf(err, err_len, "cannot create the server key file %s (PROVD_KEY_FILE): %s", path,
                 strerror(saved));
    }
    return ok;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The key from the file's text; false when it is not 64 hex digits and a newline. */
static bool parse_key(const char *text, size_t len, struct server_key *key)
{
    if (len != KEY_FILE_TEXT_LEN || text[len - 1] != '\n')
        return false;
    for (size_t i = 0; i < SERVER_KEY_LEN; i++) {
        int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        key->bytes[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

bool server_key_load(const char *path, bool create, struct server_key *key, char *err, size_t err_len)
{
    if (create && !create_key_file(path, err, err_len))
        return false;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_len, "cannot open the server key file %s (PROVD_KEY_FILE): %s%s", path,
                 strerror(errno), errno == ENOENT ? " (provd --check makes it)" : "");
        return false;
    }
    struct stat st;
    char text[KEY_FILE_TEXT_LEN + 1];
    ssize_t got = -1;
    bool ok = false;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        snprintf(err, err_len, "the server key file %s (PROVD_KEY_FILE) is not a regular file", path);
    else if (st.st_mode & 077)
        snprintf(
            err, err_len,
            "the server key file %s (PROVD_KEY_FILE) is open to others (mode %03o): refused; chmod 600 it "
            "(and replace it if others may have read it)",
            path, (unsigned)(st.st_mode & 0777));
    else if ((got = read(fd, text, sizeof text)) < 0 || !(ok = parse_key(text, (size_t)got, key)))
        snprintf(err, err_len, "the server key file %s (PROVD_KEY_FILE) does not hold 64 hex digits", path);
    close(fd);
    OPENSSL_cleanse(text, sizeof text);
    return ok;
}
