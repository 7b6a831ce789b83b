/* provd's log: one line per event on stderr (the stack's output; the journal when installed), in
 * logfmt like nginx's access log (nginx.conf), joined to it by request_id:
 *   time=2026-12-05T13:23:36Z level=error event=database request_id=6f0c... device=lamp-1 msg="..."
 * Nothing secret goes in a line: callers never pass a key, token, plaintext or proof. Messages a
 * program prints before it serves (provd --check's reason) stay one plain line for people. */
#ifndef PROVD_LOG_H
#define PROVD_LOG_H

#define LOG_MSG_MAX 512 /* msg is cut at this many bytes */

/* Writes one line with one write() (lines of threads and workers never interleave). level: "info",
 * "warn" or "error"; event: a word naming what happened; request_id and deviceid are left out
 * when NULL; msg, from format, is quoted with " \ and control characters escaped. */
void log_event(const char *level, const char *event, const char *request_id, const char *deviceid,
               const char *format, ...) __attribute__((format(printf, 5, 6)));

#endif
