/*-------------------------------------------------------------------------
 *
 * src/codec/murmur2.c
 *	  MurmurHash2 exactly as org.apache.kafka.common.utils.Utils.murmur2.
 *
 * Java computes in 32-bit two's complement ints; we use uint32_t, which
 * wraps the same way without C's signed-overflow undefined behaviour, and
 * convert to int32_t only at the end.  Java's ">>>" is our unsigned ">>".
 *
 *-------------------------------------------------------------------------
 */
#include "murmur2.h"

int32_t
MqMurmur2(const void *key, size_t len)
{
	const uint8_t *data = (const uint8_t *) key;
	const uint32_t m = 0x5bd1e995U;
	const int	r = 24;
	/* Java's length is an int; keys never approach 2^31 bytes. */
	uint32_t	h = MQ_MURMUR2_SEED ^ (uint32_t) len;
	size_t		len4 = len / 4;
	size_t		tail = len & ~(size_t) 3;
	size_t		i;

	for (i = 0; i < len4; i++)
	{
		const uint8_t *b = data + i * 4;
		uint32_t	k = (uint32_t) b[0] | ((uint32_t) b[1] << 8) |
			((uint32_t) b[2] << 16) | ((uint32_t) b[3] << 24);

		k *= m;
		k ^= k >> r;
		k *= m;
		h *= m;
		h ^= k;
	}

	/* Java's switch falls through from case 3 to case 1. */
	if ((len & 3) == 3)
		h ^= (uint32_t) data[tail + 2] << 16;
	if ((len & 3) >= 2)
		h ^= (uint32_t) data[tail + 1] << 8;
	if ((len & 3) >= 1)
	{
		h ^= (uint32_t) data[tail];
		h *= m;
	}

	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;

	return (int32_t) h;
}

int
MqPartitionForKey(const void *key, size_t len, int num_partitions)
{
	uint32_t	positive;

	if (num_partitions <= 0)
		return -1;
	positive = (uint32_t) MqMurmur2(key, len) & 0x7fffffffU;
	return (int) (positive % (uint32_t) num_partitions);
}
