/* check/hash.c: SHA-256 (FIPS 180-4) of files and of content digests, for certificates.
 * From the system's libcrypto (OpenSSL, Debian libssl-dev): EVP digests, streamed in 1 MiB
 * blocks so that a file of any size is hashed in bounded memory. */
#include <errno.h>
#include <openssl/evp.h>

#include "lp_check_internal.h"

struct ck_sha {
    EVP_MD_CTX *ctx;
};

static void to_hex(char hex[65], const unsigned char *md)
{
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

ck_sha *ck_sha_new(void)
{
    ck_sha *s = malloc(sizeof *s);
    if (!s) return NULL;
    s->ctx = EVP_MD_CTX_new();
    if (!s->ctx || EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(s->ctx);
        free(s);
        return NULL;
    }
    return s;
}

void ck_sha_update(ck_sha *s, const void *p, size_t n)
{
    if (s && n) EVP_DigestUpdate(s->ctx, p, n);
}

void ck_sha_final(ck_sha *s, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    snprintf(hex, 65, "%s", "(unavailable)");
    if (!s) return;
    if (EVP_DigestFinal_ex(s->ctx, md, &len) == 1 && len == 32) to_hex(hex, md);
    EVP_MD_CTX_free(s->ctx);
    free(s);
}

lp_status ck_sha256_file(char hex[65], const char *path, lp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return lp_fail(err, LP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    ck_sha *s = ck_sha_new();
    unsigned char *buf = malloc(1u << 20);
    if (!s || !buf) {
        fclose(f);
        free(buf);
        ck_sha_final(s, hex);
        return lp_fail(err, LP_ERR_NOMEM, "%s: out of memory hashing", path);
    }
    size_t n;
    while ((n = fread(buf, 1, 1u << 20, f)) > 0) ck_sha_update(s, buf, n);
    int bad = ferror(f);
    fclose(f);
    free(buf);
    ck_sha_final(s, hex);
    if (bad) return lp_fail(err, LP_ERR_IO, "%s: read error while hashing", path);
    return LP_OK;
}
