#include "util/crc32.h"

#include <zlib.h>

/* zlib's crc32 (the same CRC; zlib is linked for report gzip anyway) is
 * about twice as fast as a byte-at-a-time table on the cache file's
 * 150-byte records; it takes its length as a uInt, hence the chunks. */
uint32_t
mtasts__crc32(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uLong c = crc;
    while (len > 0) {
        uInt n = len > 0x40000000u ? 0x40000000u : (uInt)len;
        c = crc32(c, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t)c;
}
