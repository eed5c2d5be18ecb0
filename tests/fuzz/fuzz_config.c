/*
 * libFuzzer target: the config parser. The input is written as a config file and loaded,
 * validated and freed; its first line is also tried as one `key=value` override and as a
 * size and a duration. Refusals are fine; crashes, leaks and overruns are not.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../fs/mount/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fs_config c;
	char err[512], path[64], line[1024], *eq;
	uint64_t sz;
	int fd, secs;
	size_t n;

	if (size > 65536)
		return 0;
	fd = memfd_create("orderfs-fuzz-config", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	config_init(&c);
	if (config_load_file(&c, path, err, sizeof(err)) == 0)
		(void)config_validate(&c, err, sizeof(err));
	config_free(&c);
	close(fd);

	n = 0;
	while (n < size && n < sizeof(line) - 1 && data[n] != '\n')
		n++;
	memcpy(line, data, n);
	line[n] = '\0';
	(void)config_parse_size(line, &sz);
	(void)config_parse_duration(line, &secs);
	(void)config_is_key(line);
	eq = strchr(line, '=');
	if (eq) {
		*eq = '\0';
		config_init(&c);
		(void)config_set(&c, line, eq + 1, err, sizeof(err));
		config_free(&c);
	}
	return 0;
}
