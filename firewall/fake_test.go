package firewall

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// fakeTables is a map-backed Tables with the semantics of iptables that
// Apply relies on (positions, chain existence, references).
type fakeTables struct {
	mu     sync.Mutex
	chains map[string]map[string][]string // table -> chain -> rule specs
	muts   int                            // mutating calls
	// listChainCalls counts ListChains("filter"): one per Apply pass.
	listChainCalls int
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
