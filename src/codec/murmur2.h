/*-------------------------------------------------------------------------
 *
 * src/codec/murmur2.h
 *	  Kafka's key hash (Java client Utils.murmur2) and default partitioner.
 *
 * Producers choose a partition from the serialized key bytes with this
 * hash; matching it bit for bit keeps keyed messages on the partitions
 * Java, librdkafka ("murmur2_random") and kafkajs clients would pick.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_MURMUR2_H
#define MQ_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

#define MQ_MURMUR2_SEED		0x9747b28cU

/* Utils.murmur2(key): MurmurHash2, seed 0x9747b28c, as a signed int32. */
extern int32_t MqMurmur2(const void *key, size_t len);

/*
 * Utils.toPositive(murmur2(key)) % num_partitions, i.e. the partition the
 * Java DefaultPartitioner picks for a non-null key.  Returns -1 when
 * num_partitions <= 0.  A null key is not hashed by Kafka (it uses sticky
 * partitioning), so callers handle it themselves; an empty key is hashed.
 */
extern int	MqPartitionForKey(const void *key, size_t len, int num_partitions);

#endif							/* MQ_MURMUR2_H */
