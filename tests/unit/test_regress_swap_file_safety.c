// SPDX-License-Identifier: MIT
/*
 * REGRESSION (issues 17 and 19): swap_on() opened its file with
 * O_CREAT|O_TRUNC before checking whether a swap device already existed,
 * and unlinked it on the error path. So a refused `swap 1M file=PATH`
 * (-EBUSY) destroyed the user's file, and a refused second default `swap`
 * truncated the live swap file (predictable name secmmu-swap-PID) under the
 * swapped-out pages: they read back as zeros.
 *
 * The rules now: a refused call creates, truncates and removes nothing; an
 * existing PATH is -EEXIST unless SWAP_ON_OVERWRITE; symlinks are not
 * followed; the default name comes from mkstemp(); only a file we created
 * is ever removed.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "secmmu/swap.h"
#include "testutil.h"

static char dir[64];

static void make_dir(void)
{
	strcpy(dir, "/tmp/secmmu-swaptest-XXXXXX");
	ASSERT(mkdtemp(dir) != NULL);
	ASSERT_EQ(setenv("TMPDIR", dir, 1), 0);
}

static void path_in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* The file at @path exists and holds exactly @text. */
static void assert_file_is(const char *path, const char *text)
{
	char buf[256] = {0};
	int fd = open(path, O_RDONLY);
	ssize_t n;

	ASSERT(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_EQ(n, (ssize_t)strlen(text));
	ASSERT(!strcmp(buf, text));
}

/* Entries of dir (without . and ..); the first name in @first. */
static int dir_entries(char *first, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ASSERT(d != NULL);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!n++ && first)
			snprintf(first, len, "%s", e->d_name);
	}
	closedir(d);
	return n;
}

static void remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ASSERT_EQ(system(cmd), 0);
}

/* The issue-17 report: `swap 1M memory`, then `swap 1M file=victim`. */
TEST(regress_swap_busy_keeps_user_file)
{
	char victim[128];

	make_dir();
	path_in_dir(victim, sizeof(victim), "victim");
	write_file(victim, "precious");
	ASSERT_EQ(swap_on(1 << 20, NULL), 0);
	ASSERT_EQ(swap_on(1 << 20, victim), -EBUSY);
	assert_file_is(victim, "precious");
	/* Not even a file that did not exist is created by a refused call. */
	path_in_dir(victim, sizeof(victim), "new");
	ASSERT_EQ(swap_on(1 << 20, victim), -EBUSY);
	ASSERT_EQ(access(victim, F_OK), -1);
	ASSERT_EQ(swap_off(), 0);
	remove_dir();
}

TEST(regress_swap_existing_path_is_eexist)
{
	char victim[128];

	make_dir();
	path_in_dir(victim, sizeof(victim), "victim");
	write_file(victim, "precious");
	ASSERT_EQ(swap_on(1 << 20, victim), -EEXIST);
	assert_file_is(victim, "precious");
	ASSERT_EQ(swap_slots_total(), 0);
	remove_dir();
}

TEST(regress_swap_symlink_not_followed)
{
	char victim[128], link[128];

	make_dir();
	path_in_dir(victim, sizeof(victim), "victim");
	path_in_dir(link, sizeof(link), "link");
	write_file(victim, "precious");
	ASSERT_EQ(symlink(victim, link), 0);
	ASSERT(swap_on(1 << 20, link) < 0);
	ASSERT(swap_on_flags(1 << 20, link, SWAP_ON_OVERWRITE) < 0);
	assert_file_is(victim, "precious");
	/* A dangling symlink is not followed to create its target either. */
	ASSERT_EQ(unlink(victim), 0);
	ASSERT(swap_on(1 << 20, link) < 0);
	ASSERT_EQ(access(victim, F_OK), -1);
	ASSERT_EQ(swap_slots_total(), 0);
	remove_dir();
}

/* A file we created is removed at swap_off; one we were told to reuse is not. */
TEST(swap_file_removed_only_if_created)
{
	char path[128];
	struct stat st;

	make_dir();
	path_in_dir(path, sizeof(path), "ours");
	ASSERT_EQ(swap_on(1 << 20, path), 0);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(st.st_size, 1 << 20);
	ASSERT_EQ(swap_off(), 0);
	ASSERT_EQ(access(path, F_OK), -1);

	path_in_dir(path, sizeof(path), "theirs");
	write_file(path, "old");
	ASSERT_EQ(swap_on_flags(1 << 20, path, SWAP_ON_OVERWRITE), 0);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(st.st_size, 1 << 20);
	ASSERT_EQ(swap_off(), 0);
	ASSERT_EQ(access(path, F_OK), 0);
	/* Overwrite reuses regular files only. */
	ASSERT_EQ(swap_on_flags(1 << 20, dir, SWAP_ON_OVERWRITE), -EISDIR);
	ASSERT_EQ(swap_on_flags(1 << 20, path, 0x80), -EINVAL);
	ASSERT_EQ(swap_slots_total(), 0);
	remove_dir();
}

/* The default file has an unpredictable name and does not take a planted one. */
TEST(regress_swap_default_name_unpredictable)
{
	char planted[128], name[300], old[64];

	make_dir();
	snprintf(old, sizeof(old), "secmmu-swap-%d", (int)getpid());
	path_in_dir(planted, sizeof(planted), old);
	write_file(planted, "planted");
	ASSERT_EQ(swap_on(1 << 20, ""), 0);
	assert_file_is(planted, "planted");
	ASSERT_EQ(dir_entries(NULL, 0), 2);
	ASSERT_EQ(unlink(planted), 0);
	ASSERT_EQ(dir_entries(name, sizeof(name)), 1);
	ASSERT(!strncmp(name, "secmmu-swap-", 12));
	ASSERT(strcmp(name, old) != 0);
	ASSERT_EQ(swap_off(), 0);
	ASSERT_EQ(dir_entries(NULL, 0), 0);
	remove_dir();
}

/* Issue 19 item 1: `swap 1M`, fill, pageout, `swap 1M` -> -EBUSY, data intact. */
TEST(regress_swap_second_default_keeps_swapped_data)
{
	struct mm_struct *mm;

	MM_TEST_SETUP();
	make_dir();
	ASSERT_EQ(swap_on(1 << 20, ""), 0);
	mm = mm_alloc();
	map_anon(mm, TBASE, 8, PROT_RW, false);
	write_pages(mm, TBASE, 8, 23);
	ASSERT_EQ(mm_madvise(mm, TBASE, PG(8), MADV_PAGEOUT), 0);
	ASSERT_EQ(swap_slots_used(), 8);
	ASSERT_EQ(swap_on(1 << 20, ""), -EBUSY);
	check_pages(mm, TBASE, 8, 23);
	mmput(mm);
	ASSERT_EQ(swap_off(), 0);
	remove_dir();
}
