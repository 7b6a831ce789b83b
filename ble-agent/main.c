/* ble-agent: takes a Bluetooth adapter (or BlueZ's emulator socket), advertises, and serves
 * provd's GATT services; options, adapter ownership and the poll() loop live here. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "adapter.h"
#include "att_proto.h"
#include "battery.h"
#include "bridge.h"
#include "btsnoop.h"
#include "hci.h"
#include "hci_host.h"
#include "hci_transport.h"
#include "services.h"
#include "spool.h"

#define BLE_AGENT_VERSION "0.1.0"

enum {
    BATTERY_POLL_MS = 1000, /* a change reaches subscribers within 2 s */
    STOP_GRACE_MS = 3000,   /* how long SIGTERM waits for peers to be disconnected */
    IDLE_TIMEOUT_S = 30,    /* --idle-timeout default */
    IDLE_TIMEOUT_MAX_S = 3600,
    STATE_DIR_MAX = PATH_MAX - 32, /* room for "/spool.sqlite3" and SQLite's "-wal" after it */
};

#define DEFAULT_STATE_DIR "/var/lib/ble-agent"
#define SPOOL_FILE "spool.sqlite3"

struct agent {
    const char *adapter;
    const char *hci_socket;
    char name[256];
    char battery_path[PATH_MAX];
    const char *btsnoop_path;
    const char *server;
    const char *state_dir;
    struct spool_limits spool_limits;
    unsigned idle_timeout_s;

    struct hci_transport *transport;
    struct spool *spool;
    struct bridge *bridge;
    struct btsnoop *snoop;
    struct services *svc;
    struct hci_host *host;
    int battery_level;
};

static void say(const char *line)
{
    fprintf(stderr, "ble-agent: %s\n", line);
}

__attribute__((format(printf, 1, 2))) static void sayf(const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    say(line);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void record(struct agent *a, const uint8_t *pkt, size_t len, bool received)
{
    if (a->snoop && btsnoop_write(a->snoop, pkt, len, received, wall_us()) < 0) {
        say("btsnoop capture stopped: write failed");
        btsnoop_close(a->snoop);
        a->snoop = NULL;
    }
}

static int host_send(void *user_data, const uint8_t *pkt, size_t len)
{
    struct agent *a = user_data;

    record(a, pkt, len, false);
    return hci_transport_send(a->transport, pkt, len);
}

static void host_log(void *user_data, const char *line)
{
    (void)user_data;
    say(line);
}

static int battery_level(void *user_data)
{
    struct agent *a = user_data;

    return battery_read(a->battery_path);
}

/* Telemetry In: the write is answered (success) only once the frame is in the spool, on disk;
 * the bridge forwards it later and tells telemetry_done(). */
static int telemetry_in(void *user_data, void *conn, const uint8_t *value, size_t len)
{
    struct agent *a = user_data;

    switch (bridge_submit(a->bridge, conn, value, len)) {
    case 0: return 0;
    case -EINVAL:
        say("telemetry refused: not \"device id, newline, envelope\" with an id of 1-64 "
            "[A-Za-z0-9._:-]");
        return -ATT_ECODE_VALUE_NOT_ALLOWED;
    case -ENOSPC:
        sayf("telemetry refused: the spool is full (%zu frames, %zu bytes; --spool-max %zu,%zu)",
             spool_frames(a->spool), spool_bytes(a->spool), a->spool_limits.max_bytes,
             a->spool_limits.max_frames);
        return -ATT_ECODE_INSUFF_RESOURCES;
    default: say("telemetry refused: the spool could not store it"); return -ATT_ECODE_UNLIKELY;
    }
}

static int telemetry_result(void *user_data, void *conn, uint8_t *buf, size_t cap)
{
    struct agent *a = user_data;
    int n = bridge_result(a->bridge, conn, buf, cap);

    return n < 0 ? -ATT_ECODE_UNLIKELY : n;
}

/* A forward finished: its connection's subscribers hear the new Telemetry Result. */
static void telemetry_done(void *user_data, void *conn)
{
    struct agent *a = user_data;
    uint8_t value[GATT_MAX_VALUE_LEN];
    int n = bridge_result(a->bridge, conn, value, sizeof(value));

    if (n > 0)
        hci_host_notify_conn(a->host, conn, services_handle(a->svc, SERVICES_TELEMETRY_RESULT), value,
                             (size_t)n);
}

static void host_disconnected(void *user_data, void *conn)
{
    struct agent *a = user_data;

    bridge_drop(a->bridge, conn);
}

static void usage(FILE *out)
{
    fputs("usage: ble-agent [options]\n"
          "Serves provd's GATT services (Battery, Device Information, provd Gateway) over\n"
          "Bluetooth LE, taking the adapter for itself through the HCI user channel.\n\n"
          "  --adapter hciN       adapter to take (default hci0)\n"
          "  --hci-socket PATH    use an H4 stream socket instead (BlueZ's btvirt -s)\n"
          "  --name NAME          advertised name (default: the host name)\n"
          "  --battery-file PATH  battery percentage file (default: the first battery under\n"
          "                       /sys/class/power_supply; none: no Battery Service)\n"
          "  --btsnoop FILE       record all HCI traffic in btsnoop format\n"
          "  --server URL         provd to forward Telemetry In to\n"
          "                       (default http://127.0.0.1:8080)\n"
          "  --state-dir DIR      where the spool lives (default $STATE_DIRECTORY, else\n"
          "                       " DEFAULT_STATE_DIR ")\n"
          "  --spool-max B,N      spool limit: B bytes of frames (K, M suffixes) and N frames\n"
          "                       (default 16M,65536)\n"
          "  --idle-timeout S     disconnect a peer after S seconds without an ATT request\n"
          "                       (1-3600, default 30)\n"
          "  --help               this text\n\n"
          "Exit codes: 2 usage, 3 no such adapter, 4 hard rfkill block, 5 soft rfkill block,\n"
          "6 bluetoothd running, 7 adapter busy, 8 no permission (CAP_NET_ADMIN),\n"
          "9 no Bluetooth in this kernel, 10 controller failure, 11 spool unusable.\n",
          out);
}

static int parse_args(struct agent *a, int argc, char **argv)
{
    static const struct option opts[] = {
        {"adapter", required_argument, NULL, 'a'}, {"hci-socket", required_argument, NULL, 's'},
        {"name", required_argument, NULL, 'n'},    {"battery-file", required_argument, NULL, 'b'},
        {"btsnoop", required_argument, NULL, 'w'}, {"server", required_argument, NULL, 'u'},
        {"state-dir", required_argument, NULL, 'd'}, {"spool-max", required_argument, NULL, 'm'},
        {"idle-timeout", required_argument, NULL, 'i'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *env_dir = getenv("STATE_DIRECTORY");
    char *end;
    unsigned long idle;
    int c;

    a->adapter = "hci0";
    a->server = "http://127.0.0.1:8080";
    /* systemd's StateDirectory=ble-agent sets STATE_DIRECTORY (one directory: no colon list) */
    a->state_dir = env_dir && env_dir[0] && !strchr(env_dir, ':') && strlen(env_dir) <= STATE_DIR_MAX
                       ? env_dir
                       : DEFAULT_STATE_DIR;
    a->spool_limits = (struct spool_limits){SPOOL_DEFAULT_BYTES, SPOOL_DEFAULT_FRAMES};
    a->idle_timeout_s = IDLE_TIMEOUT_S;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'a': a->adapter = optarg; break;
        case 's': a->hci_socket = optarg; break;
        case 'n':
            /* 248 bytes: the longest name HCI and GAP carry */
            if (!optarg[0] || strlen(optarg) > 248) {
                say("--name wants 1 to 248 bytes");
                return ADAPTER_EXIT_USAGE;
            }
            snprintf(a->name, sizeof(a->name), "%s", optarg);
            break;
        case 'b': snprintf(a->battery_path, sizeof(a->battery_path), "%s", optarg); break;
        case 'w': a->btsnoop_path = optarg; break;
        case 'u':
            if (!bridge_server_ok(optarg)) {
                sayf("--server wants an http:// or https:// URL of at most %d "
                     "characters, without spaces",
                     BRIDGE_SERVER_MAX);
                return ADAPTER_EXIT_USAGE;
            }
            a->server = optarg;
            break;
        case 'd':
            if (!optarg[0] || strlen(optarg) > STATE_DIR_MAX) {
                sayf("--state-dir wants a directory path of 1 to %d bytes", STATE_DIR_MAX);
                return ADAPTER_EXIT_USAGE;
            }
            a->state_dir = optarg;
            break;
        case 'm':
            if (spool_limits_parse(optarg, &a->spool_limits) < 0) {
                sayf("--spool-max wants BYTES,FRAMES: %d to %d bytes (K and M allowed) and 1 to %d frames",
                     SPOOL_BYTES_MIN, SPOOL_BYTES_MAX, SPOOL_FRAMES_MAX);
                return ADAPTER_EXIT_USAGE;
            }
            break;
        case 'i':
            idle = strtoul(optarg, &end, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *end || idle < 1 || idle > IDLE_TIMEOUT_MAX_S) {
                sayf("--idle-timeout wants whole seconds from 1 to %d", IDLE_TIMEOUT_MAX_S);
                return ADAPTER_EXIT_USAGE;
            }
            a->idle_timeout_s = (unsigned)idle;
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return ADAPTER_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return ADAPTER_EXIT_USAGE;
    }
    if (adapter_parse_name(a->adapter) < 0) {
        sayf("--adapter wants a name like hci0, not \"%s\"", a->adapter);
        return ADAPTER_EXIT_USAGE;
    }
    if (!a->name[0] && gethostname(a->name, sizeof(a->name) - 1))
        strcpy(a->name, "provd");
    return 0;
}

/* Everything between "this adapter" and a bound user channel; an exit code on failure. */
static int take_adapter(struct agent *a)
{
    int dev_id = adapter_parse_name(a->adapter), err, code;
    pid_t pid = adapter_find_process("/proc", "bluetoothd");
    char msg[256];

    if (pid > 0) {
        sayf("bluetoothd (pid %d) is running and owns the adapters: "
             "run `systemctl stop bluetooth` (ble-agent.service conflicts with it)",
             (int)pid);
        return ADAPTER_EXIT_BLUETOOTHD;
    }
    switch (adapter_rfkill_check("/dev/rfkill", adapter_rfkill_index("/sys", dev_id))) {
    case RFKILL_HARD_BLOCKED:
        sayf("%s is hard-blocked by rfkill: flip the wireless switch (or the BIOS setting)", a->adapter);
        return ADAPTER_EXIT_HARD_BLOCKED;
    case RFKILL_SOFT_BLOCKED:
        sayf("%s is soft-blocked by rfkill: run `rfkill unblock bluetooth`", a->adapter);
        return ADAPTER_EXIT_SOFT_BLOCKED;
    case RFKILL_UNBLOCKED: sayf("%s was soft-blocked by rfkill: unblocked it", a->adapter); break;
    case RFKILL_CLEAR: break;
    }
    if ((err = hci_transport_userchan_open(dev_id, &a->transport)) < 0) {
        code = adapter_bind_message(err, a->adapter, msg, sizeof(msg));
        say(msg);
        return code;
    }
    if ((err = adapter_drop_capabilities()) < 0)
        sayf("could not drop capabilities: %s", strerror(-err));
    sayf("adapter taken: %s", a->adapter);
    return 0;
}

static int open_transport(struct agent *a)
{
    int err;

    if (!a->hci_socket)
        return take_adapter(a);
    if ((err = hci_transport_socket_open(a->hci_socket, &a->transport)) < 0) {
        sayf("cannot connect to %s: %s", a->hci_socket, strerror(-err));
        return ADAPTER_EXIT_NO_ADAPTER;
    }
    sayf("adapter taken: emulator socket %s", a->hci_socket);
    return 0;
}

/* The spool in the state directory (made if missing, for runs outside systemd, which makes it
 * itself); an exit code on failure. */
static int open_spool(struct agent *a)
{
    char path[PATH_MAX], why[200];
    int err;

    if (mkdir(a->state_dir, 0700) < 0 && errno != EEXIST) {
        sayf("cannot make the state directory %s: %s", a->state_dir, strerror(errno));
        return ADAPTER_EXIT_SPOOL;
    }
    snprintf(path, sizeof(path), "%s/" SPOOL_FILE, a->state_dir);
    if ((err = spool_open(path, &a->spool_limits, &a->spool, why, sizeof(why))) < 0) {
        if (err == -EBUSY)
            sayf("the spool %s is in use: another ble-agent runs with --state-dir %s", path, a->state_dir);
        else
            sayf("cannot open the spool %s: %s", path, why);
        return ADAPTER_EXIT_SPOOL;
    }
    if (spool_frames(a->spool))
        sayf("spool: %zu frames (%zu bytes) to forward from an earlier run", spool_frames(a->spool),
             spool_bytes(a->spool));
    return 0;
}

static int build_services(struct agent *a)
{
    struct services_config cfg = {
        .device_name = a->name,
        .appearance = 0x0080, /* Generic Computer */
        .manufacturer = "provd",
        .model = "ble-agent",
        .firmware_revision = BLE_AGENT_VERSION,
        .server = a->server,
        .version = BLE_AGENT_VERSION,
        .adapter = a->hci_socket ? a->hci_socket : a->adapter,
        .telemetry_in = telemetry_in,
        .telemetry_result = telemetry_result,
        .user_data = a,
    };

    if (!a->battery_path[0] && battery_find("/sys", a->battery_path, sizeof(a->battery_path)))
        say("no battery found: the Battery Service is left out");
    if (a->battery_path[0]) {
        cfg.battery_level = battery_level;
        a->battery_level = battery_read(a->battery_path);
    }
    if (!(a->svc = services_new(&cfg))) {
        sayf("cannot build the GATT database: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static const struct hci_host_ops host_ops = {
    .send = host_send,
    .log = host_log,
    .disconnected = host_disconnected,
};

static int start_bridge(struct agent *a)
{
    struct bridge_config cfg = {
        .server = a->server,
        .max_conns = HCI_HOST_MAX_CONNS,
        .spool = a->spool,
        .done = telemetry_done,
        .log = host_log,
        .user_data = a,
    };

    if (!(a->bridge = bridge_new(&cfg))) {
        sayf("cannot start the provd bridge: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int start_host(struct agent *a)
{
    struct bt_uuid uuids[3];
    size_t n = 0;

    bt_uuid_parse(&uuids[n++], SERVICES_GATEWAY_UUID);
    if (a->battery_path[0])
        uuids[n++] = bt_uuid16(0x180f);
    uuids[n++] = bt_uuid16(0x180a);
    struct hci_host_config cfg = {
        .name = a->name,
        .uuids = uuids,
        .n_uuids = n,
        .db = services_db(a->svc),
        .idle_timeout_ms = a->idle_timeout_s * 1000u,
        .ops = &host_ops,
        .user_data = a,
    };

    if (!(a->host = hci_host_new(&cfg))) {
        sayf("cannot start the HCI host: %s", strerror(errno));
        return -1;
    }
    return hci_host_start(a->host, now_ms());
}

static void poll_battery(struct agent *a)
{
    int level;

    if (!a->battery_path[0] || (level = battery_read(a->battery_path)) == a->battery_level)
        return;
    a->battery_level = level;
    if (level >= 0) {
        uint8_t v = (uint8_t)level;

        hci_host_notify(a->host, services_handle(a->svc, SERVICES_BATTERY_LEVEL), &v, 1);
    }
}

/* Reads every packet the transport has ready; a negative errno when the link is gone. */
static int drain(struct agent *a)
{
    uint8_t pkt[HCI_MAX_PACKET];
    ssize_t n;
    int err;

    while ((n = hci_transport_recv(a->transport, pkt, sizeof(pkt))) > 0) {
        record(a, pkt, (size_t)n, true);
        if ((err = hci_host_input(a->host, pkt, (size_t)n, now_ms())) < 0)
            return err;
    }
    if (n < 0)
        sayf("lost the controller: %s", strerror((int)-n));
    return (int)n;
}

static int min_timeout(int a, int b)
{
    if (a < 0)
        return b;
    return b < 0 || a < b ? a : b;
}

static int run(struct agent *a, int sig_fd)
{
    uint64_t next_battery = now_ms() + BATTERY_POLL_MS, stop_by = 0;

    for (;;) {
        enum hci_host_state st = hci_host_state(a->host);

        if (st == HCI_HOST_STOPPED)
            return 0;
        if (st == HCI_HOST_FAILED) {
            say(hci_host_error(a->host));
            return ADAPTER_EXIT_CONTROLLER;
        }
        uint64_t now = now_ms();

        if (stop_by && now >= stop_by) {
            say("stopping: peers did not answer in time; exiting");
            return 0;
        }
        int timeout = min_timeout(hci_host_timeout_ms(a->host, now),
                                  next_battery > now ? (int)(next_battery - now) : 0);

        timeout = min_timeout(timeout, bridge_timeout_ms(a->bridge));
        if (stop_by)
            timeout = min_timeout(timeout, (int)(stop_by - now));
        /* The controller, signals, then the sockets of forwards in flight. */
        struct pollfd fds[2 + BRIDGE_MAX_SOCKETS] = {
            {.fd = hci_transport_fd(a->transport), .events = POLLIN},
            {.fd = sig_fd, .events = POLLIN},
        };
        size_t n_http = bridge_pollfds(a->bridge, fds + 2, BRIDGE_MAX_SOCKETS);

        if (poll(fds, 2 + n_http, timeout) < 0 && errno != EINTR) {
            sayf("poll: %s", strerror(errno));
            return ADAPTER_EXIT_CONTROLLER;
        }
        if (fds[1].revents & POLLIN) {
            struct signalfd_siginfo si;

            if (read(sig_fd, &si, sizeof(si)) == sizeof(si) && !stop_by) {
                sayf("signal %u: stopping", si.ssi_signo);
                stop_by = now_ms() + STOP_GRACE_MS;
                hci_host_shutdown(a->host, now_ms());
            }
        }
        if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && drain(a) < 0) {
            if (hci_host_state(a->host) == HCI_HOST_FAILED)
                continue;
            return stop_by ? 0 : ADAPTER_EXIT_CONTROLLER;
        }
        hci_host_tick(a->host, now_ms());
        bridge_process(a->bridge, fds + 2, n_http);
        if (now_ms() >= next_battery) {
            next_battery = now_ms() + BATTERY_POLL_MS;
            poll_battery(a);
        }
    }
}

int main(int argc, char **argv)
{
    struct agent a = {0};
    sigset_t mask;
    int code, sig_fd = -1;

    if ((code = parse_args(&a, argc, argv)))
        return code;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (a.btsnoop_path && !(a.snoop = btsnoop_open(a.btsnoop_path))) {
        sayf("cannot write %s: %s", a.btsnoop_path, strerror(errno));
        return ADAPTER_EXIT_USAGE;
    }
    code = ADAPTER_EXIT_CONTROLLER;
    if (sig_fd >= 0 && (code = open_transport(&a)) == 0 && (code = open_spool(&a)) == 0) {
        code = ADAPTER_EXIT_CONTROLLER;
        if (start_bridge(&a) == 0 && build_services(&a) == 0 && start_host(&a) == 0)
            code = run(&a, sig_fd);
        else if (a.host)
            say(hci_host_error(a.host));
    }
    /* The host first: dropping its links drops their results in the bridge. Frames in flight
     * stay in the spool for the next run. */
    hci_host_free(a.host);
    bridge_free(a.bridge);
    spool_close(a.spool);
    services_free(a.svc);
    hci_transport_close(a.transport);
    btsnoop_close(a.snoop);
    if (sig_fd >= 0)
        close(sig_fd);
    curl_global_cleanup();
    return code;
}
