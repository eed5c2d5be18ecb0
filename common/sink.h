/*
 * A byte sink: where a download or a bundle writes its bytes, front to back. Shared by the
 * providers (which fill it) and the cache (which backs it with a file), so neither needs to
 * know the other.
 */
#ifndef ORDERFS_SINK_H
#define ORDERFS_SINK_H

#include <stddef.h>
#include <stdint.h>

/*
 * Where download bytes go. The client calls begin() once per HTTP response, before any body
 * byte, with the offset the body starts at and the whole file's size (UINT64_MAX if unknown).
 * When a resume from offset > 0 comes back as a full 200 body, begin() is called with
 * offset 0: the sink must start over (truncate and reset its digest). write() gets body bytes
 * in order at increasing offsets. Either returns 0 to go on or -errno to abort, which the
 * download reports as CLIENT_E_LOCAL (or CLIENT_E_CANCELLED for -ECANCELED).
 */
struct download_sink {
	int (*begin)(void *ctx, uint64_t offset, uint64_t total);
	int (*write)(void *ctx, const void *buf, size_t len, uint64_t offset);
	void *ctx;
	/* Optional (NULL when the sink cannot): read back len bytes the sink already holds at
	 * offset, so fetch() can derive files from what it wrote. 0 or -errno (-EIO short). */
	int (*read)(void *ctx, void *buf, size_t len, uint64_t offset);
	/* Optional: progress in the provider's own units (orders synced so far out of total;
	 * total 0 = unknown), for .status. */
	void (*items)(void *ctx, uint64_t done, uint64_t total);
};

#endif
