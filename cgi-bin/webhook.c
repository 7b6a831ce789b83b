/* The alerts' webhook client (webhook.h): libcurl's easy interface, one handle kept alive. */
#include "webhook.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGNATURE_HEADER "X-Provd-Signature: sha256="

struct webhook {
    CURL *curl;
    char *url, *secret;
};

struct webhook *webhook_new(const char *url, const char *secret)
{
    struct webhook *w = calloc(1, sizeof *w);
    if (!w || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(w);
        return NULL;
    }
    w->curl = curl_easy_init();
    w->url = strdup(url);
    w->secret = secret ? strdup(secret) : NULL;
    if (!w->curl || !w->url || (secret && !w->secret)) {
        webhook_free(w);
        return NULL;
    }
    return w;
}

void webhook_free(struct webhook *w)
{
    if (!w)
        return;
    curl_easy_cleanup(w->curl);
    free(w->url);
    if (w->secret)
        OPENSSL_cleanse(w->secret, strlen(w->secret));
    free(w->secret);
    free(w);
    curl_global_cleanup();
}

/* The answer's body is not read: only its status counts. */
static size_t discard(char *data, size_t size, size_t n, void *user_data)
{
    (void)data, (void)user_data;
    return size * n;
}

/* header gets "X-Provd-Signature: sha256=<hex>" of body under the secret. */
static void sign(const struct webhook *w, const char *body, char *header, size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    HMAC(EVP_sha256(), w->secret, (int)strlen(w->secret), (const unsigned char *)body, strlen(body), mac,
         &mac_len);
    size_t at = (size_t)snprintf(header, len, "%s", SIGNATURE_HEADER);
    for (unsigned i = 0; i < mac_len && at + 2 < len; i++)
        at += (size_t)snprintf(header + at, len - at, "%02x", mac[i]);
}

enum webhook_result webhook_post(struct webhook *w, const char *body, const char *id, char *why, size_t why_len)
{
    char id_header[80], signature[sizeof SIGNATURE_HEADER + 2 * EVP_MAX_MD_SIZE];
    snprintf(id_header, sizeof id_header, "X-Provd-Alert-Id: %.40s", id);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, id_header);
    if (w->secret) {
        sign(w, body, signature, sizeof signature);
        headers = curl_slist_append(headers, signature);
    }
    CURL *c = w->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, w->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)WEBHOOK_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)WEBHOOK_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "provd-alerts");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    OPENSSL_cleanse(signature, sizeof signature);
    if (rc != CURLE_OK) {
        snprintf(why, why_len, "%s", curl_easy_strerror(rc));
        return WEBHOOK_RETRY;
    }
    snprintf(why, why_len, "the receiver answered %ld", status);
    if (status >= 200 && status < 300)
        return WEBHOOK_SENT;
    if (status >= 400 && status < 500 && status != 408 && status != 429)
        return WEBHOOK_REFUSED;
    return WEBHOOK_RETRY;
}
