/* The _mta-sts TXT record (RFC 8461 §3.1). */
#ifndef MTASTS_PARSE_TXT_H
#define MTASTS_PARSE_TXT_H

#include <stddef.h>

#include "mtasts/mtasts.h"

#define MTASTS__TXT_ID_MAX 32       /* sts-id: 1*32(ALPHA / DIGIT) */

/* mtasts_txt_select() with a diagnostic for the selected record; *which
 * (if not NULL) receives the index of the record judged, or n if none. */
int mtasts__txt_select(const char *const *records, const size_t *lens, size_t n,
                       char id_out[MTASTS_ID_BUFSIZE], size_t *which,
                       mtasts_parse_error *err);

#endif
