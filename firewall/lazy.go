package firewall

import "github.com/coreos/go-iptables/iptables"

// lazyTables is a Tables whose go-iptables handle is opened on first use
// (see newSystemTables for why).
type lazyTables struct {
	open func() (*iptables.IPTables, error)
}

var _ Tables = lazyTables{}

func (l lazyTables) ListChains(table string) ([]string, error) {
	ipt, err := l.open()
	if err != nil {
		return nil, err
	}
	return ipt.ListChains(table)
}

func (l lazyTables) List(table, chain string) ([]string, error) {
	ipt, err := l.open()
	if err != nil {
		return nil, err
	}
	return ipt.List(table, chain)
}

func (l lazyTables) ListById(table, chain string, id int) (string, error) {
	ipt, err := l.open()
	if err != nil {
		return "", err
	}
	return ipt.ListById(table, chain, id)
}

func (l lazyTables) NewChain(table, chain string) error {
	ipt, err := l.open()
	if err != nil {
		return err
	}
	return ipt.NewChain(table, chain)
}

func (l lazyTables) ClearChain(table, chain string) error {
	ipt, err := l.open()
	if err != nil {
		return err
	}
	return ipt.ClearChain(table, chain)
}

func (l lazyTables) DeleteChain(table, chain string) error {
	ipt, err := l.open()
	if err != nil {
		return err
	}
	return ipt.DeleteChain(table, chain)
}

func (l lazyTables) Insert(table, chain string, pos int, rulespec ...string) error {
	ipt, err := l.open()
	if err != nil {
		return err
	}
	return ipt.Insert(table, chain, pos, rulespec...)
}

func (l lazyTables) DeleteById(table, chain string, id int) error {
	ipt, err := l.open()
	if err != nil {
		return err
	}
	return ipt.DeleteById(table, chain, id)
}
