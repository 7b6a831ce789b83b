/* The store.h operations, each passed on to the backend that opened the store (store_backend.h),
 * and the choice of that backend by the database's name. */
#include "store.h"

#include <stdio.h>
#include <string.h>

#include "store_backend.h"

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
                                        const char *ssid, const struct registration *reg, int64_t now,
                                        store_device_fn fn, void *user_data)
{
    return s->ops->device_register(s, deviceid, ipaddr, ssid, reg, now, fn, user_data);
}

enum store_status store_device_heartbeat(struct store *s, const char *deviceid, int64_t now,
                                         struct poll_facts *facts)
{
    return s->ops->device_heartbeat(s, deviceid, now, facts);
}

enum store_status store_device_poll(struct store *s, const char *deviceid, int64_t applied, int64_t now,
                                    store_device_fn fn, void *user_data)
{
    return s->ops->device_poll(s, deviceid, applied, now, fn, user_data);
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
    return s->ops->device_set_key(s, deviceid, key);
}

enum store_status store_device_list(struct store *s, const struct device_filter *filter, store_device_fn fn,
                                    void *user_data, int *count)
{
    return s->ops->device_list(s, filter, fn, user_data, count);
}

enum store_status store_stats(struct store *s, int64_t now, int64_t default_interval, struct store_stats *out)
{
    return s->ops->stats(s, now, default_interval, out);
}

enum store_status store_device_secret(struct store *s, const char *deviceid, char *state, size_t state_len,
                                      char *key, size_t key_len)
{
    return s->ops->device_secret(s, deviceid, state, state_len, key, key_len);
}

enum store_status store_reading_add(struct store *s, const char *deviceid, int64_t seqn, int64_t received_at,
                                    int64_t ts, const char *reading, size_t reading_len)
{
    return s->ops->reading_add(s, deviceid, seqn, received_at, ts, reading, reading_len);
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
                                  const unsigned char hash[STORE_TOKEN_HASH_LEN], int64_t now)
{
    return s->ops->token_add(s, name, hash, now);
}

enum store_status store_token_check(struct store *s, const unsigned char hash[STORE_TOKEN_HASH_LEN])
{
    return s->ops->token_check(s, hash);
}

enum store_status store_token_list(struct store *s, store_token_fn fn, void *user_data)
{
    return s->ops->token_list(s, fn, user_data);
}

enum store_status store_token_revoke(struct store *s, const char *name)
{
    return s->ops->token_revoke(s, name);
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
