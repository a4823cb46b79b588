/*-------------------------------------------------------------------------
 *
 * src/codec/varint.c
 *	  Kafka zig-zag varint/varlong and unsigned varint encoding (the
 *	  decoders are inline, in varint.h).
 *
 * Zig-zag arithmetic is done on unsigned types: shifting a negative signed
 * value left is undefined in C, and the sanitizers in the unit tests would
 * (rightly) flag it.
 *
 *-------------------------------------------------------------------------
 */
#include "varint.h"

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
