#!/usr/bin/perl
# Parse bounce mails with Sisimai (Debian's libsisimai-perl), one tab-separated line per
# recipient: file, recipient, reason, status, reply code. Prints "elapsed: <seconds>" of the
# parsing loop alone (in-process speed) on stderr. Used by bench/classify.py.
# usage: perl bench/sisimai_parse.pl FILE...
use strict;
use warnings;
use Sisimai;
use Time::HiRes qw(time);

my $n = 0;
my $t0 = time;
my @out;
for my $file (@ARGV) {
    my $data = Sisimai->make($file, 'delivered' => 1) // [];
    for my $e (@$data) {
        $n++;
        push @out, join("\t", $file, $e->recipient->address, $e->reason,
                        $e->deliverystatus, $e->replycode);
    }
}
my $elapsed = time - $t0;
print "$_\n" for @out;
printf STDERR "records: %d\nelapsed: %.6f\n", $n, $elapsed;
