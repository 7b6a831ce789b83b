/* devsim.c: simulates a fleet of devices running the firmware core against a provd server:
 * options, signals, the live progress line on stderr and the summary on stdout. */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devsim_opts.h"
#include "fleet.h"
#include "mono_clock.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* SIGINT/SIGTERM end the run cleanly (requests on the wire are awaited, the summary printed);
 * a second one kills at once (SA_RESETHAND). */
static void catch_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* The state directory exists (made if missing, one level) and can take the records. */
static int prepare_state_dir(const char *dir)
{
    struct stat sb;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -1;
    if (stat(dir, &sb) != 0)
        return -1;
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return access(dir, W_OK | X_OK);
}

static void format_ms(char *buf, size_t cap, const struct latency *l, unsigned permille)
{
    if (l->count == 0)
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.1fms", (double)latency_percentile(l, permille) / 1000.0);
}

static void on_tick(const struct fleet_stats *st, uint64_t elapsed_ms, void *user_data)
{
    int tty = *(const int *)user_data;
    char p50[24], p99[24], fw[64] = "";

    format_ms(p50, sizeof p50, &st->window, 500);
    format_ms(p99, sizeof p99, &st->window, 990);
    if (st->image_bytes)
        snprintf(fw, sizeof fw, " | firmware %llu updated, %llu back old", (unsigned long long)st->updated,
                 (unsigned long long)st->rolled_back);
    fprintf(stderr,
            "%s[%4llus] registered %u/%u | polls %llu (304: %llu) | configs %llu | readings %llu ok, "
            "%llu refused%s | retries %llu | in flight %zu | p50 %s p99 %s%s",
            tty ? "\r" : "", (unsigned long long)(elapsed_ms / 1000u), st->registered, st->devices,
            (unsigned long long)st->polls, (unsigned long long)st->not_modified,
            (unsigned long long)st->configs_applied, (unsigned long long)st->accepted,
            (unsigned long long)st->refused, fw, (unsigned long long)st->retries, st->in_flight, p50, p99,
            tty ? "\033[K" : "\n");
}

/* One "name value" line per figure, for people and for scripts (tests read it). */
static void print_summary(const struct fleet *f, double elapsed_s, const char *result)
{
    const struct fleet_stats *st = fleet_stats(f);
    const struct {
        const char *name;
        unsigned long long value;
    } rows[] = {
        {"devices", st->devices},
        {"registered", st->registered},
        {"unregistered", fleet_unregistered(f)},
        {"registration_refused", st->reg_refused},
        {"polls", st->polls},
        {"not_modified", st->not_modified},
        {"configs_applied", st->configs_applied},
        {"readings_accepted", st->accepted},
        {"readings_refused", st->refused},
        {"readings_skipped", st->skipped},
        {"readings_unconfirmed", fleet_unconfirmed(f)},
        {"retries", st->retries},
        {"requests", st->requests},
        {"network_errors", st->network_errors},
        {"firmware_updated", st->updated},
        {"firmware_rolled_back", st->rolled_back},
        {"firmware_refused", st->updates_failed},
        {"firmware_bytes", st->image_bytes},
    };
    size_t i;

    for (i = 0; i < sizeof rows / sizeof rows[0]; i++)
        printf("%-22s %llu\n", rows[i].name, rows[i].value);
    printf("%-22s %.1f\n", "latency_p50_ms", (double)latency_percentile(&st->latency, 500) / 1000.0);
    printf("%-22s %.1f\n", "latency_p99_ms", (double)latency_percentile(&st->latency, 990) / 1000.0);
    printf("%-22s %.1f\n", "elapsed_s", elapsed_s);
    printf("%-22s %.0f\n", "requests_per_s", elapsed_s > 0 ? (double)st->requests / elapsed_s : 0.0);
    printf("%-22s %s\n", "result", result);
}

static const char *judge(const struct fleet *f)
{
    const struct fleet_stats *st = fleet_stats(f);

    if (st->reg_refused || fleet_unregistered(f))
        return "FAILED: devices not registered";
    if (st->refused)
        return "FAILED: readings refused";
    return "ok";
}

int main(int argc, char **argv)
{
    struct devsim_opts o;
    struct fleet *f;
    char err[256];
    int tty = isatty(STDERR_FILENO), rc;
    uint64_t t0;
    const char *result;

    if (devsim_opts_parse(&o, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "devsim: %s (see --help)\n", err);
        return 2;
    }
    if (o.help) {
        fputs(devsim_usage, stdout);
        return 0;
    }
    if (o.fleet.state_dir && prepare_state_dir(o.fleet.state_dir) != 0) {
        fprintf(stderr, "devsim: --state-dir %s: %s\n", o.fleet.state_dir, strerror(errno));
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "devsim: libcurl failed to initialise\n");
        return 1;
    }
    f = fleet_new(&o.fleet, err, sizeof err);
    if (!f) {
        fprintf(stderr, "devsim: %s\n", err);
        curl_global_cleanup();
        return 1;
    }
    catch_signals();
    fprintf(stderr, "devsim: %u devices %s%04u.. against %s, %s envelopes, over at most %u connections\n",
            o.fleet.devices, o.fleet.id_prefix, 0u, o.server,
            o.fleet.key.version == FW_ENVELOPE_V1 ? "v1" : "v2", o.fleet.connections);
    t0 = mono_us();
    rc = fleet_run(f, o.duration_ms, &stop_requested, on_tick, &tty);
    if (tty)
        fputc('\n', stderr);
    result = rc != 0 ? "FAILED: the HTTP layer failed" : judge(f);
    print_summary(f, (double)(mono_us() - t0) / 1e6, result);
    fleet_free(f);
    curl_global_cleanup();
    return strcmp(result, "ok") == 0 ? 0 : 1;
}
