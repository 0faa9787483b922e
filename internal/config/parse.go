package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds what Load reads: a real config is a few KB.
const maxFileSize = 1 << 20

// Load reads and parses the config file at path. A file that cannot be read
// is a wrapped OS error; a file with problems is an *Error listing them all.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("reading config %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return Config{}, fmt.Errorf("reading config %s: larger than %d bytes", path, maxFileSize)
	}
	return Parse(path, data)
}

var yamlLineRe = regexp.MustCompile(`line (\d+)`)

// Parse decodes data (name is used in messages) over Default and checks
// every value. It returns an *Error listing all problems, or the config.
func Parse(name string, data []byte) (Config, error) {
	d := &decoder{file: name, lines: map[string]int{}}
	c := Default()
	root, err := document(data)
	if err != nil {
		line := 0
		if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		d.addf(line, "", "not valid YAML: %v", err)
		return Config{}, &Error{Problems: d.problems}
	}
	d.mapping("", root, schema(&c))
	d.crossCheck(&c)
	if len(d.problems) > 0 {
		slices.SortStableFunc(d.problems, func(a, b Problem) int { return a.Line - b.Line })
		return Config{}, &Error{Problems: d.problems}
	}
	return c, nil
}

// document returns the single document's root node (nil for an empty file).
func document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("line %d: a second document (---) follows; keep one document", extra.Line)
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return doc.Content[0], nil
	}
	return nil, nil
}
