// SPDX-License-Identifier: MIT
/*
 * Unit tests for the scenario parser pieces (src/sim/parse.c) and for the
 * runner's line handling that needs no memory system: normalisation, the
 * expectation split, tokenizing, numbers, sizes, DATA, and the messages of
 * malformed lines.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../harness.h"
#include "secmmu/err.h"
#include "secmmu/mm.h"
#include "sim/sim.h"

TEST(sim_num_decimal_and_hex)
{
	uint64_t v = 0;

	ASSERT_EQ(sim_parse_num("0", &v), 0);
	ASSERT_UEQ(v, 0);
	ASSERT_EQ(sim_parse_num("4096", &v), 0);
	ASSERT_UEQ(v, 4096);
	ASSERT_EQ(sim_parse_num("0x10000000", &v), 0);
	ASSERT_UEQ(v, 0x10000000);
	ASSERT_EQ(sim_parse_num("0XfF", &v), 0);
	ASSERT_UEQ(v, 255);
	ASSERT_EQ(sim_parse_num("0xffffffffffffffff", &v), 0);
	ASSERT_UEQ(v, UINT64_MAX);
	ASSERT_EQ(sim_parse_num("18446744073709551615", &v), 0);
	ASSERT_UEQ(v, UINT64_MAX);
}

TEST(sim_num_rejects_garbage)
{
	uint64_t v = 7;

	ASSERT_EQ(sim_parse_num("", &v), -EINVAL);
	ASSERT_EQ(sim_parse_num("0x", &v), -EINVAL);
	ASSERT_EQ(sim_parse_num("0xzz", &v), -EINVAL);
	ASSERT_EQ(sim_parse_num("-1", &v), -EINVAL);
	ASSERT_EQ(sim_parse_num("+1", &v), -EINVAL);
	ASSERT_EQ(sim_parse_num(" 1", &v), -EINVAL);
	ASSERT_EQ(sim_parse_num("12a", &v), -EINVAL);
	ASSERT_EQ(sim_parse_num("4K", &v), -EINVAL); /* no suffix on plain numbers */
	ASSERT_EQ(sim_parse_num(NULL, &v), -EINVAL);
	ASSERT_UEQ(v, 7); /* untouched on failure */
}

TEST(sim_num_overflow)
{
	uint64_t v;

	ASSERT_EQ(sim_parse_num("18446744073709551616", &v), -ERANGE);
	ASSERT_EQ(sim_parse_num("0x10000000000000000", &v), -ERANGE);
	ASSERT_EQ(sim_parse_num("99999999999999999999999", &v), -ERANGE);
}

TEST(sim_size_suffixes)
{
	uint64_t v;

	ASSERT_EQ(sim_parse_size("4K", &v), 0);
	ASSERT_UEQ(v, 4096);
	ASSERT_EQ(sim_parse_size("4k", &v), 0);
	ASSERT_UEQ(v, 4096);
	ASSERT_EQ(sim_parse_size("64M", &v), 0);
	ASSERT_UEQ(v, 64UL << 20);
	ASSERT_EQ(sim_parse_size("2G", &v), 0);
	ASSERT_UEQ(v, 2UL << 30);
	ASSERT_EQ(sim_parse_size("0x10K", &v), 0);
	ASSERT_UEQ(v, 16UL << 10);
	ASSERT_EQ(sim_parse_size("100", &v), 0);
	ASSERT_UEQ(v, 100);
	ASSERT_EQ(sim_parse_size("4KB", &v), -EINVAL);
	ASSERT_EQ(sim_parse_size("4T", &v), -EINVAL);
	ASSERT_EQ(sim_parse_size("K", &v), -EINVAL);
	ASSERT_EQ(sim_parse_size("17179869184G", &v), -ERANGE); /* 2^34 G = 2^64 */
	ASSERT_EQ(sim_parse_size("17179869183G", &v), 0);
}

TEST(sim_words)
{
	ASSERT_EQ(sim_parse_prot("none"), PROT_NONE);
	ASSERT_EQ(sim_parse_prot("r"), PROT_READ);
	ASSERT_EQ(sim_parse_prot("rw"), PROT_READ | PROT_WRITE);
	ASSERT_EQ(sim_parse_prot("rx"), PROT_READ | PROT_EXEC);
	ASSERT_EQ(sim_parse_prot("rwx"), PROT_READ | PROT_WRITE | PROT_EXEC);
	ASSERT_EQ(sim_parse_prot("wr"), -EINVAL);
	ASSERT_EQ(sim_parse_prot(""), -EINVAL);
	ASSERT_EQ(sim_parse_map_type("private"), MAP_PRIVATE);
	ASSERT_EQ(sim_parse_map_type("shared"), MAP_SHARED);
	ASSERT_EQ(sim_parse_map_type("Shared"), -EINVAL);
	ASSERT_EQ(sim_parse_advice("dontneed"), MADV_DONTNEED);
	ASSERT_EQ(sim_parse_advice("pageout"), MADV_PAGEOUT);
	ASSERT_EQ(sim_parse_advice("mergeable"), MADV_MERGEABLE);
	ASSERT_EQ(sim_parse_advice("unmergeable"), MADV_UNMERGEABLE);
	ASSERT_EQ(sim_parse_advice("willneed"), -EINVAL);
}

/* Parse @s as DATA and compare with @want (@n bytes). */
static void expect_data(const char *s, const void *want, size_t n)
{
	unsigned char *buf;
	const char *why = NULL;
	size_t len;

	if (sim_parse_data(s, &buf, &len, &why))
		FAIL("'%s' rejected: %s", s, why);
	ASSERT_UEQ(len, n);
	ASSERT_MEM_EQ(buf, want, n);
	free(buf);
}

static const char *data_error(const char *s, int want_err)
{
	unsigned char *buf = (unsigned char *)1;
	const char *why = NULL;
	size_t len = 1;

	ASSERT_EQ(sim_parse_data(s, &buf, &len, &why), want_err);
	ASSERT_NULL(buf);
	ASSERT_UEQ(len, 0);
	ASSERT_NOT_NULL(why);
	return why;
}

TEST(sim_data_forms)
{
	unsigned char fill[4096];

	expect_data("0x0011ff", "\x00\x11\xff", 3);
	expect_data("0XaBcD", "\xab\xcd", 2);
	expect_data("\"hello\"", "hello", 5);
	expect_data("\"a b\"", "a b", 3);
	expect_data("\"q\\\"\\\\\\n\\t\\r\\0\\x41\"", "q\"\\\n\t\r\0A", 8);
	memset(fill, 0x5a, sizeof(fill));
	expect_data("fill:0x5a:4K", fill, 4096);
	expect_data("fill:90:3", fill, 3);
	memset(fill, 0, 8);
	expect_data("fill:0:8", fill, 8);
}

TEST(sim_data_errors)
{
	ASSERT_STR_EQ(data_error("0x123", -EINVAL), "odd number of hex digits");
	ASSERT_STR_EQ(data_error("0x", -EINVAL), "no hex digits after 0x");
	ASSERT_STR_EQ(data_error("0x0g", -EINVAL), "not a hex digit");
	ASSERT_STR_EQ(data_error("\"\"", -EINVAL), "empty data");
	ASSERT_STR_EQ(data_error("\"abc", -EINVAL), "unterminated string");
	ASSERT_STR_EQ(data_error("\"abc\"x", -EINVAL), "text after the closing quote");
	ASSERT_STR_EQ(data_error("\"\\q\"", -EINVAL), "bad escape in string");
	ASSERT_STR_EQ(data_error("\"\\x4\"", -EINVAL), "bad escape in string");
	ASSERT_STR_EQ(data_error("fill:256:4", -EINVAL), "fill byte must be a number 0..255");
	ASSERT_STR_EQ(data_error("fill:1:0", -EINVAL), "empty data");
	ASSERT_STR_EQ(data_error("fill:1", -EINVAL), "fill needs BYTE:LEN");
	ASSERT_STR_EQ(data_error("fill:1:x", -EINVAL), "bad fill length");
	ASSERT_STR_EQ(data_error("fill:1:257M", -E2BIG), "more than 256M of data");
	data_error("1234", -EINVAL);
	data_error("", -EINVAL);
	data_error("fill:", -EINVAL);
	data_error("\"", -EINVAL);
}

/* Split @line and check the command and expectation texts. */
static void expect_split(const char *line, const char *cmd, const char *exp, bool has)
{
	char *c, *e;
	const char *why;
	bool h;

	ASSERT_EQ(sim_split_line(line, &c, &e, &h, &why), 0);
	ASSERT_STR_EQ(c, cmd);
	ASSERT_STR_EQ(e, exp);
	ASSERT_EQ(h, has);
	free(c);
	free(e);
}

TEST(sim_line_normalisation)
{
	expect_split("", "", "", false);
	expect_split("   \t  \n", "", "", false);
	expect_split("# only a comment", "", "", false);
	expect_split("  mmap   p1\t0x1000  4K rw   private  \n", "mmap p1 0x1000 4K rw private", "",
		     false);
	expect_split("refs p1 => users=1   count=2  # why", "refs p1", "users=1 count=2", true);
	expect_split("read p1 0 4=>-EFAULT", "read p1 0 4", "-EFAULT", true);
	expect_split("mm p1 =>", "mm p1", "", true);
	expect_split("mm p1\r\n", "mm p1", "", false);
	/* '#', "=>" and blanks inside a string belong to the string. */
	expect_split("write p \"a  # => b\"  => ok", "write p \"a  # => b\"", "ok", true);
	expect_split("write p \"q\\\"#\" # c", "write p \"q\\\"#\"", "", false);
}

TEST(sim_line_unterminated)
{
	char *c = (char *)1, *e = (char *)1;
	const char *why;
	bool h;

	ASSERT_EQ(sim_split_line("write p \"abc", &c, &e, &h, &why), -EINVAL);
	ASSERT_STR_EQ(why, "unterminated string");
	ASSERT_NULL(c);
	ASSERT_NULL(e);
	ASSERT_EQ(sim_split_line("write p \"a\\\"", &c, &e, &h, &why), -EINVAL);
}

TEST(sim_tokenize_words)
{
	char line[] = "write p1 0x10 \"a b \\\" c\" tail";
	char *argv[8];

	ASSERT_EQ(sim_tokenize(line, argv, 8), 5);
	ASSERT_STR_EQ(argv[0], "write");
	ASSERT_STR_EQ(argv[3], "\"a b \\\" c\"");
	ASSERT_STR_EQ(argv[4], "tail");

	char many[] = "a b c d e";
	ASSERT_EQ(sim_tokenize(many, argv, 4), -E2BIG);
	char none[] = "";
	ASSERT_EQ(sim_tokenize(none, argv, 4), 0);
}

TEST(sim_errno_names)
{
	ASSERT_STR_EQ(errno_name(0), "ok");
	ASSERT_STR_EQ(errno_name(-EINVAL), "-EINVAL");
	ASSERT_STR_EQ(errno_name(EFAULT), "EFAULT");
	ASSERT_STR_EQ(errno_name(-ENOMEM), "-ENOMEM");
	ASSERT_STR_EQ(errno_name(-EHWPOISON), "-EHWPOISON");
	ASSERT_STR_EQ(errno_name(-4000), "-E4000");
	ASSERT_EQ(errno_from_name("-EBUSY"), -EBUSY);
	ASSERT_EQ(errno_from_name("ESRCH"), -ESRCH);
	ASSERT_EQ(errno_from_name("EWOULDBLOCK"), -EAGAIN);
	ASSERT_EQ(errno_from_name("-ENOPE"), 0);
	ASSERT_EQ(errno_from_name(NULL), 0);
}

TEST(sim_scenario_descriptions)
{
	char buf[32];

	sim_scenario_description("# first line\nmm p1\n# second\n", buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "first line");
	sim_scenario_description("# expect-exit: 2\n# the real one\n", buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "the real one");
	sim_scenario_description("mm p1\n", buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "");
	sim_scenario_description("# a description much longer than the buffer\n", buf, 8);
	ASSERT_STR_EQ(buf, "a descr");
}

/* Run one line in a fresh world; return its output text. */
static char *run_line(const char *line, int *rc)
{
	struct sim_world *w = sim_world_new();
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	ASSERT_NOT_NULL(w);
	ASSERT_NOT_NULL(out);
	*rc = sim_exec_line(w, 7, line, out, NULL);
	fclose(out);
	ASSERT_EQ(sim_world_destroy(w, NULL), 0);
	return text;
}

static void expect_line(const char *line, const char *output, int want_rc)
{
	int rc;
	char *text = run_line(line, &rc);

	ASSERT_STR_EQ(text, output);
	ASSERT_EQ(rc, want_rc);
	free(text);
}

/* Malformed lines are caught before any memory is touched. */
TEST(sim_malformed_messages)
{
	expect_line("", "", SIM_EXIT_OK);
	expect_line("  # nothing", "", SIM_EXIT_OK);
	expect_line("frob x", "7: error: unknown command 'frob'\n", SIM_EXIT_MALFORMED);
	expect_line(
		"mmap p1 0x1000 4K",
		"7: error: mmap: expected 5 or 6 arguments, got 3 (usage: mmap NAME ADDR LEN PROT "
		"private|shared [file=F:OFFSET])\n",
		SIM_EXIT_MALFORMED);
	expect_line("mem a b",
		    "7: error: mem: expected 0 or 1 arguments, got 2 (usage: mem [NAME])\n",
		    SIM_EXIT_MALFORMED);
	expect_line("read p9 0 4", "7: error: unknown process 'p9'\n", SIM_EXIT_MALFORMED);
	expect_line("wake k", "7: error: unknown kernel thread 'k'\n", SIM_EXIT_MALFORMED);
	expect_line("=> ok", "7: error: '=>' without a command\n", SIM_EXIT_MALFORMED);
	expect_line("write p \"x", "7: error: unterminated string\n", SIM_EXIT_MALFORMED);
	expect_line("a b c d e f g h i j k l m n o p q", "7: error: too many words (at most 16)\n",
		    SIM_EXIT_MALFORMED);
	expect_line("swap 0xzz", "7: error: bad number '0xzz'\n", SIM_EXIT_MALFORMED);
	expect_line("swap 8M disk=x",
		    "7: error: swap: expected file=PATH or memory, got 'disk=x'\n",
		    SIM_EXIT_MALFORMED);
	expect_line("kthread bad/name",
		    "7: error: bad name 'bad/name' (letters, digits, _ - . ; at most 63)\n",
		    SIM_EXIT_MALFORMED);
}

/* Results and expectations that need no physical memory. */
TEST(sim_results_and_expectations)
{
	expect_line("swap 8M memory => ok", "7: swap 8M memory -> ok\n", SIM_EXIT_OK);
	expect_line("swap   8M   memory # c", "7: swap 8M memory -> ok\n", SIM_EXIT_OK);
	expect_line("swap 8M memory => -ENOSYS",
		    "7: swap 8M memory -> ok FAIL (expected -ENOSYS)\n", SIM_EXIT_FAIL);
	expect_line("kthread k1 => ok", "7: kthread k1 -> ok\n", SIM_EXIT_OK);
}
