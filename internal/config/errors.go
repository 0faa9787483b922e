package config

import (
	"strconv"
	"strings"
)

// Problem is one thing wrong with a config file.
type Problem struct {
	File string // name given to Parse (the path for Load)
	Line int    // 1-based; 0 when the problem has no single line (a default)
	Key  string // dotted key path, e.g. "modem.baud"
	Msg  string // what is wrong and what is allowed
}

// String formats the problem as "file:line: key: msg", like a compiler.
func (p Problem) String() string {
	s := p.File
	if p.Line > 0 {
		s += ":" + strconv.Itoa(p.Line)
	}
	if p.Key != "" {
		s += ": " + p.Key
	}
	return s + ": " + p.Msg
}

// Error lists every problem found in one file, so a user can fix them all
// in one pass. Parse and Load return it as *Error.
type Error struct {
	Problems []Problem
}

// Error prints one problem per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
