/* The logfmt lines of log.h: the fields in a fixed order, msg quoted and escaped. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "isotime.h"

/* Appends text to line (len bytes used of size), escaped for a quoted logfmt value. */
static size_t append_quoted(char *line, size_t len, size_t size, const char *text)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)text; *p && len + 4 < size; p++) {
        if (*p == '"' || *p == '\\') {
            line[len++] = '\\';
            line[len++] = (char)*p;
        } else if (*p == '\n') {
            line[len++] = '\\';
            line[len++] = 'n';
        } else if (*p < 0x20 || *p == 0x7f) {
            line[len++] = '\\';
            line[len++] = 'x';
            line[len++] = hex[*p >> 4];
            line[len++] = hex[*p & 15];
        } else {
            line[len++] = (char)*p;
        }
    }
    return len;
}

void log_event(const char *level, const char *event, const char *request_id, const char *deviceid,
               const char *format, ...)
{
    char msg[LOG_MSG_MAX], when[ISOTIME_LEN + 1];
    va_list ap;
    va_start(ap, format);
    vsnprintf(msg, sizeof msg, format, ap);
    va_end(ap);
    isotime_format(isotime_now(), when);

    char line[2 * LOG_MSG_MAX + 256];
    int n = snprintf(line, sizeof line, "time=%s level=%s event=%s", when, level, event);
    size_t len = n > 0 ? (size_t)n : 0;
    if (request_id)
        len += (size_t)snprintf(line + len, sizeof line - len, " request_id=%.64s", request_id);
    if (deviceid)
        len += (size_t)snprintf(line + len, sizeof line - len, " device=%.64s", deviceid);
    len += (size_t)snprintf(line + len, sizeof line - len, " msg=\"");
    len = append_quoted(line, len, sizeof line - 2, msg);
    line[len++] = '"';
    line[len++] = '\n';
    ssize_t written = write(STDERR_FILENO, line, len);
    (void)written; /* nowhere to say that the log failed */
}
