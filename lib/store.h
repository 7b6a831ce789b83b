/* Storage in the domain's terms, for provd workers and provctl: devices, readings, tokens. Two
 * backends behind it, each in files of its own (store_sqlite*.c, store_pg*.c), chosen by the
 * database's name; every statement is prepared once per connection from a table and bound with
 * parameters. */
#ifndef PROVD_STORE_H
#define PROVD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "secret.h"
#include "validate.h"

/* A device's firmware update status (ARCHITECTURE.md "Firmware updates" has the transitions). */
#define FIRMWARE_STATUS_NONE        "none"        /* nothing assigned */
#define FIRMWARE_STATUS_PENDING     "pending"     /* assigned, not yet offered */
#define FIRMWARE_STATUS_OFFERED     "offered"     /* a poll answer carried it */
#define FIRMWARE_STATUS_DOWNLOADING "downloading" /* the device asked for the image */
#define FIRMWARE_STATUS_INSTALLED   "installed"   /* the device came back running it */
#define FIRMWARE_STATUS_FAILED      "failed"      /* it came back running another after the download */
#define FIRMWARE_STATUS_LEN         12

enum store_status {
    STORE_OK = 0,
    STORE_CREATED, /* a new row was made */
    STORE_NOT_FOUND,
    STORE_EXISTS,  /* the name is taken */
    STORE_REFUSED, /* the registration policy refuses a new device; a reading's device is not accepted */
    STORE_STALE, /* what the caller has is not current: If-Match's cfgsn, a SEQN, a poller's configuration */
    STORE_ERROR, /* the database failed: store_errmsg() says how */
    STORE_UNAVAILABLE, /* the database cannot be reached now (a later call reconnects): store_errmsg() */
    STORE_FULL,        /* a new device would pass the cap on the number of devices */
    STORE_TOO_MANY,    /* a new device would pass the cap on registrations from one address */
    STORE_UNPROVED,    /* an unsigned call for a device that must sign (enum store_caller) */
};

/* What a backend needs from the program running it (store_needs()). */
enum store_need {
    /* Readings want a group-committing writer (cgi-bin/writer.h): each commit is a flush of the
     * log, and one for many readings is what lets them in fast. */
    STORE_NEEDS_GROUP_COMMIT = 1 << 0,
    /* Its write-ahead log is copied into the database by checkpoints the program runs. */
    STORE_NEEDS_CHECKPOINTS = 1 << 1,
    /* Retention is the writers' job, a batch now and then; without it, store_reading_prune() is
     * one scheduled job for the whole deployment (provctl prune). */
    STORE_NEEDS_PRUNE_BY_WRITERS = 1 << 2,
    /* It keeps some writes back for a moment to make one of many (PostgreSQL: heartbeat times),
     * and wants store_flush() called while the program is idle, so that none waits long. */
    STORE_NEEDS_FLUSHES = 1 << 3,
    /* One writer at a time for the whole database (SQLite): the group-committing writer is the
     * database's, its readings share one transaction, and heartbeat times go through it too
     * (store_sqlite.h). Without it, the writer is one host's and the others write beside it. */
    STORE_NEEDS_ONE_WRITER = 1 << 4,
    /* Each commit waits for its flush of the log (PostgreSQL's synchronous_commit; SQLite's do
     * not, but under PROVD_SYNCHRONOUS=full): a writer's batch waits as long for one reading as
     * for many, so the program keeps more readings in flight. */
    STORE_NEEDS_FLUSHED_COMMITS = 1 << 5,
};

enum registration_policy { REGISTRATION_APPROVE, REGISTRATION_OPEN, REGISTRATION_CLOSED };

/* How a device that registers itself may get in: the policy, and the caps on new devices. The
 * caps hold with any number of workers and hosts: each backend checks them in SQL, serialized
 * with every other new registration. */
struct registration {
    enum registration_policy policy;
    const char *from;    /* the client's address, as counted (address_prefix()); NULL: not counted */
    int64_t per_minute;  /* new devices from one address within 60 s; 0: no cap */
    int64_t max_devices; /* devices in all; 0: no cap */
};
/* A registration under policy alone, without caps (tools, tests). */
#define REGISTRATION_UNCAPPED(p) (&(const struct registration){.policy = (p)})

struct store;

/* A device row. Strings are borrowed from the database row: valid only inside the callback. */
struct device {
    const char *deviceid, *name, *state, *ssid, *ipaddr;
    const char *data; /* configuration properties, JSON text */
    int64_t lastseen; /* 0: never seen */
    int64_t cfgsn;
    int64_t cfgsn_applied; /* -1: the device never said */
    int64_t flags;
    int64_t poll_interval; /* 0: the server's default */
    int64_t datec;
    int64_t last_seqn; /* -1: no telemetry accepted yet */
    bool has_key;
    int64_t trust; /* DEVICE_TRUST_* */
    /* Firmware (ARCHITECTURE.md "Firmware updates"): the version assigned (NULL: none), the one
     * the device last reported running (NULL: never said), the update's status (a
     * FIRMWARE_STATUS_* name), and with an assigned version its image's size and digests. */
    const char *firmware, *firmware_running, *firmware_status;
    int64_t firmware_size;
    const char *firmware_sha256, *firmware_md5;
    const char *location; /* free text; "" when none */
    const char *tags;     /* a JSON array of its tags, sorted */
};
typedef void (*store_device_fn)(const struct device *device, void *user_data);

#define IF_MATCH_NONE (-1)
#define IF_MATCH_ANY  (-2) /* If-Match: * -- the device must exist */

/* An admin's change to a device; absent parts stay as they are. */
struct device_update {
    const char *name;  /* NULL: unchanged */
    const char *data;  /* canonical JSON text; NULL: unchanged */
    const char *state; /* NULL: unchanged */
    bool set_poll_interval;
    int64_t poll_interval; /* with set_poll_interval; 0: back to the default */
    int64_t cfgsn;         /* an explicit cfgsn the client sent; -1: none */
    int64_t if_match;      /* the cfgsn the client last saw; IF_MATCH_NONE, IF_MATCH_ANY ("*") */
    bool seqn_reset;       /* the device lost its counter: accept SEQNs from the start again */
    bool set_firmware;     /* assign firmware (pending), or with NULL none; the same version again
                            * keeps its status but a failed one, which starts over */
    const char *firmware;
    /* With set_location: location pinned (a device's registration no longer changes it), or,
     * NULL, cleared and the device's to set again. */
    bool set_location;
    const char *location;
    const char *tags; /* a JSON array of valid tags (tag_fold()), replacing the device's; NULL: unchanged */
};

/* The orders of the device list: by one column, then by id, ascending or descending. lastseen
 * sorts a never-seen device as seen at 0 (first ascending, last descending). */
enum device_sort {
    DEVICE_SORT_ID,
    DEVICE_SORT_NAME,
    DEVICE_SORT_STATE,
    DEVICE_SORT_LASTSEEN,
    DEVICE_SORT_IPADDR,
    DEVICE_SORT_SSID,
    DEVICE_SORT_CFGSN,
    DEVICE_SORT_DATEC,
    DEVICE_SORT__COUNT
};

struct device_filter {
    /* keyset cursor: the last device of the previous page; NULL: from the start. Sorted by id,
     * any text orders; by another column it must name a device (else STORE_NOT_FOUND). */
    const char *after;
    enum device_sort sort;
    bool descending;
    const char *state; /* NULL: any */
    int online;        /* -1: any, 0: not online, 1: online */
    const char *q;     /* substring of id, name or location, case-insensitive; NULL: any */
    const char *tag;   /* devices with this tag (tag_fold()); NULL: any */
    const char *ids;   /* a JSON array of device ids: only these; NULL: any */
    int limit;
    int64_t now;
    int64_t default_interval;
};

/* The fleet at a glance, for metrics (store_fleet()). Liveness as the device list has it
 * (cgi-bin/render.c): online, seen within 2 poll intervals + 10 s; overdue, within 5 intervals;
 * offline, the rest, never seen included. */
struct store_fleet {
    int64_t pending, accepted, rejected; /* devices by state */
    int64_t online, overdue, offline;    /* devices by liveness at now */
    int64_t database_bytes; /* SQLite: the database file and its WAL; PostgreSQL: pg_database_size() */
    int64_t alerts_pending, alerts_sent, alerts_failed; /* store_alert_counts() */
    int64_t rollouts_running, rollouts_paused;          /* the rollouts under way */
};

/* A stored reading. reading is the JSON the device sent, borrowed for the callback. */
struct reading {
    int64_t id; /* the order of arrival; the cursor of pages */
    int64_t seqn;
    int64_t received_at;
    int64_t ts; /* the device's clock; TS_NONE when it sent none */
    const char *reading;
};
#define TS_NONE INT64_MIN
/* Returns false to stop the walk early. */
typedef bool (*store_reading_fn)(const struct reading *r, void *user_data);

struct reading_filter {
    int64_t since, until; /* received_at range, inclusive */
    int64_t after;        /* keyset cursor: the id of the last reading seen; -1: from the start */
    bool ascending;       /* oldest first; default newest first */
    int64_t limit;        /* -1: no limit (exports) */
};

/* One numeric reading field over one time bucket. field is the JSON path ("data.value"). */
struct bucket_stat {
    int64_t start;
    const char *field;
    double min, avg, max;
    int64_t count;
};
typedef void (*store_bucket_fn)(const struct bucket_stat *b, void *user_data);

#define STORE_TOKEN_HASH_LEN 32 /* SHA-256 */
#define STORE_TOKEN_NAME_MAX 64 /* characters, as a device id (validate.h) */

/* An admin token as listed: never the token or its hash. */
struct token_info {
    const char *name;
    int64_t created;
    int64_t expires;   /* refused from then on; 0: never */
    int64_t last_used; /* to the minute (TOKEN_USE_STEP_S); 0: never */
};
typedef void (*store_token_fn)(const struct token_info *token, void *user_data);
#define TOKEN_USE_STEP_S 60

/* Opens and migrates the database named by target: a libpq connection URI (postgresql://... or
 * postgres://...) for PostgreSQL, otherwise the path of a SQLite file (created if absent); err
 * gets the reason on failure. */
struct store *store_open(const char *target, char *err, size_t err_len);
/* Whether target names a PostgreSQL database. */
bool store_target_is_pg(const char *target);
/* STORE_NEEDS_* */
unsigned store_needs(const struct store *s);
struct server_key;
/* Device keys are sealed and opened with key from now on: borrowed, it must outlive the store. */
void store_use_server_key(struct store *s, const struct server_key *key);
/* Seals every device key still stored plain (from before sealing, or a bulk load), in batches;
 * *sealed says how many (provd --check, provctl init). */
enum store_status store_seal_keys(struct store *s, int64_t *sealed);
/* A long copy's progress: done of total pages. */
typedef void (*store_progress_fn)(int64_t done, int64_t total, void *user_data);
/* A copy of the whole database as of one moment, into the new file path (never overwritten),
 * taken while provd reads and writes it. SQLite only: on PostgreSQL, STORE_ERROR naming pg_dump. */
enum store_status store_backup(struct store *s, const char *path, store_progress_fn fn, void *user_data);
/* Replaces every device, reading and token with those of the copy at path (store_backup()'s),
 * checked first, then brings its schema up to date; a refused or failed restore changes
 * nothing. SQLite only, as store_backup(). */
enum store_status store_restore(struct store *s, const char *path, store_progress_fn fn, void *user_data);

/* Writes, and frees, all the backend kept back. */
void store_free(struct store *s);
/* Writes what the backend kept back (STORE_NEEDS_FLUSHES): all of it, or only once it is due;
 * returns the ms until it wants to be called again, -1 when it keeps nothing back. Never inside a
 * read (store_read_begin()). */
int store_flush(struct store *s, bool all);
/* The ms until store_flush() would write (0: it would now), -1 when the backend keeps nothing
 * back; writes nothing, so that a caller can first finish what it is doing (an answer). */
int store_flush_due_in(const struct store *s);
const char *store_errmsg(const struct store *s);
/* The seconds since the epoch a device is online within: 2 intervals + 10 s. */
int64_t store_online_window(int64_t poll_interval);

enum store_status store_ping(struct store *s);
/* From now on each commit is fsynced before it returns (SQLite's synchronous=FULL): what was
 * acknowledged survives a power cut too, not only the death of processes. */
enum store_status store_sync_every_commit(struct store *s);
/* Prepares every statement now, as their first use would: checks that this binary's SQL fits
 * the database's schema (provctl init, the tests). */
enum store_status store_prepare_all(struct store *s);

/* A known device: its ipaddr and ssid updated (and location, when not NULL and an admin did not
 * pin it), seen at now, STORE_OK (a rejected one too; the
 * caller refuses it). An unknown one: STORE_REFUSED when the policy is closed, STORE_FULL or
 * STORE_TOO_MANY past reg's caps, else inserted (pending, or accepted when open): STORE_CREATED. */
enum store_status store_device_register(struct store *s, const char *deviceid, const char *ipaddr,
                                        const char *ssid, const char *location,
                                        const struct registration *reg, int64_t now,
                                        store_device_fn fn, void *user_data);

/* A device's trust (ARCHITECTURE.md "Device trust"), bits that are only ever set. */
#define DEVICE_TRUST_SIGNED 1 /* it has made a signed call: each call of its must be signed */
#define DEVICE_TRUST_V2     2 /* it has sent a v2 envelope: v1 is refused */
#define DEVICE_TRUST_V1     4 /* it has sent a v1 envelope */

/* Whether each call of a device with these must carry a proof: it has a key, or has signed. */
static inline bool device_must_sign(bool has_key, int64_t trust)
{
    return has_key || (trust & DEVICE_TRUST_SIGNED);
}

/* What a device call is checked against, copied out of the device's row; its key opened with the
 * server key (a key from before sealing is read as it is). STORE_ERROR when it does not open
 * (another server key, or a sealed key moved to another device's row). */
struct device_trust {
    char state[16];
    char key[SECRET_MAX_LEN + 1]; /* its own secret; "" when it has none */
    int64_t trust;                /* DEVICE_TRUST_* */
    int64_t epoch;                /* its SEQN epoch: seqn_reset starts the next */
};

/* Who makes a heartbeat. An unsigned one is answered only for a device that need not sign (no
 * key, never signed): for one that must, STORE_UNPROVED, and nothing is recorded or handed
 * over. The check is the same read as the heartbeat's (no lookup of the device's trust first). */
enum store_caller {
    STORE_CALLER_UNSIGNED,
    STORE_CALLER_PROVED, /* its proof was checked (device_trust.h), or an admin's tool */
    /* store_device_heartbeat() and store_device_image() only (elsewhere as unsigned): a proof the
     * caller checks after the read, against the device's trust the read gives (poll_facts.trust,
     * image_facts.trust); nothing is recorded until then (store_heartbeat_seen(),
     * store_device_firmware()). */
    STORE_CALLER_TO_PROVE,
};
/* What a heartbeat's answer depends on. */
struct poll_facts {
    bool rejected;
    int64_t cfgsn;
    int64_t cfgsn_applied; /* -1: the device never said */
    char firmware_status[FIRMWARE_STATUS_LEN];       /* a FIRMWARE_STATUS_* name */
    char firmware_running[FIRMWARE_VERSION_MAX + 1]; /* "": never said */
    struct device_trust trust; /* STORE_CALLER_TO_PROVE's: as store_device_trust() gives it */
    int64_t row; /* the device as the backend finds it again (store_heartbeat_seen()); SQLite's rowid */
};
/* A heartbeat (one read, with the caller's trust check): records the device as seen at now,
 * as store_device_poll() does, and gives the facts its answer depends on; it writes nothing else.
 * The caller decides: a device that holds cfgsn and reports the cfgsn_applied already stored
 * needs nothing more; one that needs its configuration, or reports a new cfgsn_applied, gets
 * store_device_poll(). */
enum store_status store_device_heartbeat(struct store *s, const char *deviceid, enum store_caller caller,
                                         int64_t now, struct poll_facts *facts);
/* Records a heartbeat of deviceid at now, read before with STORE_CALLER_TO_PROVE (into *facts)
 * and proved since: no second lookup of the device. */
enum store_status store_heartbeat_seen(struct store *s, const char *deviceid, const struct poll_facts *facts,
                                       int64_t now);
/* A heartbeat: sets lastseen (through the seen sink, when there is one) and cfgsn_applied
 * (when applied >= 0, at once), then hands over the device as seen now (its tags left out: "[]",
 * no part of a device's answer). */
enum store_status store_device_poll(struct store *s, const char *deviceid, enum store_caller caller,
                                    int64_t applied, int64_t now, store_device_fn fn, void *user_data);
enum store_status store_device_get(struct store *s, const char *deviceid, store_device_fn fn,
                                   void *user_data);

/* Creates the device (accepted) when it does not exist: STORE_CREATED; but any If-Match
 * names an existing device, so then it is STORE_STALE. */
enum store_status store_device_update(struct store *s, const char *deviceid,
                                      const struct device_update *update, int64_t now, store_device_fn fn,
                                      void *user_data);
enum store_status store_device_delete(struct store *s, const char *deviceid);
/* The device's telemetry secret, stored sealed under the server key (key_wrap.h). Without a
 * server key (store_use_server_key()) STORE_ERROR: a key is never stored plain. */
enum store_status store_device_set_key(struct store *s, const char *deviceid, const char *key);
/* Calls fn for each device of the page; *count gets how many. STORE_NOT_FOUND: sorted by another
 * column than the id, the after device does not exist (deleted since the last page). */
enum store_status store_device_list(struct store *s, const struct device_filter *filter, store_device_fn fn,
                                    void *user_data, int *count);

/* How many devices filter matches (its state, online, q, tag and ids; not its cursor, sort or
 * limit), in *count: what store_device_list() pages through and store_device_bulk() changes. */
enum store_status store_device_count(struct store *s, const struct device_filter *filter, int64_t *count);

/* A change to many devices at once (store_device_bulk()). */
enum device_bulk_action {
    DEVICE_BULK_TAG,     /* add tag (a device with DEVICE_TAGS_MAX tags already is left out) */
    DEVICE_BULK_UNTAG,   /* remove tag */
    DEVICE_BULK_APPROVE, /* pending -> accepted */
    DEVICE_BULK_SET,     /* configuration property key = value, cfgsn one more, as an admin's PUT */
};
struct device_bulk {
    enum device_bulk_action action;
    const char *tag;   /* TAG, UNTAG: tag_fold() */
    const char *key;   /* SET: a top-level property, valid_property_key() */
    const char *value; /* SET: its value, JSON text */
};
#define DEVICE_TAGS_MAX 16
/* The action on the devices matching filter (its state, online, q, tag and ids; not its cursor or
 * sort) that it would change -- those without the tag, with it, pending, whose configuration
 * object has another value for key and stays within DATA_MAX bytes -- at most filter->limit of
 * them, in id order, in one transaction (one statement). *affected says how many changed: as
 * many as the limit means more may be left, and the same call again takes the next ones.
 * Correct with concurrent calls on any number of hosts: a device counts once per change. */
enum store_status store_device_bulk(struct store *s, const struct device_filter *filter,
                                    const struct device_bulk *bulk, int64_t *affected);
/* The readings stored. */
enum store_status store_reading_count(struct store *s, int64_t *count);
/* Devices by state and by liveness at now (default_interval for those without their own), the
 * database's size and the alert outbox's counts: the same counts from either backend. */
enum store_status store_fleet(struct store *s, int64_t now, int64_t default_interval,
                              struct store_fleet *out);

enum store_status store_device_trust(struct store *s, const char *deviceid, struct device_trust *out);
/* Records that deviceid made a call signed at its time t (DEVICE_TRUST_SIGNED). state_changing:
 * only if t is after the t of every state-changing call recorded before, and t is recorded, so
 * that a proof changes state once: else STORE_STALE and nothing is written. Concurrent calls
 * with one proof on several hosts: one wins (a conditional UPDATE). */
enum store_status store_device_signed(struct store *s, const char *deviceid, int64_t t, bool state_changing);
/* A read: the lookups until store_read_end() see one snapshot of the database and take its
 * read lock once (on SQLite each lock and unlock is a system call). Writes do
 * not belong in it: an operation's own transaction cannot begin inside. */
enum store_status store_read_begin(struct store *s);
void store_read_end(struct store *s);
/* Stores a reading if the device is accepted and seqn is above its last accepted one, in one
 * transaction with that check: STORE_REFUSED when the device is not accepted (an admin's reject
 * since the reading was opened), STORE_STALE for a replay or an older SEQN, and as well when the device's SEQN
 * epoch is no longer epoch (the one the reading was opened in) or envelope (DEVICE_TRUST_V1 or
 * DEVICE_TRUST_V2) is v1 and the device has sent v2. The envelope's bit is added to the device's
 * trust. Also counts as the device being seen. */
enum store_status store_reading_add(struct store *s, const char *deviceid, int64_t seqn, int64_t received_at,
                                    int64_t ts, const char *reading, size_t reading_len, int64_t epoch,
                                    int64_t envelope);
/* A reading for store_readings_add(): store_reading_add()'s arguments. */
struct reading_new {
    const char *deviceid;
    int64_t seqn, received_at, ts;
    const char *text;
    size_t len;
    int64_t epoch, envelope;
};
/* Stores readings of n different devices, each as store_reading_add() would, status[i] saying
 * what became of r[i]; a backend with many writers (PostgreSQL) writes them in one statement, so
 * that they share one commit. Returns the first status that is a failure, else STORE_OK. */
enum store_status store_readings_add(struct store *s, const struct reading_new *r, size_t n,
                                     enum store_status *status);
/* The trust of n devices, each as store_device_trust() gives it (status[i]: STORE_OK,
 * STORE_NOT_FOUND or why it failed), in one read where the backend is a server. Returns the first
 * status that is a failure, else STORE_OK. */
enum store_status store_devices_trust(struct store *s, const char *const *ids, size_t n, struct device_trust *out,
                                      enum store_status *status);
enum store_status store_reading_list(struct store *s, const char *deviceid, const struct reading_filter *f,
                                     store_reading_fn fn, void *user_data);
/* min/avg/max of every numeric field per bucket of bucket_seconds, oldest bucket first. */
enum store_status store_reading_buckets(struct store *s, const char *deviceid, int64_t since, int64_t until,
                                        int64_t bucket_seconds, store_bucket_fn fn, void *user_data);
/* Deletes up to max readings received before the given time, oldest arrivals first (the
 * readings are walked in arrival order, not by time: see STMT_READING_PRUNE); *deleted says
 * how many. */
enum store_status store_reading_prune(struct store *s, int64_t before, int max, int *deleted);
/* Deletes up to max devices still pending that registered before the given time and never had a
 * reading accepted (an admin never let them in); *deleted says how many. */
enum store_status store_device_expire_pending(struct store *s, int64_t before, int max, int *deleted);

/* ---- firmware (ARCHITECTURE.md "Firmware updates") ---- */

/* A stored version; strings borrowed for the callback. */
struct firmware {
    const char *version;
    const char *sha256, *md5; /* lower-case hex */
    int64_t size, created;
};
typedef void (*store_firmware_fn)(const struct firmware *fw, void *user_data);

/* Stores image (fw->size bytes whose digests fw gives) as fw->version, in one transaction:
 * STORE_CREATED; STORE_OK when the version holds these bytes already (fn gets the stored one,
 * with its created); STORE_EXISTS when it holds other bytes. Bytes are stored once per SHA-256. */
enum store_status store_firmware_add(struct store *s, const struct firmware *fw, const void *image,
                                     store_firmware_fn fn, void *user_data);
enum store_status store_firmware_get(struct store *s, const char *version, store_firmware_fn fn,
                                     void *user_data);
/* By version. */
enum store_status store_firmware_list(struct store *s, store_firmware_fn fn, void *user_data);
/* The versions devices last reported running, with how many run each: most devices first (then by
 * version), at most max. Reads every device. */
typedef void (*store_version_count_fn)(const char *version, int64_t devices, void *user_data);
enum store_status store_firmware_running(struct store *s, int max, store_version_count_fn fn, void *user_data);
/* STORE_NOT_FOUND; STORE_STALE while a device has it assigned or an active rollout names it. Its bytes go with the last version
 * holding them. */
enum store_status store_firmware_delete(struct store *s, const char *version);
/* The bytes of sha256 into *image (malloc'd, the caller frees), *size long. */
enum store_status store_firmware_image(struct store *s, const char *sha256, void **image, size_t *size);

/* What happened in a device's update; its status moves in SQL (one conditional UPDATE). */
enum firmware_event {
    FIRMWARE_OFFERED,     /* a poll answer carried version: pending -> offered */
    FIRMWARE_FETCHED,     /* part of version's image was asked for (a range short of its end) */
    FIRMWARE_FETCHED_ALL, /* version's image was asked for up to its last byte */
    FIRMWARE_REPORTED,    /* the device says it runs version */
};
/* The event for deviceid, written only when it changes something: STORE_OK, and status (when not
 * NULL) gets the status after it. STORE_NOT_FOUND: nothing written: it changes nothing (a resumed
 * or repeated download, a version reported again), there is no such device, or (but for
 * FIRMWARE_REPORTED) version is not the one assigned to it. */
enum store_status store_device_firmware(struct store *s, const char *deviceid, enum firmware_event event,
                                        const char *version, char status[FIRMWARE_STATUS_LEN]);
/* A device's assigned firmware, as its row and the firmware table give it. */
struct assigned_image {
    char version[FIRMWARE_VERSION_MAX + 1]; /* "": none */
    char sha256[65], md5[33];               /* the assigned version's */
    int64_t size;
};
/* What a device's download of its assigned image depends on (store_device_image()). */
struct image_facts {
    struct device_trust trust; /* its key only for STORE_CALLER_TO_PROVE, as store_device_trust() gives it */
    struct assigned_image assigned;
    enum firmware_event event; /* FIRMWARE_FETCHED_ALL when the download reaches the image's end, else FETCHED */
    bool changes;              /* the event changes the device's update status (see store_device_image()) */
};
/* A device's download of version's image up to its byte last (INT64_MAX: to the end), in one read
 * (no lookup of the device's trust first): the device's trust and assigned image into facts, and
 * the event written (store_device_firmware()) only when it changes something -- the device not
 * rejected, version the one assigned, and its status or fw_downloaded moving -- so that a repeated
 * or resumed download is a read alone. STORE_NOT_FOUND: no such device. The caller as for a
 * heartbeat: an unsigned one for a device that must sign gets STORE_UNPROVED, nothing written;
 * one STORE_CALLER_TO_PROVE gets the facts with nothing written, and writes them with
 * store_image_fetched() once proved. */
enum store_status store_device_image(struct store *s, const char *deviceid, enum store_caller caller,
                                     const char *version, int64_t last, struct image_facts *facts);
/* The download's event as store_device_image() read it into facts, written when it changes
 * something (facts->changes): by store_device_image() itself, or by a STORE_CALLER_TO_PROVE
 * caller once proved. Another call having written it meanwhile is no failure. */
enum store_status store_image_fetched(struct store *s, const char *deviceid, const struct image_facts *facts);
/* What an Arduino update client's check (GET /api/ota) needs of its device (store_device_by_mac()). */
struct ota_facts {
    char deviceid[DEVICE_ID_MAX + 1];
    struct device_trust trust; /* as store_device_trust() gives it */
    struct assigned_image assigned;
    char running[FIRMWARE_VERSION_MAX + 1]; /* what it last reported; "": never said */
    char status[FIRMWARE_STATUS_LEN];       /* its update status */
};
/* The device whose id is mac12 (12 upper-case hex digits) with or without colons, in any case (of
 * several, the first by id), in one read: its id, trust, assigned image and update status. */
enum store_status store_device_by_mac(struct store *s, const char *mac12, struct ota_facts *facts);

/* ---- staged rollouts (ARCHITECTURE.md "Rollouts") ---- */

#define ROLLOUT_STAGES_MAX 10
/* A rollout; strings borrowed for the callback. */
struct rollout {
    int64_t id;
    const char *firmware, *tag;
    const char *stages; /* a JSON array of percentages, strictly increasing, ending at 100 */
    int success_threshold, failure_threshold; /* percent */
    int64_t timeout;                          /* seconds from a device's download to its report */
    const char *state;                        /* running, paused, cancelled, done */
    int stage;                                /* stages started: 0 .. the number of stages */
    const char *reason;                       /* why it paused itself; "" */
    int64_t created, updated;
};
typedef void (*store_rollout_fn)(const struct rollout *r, void *user_data);
/* One stage's devices by their update status (of the rollout's version; a device assigned another
 * since counts in devices alone). */
struct rollout_stage_count {
    int stage;
    int64_t devices, pending, in_progress, installed, failed;
};
typedef void (*store_rollout_stage_fn)(const struct rollout_stage_count *c, void *user_data);

/* A new rollout (r's id, state, stage, reason and updated are ignored), running at stage 0, its
 * id into *id: STORE_CREATED; STORE_EXISTS when its tag has an active (running or paused) one. */
enum store_status store_rollout_add(struct store *s, const struct rollout *r, int64_t *id);
/* The rollout id (STORE_NOT_FOUND), or with id 0 every rollout in state (NULL: any), newest
 * first. */
enum store_status store_rollout_list(struct store *s, int64_t id, const char *state, store_rollout_fn fn,
                                     void *user_data);
/* The counts of each started stage of rollout id, in stage order. */
enum store_status store_rollout_stages(struct store *s, int64_t id, store_rollout_stage_fn fn, void *user_data);
/* Moves rollout id from state from (NULL: running or paused) to state to with reason, if it is
 * still at stage (-1: any); cancelled also clears the assignment of its devices still pending
 * (not yet offered). STORE_STALE when it is not in that state (or stage), STORE_NOT_FOUND when
 * there is no such rollout. One conditional UPDATE decides: of two at once, one wins. */
enum store_status store_rollout_state(struct store *s, int64_t id, const char *from, int stage, const char *to,
                                      const char *reason, int64_t now);
/* Starts stage + 1 of rollout id if it is running at stage: its devices are the first `devices`
 * of its tag's accepted ones by id not in an earlier stage, recorded in rollout_devices, and are
 * assigned its version (FIRMWARE_ASSIGN_SQL); how many into *assigned. STORE_STALE when it is no
 * longer running at stage (another evaluator moved it first). */
enum store_status store_rollout_start(struct store *s, int64_t id, int stage, int64_t devices, int64_t now,
                                      int64_t *assigned);
/* Rollout id's timeouts at now: notes when each of its devices was first seen with its image
 * downloaded, and marks failed those still downloading timeout seconds after that; how many into
 * *failed. */
enum store_status store_rollout_timeouts(struct store *s, int64_t id, int64_t now, int64_t *failed);

/* expires: when the token stops working; 0: never. */
enum store_status store_token_add(struct store *s, const char *name,
                                  const unsigned char hash[STORE_TOKEN_HASH_LEN], int64_t now,
                                  int64_t expires);
/* STORE_OK for a valid token, recorded as used at now (written when the last use recorded is
 * TOKEN_USE_STEP_S old or more, so not every request writes), its name into name (when not NULL);
 * STORE_NOT_FOUND: no such token; STORE_STALE: it has expired. It may write: not inside
 * store_read_begin(). */
enum store_status store_token_check(struct store *s, const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                    int64_t now, char name[STORE_TOKEN_NAME_MAX + 1]);
enum store_status store_token_list(struct store *s, store_token_fn fn, void *user_data);
enum store_status store_token_revoke(struct store *s, const char *name);

/* ---- admin changes and their audit trail (ARCHITECTURE.md "Audit trail") ---- */

/* An admin's change as one transaction: the writes until store_write_end() -- the change (a
 * device's update, deletion or key, a token's creation or revocation, ...) and its audit entry
 * (store_audit_add()) -- commit together or not at all. Operations that begin a transaction of
 * their own for the device calls (registration, polls, readings) do not belong inside, nor does
 * it go inside store_read_begin(). On PostgreSQL a connection lost inside is not reset before
 * store_write_end(): what follows fails, and nothing commits. */
enum store_status store_write_begin(struct store *s);
/* Commits (commit true) or rolls back what was written since store_write_begin(); when the
 * commit fails, nothing was written. */
enum store_status store_write_end(struct store *s, bool commit);
/* Inside store_write_begin(): the device as it is, kept from other changes until
 * store_write_end() (PostgreSQL: its row locked; SQLite: the write transaction holds the
 * database), so that what an audit entry says was before is what the change changed. */
enum store_status store_device_lock(struct store *s, const char *deviceid, store_device_fn fn,
                                    void *user_data);

/* One entry of the audit trail. Strings are borrowed: valid only inside the callback. */
struct audit_entry {
    int64_t id; /* the order of entries, the cursor of pages; store_audit_add() ignores it */
    int64_t at; /* Unix seconds */
    const char *via;    /* "api" (an admin token) or "provctl" */
    const char *actor;  /* the token's name, or provctl's OS user: never a secret */
    const char *action; /* "device.update", "token.create", ...: a device's begin "device." */
    const char *target; /* what was changed: a device id, a token name */
    const char *before, *after; /* JSON text of what the change touched; NULL: nothing */
};
typedef void (*store_audit_fn)(const struct audit_entry *e, void *user_data);

struct audit_filter {
    const char *device; /* NULL: every entry; else those of this device (actions "device.*") */
    int64_t since;      /* entries at or after this time */
    int64_t after;      /* keyset cursor: the id of the last entry of the previous page; -1: none */
    int limit;
};

/* Adds an entry, inside the change's store_write_begin() (or as a transaction of its own). */
enum store_status store_audit_add(struct store *s, const struct audit_entry *e);
/* The entries of f, newest first; *count gets how many. */
enum store_status store_audit_list(struct store *s, const struct audit_filter *f, store_audit_fn fn,
                                   void *user_data, int *count);
/* Deletes up to max entries made before the given time; *deleted says how many. */
enum store_status store_audit_prune(struct store *s, int64_t before, int max, int *deleted);

/* ---- the fleet overview ---- */

/* The devices that went offline most recently (seen once, not within 5 poll intervals at now;
 * default_interval for those without their own), by when they turned offline, latest first, max
 * at most. Reads every device, as store_fleet() does. */
enum store_status store_recently_offline(struct store *s, int64_t now, int64_t default_interval, int max,
                                         store_device_fn fn, void *user_data);
/* The id of the newest reading taken (0: none yet). Ids rise by one per reading taken, so the
 * rise of this number over a time is the readings taken in it, on every host alike. */
enum store_status store_reading_last_id(struct store *s, int64_t *id);

/* ---- alerts (ARCHITECTURE.md "Alerts") ----
 * An outbox in the database: alerts are written in the transaction that decides them and
 * deleted once delivered, so each is delivered at least once, across restarts. */

/* The kinds of alert, by name in the outbox and in what the webhook receives. The first three are
 * a device's liveness changes (the kind is the liveness it turned to, as the sweep writes them);
 * a new kind is one more entry here and in alert_kind_name(), enqueued with store_alert_enqueue(). */
enum alert_kind { ALERT_ONLINE, ALERT_OVERDUE, ALERT_OFFLINE, ALERT_ROLLOUT_STOPPED, ALERT_KIND__COUNT };
const char *alert_kind_name(enum alert_kind kind);

/* An alert in the outbox; strings borrowed for the callback. */
struct alert {
    int64_t id;       /* in the order alerts were written: the id the receiver deduplicates by */
    const char *kind; /* alert_kind_name() */
    const char *subject; /* whose alerts go out one after another: a device's id */
    int64_t at;          /* when it was decided */
    /* A liveness change: the device's name, the liveness it had and has, and its lastseen (0:
     * never seen). NULL, NULL, NULL, 0 for other kinds. */
    const char *name, *liveness_from, *liveness_to;
    int64_t lastseen;
    const char *detail; /* JSON object of the kind's own fields; NULL: none */
    int64_t attempts;   /* deliveries tried so far */
};
typedef void (*store_alert_fn)(const struct alert *a, void *user_data);

struct alert_counts {
    int64_t pending; /* in the outbox */
    int64_t sent, failed; /* delivered; refused by the receiver for good (4xx): since the database began */
};

/* Whether this store's connection is the deployment's one sweeper: STORE_OK when it is (again:
 * call it before each round, since a lost connection on PostgreSQL loses the lead), STORE_STALE
 * when another holds the lead (SQLite: a process with the file lock <db>-alerts.lock; PostgreSQL:
 * a session with the advisory lock). */
enum store_status store_alert_lead(struct store *s);
/* Judges the liveness at now (default_interval for devices without their own) of up to max
 * devices whose judgement may be stale: those whose last one said when it would turn, now
 * past, and those not online that were seen since. Each change is an alert in the outbox (kind:
 * the new liveness), written in the transaction that records the new judgement; a device's
 * first judgement alerts nothing. *judged says how many were judged (0: none is due). Safe with
 * several callers at once (each device is judged once), though one caller (store_alert_lead())
 * is what keeps it cheap. */
enum store_status store_alert_sweep(struct store *s, int64_t now, int64_t default_interval, int max,
                                    int *judged);
/* Puts an alert of kind about subject, decided at at, in the outbox, after every alert already
 * there for subject; detail: a JSON object of its own fields (NULL: none), merged into what the
 * receiver gets. For kinds other than the sweep's (e.g. a rollout that pauses itself). */
enum store_status store_alert_enqueue(struct store *s, enum alert_kind kind, const char *subject, int64_t at,
                                      const char *detail);
/* Up to max alerts to deliver now, oldest first: of each subject only its oldest, and only once its
 * next attempt is due (at or before now). */
enum store_status store_alert_due(struct store *s, int64_t now, int max, store_alert_fn fn, void *user_data);
/* Takes alert id out of the outbox, counted as sent (delivered) or failed (refused for good). */
enum store_status store_alert_done(struct store *s, int64_t id, bool delivered);
/* Alert id failed this time: one more attempt counted, the next not before next_at. */
enum store_status store_alert_retry(struct store *s, int64_t id, int64_t next_at);
enum store_status store_alert_counts(struct store *s, struct alert_counts *out);

/* ---- bulk loading (benchmarks, imports) ----
 * Each call is one transaction with syncing off, then a checkpoint moves the WAL into the
 * database file: a crash during a load loses that load only. Device ids are prefix followed by
 * the number as 6+ upper-case hex digits (fixed width, so id order is number order). */
#define STORE_BULK_ID_DIGITS 6

/* Writes the text of reading seqn into buf (len bytes); returns its length, 0 when it does not fit. */
typedef size_t (*store_reading_text_fn)(int64_t seqn, char *buf, size_t len, void *user_data);

/* Adds devices first..first+count-1, accepted, with telemetry secret key, seen at now. */
enum store_status store_device_bulk_add(struct store *s, const char *prefix, int64_t first, int64_t count,
                                        const char *key, int64_t now);
/* Adds readings SEQN 1..per_device to each of devices first..first+count-1 (which exist), one
 * every step seconds up to now, and records the last SEQN of each. */
enum store_status store_reading_bulk_add(struct store *s, const char *prefix, int64_t first, int64_t count,
                                         int64_t per_device, int64_t now, int64_t step,
                                         store_reading_text_fn fn, void *user_data);

#endif
