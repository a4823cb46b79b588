/*-------------------------------------------------------------------------
 *
 * test/fuzz/fuzz_varint.c
 *	  libFuzzer target for varints, CRC-32C and murmur2.
 *
 * Decodes the input as varint, varlong and uvarint and checks that
 * re-encoding is minimal and round-trips; compares the hardware CRC-32C
 * with the portable one and with itself split at an input-chosen point;
 * runs the partitioner.  Properties are enforced with abort().
 *
 *-------------------------------------------------------------------------
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "murmur2.h"
#include "varint.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern uint32_t MqTestCrc32cPortable(const void *data, size_t len);

static void
require(int cond, const char *what)
{
	if (!cond)
	{
		fprintf(stderr, "property violated: %s\n", what);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t    *buf = malloc(size ? size : 1);
	const uint8_t *end;
	uint8_t		out[16];
	int32_t		v32;
	int64_t		v64;
	uint32_t	u32;
	int			n;
	int			m;

	if (buf == NULL)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	end = buf + size;

	n = MqVarintGet(buf, end, &v32);
	require(n == -1 || n == -2 || (n >= 1 && n <= 5 && (size_t) n <= size), "varint n");
	if (n > 0)
	{
		m = MqVarintPut(out, v32);
		require(m == MqVarintSize(v32) && m <= n, "varint size");
		require(MqVarintGet(out, out + m, &v32) == m, "varint round trip");
		/* a minimal input with no dropped bits re-encodes to itself */
		if (m == n && (n < 5 || buf[4] <= 0x0f))
			require(memcmp(out, buf, (size_t) n) == 0, "varint bytes");
	}
	n = MqVarlongGet(buf, end, &v64);
	require(n == -1 || n == -2 || (n >= 1 && n <= 10 && (size_t) n <= size), "varlong n");
	if (n > 0)
	{
		int64_t		back;

		m = MqVarlongPut(out, v64);
		require(m == MqVarlongSize(v64) && m <= n, "varlong size");
		require(MqVarlongGet(out, out + m, &back) == m && back == v64, "varlong round trip");
		if (m == n && (n < 10 || buf[9] <= 0x01))
			require(memcmp(out, buf, (size_t) n) == 0, "varlong bytes");
	}
	n = MqUvarintGet(buf, end, &u32);
	if (n > 0)
	{
		uint32_t	back;

		m = MqUvarintPut(out, u32);
		require(m == MqUvarintSize(u32) && m <= n, "uvarint size");
		require(MqUvarintGet(out, out + m, &back) == m && back == u32, "uvarint round trip");
	}

	{
		size_t		split = size > 0 ? buf[0] % (size + 1) : 0;
		uint32_t	whole = MqCrc32c(buf, size);

		require(whole == MqTestCrc32cPortable(buf, size), "crc32c hw vs portable");
		require(MqCrc32cUpdate(MqCrc32c(buf, split), buf + split, size - split) == whole,
				"crc32c incremental");
	}
	{
		int			np = size > 0 ? 1 + buf[size - 1] : 1;
		int			p = MqPartitionForKey(buf, size, np);

		require(p >= 0 && p < np, "partition range");
		require(p == (int) (((uint32_t) MqMurmur2(buf, size) & 0x7fffffffU) % (uint32_t) np),
				"partition formula");
	}
	free(buf);
	return 0;
}
