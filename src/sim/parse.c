// SPDX-License-Identifier: MIT
/*
 * Parser pieces of the scenario language: numbers, sizes, PROT and advice
 * words, DATA, and the splitting of a line into command, expectation and
 * words. Pure functions of their text: no world, no memory system.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "secmmu/mm.h"
#include "sim/sim.h"

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse the digits at *sp, leaving *sp at the first character after them. */
static int parse_digits(const char **sp, uint64_t *v)
{
	const char *p = *sp;
	uint64_t x = 0;
	bool hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
	int err = 0;

	if (hex) {
		p += 2;
		if (hex_digit(*p) < 0)
			return -EINVAL;
		for (; hex_digit(*p) >= 0; p++) {
			if (x >> 60)
				err = -ERANGE;
			x = x * 16 + (uint64_t)hex_digit(*p);
		}
	} else {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			uint64_t d = (uint64_t)(*p - '0');

			if (x > (UINT64_MAX - d) / 10)
				err = -ERANGE;
			x = x * 10 + d;
		}
	}
	*sp = p;
	*v = x;
	return err;
}

int sim_parse_num(const char *s, uint64_t *v)
{
	uint64_t x;
	int err;

	if (!s)
		return -EINVAL;
	err = parse_digits(&s, &x);
	if (err == -EINVAL || *s)
		return -EINVAL;
	if (err)
		return err;
	*v = x;
	return 0;
}

int sim_parse_size(const char *s, uint64_t *v)
{
	unsigned int shift = 0;
	uint64_t x;
	int err;

	if (!s)
		return -EINVAL;
	err = parse_digits(&s, &x);
	if (err == -EINVAL)
		return err;
	switch (*s) {
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	}
	if (shift)
		s++;
	if (*s)
		return -EINVAL;
	if (err)
		return err;
	if (shift && (x >> (64 - shift)))
		return -ERANGE;
	*v = x << shift;
	return 0;
}

struct word_value {
	const char *word;
	int value;
};

static int lookup_word(const struct word_value *tab, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (s && !strcmp(tab[i].word, s))
			return tab[i].value;
	return -EINVAL;
}

#define LOOKUP(tab, s) lookup_word(tab, sizeof(tab) / sizeof(tab[0]), s)

int sim_parse_prot(const char *s)
{
	static const struct word_value prots[] = {
		{"none", PROT_NONE},
		{"r", PROT_READ},
		{"rw", PROT_READ | PROT_WRITE},
		{"rx", PROT_READ | PROT_EXEC},
		{"rwx", PROT_READ | PROT_WRITE | PROT_EXEC},
	};

	return LOOKUP(prots, s);
}

int sim_parse_map_type(const char *s)
{
	static const struct word_value types[] = {
		{"private", MAP_PRIVATE},
		{"shared", MAP_SHARED},
	};

	return LOOKUP(types, s);
}

int sim_parse_advice(const char *s)
{
	static const struct word_value advice[] = {
		{"dontneed", MADV_DONTNEED},
		{"pageout", MADV_PAGEOUT},
		{"mergeable", MADV_MERGEABLE},
		{"unmergeable", MADV_UNMERGEABLE},
		{"dontfork", MADV_DONTFORK},
		{"dofork", MADV_DOFORK},
		{"wipeonfork", MADV_WIPEONFORK},
		{"keeponfork", MADV_KEEPONFORK},
		{"free", MADV_FREE},
		{"remove", MADV_REMOVE},
		{"populate_read", MADV_POPULATE_READ},
		{"populate_write", MADV_POPULATE_WRITE},
		{"cold", MADV_COLD},
		{"hugepage", MADV_HUGEPAGE},
		{"nohugepage", MADV_NOHUGEPAGE},
		{"collapse", MADV_COLLAPSE},
	};

	return LOOKUP(advice, s);
}

/* --- DATA ---------------------------------------------------------------- */

static int data_fail(const char **why, const char *msg, int err)
{
	*why = msg;
	return err;
}

static int parse_hex_data(const char *s, unsigned char **buf, size_t *len, const char **why)
{
	size_t n = strlen(s);
	unsigned char *b;

	if (n == 0)
		return data_fail(why, "no hex digits after 0x", -EINVAL);
	if (n % 2)
		return data_fail(why, "odd number of hex digits", -EINVAL);
	if (n / 2 > SIM_MAX_XFER)
		return data_fail(why, "more than 256M of data", -E2BIG);
	for (size_t i = 0; i < n; i++)
		if (hex_digit(s[i]) < 0)
			return data_fail(why, "not a hex digit", -EINVAL);
	b = malloc(n / 2);
	if (!b)
		return data_fail(why, "out of memory", -ENOMEM);
	for (size_t i = 0; i < n / 2; i++)
		b[i] = (unsigned char)(hex_digit(s[2 * i]) * 16 + hex_digit(s[2 * i + 1]));
	*buf = b;
	*len = n / 2;
	return 0;
}

/* One escape after a backslash at *sp; advances *sp past it. */
static int parse_escape(const char **sp, unsigned char *out)
{
	const char *p = *sp;

	switch (*p) {
	case 'n':
		*out = '\n';
		break;
	case 't':
		*out = '\t';
		break;
	case 'r':
		*out = '\r';
		break;
	case '0':
		*out = 0;
		break;
	case '"':
	case '\\':
		*out = (unsigned char)*p;
		break;
	case 'x':
		if (hex_digit(p[1]) < 0 || hex_digit(p[2]) < 0)
			return -EINVAL;
		*out = (unsigned char)(hex_digit(p[1]) * 16 + hex_digit(p[2]));
		p += 2;
		break;
	default:
		return -EINVAL;
	}
	*sp = p + 1;
	return 0;
}

static int parse_text_data(const char *s, unsigned char **buf, size_t *len, const char **why)
{
	size_t n = strlen(s), o = 0;
	const char *p = s + 1;
	unsigned char *b;

	b = malloc(n + 1);
	if (!b)
		return data_fail(why, "out of memory", -ENOMEM);
	while (*p && *p != '"') {
		if (*p != '\\') {
			b[o++] = (unsigned char)*p++;
			continue;
		}
		p++;
		if (parse_escape(&p, &b[o++])) {
			free(b);
			return data_fail(why, "bad escape in string", -EINVAL);
		}
	}
	if (*p != '"' || p[1]) {
		free(b);
		return data_fail(why, *p ? "text after the closing quote" : "unterminated string",
				 -EINVAL);
	}
	if (o == 0) {
		free(b);
		return data_fail(why, "empty data", -EINVAL);
	}
	*buf = b;
	*len = o;
	return 0;
}

static int parse_fill_data(const char *s, unsigned char **buf, size_t *len, const char **why)
{
	const char *colon = strchr(s, ':');
	char byte_text[32];
	uint64_t byte, n;
	size_t bl;

	if (!colon)
		return data_fail(why, "fill needs BYTE:LEN", -EINVAL);
	bl = (size_t)(colon - s);
	if (bl == 0 || bl >= sizeof(byte_text))
		return data_fail(why, "bad fill byte", -EINVAL);
	memcpy(byte_text, s, bl);
	byte_text[bl] = 0;
	if (sim_parse_num(byte_text, &byte) || byte > 255)
		return data_fail(why, "fill byte must be a number 0..255", -EINVAL);
	if (sim_parse_size(colon + 1, &n))
		return data_fail(why, "bad fill length", -EINVAL);
	if (n == 0)
		return data_fail(why, "empty data", -EINVAL);
	if (n > SIM_MAX_XFER)
		return data_fail(why, "more than 256M of data", -E2BIG);
	*buf = malloc(n);
	if (!*buf)
		return data_fail(why, "out of memory", -ENOMEM);
	memset(*buf, (int)byte, n);
	*len = n;
	return 0;
}

int sim_parse_data(const char *s, unsigned char **buf, size_t *len, const char **why)
{
	*buf = NULL;
	*len = 0;
	if (!s)
		return data_fail(why, "no data", -EINVAL);
	if (s[0] == '"')
		return parse_text_data(s, buf, len, why);
	if (!strncmp(s, "fill:", 5))
		return parse_fill_data(s + 5, buf, len, why);
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return parse_hex_data(s + 2, buf, len, why);
	return data_fail(why, "expected 0xHEX, \"text\" or fill:BYTE:LEN", -EINVAL);
}

/* --- lines ----------------------------------------------------------------- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

static bool is_line_end(char c)
{
	return c == 0 || c == '\n' || c == '\r';
}

/*
 * Copy [p, end) into a new string: trimmed, runs of blanks outside "..."
 * collapsed to one space, everything inside "..." kept verbatim.
 */
static char *normalize(const char *p, const char *end)
{
	char *out = malloc((size_t)(end - p) + 1);
	bool inq = false, pending_space = false;
	size_t o = 0;

	if (!out)
		return NULL;
	for (; p < end; p++) {
		if (!inq && is_blank(*p)) {
			pending_space = true;
			continue;
		}
		if (pending_space && o)
			out[o++] = ' ';
		pending_space = false;
		if (inq && *p == '\\' && p + 1 < end) {
			out[o++] = *p++;
		} else if (*p == '"') {
			inq = !inq;
		}
		out[o++] = *p;
	}
	out[o] = 0;
	return out;
}

/*
 * Where the part starting at @p ends: at the end of the line, or at '#' or
 * "=>" (if @stop_at_arrow) outside a quoted string. *unterminated is set if
 * a string is still open at the end.
 */
static const char *part_end(const char *p, bool stop_at_arrow, bool *unterminated)
{
	bool inq = false;

	for (; !is_line_end(*p); p++) {
		if (inq && *p == '\\' && !is_line_end(p[1])) {
			p++;
			continue;
		}
		if (*p == '"')
			inq = !inq;
		else if (!inq && (*p == '#' || (stop_at_arrow && p[0] == '=' && p[1] == '>')))
			break;
	}
	*unterminated = inq;
	return p;
}

int sim_split_line(const char *line, char **cmd, char **expected, bool *has_expect,
		   const char **why)
{
	const char *cend, *estart = NULL, *eend = NULL;
	bool open_string, open_exp = false;

	*cmd = *expected = NULL;
	*has_expect = false;
	*why = NULL;
	cend = part_end(line, true, &open_string);
	if (cend[0] == '=' && cend[1] == '>') {
		estart = cend + 2;
		eend = part_end(estart, false, &open_exp);
	}
	if (open_string || open_exp) {
		*why = "unterminated string";
		return -EINVAL;
	}
	*cmd = normalize(line, cend);
	*expected = estart ? normalize(estart, eend) : calloc(1, 1);
	if (!*cmd || !*expected) {
		free(*cmd);
		free(*expected);
		*cmd = *expected = NULL;
		*why = "out of memory";
		return -ENOMEM;
	}
	*has_expect = estart != NULL;
	return 0;
}

int sim_tokenize(char *cmd, char **argv, int max)
{
	char *p = cmd;
	int n = 0;

	while (*p) {
		bool inq = false;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (n == max)
			return -E2BIG;
		argv[n++] = p;
		for (; *p && (inq || *p != ' '); p++) {
			if (inq && *p == '\\' && p[1])
				p++;
			else if (*p == '"')
				inq = !inq;
		}
		if (*p)
			*p++ = 0;
	}
	return n;
}

char *sim_hex(const unsigned char *buf, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *hex = malloc(2 * len + 1);

	if (!hex)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		hex[2 * i] = digits[buf[i] >> 4];
		hex[2 * i + 1] = digits[buf[i] & 15];
	}
	hex[2 * len] = 0;
	return hex;
}

int sim_xfer_read(struct sim_ctx *ctx, const char *cmd, const char *addr_s, const char *len_s,
		  int err, sim_read_fn read, void *dev)
{
	uint64_t addr, len;
	unsigned char *buf;
	char *hex;

	if (sim_arg_range(ctx, addr_s, len_s, &addr, &len))
		return -1;
	if (len > SIM_MAX_XFER)
		return sim_malformed(ctx, "%s: length %s is more than 256M", cmd, len_s);
	if (err)
		return sim_result_errno(ctx, err);
	buf = malloc(len ? len : 1);
	if (!buf)
		return sim_malformed(ctx, "out of memory");
	err = read(dev, (unsigned long)addr, buf, len);
	if (err) {
		free(buf);
		return sim_result_errno(ctx, err);
	}
	hex = sim_hex(buf, len);
	free(buf);
	return hex ? sim_result_take(ctx, hex) : sim_malformed(ctx, "out of memory");
}

int sim_xfer_write(struct sim_ctx *ctx, const char *addr_s, const char *data_s, int err,
		   sim_write_fn write, void *dev)
{
	unsigned char *data;
	const char *why;
	uint64_t addr;
	size_t len;

	if (sim_arg_num(ctx, addr_s, &addr))
		return -1;
	if (sim_parse_data(data_s, &data, &len, &why))
		return sim_malformed(ctx, "bad DATA '%.40s': %s", data_s, why);
	if (len - 1 > UINT64_MAX - addr) {
		free(data);
		return sim_malformed(ctx, "range %s + %zu wraps past 2^64", addr_s, len);
	}
	if (!err)
		err = write(dev, (unsigned long)addr, data, len);
	free(data);
	return sim_result_errno(ctx, err);
}
