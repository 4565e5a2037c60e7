/* A second-level policy store on Redis for libmtasts (docs/cache.md, "A
 * store shared by a fleet"): the three store hooks over one hiredis
 * connection. Keys are PREFIX + domain; values are the library's records;
 * each value expires with its policy (SET ... EX ttl).
 *
 * A failed command drops the connection; the next call reconnects, but not
 * before retry_ms have passed since the failure, so a dead server costs
 * one connect timeout per retry_ms, not one per lookup. Every call is
 * bounded by timeout_ms. Thread-safe: calls are serialised by a mutex.
 *
 * SPDX-License-Identifier: MIT */
#ifndef MTASTS_EXAMPLES_REDIS_STORE_H
#define MTASTS_EXAMPLES_REDIS_STORE_H

#include <mtasts/mtasts.h>

struct redis_store;

/* A store for the server at host:port (an address or a name), with
 * prefix (copied) before every key. Connects lazily. 0 or -1 (errno). */
int redis_store_new(const char *host, int port, const char *prefix,
                    unsigned timeout_ms, unsigned retry_ms,
                    struct redis_store **out);

/* Install the store's hooks in ctx (mtasts_ctx_set_store_hooks()). The
 * store must outlive ctx. */
int redis_store_install(struct redis_store *rs, mtasts_ctx *ctx);

/* Commands that failed since the store was made (for logs and tests). */
unsigned long redis_store_failures(struct redis_store *rs);

void redis_store_free(struct redis_store *rs);

#endif
