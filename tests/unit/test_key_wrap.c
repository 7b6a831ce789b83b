/* Device keys at rest (key_wrap.c) and the server key file (server_key.c): a sealed key opens
 * only with its server key and for its device; the key file is made private and refused when
 * it is not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "key_wrap.h"
#include "server_key.h"

static const struct server_key key_a = {{1, 2, 3}}, key_b = {{1, 2, 4}};

static void sealed_key_opens_for_its_device_alone(void **state)
{
    (void)state;
    char sealed[KEY_WRAP_MAX], again[KEY_WRAP_MAX], plain[SECRET_MAX_LEN + 1];
    const char *secret = "000102030405060708090a0b0c0d0e0f";
    assert_true(key_seal(&key_a, "dev1", secret, sealed));
    assert_true(key_is_sealed(sealed));
    assert_null(strstr(sealed, secret));
    assert_true(key_open(&key_a, "dev1", sealed, plain, sizeof plain));
    assert_string_equal(plain, secret);
    /* A fresh nonce each time. */
    assert_true(key_seal(&key_a, "dev1", secret, again));
    assert_string_not_equal(sealed, again);
    /* Another device's row, another server key, a changed byte, a short buffer: nothing. */
    assert_false(key_open(&key_a, "dev2", sealed, plain, sizeof plain));
    assert_false(key_open(&key_b, "dev1", sealed, plain, sizeof plain));
    assert_string_equal(plain, "");
    sealed[20] = sealed[20] == 'A' ? 'B' : 'A';
    assert_false(key_open(&key_a, "dev1", sealed, plain, sizeof plain));
    assert_true(key_open(&key_a, "dev1", again, plain, sizeof plain));
    assert_false(key_open(&key_a, "dev1", again, plain, strlen(secret)));
    assert_false(key_is_sealed(secret));
    assert_false(key_open(&key_a, "dev1", secret, plain, sizeof plain));
}

static void longest_secret_fits(void **state)
{
    (void)state;
    char secret[SECRET_MAX_LEN + 2], sealed[KEY_WRAP_MAX], plain[SECRET_MAX_LEN + 1];
    memset(secret, 'p', SECRET_MAX_LEN);
    secret[SECRET_MAX_LEN] = '\0';
    assert_true(key_seal(&key_a, "dev1", secret, sealed));
    assert_true(strlen(sealed) < KEY_WRAP_MAX);
    assert_true(key_open(&key_a, "dev1", sealed, plain, sizeof plain));
    assert_string_equal(plain, secret);
    strcat(secret, "p");
    assert_false(key_seal(&key_a, "dev1", secret, sealed));
}

struct dir {
    char path[64], file[96];
};

static int make_dir(void **state)
{
    struct dir *d = calloc(1, sizeof *d);
    snprintf(d->path, sizeof d->path, "/tmp/provd-keyfile-XXXXXX");
    if (!d || !mkdtemp(d->path))
        return -1;
    snprintf(d->file, sizeof d->file, "%s/provd.key", d->path);
    *state = d;
    return 0;
}

static int remove_dir(void **state)
{
    struct dir *d = *state;
    unlink(d->file);
    rmdir(d->path);
    free(d);
    return 0;
}

static void key_file_made_private_and_read_again(void **state)
{
    struct dir *d = *state;
    struct server_key made, read;
    char err[256];
    assert_false(server_key_load(d->file, false, &made, err, sizeof err));
    assert_non_null(strstr(err, "provd --check makes it"));
    assert_true(server_key_load(d->file, true, &made, err, sizeof err));
    struct stat st;
    assert_int_equal(stat(d->file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 65);
    /* Made once: a second start reads the same key. */
    assert_true(server_key_load(d->file, true, &read, err, sizeof err));
    assert_memory_equal(made.bytes, read.bytes, SERVER_KEY_LEN);
}

static void key_file_open_to_others_is_refused(void **state)
{
    struct dir *d = *state;
    struct server_key k;
    char err[256];
    assert_true(server_key_load(d->file, true, &k, err, sizeof err));
    assert_int_equal(chmod(d->file, 0640), 0);
    assert_false(server_key_load(d->file, false, &k, err, sizeof err));
    assert_non_null(strstr(err, "is open to others (mode 640): refused; chmod 600 it"));
    assert_int_equal(chmod(d->file, 0600), 0);
    FILE *f = fopen(d->file, "w");
    fputs("not a key\n", f);
    fclose(f);
    assert_false(server_key_load(d->file, false, &k, err, sizeof err));
    assert_non_null(strstr(err, "does not hold 64 hex digits"));
}

static void key_file_through_a_link_is_refused(void **state)
{
    struct dir *d = *state;
    struct server_key k;
    char err[256], target[128];
    snprintf(target, sizeof target, "%s/elsewhere", d->path);
    assert_true(server_key_load(target, true, &k, err, sizeof err));
    assert_int_equal(symlink(target, d->file), 0);
    assert_false(server_key_load(d->file, false, &k, err, sizeof err));
    assert_false(server_key_load(d->file, true, &k, err, sizeof err));
    unlink(target);
}

static void key_file_path_defaults(void **state)
{
    (void)state;
    char path[64], err[160];
    unsetenv("PROVD_KEY_FILE");
    assert_true(server_key_path("/var/lib/provd/provd.sqlite3", path, sizeof path, err, sizeof err));
    assert_string_equal(path, "/var/lib/provd/provd.key");
    assert_true(server_key_path("fleet.sqlite3", path, sizeof path, err, sizeof err));
    assert_string_equal(path, "provd.key");
    assert_false(server_key_path("postgresql://db/provd", path, sizeof path, err, sizeof err));
    assert_non_null(strstr(err, "PROVD_KEY_FILE must name"));
    setenv("PROVD_KEY_FILE", "/etc/provd/provd.key", 1);
    assert_true(server_key_path("postgresql://db/provd", path, sizeof path, err, sizeof err));
    assert_string_equal(path, "/etc/provd/provd.key");
    unsetenv("PROVD_KEY_FILE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sealed_key_opens_for_its_device_alone),
        cmocka_unit_test(longest_secret_fits),
        cmocka_unit_test_setup_teardown(key_file_made_private_and_read_again, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(key_file_open_to_others_is_refused, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(key_file_through_a_link_is_refused, make_dir, remove_dir),
        cmocka_unit_test(key_file_path_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
