package firewall

import (
	"fmt"
	"os"
	"path/filepath"
)

// EnableForwarding turns on routing between the LAN and the cellular link by
// writing 1 to net.ipv4.ip_forward and/or net.ipv6.conf.all.forwarding under
// procRoot ("/proc"; tests pass a temp dir). The files must exist: a wrong
// root is an error, not a silently created file.
//
// Note that with IPv6 forwarding on, the kernel ignores router advertisements
// on an interface unless its accept_ra is 2.
func EnableForwarding(procRoot string, ipv4, ipv6 bool) error {
	if ipv4 {
		if err := writeSysctl(procRoot, "sys/net/ipv4/ip_forward"); err != nil {
			return err
		}
	}
	if ipv6 {
		if err := writeSysctl(procRoot, "sys/net/ipv6/conf/all/forwarding"); err != nil {
			return err
		}
	}
	return nil
}

func writeSysctl(root, rel string) error {
	path := filepath.Join(root, rel)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("enable forwarding: %w", err)
	}
	if _, err := f.WriteString("1\n"); err != nil {
		f.Close()
		return fmt.Errorf("enable forwarding: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("enable forwarding: closing %s: %w", path, err)
	}
	return nil
}
