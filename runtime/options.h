/* options.h: every environment knob, parsed once (options.c). No getenv
 * anywhere else: options.c reads environ itself, without allocating, so
 * that it works at the first malloc of a preloaded program. */
#ifndef GH_OPTIONS_H
#define GH_OPTIONS_H

#include <stdint.h>

struct options {
    int gogc;                 /* GOGC: percent, -1 = off (default 100) */
    int64_t memory_limit;     /* GOMEMLIMIT: bytes, INT64_MAX = off */
    int gctrace;              /* GODEBUG gctrace, or GCTRACE (default 0) */
    int gccheckmark;          /* GODEBUG gccheckmark (default 0) */
    int gcstoptheworld;       /* GODEBUG gcstoptheworld (default 0) */
    int invalidptr;           /* GODEBUG invalidptr (default 1) */
    int memprofilerate;       /* GODEBUG memprofilerate (default 524288) */
    int scavtrace;            /* GODEBUG scavtrace (default 0) */
    int gcpacertrace;         /* GODEBUG gcpacertrace (default 0) */
    int clobberfree;          /* GODEBUG clobberfree (default 0) */
    int gcleak;               /* GODEBUG gcleak=report -> 1 (default 0) */
    int gcprocs;              /* GODEBUG gcprocs: mark workers, 0 = auto */
    char heapprofile[512];    /* GHHEAPPROFILE: path, "" = none */
    int64_t heapprofile_interval; /* GHHEAPPROFILE_INTERVAL: bytes, 0 = none */
    char pprof_addr[128];     /* GHPPROF_ADDR: host:port, "" = none */
};

/* The options in force, filled by options_init. Read-only afterwards
 * (API setters keep their own state in the module they configure). */
extern struct options opts;

/* options_init parses the process environment into opts; idempotent and
 * cheap after the first call. Malformed values are reported once each on
 * stderr ("goheap: GOGC=\"abc\" is not a number or \"off\"; using 100") and
 * the default is kept. */
void options_init(void);

/* options_parse fills *o from a NULL-terminated environment vector
 * (exposed for tests). Reports malformed values as options_init does. */
void options_parse(struct options *o, char *const *envp);

/* options_parse_bytes parses Go's GOMEMLIMIT syntax ("512MiB", "2GiB",
 * "123", "off"): returns 0 and stores the byte count (INT64_MAX for off),
 * or -1 if malformed. */
int options_parse_bytes(const char *s, int64_t *out);

#endif
