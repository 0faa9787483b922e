package firewall

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// fakeTables is a map-backed Tables with the semantics of iptables that
// Apply relies on (positions, chain existence, references).
type fakeTables struct {
	mu     sync.Mutex
	chains map[string]map[string][]string // table -> chain -> rule specs
	muts   int                            // mutating calls (a restore: one per table)
	// listChainCalls counts ListChains("filter") and Save: one per Apply pass.
	listChainCalls int
	restores       int                 // Restore calls
	after          func(f *fakeTables) // called after each mutation, locked
}

func newFake() *fakeTables {
	f := &fakeTables{chains: map[string]map[string][]string{}}
	for table, bs := range builtins {
		f.chains[table] = map[string][]string{}
		for _, b := range bs {
			f.chains[table][b] = nil
		}
	}
	return f
}

func isBuiltin(table, chain string) bool { return slices.Contains(builtins[table], chain) }

func (f *fakeTables) mutated() {
	f.muts++
	if f.after != nil {
		f.after(f)
	}
}

func (f *fakeTables) chain(table, chain string) ([]string, error) {
	t, ok := f.chains[table]
	if !ok {
		return nil, fmt.Errorf("no table %s", table)
	}
	rules, ok := t[chain]
	if !ok {
		return nil, fmt.Errorf("no chain %s/%s", table, chain)
	}
	return rules, nil
}

func (f *fakeTables) ListChains(table string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if table == "filter" {
		f.listChainCalls++
	}
	var user []string
	for name := range f.chains[table] {
		if !isBuiltin(table, name) {
			user = append(user, name)
		}
	}
	slices.Sort(user)
	return append(slices.Clone(builtins[table]), user...), nil
}

func (f *fakeTables) List(table, chain string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rules, err := f.chain(table, chain)
	if err != nil {
		return nil, err
	}
	head := "-N " + chain
	if isBuiltin(table, chain) {
		head = "-P " + chain + " ACCEPT"
	}
	out := []string{head}
	for _, r := range rules {
		out = append(out, "-A "+chain+" "+r)
	}
	return out, nil
}

func (f *fakeTables) ListById(table, chain string, id int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rules, err := f.chain(table, chain)
	if err != nil {
		return "", err
	}
	if id < 1 || id > len(rules) {
		return "", fmt.Errorf("no rule %d in %s/%s", id, table, chain)
	}
	return "-A " + chain + " " + rules[id-1], nil
}

func (f *fakeTables) NewChain(table, chain string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.chains[table]; !ok {
		return fmt.Errorf("no table %s", table)
	}
	if _, err := f.chain(table, chain); err == nil {
		return fmt.Errorf("chain %s/%s exists", table, chain)
	}
	f.chains[table][chain] = nil
	f.mutated()
	return nil
}

func (f *fakeTables) ClearChain(table, chain string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chains[table][chain] = nil
	f.mutated()
	return nil
}

func (f *fakeTables) DeleteChain(table, chain string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	rules, err := f.chain(table, chain)
	if err != nil {
		return err
	}
	if len(rules) > 0 || isBuiltin(table, chain) {
		return fmt.Errorf("chain %s/%s not empty or built-in", table, chain)
	}
	for from, rs := range f.chains[table] {
		for _, r := range rs {
			if targets(r, chain) {
				return fmt.Errorf("chain %s/%s referenced from %s", table, chain, from)
			}
		}
	}
	delete(f.chains[table], chain)
	f.mutated()
	return nil
}

func (f *fakeTables) Insert(table, chain string, pos int, spec ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	rules, err := f.chain(table, chain)
	if err != nil {
		return err
	}
	if pos < 1 || pos > len(rules)+1 {
		return fmt.Errorf("bad position %d in %s/%s", pos, table, chain)
	}
	rule := strings.Join(spec, " ")
	if f.danglingJump(table, rule) {
		return fmt.Errorf("jump target of %q does not exist", rule)
	}
	f.chains[table][chain] = slices.Insert(rules, pos-1, rule)
	f.mutated()
	return nil
}

func (f *fakeTables) DeleteById(table, chain string, id int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	rules, err := f.chain(table, chain)
	if err != nil {
		return err
	}
	if id < 1 || id > len(rules) {
		return fmt.Errorf("no rule %d in %s/%s", id, table, chain)
	}
	f.chains[table][chain] = slices.Delete(rules, id-1, id)
	f.mutated()
	return nil
}

// add appends rules directly (test setup), creating the chain if needed.
func (f *fakeTables) add(table, chain string, rules ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chains[table][chain] = append(f.chains[table][chain], rules...)
}

// dump renders the whole state, sorted by table and chain.
func (f *fakeTables) dump() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, table := range slices.Sorted(maps.Keys(f.chains)) {
		fmt.Fprintf(&b, "*%s\n", table)
		for _, chain := range slices.Sorted(maps.Keys(f.chains[table])) {
			fmt.Fprintf(&b, ":%s\n", chain)
			for _, r := range f.chains[table][chain] {
				fmt.Fprintf(&b, "-A %s %s\n", chain, r)
			}
		}
	}
	return b.String()
}

// danglingJump reports whether rule jumps to an owned chain that does not
// exist, which iptables refuses.
func (f *fakeTables) danglingJump(table, rule string) bool {
	fields := strings.Fields(rule)
	i := slices.Index(fields, "-j")
	if i < 0 || i+1 >= len(fields) || !strings.HasPrefix(fields[i+1], ChainPrefix) {
		return false
	}
	_, ok := f.chains[table][fields[i+1]]
	return !ok
}

// Save renders the state like iptables-save.
func (f *fakeTables) Save(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listChainCalls++
	var b strings.Builder
	for _, table := range slices.Sorted(maps.Keys(f.chains)) {
		fmt.Fprintf(&b, "# Generated by fake\n*%s\n", table)
		chains := slices.Sorted(maps.Keys(f.chains[table]))
		for _, chain := range chains {
			policy := "-"
			if isBuiltin(table, chain) {
				policy = "ACCEPT"
			}
			fmt.Fprintf(&b, ":%s %s [0:0]\n", chain, policy)
		}
		for _, chain := range chains {
			for _, r := range f.chains[table][chain] {
				fmt.Fprintf(&b, "-A %s %s\n", chain, r)
			}
		}
		b.WriteString("COMMIT\n")
	}
	return b.String(), nil
}

// Restore interprets the subset of iptables-restore --noflush that Apply
// writes. Each table block works on a copy that replaces the table at
// COMMIT, so it is atomic like the kernel's, and counts as one mutation.
func (f *fakeTables) Restore(_ context.Context, script string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restores++
	var table string
	var work map[string][]string
	for i, line := range strings.Split(script, "\n") {
		var err error
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "*"):
			table = line[1:]
			if _, ok := f.chains[table]; !ok {
				return fmt.Errorf("line %d: no table %s", i+1, table)
			}
			work = maps.Clone(f.chains[table])
		case work == nil:
			err = fmt.Errorf("outside a table")
		case line == "COMMIT":
			f.chains[table], work = work, nil
			f.mutated()
		default:
			err = f.restoreLine(table, work, line)
		}
		if err != nil {
			return fmt.Errorf("line %d %q: %w", i+1, line, err)
		}
	}
	if work != nil {
		return fmt.Errorf("no COMMIT for table %s", table)
	}
	return nil
}

// restoreLine applies one command to work, the table being restored. Rule
// slices are never changed in place: work shares them with the live table.
func (f *fakeTables) restoreLine(table string, work map[string][]string, line string) error {
	fields := strings.Fields(line)
	if strings.HasPrefix(line, ":") {
		if name := fields[0][1:]; !isBuiltin(table, name) {
			work[name] = nil // created or flushed
		}
		return nil
	}
	if len(fields) < 2 {
		return fmt.Errorf("no chain")
	}
	cmd, chain, rest := fields[0], fields[1], fields[2:]
	rules, ok := work[chain]
	if !ok {
		return fmt.Errorf("no chain %s", chain)
	}
	spec := strings.Join(rest, " ")
	switch cmd {
	case "-A", "-I":
		pos := len(rules) + 1
		if cmd == "-I" && len(rest) > 0 {
			if n, err := strconv.Atoi(rest[0]); err == nil {
				pos, spec = n, strings.Join(rest[1:], " ")
			} else {
				pos = 1
			}
		}
		if pos < 1 || pos > len(rules)+1 {
			return fmt.Errorf("bad position %d", pos)
		}
		to := jumpTarget(spec)
		if _, exists := work[to]; strings.HasPrefix(to, ChainPrefix) && !exists {
			return fmt.Errorf("jump target %s does not exist", to)
		}
		work[chain] = slices.Insert(slices.Clone(rules), pos-1, spec)
	case "-D":
		i := slices.Index(rules, spec)
		if i < 0 {
			return fmt.Errorf("no such rule")
		}
		work[chain] = slices.Delete(slices.Clone(rules), i, i+1)
	case "-F":
		work[chain] = nil
	case "-X":
		if len(rules) > 0 || isBuiltin(table, chain) {
			return fmt.Errorf("chain not empty or built-in")
		}
		for from, rs := range work {
			if slices.ContainsFunc(rs, func(r string) bool { return targets(r, chain) }) {
				return fmt.Errorf("chain referenced from %s", from)
			}
		}
		delete(work, chain)
	default:
		return fmt.Errorf("command not understood")
	}
	return nil
}

// jumpTarget returns the -j target of a rule spec, or "".
func jumpTarget(spec string) string {
	fields := strings.Fields(spec)
	if i := slices.Index(fields, "-j"); i >= 0 && i+1 < len(fields) {
		return fields[i+1]
	}
	return ""
}

// perRule hides a fake's Batch methods, so Apply takes the per-rule path.
type perRule struct{ Tables }

// modes are the two ways Apply reaches a fake: batch and per rule.
var modes = map[string]func(*fakeTables) Tables{
	"batch":    func(f *fakeTables) Tables { return f },
	"per-rule": func(f *fakeTables) Tables { return perRule{f} },
}

// calls counts the calls through the Tables seam; on a real system each is
// one run of an iptables program.
type calls struct{ all, changes, restores int }

// counted wraps t so that every call is counted in n. The wrapper keeps
// Batch when t has it, so Apply takes the same path as without it.
func counted(t Tables, n *calls) Tables {
	c := countedTables{t, n}
	if b, ok := t.(Batch); ok {
		return countedBatch{c, b}
	}
	return c
}

type countedTables struct {
	t Tables
	n *calls
}

// countMu guards every calls counter: Apply converges IPv4 and IPv6 at the
// same time, so two wrappers count into one struct from two goroutines.
var countMu sync.Mutex

func (c countedTables) read()   { countMu.Lock(); c.n.all++; countMu.Unlock() }
func (c countedTables) change() { countMu.Lock(); c.n.all++; c.n.changes++; countMu.Unlock() }

func (c countedTables) ListChains(t string) ([]string, error) { c.read(); return c.t.ListChains(t) }
func (c countedTables) List(t, ch string) ([]string, error)   { c.read(); return c.t.List(t, ch) }
func (c countedTables) ListById(t, ch string, id int) (string, error) {
	c.read()
	return c.t.ListById(t, ch, id)
}
func (c countedTables) NewChain(t, ch string) error    { c.change(); return c.t.NewChain(t, ch) }
func (c countedTables) ClearChain(t, ch string) error  { c.change(); return c.t.ClearChain(t, ch) }
func (c countedTables) DeleteChain(t, ch string) error { c.change(); return c.t.DeleteChain(t, ch) }
func (c countedTables) Insert(t, ch string, pos int, spec ...string) error {
	c.change()
	return c.t.Insert(t, ch, pos, spec...)
}
func (c countedTables) DeleteById(t, ch string, id int) error {
	c.change()
	return c.t.DeleteById(t, ch, id)
}

type countedBatch struct {
	countedTables
	b Batch
}

func (c countedBatch) Save(ctx context.Context) (string, error) { c.read(); return c.b.Save(ctx) }
func (c countedBatch) Restore(ctx context.Context, script string) error {
	c.change()
	countMu.Lock()
	c.n.restores++
	countMu.Unlock()
	return c.b.Restore(ctx, script)
}
