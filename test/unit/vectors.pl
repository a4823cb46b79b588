#!/usr/bin/perl
#
# test/unit/vectors.pl
#	  Flatten the Kafka JSON test vectors into a line format for codec_test.c.
#
# C has no JSON parser here, so this script (core Perl, JSON::PP) turns
# test/data/kafka/*.json into one whitespace-separated record per line:
# a tag first, then fields.  Byte strings are lowercase hex, "-" for empty
# and "~" for null; labels have whitespace replaced by "_".  The output is
# a build artifact (written under build/), never committed.
#
# Usage: vectors.pl DATA_DIR > vectors.txt
#        vectors.pl --corpus DATA_DIR OUT_DIR
#
# --corpus writes fuzzer seeds instead: every batch (vectors, compressed,
# crosschecks) as a binary file under OUT_DIR/record_batch, and every
# varint/varlong/uvarint/crc/murmur input under OUT_DIR/varint.
#
# Tags (fields in order):
#   varint   value zigzag hex size
#   varlong  value zigzag hex size
#   uvarint  value hex size
#   kref     kind value hex          (uvarint value as uint32)
#   crc      label hex crc [published]
#   murmur   label keyhex murmur2 positive n=p,n=p,... [published]
#   batch    kind name provenance    (kind: vector, compressed)
#   bhdr     baseOffset leaderEpoch magic attributes lastOffsetDelta
#            baseTimestamp maxTimestamp producerId producerEpoch
#            baseSequence recordsCount
#   bexp     hex length batchLength crc recordsStart
#   rec      offsetDelta offset timestampDelta timestamp effectiveTimestamp
#            sequence attributes keyhex valuehex nheaders
#   rhdr     keyhex valuehex         (nheaders of these follow each rec)
#   span     start end lengthField hex
#   uncomp   hex                     (compressed vectors only)
#   end
#   cross    name referenceHex kafkajsHex crc matches
#   count    tag n                   (how many of each tag, for sanity)

use strict;
use warnings;
use JSON::PP;

my $corpus;
if (@ARGV && $ARGV[0] eq '--corpus')
{
	shift @ARGV;
	$corpus = 1;
}
my $dir = shift @ARGV or die "usage: $0 [--corpus] DATA_DIR [OUT_DIR]\n";
my $outdir = shift @ARGV;
die "--corpus needs OUT_DIR\n" if $corpus && !defined $outdir;
my %count;

sub load
{
	my ($name) = @_;
	open(my $fh, '<', "$dir/$name") or die "$dir/$name: $!\n";
	local $/;
	my $text = <$fh>;
	close($fh);
	return JSON::PP->new->decode($text);
}

sub hexf
{
	my ($b) = @_;
	return '~' unless defined $b;
	return ref($b) ? hexf($b->{hex}) : ($b eq '' ? '-' : lc $b);
}

sub label
{
	my ($s) = @_;
	$s =~ s/\s+/_/g;
	return $s eq '' ? '-' : $s;
}

sub out
{
	my ($tag, @f) = @_;
	$count{$tag}++;
	print join(' ', $tag, @f), "\n";
}

if ($corpus)
{
	write_corpus();
	exit 0;
}

sub write_seed
{
	my ($sub, $name, $hex) = @_;
	$hex = $hex->{hex} if ref $hex;
	return unless defined $hex;
	mkdir $outdir unless -d $outdir;
	mkdir "$outdir/$sub" unless -d "$outdir/$sub";
	$name =~ s/[^A-Za-z0-9_.-]+/_/g;
	open(my $fh, '>:raw', "$outdir/$sub/$name") or die "$outdir/$sub/$name: $!\n";
	print $fh pack('H*', $hex);
	close($fh);
}

sub write_corpus
{
	my $b = load('record_batch_v2.json');
	write_seed('record_batch', $_->{name}, $_->{expected}{hex})
	  for @{ $b->{vectors} }, @{ $b->{compressed_vectors} };
	write_seed('record_batch', $_->{name}, $_->{reference_hex})
	  for @{ $b->{crosschecks} };

	my $v = load('varint.json');
	my $i = 0;
	write_seed('varint', 'v' . $i++, $_->{hex})
	  for @{ $v->{varint} }, @{ $v->{varlong} }, @{ $v->{uvarint} },
	  @{ $v->{kafka_reference} };
	write_seed('varint', 'crc' . $i++, $_->{input})
	  for @{ load('crc32c.json')->{vectors} };
	write_seed('varint', 'key' . $i++, $_->{key})
	  for @{ load('murmur2_partition.json')->{keys} };
}

# varint.json
my $v = load('varint.json');
out('varint', $_->{value}, $_->{zigzag}, hexf($_->{hex}), $_->{size})
  for @{ $v->{varint} };
out('varlong', $_->{value}, $_->{zigzag}, hexf($_->{hex}), $_->{size})
  for @{ $v->{varlong} };
out('uvarint', $_->{value}, hexf($_->{hex}), $_->{size})
  for @{ $v->{uvarint} };
for my $r (@{ $v->{kafka_reference} })
{
	die "kafka_reference entry does not match kafkajs\n" unless $r->{matches};
	my $val = $r->{kind} eq 'uvarint' ? $r->{value_as_uint32} : $r->{value};
	out('kref', $r->{kind}, $val, hexf($r->{hex}));
}

# crc32c.json
my $c = load('crc32c.json');
for my $r (@{ $c->{vectors} })
{
	my @pub = $r->{published} ? ($r->{published}{value}) : ();
	out('crc', label($r->{label}), hexf($r->{input}), $r->{crc32c}, @pub);
}

# murmur2_partition.json
my $m = load('murmur2_partition.json');
die "unexpected seed\n" unless lc($m->{seed}) =~ /9747b28c/;
for my $k (@{ $m->{keys} })
{
	my $parts = join(',',
		map { "$_=$k->{partitions}{$_}" }
		  sort { $a <=> $b } keys %{ $k->{partitions} });
	my @pub = $k->{published} ? ($k->{published}{value}) : ();
	out('murmur', label($k->{label}), hexf($k->{key}), $k->{murmur2},
		$k->{positive}, $parts, @pub);
}

# record_batch_v2.json
my $b = load('record_batch_v2.json');

sub batch
{
	my ($kind, $vec) = @_;
	my $in = $vec->{input};
	my $ex = $vec->{expected};

	out('batch', $kind, label($vec->{name}), label($vec->{provenance}));
	out('bhdr', map { $in->{$_} }
		  qw(baseOffset partitionLeaderEpoch magic attributes lastOffsetDelta
		  baseTimestamp maxTimestamp producerId producerEpoch baseSequence
		  recordsCount));
	out('bexp', hexf($ex->{hex}), $ex->{length}, $ex->{batchLength},
		$ex->{crc}, $ex->{records_start} // 61);
	for my $r (@{ $in->{records} })
	{
		out('rec', (map { $r->{$_} }
			  qw(offsetDelta offset timestampDelta timestamp
			  effectiveTimestamp sequence attributes)),
			hexf($r->{key}), hexf($r->{value}), scalar @{ $r->{headers} });
		out('rhdr', hexf($_->{key}), hexf($_->{value}))
		  for @{ $r->{headers} };
	}
	out('span', $_->{start}, $_->{end}, $_->{length_field}, hexf($_->{hex}))
	  for @{ $ex->{record_spans} // [] };
	out('uncomp', hexf($ex->{uncompressed_records_hex}))
	  if $kind eq 'compressed';
	out('end');
}

batch('vector', $_) for @{ $b->{vectors} };
batch('compressed', $_) for @{ $b->{compressed_vectors} };
out('cross', $_->{name}, hexf($_->{reference_hex}), hexf($_->{kafkajs_hex}),
	$_->{crc}, $_->{matches} ? 1 : 0)
  for @{ $b->{crosschecks} };

print "count $_ $count{$_}\n" for sort keys %count;
