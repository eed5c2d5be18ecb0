#include "kernel_view.h"

#include "str_map.h"

/* A kernel_view handle is a str_map of kernel_file_view values, keyed by path. */

struct kernel_view *kernel_view_new(void)
{
	return (struct kernel_view *)str_map_new(sizeof(struct kernel_file_view));
}

void kernel_view_free(struct kernel_view *v)
{
	str_map_free((struct str_map *)v);
}

void kernel_view_get(struct kernel_view *v, const char *path, struct kernel_file_view *out)
{
	str_map_get((struct str_map *)v, path, out);
}

int kernel_view_put(struct kernel_view *v, const char *path, const struct kernel_file_view *in)
{
	return str_map_put((struct str_map *)v, path, in);
}
