#!/usr/bin/perl
# A stand-in for Jupyter in broker tests: answers GET {BASE_URL}api/status with the last activity
# on $NOTEBOOK_PORT; every other request counts as activity (as in Jupyter). Stops on SIGTERM.
use strict;
use warnings;
use IO::Socket::INET;
use POSIX qw(strftime);

$SIG{TERM} = sub { exit 0 };
$SIG{INT} = sub { exit 0 };

my $port = $ENV{NOTEBOOK_PORT} || 8888;
my $base = $ENV{BASE_URL} || "/";
my $token = $ENV{JUPYTER_TOKEN} || "";
my $server = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => $port, Listen => 64, ReuseAddr => 1)
    or die "cannot listen on $port: $!\n";
my $started = time;
my $last = $started;
$| = 1;
print "fake notebook listening on $port at $base\n";

sub iso { return strftime("%Y-%m-%dT%H:%M:%S.000000Z", gmtime($_[0])); }

while (1) {
    my $client = $server->accept or next;
    $client->autoflush(1);
    my $request = <$client> // "";
    my $authorized = 0;
    while (my $line = <$client>) {
        last if $line =~ /^\r?\n$/;
        $authorized = 1 if $token ne "" && $line =~ /^Authorization:\s*token\s+\Q$token\E\s*$/i;
    }
    my (undef, $target) = split / /, $request;
    $target //= "";
    my ($path, $query) = split /\?/, $target, 2;
    $authorized = 1 if defined $query && $token ne "" && $query =~ /(?:^|&)token=\Q$token\E(?:&|$)/;
    my ($status, $body);
    if (!$authorized) {
        ($status, $body) = ("403 Forbidden", '{"message": "Forbidden"}');
    } elsif ($path eq "${base}api/status") {
        ($status, $body) = ("200 OK", sprintf('{"started": "%s", "last_activity": "%s", "connections": 0, "kernels": 0}',
                                              iso($started), iso($last)));
    } elsif (defined $query && $query =~ /(?:^|&)no_track_activity=/) {
        ($status, $body) = ("200 OK", '[]');  # like Jupyter: asking with no_track_activity is not use
    } else {
        $last = time;
        ($status, $body) = ("200 OK", '{"activity": "recorded"}');
    }
    print $client "HTTP/1.0 $status\r\nContent-Type: application/json\r\nContent-Length: " . length($body)
        . "\r\nConnection: close\r\n\r\n$body";
    close $client;
}
