#!/usr/bin/perl
# Parse bounce mails with Sisimai (Debian's libsisimai-perl), one JSON line per recipient.
# Used by bench/classify.py to compare speed and answers with todoke's classifier.
# usage: perl bench/sisimai_parse.pl FILE...
use strict;
use warnings;
use Sisimai;

my $n = 0;
for my $file (@ARGV) {
    my $data = Sisimai->make($file, 'delivered' => 1) // [];
    for my $e (@$data) {
        $n++;
        printf "%s\t%s\t%s\t%s\t%s\n", $file, $e->recipient->address, $e->reason,
            $e->deliverystatus, $e->replycode;
    }
}
print STDERR "records: $n\n";
