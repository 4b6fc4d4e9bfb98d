/* Fuzzes the chunk object parser: the header alone, then the whole object with and without
 * expectations. Input is hostile; nothing may read past it or trust a field unchecked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/object.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so a read past the end is caught by the sanitizer. */
    uint8_t *exact = malloc(size ? size : 1);
    if (!exact)
        return 0;
    memcpy(exact, data, size);
    kvs_chunk_info info;
    size_t header_size;
    kvs_error err;
    if (kvs_object_parse_header(exact, size, &info, &header_size, NULL, &err) == KVS_OK) {
        int32_t *tokens = malloc((size_t)info.n_tokens * sizeof *tokens);
        if (tokens &&
            kvs_object_parse_header(exact, size, &info, &header_size, tokens, &err) == KVS_OK) {
            uint8_t *obj = kvs_object_alloc_buffer(size);
            if (obj) {
                memcpy(obj, data, size);
                kvs_chunk *c;
                if (kvs_object_from_bytes(obj, size, &info.ns, &info.key, tokens, info.n_tokens,
                                          &c, &err) == KVS_OK)
                    kvs_chunk_release(c);
            }
        }
        free(tokens);
    }
    uint8_t *obj = kvs_object_alloc_buffer(size);
    if (obj) {
        memcpy(obj, data, size);
        kvs_chunk *c;
        if (kvs_object_from_bytes(obj, size, NULL, NULL, NULL, 0, &c, &err) == KVS_OK)
            kvs_chunk_release(c);
    }
    free(exact);
    return 0;
}
