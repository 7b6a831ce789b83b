/* provctl: the admin's command line for a provd database: admin tokens, devices, device keys,
 * retention. It works on the database directly (a SQLite file or a PostgreSQL URI), so it needs no
 * running server. */
#include <openssl/crypto.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "isotime.h"
#include "render.h"
#include "secret.h"
#include "server_key.h"
#include "validate.h"

#define EXIT_USAGE 2

static const char usage[] =
    "usage: provctl [--db PATH|URI] COMMAND\n"
    "\n"
    "Manages a provd database (default: $PROVD_DB, else db/provd.sqlite3); a postgresql:// URI\n"
    "names a PostgreSQL database.\n"
    "\n"
    "commands:\n"
    "  init                          create the database, or bring its schema up to date\n"
    "  token create NAME [--expires 90d]  make an admin API token (printed once, only its hash is\n"
    "                                kept), valid for good or until it expires\n"
    "  token list                    list admin tokens: made, expires, last used\n"
    "  token revoke NAME             delete an admin token\n"
    "  device list                   list devices: id, state, liveness, last seen, name\n"
    "  device key ID [--set]         give a device a new random telemetry key and print it, or\n"
    "                                set the secret read from standard input (1-256 bytes of text)\n"
    "  prune [DAYS]                  delete readings older than DAYS (default $PROVD_RETENTION_DAYS);\n"
    "                                on PostgreSQL also make the coming days' partitions: run it daily\n"
    "  backup FILE                   copy the database, as of one moment, into the new FILE (SQLite;\n"
    "                                provd may run meanwhile)\n"
    "  restore FILE                  replace the database's contents with a backup's (SQLite)\n"
    "\n"
    "Every command takes --help.\n";

struct command {
    const char *noun, *verb;
    int args; /* positional arguments after the verb; -1: one or more; -2: none or one */
    const char *help;
    int (*run)(struct store *s, char **argv, int argc);
    bool needs_key; /* device keys are sealed or opened: the server key is loaded (PROVD_KEY_FILE) */
};

static int fail_store(struct store *s)
{
    fprintf(stderr, "provctl: %s\n", store_errmsg(s));
    return 1;
}

/* Records a change of provctl's in the audit trail, inside its transaction (store_write_begin()):
 * the actor is the OS user running provctl. */
static enum store_status audit_provctl(struct store *s, const char *action, const char *target, const char *before,
                                       const char *after)
{
    struct audit_actor actor = {.via = AUDIT_VIA_PROVCTL, .at = isotime_now()};
    struct passwd *pw = getpwuid(getuid());
    if (pw)
        snprintf(actor.name, sizeof actor.name, "%s", pw->pw_name);
    else
        snprintf(actor.name, sizeof actor.name, "uid %u", (unsigned)getuid());
    return audit_record(s, &actor, action, target, before, after);
}

/* Ends a change begun with store_write_begin(), whose outcome so far is st: committed when st is
 * STORE_OK, else rolled back. */
static enum store_status end_change(struct store *s, enum store_status st)
{
    enum store_status end = store_write_end(s, st == STORE_OK);
    return st == STORE_OK ? end : st;
}

/* Opening the store created and migrated the database; every statement must then prepare. */
static int run_init(struct store *s, char **argv, int argc)
{
    (void)argv, (void)argc;
    if (store_prepare_all(s) == STORE_OK)
        return 0;
    fprintf(stderr, "provctl: %s\n", store_errmsg(s));
    return 1;
}

static bool check_name_arg(const char *name)
{
    if (valid_device_id(name))
        return true;
    fprintf(stderr, "provctl: NAME must be 1-64 characters of A-Z a-z 0-9 . _ : -\n");
    return false;
}

/* --expires N: N days ("90d") or hours ("12h") from now; false when the text is neither. */
static bool parse_expiry(const char *text, int64_t *expires)
{
    char digits[16];
    size_t len = strlen(text);
    int64_t n;
    if (len < 2 || len - 1 >= sizeof digits || (text[len - 1] != 'd' && text[len - 1] != 'h'))
        return false;
    memcpy(digits, text, len - 1);
    digits[len - 1] = '\0';
    if (!parse_int_range(digits, 1, 36500 * 24, &n))
        return false;
    *expires = isotime_now() + n * (text[len - 1] == 'd' ? 86400 : 3600);
    return true;
}

static int run_token_create(struct store *s, char **argv, int argc)
{
    char token[TOKEN_LEN + 1];
    unsigned char hash[STORE_TOKEN_HASH_LEN];
    int64_t expires = 0;
    if (argc != 1 && !(argc == 3 && strcmp(argv[1], "--expires") == 0 && parse_expiry(argv[2], &expires))) {
        fprintf(stderr, "usage: provctl token create NAME [--expires DAYSd|HOURSh]\n");
        return EXIT_USAGE;
    }
    if (!check_name_arg(argv[0]))
        return EXIT_USAGE;
    if (!secret_new_token(token)) {
        fprintf(stderr, "provctl: no randomness available\n");
        return 1;
    }
    secret_sha256(token, strlen(token), hash);
    char after[48] = "{\"expires\":null}", when[ISOTIME_LEN + 1];
    if (expires > 0) {
        isotime_format(expires, when);
        snprintf(after, sizeof after, "{\"expires\":\"%s\"}", when);
    }
    enum store_status st = store_write_begin(s);
    if (st == STORE_OK) {
        st = store_token_add(s, argv[0], hash, isotime_now(), expires);
        if (st == STORE_OK)
            st = audit_provctl(s, "token.create", argv[0], NULL, after);
        st = end_change(s, st);
    }
    switch (st) {
    case STORE_OK: printf("%s\n", token); return 0;
    case STORE_EXISTS:
        fprintf(stderr, "provctl: a token named %s exists; revoke it first or pick another name\n", argv[0]);
        return 1;
    default: return fail_store(s);
    }
}

/* A time for the token list; 0 is shown as none. */
static const char *time_or(int64_t at, const char *none, char out[ISOTIME_LEN + 1])
{
    if (at == 0)
        return none;
    isotime_format(at, out);
    return out;
}

static void print_token(const struct token_info *t, void *user_data)
{
    (void)user_data;
    char created[ISOTIME_LEN + 1], expires[ISOTIME_LEN + 1], used[ISOTIME_LEN + 1];
    printf("%-32s %-20s expires %-20s last used %s\n", t->name, time_or(t->created, "-", created),
           time_or(t->expires, "never", expires), time_or(t->last_used, "never", used));
}

static int run_token_list(struct store *s, char **argv, int argc)
{
    (void)argv, (void)argc;
    return store_token_list(s, print_token, NULL) == STORE_OK ? 0 : fail_store(s);
}

static int run_token_revoke(struct store *s, char **argv, int argc)
{
    (void)argc;
    enum store_status st = store_write_begin(s);
    if (st == STORE_OK) {
        st = store_token_revoke(s, argv[0]);
        if (st == STORE_OK)
            st = audit_provctl(s, "token.revoke", argv[0], NULL, NULL);
        st = end_change(s, st);
    }
    switch (st) {
    case STORE_OK: return 0;
    case STORE_NOT_FOUND: fprintf(stderr, "provctl: no token named %s\n", argv[0]); return 1;
    default: return fail_store(s);
    }
}

struct listing {
    struct config config;
    int64_t now;
    char last_id[DEVICE_ID_MAX + 1]; /* where the next page starts */
};

static void print_device(const struct device *d, void *user_data)
{
    struct listing *l = user_data;
    char seen[ISOTIME_LEN + 1] = "never";
    if (d->lastseen > 0)
        isotime_format(d->lastseen, seen);
    printf("%-24s %-9s %-8s %-20s %s\n", d->deviceid, d->state,
           liveness_name(device_liveness(d, &l->config, l->now)), seen, d->name);
    snprintf(l->last_id, sizeof l->last_id, "%s", d->deviceid);
}

static int run_device_list(struct store *s, char **argv, int argc)
{
    (void)argv, (void)argc;
    char err[256];
    struct listing l = {.now = isotime_now()};
    if (!config_from_env(&l.config, err, sizeof err)) {
        fprintf(stderr, "provctl: %s\n", err);
        return 1;
    }
    struct device_filter f = {.online = -1,
                              .limit = 1000,
                              .now = l.now,
                              .default_interval = l.config.poll_interval,
                              .after = l.last_id};
    int count;
    printf("%-24s %-9s %-8s %-20s %s\n", "DEVICEID", "STATE", "LIVENESS", "LASTSEEN", "NAME");
    do {
        if (store_device_list(s, &f, print_device, &l, &count) != STORE_OK)
            return fail_store(s);
    } while (count == f.limit);
    return 0;
}

/* The secret of --set from standard input, never the command line (which every user of the host
 * may read in /proc): its text up to a final newline. false when it is no valid secret. */
static bool read_secret(char secret[SECRET_MAX_LEN + 1])
{
    char text[SECRET_MAX_LEN + 3]; /* a secret, "\r\n", and one byte to tell it was longer */
    size_t len = fread(text, 1, sizeof text - 1, stdin);
    text[len] = '\0';
    if (len > 0 && text[len - 1] == '\n')
        text[--len] = '\0';
    if (len > 0 && text[len - 1] == '\r')
        text[--len] = '\0';
    bool ok = strlen(text) == len && len <= SECRET_MAX_LEN && secret_valid_device_key(text);
    if (ok)
        memcpy(secret, text, len + 1);
    else
        fprintf(stderr,
                "provctl: the secret (standard input) must be 1-%d bytes of UTF-8 text without control "
                "characters, and one line\n",
                SECRET_MAX_LEN);
    OPENSSL_cleanse(text, sizeof text);
    return ok;
}

static int run_device_key(struct store *s, char **argv, int argc)
{
    char key[SECRET_MAX_LEN + 1];
    bool set = argc == 2 && strcmp(argv[1], "--set") == 0;
    if (!valid_device_id(argv[0])) {
        fprintf(stderr, "provctl: ID must be 1-64 characters of A-Z a-z 0-9 . _ : -\n");
        return EXIT_USAGE;
    }
    if (argc > 1 && !set) {
        fprintf(stderr, "usage: provctl device key ID [--set]  (--set reads the secret from standard input: "
                        "a command line is visible to every user of the host)\n");
        return EXIT_USAGE;
    }
    if (set ? !read_secret(key) : !secret_random_hex(key, DEVICE_KEY_LEN / 2)) {
        if (!set)
            fprintf(stderr, "provctl: no randomness available\n");
        return set ? EXIT_USAGE : 1;
    }
    enum store_status st = store_write_begin(s);
    if (st == STORE_OK) {
        st = store_device_set_key(s, argv[0], key);
        if (st == STORE_OK)
            st = audit_provctl(s, "device.key", argv[0], NULL, AUDIT_KEY_CHANGED);
        st = end_change(s, st);
    }
    if (st == STORE_OK && !set)
        printf("%s\n", key);
    OPENSSL_cleanse(key, sizeof key);
    switch (st) {
    case STORE_OK: return 0;
    case STORE_NOT_FOUND: fprintf(stderr, "provctl: no device %s\n", argv[0]); return 1;
    default: return fail_store(s);
    }
}

/* Batches of this many, so that a SQLite writer never waits long for the lock between two. */
#define PRUNE_BATCH 5000

/* What is older than days, deleted in batches by delete (store_device_expire_pending(): pending
 * devices past PROVD_PENDING_DAYS; store_audit_prune(): audit entries past PROVD_AUDIT_DAYS);
 * *total gets how many went. */
static bool delete_older(struct store *s, enum store_status (*delete)(struct store *, int64_t, int, int *),
                         int64_t days, int64_t *total)
{
    int deleted;
    *total = 0;
    do {
        if (delete(s, isotime_now() - days * 86400, PRUNE_BATCH, &deleted) != STORE_OK)
            return false;
        *total += deleted;
    } while (deleted > 0);
    return true;
}

/* Retention as one scheduled job (store.h), and the expiry of pending devices. With no retention
 * no reading is deleted, but the call still makes the coming days' partitions (PostgreSQL). */
static int run_prune(struct store *s, char **argv, int argc)
{
    char err[256];
    struct config config;
    if (!config_from_env(&config, err, sizeof err)) {
        fprintf(stderr, "provctl: %s\n", err);
        return 1;
    }
    int64_t days = config.retention_days;
    if (argc == 1 && !parse_int_range(argv[0], 0, 36500, &days)) {
        fprintf(stderr, "provctl: DAYS must be whole days from 0 (keep all) to 36500\n");
        return EXIT_USAGE;
    }
    int64_t before = days > 0 ? isotime_now() - days * 86400 : 0, total = 0, expired = 0;
    int deleted;
    do {
        if (store_reading_prune(s, before, PRUNE_BATCH, &deleted) != STORE_OK)
            return fail_store(s);
        total += deleted;
    } while (deleted > 0);
    if (config.pending_days > 0 && !delete_older(s, store_device_expire_pending, config.pending_days, &expired))
        return fail_store(s);
    int64_t audit_pruned = 0;
    if (config.audit_days > 0 && !delete_older(s, store_audit_prune, config.audit_days, &audit_pruned))
        return fail_store(s);
    if (audit_pruned > 0)
        printf("deleted %lld audit entries older than %lld days\n", (long long)audit_pruned,
               (long long)config.audit_days);
    if (expired > 0)
        printf("deleted %lld pending devices not let in within %lld days\n", (long long)expired,
               (long long)config.pending_days);
    if (days == 0) {
        printf("retention is off (PROVD_RETENTION_DAYS unset or 0): every reading is kept\n");
        return 0;
    }
    char when[ISOTIME_LEN + 1];
    isotime_format(before, when);
    printf("pruned %lld readings received before %s\n", (long long)total, when);
    return 0;
}

/* Progress of a long copy on standard error, one line per tenth and one at the end. */
struct progress {
    const char *what;
    int64_t shown; /* tenths */
};

static void show_progress(int64_t done, int64_t total, void *user_data)
{
    struct progress *p = user_data;
    int64_t tenths = total > 0 ? done * 10 / total : 10;
    if (tenths <= p->shown)
        return;
    p->shown = tenths;
    fprintf(stderr, "%s: %lld%% (%lld of %lld pages)\n", p->what, (long long)(tenths * 10), (long long)done,
            (long long)total);
}

/* A whole-database copy (store_backup(), store_restore()) with its progress on standard error. */
static int run_copy(struct store *s, const char *path, const char *what,
                    enum store_status (*copy)(struct store *, const char *, store_progress_fn, void *))
{
    struct progress progress = {.what = what, .shown = -1};
    if (copy(s, path, show_progress, &progress) != STORE_OK)
        return fail_store(s);
    printf("%s: done, %s\n", what, path);
    return 0;
}

static int run_backup(struct store *s, char **argv, int argc)
{
    (void)argc;
    return run_copy(s, argv[0], "backup", store_backup);
}

static int run_restore(struct store *s, char **argv, int argc)
{
    (void)argc;
    return run_copy(s, argv[0], "restore", store_restore);
}

static const struct command commands[] = {
    {"init", NULL, 0, "provctl init: create the database, or bring its schema up to date", run_init, false},
    {"token", "create", -1,
     "provctl token create NAME [--expires DAYSd|HOURSh]: print a new admin API token (shown\n"
     "once), valid for good or, with --expires (e.g. 90d), until then",
     run_token_create, false},
    {"token", "list", 0,
     "provctl token list: admin token names, when each was made, expires and was last used", run_token_list,
     false},
    {"token", "revoke", 1, "provctl token revoke NAME: delete the admin token NAME", run_token_revoke, false},
    {"device", "list", 0, "provctl device list: every device with state, liveness, last seen and name",
     run_device_list, false},
    {"device", "key", -1,
     "provctl device key ID [--set]: print a new random telemetry key for device ID (32 hex\n"
     "digits, an AES-128 key), or with --set make the secret read from standard input its key\n"
     "(e.g. a crypto-js passphrase). Keys are stored sealed under the server key (PROVD_KEY_FILE).",
     run_device_key, true},
    {"prune", NULL, -2,
     "provctl prune [DAYS]: delete the readings received more than DAYS days ago (default\n"
     "$PROVD_RETENTION_DAYS, 0: keep all); on PostgreSQL whole days of readings go at once, and\n"
     "the coming two weeks' day partitions are made. Also deletes the devices pending for more\n"
     "than $PROVD_PENDING_DAYS (14) and the audit entries older than $PROVD_AUDIT_DAYS (365).\n"
     "Run it daily (provd-prune.timer).",
     run_prune, false},
    {"backup", NULL, 1,
     "provctl backup FILE: copy the whole database, as of the moment the copy starts, into FILE\n"
     "(made 0600; an existing file is never overwritten), while provd goes on serving. SQLite only:\n"
     "a PostgreSQL database is backed up with pg_dump. Device keys stay sealed in it: keep the\n"
     "server key file (PROVD_KEY_FILE) apart.",
     run_backup, false},
    {"restore", NULL, 1,
     "provctl restore FILE: replace every device, reading and token in the database with those of\n"
     "the backup FILE, once FILE passes SQLite's integrity check; then bring its schema up to date.\n"
     "Stop provd first. SQLite only: a PostgreSQL database is restored with pg_restore.",
     run_restore, false},
};

static bool wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    const char *db = getenv("PROVD_DB");
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--db") == 0) {
        db = argv[i + 1];
        i += 2;
    }
    if (!db || !*db)
        db = "db/provd.sqlite3";
    if (i >= argc || (wants_help(argc - i, argv + i) && i + 1 >= argc) || strcmp(argv[i], "help") == 0) {
        fputs(usage, i >= argc ? stderr : stdout);
        return i >= argc ? EXIT_USAGE : 0;
    }
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++) {
        const struct command *cmd = &commands[c];
        int skip = cmd->verb ? 2 : 1;
        if (strcmp(argv[i], cmd->noun) != 0 ||
            (cmd->verb && (i + 1 >= argc || strcmp(argv[i + 1], cmd->verb) != 0)))
            continue;
        char **args = argv + i + skip;
        int nargs = argc - i - skip;
        if (wants_help(nargs, args)) {
            printf("%s\n", cmd->help);
            return 0;
        }
        bool fits = cmd->args >= 0 ? nargs == cmd->args : cmd->args == -1 ? nargs >= 1 : nargs <= 1;
        if (!fits) {
            fprintf(stderr, "usage: %s\n", cmd->help);
            return EXIT_USAGE;
        }
        char err[512];
        struct store *s = store_open(db, err, sizeof err);
        if (!s) {
            fprintf(stderr, "provctl: %s\n", err);
            return 1;
        }
        struct server_key key;
        char key_path[512];
        if (cmd->needs_key && (!server_key_path(db, key_path, sizeof key_path, err, sizeof err) ||
                               !server_key_load(key_path, false, &key, err, sizeof err))) {
            fprintf(stderr, "provctl: %s\n", err);
            store_free(s);
            return 1;
        }
        if (cmd->needs_key)
            store_use_server_key(s, &key);
        int rc = cmd->run(s, args, nargs);
        OPENSSL_cleanse(&key, sizeof key);
        store_free(s);
        return rc;
    }
    /* "provctl token --help", or a verb that does not exist: show that noun's commands. */
    bool noun_known = false;
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++) {
        if (strcmp(argv[i], commands[c].noun) == 0) {
            printf("%s\n", commands[c].help);
            noun_known = true;
        }
    }
    if (noun_known)
        return wants_help(argc - i, argv + i) ? 0 : EXIT_USAGE;
    fprintf(stderr, "provctl: unknown command \"%s\"\n\n%s", argv[i], usage);
    return EXIT_USAGE;
}
