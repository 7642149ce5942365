// SPDX-License-Identifier: MIT
/* secmmu_version(): the version this library was built as. */
#include "secmmu/version.h"

const char *secmmu_version(void)
{
	return SECMMU_VERSION_STRING;
}
