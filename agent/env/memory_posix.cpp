// ReleaseFreeMemory with glibc's malloc_trim (see memory.h); other C libraries: nothing.
#include "agent/env/memory.h"

#include <cstdlib>  // defines __GLIBC__ on glibc
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace opescare::env {

void ReleaseFreeMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace opescare::env
