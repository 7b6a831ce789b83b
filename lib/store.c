/* The store.h operations, each passed on to the backend that opened the store (store_backend.h),
 * and the choice of that backend by the database's name. */
#include "store.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key_wrap.h"
#include "store_backend.h"
#include "validate.h"

#define SEAL_BATCH 64 /* plain keys sealed per round of store_seal_keys() */

bool store_target_is_pg(const char *target)
{
    return strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0;
}

struct store *store_open(const char *target, char *err, size_t err_len)
{
    return store_target_is_pg(target) ? store_pg_open(target, err, err_len)
                                      : store_sqlite_open(target, err, err_len);
}

unsigned store_needs(const struct store *s)
{
    return s->ops->needs;
}

void store_use_server_key(struct store *s, const struct server_key *key)
{
    s->server_key = key;
}

static enum store_status key_error(struct store *s, const char *deviceid, const char *what)
{
    snprintf(s->errmsg, sizeof s->errmsg, "device %s's key: %s", deviceid, what);
    return STORE_ERROR;
}

/* A device's key as its row stores it (stored) opened into out->key with the server key; a key
 * from before sealing is taken as it is. */
static enum store_status open_key(struct store *s, const char *deviceid, const char *stored,
                                  struct device_trust *out)
{
    if (!key_is_sealed(stored)) {
        if ((size_t)snprintf(out->key, sizeof out->key, "%s", stored) >= sizeof out->key)
            return key_error(s, deviceid, "too long");
    } else if (!s->server_key || !key_open(s->server_key, deviceid, stored, out->key, sizeof out->key)) {
        return key_error(s, deviceid, "does not open with this server key (PROVD_KEY_FILE)");
    }
    return STORE_OK;
}

/* The plain keys of one round, copied out of the backend's rows. */
struct plain_keys {
    int count;
    char deviceid[SEAL_BATCH][DEVICE_ID_MAX + 1];
    char key[SEAL_BATCH][SECRET_MAX_LEN + 1];
    bool too_long[SEAL_BATCH];
};

static void take_plain_key(const char *deviceid, const char *key, void *user_data)
{
    struct plain_keys *p = user_data;
    if (p->count == SEAL_BATCH)
        return;
    snprintf(p->deviceid[p->count], sizeof p->deviceid[0], "%s", deviceid);
    p->too_long[p->count] = strlen(key) > SECRET_MAX_LEN;
    snprintf(p->key[p->count], sizeof p->key[0], "%s", key);
    p->count++;
}

enum store_status store_seal_keys(struct store *s, int64_t *sealed)
{
    *sealed = 0;
    if (!s->server_key)
        return key_error(s, "*", "no server key to seal keys with (PROVD_KEY_FILE)");
    struct plain_keys *round = malloc(sizeof *round);
    if (!round)
        return key_error(s, "*", "out of memory");
    enum store_status st;
    do {
        round->count = 0;
        st = s->ops->device_keys_plain(s, SEAL_BATCH, take_plain_key, round);
        int done = 0;
        for (int i = 0; st == STORE_OK && i < round->count; i++) {
            char text[KEY_WRAP_MAX];
            if (round->too_long[i] || !key_seal(s->server_key, round->deviceid[i], round->key[i], text))
                st = key_error(s, round->deviceid[i], "cannot be sealed (longer than 256 bytes?)");
            else if ((st = s->ops->device_key_replace(s, round->deviceid[i], round->key[i], text)) ==
                     STORE_NOT_FOUND)
                st = STORE_OK; /* changed meanwhile: set sealed, or the device deleted */
            else if (st == STORE_OK)
                done++;
        }
        *sealed += done;
        if (st == STORE_OK && round->count > 0 && done == 0)
            st = key_error(s, "*", "plain keys are left that cannot be replaced");
    } while (st == STORE_OK && round->count == SEAL_BATCH);
    OPENSSL_cleanse(round, sizeof *round);
    free(round);
    return st;
}

const char *store_errmsg(const struct store *s)
{
    return s->errmsg;
}

int64_t store_online_window(int64_t poll_interval)
{
    return 2 * poll_interval + 10;
}

void store_free(struct store *s)
{
    if (s)
        s->ops->free(s);
}

enum store_status store_ping(struct store *s)
{
    return s->ops->ping(s);
}

enum store_status store_backup(struct store *s, const char *path, store_progress_fn fn, void *user_data)
{
    return s->ops->backup(s, path, fn, user_data);
}

enum store_status store_restore(struct store *s, const char *path, store_progress_fn fn, void *user_data)
{
    return s->ops->restore(s, path, fn, user_data);
}

int store_flush(struct store *s, bool all)
{
    return s->ops->flush ? s->ops->flush(s, all) : -1;
}

int store_flush_due_in(const struct store *s)
{
    return s->ops->flush_due_in ? s->ops->flush_due_in(s) : -1;
}

enum store_status store_sync_every_commit(struct store *s)
{
    return s->ops->sync_every_commit(s);
}

enum store_status store_prepare_all(struct store *s)
{
    return s->ops->prepare_all(s);
}

enum store_status store_read_begin(struct store *s)
{
    return s->ops->read_begin(s);
}

void store_read_end(struct store *s)
{
    s->ops->read_end(s);
}

enum store_status store_device_register(struct store *s, const char *deviceid, const char *ipaddr,
                                        const char *ssid, const char *location,
                                        const struct registration *reg, int64_t now,
                                        store_device_fn fn, void *user_data)
{
    return s->ops->device_register(s, deviceid, ipaddr, ssid, location, reg, now, fn, user_data);
}

enum store_status store_device_heartbeat(struct store *s, const char *deviceid, enum store_caller caller,
                                         int64_t now, struct poll_facts *facts)
{
    char stored[KEY_WRAP_MAX] = "";
    enum store_status st = s->ops->device_heartbeat(s, deviceid, caller, now, facts, stored, sizeof stored);
    if (st == STORE_OK && caller == STORE_CALLER_TO_PROVE)
        st = open_key(s, deviceid, stored, &facts->trust);
    OPENSSL_cleanse(stored, sizeof stored);
    return st;
}

enum store_status store_heartbeat_seen(struct store *s, const char *deviceid, const struct poll_facts *facts,
                                       int64_t now)
{
    return s->ops->heartbeat_seen(s, deviceid, facts->row, now);
}

enum store_status store_device_poll(struct store *s, const char *deviceid, enum store_caller caller,
                                    int64_t applied, int64_t now, store_device_fn fn, void *user_data)
{
    return s->ops->device_poll(s, deviceid, caller, applied, now, fn, user_data);
}

enum store_status store_device_get(struct store *s, const char *deviceid, store_device_fn fn, void *user_data)
{
    return s->ops->device_get(s, deviceid, fn, user_data);
}

enum store_status store_device_update(struct store *s, const char *deviceid,
                                      const struct device_update *update, int64_t now, store_device_fn fn,
                                      void *user_data)
{
    return s->ops->device_update(s, deviceid, update, now, fn, user_data);
}

enum store_status store_device_delete(struct store *s, const char *deviceid)
{
    return s->ops->device_delete(s, deviceid);
}

enum store_status store_device_set_key(struct store *s, const char *deviceid, const char *key)
{
    char sealed[KEY_WRAP_MAX];
    if (!s->server_key)
        return key_error(s, deviceid, "no server key to seal it with (PROVD_KEY_FILE)");
    if (!key_seal(s->server_key, deviceid, key, sealed))
        return key_error(s, deviceid, "cannot be sealed");
    return s->ops->device_set_key(s, deviceid, sealed);
}

enum store_status store_device_list(struct store *s, const struct device_filter *filter, store_device_fn fn,
                                    void *user_data, int *count)
{
    return s->ops->device_list(s, filter, fn, user_data, count);
}

enum store_status store_device_count(struct store *s, const struct device_filter *filter, int64_t *count)
{
    *count = 0;
    return s->ops->device_count(s, filter, count);
}

enum store_status store_device_bulk(struct store *s, const struct device_filter *filter,
                                    const struct device_bulk *bulk, int64_t *affected)
{
    *affected = 0;
    return s->ops->device_bulk(s, filter, bulk, affected);
}

enum store_status store_reading_count(struct store *s, int64_t *count)
{
    return s->ops->reading_count(s, count);
}

static void count_rollout(const struct rollout *r, void *user_data)
{
    (void)r;
    ++*(int64_t *)user_data;
}

enum store_status store_fleet(struct store *s, int64_t now, int64_t default_interval, struct store_fleet *out)
{
    int64_t c[FLEET__COUNT];
    enum store_status st = s->ops->fleet(s, now, default_interval, c);
    if (st == STORE_OK)
        *out = (struct store_fleet){.pending = c[FLEET_PENDING], .accepted = c[FLEET_ACCEPTED],
                                    .rejected = c[FLEET_REJECTED], .online = c[FLEET_ONLINE],
                                    .overdue = c[FLEET_OVERDUE],
                                    .offline = c[FLEET_ALL] - c[FLEET_ONLINE] - c[FLEET_OVERDUE],
                                    .database_bytes = c[FLEET_BYTES]};
    struct alert_counts alerts;
    if (st == STORE_OK && (st = s->ops->alert_counts(s, &alerts)) == STORE_OK) {
        out->alerts_pending = alerts.pending;
        out->alerts_sent = alerts.sent;
        out->alerts_failed = alerts.failed;
    }
    if (st == STORE_OK)
        st = store_rollout_list(s, 0, "running", count_rollout, &out->rollouts_running);
    if (st == STORE_OK)
        st = store_rollout_list(s, 0, "paused", count_rollout, &out->rollouts_paused);
    return st;
}

enum store_status store_device_trust(struct store *s, const char *deviceid, struct device_trust *out)
{
    char stored[KEY_WRAP_MAX];
    enum store_status st = s->ops->device_trust(s, deviceid, out, stored, sizeof stored);
    if (st == STORE_OK)
        st = open_key(s, deviceid, stored, out);
    OPENSSL_cleanse(stored, sizeof stored);
    return st;
}

enum store_status store_rollout_add(struct store *s, const struct rollout *r, int64_t *id)
{
    return s->ops->rollout_add(s, r, id);
}

enum store_status store_rollout_list(struct store *s, int64_t id, const char *state, store_rollout_fn fn,
                                     void *user_data)
{
    return s->ops->rollout_list(s, id, state, fn, user_data);
}

enum store_status store_rollout_stages(struct store *s, int64_t id, store_rollout_stage_fn fn, void *user_data)
{
    return s->ops->rollout_stages(s, id, fn, user_data);
}

enum store_status store_rollout_state(struct store *s, int64_t id, const char *from, int stage, const char *to,
                                      const char *reason, int64_t now)
{
    return s->ops->rollout_state(s, id, from, stage, to, reason, now);
}

enum store_status store_rollout_start(struct store *s, int64_t id, int stage, int64_t devices, int64_t now,
                                      int64_t *assigned)
{
    return s->ops->rollout_start(s, id, stage, devices, now, assigned);
}

enum store_status store_rollout_timeouts(struct store *s, int64_t id, int64_t now, int64_t *failed)
{
    return s->ops->rollout_timeouts(s, id, now, failed);
}

enum store_status store_firmware_add(struct store *s, const struct firmware *fw, const void *image,
                                     store_firmware_fn fn, void *user_data)
{
    return s->ops->firmware_add(s, fw, image, fn, user_data);
}

enum store_status store_firmware_get(struct store *s, const char *version, store_firmware_fn fn,
                                     void *user_data)
{
    return s->ops->firmware_get(s, version, fn, user_data);
}

enum store_status store_firmware_running(struct store *s, int max, store_version_count_fn fn, void *user_data)
{
    return s->ops->firmware_running(s, max, fn, user_data);
}

enum store_status store_firmware_list(struct store *s, store_firmware_fn fn, void *user_data)
{
    return s->ops->firmware_list(s, fn, user_data);
}

enum store_status store_firmware_delete(struct store *s, const char *version)
{
    return s->ops->firmware_delete(s, version);
}

enum store_status store_firmware_image(struct store *s, const char *sha256, void **image, size_t *size)
{
    return s->ops->firmware_image(s, sha256, image, size);
}

enum store_status store_device_firmware(struct store *s, const char *deviceid, enum firmware_event event,
                                        const char *version, char status[FIRMWARE_STATUS_LEN])
{
    return s->ops->device_firmware(s, deviceid, event, version, status);
}

enum store_status store_device_image(struct store *s, const char *deviceid, enum store_caller caller,
                                     const char *version, int64_t last, struct image_facts *facts)
{
    char stored[KEY_WRAP_MAX] = "";
    enum store_status st = s->ops->device_image(s, deviceid, version, last, facts, stored, sizeof stored);
    if (st == STORE_OK && caller == STORE_CALLER_TO_PROVE) {
        st = open_key(s, deviceid, stored, &facts->trust);
    } else if (st == STORE_OK && caller == STORE_CALLER_UNSIGNED && device_must_sign(stored[0], facts->trust.trust)) {
        st = STORE_UNPROVED;
    } else if (st == STORE_OK) {
        st = store_image_fetched(s, deviceid, facts);
    }
    OPENSSL_cleanse(stored, sizeof stored);
    return st;
}

enum store_status store_image_fetched(struct store *s, const char *deviceid, const struct image_facts *facts)
{
    if (!facts->changes)
        return STORE_OK;
    enum store_status st = s->ops->device_firmware(s, deviceid, facts->event, facts->assigned.version, NULL);
    return st == STORE_NOT_FOUND ? STORE_OK : st; /* another call wrote it meanwhile */
}

enum store_status store_device_by_mac(struct store *s, const char *mac12, struct ota_facts *facts)
{
    char stored[KEY_WRAP_MAX] = "";
    enum store_status st = s->ops->device_by_mac(s, mac12, facts, stored, sizeof stored);
    if (st == STORE_OK)
        st = open_key(s, facts->deviceid, stored, &facts->trust);
    OPENSSL_cleanse(stored, sizeof stored);
    return st;
}

enum store_status store_device_signed(struct store *s, const char *deviceid, int64_t t, bool state_changing)
{
    return s->ops->device_signed(s, deviceid, t, state_changing);
}

enum store_status store_reading_add(struct store *s, const char *deviceid, int64_t seqn, int64_t received_at,
                                    int64_t ts, const char *reading, size_t reading_len, int64_t epoch,
                                    int64_t envelope)
{
    struct reading_new r = {deviceid, seqn, received_at, ts, reading, reading_len, epoch, envelope};
    enum store_status st;
    s->ops->readings_add(s, &r, 1, &st);
    return st;
}

/* The first failure among n statuses (STORE_STALE, STORE_NOT_FOUND and STORE_REFUSED are
 * answers, not failures), else STORE_OK. */
static enum store_status first_failure(const enum store_status *status, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (status[i] != STORE_OK && status[i] != STORE_STALE && status[i] != STORE_NOT_FOUND &&
            status[i] != STORE_REFUSED)
            return status[i];
    return STORE_OK;
}

enum store_status store_readings_add(struct store *s, const struct reading_new *r, size_t n,
                                     enum store_status *status)
{
    s->ops->readings_add(s, r, n, status);
    return first_failure(status, n);
}

enum store_status store_devices_trust(struct store *s, const char *const *ids, size_t n, struct device_trust *out,
                                      enum store_status *status)
{
    if (!s->ops->devices_trust) {
        for (size_t i = 0; i < n; i++)
            status[i] = store_device_trust(s, ids[i], &out[i]);
        return first_failure(status, n);
    }
    char *stored = calloc(n, KEY_WRAP_MAX);
    if (!stored) {
        for (size_t i = 0; i < n; i++)
            status[i] = STORE_ERROR;
        return STORE_ERROR;
    }
    s->ops->devices_trust(s, ids, n, out, stored, KEY_WRAP_MAX, status);
    for (size_t i = 0; i < n; i++)
        if (status[i] == STORE_OK)
            status[i] = open_key(s, ids[i], stored + i * KEY_WRAP_MAX, &out[i]);
    OPENSSL_cleanse(stored, n * KEY_WRAP_MAX);
    free(stored);
    return first_failure(status, n);
}

enum store_status store_reading_list(struct store *s, const char *deviceid, const struct reading_filter *f,
                                     store_reading_fn fn, void *user_data)
{
    return s->ops->reading_list(s, deviceid, f, fn, user_data);
}

enum store_status store_reading_buckets(struct store *s, const char *deviceid, int64_t since, int64_t until,
                                        int64_t bucket_seconds, store_bucket_fn fn, void *user_data)
{
    return s->ops->reading_buckets(s, deviceid, since, until, bucket_seconds, fn, user_data);
}

enum store_status store_reading_prune(struct store *s, int64_t before, int max, int *deleted)
{
    return s->ops->reading_prune(s, before, max, deleted);
}

enum store_status store_device_expire_pending(struct store *s, int64_t before, int max, int *deleted)
{
    return s->ops->device_expire_pending(s, before, max, deleted);
}

enum store_status store_token_add(struct store *s, const char *name,
                                  const unsigned char hash[STORE_TOKEN_HASH_LEN], int64_t now,
                                  int64_t expires)
{
    return s->ops->token_add(s, name, hash, now, expires);
}

enum store_status store_token_check(struct store *s, const unsigned char hash[STORE_TOKEN_HASH_LEN],
                                    int64_t now, char name[STORE_TOKEN_NAME_MAX + 1])
{
    int64_t expires, last_used;
    char found[STORE_TOKEN_NAME_MAX + 1] = "";
    enum store_status st = s->ops->token_check(s, hash, &expires, &last_used, found);
    if (name)
        memcpy(name, found, sizeof found);
    if (st != STORE_OK)
        return st;
    if (expires != 0 && expires <= now)
        return STORE_STALE;
    return now - last_used >= TOKEN_USE_STEP_S ? s->ops->token_used(s, hash, now) : STORE_OK;
}

enum store_status store_token_list(struct store *s, store_token_fn fn, void *user_data)
{
    return s->ops->token_list(s, fn, user_data);
}

enum store_status store_token_revoke(struct store *s, const char *name)
{
    return s->ops->token_revoke(s, name);
}

enum store_status store_write_begin(struct store *s)
{
    return s->ops->write_begin(s);
}

enum store_status store_write_end(struct store *s, bool commit)
{
    return s->ops->write_end(s, commit);
}

enum store_status store_device_lock(struct store *s, const char *deviceid, store_device_fn fn, void *user_data)
{
    return s->ops->device_lock(s, deviceid, fn, user_data);
}

enum store_status store_audit_add(struct store *s, const struct audit_entry *e)
{
    return s->ops->audit_add(s, e);
}

enum store_status store_audit_list(struct store *s, const struct audit_filter *f, store_audit_fn fn,
                                   void *user_data, int *count)
{
    return s->ops->audit_list(s, f, fn, user_data, count);
}

enum store_status store_audit_prune(struct store *s, int64_t before, int max, int *deleted)
{
    return s->ops->audit_prune(s, before, max, deleted);
}

enum store_status store_recently_offline(struct store *s, int64_t now, int64_t default_interval, int max,
                                         store_device_fn fn, void *user_data)
{
    return s->ops->recently_offline(s, now, default_interval, max, fn, user_data);
}

enum store_status store_reading_last_id(struct store *s, int64_t *id)
{
    return s->ops->reading_last_id(s, id);
}

enum store_status store_device_bulk_add(struct store *s, const char *prefix, int64_t first, int64_t count,
                                        const char *key, int64_t now)
{
    return s->ops->device_bulk_add(s, prefix, first, count, key, now);
}

enum store_status store_reading_bulk_add(struct store *s, const char *prefix, int64_t first, int64_t count,
                                         int64_t per_device, int64_t now, int64_t step,
                                         store_reading_text_fn fn, void *user_data)
{
    return s->ops->reading_bulk_add(s, prefix, first, count, per_device, now, step, fn, user_data);
}

const char *alert_kind_name(enum alert_kind kind)
{
    static const char *const names[ALERT_KIND__COUNT] = {
        [ALERT_ONLINE] = "online", [ALERT_OVERDUE] = "overdue", [ALERT_OFFLINE] = "offline",
        [ALERT_ROLLOUT_STOPPED] = "rollout_stopped"};
    return names[kind];
}

enum store_status store_alert_lead(struct store *s)
{
    return s->ops->alert_lead(s);
}

enum store_status store_alert_sweep(struct store *s, int64_t now, int64_t default_interval, int max,
                                    int *judged)
{
    return s->ops->alert_sweep(s, now, default_interval, max, judged);
}

enum store_status store_alert_enqueue(struct store *s, enum alert_kind kind, const char *subject, int64_t at,
                                      const char *detail)
{
    return s->ops->alert_enqueue(s, alert_kind_name(kind), subject, at, detail);
}

enum store_status store_alert_due(struct store *s, int64_t now, int max, store_alert_fn fn, void *user_data)
{
    return s->ops->alert_due(s, now, max, fn, user_data);
}

enum store_status store_alert_done(struct store *s, int64_t id, bool delivered)
{
    return s->ops->alert_done(s, id, delivered);
}

enum store_status store_alert_retry(struct store *s, int64_t id, int64_t next_at)
{
    return s->ops->alert_retry(s, id, next_at);
}

enum store_status store_alert_counts(struct store *s, struct alert_counts *out)
{
    return s->ops->alert_counts(s, out);
}
