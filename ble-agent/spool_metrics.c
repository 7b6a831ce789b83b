/* The textfile of spool_metrics.h: four gauges, written to PATH.tmp and renamed over PATH. */
#include "spool_metrics.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

int spool_metrics_write(const char *path, size_t frames, size_t bytes, const struct spool_limits *limits)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    fprintf(f,
            "# HELP provd_ble_spool_frames Telemetry frames in ble-agent's spool, not yet answered by provd.\n"
            "# TYPE provd_ble_spool_frames gauge\n"
            "provd_ble_spool_frames %zu\n"
            "# HELP provd_ble_spool_bytes Bytes of the frames in ble-agent's spool.\n"
            "# TYPE provd_ble_spool_bytes gauge\n"
            "provd_ble_spool_bytes %zu\n"
            "# HELP provd_ble_spool_limit_frames The spool's limit in frames (--spool-max).\n"
            "# TYPE provd_ble_spool_limit_frames gauge\n"
            "provd_ble_spool_limit_frames %zu\n"
            "# HELP provd_ble_spool_limit_bytes The spool's limit in bytes (--spool-max).\n"
            "# TYPE provd_ble_spool_limit_bytes gauge\n"
            "provd_ble_spool_limit_bytes %zu\n",
            frames, bytes, limits->max_frames, limits->max_bytes);
    int err = ferror(f) ? -EIO : 0;
    if (fclose(f) != 0 && !err)
        err = -errno;
    if (!err && rename(tmp, path) != 0)
        err = -errno;
    if (err)
        unlink(tmp);
    return err;
}
