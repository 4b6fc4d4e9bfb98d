/* Remote models for `serve --model`: resolve the reference, download with resume into the
 * cache directory, check size and sha256, rename into place. */
#include "cli/model_fetch.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FETCH_ATTEMPTS 5

struct fetch {
    FILE *out;
    char etag[80];        /* X-Linked-Etag, else ETag, unquoted */
    char linked_etag[80];
    long long total;      /* full size, from Content-Range or Content-Length; -1 unknown */
    long long offset;     /* bytes already in the .part file at this attempt's start */
    int status;
    int progress;         /* draw a progress bar (stderr is a terminal) */
    const char *name;
};

static int is_url(const char *ref)
{
    return !strncmp(ref, "http://", 7) || !strncmp(ref, "https://", 8);
}

int model_ref_is_remote(const char *ref)
{
    struct stat st;
    if (is_url(ref))
        return 1;
    if (ref[0] == '/' || ref[0] == '.' || stat(ref, &st) == 0)
        return 0;
    const char *slash = strchr(ref, '/');
    return slash && slash != ref && slash[1] && !strchr(slash + 1, '/');
}

static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
    while (n && isspace((unsigned char)*v)) v++, n--;
    while (n && isspace((unsigned char)v[n - 1])) n--;
    if (n >= 2 && v[0] == 'W' && v[1] == '/') v += 2, n -= 2;
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') v++, n -= 2;
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
    struct fetch *f = arg;
    size_t len = size * n;
    const char *colon = memchr(buf, ':', len);
    if (len > 12 && !strncmp(buf, "HTTP/", 5)) { /* a new response (a redirect's target) */
        const char *sp = memchr(buf, ' ', len);
        f->status = sp ? atoi(sp + 1) : 0;
        f->etag[0] = 0;
        f->total = -1;
        if (f->status == 200 && f->offset > 0) { /* Range ignored: the whole file comes */
            if (fflush(f->out) || ftruncate(fileno(f->out), 0) || fseek(f->out, 0, SEEK_SET))
                return 0;
            f->offset = 0;
        }
        return len;
    }
    if (!colon)
        return len;
    size_t key = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vlen = len - key - 1;
    if (key == 13 && !strncasecmp(buf, "X-Linked-Etag", 13))
        copy_value(f->linked_etag, sizeof f->linked_etag, v, vlen);
    else if (key == 4 && !strncasecmp(buf, "ETag", 4))
        copy_value(f->etag, sizeof f->etag, v, vlen);
    else if (key == 13 && !strncasecmp(buf, "Content-Range", 13)) {
        const char *s = memchr(v, '/', vlen);
        if (s) f->total = atoll(s + 1);
    } else if (key == 14 && !strncasecmp(buf, "Content-Length", 14) && f->total < 0)
        f->total = atoll(v) + f->offset;
    return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
    struct fetch *f = arg;
    if (f->status != 200 && f->status != 206)
        return size * n; /* an error page is not the model */
    return fwrite(buf, size, n, f->out) * size;
}

static int on_progress(void *arg, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un)
{
    struct fetch *f = arg;
    (void)ut, (void)un;
    double have = (double)(f->offset + now) / (1 << 20), all = (double)(f->offset + total) / (1 << 20);
    if (total > 0)
        fprintf(stderr, "\rkvspill: fetching %s %5.1f%% %.1f/%.1f MiB", f->name, 100.0 * have / all,
                have, all);
    return 0;
}

static int is_sha256(const char *s)
{
    size_t n = strspn(s, "0123456789abcdefABCDEF");
    return n == 64 && !s[n];
}

static int file_sha256(const char *path, char hex[65])
{
    unsigned char buf[1 << 16], md[32];
    FILE *in = fopen(path, "rb");
    if (!in)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    size_t r;
    while (ok && (r = fread(buf, 1, sizeof buf, in)) > 0)
        ok = EVP_DigestUpdate(ctx, buf, r);
    ok = ok && !ferror(in) && EVP_DigestFinal_ex(ctx, md, NULL);
    EVP_MD_CTX_free(ctx);
    fclose(in);
    for (int i = 0; ok && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return ok ? 0 : -1;
}

/* The URL of ref (no fragment), its expected sha256 from a `#sha256=` fragment, and whether
 * it goes to Hugging Face (the token is sent). */
static int resolve(const char *ref, char *url, size_t cap, char sha[65], int *hf)
{
    const char *frag = strstr(ref, "#sha256=");
    size_t n = frag ? (size_t)(frag - ref) : strlen(ref);
    sha[0] = 0;
    if (frag) {
        if (!is_sha256(frag + 8)) {
            fprintf(stderr, "kvspill: model %s: the #sha256= fragment is not 64 hex digits\n", ref);
            return -1;
        }
        snprintf(sha, 65, "%s", frag + 8);
    }
    *hf = !is_url(ref);
    if (!*hf) {
        if (n >= cap) return -1;
        memcpy(url, ref, n);
        url[n] = 0;
        return 0;
    }
    const char *colon = memchr(ref, ':', n);
    if (!colon) {
        fprintf(stderr, "kvspill: model %s: no such file, and a Hugging Face reference must name "
                        "its GGUF file, as %s:FILE.gguf\n", ref, ref);
        return -1;
    }
    const char *base = getenv("HF_ENDPOINT");
    int w = snprintf(url, cap, "%s/%.*s/resolve/main/%.*s", base && *base ? base : "https://huggingface.co",
                     (int)(colon - ref), ref, (int)(n - (size_t)(colon - ref) - 1), colon + 1);
    return w > 0 && (size_t)w < cap ? 0 : -1;
}

/* The cache file for url: DIR/<first 16 hex of sha256(url)>-<basename>. */
static int cache_path(const char *url, char *path, size_t cap)
{
    const char *dir = getenv("KVSPILL_MODEL_CACHE"), *home = getenv("HOME");
    char d[4096], key[65];
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (dir && *dir) snprintf(d, sizeof d, "%s", dir);
    else snprintf(d, sizeof d, "%s/.cache/kvspill/models", home && *home ? home : "/tmp");
    for (char *p = d + 1; *p; p++) /* mkdir -p */
        if (*p == '/') { *p = 0; mkdir(d, 0755); *p = '/'; }
    if (mkdir(d, 0755) && errno != EEXIST) {
        fprintf(stderr, "kvspill: model cache %s: %s\n", d, strerror(errno));
        return -1;
    }
    if (!EVP_Digest(url, strlen(url), md, &mdlen, EVP_sha256(), NULL))
        return -1;
    for (int i = 0; i < 8; i++) snprintf(key + 2 * i, 3, "%02x", md[i]);
    const char *slash = strrchr(url, '/');
    int w = snprintf(path, cap, "%s/%s-%s", d, key, slash ? slash + 1 : "model");
    return w > 0 && (size_t)w < cap - 8 ? 0 : -1; /* room for ".part" */
}

static int download(const char *url, int hf, const char *part, struct fetch *f)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hdr = NULL;
    const char *token = getenv("HF_TOKEN");
    char auth[1024];
    int rc = -1;
    if (!c) return -1;
    if (hf && token && *token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdr = curl_slist_append(hdr, auth);
    }
    for (int attempt = 1; attempt <= FETCH_ATTEMPTS; attempt++) {
        struct stat st;
        f->offset = stat(part, &st) == 0 ? (long long)st.st_size : 0;
        f->out = fopen(part, "ab");
        if (!f->out) {
            fprintf(stderr, "kvspill: %s: %s\n", part, strerror(errno));
            break;
        }
        f->status = 0;
        f->total = -1;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)f->offset);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, f);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, f->progress ? 0L : 1L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, f);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled transfer is retried */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
        CURLcode res = curl_easy_perform(c);
        int closed = fclose(f->out);
        if (f->progress) fputc('\n', stderr);
        if (res == CURLE_OK && (f->status == 200 || f->status == 206) && !closed) {
            rc = 0;
            break;
        }
        if (res == CURLE_OK) {
            fprintf(stderr, "kvspill: fetching %s: HTTP %d\n", url, f->status);
            break;
        }
        fprintf(stderr, "kvspill: fetching %s: %s (attempt %d of %d)\n", url, curl_easy_strerror(res),
                attempt, FETCH_ATTEMPTS);
        if (res == CURLE_RANGE_ERROR) unlink(part);
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    return rc;
}

int model_fetch(const char *ref, char *path, size_t cap)
{
    char url[4096], sha[65], part[4200], got[65];
    int hf = 0;
    struct stat st;
    struct fetch f = {.total = -1, .progress = isatty(STDERR_FILENO), .name = ref};
    if (resolve(ref, url, sizeof url, sha, &hf) || cache_path(url, path, cap))
        return -1;
    if (stat(path, &st) == 0) /* fetched before */
        return 0;
    snprintf(part, sizeof part, "%s.part", path);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) || download(url, hf, part, &f))
        return -1;
    const char *etag = f.linked_etag[0] ? f.linked_etag : f.etag;
    if (!sha[0] && is_sha256(etag)) { /* Hugging Face's ETag of an LFS file is its sha256 */
        memcpy(sha, etag, 64);
        sha[64] = 0;
    }
    if (stat(part, &st) || (f.total >= 0 && (long long)st.st_size != f.total)) {
        fprintf(stderr, "kvspill: fetching %s: got %lld bytes, expected %lld\n", url,
                (long long)st.st_size, f.total);
        return -1;
    }
    if (sha[0] && (file_sha256(part, got) || strcasecmp(got, sha))) {
        fprintf(stderr, "kvspill: fetching %s: sha256 %s, expected %s; %s removed\n", url, got, sha, part);
        unlink(part);
        return -1;
    }
    if (rename(part, path)) {
        fprintf(stderr, "kvspill: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(stderr, "kvspill: model %s fetched to %s (%lld bytes%s)\n", ref, path, (long long)st.st_size,
            sha[0] ? ", sha256 checked" : "");
    return 0;
}
