/*-------------------------------------------------------------------------
 *
 * src/codec/varint.c
 *	  Kafka zig-zag varint/varlong and unsigned varint encoding.
 *
 * Zig-zag arithmetic is done on unsigned types: shifting a negative signed
 * value left is undefined in C, and the sanitizers in the unit tests would
 * (rightly) flag it.
 *
 *-------------------------------------------------------------------------
 */
#include "varint.h"

/*
 * Read up to maxbytes 7-bit groups into a uint64_t.  Shared by all three
 * decoders; bits shifted beyond 64 cannot occur since maxbytes <= 10 and
 * the 10th group lands at bit 63 (its upper 6 bits are dropped, as Java's
 * long shift drops them).
 */
static inline int
get_raw(const uint8_t *p, const uint8_t *end, int maxbytes, uint64_t *out)
{
	uint64_t	value = 0;
	int			i;

	for (i = 0; i < maxbytes; i++)
	{
		uint8_t		b;

		if (p + i >= end)
			return MQ_VARINT_TRUNCATED;
		b = p[i];
		value |= (uint64_t) (b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0)
		{
			*out = value;
			return i + 1;
		}
	}
	return MQ_VARINT_TOO_LONG;
}

int
MqUvarintGet(const uint8_t *p, const uint8_t *end, uint32_t *out)
{
	uint64_t	raw;
	int			n = get_raw(p, end, MQ_VARINT_MAX_BYTES, &raw);

	/* Kafka's int arithmetic drops the bits above 32 in the fifth byte. */
	if (n > 0)
		*out = (uint32_t) raw;
	return n;
}

int
MqVarintGet(const uint8_t *p, const uint8_t *end, int32_t *out)
{
	uint32_t	zz;
	int			n = MqUvarintGet(p, end, &zz);

	if (n > 0)
		*out = (int32_t) ((zz >> 1) ^ (0u - (zz & 1)));
	return n;
}

int
MqVarlongGet(const uint8_t *p, const uint8_t *end, int64_t *out)
{
	uint64_t	zz;
	int			n = get_raw(p, end, MQ_VARLONG_MAX_BYTES, &zz);

	if (n > 0)
		*out = (int64_t) ((zz >> 1) ^ (UINT64_C(0) - (zz & 1)));
	return n;
}

static inline int
put_raw(uint8_t *dst, uint64_t v)
{
	int			n = 0;

	while (v >= 0x80)
	{
		dst[n++] = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	dst[n++] = (uint8_t) v;
	return n;
}

static inline int
size_raw(uint64_t v)
{
	int			n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

static inline uint32_t
zigzag32(int32_t v)
{
	return ((uint32_t) v << 1) ^ (uint32_t) (0 - ((uint32_t) v >> 31));
}

static inline uint64_t
zigzag64(int64_t v)
{
	return ((uint64_t) v << 1) ^ (UINT64_C(0) - ((uint64_t) v >> 63));
}

int
MqUvarintPut(uint8_t *dst, uint32_t value)
{
	return put_raw(dst, value);
}

int
MqVarintPut(uint8_t *dst, int32_t value)
{
	return put_raw(dst, zigzag32(value));
}

int
MqVarlongPut(uint8_t *dst, int64_t value)
{
	return put_raw(dst, zigzag64(value));
}

int
MqUvarintSize(uint32_t value)
{
	return size_raw(value);
}

int
MqVarintSize(int32_t value)
{
	return size_raw(zigzag32(value));
}

int
MqVarlongSize(int64_t value)
{
	return size_raw(zigzag64(value));
}
