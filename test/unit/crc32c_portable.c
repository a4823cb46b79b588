/*-------------------------------------------------------------------------
 *
 * test/unit/crc32c_portable.c
 *	  The codec's CRC-32C built without the SSE4.2 path, under other names.
 *
 * On the machines that run the tests the hardware path is always taken,
 * so the slice-by-8 fallback would otherwise go untested.  Renaming the
 * exported functions lets both builds link into one test program.
 *
 *-------------------------------------------------------------------------
 */
#define MQ_CRC32C_NO_HW 1
#define MqCrc32c MqTestCrc32cPortable
#define MqCrc32cUpdate MqTestCrc32cPortableUpdate
#include "../../src/codec/crc32c.c"
