/* Unit tests of staged rollouts (store.h's store_rollout_*(), rollout.h's evaluation) on a real
 * database (testlib.h: SQLite, or PostgreSQL with PROVD_TEST_PG): stage membership fixed when a
 * stage starts, advancing on successes, the emergency stop, timeouts, cancel, pause and resume,
 * one active rollout per tag, and two sweeps at once starting a stage once. */
#include <pthread.h>

#include "store_testlib.h"

#include "firmware_image.h"
#include "rollout.h"

#define TAG "fleet"

static int setup(void **state)
{
    return store_setup_with(state, tempdb_make);
}

static void add_firmware(struct store *s, const char *version)
{
    struct firmware_digests d;
    assert_true(firmware_digest(version, strlen(version), &d));
    struct firmware fw = {version, d.sha256, d.md5, (int64_t)strlen(version), TEST_T0};
    assert_int_equal(store_firmware_add(s, &fw, version, NULL, NULL), STORE_CREATED);
}

static void tag(struct store *s, const char *id)
{
    struct device_update u = no_change();
    u.tags = "[\"" TAG "\"]";
    assert_int_equal(store_device_update(s, id, &u, TEST_T0, NULL, NULL), STORE_OK);
}

/* n accepted devices d00, d01, ... tagged TAG, and firmware 2.0. */
static void fleet(struct store *s, int n)
{
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "d%02d", i);
        add_open(s, id);
        tag(s, id);
    }
    add_firmware(s, "2.0");
}

struct fw_state {
    char assigned[40], status[16];
};

static void capture_fw(const struct device *d, void *data)
{
    struct fw_state *f = data;
    copy_text(f->assigned, sizeof f->assigned, d->firmware ? d->firmware : "");
    copy_text(f->status, sizeof f->status, d->firmware_status);
}

static struct fw_state fw_of(struct store *s, const char *id)
{
    struct fw_state f;
    memset(&f, 0, sizeof f);
    assert_int_equal(store_device_get(s, id, capture_fw, &f), STORE_OK);
    return f;
}

/* A rollout of 2.0 over TAG, its first stage started. */
static int64_t start(struct store *s, const char *stages, int success, int failure, int64_t timeout,
                     int64_t *assigned)
{
    struct rollout r = {.firmware = "2.0", .tag = TAG, .stages = stages, .success_threshold = success,
                        .failure_threshold = failure, .timeout = timeout, .created = TEST_T0};
    assert_int_equal(store_rollout_add(s, &r, &r.id), STORE_CREATED);
    assert_true(r.id > 0);
    assert_int_equal(rollout_start_next(s, &r, TEST_T0, assigned), STORE_OK);
    return r.id;
}

struct kept {
    char state[16], reason[160];
    int stage;
};

static void keep(const struct rollout *r, void *data)
{
    struct kept *k = data;
    copy_text(k->state, sizeof k->state, r->state);
    copy_text(k->reason, sizeof k->reason, r->reason);
    k->stage = r->stage;
}

static struct kept rollout_of(struct store *s, int64_t id)
{
    struct kept k;
    memset(&k, 0, sizeof k);
    assert_int_equal(store_rollout_list(s, id, NULL, keep, &k), STORE_OK);
    return k;
}

struct counts {
    int stages;
    struct rollout_stage_count c[ROLLOUT_STAGES_MAX];
};

static void keep_counts(const struct rollout_stage_count *c, void *data)
{
    struct counts *k = data;
    k->c[k->stages++] = *c;
}

static struct counts counts_of(struct store *s, int64_t id)
{
    struct counts k = {0};
    assert_int_equal(store_rollout_stages(s, id, keep_counts, &k), STORE_OK);
    return k;
}

/* The event for devices d<first> .. d<last - 1> about 2.0. */
static void each(struct store *s, int first, int last, enum firmware_event event)
{
    for (int i = first; i < last; i++) {
        char dev[16];
        snprintf(dev, sizeof dev, "d%02d", i);
        assert_int_equal(store_device_firmware(s, dev, event, "2.0", NULL), STORE_OK);
    }
}

static void report(struct store *s, const char *id, const char *version)
{
    assert_int_equal(store_device_firmware(s, id, FIRMWARE_REPORTED, version, NULL), STORE_OK);
}

static struct rollout_sweep_result sweep(struct store *s, int64_t now)
{
    struct rollout_sweep_result r;
    assert_int_equal(rollout_sweep(s, now, &r), STORE_OK);
    return r;
}

/* Stage 1 is the first ceil(10% x 20) devices by id; a device tagged later does not shift it. The
 * next stage waits for the successes, then takes the devices up to 50%, and the last the rest. */
static void stages_advance_on_success(void **state)
{
    struct fixture *fx = *state;
    fleet(fx->store, 20);
    add_open(fx->store, "untagged");
    int64_t assigned = 0;
    int64_t id = start(fx->store, "[10,50,100]", 100, 50, 3600, &assigned);
    assert_int_equal(assigned, 2);
    assert_string_equal(fw_of(fx->store, "d00").status, "pending");
    assert_string_equal(fw_of(fx->store, "d01").assigned, "2.0");
    assert_string_equal(fw_of(fx->store, "d02").status, "none");
    add_open(fx->store, "a-late"); /* first by id, tagged after stage 1 began */
    tag(fx->store, "a-late");
    struct counts c = counts_of(fx->store, id);
    assert_int_equal(c.stages, 1);
    assert_int_equal(c.c[0].devices, 2);
    assert_int_equal(c.c[0].pending, 2);

    report(fx->store, "d00", "2.0");
    assert_int_equal(sweep(fx->store, TEST_T0).stages, 0); /* one of two is not 100% */
    report(fx->store, "d01", "2.0");
    struct rollout_sweep_result r = sweep(fx->store, TEST_T0);
    assert_int_equal(r.rollouts, 1);
    assert_int_equal(r.stages, 1);
    c = counts_of(fx->store, id);
    assert_int_equal(c.stages, 2);
    assert_int_equal(c.c[0].devices, 2); /* still d00 and d01 */
    assert_int_equal(c.c[0].installed, 2);
    assert_int_equal(c.c[1].devices, 9); /* ceil(50% x 21) = 11, less the 2 before */
    assert_string_equal(fw_of(fx->store, "a-late").status, "pending");
    assert_int_equal(rollout_of(fx->store, id).stage, 2);
    assert_string_equal(fw_of(fx->store, "untagged").status, "none");
}

/* Every device installed: the stages follow each other and the rollout ends done. */
static void rollout_reaches_done(void **state)
{
    struct fixture *fx = *state;
    fleet(fx->store, 4);
    int64_t assigned = 0;
    int64_t id = start(fx->store, "[25,100]", 95, 5, 3600, &assigned);
    assert_int_equal(assigned, 1);
    report(fx->store, "d00", "2.0");
    assert_int_equal(sweep(fx->store, TEST_T0).stages, 1);
    each(fx->store, 1, 4, FIRMWARE_REPORTED);
    assert_int_equal(sweep(fx->store, TEST_T0).done, 1);
    assert_string_equal(rollout_of(fx->store, id).state, "done");
    assert_int_equal(sweep(fx->store, TEST_T0).rollouts, 0);
}

/* The alerts in the outbox: how many, and the last one's kind, subject and detail. */
struct outbox {
    int n;
    char kind[32], subject[40], detail[400];
};

static void keep_alert(const struct alert *a, void *data)
{
    struct outbox *o = data;
    o->n++;
    copy_text(o->kind, sizeof o->kind, a->kind);
    copy_text(o->subject, sizeof o->subject, a->subject);
    copy_text(o->detail, sizeof o->detail, a->detail ? a->detail : "");
}

/* A device back with its old version after downloading fails; past the threshold the rollout
 * pauses itself, says why, and stays paused; resumed, it stops again while the failures stand. */
static void failures_stop_the_rollout(void **state)
{
    struct fixture *fx = *state;
    fleet(fx->store, 10);
    int64_t assigned = 0;
    int64_t id = start(fx->store, "[50,100]", 95, 20, 3600, &assigned);
    assert_int_equal(assigned, 5);
    each(fx->store, 0, 5, FIRMWARE_OFFERED);
    assert_int_equal(store_device_firmware(fx->store, "d00", FIRMWARE_FETCHED_ALL, "2.0", NULL), STORE_OK);
    report(fx->store, "d00", "1.0");
    assert_string_equal(fw_of(fx->store, "d00").status, "failed");
    assert_int_equal(sweep(fx->store, TEST_T0).stopped, 0); /* 1 of 5: 20%, not past it */
    assert_int_equal(store_device_firmware(fx->store, "d01", FIRMWARE_FETCHED_ALL, "2.0", NULL), STORE_OK);
    report(fx->store, "d01", "1.0");
    struct rollout_sweep_result r = sweep(fx->store, TEST_T0);
    assert_int_equal(r.stopped, 1);
    assert_int_equal(r.stages, 0);
    struct kept k = rollout_of(fx->store, id);
    assert_string_equal(k.state, "paused");
    assert_non_null(strstr(k.reason, "emergency stop: 2 of 5"));
    struct outbox o = {0};
    assert_int_equal(store_alert_due(fx->store, TEST_T0 + 1, 10, keep_alert, &o), STORE_OK);
    assert_int_equal(o.n, 1); /* one alert, in the pause's transaction */
    assert_string_equal(o.kind, "rollout_stopped");
    char subject[40];
    snprintf(subject, sizeof subject, "rollout:%lld", (long long)id);
    assert_string_equal(o.subject, subject);
    assert_non_null(strstr(o.detail, "\"reason\":\"emergency stop: 2 of 5"));
    assert_non_null(strstr(o.detail, "\"tag\":\"" TAG "\""));
    assert_int_equal(sweep(fx->store, TEST_T0).rollouts, 0);
    assert_int_equal(store_rollout_state(fx->store, id, "paused", -1, "running", "", TEST_T0), STORE_OK);
    assert_int_equal(sweep(fx->store, TEST_T0).stopped, 1);
    assert_int_equal(counts_of(fx->store, id).stages, 1);
    o.n = 0; /* the subject's second waits for its first: one due */
    assert_int_equal(store_alert_due(fx->store, TEST_T0 + 1, 10, keep_alert, &o), STORE_OK);
    assert_int_equal(o.n, 1);
}

/* A device that downloaded and stays silent past the timeout fails; one within it does not. */
static void silent_devices_time_out(void **state)
{
    struct fixture *fx = *state;
    fleet(fx->store, 2);
    int64_t assigned = 0;
    int64_t id = start(fx->store, "[100]", 100, 100, 30, &assigned);
    assert_int_equal(assigned, 2);
    assert_int_equal(store_device_firmware(fx->store, "d00", FIRMWARE_FETCHED_ALL, "2.0", NULL), STORE_OK);
    assert_int_equal(store_device_firmware(fx->store, "d01", FIRMWARE_FETCHED, "2.0", NULL), STORE_OK);
    assert_int_equal(sweep(fx->store, TEST_T0).timed_out, 0); /* its download is seen now */
    assert_int_equal(sweep(fx->store, TEST_T0 + 30).timed_out, 0);
    assert_int_equal(sweep(fx->store, TEST_T0 + 31).timed_out, 1);
    assert_string_equal(fw_of(fx->store, "d00").status, "failed");
    assert_string_equal(fw_of(fx->store, "d01").status, "downloading"); /* never had it all */
    struct counts c = counts_of(fx->store, id);
    assert_int_equal(c.c[0].failed, 1);
    assert_int_equal(c.c[0].in_progress, 1);
}

/* Cancel: devices not yet offered lose the assignment, those under way keep it; cancelled is
 * final; the tag may then have a new rollout, but never two active ones. */
static void cancel_pause_resume(void **state)
{
    struct fixture *fx = *state;
    fleet(fx->store, 4);
    int64_t assigned = 0;
    int64_t id = start(fx->store, "[50,100]", 100, 100, 3600, &assigned);
    struct rollout other = {.firmware = "2.0", .tag = TAG, .stages = "[100]", .success_threshold = 1,
                            .failure_threshold = 1, .timeout = 60, .created = TEST_T0};
    int64_t other_id = 0;
    assert_int_equal(store_rollout_add(fx->store, &other, &other_id), STORE_EXISTS);

    struct store_fleet counts;
    assert_int_equal(store_fleet(fx->store, TEST_T0, 60, &counts), STORE_OK); /* the metrics' gauges */
    assert_int_equal(counts.rollouts_running, 1);
    assert_int_equal(counts.rollouts_paused, 0);
    assert_int_equal(store_rollout_state(fx->store, id, "running", -1, "paused", "", TEST_T0), STORE_OK);
    assert_int_equal(store_rollout_state(fx->store, id, "running", -1, "paused", "", TEST_T0), STORE_STALE);
    assert_int_equal(store_fleet(fx->store, TEST_T0, 60, &counts), STORE_OK);
    assert_int_equal(counts.rollouts_running, 0);
    assert_int_equal(counts.rollouts_paused, 1);
    report(fx->store, "d00", "2.0");
    report(fx->store, "d01", "2.0");
    assert_int_equal(sweep(fx->store, TEST_T0).rollouts, 0); /* paused: no stage starts */
    assert_int_equal(store_rollout_add(fx->store, &other, &other_id), STORE_EXISTS);
    assert_int_equal(store_rollout_state(fx->store, id, "paused", -1, "running", "", TEST_T0), STORE_OK);
    assert_int_equal(sweep(fx->store, TEST_T0).stages, 1);
    assert_int_equal(store_device_firmware(fx->store, "d02", FIRMWARE_OFFERED, "2.0", NULL), STORE_OK);

    assert_int_equal(store_rollout_state(fx->store, id, NULL, -1, "cancelled", "", TEST_T0), STORE_OK);
    assert_string_equal(fw_of(fx->store, "d02").status, "offered"); /* under way: kept */
    assert_string_equal(fw_of(fx->store, "d03").status, "none");    /* not offered: cleared */
    assert_string_equal(fw_of(fx->store, "d03").assigned, "");
    assert_string_equal(fw_of(fx->store, "d00").status, "installed");
    assert_int_equal(store_rollout_state(fx->store, id, NULL, -1, "cancelled", "", TEST_T0), STORE_STALE);
    assert_int_equal(store_rollout_state(fx->store, id + 100, NULL, -1, "cancelled", "", TEST_T0),
                     STORE_NOT_FOUND);
    assert_int_equal(sweep(fx->store, TEST_T0).rollouts, 0);
    assert_int_equal(store_rollout_add(fx->store, &other, &other_id), STORE_CREATED);
}

/* A version an active rollout will assign stays, even with no device assigned it yet. */
static void rolling_out_firmware_stays(void **state)
{
    struct fixture *fx = *state;
    fleet(fx->store, 0);
    int64_t assigned = -1;
    int64_t id = start(fx->store, "[100]", 100, 100, 60, &assigned);
    assert_int_equal(assigned, 0);
    assert_int_equal(store_firmware_delete(fx->store, "2.0"), STORE_STALE);
    assert_int_equal(store_rollout_state(fx->store, id, NULL, -1, "cancelled", "", TEST_T0), STORE_OK);
    assert_int_equal(store_firmware_delete(fx->store, "2.0"), STORE_OK);
}

/* Two evaluators at once, each on its own connection: the stage starts once. */
struct racer {
    const char *path;
    pthread_barrier_t *go;
    struct rollout_sweep_result result;
    enum store_status st;
};

static void *race(void *data)
{
    struct racer *r = data;
    struct store *s = open_store(r->path);
    pthread_barrier_wait(r->go);
    r->st = rollout_sweep(s, TEST_T0, &r->result);
    store_free(s);
    return NULL;
}

static void two_sweeps_start_a_stage_once(void **state)
{
    struct fixture *fx = *state;
    fleet(fx->store, 10);
    for (int round = 0; round < 5; round++) {
        int64_t assigned = 0;
        int64_t id = start(fx->store, "[10,100]", 100, 100, 3600, &assigned);
        assert_int_equal(assigned, 1);
        report(fx->store, "d00", "2.0");
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 2);
        struct racer a = {.path = fx->db.path, .go = &go}, b = a;
        pthread_t ta, tb;
        assert_int_equal(pthread_create(&ta, NULL, race, &a), 0);
        assert_int_equal(pthread_create(&tb, NULL, race, &b), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        pthread_barrier_destroy(&go);
        assert_int_equal(a.st, STORE_OK);
        assert_int_equal(b.st, STORE_OK);
        assert_int_equal(a.result.stages + b.result.stages, 1);
        struct counts c = counts_of(fx->store, id);
        assert_int_equal(c.stages, 2);
        assert_int_equal(c.c[1].devices, 9);
        assert_int_equal(rollout_of(fx->store, id).stage, 2);
        assert_int_equal(store_rollout_state(fx->store, id, NULL, -1, "cancelled", "", TEST_T0), STORE_OK);
        struct device_update u = no_change();
        u.set_firmware = true; /* d00 starts over for the next round */
        for (int i = 0; i < 10; i++) {
            char dev[16];
            snprintf(dev, sizeof dev, "d%02d", i);
            assert_int_equal(store_device_update(fx->store, dev, &u, TEST_T0, NULL, NULL), STORE_OK);
        }
    }
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(stages_advance_on_success), T(rollout_reaches_done),  T(failures_stop_the_rollout),
        T(silent_devices_time_out),   T(cancel_pause_resume),   T(two_sweeps_start_a_stage_once), T(rolling_out_firmware_stays),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
