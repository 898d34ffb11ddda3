/* The byte hash the compiled extensions share (cgtqc.seq._fastq's sequence table, the hash tables of
 * cgtqc.seq.editing._kernel): eight bytes at a time, each caller with its own start and final mix. */
#ifndef CGTQC_SEQ_HASH_H
#define CGTQC_SEQ_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* s[0:n] folded into ``h``, eight bytes at a time and then the rest (zero-padded). */
static inline uint64_t hash_words(const char *s, size_t n, uint64_t h) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, s + i, n - i);
    return (h ^ w) * 0x100000001b3ULL;
}

#endif
