/* Unit tests of store.h's firmware on a real database (testlib.h: SQLite, or PostgreSQL with
 * PROVD_TEST_PG): versions stored once per content and idempotent, deletion refused while
 * assigned, and every transition of a device's update status (ARCHITECTURE.md "Firmware updates"). */
#include "store_testlib.h"

#include "firmware_image.h"

static int setup(void **state)
{
    return store_setup_with(state, tempdb_make);
}

/* The stored version a callback saw. */
struct fw_seen {
    int calls;
    char version[64], sha256[65];
    int64_t size, created;
};

static void capture_fw(const struct firmware *fw, void *user_data)
{
    struct fw_seen *s = user_data;
    s->calls++;
    copy_text(s->version, sizeof s->version, fw->version);
    copy_text(s->sha256, sizeof s->sha256, fw->sha256);
    s->size = fw->size;
    s->created = fw->created;
}

static enum store_status add(struct store *s, const char *version, const char *bytes, int64_t created,
                             struct fw_seen *seen)
{
    struct firmware_digests d;
    assert_true(firmware_digest(bytes, strlen(bytes), &d));
    struct firmware fw = {version, d.sha256, d.md5, (int64_t)strlen(bytes), created};
    return store_firmware_add(s, &fw, bytes, capture_fw, seen);
}

static void count_fw(const struct firmware *fw, void *user_data)
{
    (void)fw;
    (*(int *)user_data)++;
}

/* A version once, the same bytes again the same answer, other bytes refused; bytes shared by two
 * versions are stored once and stay until the last of them goes. */
static void versions_are_idempotent_and_bytes_shared(void **state)
{
    struct fixture *fx = *state;
    struct fw_seen seen = {0};
    assert_int_equal(add(fx->store, "1.0", "image one", TEST_T0, &seen), STORE_CREATED);
    assert_int_equal(add(fx->store, "1.0", "image one", TEST_T0 + 5, &seen), STORE_OK);
    assert_int_equal(seen.created, TEST_T0); /* the stored one */
    assert_int_equal(add(fx->store, "1.0", "image two", TEST_T0, &seen), STORE_EXISTS);
    assert_int_equal(add(fx->store, "1.0-copy", "image one", TEST_T0, &seen), STORE_CREATED);
    int n = 0;
    assert_int_equal(store_firmware_list(fx->store, count_fw, &n), STORE_OK);
    assert_int_equal(n, 2);

    void *image = NULL;
    size_t size = 0;
    struct fw_seen got = {0};
    assert_int_equal(store_firmware_get(fx->store, "1.0", capture_fw, &got), STORE_OK);
    assert_int_equal(store_firmware_image(fx->store, got.sha256, &image, &size), STORE_OK);
    assert_int_equal(size, 9);
    assert_memory_equal(image, "image one", 9);
    free(image);
    assert_int_equal(store_firmware_delete(fx->store, "1.0"), STORE_OK);
    assert_int_equal(store_firmware_image(fx->store, got.sha256, &image, &size), STORE_OK); /* 1.0-copy's */
    free(image);
    assert_int_equal(store_firmware_delete(fx->store, "1.0-copy"), STORE_OK);
    assert_int_equal(store_firmware_image(fx->store, got.sha256, &image, &size), STORE_NOT_FOUND);
    assert_int_equal(store_firmware_delete(fx->store, "1.0"), STORE_NOT_FOUND);
}

/* The firmware part of the device as stored now. */
struct fw_state {
    char assigned[40], running[40], status[16];
    int64_t size;
};

static void capture_state(const struct device *d, void *user_data)
{
    struct fw_state *s = user_data;
    copy_text(s->assigned, sizeof s->assigned, d->firmware ? d->firmware : "-");
    copy_text(s->running, sizeof s->running, d->firmware_running ? d->firmware_running : "-");
    copy_text(s->status, sizeof s->status, d->firmware_status);
    s->size = d->firmware_size;
}

static struct fw_state state_of(struct store *s, const char *id)
{
    struct fw_state st = {0};
    assert_int_equal(store_device_get(s, id, capture_state, &st), STORE_OK);
    return st;
}

static enum store_status assign(struct store *s, const char *id, const char *version)
{
    struct device_update u = no_change();
    u.set_firmware = true;
    u.firmware = version;
    return store_device_update(s, id, &u, TEST_T0, NULL, NULL);
}

/* The status after the event: the one it wrote, or as stored when it changed nothing. */
static const char *event(struct store *s, const char *id, enum firmware_event ev, const char *version)
{
    static char status[FIRMWARE_STATUS_LEN];
    enum store_status st = store_device_firmware(s, id, ev, version, status);
    assert_true(st == STORE_OK || st == STORE_NOT_FOUND);
    if (st == STORE_NOT_FOUND)
        copy_text(status, sizeof status, state_of(s, id).status);
    return status;
}

/* none -> pending -> offered -> downloading (a range) -> still downloading when the old version
 * reports before the last byte was asked for -> failed after it was -> installed when it comes
 * back running the version; an installed device running another version again is failed. */
static void update_status_transitions(void **state)
{
    struct fixture *fx = *state;
    struct store *s = fx->store;
    add_open(s, "dev");
    assert_int_equal(add(s, "2.0", "two", TEST_T0, NULL), STORE_CREATED);
    assert_int_equal(add(s, "3.0", "three", TEST_T0, NULL), STORE_CREATED);
    assert_string_equal(state_of(s, "dev").status, "none");
    assert_string_equal(event(s, "dev", FIRMWARE_REPORTED, "1.0"), "none");
    assert_string_equal(state_of(s, "dev").running, "1.0");

    assert_int_equal(assign(s, "dev", "2.0"), STORE_OK);
    struct fw_state st = state_of(s, "dev");
    assert_string_equal(st.status, "pending");
    assert_string_equal(st.assigned, "2.0");
    assert_int_equal(st.size, 3);
    assert_int_equal(store_firmware_delete(s, "2.0"), STORE_STALE); /* assigned */
    assert_string_equal(event(s, "dev", FIRMWARE_REPORTED, "1.0"), "pending");
    assert_string_equal(event(s, "dev", FIRMWARE_OFFERED, "2.0"), "offered");
    /* Again: nothing changes, nothing is written. */
    assert_int_equal(store_device_firmware(s, "dev", FIRMWARE_OFFERED, "2.0", NULL), STORE_NOT_FOUND);
    assert_string_equal(state_of(s, "dev").status, "offered");
    /* An event about a version no longer assigned changes nothing. */
    assert_int_equal(store_device_firmware(s, "dev", FIRMWARE_FETCHED, "3.0", NULL), STORE_NOT_FOUND);
    assert_string_equal(event(s, "dev", FIRMWARE_FETCHED, "2.0"), "downloading");
    assert_string_equal(event(s, "dev", FIRMWARE_REPORTED, "1.0"), "downloading"); /* a power cut: resumes */
    assert_string_equal(event(s, "dev", FIRMWARE_FETCHED_ALL, "2.0"), "downloading");
    assert_int_equal(store_device_firmware(s, "dev", FIRMWARE_FETCHED_ALL, "2.0", NULL), STORE_NOT_FOUND); /* again */
    assert_string_equal(event(s, "dev", FIRMWARE_REPORTED, "1.0"), "failed"); /* came back on the old one */
    assert_string_equal(event(s, "dev", FIRMWARE_OFFERED, "2.0"), "failed");

    /* Assigned again: a failed update starts over; then the device comes back running it. */
    assert_int_equal(assign(s, "dev", "2.0"), STORE_OK);
    assert_string_equal(state_of(s, "dev").status, "pending");
    assert_string_equal(event(s, "dev", FIRMWARE_FETCHED_ALL, "2.0"), "downloading");
    assert_string_equal(event(s, "dev", FIRMWARE_REPORTED, "2.0"), "installed");
    assert_int_equal(assign(s, "dev", "2.0"), STORE_OK); /* the same again: kept */
    assert_string_equal(state_of(s, "dev").status, "installed");
    assert_string_equal(event(s, "dev", FIRMWARE_REPORTED, "1.0"), "failed"); /* rolled back */

    /* Another version restarts; null clears. */
    assert_int_equal(assign(s, "dev", "3.0"), STORE_OK);
    assert_string_equal(state_of(s, "dev").status, "pending");
    assert_int_equal(assign(s, "dev", NULL), STORE_OK);
    st = state_of(s, "dev");
    assert_string_equal(st.status, "none");
    assert_string_equal(st.assigned, "-");
    assert_int_equal(store_firmware_delete(s, "2.0"), STORE_OK);
}

/* A device that already runs the assigned version (pending, never offered) is installed at its
 * next report: there is nothing to offer it. */
static void running_it_already_is_installed(void **state)
{
    struct fixture *fx = *state;
    add_open(fx->store, "dev");
    assert_int_equal(add(fx->store, "2.0", "two", TEST_T0, NULL), STORE_CREATED);
    assert_int_equal(assign(fx->store, "dev", "2.0"), STORE_OK);
    assert_string_equal(event(fx->store, "dev", FIRMWARE_REPORTED, "2.0"), "installed");
}

/* The heartbeat's facts carry the status and the running version (read with the poll's index on
 * SQLite); an admin's create may assign at once. */
static void heartbeat_facts_and_create(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(add(fx->store, "2.0", "two", TEST_T0, NULL), STORE_CREATED);
    assert_int_equal(assign(fx->store, "new", "2.0"), STORE_CREATED);
    assert_string_equal(event(fx->store, "new", FIRMWARE_REPORTED, "1.5"), "pending");
    struct poll_facts facts;
    assert_int_equal(store_device_heartbeat(fx->store, "new", STORE_CALLER_UNSIGNED, TEST_T0, &facts),
                     STORE_OK);
    assert_string_equal(facts.firmware_status, "pending");
    assert_string_equal(facts.firmware_running, "1.5");
    assert_int_equal(store_device_heartbeat(fx->store, "none", STORE_CALLER_UNSIGNED, TEST_T0, &facts),
                     STORE_NOT_FOUND);
}

/* A download (store_device_image()): the device's trust and assigned image in one read, the event
 * by the range's last byte, written only when it changes something; a resumed or repeated one,
 * another version, a rejected device and a caller still to prove write nothing. */
static void downloads_write_only_a_change(void **state)
{
    struct fixture *fx = *state;
    struct store *s = fx->store;
    struct image_facts f;
    struct firmware_digests d;
    assert_true(firmware_digest("two", 3, &d));
    add_open(s, "dev");
    assert_int_equal(add(s, "2.0", "two", TEST_T0, NULL), STORE_CREATED);
    assert_int_equal(add(s, "3.0", "three", TEST_T0, NULL), STORE_CREATED);
    assert_int_equal(store_device_image(s, "dev", STORE_CALLER_UNSIGNED, "2.0", INT64_MAX, &f), STORE_OK);
    assert_string_equal(f.assigned.version, "");
    assert_false(f.changes);
    assert_int_equal(assign(s, "dev", "2.0"), STORE_OK);

    /* Bytes 0-1 of 3: part of it, downloading; again, nothing to write. */
    assert_int_equal(store_device_image(s, "dev", STORE_CALLER_UNSIGNED, "2.0", 1, &f), STORE_OK);
    assert_string_equal(f.trust.state, "accepted");
    assert_string_equal(f.assigned.version, "2.0");
    assert_int_equal(f.assigned.size, 3);
    assert_string_equal(f.assigned.sha256, d.sha256);
    assert_string_equal(f.assigned.md5, d.md5);
    assert_int_equal(f.event, FIRMWARE_FETCHED);
    assert_true(f.changes);
    assert_string_equal(state_of(s, "dev").status, "downloading");
    assert_int_equal(store_device_image(s, "dev", STORE_CALLER_UNSIGNED, "2.0", 1, &f), STORE_OK);
    assert_false(f.changes);
    /* The old version reported before the last byte was asked for: a cut download, it resumes. */
    assert_string_equal(event(s, "dev", FIRMWARE_REPORTED, "1.0"), "downloading");
    /* Another version than the one assigned: the facts of the assigned one, nothing written. */
    assert_int_equal(store_device_image(s, "dev", STORE_CALLER_UNSIGNED, "3.0", INT64_MAX, &f), STORE_OK);
    assert_string_equal(f.assigned.version, "2.0");
    assert_false(f.changes);
    assert_string_equal(event(s, "dev", FIRMWARE_REPORTED, "1.0"), "downloading");
    /* Up to the last byte (2): the whole image asked for, once; then the old version is a failure. */
    assert_int_equal(store_device_image(s, "dev", STORE_CALLER_UNSIGNED, "2.0", 2, &f), STORE_OK);
    assert_int_equal(f.event, FIRMWARE_FETCHED_ALL);
    assert_true(f.changes);
    assert_int_equal(store_device_image(s, "dev", STORE_CALLER_UNSIGNED, "2.0", INT64_MAX, &f), STORE_OK);
    assert_int_equal(f.event, FIRMWARE_FETCHED_ALL);
    assert_false(f.changes);
    assert_string_equal(event(s, "dev", FIRMWARE_REPORTED, "1.0"), "failed");
    assert_int_equal(store_device_image(s, "ghost", STORE_CALLER_UNSIGNED, "2.0", INT64_MAX, &f), STORE_NOT_FOUND);

    /* Rejected: the facts say so, nothing written. */
    assert_int_equal(assign(s, "dev", "2.0"), STORE_OK); /* failed starts over: pending */
    struct device_update u = no_change();
    u.state = "rejected";
    assert_int_equal(store_device_update(s, "dev", &u, TEST_T0, NULL, NULL), STORE_OK);
    assert_int_equal(store_device_image(s, "dev", STORE_CALLER_UNSIGNED, "2.0", INT64_MAX, &f), STORE_OK);
    assert_string_equal(f.trust.state, "rejected");
    assert_false(f.changes);
    assert_string_equal(state_of(s, "dev").status, "pending");
}

/* A keyed device's download: unsigned, refused with nothing written; to prove, its key opened and
 * nothing written (the caller writes the event once proved); proved, written. */
static void downloads_of_signing_devices(void **state)
{
    struct fixture *fx = *state;
    struct store *s = fx->store;
    struct image_facts f;
    add_open(s, "keyed");
    assert_int_equal(store_device_set_key(s, "keyed", "00112233445566778899aabbccddeeff"), STORE_OK);
    assert_int_equal(add(s, "2.0", "two", TEST_T0, NULL), STORE_CREATED);
    assert_int_equal(assign(s, "keyed", "2.0"), STORE_OK);
    assert_int_equal(store_device_image(s, "keyed", STORE_CALLER_UNSIGNED, "2.0", INT64_MAX, &f), STORE_UNPROVED);
    assert_string_equal(state_of(s, "keyed").status, "pending");
    assert_int_equal(store_device_image(s, "keyed", STORE_CALLER_TO_PROVE, "2.0", INT64_MAX, &f), STORE_OK);
    assert_string_equal(f.trust.key, "00112233445566778899aabbccddeeff");
    assert_true(f.changes);
    assert_int_equal(f.event, FIRMWARE_FETCHED_ALL);
    assert_string_equal(state_of(s, "keyed").status, "pending");
    assert_int_equal(store_device_image(s, "keyed", STORE_CALLER_PROVED, "2.0", INT64_MAX, &f), STORE_OK);
    assert_true(f.changes);
    assert_string_equal(state_of(s, "keyed").status, "downloading");
    assert_string_equal(event(s, "keyed", FIRMWARE_REPORTED, "1.0"), "failed"); /* the whole image was asked for */
    assert_int_equal(store_device_image(s, "ghost", STORE_CALLER_TO_PROVE, "2.0", INT64_MAX, &f), STORE_NOT_FOUND);
}

/* Found by MAC address: with or without colons, any case; with its trust, assigned image, the
 * version it last reported and its update status, in the one read an update check makes. */
static void devices_found_by_mac(void **state)
{
    struct fixture *fx = *state;
    struct store *s = fx->store;
    struct ota_facts f;
    struct firmware_digests d;
    assert_true(firmware_digest("two", 3, &d));
    add_open(s, "5c:cf:7F:00:00:01");
    add_open(s, "5CCF7F000002");
    assert_int_equal(store_device_by_mac(s, "5CCF7F000001", &f), STORE_OK);
    assert_string_equal(f.deviceid, "5c:cf:7F:00:00:01");
    assert_string_equal(f.trust.state, "accepted");
    assert_string_equal(f.assigned.version, "");
    assert_string_equal(f.running, "");
    assert_string_equal(f.status, "none");
    assert_int_equal(store_device_by_mac(s, "5CCF7F000003", &f), STORE_NOT_FOUND);

    assert_int_equal(add(s, "2.0", "two", TEST_T0, NULL), STORE_CREATED);
    assert_int_equal(assign(s, "5CCF7F000002", "2.0"), STORE_OK);
    assert_string_equal(event(s, "5CCF7F000002", FIRMWARE_REPORTED, "1.0"), "pending");
    assert_int_equal(store_device_by_mac(s, "5CCF7F000002", &f), STORE_OK);
    assert_string_equal(f.deviceid, "5CCF7F000002");
    assert_string_equal(f.assigned.version, "2.0");
    assert_int_equal(f.assigned.size, 3);
    assert_string_equal(f.assigned.sha256, d.sha256);
    assert_string_equal(f.assigned.md5, d.md5);
    assert_string_equal(f.running, "1.0");
    assert_string_equal(f.status, "pending");
}

struct running {
    int n;
    char versions[4][FIRMWARE_VERSION_MAX + 1];
    int64_t devices[4];
};

static void capture_running(const char *version, int64_t devices, void *user_data)
{
    struct running *r = user_data;
    assert_true(r->n < 4);
    copy_text(r->versions[r->n], sizeof r->versions[0], version);
    r->devices[r->n++] = devices;
}

/* The versions devices report running (the overview's by_firmware): most devices first, then by
 * version, at most max; devices that never said are not counted. */
static void running_versions_counted(void **state)
{
    struct fixture *fx = *state;
    const char *reports[][2] = {{"a", "1.0"}, {"b", "2.0"}, {"c", "2.0"}, {"d", "0.9"}};
    for (size_t i = 0; i < sizeof reports / sizeof reports[0]; i++) {
        add_open(fx->store, reports[i][0]);
        assert_int_equal(store_device_firmware(fx->store, reports[i][0], FIRMWARE_REPORTED, reports[i][1], NULL),
                         STORE_OK);
    }
    add_open(fx->store, "silent");
    struct running r = {0};
    assert_int_equal(store_firmware_running(fx->store, 2, capture_running, &r), STORE_OK);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.versions[0], "2.0");
    assert_int_equal(r.devices[0], 2);
    assert_string_equal(r.versions[1], "0.9");
    assert_int_equal(r.devices[1], 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(versions_are_idempotent_and_bytes_shared),
        T(update_status_transitions),
        T(running_it_already_is_installed),
        T(heartbeat_facts_and_create),
        T(downloads_write_only_a_change),
        T(downloads_of_signing_devices),
        T(devices_found_by_mac),
        T(running_versions_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
