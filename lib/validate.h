/* The rules every value from outside must meet before it reaches a handler or the database. */
#ifndef PROVD_VALIDATE_H
#define PROVD_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEVICE_ID_MAX     64   /* characters of [A-Za-z0-9._:-] */
#define SSID_MAX          32   /* bytes: the 802.11 limit */
#define NAME_MAX_CHARS    64   /* Unicode characters */
#define DATA_MAX          8192 /* bytes of configuration JSON */
#define POLL_INTERVAL_MIN 5
#define POLL_INTERVAL_MAX 86400
#define FIRMWARE_VERSION_MAX 32 /* characters of [A-Za-z0-9._+-] */
#define FIRMWARE_VERSION_RULE "must be 1-32 characters of A-Z a-z 0-9 . _ + -"
#define LOCATION_MAX_CHARS 128 /* Unicode characters */
#define TAG_MAX_LEN       32   /* characters of [a-z0-9._-] */
#define PROPERTY_KEY_MAX  64   /* characters of [A-Za-z0-9_-] */

bool valid_device_id(const char *id);
bool valid_ipaddr(const char *text);
bool valid_ssid(const char *ssid, size_t len);
/* At most NAME_MAX_CHARS characters of valid UTF-8, none of them control characters. */
bool valid_name(const char *name, size_t len);
/* At most LOCATION_MAX_CHARS characters of valid UTF-8, none of them control characters. */
bool valid_location(const char *text, size_t len);
/* A tag: 1-TAG_MAX_LEN characters of a-z 0-9 . _ -, with A-Z taken as a-z. Writes the tag
 * folded to lower case into out (TAG_MAX_LEN + 1 bytes); false when in[len] is no tag. */
bool tag_fold(const char *in, size_t len, char *out);
/* A configuration property a bulk change may set: 1-PROPERTY_KEY_MAX of A-Z a-z 0-9 _ -. */
bool valid_property_key(const char *key, size_t len);
/* Valid UTF-8 without control characters, of any length. */
bool valid_text(const char *text, size_t len);
bool valid_state(const char *state);
/* A firmware version: 1-FIRMWARE_VERSION_MAX characters of [A-Za-z0-9._+-], len bytes. */
bool valid_firmware_version(const char *version, size_t len);
/* The part of a client address that counts as one client: an IPv4 address whole, an IPv6 one
 * by its /64 (one site's network; a host can take any address in it), written to out (at least
 * INET6_ADDRSTRLEN bytes). false when text is no address. */
#define ADDRESS_PREFIX_LEN 46
bool address_prefix(const char *text, char *out, size_t out_len);
/* A whole decimal number from min to max, nothing else in the text. */
bool parse_int_range(const char *text, int64_t min, int64_t max, int64_t *out);

#endif
