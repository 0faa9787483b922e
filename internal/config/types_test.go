package config

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParseProbeTarget(t *testing.T) {
	good := map[string]ProbeTarget{
		"icmp:1.1.1.1":                  {"icmp", "1.1.1.1"},
		"tcp:9.9.9.9:53":                {"tcp", "9.9.9.9:53"},
		"tcp:[2620:fe::fe]:53":          {"tcp", "[2620:fe::fe]:53"},
		"tcp:example.com:443":           {"tcp", "example.com:443"},
		"http://example.com/":           {"http", "http://example.com/"},
		"http://example.com:8443/x?y=1": {"http", "http://example.com:8443/x?y=1"},
	}
	for in, want := range good {
		got, err := ParseProbeTarget(in)
		if err != nil || got != want {
			t.Errorf("ParseProbeTarget(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if got.String() != in {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), in)
		}
	}
	for _, in := range []string{"", "1.1.1.1", "icmp:", "icmp:bad host", "tcp:1.1.1.1", "tcp::53",
		"tcp:1.1.1.1:0", "tcp:1.1.1.1:http", "http://", "http:example.com", "https://:80/",
		"http://example.com:99999/", "ftp://example.com/", "ping:8.8.8.8",
		"icmp:dns.google", "icmp:2606:4700::1111", "https://example.com/"} {
		_, err := ParseProbeTarget(in)
		if err == nil {
			t.Errorf("ParseProbeTarget(%q) succeeded, want an error", in)
			continue
		}
		if !strings.Contains(err.Error(), `use "icmp:1.1.1.1"`) {
			t.Errorf("ParseProbeTarget(%q) error %q does not say what to write", in, err)
		}
	}
}

func TestBytes(t *testing.T) {
	good := map[string]int64{"0": 0, "5000000": 5_000_000, "5MB": 5_000_000, "5 MB": 5_000_000,
		"1.5GB": 1_500_000_000, "512KiB": 512 << 10, "2MiB": 2 << 20, "100B": 100}
	for in, want := range good {
		var got Bytes
		if err := got.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Value: in}); err != nil || int64(got) != want {
			t.Errorf("Bytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-5MB", "5TB", "1e30", "NaN"} {
		var got Bytes
		if err := got.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Value: in}); err == nil {
			t.Errorf("Bytes(%q) = %d, want an error", in, got)
		}
	}
}
