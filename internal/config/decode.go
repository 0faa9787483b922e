package config

import (
	"bytes"
	"cmp"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"
	"github.com/failberry/failberry/internal/config/value"
	"go.yaml.in/yaml/v3"
)

// A Check is a rule about the config that another package owns, because the
// knowledge lives there (the probes' byte cost in health, the firewall
// policy in firewall) and that package imports this one. Parse runs each
// after every value passed its own check; an error that names its key (a
// KeyError, or any error with a ConfigKey method) is reported at its line.
type Check func(Config) error

// KeyError is a Check's problem with one key, such as "firewall.forwards[2]".
type KeyError struct{ Key, Msg string }

func (e *KeyError) Error() string { return e.Key + ": " + e.Msg }

// ConfigKey returns the key and the message without it.
func (e *KeyError) ConfigKey() (key, msg string) { return e.Key, e.Msg }

// Load reads and parses the config file at path. A file that cannot be read
// is a wrapped OS error; a file with problems is an *Error listing them all.
func Load(path string, checks ...Check) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data, checks...)
}

// Parse decodes data (name is used in messages) over Default and checks
// every value. It returns an *Error listing all problems, or the config.
//
// It walks the YAML node tree against Config's fields, so each problem has
// its line, and decodes each value on its own, so every bad value is
// reported, not only the first. The library's strict decoding then runs over
// the whole file as a guard against the walk and the struct disagreeing.
func Parse(name string, data []byte, checks ...Check) (Config, error) {
	d := &decoder{file: name, lines: map[string]int{}}
	c := Default()
	root := d.document(data)
	if len(d.problems) > 0 {
		return Config{}, &Error{Problems: d.problems}
	}
	if root != nil {
		d.walk("", root, reflect.ValueOf(&c).Elem(), "")
	}
	d.crossCheck(&c, checks)
	if len(d.problems) == 0 && root != nil {
		guard, dec := Default(), yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&guard); err != nil {
			d.addf(0, "", "not valid: %v", err)
		}
	}
	if len(d.problems) > 0 {
		slices.SortStableFunc(d.problems, func(a, b Problem) int { return a.Line - b.Line })
		return Config{}, &Error{Problems: d.problems}
	}
	return c, nil
}

// decoder collects problems with their lines instead of stopping at the first.
type decoder struct {
	file     string
	problems []Problem
	lines    map[string]int // key path -> line, for keys written in the file
}

func (d *decoder) addf(line int, key, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// document returns the single document's root node: nil for an empty file,
// or with a problem recorded when the YAML itself is broken (the library's
// message names the line).
func (d *decoder) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, extra yaml.Node
	err := dec.Decode(&doc)
	if err == nil {
		if err = dec.Decode(&extra); err == nil {
			d.addf(extra.Line, "", "not valid YAML: line %d: a second document (---) follows; keep one document", extra.Line)
			return nil
		}
	}
	if !errors.Is(err, io.EOF) {
		d.addf(0, "", "not valid YAML: %v", err)
	}
	if len(doc.Content) == 0 || len(d.problems) > 0 {
		return nil
	}
	return doc.Content[0]
}

// field is one key of a section: its name, where its value goes, its tags.
type field struct {
	name        string
	v           reflect.Value
	check, hint string
}

// fieldsOf lists the keys of section v, inline sections flattened; hint is
// the section's, for fields without their own.
func fieldsOf(v reflect.Value, hint string) []field {
	var fs []field
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		h := cmp.Or(sf.Tag.Get("hint"), hint)
		if opts == "inline" {
			fs = append(fs, fieldsOf(v.Field(i), h)...)
			continue
		}
		fs = append(fs, field{name, v.Field(i), sf.Tag.Get("check"), h})
	}
	return fs
}

// isSection says whether t is walked key by key (a struct of keys) rather
// than decoded as one value (a type that reads its own YAML or text).
func isSection(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Kind() == reflect.Struct && !p.Implements(reflect.TypeFor[yaml.Unmarshaler]()) &&
		!p.Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

// walk decodes the mapping n into section v: unknown and repeated keys are
// problems, a null value keeps the default.
func (d *decoder) walk(path string, n *yaml.Node, v reflect.Value, hint string) {
	fields := fieldsOf(v, hint)
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, path, "found %s; expected a mapping with the keys %s", describe(n), names(fields))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.addf(n.Content[i].Line, path, "a key must be a plain name; allowed keys: %s", names(fields))
			continue
		}
		key := strings.TrimPrefix(path+"."+k.Value, ".")
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
		f := fields[idx]
		switch {
		case val.Kind == yaml.ScalarNode && val.ShortTag() == "!!null":
		case isSection(f.v.Type()):
			d.walk(key, val, f.v, f.hint)
		default:
			if x, ok := d.value(key, val, f.v.Type(), f); ok {
				f.v.Set(x) // only a value that passed: a bad config never half-applies
			}
		}
	}
}

var durationType = reflect.TypeFor[value.Duration]()

// value decodes n as a t and runs f's check on it, reporting what is wrong
// at n's line. A list's items are decoded, and checked, one by one.
func (d *decoder) value(key string, n *yaml.Node, t reflect.Type, f field) (reflect.Value, bool) {
	x := reflect.New(t).Elem()
	msg := shape(n, t, f.hint)
	switch {
	case msg != "":
	case t.Kind() == reflect.Slice:
		ok := true
		for i, item := range n.Content {
			ik, item, iv, good := fmt.Sprintf("%s[%d]", key, i), deref(item), reflect.New(t.Elem()).Elem(), true
			d.lines[ik] = item.Line
			if isSection(t.Elem()) { // a list of sections, such as firewall.forwards
				before := len(d.problems)
				d.walk(ik, item, iv, f.hint)
				good = len(d.problems) == before
			} else {
				iv, good = d.value(ik, item, t.Elem(), f)
			}
			x, ok = reflect.Append(x, iv), ok && good
		}
		if !ok {
			return x, false
		}
	default:
		switch err := n.Decode(x.Addr().Interface()); {
		case err != nil && t == durationType:
			msg = fmt.Sprintf("%q is not a duration; use a Go duration such as %q (units ms, s, m, h)", n.Value, f.hint)
		case err != nil && t == reflect.TypeFor[netip.Addr]():
			msg = fmt.Sprintf("%q is not an IP address; write one such as 192.168.1.10", n.Value)
		case err != nil && t.Kind() == reflect.Int:
			msg = fmt.Sprintf("%q is out of range; %s", n.Value, f.hint)
		case err != nil:
			msg = err.Error()
		case t.Kind() == reflect.Float64 && (math.IsNaN(x.Float()) || math.IsInf(x.Float(), 0)):
			msg = fmt.Sprintf("%q is not a finite number; %s", n.Value, f.hint)
		}
	}
	if msg == "" {
		msg = check(f.check, f.hint, x)
	}
	if msg != "" {
		d.addf(n.Line, key, "%s", msg)
	}
	return x, msg == ""
}

// shape says what is wrong with the form of n for a t, before decoding: the
// library would take a number for a string and has messages of its own.
func shape(n *yaml.Node, t reflect.Type, hint string) string {
	want := map[reflect.Kind]string{reflect.Int: "a number", reflect.Float64: "a number", reflect.Bool: "true or false"}[t.Kind()]
	switch {
	case t.Kind() == reflect.Slice:
		return unless(n.Kind == yaml.SequenceNode, "found %s; expected a list such as %s", describe(n), hint)
	case t == durationType:
		want = fmt.Sprintf("a duration such as %q", hint)
	case t == reflect.TypeFor[value.Bytes]():
		want = "a byte count"
	case want == "":
		want = "a string"
	}
	tag := n.ShortTag()
	number := tag == "!!int" || tag == "!!float"
	switch {
	case n.Kind != yaml.ScalarNode:
		return fmt.Sprintf("found %s; expected %s", describe(n), want)
	case t == durationType && number:
		return fmt.Sprintf("%s is a bare number; write a duration with a unit, such as %q", n.Value, n.Value+"s")
	case want == "a number" && !(tag == "!!int" || t.Kind() == reflect.Float64 && number):
		return fmt.Sprintf("%q is not a number; %s", n.Value, hint)
	case want == "true or false" && tag != "!!bool":
		return fmt.Sprintf("%q is not a boolean; use true or false", n.Value)
	case want == "a string" && tag == "!!bool":
		return fmt.Sprintf("found the boolean %s; expected a string (quote it if you mean the text)", n.Value)
	}
	return ""
}

// check applies a check tag (see the package doc) to v; "" means fine.
func check(tag, hint string, v reflect.Value) string {
	lo, hi, isRange := strings.Cut(tag, "..")
	allowed := strings.Split(tag, "|")
	switch x := v.Interface().(type) {
	case value.Duration:
		if least, _ := time.ParseDuration(lo); isRange && x < value.Duration(least) {
			return fmt.Sprintf("%s is too short; use at least %s, such as %q", x, value.Duration(least), hint)
		}
	case int:
		low, _ := strconv.Atoi(lo)
		high, _ := strconv.Atoi(hi)
		if isRange && (x < low || x > high) {
			return fmt.Sprintf("%d is out of range; %s", x, hint)
		}
	case string:
		if len(allowed) > 1 && !slices.Contains(allowed, x) {
			return fmt.Sprintf("%q is not allowed; use one of %s", x, strings.Join(allowed, ", "))
		}
	}
	if fn := reflect.ValueOf(checks[tag]); fn.IsValid() && fn.Type().In(0) == v.Type() {
		return fn.Call([]reflect.Value{v})[0].String()
	}
	return ""
}

// deref follows an alias (*anchor) to its target.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 10; i++ {
		n = n.Alias
	}
	return n
}

// describe names what a node is, for "found X; expected Y" messages.
func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return cmp.Or(map[yaml.Kind]string{yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}[n.Kind], "an unsupported YAML node")
}

func names(fields []field) string {
	var s []string
	for _, f := range fields {
		s = append(s, f.name)
	}
	return strings.Join(s, ", ")
}

// suggest offers the closest known key for a typo.
func suggest(name string, fields []field) string {
	best, bestDist := "", 3
	for _, f := range fields {
		if dist := levenshtein.ComputeDistance(strings.ToLower(name), f.name); dist < bestDist {
			best, bestDist = f.name, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// Effective returns every setting, defaults included, as YAML in the file's
// format: what `failberry check` prints. The PIN is masked, as that output
// gets pasted into bug reports, so output with a PIN does not parse back;
// everything else does, to the same Config.
func (c Config) Effective() string {
	if c.Modem.PIN != "" {
		c.Modem.PIN = "****"
	}
	out, err := yaml.Marshal(c)
	if err != nil { // only strings, numbers and lists: cannot happen
		return fmt.Sprintf("# cannot print the config: %v\n", err)
	}
	return string(out)
}
