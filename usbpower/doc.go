// Package usbpower switches the power of the USB hub port that feeds the modem.
//
// Cheap USB modems crash hard: the tty stays, AT goes silent, and only cutting
// VBUS brings them back. This package finds the modem's hub and port from its
// tty through sysfs (LocateTTY), reads hub and port state and switches port
// power through a Controller (NewGousb: hub-class requests over libusb, or the
// kernel's sysfs "disable" file where present), knows which Raspberry Pi ports
// must never be switched (CheckSafe, Assess), power-cycles a port (Cycler) and
// finds the modem's tty again after it re-enumerates (WaitTTY). It replaces
// hub-ctrl and uhubctl for this one job; FormatStatus prints uhubctl's format so
// the two can be compared on the same hub.
//
// Hub names follow uhubctl's locations: "1-1" or "1-1.3" for external hubs and
// the bare bus number ("2") for a root hub, whose sysfs name is "usb2".
// Every filesystem root (/sys) is a parameter, so captured trees in testdata/
// drive the real code.
package usbpower
