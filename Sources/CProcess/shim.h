#include <sys/prctl.h>

/* prctl is variadic, which Swift cannot call: this is the one call the tiers make. Makes the
   process undumpable: no other process of the same user may ptrace it or read its memory,
   environment or descriptors through /proc (and it dumps no core), so a secret it holds is
   its own. Returns prctl's result (0, or -1 with errno). */
static inline int bazar_forbid_inspection(void) {
    return prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L);
}
