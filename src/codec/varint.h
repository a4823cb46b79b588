/*-------------------------------------------------------------------------
 *
 * src/codec/varint.h
 *	  Kafka variable-length integers: zig-zag varint (int32) and varlong
 *	  (int64) as used inside records, and unsigned varints as used by the
 *	  flexible protocol versions.
 *
 * The encoding follows org.apache.kafka.common.utils.ByteUtils: 7 bits per
 * byte, least significant group first, high bit set on every byte but the
 * last.  Decoding is as lenient as Kafka's: a non-minimal encoding is
 * accepted, and bits beyond the type's width in the last allowed byte are
 * dropped.  A varint longer than 5 bytes (10 for a varlong) is an error.
 *
 * Pure C, no PostgreSQL headers; every exported symbol starts with Mq
 * because PostgreSQL 15 exports all non-static symbols of an extension.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_VARINT_H
#define MQ_VARINT_H

#include <stddef.h>
#include <stdint.h>

/* Most bytes a varint / varlong occupies. */
#define MQ_VARINT_MAX_BYTES		5
#define MQ_VARLONG_MAX_BYTES	10

/* Negative results of the Get functions. */
#define MQ_VARINT_TRUNCATED		(-1)	/* input ends inside the varint */
#define MQ_VARINT_TOO_LONG		(-2)	/* more than 5 (10) bytes */

/*
 * Decoders read from [p, end) and return the number of bytes consumed, or
 * MQ_VARINT_TRUNCATED / MQ_VARINT_TOO_LONG; *out is only written on
 * success.  They never read at or past end.
 *
 * They are inline: a record of a batch holds half a dozen varints, almost
 * all of one byte, and a call per varint was a tenth of the server's time
 * checking a produced batch of small records.
 */

/*
 * Read up to maxbytes 7-bit groups into a uint64_t.  Shared by all three
 * decoders; bits shifted beyond 64 cannot occur since maxbytes <= 10 and
 * the 10th group lands at bit 63 (its upper 6 bits are dropped, as Java's
 * long shift drops them).
 */
static inline int
mq_varint_get_raw(const uint8_t *p, const uint8_t *end, int maxbytes,
				  uint64_t *out)
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

static inline int
MqUvarintGet(const uint8_t *p, const uint8_t *end, uint32_t *out)
{
	uint64_t	raw;
	int			n = mq_varint_get_raw(p, end, MQ_VARINT_MAX_BYTES, &raw);

	/* Kafka's int arithmetic drops the bits above 32 in the fifth byte. */
	if (n > 0)
		*out = (uint32_t) raw;
	return n;
}

static inline int
MqVarintGet(const uint8_t *p, const uint8_t *end, int32_t *out)
{
	uint32_t	zz;
	int			n = MqUvarintGet(p, end, &zz);

	if (n > 0)
		*out = (int32_t) ((zz >> 1) ^ (0u - (zz & 1)));
	return n;
}

static inline int
MqVarlongGet(const uint8_t *p, const uint8_t *end, int64_t *out)
{
	uint64_t	zz;
	int			n = mq_varint_get_raw(p, end, MQ_VARLONG_MAX_BYTES, &zz);

	if (n > 0)
		*out = (int64_t) ((zz >> 1) ^ (UINT64_C(0) - (zz & 1)));
	return n;
}

/*
 * Encoders write the minimal encoding to dst, which must have room for
 * the matching Size() bytes (at most 5 or 10), and return its length.
 */
extern int	MqVarintPut(uint8_t *dst, int32_t value);
extern int	MqVarlongPut(uint8_t *dst, int64_t value);
extern int	MqUvarintPut(uint8_t *dst, uint32_t value);

/* Length of the minimal encoding of a value. */
extern int	MqVarintSize(int32_t value);
extern int	MqVarlongSize(int64_t value);
extern int	MqUvarintSize(uint32_t value);

#endif							/* MQ_VARINT_H */
