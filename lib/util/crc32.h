/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, the checksum of
 * zlib's crc32() and of PNG), for the cache and report files; computed by
 * zlib. */
#ifndef MTASTS_UTIL_CRC32_H
#define MTASTS_UTIL_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over len more bytes; start with crc 0. */
uint32_t mtasts__crc32(uint32_t crc, const void *buf, size_t len);

#endif
