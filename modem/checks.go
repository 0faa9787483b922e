package modem

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The rules for what failberry sends to the modem. The config check uses
// them to name the key and line of a bad value; the bring-up refuses the
// same values again at run time. Each returns "" or what is wrong and what
// to write instead.

var (
	apnRe  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)
	dialRe = regexp.MustCompile(`^[0-9*#+]+$`)
	atRe   = regexp.MustCompile(`^(?i:AT)[\x20-\x7e]*$`)
)

// CheckDevice accepts "auto" or the AT port's absolute /dev path.
func CheckDevice(s string) string {
	return unless(s == "auto" || strings.HasPrefix(s, "/dev/") && path.Clean(s) == s && len(s) > len("/dev/"),
		"%q is not allowed; use \"auto\" or the modem's AT port as an absolute path such as /dev/ttyUSB2", s)
}

// CheckAPN accepts what fits in AT+CGDCONT's quoted APN.
func CheckAPN(s string) string {
	if s == "" {
		return "is empty; set your carrier's APN, such as \"internet\""
	}
	return unless(len(s) <= 100 && apnRe.MatchString(s),
		"%q is not a valid APN; use letters, digits, dots, dashes and underscores (at most 100), such as \"internet\"", s)
}

// CheckDial accepts the number ATD dials, without the command.
func CheckDial(s string) string {
	if strings.HasPrefix(strings.ToUpper(s), "ATD") {
		return fmt.Sprintf("%q includes the ATD command; write only the number, such as \"*99***1#\"", s)
	}
	return unless(dialRe.MatchString(s) && len(s) <= 40, "%q is not a dial string; use digits, * and #, such as \"*99***1#\" or \"*99#\"", s)
}

// CheckInit accepts one printable AT command line.
func CheckInit(s string) string {
	return unless(atRe.MatchString(s) && len(s) <= 200,
		"%q is not an AT command; each init item starts with AT and is printable text, such as \"AT+CMEE=1\"", s)
}

// CheckPIN accepts a SIM PIN: 4 to 8 digits.
func CheckPIN(s string) string {
	return unless(ValidPIN(s), "is not 4 to 8 digits; write the SIM PIN in quotes, such as \"1234\"")
}

// USBID is a USB vendor:product such as "19d2:0031", kept in lower case as
// sysfs writes it; the config's modem.usb_id.
type USBID string

var usbIDRe = regexp.MustCompile(`^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$`)

// UnmarshalYAML reads the id and refuses anything lsusb would not print.
func (u *USBID) UnmarshalYAML(n *yaml.Node) error {
	if !usbIDRe.MatchString(n.Value) {
		return fmt.Errorf("%q is not a USB vendor:product id; use four hex digits each, such as \"19d2:0031\" (see lsusb)", n.Value)
	}
	*u = USBID(strings.ToLower(n.Value))
	return nil
}

func unless(ok bool, format string, args ...any) string {
	if ok {
		return ""
	}
	return fmt.Sprintf(format, args...)
}
