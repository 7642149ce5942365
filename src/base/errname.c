// SPDX-License-Identifier: MIT
/*
 * errno names, as the scenario language and diagnostics print them.
 *
 * The table lists each value once under its canonical Linux name; aliases
 * (EWOULDBLOCK, EDEADLOCK, ENOTSUP) are accepted by errno_from_name() only,
 * so that errno_name() is a function and round-trips.
 */
#include <stdio.h>
#include <string.h>

#include "secmmu/err.h"

struct errno_entry {
	int err;
	const char *name; /* with the leading '-', so errno_name() needs no copy */
};

/* clang-format off */
#define E(x) { x, "-" #x }
/* clang-format on */
static const struct errno_entry errno_table[] = {
	E(EPERM),     E(ENOENT),      E(ESRCH),	     E(EINTR),	      E(EIO),	    E(ENXIO),
	E(E2BIG),     E(ENOEXEC),     E(EBADF),	     E(ECHILD),	      E(EAGAIN),    E(ENOMEM),
	E(EACCES),    E(EFAULT),      E(EBUSY),	     E(EEXIST),	      E(EXDEV),	    E(ENODEV),
	E(ENOTDIR),   E(EISDIR),      E(EINVAL),     E(ENFILE),	      E(EMFILE),    E(ENOTTY),
	E(EFBIG),     E(ENOSPC),      E(ESPIPE),     E(EROFS),	      E(EMLINK),    E(EPIPE),
	E(EDOM),      E(ERANGE),      E(EDEADLK),    E(ENAMETOOLONG), E(ENOLCK),    E(ENOSYS),
	E(ENOTEMPTY), E(ELOOP),	      E(ENOMSG),     E(EIDRM),	      E(ENODATA),   E(ETIME),
	E(EOVERFLOW), E(EBADFD),      E(EOPNOTSUPP), E(EADDRINUSE),   E(ENOTCONN),  E(ETIMEDOUT),
	E(EALREADY),  E(EINPROGRESS), E(ECANCELED),  E(EOWNERDEAD),   E(EHWPOISON),
};
#undef E

static const struct {
	const char *alias;
	int err;
} errno_aliases[] = {
	{"EWOULDBLOCK", EAGAIN},
	{"EDEADLOCK", EDEADLK},
	{"ENOTSUP", EOPNOTSUPP},
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct errno_entry *errno_lookup(long err)
{
	for (size_t i = 0; i < ARRAY_LEN(errno_table); i++)
		if (errno_table[i].err == err)
			return &errno_table[i];
	return NULL;
}

const char *errno_name(long err)
{
	static _Thread_local char buf[32];
	long pos = err < 0 ? -err : err;
	const struct errno_entry *e;

	if (err == 0)
		return "ok";
	e = errno_lookup(pos);
	if (e)
		return err < 0 ? e->name : e->name + 1;
	snprintf(buf, sizeof(buf), "%sE%ld", err < 0 ? "-" : "", pos);
	return buf;
}

long errno_from_name(const char *name)
{
	if (!name)
		return 0;
	if (*name == '-')
		name++;
	for (size_t i = 0; i < ARRAY_LEN(errno_table); i++)
		if (!strcmp(errno_table[i].name + 1, name))
			return -errno_table[i].err;
	for (size_t i = 0; i < ARRAY_LEN(errno_aliases); i++)
		if (!strcmp(errno_aliases[i].alias, name))
			return -errno_aliases[i].err;
	return 0;
}
