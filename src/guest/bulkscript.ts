/**
 * The guest end of the bulk channel (pure text). Debian guests always have perl (perl-base is
 * essential), so the reader is a perl program passed as an argument (never spliced into shell code):
 * `perl -e BULK_READ_PERL TOKEN PORT` opens the port, skips anything before this transfer's header,
 * writes the payload to stdout and exits 0 only after the end frame with the right byte count.
 * The format is guest/bulkframe.ts's.
 *
 * Exit statuses: BULK_EXIT.unavailable — the port could not be opened or no header came (nothing was
 * written; the host may send the same data over SSH instead); BULK_EXIT.broken — the stream broke
 * after the header (cut short, a bad frame, a wrong count); BULK_EXIT.output — stdout failed.
 */
import { BULK_MAX_CHUNK } from './bulkframe.js';

export const BULK_EXIT = { unavailable: 21, broken: 22, output: 23 } as const;

/** Guest path of the port (QEMU `virtserialport,name=banger.bulk`; udev makes the link). */
export const BULK_PORT_LINK = '/dev/virtio-ports/banger.bulk';

/**
 * Shell text setting $bulk_port to the port's device node, or empty: the udev link, else the
 * vport whose sysfs name matches (a guest without udev rules still has the node).
 */
export const FIND_BULK_PORT = `bulk_port=
if [ -c ${BULK_PORT_LINK} ]; then bulk_port=${BULK_PORT_LINK}; else
  for n in /sys/class/virtio-ports/*/name; do
    if [ -r "$n" ] && [ "$(cat -- "$n")" = banger.bulk ]; then d=\${n%/name}; [ -c "/dev/\${d##*/}" ] && bulk_port=/dev/\${d##*/}; fi
  done
fi
`;

/**
 * With a fourth argument N it writes `bulk` to fd N once the port is open: only then does the host
 * connect (QEMU notices a closed host connection only while the guest has the port open, so a host
 * that connected first could be taken for the previous one, and a read before the host connected
 * returns EOF). Waits up to 20 s (a third argument: seconds) for the port to be free and the header to come: a reader left by a killed transfer
 * (only root can open the port, and the daemon runs one transfer per VM at a time) is ended first,
 * and a read that finds the host not yet connected (EOF) is retried.
 */
export const BULK_READ_PERL = `use strict; use warnings; use Fcntl;
my ($tok, $port, $wait, $ready) = @ARGV;
my $hdr = "BANGER-BULK1 $tok\\n";
my $deadline = time + ($wait || 20);
sub unavailable { print STDERR "bulk channel: $_[0]\\n"; exit ${BULK_EXIT.unavailable} }
sub broken { print STDERR "bulk channel: $_[0]\\n"; exit ${BULK_EXIT.broken} }
sub holders {
  my $rdev = (stat $port)[6];
  for my $fd (glob '/proc/[0-9]*/fd/*') {
    my @s = stat $fd;
    next unless @s && -c _ && $s[6] == $rdev;
    my ($pid) = $fd =~ m{^/proc/(\\d+)/};
    kill 'KILL', $pid if $pid != $$;
  }
}
my $fh;
until (sysopen($fh, $port, O_RDONLY)) {
  unavailable("cannot open $port: $!") unless $!{EBUSY} && time < $deadline;
  holders();
  select(undef, undef, undef, 0.1);
}
# The port is open: tell the host (fd 4, the SSH channel's stdout) to connect and send.
if ($ready && open(my $r, '>&=', $ready)) { syswrite($r, "bulk\n"); }
binmode $fh; binmode STDOUT;
my $buf = '';
while (1) {
  my $n = sysread($fh, $buf, 65536, length $buf);
  unavailable("reading $port: $!") unless defined $n;
  my $i = index($buf, $hdr);
  if ($i >= 0) { substr($buf, 0, $i + length $hdr, ''); last }
  substr($buf, 0, length($buf) - length($hdr) + 1, '') if length($buf) >= length $hdr;
  unavailable('no transfer header from the host') if time >= $deadline;
  select(undef, undef, undef, 0.05) if $n == 0;
}
sub fill {
  while (length($buf) < $_[0]) {
    my $n = sysread($fh, $buf, 65536, length $buf);
    broken("reading $port: $!") unless defined $n;
    broken('the stream ended early') unless $n;
  }
}
sub out {
  my $off = 0;
  while ($off < length $_[0]) {
    my $w = syswrite(STDOUT, $_[0], length($_[0]) - $off, $off);
    exit ${BULK_EXIT.output} unless defined $w;
    $off += $w;
  }
}
my $total = 0;
while (1) {
  fill(4);
  my $len = unpack('N', substr($buf, 0, 4, ''));
  if ($len == 0) {
    fill(8);
    my ($hi, $lo) = unpack('NN', substr($buf, 0, 8, ''));
    broken("the host counted " . ($hi * 4294967296 + $lo) . " bytes, $total arrived") if $hi * 4294967296 + $lo != $total;
    exit 0;
  }
  broken("chunk length $len is over the limit") if $len > ${BULK_MAX_CHUNK};
  $total += $len;
  while ($len > 0) {
    if (!length $buf) {
      my $n = sysread($fh, $buf, 65536);
      broken("reading $port: $!") unless defined $n;
      broken('the stream ended early') unless $n;
    }
    my $take = length($buf) < $len ? length($buf) : $len;
    out(substr($buf, 0, $take, ''));
    $len -= $take;
  }
}
`;
