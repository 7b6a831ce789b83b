/* Loads the PostgreSQL backend's module (store_backend.h) the first time a PostgreSQL database
 * is opened. It is looked for beside the program (build/, $PREFIX/lib/provd/), then one level up
 * (the tests and bench tools in build/'s subdirectories) and in ../lib/provd/ (provctl in
 * $PREFIX/bin/). dlopen has no portable way to say "beside the program", hence the search. */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store_backend.h"

static pthread_once_t loaded = PTHREAD_ONCE_INIT;
static store_open_fn module_open;
static char load_error[256];

/* The directory of the running program into dir; false when /proc does not say. */
static bool program_dir(char *dir, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", dir, len - 1);
    if (n <= 0)
        return false;
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (!slash)
        return false;
    *slash = '\0';
    return true;
}

static void load_module(void)
{
    static const char *const places[] = {"", "/..", "/../lib/provd"};
    char dir[PATH_MAX], path[PATH_MAX + 64];
    if (!program_dir(dir, sizeof dir)) {
        snprintf(load_error, sizeof load_error, "cannot find the program's directory to load %s",
                 PG_MODULE_NAME);
        return;
    }
    snprintf(load_error, sizeof load_error, "PostgreSQL support (%s) is not installed beside %.160s",
             PG_MODULE_NAME, dir);
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
        snprintf(path, sizeof path, "%s%s/%s", dir, places[i], PG_MODULE_NAME);
        if (access(path, F_OK) != 0)
            continue;
        void *module = dlopen(path, RTLD_NOW | RTLD_LOCAL); /* kept for the life of the process */
        if (!module) {
            snprintf(load_error, sizeof load_error, "%s", dlerror());
            return;
        }
        module_open = (store_open_fn)dlsym(module, PG_MODULE_OPEN);
        if (!module_open)
            snprintf(load_error, sizeof load_error, "%.200s has no %s", path, PG_MODULE_OPEN);
        return;
    }
}

struct store *store_pg_open(const char *uri, char *err, size_t err_len)
{
    pthread_once(&loaded, load_module);
    if (!module_open) {
        snprintf(err, err_len, "%s", load_error);
        return NULL;
    }
    return module_open(uri, err, err_len);
}
