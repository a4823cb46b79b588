/*-------------------------------------------------------------------------
 *
 * src/client/format.c
 *		Output of mqctl: kcat-style format strings for records, the ways to
 *		print binary keys and values (raw, escaped, hex, base64), record
 *		headers decoded from the JSON the server returns, aligned tables for
 *		the administrative commands, and the growable buffers everything
 *		is assembled in.
 *
 * Format placeholders (as kcat's -f):
 *		%t topic  %p partition  %o offset  %T timestamp (ms since the epoch)
 *		%k key  %K key length (-1: null)  %s value  %S value length (-1: null)
 *		%h headers as name=value,name=value (a null value: just the name)
 *		%%  and the escapes \n \r \t \\ \0 \xHH
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mqctl.h"

/* ---------------------------------------------------------------------
 * Memory and buffers
 * --------------------------------------------------------------------- */

void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		fatal("out of memory");
	return p;
}

char *
xstrdup(const char *s)
{
	char	   *p = strdup(s);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

void
buf_init(Buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
buf_free(Buf *b)
{
	free(b->data);
	buf_init(b);
}

void
buf_reset(Buf *b)
{
	b->len = 0;
}

void
buf_reserve(Buf *b, size_t extra)
{
	size_t		need = b->len + extra + 1;	/* room for a terminating NUL */

	if (need <= b->cap)
		return;
	if (need < b->len)
		fatal("out of memory");
	b->cap = b->cap ? b->cap : 256;
	while (b->cap < need)
		b->cap *= 2;
	b->data = xrealloc(b->data, b->cap);
}

void
buf_append(Buf *b, const void *data, size_t len)
{
	buf_reserve(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void
buf_putc(Buf *b, char c)
{
	buf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

void
buf_printf(Buf *b, const char *fmt,...)
{
	va_list		ap;
	int			n;

	for (;;)
	{
		size_t		room;

		buf_reserve(b, 64);
		room = b->cap - b->len;
		va_start(ap, fmt);
		n = vsnprintf(b->data + b->len, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			fatal("could not format output");
		if ((size_t) n < room)
		{
			b->len += n;
			return;
		}
		buf_reserve(b, (size_t) n + 1);
	}
}

void
buf_put_be32(Buf *b, uint32_t v)
{
	unsigned char x[4];

	x[0] = v >> 24;
	x[1] = v >> 16;
	x[2] = v >> 8;
	x[3] = v;
	buf_append(b, x, 4);
}

/* A JSON string literal of len bytes of s (which must be valid UTF-8). */
void
buf_put_json_string(Buf *b, const char *s, size_t len)
{
	buf_putc(b, '"');
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
		{
			buf_putc(b, '\\');
			buf_putc(b, (char) c);
		}
		else if (c < 0x20)
			buf_printf(b, "\\u%04x", c);
		else
			buf_putc(b, (char) c);
	}
	buf_putc(b, '"');
}

int32_t
get_be32(const char *p)
{
	const unsigned char *u = (const unsigned char *) p;

	return (int32_t) (((uint32_t) u[0] << 24) | ((uint32_t) u[1] << 16) |
					  ((uint32_t) u[2] << 8) | u[3]);
}

int64_t
get_be64(const char *p)
{
	return (int64_t) (((uint64_t) (uint32_t) get_be32(p) << 32) |
					  (uint32_t) get_be32(p + 4));
}

bool
write_all(FILE *fp, const void *data, size_t len)
{
	return len == 0 || fwrite(data, 1, len, fp) == len;
}

/* ---------------------------------------------------------------------
 * Escapes in option arguments: -K '\t', -D '\0', -f '%s\n'
 * --------------------------------------------------------------------- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode backslash escapes of in into out (which has room for strlen(in)
 * bytes); returns the length written, which may include NUL bytes.
 */
size_t
unescape(const char *in, char *out)
{
	size_t		n = 0;

	while (*in)
	{
		if (*in != '\\' || in[1] == '\0')
		{
			out[n++] = *in++;
			continue;
		}
		in++;
		switch (*in)
		{
			case 'n':
				out[n++] = '\n';
				in++;
				break;
			case 'r':
				out[n++] = '\r';
				in++;
				break;
			case 't':
				out[n++] = '\t';
				in++;
				break;
			case '0':
				out[n++] = '\0';
				in++;
				break;
			case '\\':
				out[n++] = '\\';
				in++;
				break;
			case 'x':
				if (hexval(in[1]) >= 0 && hexval(in[2]) >= 0)
				{
					out[n++] = (char) (hexval(in[1]) * 16 + hexval(in[2]));
					in += 3;
					break;
				}
				/* FALLTHROUGH */
			default:
				/* not an escape: keep the backslash */
				out[n++] = '\\';
				break;
		}
	}
	return n;
}

/* ---------------------------------------------------------------------
 * Bytes
 * --------------------------------------------------------------------- */

bool
parse_bytes_mode(const char *s, BytesMode *mode)
{
	if (strcmp(s, "raw") == 0)
		*mode = BYTES_RAW;
	else if (strcmp(s, "escape") == 0)
		*mode = BYTES_ESCAPE;
	else if (strcmp(s, "hex") == 0)
		*mode = BYTES_HEX;
	else if (strcmp(s, "base64") == 0)
		*mode = BYTES_BASE64;
	else
		return false;
	return true;
}

static const char b64chars[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void
put_bytes(Buf *out, const char *p, size_t len, BytesMode mode)
{
	static const char hex[] = "0123456789abcdef";

	switch (mode)
	{
		case BYTES_RAW:
			buf_append(out, p, len);
			break;
		case BYTES_HEX:
			buf_reserve(out, len * 2);
			for (size_t i = 0; i < len; i++)
			{
				unsigned char c = (unsigned char) p[i];

				out->data[out->len++] = hex[c >> 4];
				out->data[out->len++] = hex[c & 15];
			}
			out->data[out->len] = '\0';
			break;
		case BYTES_ESCAPE:
			buf_reserve(out, len);
			for (size_t i = 0; i < len; i++)
			{
				unsigned char c = (unsigned char) p[i];

				if (c == '\\')
					buf_append(out, "\\\\", 2);
				else if (c == '\n')
					buf_append(out, "\\n", 2);
				else if (c == '\t')
					buf_append(out, "\\t", 2);
				else if (c == '\r')
					buf_append(out, "\\r", 2);
				else if (c < 0x20 || c >= 0x7f)
				{
					char		e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};

					buf_append(out, e, 4);
				}
				else
					buf_putc(out, (char) c);
			}
			break;
		case BYTES_BASE64:
			buf_reserve(out, (len + 2) / 3 * 4);
			for (size_t i = 0; i < len; i += 3)
			{
				uint32_t	v = (uint32_t) (unsigned char) p[i] << 16;
				size_t		n = len - i;

				if (n > 1)
					v |= (uint32_t) (unsigned char) p[i + 1] << 8;
				if (n > 2)
					v |= (unsigned char) p[i + 2];
				out->data[out->len++] = b64chars[(v >> 18) & 63];
				out->data[out->len++] = b64chars[(v >> 12) & 63];
				out->data[out->len++] = n > 1 ? b64chars[(v >> 6) & 63] : '=';
				out->data[out->len++] = n > 2 ? b64chars[v & 63] : '=';
			}
			out->data[out->len] = '\0';
			break;
	}
}

/* Decode base64 (as the server's header values) into out; false if bad. */
static bool
base64_decode(const char *p, size_t len, Buf *out)
{
	uint32_t	acc = 0;
	int			bits = 0;

	for (size_t i = 0; i < len; i++)
	{
		const char *pos;

		if (p[i] == '=')
			break;
		if (p[i] == '\n' || p[i] == '\r')
			continue;
		pos = strchr(b64chars, p[i]);
		if (pos == NULL || p[i] == '\0')
			return false;
		acc = (acc << 6) | (uint32_t) (pos - b64chars);
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			buf_putc(out, (char) ((acc >> bits) & 0xff));
		}
	}
	return true;
}

/* ---------------------------------------------------------------------
 * Headers: the server's JSON [["name", "value"], ["name", null],
 * ["name", {"base64": "..."}]] printed as name=value,name,name=value
 * --------------------------------------------------------------------- */

typedef struct JsonCursor
{
	const char *p;
	const char *end;
} JsonCursor;

static void
json_ws(JsonCursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' ||
							 *c->p == '\t' || *c->p == '\r'))
		c->p++;
}

static bool
json_expect(JsonCursor *c, char ch)
{
	json_ws(c);
	if (c->p < c->end && *c->p == ch)
	{
		c->p++;
		return true;
	}
	return false;
}

static void
put_utf8(Buf *out, uint32_t cp)
{
	if (cp < 0x80)
		buf_putc(out, (char) cp);
	else if (cp < 0x800)
	{
		buf_putc(out, (char) (0xc0 | (cp >> 6)));
		buf_putc(out, (char) (0x80 | (cp & 0x3f)));
	}
	else if (cp < 0x10000)
	{
		buf_putc(out, (char) (0xe0 | (cp >> 12)));
		buf_putc(out, (char) (0x80 | ((cp >> 6) & 0x3f)));
		buf_putc(out, (char) (0x80 | (cp & 0x3f)));
	}
	else
	{
		buf_putc(out, (char) (0xf0 | (cp >> 18)));
		buf_putc(out, (char) (0x80 | ((cp >> 12) & 0x3f)));
		buf_putc(out, (char) (0x80 | ((cp >> 6) & 0x3f)));
		buf_putc(out, (char) (0x80 | (cp & 0x3f)));
	}
}

static bool
json_hex4(JsonCursor *c, uint32_t *v)
{
	*v = 0;
	if (c->end - c->p < 4)
		return false;
	for (int i = 0; i < 4; i++)
	{
		int			h = hexval(c->p[i]);

		if (h < 0)
			return false;
		*v = *v * 16 + (uint32_t) h;
	}
	c->p += 4;
	return true;
}

/* A JSON string, decoded into out. */
static bool
json_string(JsonCursor *c, Buf *out)
{
	if (!json_expect(c, '"'))
		return false;
	while (c->p < c->end && *c->p != '"')
	{
		uint32_t	cp;

		if (*c->p != '\\')
		{
			buf_putc(out, *c->p++);
			continue;
		}
		c->p++;
		if (c->p >= c->end)
			return false;
		switch (*c->p++)
		{
			case '"':
				buf_putc(out, '"');
				break;
			case '\\':
				buf_putc(out, '\\');
				break;
			case '/':
				buf_putc(out, '/');
				break;
			case 'b':
				buf_putc(out, '\b');
				break;
			case 'f':
				buf_putc(out, '\f');
				break;
			case 'n':
				buf_putc(out, '\n');
				break;
			case 'r':
				buf_putc(out, '\r');
				break;
			case 't':
				buf_putc(out, '\t');
				break;
			case 'u':
				if (!json_hex4(c, &cp))
					return false;
				if (cp >= 0xd800 && cp < 0xdc00 && c->end - c->p >= 6 &&
					c->p[0] == '\\' && c->p[1] == 'u')
				{
					uint32_t	lo;

					c->p += 2;
					if (!json_hex4(c, &lo))
						return false;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				put_utf8(out, cp);
				break;
			default:
				return false;
		}
	}
	return json_expect(c, '"');
}

/*
 * Append the headers of one record; on JSON we do not understand, append
 * it as it is rather than lose it.
 */
static void
put_headers(Buf *out, const char *json, int len, BytesMode mode)
{
	JsonCursor	c = {json, json + len};
	size_t		start = out->len;
	Buf			tmp;
	bool		first = true;

	buf_init(&tmp);
	if (!json_expect(&c, '['))
		goto bad;
	json_ws(&c);
	if (json_expect(&c, ']'))
		goto done;
	for (;;)
	{
		if (!json_expect(&c, '['))
			goto bad;
		buf_reset(&tmp);
		if (!json_string(&c, &tmp) || !json_expect(&c, ','))
			goto bad;
		if (!first)
			buf_putc(out, ',');
		first = false;
		put_bytes(out, tmp.data ? tmp.data : "", tmp.len, mode);
		json_ws(&c);
		buf_reset(&tmp);
		if (c.end - c.p >= 4 && memcmp(c.p, "null", 4) == 0)
			c.p += 4;
		else if (c.p < c.end && *c.p == '"')
		{
			if (!json_string(&c, &tmp))
				goto bad;
			buf_putc(out, '=');
			put_bytes(out, tmp.data ? tmp.data : "", tmp.len, mode);
		}
		else if (json_expect(&c, '{'))
		{
			Buf			b64;

			/* {"base64": "..."}: a value that is not UTF-8 text */
			if (!json_string(&c, &tmp) || strcmp(tmp.data, "base64") != 0 ||
				!json_expect(&c, ':'))
				goto bad;
			buf_reset(&tmp);
			buf_init(&b64);
			if (!json_string(&c, &tmp) || !json_expect(&c, '}') ||
				!base64_decode(tmp.data ? tmp.data : "", tmp.len, &b64))
			{
				buf_free(&b64);
				goto bad;
			}
			buf_putc(out, '=');
			put_bytes(out, b64.data ? b64.data : "", b64.len, mode);
			buf_free(&b64);
		}
		else
			goto bad;
		if (!json_expect(&c, ']'))
			goto bad;
		if (json_expect(&c, ']'))
			break;
		if (!json_expect(&c, ','))
			goto bad;
	}
done:
	buf_free(&tmp);
	return;
bad:
	out->len = start;
	buf_append(out, json, len);
	buf_free(&tmp);
}

/* ---------------------------------------------------------------------
 * Record formats
 * --------------------------------------------------------------------- */

typedef enum
{
	FMT_LITERAL,
	FMT_TOPIC,
	FMT_PARTITION,
	FMT_OFFSET,
	FMT_TIMESTAMP,
	FMT_KEY,
	FMT_KEY_LEN,
	FMT_VALUE,
	FMT_VALUE_LEN,
	FMT_HEADERS
} FmtKind;

typedef struct FmtItem
{
	FmtKind		kind;
	size_t		off;			/* FMT_LITERAL: bytes in the literal pool */
	size_t		len;
} FmtItem;

struct MqFormat
{
	FmtItem    *items;
	int			nitems;
	char	   *pool;			/* unescaped literals */
	BytesMode	mode;
	bool		null_as_word;	/* -Z: null keys and values print NULL */
};

MqFormat *
format_compile(const char *spec, BytesMode mode, bool null_as_word,
			   const char **errmsg)
{
	MqFormat   *f = xmalloc(sizeof(MqFormat));
	char	   *lit = xmalloc(strlen(spec) + 1);
	size_t		litlen = unescape(spec, lit);
	size_t		pos = 0;
	size_t		poollen = 0;

	f->items = xmalloc(sizeof(FmtItem) * (litlen + 1));
	f->nitems = 0;
	f->pool = xmalloc(litlen + 1);
	f->mode = mode;
	f->null_as_word = null_as_word;

	/*
	 * Escapes are decoded first, so "\x25" is a '%' that starts a
	 * placeholder; kcat does the same.
	 */
	while (pos < litlen)
	{
		FmtItem    *it = &f->items[f->nitems];

		if (lit[pos] != '%')
		{
			size_t		start = poollen;

			while (pos < litlen && lit[pos] != '%')
				f->pool[poollen++] = lit[pos++];
			it->kind = FMT_LITERAL;
			it->off = start;
			it->len = poollen - start;
			f->nitems++;
			continue;
		}
		if (pos + 1 >= litlen)
		{
			*errmsg = "format ends with a lone %";
			free(lit);
			return NULL;
		}
		switch (lit[pos + 1])
		{
			case '%':
				it->kind = FMT_LITERAL;
				it->off = poollen;
				it->len = 1;
				f->pool[poollen++] = '%';
				break;
			case 't':
				it->kind = FMT_TOPIC;
				break;
			case 'p':
				it->kind = FMT_PARTITION;
				break;
			case 'o':
				it->kind = FMT_OFFSET;
				break;
			case 'T':
				it->kind = FMT_TIMESTAMP;
				break;
			case 'k':
				it->kind = FMT_KEY;
				break;
			case 'K':
				it->kind = FMT_KEY_LEN;
				break;
			case 's':
				it->kind = FMT_VALUE;
				break;
			case 'S':
				it->kind = FMT_VALUE_LEN;
				break;
			case 'h':
				it->kind = FMT_HEADERS;
				break;
			default:
				*errmsg = "unknown placeholder in format (known: %t %p %o %T %k %K %s %S %h %%)";
				free(lit);
				return NULL;
		}
		f->nitems++;
		pos += 2;
	}
	free(lit);
	return f;
}

void
format_record(const MqFormat *f, const MqRecordOut *r, Buf *out)
{
	for (int i = 0; i < f->nitems; i++)
	{
		const FmtItem *it = &f->items[i];

		switch (it->kind)
		{
			case FMT_LITERAL:
				buf_append(out, f->pool + it->off, it->len);
				break;
			case FMT_TOPIC:
				buf_append(out, r->topic, strlen(r->topic));
				break;
			case FMT_PARTITION:
				buf_printf(out, "%d", r->partition);
				break;
			case FMT_OFFSET:
				buf_printf(out, "%lld", (long long) r->offset);
				break;
			case FMT_TIMESTAMP:
				buf_printf(out, "%lld", (long long) r->ts_ms);
				break;
			case FMT_KEY:
				if (r->key)
					put_bytes(out, r->key, r->key_len, f->mode);
				else if (f->null_as_word)
					buf_append(out, "NULL", 4);
				break;
			case FMT_KEY_LEN:
				buf_printf(out, "%d", r->key ? r->key_len : -1);
				break;
			case FMT_VALUE:
				if (r->value)
					put_bytes(out, r->value, r->value_len, f->mode);
				else if (f->null_as_word)
					buf_append(out, "NULL", 4);
				break;
			case FMT_VALUE_LEN:
				buf_printf(out, "%d", r->value ? r->value_len : -1);
				break;
			case FMT_HEADERS:
				if (r->headers)
					put_headers(out, r->headers, r->headers_len, f->mode);
				break;
		}
	}
}

/* ---------------------------------------------------------------------
 * Tables
 * --------------------------------------------------------------------- */

/* display width: code points, so UTF-8 names line up */
static size_t
display_width(const char *s)
{
	size_t		w = 0;

	for (; *s; s++)
		if (((unsigned char) *s & 0xc0) != 0x80)
			w++;
	return w;
}

void
print_table(const PGresult *res, bool tsv)
{
	int			nf = PQnfields(res);
	int			nt = PQntuples(res);
	size_t	   *width;

	if (tsv)
	{
		for (int r = 0; r < nt; r++)
		{
			for (int c = 0; c < nf; c++)
			{
				if (c)
					putchar('\t');
				fputs(PQgetvalue(res, r, c), stdout);
			}
			putchar('\n');
		}
		return;
	}

	width = xmalloc(sizeof(size_t) * (nf ? nf : 1));
	for (int c = 0; c < nf; c++)
	{
		width[c] = display_width(PQfname(res, c));
		for (int r = 0; r < nt; r++)
		{
			size_t		w = display_width(PQgetvalue(res, r, c));

			if (w > width[c])
				width[c] = w;
		}
	}
	for (int r = -1; r < nt; r++)
	{
		for (int c = 0; c < nf; c++)
		{
			const char *v = r < 0 ? PQfname(res, c) : PQgetvalue(res, r, c);
			bool		last = (c == nf - 1);
			bool		numeric;
			size_t		pad = width[c] - display_width(v);
			Oid			t = PQftype(res, c);

			numeric = (r >= 0 && (t == INT4OID || t == INT8OID || t == 1700 || t == 21));
			if (c)
				fputs("  ", stdout);
			if (numeric)
				printf("%*s", (int) pad, "");
			fputs(v, stdout);
			if (!numeric && !last)
				printf("%*s", (int) pad, "");
		}
		putchar('\n');
		if (r < 0)
		{
			for (int c = 0; c < nf; c++)
			{
				if (c)
					fputs("  ", stdout);
				for (size_t i = 0; i < width[c]; i++)
					putchar('-');
			}
			putchar('\n');
		}
	}
	free(width);
}
