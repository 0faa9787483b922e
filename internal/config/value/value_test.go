package value

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestBytes(t *testing.T) {
	good := map[string]int64{"0": 0, "5000000": 5_000_000, "5MB": 5_000_000, "5 MB": 5_000_000,
		"1.5GB": 1_500_000_000, "512KiB": 512 << 10, "2MiB": 2 << 20, "100B": 100, "5TB": 5e12}
	for in, want := range good {
		var got Bytes
		if err := got.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Value: in}); err != nil || int64(got) != want {
			t.Errorf("Bytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-5MB", "1e30", "NaN"} {
		var got Bytes
		if err := got.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Value: in}); err == nil {
			t.Errorf("Bytes(%q) = %d, want an error", in, got)
		}
	}
}
