// Command failberry is the cellular failover gateway daemon and its CLI.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Println("failberry", version)
		return
	}
	fmt.Fprintln(os.Stderr, "usage: failberry run|status|check|at|usb|version")
	os.Exit(2)
}
