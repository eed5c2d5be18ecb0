/*
 * From a validated configuration to the provider it names (Vexora, Clover or Mogujie), with
 * the secrets read from their files and wiped from memory once the provider has its copy.
 */
#ifndef ORDERFS_PROVIDERS_H
#define ORDERFS_PROVIDERS_H

#include "../client/provider.h"
#include "config.h"

#define FS_TYPES_MAX 4 /* export types one provider may have */

/* NULL after printing one line to stderr saying why (unreadable secret, bad value). */
struct provider *provider_from_config(const struct fs_config *cfg);

#endif
