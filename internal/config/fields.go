package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// The builders below turn one Go field into one YAML key with its check.
// A check returns "" when the value is fine, else what is wrong and allowed.

func section(name string, fields ...field) field {
	return field{name, func(d *decoder, key string, n *yaml.Node) { d.mapping(key, n, fields) }}
}

func strF(name string, dst *string, check func(string) string) field {
	return field{name, func(d *decoder, key string, n *yaml.Node) {
		if s, ok := d.str(key, n); ok {
			if msg := check(s); msg != "" {
				d.addf(n.Line, key, "%s", msg)
				return
			}
			*dst = s
		}
	}}
}

// intF accepts a number in lo..hi; hint says what to write instead.
func intF(name string, dst *int, lo, hi int, hint string) field {
	return field{name, func(d *decoder, key string, n *yaml.Node) {
		if v, ok := d.integer(key, n, hint); ok {
			if v < lo || v > hi {
				d.addf(n.Line, key, "%d is out of range; %s", v, hint)
				return
			}
			*dst = v
		}
	}}
}

func boolF(name string, dst *bool) field {
	return field{name, func(d *decoder, key string, n *yaml.Node) {
		if v, ok := d.boolean(key, n); ok {
			*dst = v
		}
	}}
}

// durF accepts a duration of at least lo; example is shown on errors.
func durF(name string, dst *time.Duration, lo time.Duration, example string) field {
	return field{name, func(d *decoder, key string, n *yaml.Node) {
		if v, ok := d.duration(key, n, example); ok {
			if v < lo {
				d.addf(n.Line, key, "%s is too short; use at least %s, such as %q", dur(v), dur(lo), example)
				return
			}
			*dst = v
		}
	}}
}

// listF decodes a list of strings, checking each; an empty list is nil.
func listF(name string, dst *[]string, example string, check func(string) string) field {
	return field{name, func(d *decoder, key string, n *yaml.Node) {
		items, ok := d.strList(key, n, example)
		if !ok {
			return
		}
		for i, s := range items {
			if msg := check(s); msg != "" {
				d.addf(deref(n.Content[i]).Line, itemKey(key, i), "%s", msg)
				ok = false
			}
		}
		if ok {
			*dst = nil
			if len(items) > 0 {
				*dst = items
			}
		}
	}}
}

func stepFields(s *Step, attemptsHint string) []field {
	return []field{
		intF("attempts", &s.Attempts, 0, 100, attemptsHint),
		durF("backoff", &s.Backoff, time.Second, "5s"),
		durF("max_backoff", &s.MaxBackoff, time.Second, "60s"),
	}
}
