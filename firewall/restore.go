package firewall

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// snapshot is one family's rules as iptables-save prints them: table ->
// chain -> rule specs (without "-A CHAIN"). Every chain of a listed table is
// a key, empty or not; a table the kernel has not instantiated is absent.
type snapshot map[string]map[string][]string

// parseSave reads iptables-save output. Comments are skipped; anything else
// it does not understand is an error, so a surprise never reads as "empty".
func parseSave(text string) (snapshot, error) {
	snap := snapshot{}
	var table map[string][]string
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "*"):
			table = map[string][]string{}
			snap[line[1:]] = table
		case table == nil:
			return nil, fmt.Errorf("save line %d %q: outside a table", i+1, line)
		case line == "COMMIT":
			table = nil
		case strings.HasPrefix(line, ":"):
			name, _, _ := strings.Cut(line[1:], " ")
			if _, ok := table[name]; !ok {
				table[name] = nil
			}
		case strings.HasPrefix(line, "-A "):
			chain, spec, _ := strings.Cut(line[3:], " ")
			if _, ok := table[chain]; !ok {
				return nil, fmt.Errorf("save line %d %q: undeclared chain", i+1, line)
			}
			table[chain] = append(table[chain], spec)
		default:
			return nil, fmt.Errorf("save line %d %q: not understood", i+1, line)
		}
	}
	return snap, nil
}

// runBatch converges one family with a single iptables-save and, only when
// something differs, a single iptables-restore --noflush. The script keeps
// every guarantee of the per-rule path, and better: each table block is
// atomic, so the WAN is never open and no jump is ever missing in between,
// whatever the order of the lines inside it.
//
//   - An owned chain whose rules differ is rewritten whole: under --noflush
//     its ":CHAIN - [0:0]" declaration creates or flushes it, then "-A"
//     lines refill it, in the same transaction.
//   - A built-in chain without exactly one jump at its top gets every rule
//     that targets the owned chain deleted by its spec and the jump inserted
//     at position 1. Deleting by spec (not by number) means a rule another
//     program inserted meanwhile is never hit: a rule that is gone makes
//     the whole transaction fail, and the next pass retries.
//   - Owned chains r no longer describes lose the jumps into them from the
//     built-in chains, then are flushed and deleted.
//
// Rules of other programs are never named in the script, so they stay.
func (c *converger) runBatch(ctx context.Context, b Batch, r Rules) error {
	text, err := b.Save(ctx)
	if err != nil {
		return fmt.Errorf("reading rules: %w", err)
	}
	snap, err := parseSave(text)
	if err != nil {
		return fmt.Errorf("reading rules: %w", err)
	}
	var script []string
	var changes []string
	for _, table := range managedTables {
		if !r.manages(table) {
			continue
		}
		lines, ch := planTable(table, snap[table], r)
		if len(lines) > 0 {
			script = append(script, "*"+table)
			script = append(script, lines...)
			script = append(script, "COMMIT")
			changes = append(changes, ch...)
		}
	}
	if len(script) == 0 {
		return nil
	}
	if err := b.Restore(ctx, strings.Join(script, "\n")+"\n"); err != nil {
		return fmt.Errorf("restoring rules: %w", err)
	}
	c.changes = append(c.changes, changes...)
	return nil
}

// planTable returns the restore lines that converge one table (none when it
// is already right) and a description of each change.
func planTable(table string, got map[string][]string, r Rules) (lines, changes []string) {
	for _, ch := range r.Chains {
		if ch.Table != table {
			continue
		}
		rules, exists := got[ch.Name]
		if exists && slices.Equal(rules, ch.Rules) {
			continue
		}
		lines = append(lines, ":"+ch.Name+" - [0:0]")
		for _, rule := range ch.Rules {
			lines = append(lines, "-A "+ch.Name+" "+rule)
		}
		changes = append(changes, fmt.Sprintf("wrote chain %s/%s (%d rules, had %d)", table, ch.Name, len(ch.Rules), len(rules)))
	}
	for _, j := range r.Jumps {
		if j.Table != table {
			continue
		}
		rules := got[j.From]
		n := 0
		for _, rule := range rules {
			if targets(rule, j.To) {
				n++
				lines = append(lines, "-D "+j.From+" "+rule)
			}
		}
		if n == 1 && rules[0] == j.Spec() {
			lines = lines[:len(lines)-1] // already right
			continue
		}
		lines = append(lines, "-I "+j.From+" 1 "+j.Spec())
		changes = append(changes, fmt.Sprintf("set jump %s/%s -> %s (had %d)", table, j.From, j.To, n))
	}
	var stale []string
	for name := range got {
		if strings.HasPrefix(name, ChainPrefix) && !describes(r, table, name) {
			stale = append(stale, name)
		}
	}
	if len(stale) == 0 {
		return lines, changes
	}
	slices.Sort(stale)
	for _, from := range builtins[table] {
		for _, rule := range got[from] {
			if slices.ContainsFunc(stale, func(to string) bool { return targets(rule, to) }) {
				lines = append(lines, "-D "+from+" "+rule)
				changes = append(changes, fmt.Sprintf("deleted %s/%s %q", table, from, rule))
			}
		}
	}
	for _, name := range stale {
		lines = append(lines, "-F "+name)
	}
	for _, name := range stale {
		lines = append(lines, "-X "+name)
		changes = append(changes, fmt.Sprintf("removed chain %s/%s", table, name))
	}
	return lines, changes
}
