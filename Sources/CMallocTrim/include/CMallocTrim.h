#ifndef RAMPART_CMALLOCTRIM_H
#define RAMPART_CMALLOCTRIM_H

/// Returns the free memory of every malloc arena to the system; 1 when some was released. A no-op without glibc.
int rampart_malloc_trim(void);

#endif
