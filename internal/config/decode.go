package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder walks a yaml.Node tree against the schema, collecting problems
// with their lines instead of stopping at the first one.
type decoder struct {
	file     string
	problems []Problem
	lines    map[string]int // key path -> line, for keys present in the file
}

// field is one key of a mapping and what to do with its value.
type field struct {
	name string
	set  func(d *decoder, key string, n *yaml.Node)
}

func (d *decoder) addf(line int, key, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// line returns where key was written, or 0 when it was not (a default).
func (d *decoder) line(key string) int { return d.lines[key] }

// has reports whether key was written in the file.
func (d *decoder) has(key string) bool { _, ok := d.lines[key]; return ok }

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// deref follows an alias (*anchor) to its target.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 10; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names what a node is, for "expected X, found Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "an unsupported YAML node"
}

// mapping decodes a mapping node: unknown and repeated keys are problems, a
// null value keeps the default.
func (d *decoder) mapping(path string, n *yaml.Node, fields []field) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, path, "found %s; expected a mapping with the keys %s", describe(n), names(fields))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			d.addf(n.Content[i].Line, path, "a key must be a plain name; allowed keys: %s", names(fields))
			continue
		}
		key := join(path, k.Value)
		if seen[k.Value] {
			d.addf(k.Line, key, "set twice in the same mapping; keep one (line %d)", d.lines[key])
			continue
		}
		seen[k.Value] = true
		idx := slices.IndexFunc(fields, func(f field) bool { return f.name == k.Value })
		if idx < 0 {
			d.addf(k.Line, key, "unknown key%s; allowed here: %s", suggest(k.Value, fields), names(fields))
			continue
		}
		d.lines[key] = k.Line
		if v = deref(v); isNull(v) {
			continue
		}
		fields[idx].set(d, key, v)
	}
}

func names(fields []field) string {
	s := make([]string, len(fields))
	for i, f := range fields {
		s[i] = f.name
	}
	return strings.Join(s, ", ")
}

// suggest offers the closest known key for a typo.
func suggest(name string, fields []field) string {
	best, bestDist := "", 3
	for _, f := range fields {
		if dist := editDistance(strings.ToLower(name), f.name); dist < bestDist {
			best, bestDist = f.name, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// scalar returns a scalar's text, or records that a value was expected.
func (d *decoder) scalar(key string, n *yaml.Node, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.addf(n.Line, key, "found %s; expected %s", describe(n), want)
		return "", false
	}
	return n.Value, true
}

// str accepts any scalar but a boolean as text (pin: 1234 is a string).
func (d *decoder) str(key string, n *yaml.Node) (string, bool) {
	s, ok := d.scalar(key, n, "a string")
	if ok && n.ShortTag() == "!!bool" {
		d.addf(n.Line, key, "found the boolean %s; expected a string (quote it if you mean the text)", s)
		return "", false
	}
	return s, ok
}

func (d *decoder) integer(key string, n *yaml.Node, hint string) (int, bool) {
	s, ok := d.scalar(key, n, "a number")
	if !ok {
		return 0, false
	}
	if n.ShortTag() != "!!int" {
		d.addf(n.Line, key, "%q is not a number; %s", s, hint)
		return 0, false
	}
	var v int
	if err := n.Decode(&v); err != nil {
		d.addf(n.Line, key, "%q is out of range; %s", s, hint)
		return 0, false
	}
	return v, true
}

func (d *decoder) boolean(key string, n *yaml.Node) (bool, bool) {
	s, ok := d.scalar(key, n, "true or false")
	if !ok {
		return false, false
	}
	if n.ShortTag() != "!!bool" {
		d.addf(n.Line, key, "%q is not a boolean; use true or false", s)
		return false, false
	}
	var v bool
	return v, n.Decode(&v) == nil
}

func (d *decoder) float(key string, n *yaml.Node, hint string) (float64, bool) {
	s, ok := d.scalar(key, n, "a number")
	if !ok {
		return 0, false
	}
	if t := n.ShortTag(); t != "!!float" && t != "!!int" {
		d.addf(n.Line, key, "%q is not a number; %s", s, hint)
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.addf(n.Line, key, "%q is not a finite number; %s", s, hint)
		return 0, false
	}
	return v, true
}

func (d *decoder) duration(key string, n *yaml.Node, example string) (time.Duration, bool) {
	s, ok := d.scalar(key, n, "a duration such as "+strconv.Quote(example))
	if !ok {
		return 0, false
	}
	if t := n.ShortTag(); t == "!!int" || t == "!!float" {
		d.addf(n.Line, key, "%s is a bare number; write a duration with a unit, such as %q", s, s+"s")
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.addf(n.Line, key, "%q is not a duration; use a Go duration such as %q (units ms, s, m, h)", s, example)
		return 0, false
	}
	return v, true
}

// strList decodes a list of strings, reporting each bad item.
func (d *decoder) strList(key string, n *yaml.Node, example string) ([]string, bool) {
	if n.Kind != yaml.SequenceNode {
		d.addf(n.Line, key, "found %s; expected a list such as %s", describe(n), example)
		return nil, false
	}
	var out []string
	ok := true
	for i, item := range n.Content {
		item = deref(item)
		s, good := d.str(itemKey(key, i), item)
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// itemKey names one list item, e.g. "firewall.lan_interfaces[1]".
func itemKey(key string, i int) string { return fmt.Sprintf("%s[%d]", key, i) }
