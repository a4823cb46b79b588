/*-------------------------------------------------------------------------
 *
 * src/codec/crc32c.h
 *	  CRC-32C (Castagnoli), the checksum of Kafka RecordBatch v2.
 *
 * Pure C, no PostgreSQL headers.  PostgreSQL has its own pg_crc32c, but it
 * lives in the server's headers; keeping our own lets the codec link into
 * the unit tests and fuzzers unchanged.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_CRC32C_H
#define MQ_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of a buffer (init and xorout 0xFFFFFFFF): "123456789" -> 0xe3069283. */
extern uint32_t MqCrc32c(const void *data, size_t len);

/*
 * Incremental form, zlib style: crc is a finished CRC-32C of the bytes seen
 * so far (0 for none), and the result is the finished CRC-32C of those
 * bytes followed by data.  MqCrc32c(d, n) == MqCrc32cUpdate(0, d, n).
 */
extern uint32_t MqCrc32cUpdate(uint32_t crc, const void *data, size_t len);

#endif							/* MQ_CRC32C_H */
