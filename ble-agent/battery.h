/* The battery percentage ble-agent serves: read from a file such as
 * /sys/class/power_supply/BAT0/capacity, found under sysfs when not given. */
#ifndef BATTERY_H
#define BATTERY_H

#include <stddef.h>

/* 0..100 from the file's text, or a negative errno (-EINVAL for anything else). */
int battery_read(const char *path);
/* Writes <sys_root>/class/power_supply/<first supply of type Battery>/capacity into path;
 * 0, or -ENOENT when there is none. */
int battery_find(const char *sys_root, char *path, size_t cap);

#endif
