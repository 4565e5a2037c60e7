/* The default I/O: DNS through ldns, HTTPS through mbedTLS. The ctx owns
 * one struct mtasts__io (configuration and the shared trust store) and
 * installs the hooks below, with the struct as their user pointer,
 * through the same setters a user calls (STYLE.md §6).
 *
 * The hooks are blocking: they do the I/O in the calling thread and call
 * the completion functions before they return MTASTS_OK. Any number of
 * threads may run them at once on one struct mtasts__io: every resolver,
 * socket, RNG and TLS context is per request; the trust store is parsed
 * once (under a lock) and then only read. The setters are "per ctx": never
 * called while a lookup runs. */
#ifndef MTASTS_IO_IO_H
#define MTASTS_IO_IO_H

#include <stddef.h>
#include <stdint.h>

#include "mtasts/mtasts.h"

struct mtasts__io;

/* Create the I/O state with the defaults: /etc/resolv.conf, the system CA
 * bundle (loaded at the first fetch), timeouts 10000/60000/5000 ms, body cap
 * MTASTS_POLICY_MAX. Returns MTASTS_OK or MTASTS_ERR_NOMEM (*out NULL). */
int mtasts__io_new(struct mtasts__io **out);

/* Free it; NULL is accepted. No hook may be running. */
void mtasts__io_free(struct mtasts__io *io);

/* The recursive resolver: "ADDR" or "ADDR@PORT" with an IPv4 or IPv6
 * address literal (port 1 to 65535, default 53); NULL returns to the
 * nameservers of /etc/resolv.conf. Returns MTASTS_OK or MTASTS_ERR_INVALID
 * (bad syntax; the previous setting stays). */
int mtasts__io_set_resolver(struct mtasts__io *io, const char *addr);

/* Trust anchors: a PEM or DER file, a directory of PEM files, or both;
 * both NULL is the system bundle /etc/ssl/certs/ca-certificates.crt.
 * Loaded and checked now; the previous store is replaced only on success
 * (fetches running keep the store they started with). Returns MTASTS_OK,
 * MTASTS_ERR_IO (unreadable, or no certificate parsed), MTASTS_ERR_NOMEM. */
int mtasts__io_set_ca(struct mtasts__io *io, const char *file,
                      const char *dir);

/* connect_ms bounds TCP connect plus TLS handshake for each address;
 * fetch_total_ms bounds a whole fetch (address lookup to last body byte);
 * dns_ms bounds one DNS lookup, CNAME hops and retries included. */
void mtasts__io_set_timeouts(struct mtasts__io *io, uint32_t connect_ms,
                             uint32_t fetch_total_ms, uint32_t dns_ms);

/* The largest body accepted; a longer one fails the fetch. */
void mtasts__io_set_body_max(struct mtasts__io *io, size_t bytes);

struct mtasts_mx_check;

/* Judge an MX's DER chain (mtasts__mx_check_chain) against the trust
 * store, loading the system bundle first if none was set. Returns
 * MTASTS_OK, MTASTS_ERR_IO (no trust store), MTASTS_ERR_NOMEM. */
int mtasts__io_check_chain(struct mtasts__io *io, struct mtasts_mx_check *c,
                           int64_t now, const unsigned char *const *chain,
                           const size_t *lens, size_t n);

/* The default hooks (mtasts_dns_txt_fn, mtasts_https_get_fn); user is the
 * struct mtasts__io. They return MTASTS_OK after calling the request's done
 * function, or MTASTS_ERR_INVALID (a NULL argument, a name, host or path
 * that cannot be sent) without calling it. */
int mtasts__io_dns_txt(mtasts_req *req, const char *name, void *user);
int mtasts__io_https_get(mtasts_req *req, const char *host, uint16_t port,
                         const char *path, void *user);
/* The default mtasts_https_post_fn: as the GET, but the request is a POST
 * of body and reading stops at the response head (its body is dropped). */
int mtasts__io_https_post(mtasts_req *req, const char *host, uint16_t port,
                          const char *path, const char *content_type,
                          const void *body, size_t len, uint32_t flags,
                          void *user);

#endif
