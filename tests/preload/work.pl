# work.pl N: hashes, arrays, string building and sorting in Perl.
use strict;
use warnings;
my $n = shift // 100000;
my (%h, @a);
for my $i (1 .. $n) {
    my $k = "key" . ($i * 7919 % 100003);
    $h{$k} .= "v$i,";
    push @a, [$i, $k, length($h{$k})];
    shift @a if @a > 5000;
}
my @top = (sort { length($h{$b}) <=> length($h{$a}) or $a cmp $b } keys %h)[0 .. 4];
my $text = join(" ", map { "word" . ($_ % 5000) } 1 .. $n);
my %count;
$count{$_}++ for split /\s+/, $text;
my $s = 0;
$s += $_->[2] for @a;
print scalar(keys %h), " @top ", scalar(keys %count), " $s\n";
