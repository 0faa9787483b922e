package target

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := map[string]Target{
		"icmp:1.1.1.1":                  {"icmp", "1.1.1.1"},
		"tcp:9.9.9.9:53":                {"tcp", "9.9.9.9:53"},
		"tcp:[2620:fe::fe]:53":          {"tcp", "[2620:fe::fe]:53"},
		"tcp:example.com:443":           {"tcp", "example.com:443"},
		"http://example.com/":           {"http", "http://example.com/"},
		"http://example.com:8443/x?y=1": {"http", "http://example.com:8443/x?y=1"},
	}
	for in, want := range good {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if got.String() != in {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), in)
		}
	}
	for _, in := range []string{"", "1.1.1.1", "icmp:", "icmp:bad host", "tcp:1.1.1.1", "tcp::53",
		"tcp:1.1.1.1:0", "tcp:1.1.1.1:http", "http://", "http:example.com", "https://:80/",
		"http://example.com:99999/", "ftp://example.com/", "ping:8.8.8.8",
		"icmp:dns.google", "icmp:2606:4700::1111", "https://example.com/"} {
		_, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", in)
			continue
		}
		if !strings.Contains(err.Error(), `use "icmp:1.1.1.1"`) {
			t.Errorf("Parse(%q) error %q does not say what to write", in, err)
		}
	}
}
